-- Background runs survive a restart: the request they were started with, and the output of
-- their finished steps (a checkpoint written as each top-level step ends), so a new process
-- resumes them from the last completed step.
ALTER TABLE runs ADD COLUMN background INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN request TEXT;     -- JSON: the run request (message, user, extras)
ALTER TABLE runs ADD COLUMN checkpoint TEXT;  -- JSON: the WorkflowRunOutput so far
CREATE INDEX runs_background ON runs (background, status);
