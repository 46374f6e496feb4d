#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the project; "test" also installs the test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
extras=""
[ "${1:-}" = "test" ] && extras="[test]"
# torch/torchvision are pinned in pyproject.toml (2.14.1 / 0.29.1).
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}" 2>&1 \
  | grep -v -E "^WARNING: Location|is ignored" || true
.venv/bin/python -c "import torch, torchvision, streamlit, pruning_core" 
