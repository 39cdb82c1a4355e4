-- agentos schema (Postgres), mirroring migrations/sqlite/0001_init.sql. One row per run,
-- appended; never a JSON array rewritten per run.
-- Times are BIGINT unix milliseconds, as in SQLite. JSON documents are TEXT, as in SQLite: the
-- API returns the stored text byte for byte (jsonb would reorder keys) and nothing queries
-- inside them. `seq` stands in for SQLite's rowid: the insertion order, for "oldest first".

CREATE TABLE sessions (
    session_id    TEXT PRIMARY KEY NOT NULL,
    session_type  TEXT NOT NULL,             -- 'workflow' | 'agent' | 'team'
    component_id  TEXT NOT NULL,             -- workflow / agent / team id
    user_id       TEXT,
    session_name  TEXT,
    session_state TEXT NOT NULL DEFAULT '{}', -- JSON object
    metadata      TEXT,                       -- JSON object
    created_at    BIGINT NOT NULL,            -- unix milliseconds
    updated_at    BIGINT NOT NULL
);
CREATE INDEX sessions_component ON sessions (session_type, component_id, created_at);

CREATE TABLE runs (
    run_id         TEXT PRIMARY KEY NOT NULL,
    session_id     TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    parent_run_id  TEXT,
    component_type TEXT NOT NULL,
    component_id   TEXT NOT NULL,
    user_id        TEXT,
    status         TEXT NOT NULL,             -- PENDING | RUNNING | COMPLETED | ERROR | CANCELLED | PAUSED
    input          TEXT NOT NULL,
    output         TEXT,                      -- JSON: the run's full output once terminal
    error          TEXT,
    created_at     BIGINT NOT NULL,           -- unix milliseconds
    updated_at     BIGINT NOT NULL,
    seq            BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX runs_session ON runs (session_id, created_at, seq);
CREATE INDEX runs_status ON runs (status);

-- The replay log behind /resume.
CREATE TABLE run_events (
    run_id      TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    event_index BIGINT NOT NULL,
    event       TEXT NOT NULL,                -- JSON
    PRIMARY KEY (run_id, event_index)
);

-- Background hooks as durable jobs (an outbox written with the run's final state).
CREATE TABLE hook_jobs (
    job_id          TEXT PRIMARY KEY NOT NULL,
    run_id          TEXT NOT NULL,
    hook_name       TEXT NOT NULL,
    payload         TEXT NOT NULL,            -- JSON HookContext
    status          TEXT NOT NULL,            -- pending | running | done | failed | dead
    attempts        BIGINT NOT NULL DEFAULT 0,
    max_attempts    BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,          -- unix milliseconds
    outcome         TEXT,                     -- ok | error | panic | timeout (last attempt)
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    seq             BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX hook_jobs_due ON hook_jobs (status, next_attempt_at);
CREATE INDEX hook_jobs_run ON hook_jobs (run_id);
CREATE INDEX hook_jobs_order ON hook_jobs (created_at, seq);
