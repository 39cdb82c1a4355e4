-- Run ownership across processes. Each run records the process executing it (`owner_id`, the
-- same id its hook job leases carry); each process renews a lease on its id in `run_owners`
-- every few seconds. Runs still RUNNING or PENDING whose owner's lease expired belong to a dead
-- process: another process reconciles them. (On SQLite one process owns the database and
-- reconciles at startup instead; the columns keep both schemas alike.)
ALTER TABLE runs ADD COLUMN owner_id TEXT;
CREATE TABLE run_owners (
    owner_id    TEXT PRIMARY KEY NOT NULL,
    lease_until BIGINT NOT NULL            -- unix milliseconds
);
