#!/usr/bin/env bash
# `npm run report`: create the Python environment if it is missing, build the
# module, then execute every notebook with the tslab kernel and write HTML
# reports to reports/ (arguments go to scripts/report.py; try --help).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ] || [ ! -d .venv/share/jupyter/kernels/tslab ]; then
  echo "report: .venv or its tslab kernel spec is missing; running scripts/setup.sh"
  bash scripts/setup.sh
fi

for arg in "$@"; do
  case "$arg" in
    -h | --help) exec .venv/bin/python scripts/report.py --help ;;
  esac
done

npm run build

# Notebooks import "dotattn" through node_modules/dotattn; `npm install NAME`
# removes that link without running the prepare script that makes it.
node scripts/link-package.mjs > /dev/null

# The tslab kernel spec starts `tslab` by name.
export PATH="$PWD/node_modules/.bin:$PATH"
exec .venv/bin/python scripts/report.py "$@"
