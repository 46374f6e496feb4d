#!/usr/bin/env bash
# Set everything up and open the dashboard on http://127.0.0.1:8501 (embedded SQLite store).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
exec .venv/bin/streamlit run dashboard/app.py \
  --server.address 127.0.0.1 --server.port "${PORT:-8501}" --browser.gatherUsageStats false "$@"
