#!/usr/bin/env python3
"""agentos benchmark driver (run it through bench/run.sh, which builds and installs first).

Starts the mock model server and agentos's `bench-server` (the seed example on jemalloc,
bench/mock-openai/src/bin/bench-server.rs) (and, with --vs-agno, agno's AgentOS serving the
same workflow), loads them with wrk, and prints a Markdown report: runs/s, p50/p99
latency, errors, server CPU ms per run (per-thread, to the nanosecond, from /proc) and wake-ups
per run, peak RSS, stored-vs-answered runs, cold start, the hook drain, and 10,000 concurrent
in-flight runs; the memory levels (an agent run without and with user memories); and, first,
what a wake-up alone costs on the server's core (`wake-floor`) and
what a run costs a server that does nothing but its two model calls and two 1 s timers
(`floor-server`, at c=1 with the 50 ms delay). The server is pinned to core 0, the mock and wrk
to core 1.

--postgres (bench/run.sh starts a throwaway Postgres and sets BENCH_POSTGRES_URL) adds, side by
side with SQLite, agentos on Postgres with one replica and with two replicas behind nginx
(docs/nginx-agentos.conf); Postgres and nginx run on the server's core too.

--team adds the team level: the same loads on `research-team` (a coordinating leader and two
members on the same mock, which scripts the leader's two delegations: five model calls per run),
served by bench-server and, with --vs-agno, by agno_app.py.
"""

import argparse
import http.client
import json
import os
import platform
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
# BENCH_AGENTOS_SERVER names another build of the server (an A/B of two commits).
AGENTOS_SERVER = os.environ.get("BENCH_AGENTOS_SERVER") or os.path.join(ROOT, "target/release/bench-server")
MOCK = os.path.join(ROOT, "target/release/agentos-bench-mock")
WAKE_FLOOR = os.path.join(ROOT, "target/release/wake-floor")
FLOOR_SERVER = os.path.join(ROOT, "target/release/floor-server")
VENV_PY = os.path.join(BENCH, ".venv/bin/python")
MOCK_ADDR = "127.0.0.1:18080"
WF = "analysis-workflow"
# What a level posts to: the seed workflow, or the team level's team.
TARGETS = {"workflow": f"/workflows/{WF}/runs", "team": "/teams/research-team/runs"}
TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")
SERVER_CORE, LOAD_CORE = "0", "1"
PG_URL = os.environ.get("BENCH_POSTGRES_URL")
PG_KINDS = {"agentos-pg": 1, "agentos-pg2": 2}
# agentos on SQLite with tracing on, exporting over OTLP to a port nothing listens on: a
# collector that is down must change no run's latency (`--otlp-dead`).
DEAD_OTLP = "http://127.0.0.1:9"
SQLITE_KINDS = ("agentos", "agentos-otlp-dead")
NGINX_MAIN = """worker_processes 1;
{user}
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {conf};
}}
"""


def psql(url, sql):
    return subprocess.run(["psql", url, "-Atq", "-c", sql], check=True, capture_output=True, text=True).stdout


def tick_cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_MS  # utime + stime


