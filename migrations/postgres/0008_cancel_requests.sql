-- A cancel asked of a replica that does not run the run: the intent, stored, and the owning
-- replica woken with NOTIFY agentos_cancel (payload: the run id).
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
