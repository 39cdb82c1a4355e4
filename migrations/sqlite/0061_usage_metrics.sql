-- agno's usage metrics (`GET /metrics`): one row per day and user ('' for runs without a
-- user), recomputed from `runs` by a refresh. A day before the refresh's day is `completed`
-- and not recomputed again.
CREATE TABLE usage_metrics (
    date                    TEXT NOT NULL,    -- YYYY-MM-DD (UTC)
    user_id                 TEXT NOT NULL,
    agent_runs_count        INTEGER NOT NULL,
    agent_sessions_count    INTEGER NOT NULL,
    team_runs_count         INTEGER NOT NULL,
    team_sessions_count     INTEGER NOT NULL,
    workflow_runs_count     INTEGER NOT NULL,
    workflow_sessions_count INTEGER NOT NULL,
    input_tokens            INTEGER NOT NULL,
    output_tokens           INTEGER NOT NULL,
    total_tokens            INTEGER NOT NULL,
    model_metrics           TEXT NOT NULL,    -- JSON: [{"model_id", "model_provider", "count"}]
    completed               INTEGER NOT NULL,  -- 0 | 1
    created_at              INTEGER NOT NULL,  -- unix milliseconds
    updated_at              INTEGER NOT NULL,
    PRIMARY KEY (date, user_id)
);
