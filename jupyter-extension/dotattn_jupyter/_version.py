"""The package version, kept equal to the version in package.json."""

__version__ = "0.1.0"
