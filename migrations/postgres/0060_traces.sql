-- agno's traces (`AgentOs::tracing(true)`): one row per trace, aggregated as its spans arrive
-- in batches, and one per span. Times are unix microseconds.
CREATE TABLE traces (
    trace_id    TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,             -- OK | ERROR
    start_time  BIGINT NOT NULL,
    end_time    BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    total_spans BIGINT NOT NULL,
    error_count BIGINT NOT NULL,
    run_id      TEXT,
    session_id  TEXT,
    user_id     TEXT,
    agent_id    TEXT,
    team_id     TEXT,
    workflow_id TEXT,
    input       TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX traces_start ON traces (start_time);
CREATE INDEX traces_run ON traces (run_id);
CREATE INDEX traces_session ON traces (session_id);
CREATE TABLE spans (
    span_id        TEXT PRIMARY KEY NOT NULL,
    trace_id       TEXT NOT NULL,
    parent_span_id TEXT,
    name           TEXT NOT NULL,
    span_kind      TEXT NOT NULL,
    status_code    TEXT NOT NULL,          -- UNSET | OK | ERROR
    status_message TEXT,
    start_time     BIGINT NOT NULL,
    end_time       BIGINT NOT NULL,
    duration_ms    BIGINT NOT NULL,
    attributes     TEXT NOT NULL,          -- JSON object
    created_at     BIGINT NOT NULL
);
CREATE INDEX spans_trace ON spans (trace_id, start_time);
