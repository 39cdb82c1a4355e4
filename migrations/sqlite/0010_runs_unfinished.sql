-- One small index on the runs still in flight, in place of two on every run. runs_status and
-- runs_background were only read for runs RUNNING or PENDING (reconciliation at startup,
-- background runs to resume, busy sessions), yet each run updated both when it began and
-- again when it finished: four WAL frames of a run's 29. A partial index takes a run in when
-- it begins and drops it when it finishes (two frames), and stays as small as the runs in
-- flight. The queries name the same condition (status IN ('RUNNING', 'PENDING')), which is how
-- SQLite knows the index covers them. (Postgres keeps its indexes: no frames there.)
DROP INDEX runs_status;
DROP INDEX runs_background;
CREATE INDEX runs_unfinished ON runs (background) WHERE status IN ('RUNNING', 'PENDING');
