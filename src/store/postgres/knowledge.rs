//! Knowledge on Postgres. Vectors are `real[]` of unit length. With the pgvector extension
//! (found or created at open: [`detect_pgvector`]) they are ranked by its cosine distance
//! operator, in C; without it, by their dot product computed in SQL, which is slower but needs
//! nothing installed. Words are ranked by `ts_rank_cd` over a stored `tsvector`.

use super::PgStore;
use crate::retrieval::{MetadataFilter, SearchHit};
use crate::run::unix_millis;
use crate::store::knowledge::{HitRow, status};
use crate::store::{
    ContentAdded, ContentPage, ContentRecord, ContentUpdate, KeywordQuery, KnowledgeStore,
    NewChunk, NewContent, StoreError, VectorQuery,
};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::{PgPool, Postgres, Transaction};

/// The schema pgvector is installed in, if it is or can be: found in `pg_extension`, else
/// created in `public` (which needs the right to create it; failing that, the store goes on
/// without it).
pub(super) async fn detect_pgvector(pool: &PgPool) -> Option<String> {
    let installed = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT n.nspname::text FROM pg_extension e
             JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'",
        )
        .fetch_optional(pool)
        .await
        .ok()
        .flatten()
    };
    if let Some(schema) = installed().await {
        return Some(schema);
    }
    let available: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')",
    )
    .fetch_one(pool)
    .await
    .unwrap_or(false);
    if !available {
        return None;
    }
    if let Err(e) = sqlx::query("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
        .execute(pool)
        .await
    {
        // Another replica may have created it meanwhile; otherwise we lack the right.
        tracing::info!(error = %e, "cannot create the pgvector extension; vector search runs in SQL");
    }
    installed().await
}

const CONTENT_COLUMNS: &str = "id, knowledge_id, name, description, metadata, file_type, reader, \
     source_url, source_name, size, content_hash, job_id, status, status_message, \
     chunk_count, created_at, updated_at";

const HIT_COLUMNS: &str = "c.id, c.content_id, k.name, COALESCE(k.source_url, k.source_name) AS \
     source, c.chunk_index, c.text, k.metadata, c.meta";

/// `AND (...)` per filter key: JSON containment on the content item's metadata, one JSON
/// document per accepted value, bound after `first` placeholders.
fn filter_sql(filter: &MetadataFilter, first: usize) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut binds = Vec::new();
    for (key, values) in filter.terms() {
        let mut any = Vec::new();
        for value in values {
            let mut doc = Map::new();
            doc.insert(key.clone(), value.clone());
            binds.push(Value::Object(doc).to_string());
            any.push(format!(
                "k.metadata::jsonb @> ${}::jsonb",
                first + binds.len()
            ));
        }
        sql.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    (sql, binds)
}

type HitQuery<'q> = sqlx::query::QueryAs<'q, Postgres, HitRow, sqlx::postgres::PgArguments>;

