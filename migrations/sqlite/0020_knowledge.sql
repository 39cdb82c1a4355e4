-- Knowledge bases (issue 30): the content items of each knowledge base, their chunks with
-- embeddings, and a full-text index of the chunks. Vectors are little-endian float32 blobs,
-- the format of the sqlite-vec extension, which the store registers on every connection and
-- whose `vec_distance_cosine` scores them. A chunk is searchable once its content item is
-- `completed`: an ingestion cut short is never half visible.
CREATE TABLE knowledge_contents (
    id             TEXT PRIMARY KEY NOT NULL,
    knowledge_id   TEXT NOT NULL,
    name           TEXT,
    description    TEXT,
    metadata       TEXT,                    -- JSON object, or NULL
    file_type      TEXT,                    -- the media type, or `text`, `url`
    reader         TEXT NOT NULL,           -- the reader that turns it into text
    source_url     TEXT,
    source_name    TEXT,                    -- the uploaded file's name
    size           INTEGER NOT NULL DEFAULT 0,
    raw            BLOB,                    -- what was uploaded, kept until it is indexed
    content_hash   TEXT NOT NULL,
    job_id         TEXT,                    -- the ingestion job that owns it now
    status         TEXT NOT NULL,           -- processing | completed | failed
    status_message TEXT NOT NULL DEFAULT '',
    chunk_count    INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,        -- unix milliseconds
    updated_at     INTEGER NOT NULL
);
CREATE INDEX knowledge_contents_list ON knowledge_contents (knowledge_id, created_at);

CREATE TABLE knowledge_chunks (
    seq          INTEGER PRIMARY KEY,       -- the full-text index's rowid
    id           TEXT NOT NULL UNIQUE,
    content_id   TEXT NOT NULL,
    knowledge_id TEXT NOT NULL,
    chunk_index  INTEGER NOT NULL,
    embedder     TEXT NOT NULL,             -- which embedder made `embedding`
    text_hash    TEXT NOT NULL,             -- sha-256 of `text`: an embedding is made once
    embedding    BLOB NOT NULL,             -- before `text`: a vector scan reads less of the row
    meta         TEXT NOT NULL,             -- JSON object: the chunk's own metadata
    text         TEXT NOT NULL,
    UNIQUE (content_id, chunk_index)
);
CREATE INDEX knowledge_chunks_kb ON knowledge_chunks (knowledge_id, embedder);
CREATE INDEX knowledge_chunks_cache ON knowledge_chunks (embedder, text_hash);

CREATE VIRTUAL TABLE knowledge_fts USING fts5(
    text, content = 'knowledge_chunks', content_rowid = 'seq', tokenize = 'porter unicode61'
);
CREATE TRIGGER knowledge_chunks_ai AFTER INSERT ON knowledge_chunks BEGIN
    INSERT INTO knowledge_fts (rowid, text) VALUES (new.seq, new.text);
END;
CREATE TRIGGER knowledge_chunks_ad AFTER DELETE ON knowledge_chunks BEGIN
    INSERT INTO knowledge_fts (knowledge_fts, rowid, text) VALUES ('delete', old.seq, old.text);
END;
