-- Every failed attempt of a hook job, oldest first: [{"attempt", "outcome", "error", "at"}].
ALTER TABLE hook_jobs ADD COLUMN attempt_errors TEXT NOT NULL DEFAULT '[]';
