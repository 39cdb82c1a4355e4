-- Service accounts (agno's service_accounts table): opaque tokens stored as their SHA-256.
CREATE TABLE service_accounts (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    user_id      TEXT,                     -- the owner; NULL for a workspace-level account
    token_hash   TEXT NOT NULL UNIQUE,     -- sha256 hex of the token
    token_prefix TEXT NOT NULL,
    scopes       TEXT NOT NULL,            -- JSON array of scope strings
    created_at   BIGINT NOT NULL,          -- unix seconds
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    created_by   TEXT
);
-- Names are reusable after revocation: unique among active accounts only.
CREATE UNIQUE INDEX service_accounts_active_name ON service_accounts (name) WHERE revoked_at IS NULL;
CREATE INDEX service_accounts_created ON service_accounts (created_at);
