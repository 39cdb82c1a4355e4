-- Knowledge bases (issue 30): the content items of each knowledge base, their chunks with
-- embeddings, and a full-text index of the chunks. Vectors are `real[]`, normalized to unit
-- length: with the pgvector extension installed the store casts them to `vector` and ranks
-- with its cosine distance; without it, cosine is the dot product, computed in SQL. A chunk is
-- searchable once its content item is `completed`: an ingestion cut short is never half
-- visible.
CREATE TABLE knowledge_contents (
    id             TEXT PRIMARY KEY,
    knowledge_id   TEXT NOT NULL,
    name           TEXT,
    description    TEXT,
    metadata       TEXT,                    -- JSON object, or NULL
    file_type      TEXT,
    reader         TEXT NOT NULL,
    source_url     TEXT,
    source_name    TEXT,
    size           BIGINT NOT NULL DEFAULT 0,
    raw            BYTEA,                   -- what was uploaded, kept until it is indexed
    content_hash   TEXT NOT NULL,
    job_id         TEXT,                    -- the ingestion job that owns it now
    status         TEXT NOT NULL,           -- processing | completed | failed
    status_message TEXT NOT NULL DEFAULT '',
    chunk_count    BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,         -- unix milliseconds
    updated_at     BIGINT NOT NULL
);
CREATE INDEX knowledge_contents_list ON knowledge_contents (knowledge_id, created_at);

CREATE TABLE knowledge_chunks (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY,
    id           TEXT PRIMARY KEY,
    content_id   TEXT NOT NULL,
    knowledge_id TEXT NOT NULL,
    chunk_index  BIGINT NOT NULL,
    embedder     TEXT NOT NULL,
    text_hash    TEXT NOT NULL,
    embedding    REAL[] NOT NULL,
    meta         TEXT NOT NULL,
    text         TEXT NOT NULL,
    tsv          TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    UNIQUE (content_id, chunk_index)
);
CREATE INDEX knowledge_chunks_kb ON knowledge_chunks (knowledge_id, embedder);
CREATE INDEX knowledge_chunks_cache ON knowledge_chunks (embedder, text_hash);
CREATE INDEX knowledge_chunks_tsv ON knowledge_chunks USING GIN (tsv);
