-- Idempotency-Key: the same key for the same workflow or agent returns the same run.
CREATE TABLE idempotency_keys (
    scope      TEXT NOT NULL,              -- 'workflow:<id>' or 'agent:<id>'
    key        TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    created_at BIGINT NOT NULL,            -- unix milliseconds
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
