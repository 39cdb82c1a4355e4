-- agno's usage metrics (`GET /metrics`): one row per day and user ('' for runs without a
-- user), recomputed from `runs` by a refresh. A day before the refresh's day is `completed`
-- and not recomputed again.
CREATE TABLE usage_metrics (
    date                    TEXT NOT NULL,    -- YYYY-MM-DD (UTC)
    user_id                 TEXT NOT NULL,
    agent_runs_count        BIGINT NOT NULL,
    agent_sessions_count    BIGINT NOT NULL,
    team_runs_count         BIGINT NOT NULL,
    team_sessions_count     BIGINT NOT NULL,
    workflow_runs_count     BIGINT NOT NULL,
    workflow_sessions_count BIGINT NOT NULL,
    input_tokens            BIGINT NOT NULL,
    output_tokens           BIGINT NOT NULL,
    total_tokens            BIGINT NOT NULL,
    model_metrics           TEXT NOT NULL,    -- JSON: [{"model_id", "model_provider", "count"}]
    completed               BIGINT NOT NULL,  -- 0 | 1
    created_at              BIGINT NOT NULL,  -- unix milliseconds
    updated_at              BIGINT NOT NULL,
    PRIMARY KEY (date, user_id)
);
