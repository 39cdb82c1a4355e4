-- The W3C trace context (`traceparent`) of the run that made a job: its attempts join that
-- run's trace, in this process or after a restart. NULL when tracing was off.
ALTER TABLE jobs ADD COLUMN trace_parent TEXT;
