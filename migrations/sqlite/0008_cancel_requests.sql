-- A cancel asked of a replica that does not run the run: the intent, stored (Postgres wakes
-- the owning replica with NOTIFY; SQLite has one process, which cancels in memory).
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