def thread_stats(pid):
    """{tid: (CPU ns, voluntary context switches)} of each live thread of `pid`. The kernel
    keeps CPU time to the nanosecond per thread (`schedstat`); `/proc/<pid>/stat` rounds the
    process's to 10 ms ticks, too coarse for a level of ~50 runs."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                switches = next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
        except (OSError, StopIteration):
            continue
        out[tid] = (ns, switches)
    return out


class CpuMeter:
    """CPU time and voluntary context switches (wake-ups after blocking) of the server's
    processes over a level. Per-thread `schedstat` when every thread seen at the start is still
    there at the end (a thread that exits takes its figures with it); else the tick-rounded
    process total, with no switch count."""

    def __init__(self, pids):
        self.pids = pids
        self.threads = {p: thread_stats(p) for p in pids}
        self.ticks = sum(tick_cpu_ms(p) for p in pids)

    def stop(self):
        """(CPU ms, voluntary context switches or None) since the start."""
        ms, switches = 0.0, 0
        for p in self.pids:
            now = thread_stats(p)
            if not set(self.threads[p]) <= set(now):
                return sum(tick_cpu_ms(p) for p in self.pids) - self.ticks, None
            for tid, (ns, sw) in now.items():
                ns0, sw0 = self.threads[p].get(tid, (0, 0))
                ms += (ns - ns0) / 1e6
                switches += sw - sw0
        return ms, switches


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class RssSampler:
    """Samples a process's RSS every 50 ms; `peak` is the largest seen."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, rss_mib(pid), threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, rss_mib(self.pid))
            except OSError:
                return

    def stop(self):
        self._stop.set()
        self._t.join()
        return self.peak


def http_get(port, path, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_healthy(port, limit=60):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if http_get(port, "/health", timeout=1)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.002)
    return False


def start_mock(delay_ms):
    try:
        http_get(18080, "/v1/models", timeout=1)
        raise SystemExit(f"{MOCK_ADDR} is already in use: measuring against another mock would be wrong")
    except OSError:
        pass
    env = dict(os.environ, MOCK_DELAY_MS=str(delay_ms), MOCK_ADDR=MOCK_ADDR)
    p = subprocess.Popen(["taskset", "-c", LOAD_CORE, MOCK], env=env, stderr=subprocess.DEVNULL)
    for _ in range(500):
        if p.poll() is not None:
            # Most likely another process holds the port: measuring against it would be wrong.
            raise SystemExit(f"the mock exited at start (is {MOCK_ADDR} already in use?)")
        try:
            c = http.client.HTTPConnection("127.0.0.1", 18080, timeout=1)
            c.request("GET", "/v1/models")
            if c.getresponse().status == 200:
                return p
        except OSError:
            time.sleep(0.01)
    raise SystemExit("mock did not start")


