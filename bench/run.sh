#!/usr/bin/env bash
# The benchmark: bench/run.sh [--vs-agno] [--seconds N] [--levels 1,16,...] [--delays 0,50] [--skip-10k]
# Builds in release mode, starts the mock model server and the seed example against it, loads
# them with wrk, and prints a Markdown report (also written to bench/last-report.md).
# --vs-agno also installs agno from PyPI into bench/.venv (git-ignored) and measures agno's
# AgentOS serving the same workflow (bench/agno_app.py) in the same run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

AGNO_VERSION=3.1.10

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk
fi
if ! command -v taskset >/dev/null; then
  apt-get update -qq && apt-get install -y -qq util-linux
fi
cargo build --release --example background_hooks_workflow -p agentos -p agentos-bench-mock

for arg in "$@"; do
  if [ "$arg" = "--vs-agno" ] && ! bench/.venv/bin/python -c "import agno, uvicorn, greenlet" 2>/dev/null; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -q "agno==${AGNO_VERSION}" fastapi uvicorn openai "sqlalchemy[asyncio]" aiosqlite python-multipart
  fi
done

exec python3 bench/bench.py "$@"
