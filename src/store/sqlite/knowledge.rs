//! Knowledge on SQLite: content items and chunks written through the writer; searches through
//! the pool, vectors scored by the sqlite-vec extension's `vec_distance_cosine` and words by
//! FTS5's `bm25`.

use super::SqliteStore;
use crate::retrieval::{MetadataFilter, SearchHit};
use crate::run::unix_millis;
use crate::store::knowledge::{HitRow, status};
use crate::store::record::read;
use crate::store::{
    ContentAdded, ContentPage, ContentRecord, ContentUpdate, KeywordQuery, KnowledgeStore,
    NewChunk, NewContent, StoreError, VectorQuery,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

/// Registers sqlite-vec with SQLite itself, once per process, before the store opens a
/// connection: every connection opened afterwards (the writer's through rusqlite and the
/// readers' through sqlx, which share `libsqlite3-sys`) has its functions.
pub(super) fn register_vector_extension() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_vec_init` is the extension's entry point, a C function with the
        // signature `sqlite3_auto_extension` expects (`db`, `pzErrMsg`, `pApi`); the crate
        // declares it without arguments, hence the cast, which sqlite-vec's own tests make.
        unsafe {
            rusqlite::ffi::sqlite3_auto_extension(Some(std::mem::transmute::<
                *const (),
                unsafe extern "C" fn(
                    *mut rusqlite::ffi::sqlite3,
                    *mut *mut std::os::raw::c_char,
                    *const rusqlite::ffi::sqlite3_api_routines,
                ) -> std::os::raw::c_int,
            >(
                sqlite_vec::sqlite3_vec_init as *const (),
            )));
        }
    });
}

const CONTENT_COLUMNS: &str = "id, knowledge_id, name, description, metadata, file_type, reader, \
     source_url, source_name, size, content_hash, job_id, status, status_message, \
     chunk_count, created_at, updated_at";

/// A vector as sqlite-vec reads it: little-endian float32.
fn vector_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn blob_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A value bound into a filter.
enum Bind {
    Text(String),
    Real(f64),
}

/// `AND (...)` for each filter key, on `k.metadata`, with its values to bind after `first`
/// placeholders.
fn filter_sql(filter: &MetadataFilter, first: usize) -> (String, Vec<Bind>) {
    let mut sql = String::new();
    let mut binds = Vec::new();
    for (key, values) in filter.terms() {
        let path = format!("$.\"{}\"", key.replace('"', ""));
        let mut any = Vec::new();
        for value in values {
            let p = first + binds.len() + 1;
            binds.push(Bind::Text(path.clone()));
            match value {
                Value::Bool(b) => any.push(format!("json_type(k.metadata, ?{p}) = '{b}'")),
                Value::Number(n) => {
                    binds.push(Bind::Real(n.as_f64().unwrap_or(f64::NAN)));
                    any.push(format!(
                        "(json_type(k.metadata, ?{p}) IN ('integer', 'real') \
                         AND json_extract(k.metadata, ?{p}) = ?{})",
                        p + 1
                    ));
                }
                other => {
                    binds.push(Bind::Text(other.as_str().unwrap_or_default().to_owned()));
                    any.push(format!(
                        "(json_type(k.metadata, ?{p}) = 'text' \
                         AND json_extract(k.metadata, ?{p}) = ?{})",
                        p + 1
                    ));
                }
            }
        }
        sql.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    (sql, binds)
}

type HitQuery<'q> =
    sqlx::query::QueryAs<'q, sqlx::Sqlite, HitRow, sqlx::sqlite::SqliteArguments<'q>>;

fn bind_all<'q>(query: HitQuery<'q>, binds: Vec<Bind>) -> HitQuery<'q> {
    binds.into_iter().fold(query, |q, b| match b {
        Bind::Text(s) => q.bind(s),
        Bind::Real(x) => q.bind(x),
    })
}

/// The columns of a search hit, from `c` (chunk) and `k` (content item).
const HIT_COLUMNS: &str = "c.id, c.content_id, k.name, COALESCE(k.source_url, k.source_name) AS \
     source, c.chunk_index, c.text, k.metadata, c.meta";

#[async_trait]
impl KnowledgeStore for SqliteStore {
    async fn add_content(&self, content: NewContent) -> Result<ContentAdded, StoreError> {
        self.write(move |conn| add(conn, &content)).await
    }

    async fn get_content(
        &self,
        knowledge_id: &str,
        content_id: &str,
    ) -> Result<Option<ContentRecord>, StoreError> {
        let sql = format!(
            "SELECT {CONTENT_COLUMNS} FROM knowledge_contents WHERE id = ? AND knowledge_id = ?"
        );
        Ok(sqlx::query_as(&sql)
            .bind(content_id)
            .bind(knowledge_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn content_raw(&self, content_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let raw: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT raw FROM knowledge_contents WHERE id = ?")
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
            "SELECT {CONTENT_COLUMNS} FROM knowledge_contents WHERE knowledge_id = ?
             ORDER BY {column} {dir}, id {dir} LIMIT ? OFFSET ?"
        );
        let rows = sqlx::query_as(&sql)
            .bind(knowledge_id)
            .bind(page.limit as i64)
            .bind(page.offset as i64)
            .fetch_all(&mut *tx)
            .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM knowledge_contents WHERE knowledge_id = ?")
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
        let (kb, id, update) = (
            knowledge_id.to_owned(),
            content_id.to_owned(),
            update.clone(),
        );
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE knowledge_contents SET name = COALESCE(?1, name),
                   description = COALESCE(?2, description), metadata = COALESCE(?3, metadata),
                   updated_at = ?4
                 WHERE id = ?5 AND knowledge_id = ?6",
                params![
                    update.name,
                    update.description,
                    update.metadata,
                    unix_millis(),
                    id,
                    kb
                ],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            select_content(conn, &id)
        })
        .await
    }

    async fn set_content_status(
        &self,
        content_id: &str,
        status: &str,
        message: &str,
    ) -> Result<bool, StoreError> {
        let (id, status, message) = (content_id.to_owned(), status.to_owned(), message.to_owned());
        self.write(move |conn| set_status(conn, &id, &status, &message))
            .await
    }

    async fn delete_content(
        &self,
        knowledge_id: &str,
        content_id: &str,
    ) -> Result<bool, StoreError> {
        let (kb, id) = (knowledge_id.to_owned(), content_id.to_owned());
        self.write(move |conn| {
            let n = conn.execute(
                "DELETE FROM knowledge_contents WHERE id = ?1 AND knowledge_id = ?2",
                params![id, kb],
            )?;
            conn.execute(
                "DELETE FROM knowledge_chunks WHERE content_id = ?1 AND knowledge_id = ?2",
                params![id, kb],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_all_contents(&self, knowledge_id: &str) -> Result<u64, StoreError> {
        let kb = knowledge_id.to_owned();
        self.write(move |conn| {
            let n = conn.execute(
                "DELETE FROM knowledge_contents WHERE knowledge_id = ?1",
                params![kb],
            )?;
            conn.execute(
                "DELETE FROM knowledge_chunks WHERE knowledge_id = ?1",
                params![kb],
            )?;
            Ok(n as u64)
        })
        .await
    }

    async fn stored_chunks(&self, content_id: &str) -> Result<Vec<u32>, StoreError> {
        let rows: Vec<i64> = sqlx::query_scalar(
            "SELECT chunk_index FROM knowledge_chunks WHERE content_id = ? ORDER BY chunk_index",
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
        let hashes = serde_json::to_string(text_hashes).unwrap_or_else(|_| "[]".into());
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT text_hash, embedding FROM knowledge_chunks
             WHERE embedder = ? AND text_hash IN (SELECT value FROM json_each(?))
             GROUP BY text_hash",
        )
        .bind(embedder)
        .bind(hashes)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(h, b)| (h, blob_vector(&b)))
            .collect())
    }

    async fn insert_chunks(&self, chunks: Vec<NewChunk>) -> Result<(), StoreError> {
        if chunks.is_empty() {
            return Ok(());
        }
        let blobs: Vec<Vec<u8>> = chunks.iter().map(|c| vector_blob(&c.embedding)).collect();
        self.write(move |conn| {
            let mut insert = conn.prepare_cached(
                "INSERT INTO knowledge_chunks (id, content_id, knowledge_id, chunk_index,
                   embedder, text_hash, embedding, meta, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (content_id, chunk_index) DO NOTHING",
            )?;
            for (c, blob) in chunks.iter().zip(&blobs) {
                insert.execute(params![
                    c.id,
                    c.content_id,
                    c.knowledge_id,
                    c.chunk_index,
                    c.embedder,
                    c.text_hash,
                    blob,
                    c.meta,
                    c.text
                ])?;
            }
            Ok(())
        })
        .await
    }

    async fn vector_search(&self, q: &VectorQuery<'_>) -> Result<Vec<SearchHit>, StoreError> {
        let (filters, binds) = filter_sql(q.filter, 3);
        let sql = format!(
            "SELECT {HIT_COLUMNS}, 1.0 - vec_distance_cosine(c.embedding, ?1) AS score
             FROM knowledge_chunks c JOIN knowledge_contents k ON k.id = c.content_id
             WHERE c.knowledge_id = ?2 AND c.embedder = ?3 AND k.status = 'completed' {filters}
             ORDER BY score DESC, c.seq LIMIT {}",
            q.limit
        );
        let query = sqlx::query_as(&sql)
            .bind(vector_blob(q.embedding))
            .bind(q.knowledge_id)
            .bind(q.embedder);
        let rows = bind_all(query, binds).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(SearchHit::from).collect())
    }

    async fn keyword_search(&self, q: &KeywordQuery<'_>) -> Result<Vec<SearchHit>, StoreError> {
        if q.words.is_empty() {
            return Ok(Vec::new());
        }
        // Each word quoted: FTS5 reads it as a plain term, never as syntax.
        let matching = q
            .words
            .iter()
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(" OR ");
        let (filters, binds) = filter_sql(q.filter, 2);
        let sql = format!(
            "SELECT {HIT_COLUMNS}, -bm25(knowledge_fts) AS score
             FROM knowledge_fts f JOIN knowledge_chunks c ON c.seq = f.rowid
             JOIN knowledge_contents k ON k.id = c.content_id
             WHERE knowledge_fts MATCH ?1 AND c.knowledge_id = ?2 AND k.status = 'completed'
             {filters}
             ORDER BY bm25(knowledge_fts), c.seq LIMIT {}",
            q.limit
        );
        let query = sqlx::query_as(&sql).bind(matching).bind(q.knowledge_id);
        let rows = bind_all(query, binds).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(SearchHit::from).collect())
    }

    fn vector_backend(&self) -> &'static str {
        "sqlite-vec"
    }

    async fn metadata_keys(&self, knowledge_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT j.key FROM knowledge_contents k, json_each(k.metadata) j
             WHERE k.knowledge_id = ? AND json_valid(k.metadata) ORDER BY j.key",
        )
        .bind(knowledge_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

fn select_content(conn: &Connection, id: &str) -> Result<Option<ContentRecord>, StoreError> {
    let sql = format!("SELECT {CONTENT_COLUMNS} FROM knowledge_contents WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id], read)
        .optional()?)
}

fn add(conn: &Connection, c: &NewContent) -> Result<ContentAdded, StoreError> {
    if let Some(existing) = select_content(conn, &c.id)?
        && existing.status != status::FAILED
        && existing.content_hash == c.content_hash
    {
        return Ok(ContentAdded::Exists(existing));
    }
    // New, or a failed one starting over: its partial chunks go.
    conn.execute(
        "DELETE FROM knowledge_chunks WHERE content_id = ?1",
        params![c.id],
    )?;
    conn.execute(
        "INSERT INTO knowledge_contents (id, knowledge_id, name, description, metadata,
           file_type, reader, source_url, source_name, size, raw, content_hash, job_id, status,
           status_message, chunk_count, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?14, 'processing', '', 0,
           ?13, ?13)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
           metadata = excluded.metadata, file_type = excluded.file_type, reader = excluded.reader,
           source_url = excluded.source_url, source_name = excluded.source_name,
           size = excluded.size, raw = excluded.raw, content_hash = excluded.content_hash,
           job_id = excluded.job_id, status = 'processing', status_message = '',
           chunk_count = 0, updated_at = excluded.updated_at",
        params![
            c.id,
            c.knowledge_id,
            c.name,
            c.description,
            c.metadata,
            c.file_type,
            c.reader,
            c.source_url,
            c.source_name,
            c.size,
            c.raw,
            c.content_hash,
            c.now,
            c.job_id
        ],
    )?;
    let record = select_content(conn, &c.id)?
        .ok_or_else(|| StoreError::Config("content row vanished".to_owned()))?;
    Ok(ContentAdded::Queued(record))
}

fn set_status(
    conn: &Connection,
    id: &str,
    status: &str,
    message: &str,
) -> Result<bool, StoreError> {
    let now = unix_millis();
    let changed = match status {
        status::COMPLETED => conn.execute(
            "UPDATE knowledge_contents SET status = ?2, status_message = ?3, raw = NULL,
               chunk_count = (SELECT COUNT(*) FROM knowledge_chunks WHERE content_id = ?1),
               updated_at = ?4
             WHERE id = ?1",
            params![id, status, message, now],
        )?,
        _ => conn.execute(
            "UPDATE knowledge_contents SET status = ?2, status_message = ?3, updated_at = ?4
             WHERE id = ?1",
            params![id, status, message, now],
        )?,
    };
    if status == status::FAILED {
        conn.execute(
            "DELETE FROM knowledge_chunks WHERE content_id = ?1",
            params![id],
        )?;
    }
    Ok(changed > 0)
}
