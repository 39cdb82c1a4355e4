-- The durable job queue becomes general: `hook_jobs` becomes `jobs`. A job's `kind` says which
-- handler runs it ('hook' for a background hook: every existing row), `name` what it runs
-- within that kind (a hook's registered name, was `hook_name`), and `run_id` is optional (a
-- job need not come from a run). Renamed in place, with its indexes and sequence.
ALTER TABLE hook_jobs RENAME TO jobs;
ALTER TABLE jobs RENAME COLUMN hook_name TO name;
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'hook';
ALTER TABLE jobs ALTER COLUMN run_id DROP NOT NULL;
ALTER TABLE jobs RENAME CONSTRAINT hook_jobs_pkey TO jobs_pkey;
ALTER INDEX hook_jobs_due RENAME TO jobs_due;
ALTER INDEX hook_jobs_run RENAME TO jobs_run;
ALTER INDEX hook_jobs_order RENAME TO jobs_order;
ALTER SEQUENCE hook_jobs_seq_seq RENAME TO jobs_seq_seq;
