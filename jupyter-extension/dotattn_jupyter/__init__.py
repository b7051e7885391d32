"""The dotattn attention renderer for JupyterLab 4, as a prebuilt extension."""

from ._version import __version__

__all__ = ["__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Tell JupyterLab where the prebuilt extension of this package lives."""
    return [{"src": "labextension", "dest": "dotattn-jupyter"}]
