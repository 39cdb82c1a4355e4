#!/usr/bin/env bash
# The benchmark: bench/run.sh [--vs-agno] [--postgres] [--otlp-dead] [--team] [--seconds N] [--levels 1,16,...] [--delays 0,50] [--skip-10k] [--skip-memory]
# Builds in release mode, starts the mock model server and bench-server (the seed example on
# jemalloc: bench/mock-openai/src/bin/bench-server.rs) against it, loads them with wrk, and
# prints a Markdown report (also written to bench/last-report.md).
# --vs-agno also installs agno from PyPI into bench/.venv (git-ignored) and measures agno's
# AgentOS serving the same workflow (bench/agno_app.py) in the same run.
# --otlp-dead also measures bench-server with tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set to a
# port nothing listens on): a collector that is down must not change the runs' latency.
# --postgres also installs postgresql and nginx from Debian if missing, starts a throwaway
# Postgres cluster (as .ci/run does) and measures agentos on it with one replica and with two
# replicas behind nginx (docs/nginx-agentos.conf), side by side with SQLite.
# --team also measures the team level (research-team: a coordinating leader, two members).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

AGNO_VERSION=3.1.10

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk
fi
if ! command -v taskset >/dev/null; then
  apt-get update -qq && apt-get install -y -qq util-linux
fi
cargo build --release -p agentos-bench-mock

for arg in "$@"; do
  if [ "$arg" = "--vs-agno" ] && ! bench/.venv/bin/python -c "import agno, uvicorn, greenlet" 2>/dev/null; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -q "agno==${AGNO_VERSION}" fastapi uvicorn openai "sqlalchemy[asyncio]" aiosqlite python-multipart
  fi
done

POSTGRES=no
for arg in "$@"; do
  [ "$arg" = "--postgres" ] && POSTGRES=yes
done
if [ "$POSTGRES" = no ]; then
  exec python3 bench/bench.py "$@"
fi

if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || ! command -v nginx >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql nginx >/dev/null
fi
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
# Postgres refuses to run as root: as root, run it as the `postgres` user the package created.
if [ "$(id -u)" = 0 ]; then
  PG_USER=postgres
  as_pg() { (cd "$PG_DIR" && runuser -u "$PG_USER" -- "$@"); }
else
  PG_USER="$(id -un)"
  as_pg() { "$@"; }
fi
PG_DIR="$(mktemp -d /tmp/agentos-bench-pg.XXXXXX)"
chown "$PG_USER" "$PG_DIR"
PG_PORT=""
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PG_PORT=$p; break; fi
done
[ -n "$PG_PORT" ] || { echo "no free port" >&2; exit 1; }
stop_pg() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap stop_pg EXIT
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U agentos --auth=trust -E UTF8 >"$PG_DIR/initdb.log"
# Durable like SQLite's WAL with synchronous=NORMAL: fsync stays on, commits do not wait for
# it (synchronous_commit=off loses at most the last moment on an OS crash, never consistency).
# Postgres shares the server's core (taskset).
as_pg taskset -c 0 "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w \
  -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c synchronous_commit=off -c max_connections=200 -c shared_buffers=256MB" \
  start >/dev/null
export BENCH_POSTGRES_URL="postgres://agentos@127.0.0.1:${PG_PORT}/postgres"
python3 bench/bench.py "$@"
