-- User memories (agno's `agno_memories`): facts about a user that agents add to their context
-- in later sessions. Written by the memory manager's background jobs and the /memories routes.
CREATE TABLE memories (
    memory_id  TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL,             -- 'default' when a run named no user (as agno)
    memory     TEXT NOT NULL,
    topics     TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    input      TEXT,                      -- the message the memory was learned from
    agent_id   TEXT,
    team_id    TEXT,
    created_at INTEGER NOT NULL,          -- unix milliseconds
    updated_at INTEGER NOT NULL
);
CREATE INDEX memories_user ON memories (user_id, updated_at);
CREATE INDEX memories_updated ON memories (updated_at);
