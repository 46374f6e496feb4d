#!/usr/bin/env bash
# Set everything up and open the dashboard on http://127.0.0.1:8501 (embedded SQLite store).
# Loopback only and nothing sent out, from any working directory: the flags below say so,
# and dashboard/.streamlit/config.toml (found next to the app) says the same.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/setup_venv.sh
exec .venv/bin/streamlit run "$ROOT/dashboard/app.py" \
  --server.address 127.0.0.1 --server.port "${PORT:-8501}" \
  --browser.serverAddress 127.0.0.1 --browser.gatherUsageStats false \
  --server.showEmailPrompt false "$@"