fn bind_all(query: HitQuery<'_>, binds: Vec<String>) -> HitQuery<'_> {
    binds.into_iter().fold(query, |q, b| q.bind(b))
}

#[async_trait]
impl KnowledgeStore for PgStore {
    async fn add_content(&self, c: NewContent) -> Result<ContentAdded, StoreError> {
        let mut tx = self.pool.begin().await?;
        let sql =
            format!("SELECT {CONTENT_COLUMNS} FROM knowledge_contents WHERE id = $1 FOR UPDATE");
        let existing: Option<ContentRecord> = sqlx::query_as(&sql)
            .bind(&c.id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(existing) =
            existing.filter(|e| e.status != status::FAILED && e.content_hash == c.content_hash)
        {
            tx.commit().await?;
            return Ok(ContentAdded::Exists(existing));
        }
        sqlx::query("DELETE FROM knowledge_chunks WHERE content_id = $1")
            .bind(&c.id)
            .execute(&mut *tx)
            .await?;
        let sql = format!(
            "INSERT INTO knowledge_contents (id, knowledge_id, name, description, metadata,
               file_type, reader, source_url, source_name, size, raw, content_hash, job_id,
               status, status_message, chunk_count, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14, 'processing', '',
               0, $13, $13)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name,
               description = excluded.description, metadata = excluded.metadata,
               file_type = excluded.file_type, reader = excluded.reader,
               source_url = excluded.source_url, source_name = excluded.source_name,
               size = excluded.size, raw = excluded.raw, content_hash = excluded.content_hash,
               job_id = excluded.job_id, status = 'processing',
               status_message = '', chunk_count = 0, updated_at = excluded.updated_at
             RETURNING {CONTENT_COLUMNS}"
        );
        let record: ContentRecord = sqlx::query_as(&sql)
            .bind(&c.id)
            .bind(&c.knowledge_id)
            .bind(&c.name)
            .bind(&c.description)
            .bind(&c.metadata)
            .bind(&c.file_type)
            .bind(&c.reader)
            .bind(&c.source_url)
            .bind(&c.source_name)
            .bind(c.size)
            .bind(&c.raw)
            .bind(&c.content_hash)
            .bind(c.now)
            .bind(&c.job_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ContentAdded::Queued(record))
    }

    async fn get_content(
        &self,
        knowledge_id: &str,
        content_id: &str,
    ) -> Result<Option<ContentRecord>, StoreError> {
        let sql = format!(
            "SELECT {CONTENT_COLUMNS} FROM knowledge_contents WHERE id = $1 AND knowledge_id = $2"
        );
        Ok(sqlx::query_as(&sql)
            .bind(content_id)
            .bind(knowledge_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn content_raw(&self, content_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let raw: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT raw FROM knowledge_contents WHERE id = $1")
                .bind(content_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(raw.flatten())
    }

    async fn list_contents(
        &self,
        knowledge_id: &str,
        page: &ContentPage,
    ) -> Result<(Vec<ContentRecord>, u64), StoreError> {
        let dir = if page.ascending { "ASC" } else { "DESC" };
        let column = page.sort.column();
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT {CONTENT_COLUMNS} FROM knowledge_contents WHERE knowledge_id = $1
             ORDER BY {column} {dir}, id {dir} LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query_as(&sql)
            .bind(knowledge_id)
            .bind(page.limit as i64)
            .bind(page.offset as i64)
            .fetch_all(&mut *tx)
            .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM knowledge_contents WHERE knowledge_id = $1")
                .bind(knowledge_id)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok((rows, total.max(0) as u64))
    }

    async fn update_content(
        &self,
        knowledge_id: &str,
        content_id: &str,
        update: &ContentUpdate,
    ) -> Result<Option<ContentRecord>, StoreError> {
        let sql = format!(
            "UPDATE knowledge_contents SET name = COALESCE($1, name),
               description = COALESCE($2, description), metadata = COALESCE($3, metadata),
               updated_at = $4
             WHERE id = $5 AND knowledge_id = $6 RETURNING {CONTENT_COLUMNS}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(&update.name)
            .bind(&update.description)
            .bind(&update.metadata)
            .bind(unix_millis())
            .bind(content_id)
            .bind(knowledge_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_content_status(
        &self,
        content_id: &str,
        status: &str,
        message: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let sql = match status {
            status::COMPLETED => {
                "UPDATE knowledge_contents SET status = $2, status_message = $3, raw = NULL,
                   chunk_count = (SELECT COUNT(*) FROM knowledge_chunks WHERE content_id = $1),
                   updated_at = $4
                 WHERE id = $1"
            }
            _ => {
                "UPDATE knowledge_contents SET status = $2, status_message = $3, updated_at = $4
                 WHERE id = $1"
            }
        };
        let changed = sqlx::query(sql)
            .bind(content_id)
            .bind(status)
            .bind(message)
            .bind(unix_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if status == status::FAILED {
            delete_chunks(&mut tx, "content_id", content_id).await?;
        }
        tx.commit().await?;
        Ok(changed > 0)
    }

    async fn delete_content(
        &self,
        knowledge_id: &str,
        content_id: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM knowledge_contents WHERE id = $1 AND knowledge_id = $2")
            .bind(content_id)
            .bind(knowledge_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        delete_chunks(&mut tx, "content_id", content_id).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn delete_all_contents(&self, knowledge_id: &str) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM knowledge_contents WHERE knowledge_id = $1")
            .bind(knowledge_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        delete_chunks(&mut tx, "knowledge_id", knowledge_id).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn stored_chunks(&self, content_id: &str) -> Result<Vec<u32>, StoreError> {
        let rows: Vec<i64> = sqlx::query_scalar(
            "SELECT chunk_index FROM knowledge_chunks WHERE content_id = $1 ORDER BY chunk_index",
        )
        .bind(content_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|i| i as u32).collect())
    }

    async fn cached_embeddings(
        &self,
        embedder: &str,
        text_hashes: &[String],
    ) -> Result<Vec<(String, Vec<f32>)>, StoreError> {
        if text_hashes.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(
            "SELECT DISTINCT ON (text_hash) text_hash, embedding FROM knowledge_chunks
             WHERE embedder = $1 AND text_hash = ANY($2)",
        )
        .bind(embedder)
        .bind(text_hashes)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn insert_chunks(&self, chunks: Vec<NewChunk>) -> Result<(), StoreError> {
        if chunks.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch: arrays unnested in order. The vectors travel as
        // one flat array and are cut back into rows by their common length.
        let dims = chunks[0].embedding.len();
        if chunks.iter().any(|c| c.embedding.len() != dims) {
            return Err(StoreError::Config(
                "chunks of one batch must have vectors of one length".to_owned(),
            ));
        }
        let flat: Vec<f32> = chunks
            .iter()
            .flat_map(|c| c.embedding.iter().copied())
            .collect();
        let col = |f: fn(&NewChunk) -> String| chunks.iter().map(f).collect::<Vec<_>>();
        let index: Vec<i64> = chunks.iter().map(|c| i64::from(c.chunk_index)).collect();
        sqlx::query(
            "INSERT INTO knowledge_chunks (id, content_id, knowledge_id, chunk_index, embedder,
               text_hash, embedding, meta, text)
             SELECT r.id, r.content_id, r.knowledge_id, r.chunk_index, r.embedder, r.text_hash,
               ($7::real[])[(r.n - 1) * $10 + 1 : r.n * $10], r.meta, r.text
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                         $6::text[], $8::text[], $9::text[])
               WITH ORDINALITY AS r(id, content_id, knowledge_id, chunk_index, embedder,
                                    text_hash, meta, text, n)
             ORDER BY r.n
             ON CONFLICT (content_id, chunk_index) DO NOTHING",
        )
        .bind(col(|c| c.id.clone()))
        .bind(col(|c| c.content_id.clone()))
        .bind(col(|c| c.knowledge_id.clone()))
        .bind(index)
        .bind(col(|c| c.embedder.clone()))
        .bind(col(|c| c.text_hash.clone()))
        .bind(flat)
        .bind(col(|c| c.meta.clone()))
        .bind(col(|c| c.text.clone()))
        .bind(dims as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn vector_search(&self, q: &VectorQuery<'_>) -> Result<Vec<SearchHit>, StoreError> {
        let (filters, binds) = filter_sql(q.filter, 3);
        // Only vectors of the query's embedder: they have its length.
        let score = match &self.pgvector {
            Some(s) => {
                format!("1.0 - (c.embedding::{s}.vector OPERATOR({s}.<=>) $1::real[]::{s}.vector)")
            }
            None => {
                "(SELECT sum(a * b) FROM unnest(c.embedding, $1::real[]) AS t(a, b))".to_owned()
            }
        };
        let sql = format!(
            "SELECT {HIT_COLUMNS}, ({score})::float8 AS score
             FROM knowledge_chunks c JOIN knowledge_contents k ON k.id = c.content_id
             WHERE c.knowledge_id = $2 AND c.embedder = $3 AND k.status = 'completed' {filters}
             ORDER BY score DESC, c.seq LIMIT {}",
            q.limit
        );
        let query = sqlx::query_as(&sql)
            .bind(q.embedding)
            .bind(q.knowledge_id)
            .bind(q.embedder);
        let rows = bind_all(query, binds).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(SearchHit::from).collect())
    }

    async fn keyword_search(&self, q: &KeywordQuery<'_>) -> Result<Vec<SearchHit>, StoreError> {
        if q.words.is_empty() {
            return Ok(Vec::new());
        }
        // Letters and digits only, joined by OR: never tsquery syntax.
        let terms = q.words.join(" | ");
        let (filters, binds) = filter_sql(q.filter, 2);
        let sql = format!(
            "SELECT {HIT_COLUMNS}, ts_rank_cd(c.tsv, query)::float8 AS score
             FROM knowledge_chunks c JOIN knowledge_contents k ON k.id = c.content_id,
               to_tsquery('english', $1) AS query
             WHERE c.tsv @@ query AND c.knowledge_id = $2 AND k.status = 'completed' {filters}
             ORDER BY score DESC, c.seq LIMIT {}",
            q.limit
        );
        let query = sqlx::query_as(&sql).bind(terms).bind(q.knowledge_id);
        let rows = bind_all(query, binds).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(SearchHit::from).collect())
    }

    fn vector_backend(&self) -> &'static str {
        match self.pgvector {
            Some(_) => "pgvector",
            None => "sql",
        }
    }

    async fn metadata_keys(&self, knowledge_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT jsonb_object_keys(metadata::jsonb) AS key FROM knowledge_contents
             WHERE knowledge_id = $1 AND metadata IS NOT NULL ORDER BY key",
        )
        .bind(knowledge_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

async fn delete_chunks(
    tx: &mut Transaction<'_, Postgres>,
    column: &'static str,
    value: &str,
) -> Result<(), StoreError> {
    sqlx::query(&format!("DELETE FROM knowledge_chunks WHERE {column} = $1"))
        .bind(value)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
