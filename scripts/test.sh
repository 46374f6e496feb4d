#!/usr/bin/env bash
# Set everything up (venv, test extras, Debian chromium for browser tests) and run all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh test
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/ruff check pruning_core dashboard sample_models tests benchmarks
.venv/bin/mypy pruning_core dashboard sample_models benchmarks
# pytest exits non-zero (5) when it collects no tests, so an empty run fails too.
# Arguments go to pytest. The fast lane (README; ~45 s of CPU, no slow or browser tests):
#   .venv/bin/python -m pytest -m "not slow and not browser"
.venv/bin/python -m pytest -q -ra "$@"