class Server:
    """agentos's bench-server (the seed example), the floor server or agno's AgentOS, in a fresh
    working directory."""

    def __init__(self, kind):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix=f"bench-{kind}-")
        env = dict(os.environ, OPENAI_BASE_URL=f"http://{MOCK_ADDR}/v1", OPENAI_API_KEY="bench")
        env.pop("DATABASE_URL", None)
        self.procs, self.db_url = [], None
        t0 = time.monotonic()
        if kind in PG_KINDS:
            # A fresh schema per server, like a fresh SQLite file.
            schema = "bench_" + os.path.basename(self.dir).replace("-", "_").lower()
            psql(PG_URL, f"CREATE SCHEMA {schema}")
            self.db_url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            env.update(RUST_LOG="error", DATABASE_URL=self.db_url)
            ports = [7781, 7782][:PG_KINDS[kind]]
            for port in ports:
                self.procs.append(subprocess.Popen(
                    ["taskset", "-c", SERVER_CORE, AGENTOS_SERVER], cwd=self.dir, env=dict(env, AGENT_OS_PORT=str(port)),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                if not wait_healthy(port):
                    raise SystemExit(f"{kind} replica on {port} did not start")
            self.port = ports[0]
            if len(ports) > 1:
                conf = os.path.join(self.dir, "nginx.conf")
                with open(conf, "w") as f:
                    f.write(NGINX_MAIN.format(dir=self.dir, conf=os.path.join(ROOT, "docs/nginx-agentos.conf"),
                                              user="user root;" if os.geteuid() == 0 else ""))
                self.nginx = subprocess.Popen(["taskset", "-c", SERVER_CORE, "nginx", "-c", conf, "-p", self.dir,
                                               "-g", "daemon off;"], stderr=subprocess.DEVNULL)
                self.port = 7777
                if not wait_healthy(self.port):
                    raise SystemExit("nginx did not start")
            self.proc = self.procs[0]
            self.cold_start_ms = (time.monotonic() - t0) * 1000
            time.sleep(0.5)
            self.idle_rss = rss_mib(self.proc.pid)
            return
        if kind in SQLITE_KINDS:
            self.port = 7777
            env.update(AGENT_OS_PORT=str(self.port), RUST_LOG="error")
            if kind == "agentos-otlp-dead":
                env.update(OTEL_EXPORTER_OTLP_ENDPOINT=DEAD_OTLP)
            cmd = [AGENTOS_SERVER]
        elif kind == "floor":
            self.port = 7779
            env.update(AGENT_OS_PORT=str(self.port))
            cmd = [FLOOR_SERVER]
        else:
            self.port = 7778
            cmd = [VENV_PY, "-m", "uvicorn", "agno_app:app", "--app-dir", BENCH,
                   "--port", str(self.port), "--log-level", "warning", "--no-access-log"]
            os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CORE] + cmd, cwd=self.dir, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs = [self.proc]
        if not wait_healthy(self.port):
            raise SystemExit(f"{kind} did not start")
        self.cold_start_ms = (time.monotonic() - t0) * 1000
        time.sleep(0.5)
        self.idle_rss = rss_mib(self.proc.pid)

    def url(self, target="workflow"):
        default = TARGETS[target]
        if target == "workflow":
            default = getattr(self, "path", default)
        return f"http://127.0.0.1:{self.port}{default}"

    def stored(self):
        """Runs in the database by status (agentos's own tables only)."""
        if self.db_url:
            out = psql(self.db_url, "SELECT status, COUNT(*) FROM runs GROUP BY status")
            return {k: int(v) for k, v in (line.split("|") for line in out.split())}
        if self.kind not in SQLITE_KINDS:
            return None
        db = sqlite3.connect(os.path.join(self.dir, "tmp/workflow.db"), timeout=30)
        try:
            return dict(db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
        finally:
            db.close()

    def pids(self):
        return [p.pid for p in self.procs]

    def wait_hooks(self, limit=3.0):
        """Waits up to `limit` seconds until no hook job is pending or running, if the backlog
        can drain in that time (64 slots, hooks of 1 s); a larger one (every loaded level)
        is left to run. agentos on SQLite only, read from the file: agno runs its hooks inside
        the run, and the Postgres levels do not wait. `floor-server`'s hooks are two 1 s
        timers per run: waiting a little longer than that lets them fire."""
        if self.kind == "floor":
            time.sleep(1.2)
        if self.kind not in SQLITE_KINDS:
            return
        deadline = time.monotonic() + limit
        db = sqlite3.connect(os.path.join(self.dir, "tmp/workflow.db"), timeout=30)
        try:
            # `jobs` since migration 0011; `hook_jobs` in builds before it (A/B runs).
            new = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").fetchone()
            table = "jobs" if new else "hook_jobs"
            while time.monotonic() < deadline:
                (busy,) = db.execute(f"SELECT COUNT(*) FROM {table} WHERE status IN ('pending', 'running')").fetchone()
                if busy == 0 or busy > 64 * limit:
                    return
                time.sleep(0.1)
        finally:
            db.close()

    def stop(self):
        if getattr(self, "nginx", None):
            self.nginx.terminate()
            self.nginx.wait()
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5 if self.kind == "agno" else 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Each level's server leaves a database of thousands of runs (up to ~500 MB at
        # c=1,024): a full run would otherwise leave gigabytes behind.
        shutil.rmtree(self.dir, ignore_errors=True)


def parse_wrk(out):
    def num(pattern, default=0.0):
        m = re.search(pattern, out)
        return float(m.group(1)) if m else default

    def latency(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        return float(m.group(1)) * scale

    m = re.search(r"(\d+) requests in", out)
    requests = int(m.group(1)) if m else 0
    errors = int(num(r"Non-2xx or 3xx responses: (\d+)"))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return {"rps": num(r"Requests/sec:\s+([\d.]+)"), "p50": latency(50), "p99": latency(99),
            "requests": requests, "errors": errors, "ok": requests - int(num(r"Non-2xx or 3xx responses: (\d+)"))}


def wrk(url, conns, seconds, script, env=None):
    threads = str(max(1, min(2, conns)))
    cmd = ["taskset", "-c", LOAD_CORE, "wrk", "-t", threads, "-c", str(conns), "-d", f"{seconds}s",
           "--timeout", "30s", "--latency", "-s", os.path.join(BENCH, "wrk", script), url]
    out = subprocess.run(cmd, env=dict(os.environ, **(env or {})), capture_output=True, text=True).stdout
    return parse_wrk(out)


def settle(server, expect_at_least, limit=60):
    """Waits until no run is RUNNING; returns the stored counts by status."""
    deadline = time.monotonic() + limit
    while True:
        counts = server.stored()
        if counts is None or (counts.get("RUNNING", 0) == 0 and sum(counts.values()) >= expect_at_least):
            return counts
        if time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def run_level(server, conns, seconds, stream, target="workflow"):
    pid = server.proc.pid
    # The warm-up's hook jobs run before the level starts, not inside it.
    server.wait_hooks()
    before_counts = server.stored() or {}
    sampler = RssSampler(pid)
    meter = CpuMeter(server.pids())
    r = wrk(server.url(target), conns, seconds, "run.lua", {"STREAM": "true" if stream else "false"})
    counts = settle(server, sum(before_counts.values()) + r["ok"])
    # A run's background hooks are part of its cost: wait for the level's (where they keep up;
    # at loaded levels the 64 hook slots fall behind and the backlog stays in the database).
    server.wait_hooks()
    cpu, switches = meter.stop()
    r["peak_rss"] = sampler.stop()
    if counts is not None:
        stored = {k: v - before_counts.get(k, 0) for k, v in counts.items()}
        r["stored_ok"] = stored.get("COMPLETED", 0)
        r["stored_bad"] = sum(v for k, v in stored.items() if k != "COMPLETED")
        runs = max(1, r["stored_ok"] + r["stored_bad"])
    else:
        runs = max(1, r["ok"])
    r["cpu_ms_per_run"] = cpu / runs if r["ok"] > 0 else None
    r["switches_per_run"] = switches / runs if r["ok"] > 0 and switches is not None else None
    return r


def hook_drain(runs=200, conns=16):
    """N seed runs whose two post-hooks each sleep 1 s: time from the last response until every
    hook job is recorded done, and the peak RSS meanwhile."""
    mock = start_mock(0)
    server = Server("agentos")
    sampler = RssSampler(server.proc.pid)
    body = ("--b\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nExplain the benefits of exercise\r\n"
            "--b\r\nContent-Disposition: form-data; name=\"stream\"\r\n\r\nfalse\r\n--b--\r\n")

    def post(_):
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        c.request("POST", f"/workflows/{WF}/runs", body, {"Content-Type": "multipart/form-data; boundary=b"})
        status = c.getresponse().status
        c.close()
        return status

    with ThreadPoolExecutor(conns) as pool:
        statuses = list(pool.map(post, range(runs)))
    last_response = time.monotonic()
    while time.monotonic() - last_response < 120:
        _, raw = http_get(server.port, "/hooks/jobs?status=done&limit=1")
        if json.loads(raw)["meta"]["total_count"] >= 2 * runs:
            break
        time.sleep(0.05)
    drain_s = time.monotonic() - last_response
    peak = sampler.stop()
    server.stop()
    mock.terminate()
    mock.wait()
    return {"runs": runs, "ok": statuses.count(200), "hooks": 2 * runs, "drain_s": drain_s, "peak_rss": peak}


def memory_levels(delays, levels, seconds, say):
    """The cost of user memories: the seed's Analyzer served alone as an agent, without memory
    (`bench-agent`) and with `update_memory_on_run` (`bench-memory`: the user's memories read
    into the context, and after the response a memory job whose model call the mock answers
    without a tool call). CPU per run includes the job (the level waits for the jobs to end)."""
    results = {}
    for delay in delays:
        mock = start_mock(delay)
        for agent in ("bench-agent", "bench-memory"):
            for c in levels:
                server = Server("agentos")
                server.path = f"/agents/{agent}/runs"
                try:
                    wrk(server.url(), 2, 1, "run.lua")  # warm-up
                    r = run_level(server, c, seconds, False)
                    db = sqlite3.connect(os.path.join(server.dir, "tmp/workflow.db"), timeout=30)
                    try:
                        r["jobs"] = dict(db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall())
                    finally:
                        db.close()
                finally:
                    server.stop()
                results[(agent, delay, c)] = r
                print(f"  {agent} delay={delay} c={c}: {r['rps']:.1f} runs/s p50={fmt(r['p50'])} "
                      f"cpu={fmt(r['cpu_ms_per_run'], 2)}ms jobs={r['jobs']}", flush=True)
        mock.terminate()
        mock.wait()
    say()
    say("Memory levels: one agent run (the Analyzer alone, non-streamed), without and with user memories "
        "(`update_memory_on_run`: the memories read before the run, one `memory` job row stored with the run, "
        "its model call after the response).")
    say()
    say("| agent | memory | delay ms | c | runs/s | p50 ms | p99 ms | errors | CPU ms/run | wake-ups/run | jobs (status: count) |")
    say("|---|---|---|---|---|---|---|---|---|---|---|")
    for delay in delays:
        for c in levels:
            for agent in ("bench-agent", "bench-memory"):
                r = results[(agent, delay, c)]
                say(f"| {agent} | {'on' if agent == 'bench-memory' else 'off'} | {delay} | {c} | {r['rps']:.1f} | "
                    f"{fmt(r['p50'])} | {fmt(r['p99'])} | {r['errors']} | {fmt(r['cpu_ms_per_run'], 2)} | "
                    f"{fmt(r['switches_per_run'])} | {r['jobs']} |")


def wake_floor():
    """{(idle ms, KiB touched): CPU µs per wake-up} on the server's core (see wake-floor.rs)."""
    out = subprocess.run(["taskset", "-c", SERVER_CORE, WAKE_FLOOR], capture_output=True, text=True, check=True).stdout
    return {(c["idle_ms"], c["touch_kib"]): c["cpu_us"] for c in map(json.loads, out.splitlines())}


def fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def report_table(say, results, target, delays, levels, kinds, vs_agno):
    """The levels of `target` as a Markdown table."""
    say("| server | delay ms | stream | c | runs/s | p50 ms | p99 ms | errors | CPU ms/run | wake-ups/run | peak RSS MiB | stored OK / answered | not COMPLETED |"
        + (" runs/s agentos/agno |" if vs_agno else ""))
    say("|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if vs_agno else ""))
    for delay in delays:
        for stream in (False, True):
            for c in levels:
                for kind in kinds:
                    r = results[(kind, target, delay, stream, c)]
                    stored = f"{r['stored_ok']} / {r['ok']}" if "stored_ok" in r else "-"
                    bad = str(r["stored_bad"]) if "stored_bad" in r else "-"
                    row = (f"| {kind} | {delay} | {'yes' if stream else 'no'} | {c} | {r['rps']:.1f} | {fmt(r['p50'])} | "
                           f"{fmt(r['p99'])} | {r['errors']} | {fmt(r['cpu_ms_per_run'], 2)} | {fmt(r['switches_per_run'])} | "
                           f"{r['peak_rss']:.0f} | {stored} | {bad} |")
                    if vs_agno:
                        ratio = "-"
                        if kind == "agentos":
                            a = results[("agno", target, delay, stream, c)]["rps"]
                            ratio = f"{r['rps'] / a:.0f}x" if a > 0 else "inf"
                        row += f" {ratio} |"
                    say(row)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vs-agno", action="store_true")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--levels", default="1,16,64,256,1024")
    ap.add_argument("--delays", default="0,50")
    ap.add_argument("--skip-10k", action="store_true")
    ap.add_argument("--skip-memory", action="store_true", help="no memory levels (agent runs without and with memories)")
    ap.add_argument("--memory-levels", default="1,64", help="concurrency of the memory levels")
    ap.add_argument("--skip-levels", action="store_true", help="only cold start, hook drain and 10k")
    ap.add_argument("--otlp-dead", action="store_true",
                    help="also agentos with tracing on, exporting over OTLP to a collector that is down")
    ap.add_argument("--postgres", action="store_true",
                    help="also agentos on Postgres, one replica and two behind nginx (needs BENCH_POSTGRES_URL)")
    ap.add_argument("--team", action="store_true",
                    help="also the team level: research-team (coordinate, two members) at the same loads")
    args = ap.parse_args()
    # This script (its RSS sampler wakes every 50 ms) stays off the server's core too.
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    # 10,000 in-flight runs hold 10,000 client sockets and up to 10,000 model-server sockets in
    # the server: raise the descriptor limit past 20,000 where allowed (root may raise the hard
    # limit), else to the hard limit. The children (server, mock, wrk) inherit it.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(hard, 65536), max(hard, 65536)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    levels = [int(x) for x in args.levels.split(",")]
    delays = [int(x) for x in args.delays.split(",")]
    kinds = (["agentos"] + (["agentos-otlp-dead"] if args.otlp_dead else [])
             + (list(PG_KINDS) if args.postgres else []) + (["agno"] if args.vs_agno else []))
    if args.postgres and not PG_URL:
        raise SystemExit("--postgres needs BENCH_POSTGRES_URL (bench/run.sh --postgres sets it)")

    lines = []
    say = lambda s="": (print(s, flush=True), lines.append(s))  # noqa: E731
    say(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
        f"server on core {SERVER_CORE}, mock and wrk on core {LOAD_CORE} (taskset).")

    mock = start_mock(0)
    m = wrk(f"http://{MOCK_ADDR}/v1/chat/completions", 64, 3, "mock.lua")
    say(f"Mock alone (c=64, delay 0, core {LOAD_CORE}): {m['rps']:.0f} req/s, p50 {fmt(m['p50'], 2)} ms")
    mock.terminate()
    mock.wait()
    if 50 in delays:
        mock = start_mock(50)
        m = wrk(f"http://{MOCK_ADDR}/v1/chat/completions", 1, 3, "mock.lua")
        say(f"Mock alone (c=1, delay 50): p50 {fmt(m['p50'], 2)} ms per call, the floor under two calls")
        mock.terminate()
        mock.wait()

    floor = wake_floor()
    say(f"Wake-up floor on core {SERVER_CORE} (thread CPU per wake-up, `wake-floor`): after 50 ms idle "
        f"{floor[(50, 0)]:.0f} µs doing nothing, {floor[(50, 1024)]:.0f} µs touching 1 MiB; after 1 ms idle "
        f"{floor[(1, 0)]:.0f} and {floor[(1, 1024)]:.0f} µs; never idle, touching 1 MiB {floor[(0, 1024)]:.0f} µs")

    if 50 in delays and not args.skip_levels:
        mock = start_mock(50)
        seconds = max(args.seconds, 10)
        floor_runs = {}
        for stream in (False, True):
            server = Server("floor")
            try:
                wrk(server.url(), 1, 1, "run.lua")  # warm-up
                floor_runs[stream] = run_level(server, 1, seconds, stream)
            finally:
                server.stop()
        mock.terminate()
        mock.wait()
        f, fs = floor_runs[False], floor_runs[True]
        say(f"Run floor at c=1, delay 50 (`floor-server` on core {SERVER_CORE}: axum in, reqwest out, the two "
            f"model calls and two 1 s timers per run, no parsing, no database; {seconds} s each): "
            f"{fmt(f['cpu_ms_per_run'], 2)} ms CPU per run non-streamed ({fmt(f['switches_per_run'])} wake-ups), "
            f"{fmt(fs['cpu_ms_per_run'], 2)} ms streamed ({fmt(fs['switches_per_run'])}); p50 {fmt(f['p50'])} "
            f"and {fmt(fs['p50'])} ms")

    results = {}
    targets = ["workflow"] + (["team"] if args.team else [])
    if args.skip_levels:
        delays, levels = [], []
    for delay in delays:
        mock = start_mock(delay)
        for kind, target in ((k, t) for t in targets for k in kinds):
            # A fresh server for every level: a level's backlog (agno's, at high concurrency)
            # never spills into the next one.
            for stream in (False, True):
                for c in levels:
                    server = Server(kind)
                    results.setdefault((kind, "cold"), server.cold_start_ms)
                    results.setdefault((kind, "idle"), server.idle_rss)
                    try:
                        wrk(server.url(target), 2, 1, "run.lua")  # warm-up
                        r = run_level(server, c, args.seconds, stream, target)
                    finally:
                        server.stop()
                    results[(kind, target, delay, stream, c)] = r
                    print(f"  {kind} {target} delay={delay} stream={stream} c={c}: {r['rps']:.1f} runs/s "
                          f"p50={fmt(r['p50'])} p99={fmt(r['p99'])} err={r['errors']} "
                          f"cpu={fmt(r['cpu_ms_per_run'], 2)}ms wakeups={fmt(r['switches_per_run'])} "
                          f"rss={r['peak_rss']:.0f}MiB", flush=True)
        mock.terminate()
        mock.wait()

    for target in targets:
        say()
        if target == "team":
            say("Team level: `research-team`, a coordinating leader and two members (five model calls a run).")
            say()
        report_table(say, results, target, delays, levels, kinds, args.vs_agno)
    say()
    for kind in kinds:
        if (kind, "cold") not in results:
            server = Server(kind)
            results[(kind, "cold")], results[(kind, "idle")] = server.cold_start_ms, server.idle_rss
            server.stop()
        say(f"- {kind}: cold start {results[(kind, 'cold')]:.0f} ms (process start to first 200 on /health), "
            f"idle RSS {results[(kind, 'idle')]:.1f} MiB")

    if not args.skip_memory and not args.skip_levels:
        memory_levels(delays, [int(x) for x in args.memory_levels.split(",")], args.seconds, say)
        say()

    d = hook_drain()
    say(f"- hook drain (agentos): {d['runs']} runs ({d['ok']} answered 200) left {d['hooks']} hook jobs sleeping 1 s each; "
        f"all recorded done {d['drain_s']:.2f} s after the last response (hook concurrency 64); peak RSS {d['peak_rss']:.0f} MiB")

    if not args.skip_10k:
        mock = start_mock(1000)
        server = Server("agentos")
        sampler = RssSampler(server.proc.pid)
        r = wrk(server.url(), 10000, 10, "run.lua")
        counts = settle(server, r["ok"], limit=120)
        peak = sampler.stop()
        server.stop()
        mock.terminate()
        say(f"- 10,000 concurrent in-flight runs (mock delay 1 s, 10 s, open files limit {nofile}): "
            f"{r['requests']} answered, {r['errors']} errors, "
            f"{r['rps']:.0f} runs/s, p50 {fmt(r['p50'])} ms, p99 {fmt(r['p99'])} ms, peak RSS {peak:.0f} MiB, "
            f"stored {counts}")

    with open(os.path.join(BENCH, "last-report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
