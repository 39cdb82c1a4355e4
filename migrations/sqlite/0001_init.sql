-- agentos schema (SQLite). One row per run, appended; never a JSON array rewritten per run.

CREATE TABLE sessions (
    session_id    TEXT PRIMARY KEY NOT NULL,
    session_type  TEXT NOT NULL,             -- 'workflow' | 'agent' | 'team'
    component_id  TEXT NOT NULL,             -- workflow / agent / team id
    user_id       TEXT,
    session_name  TEXT,
    session_state TEXT NOT NULL DEFAULT '{}', -- JSON object
    metadata      TEXT,                       -- JSON object
    created_at    INTEGER NOT NULL,           -- unix milliseconds
    updated_at    INTEGER NOT NULL
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
    created_at     INTEGER NOT NULL,          -- unix milliseconds
    updated_at     INTEGER NOT NULL
);
CREATE INDEX runs_session ON runs (session_id, created_at);
CREATE INDEX runs_status ON runs (status);

-- The replay log behind /resume.
CREATE TABLE run_events (
    run_id      TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    event_index INTEGER NOT NULL,
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
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,         -- unix milliseconds
    outcome         TEXT,                     -- ok | error | panic | timeout (last attempt)
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX hook_jobs_due ON hook_jobs (status, next_attempt_at);
CREATE INDEX hook_jobs_run ON hook_jobs (run_id);
