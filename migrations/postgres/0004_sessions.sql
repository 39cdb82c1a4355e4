-- The sessions API: what PATCH /sessions/{id} can set, and indexes for the list's filters and sorts.
ALTER TABLE sessions ADD COLUMN summary TEXT;   -- JSON object: {"summary", "topics"?, "updated_at"?}
CREATE INDEX sessions_created ON sessions (created_at);
CREATE INDEX sessions_updated ON sessions (updated_at);
CREATE INDEX sessions_user ON sessions (user_id, created_at);
CREATE INDEX sessions_component_id ON sessions (component_id, created_at);
