-- The durable job queue becomes general: `hook_jobs` becomes `jobs`. A job's `kind` says which
-- handler runs it ('hook' for a background hook: every existing row), `name` what it runs
-- within that kind (a hook's registered name, was `hook_name`), and `run_id` is optional (a
-- job need not come from a run). SQLite cannot drop a NOT NULL in place: the table is rebuilt
-- and its rows copied in their order (rowid breaks ties in "oldest first").
CREATE TABLE jobs (
    job_id          TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'hook',
    name            TEXT NOT NULL,
    run_id          TEXT,
    payload         TEXT NOT NULL,            -- JSON: what the handler needs (a HookContext)
    status          TEXT NOT NULL,            -- pending | running | done | failed | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,         -- unix milliseconds
    outcome         TEXT,                     -- ok | error | panic | timeout (last attempt)
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    attempt_errors  TEXT NOT NULL DEFAULT '[]' -- [{"attempt", "outcome", "error", "at"}]
);
INSERT INTO jobs (job_id, kind, name, run_id, payload, status, attempts, max_attempts,
                  next_attempt_at, outcome, last_error, lease_owner, lease_until, created_at,
                  updated_at, attempt_errors)
SELECT job_id, 'hook', hook_name, run_id, payload, status, attempts, max_attempts,
       next_attempt_at, outcome, last_error, lease_owner, lease_until, created_at, updated_at,
       attempt_errors
FROM hook_jobs ORDER BY rowid;
DROP TABLE hook_jobs;
CREATE INDEX jobs_due ON jobs (status, next_attempt_at);
CREATE INDEX jobs_run ON jobs (run_id);
