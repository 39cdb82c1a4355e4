//! Memories on SQLite: reads, the list and the stats through the pool; inserts, updates,
//! deletes and a user's replacement through the writer.

use super::SqliteStore;
use crate::run::unix_millis;
use crate::store::memories::distinct_topics;
use crate::store::record::read;
use crate::store::{
    MemoryFilter, MemoryRecord, MemoryStore, MemoryUpdate, StoreError, UserMemoryStats,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

#[async_trait]
impl MemoryStore for SqliteStore {
    async fn insert_memory(&self, memory: &MemoryRecord) -> Result<(), StoreError> {
        let memory = memory.clone();
        self.write(move |conn| insert(conn, &memory)).await
    }

    async fn update_memory(
        &self,
        memory_id: &str,
        user_id: Option<&str>,
        update: &MemoryUpdate,
    ) -> Result<Option<MemoryRecord>, StoreError> {
        let (memory_id, user_id) = (memory_id.to_owned(), user_id.map(str::to_owned));
        let update = update.clone();
        self.write(move |conn| {
            let memory = conn
                .prepare_cached(
                    "UPDATE memories SET memory = ?, topics = coalesce(?, topics),
                                         input = coalesce(?, input), updated_at = ?
                     WHERE memory_id = ? AND (? IS NULL OR user_id = ?)
                     RETURNING *",
                )?
                .query_row(
                    params![
                        update.memory,
                        update.topics,
                        update.input,
                        unix_millis(),
                        memory_id,
                        user_id,
                        user_id
                    ],
                    read,
                )
                .optional()?;
            Ok(memory)
        })
        .await
    }

    async fn get_memory(
        &self,
        memory_id: &str,
        user_id: Option<&str>,
    ) -> Result<Option<MemoryRecord>, StoreError> {
        let memory = sqlx::query_as(
            "SELECT * FROM memories WHERE memory_id = ?1 AND (?2 IS NULL OR user_id = ?2)",
        )
        .bind(memory_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(memory)
    }

    async fn list_memories(
        &self,
        f: &MemoryFilter,
    ) -> Result<(Vec<MemoryRecord>, u64), StoreError> {
        let (filter, values) = f.where_clause(
            |n| format!("?{n}"),
            |column, p| format!("instr({column}, {p}) > 0"),
            |column, p| format!("instr(lower({column}), lower({p})) > 0"),
        );
        let dir = if f.ascending { "ASC" } else { "DESC" };
        let column = f.sort_by.column();
        let page = values.len() + 1;
        // A limit of -1 is SQLite's "no limit".
        let limit = if f.limit == 0 { -1 } else { f.limit as i64 };
        // One read transaction: the page and the count come from the same snapshot.
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT * FROM memories {filter}
             ORDER BY {column} {dir}, rowid {dir} LIMIT ?{page} OFFSET ?{}",
            page + 1
        );
        let memories = values
            .iter()
            .fold(sqlx::query_as(&sql), |q, v| q.bind(v))
            .bind(limit)
            .bind(f.offset as i64)
            .fetch_all(&mut *tx)
            .await?;
        let sql = format!("SELECT COUNT(*) FROM memories {filter}");
        let total: i64 = values
            .iter()
            .fold(sqlx::query_scalar(&sql), |q, v| q.bind(v))
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((memories, total.max(0) as u64))
    }

    async fn delete_memories(
        &self,
        memory_ids: &[String],
        user_id: Option<&str>,
    ) -> Result<u64, StoreError> {
        let (ids, user_id) = (memory_ids.to_vec(), user_id.map(str::to_owned));
        self.write(move |conn| {
            let mut delete = conn.prepare_cached(
                "DELETE FROM memories WHERE memory_id = ? AND (? IS NULL OR user_id = ?)",
            )?;
            let mut deleted = 0;
            for id in &ids {
                deleted += delete.execute(params![id, user_id, user_id])? as u64;
            }
            Ok(deleted)
        })
        .await
    }

    async fn replace_user_memories(
        &self,
        user_id: &str,
        memories: &[MemoryRecord],
    ) -> Result<u64, StoreError> {
        let (user_id, memories) = (user_id.to_owned(), memories.to_vec());
        self.write(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM memories WHERE user_id = ?")?
                .execute(params![user_id])? as u64;
            for memory in &memories {
                insert(conn, memory)?;
            }
            Ok(deleted)
        })
        .await
    }

    async fn memory_topics(&self, user_id: Option<&str>) -> Result<Vec<String>, StoreError> {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT topics FROM memories WHERE ?1 IS NULL OR user_id = ?1",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(distinct_topics(columns))
    }

    async fn user_memory_stats(
        &self,
        user_id: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<UserMemoryStats>, u64), StoreError> {
        let mut tx = self.pool.begin().await?;
        let stats = sqlx::query_as(
            "SELECT user_id, COUNT(*) AS total_memories,
                    MAX(updated_at) AS last_memory_updated_at
             FROM memories WHERE ?1 IS NULL OR user_id = ?1
             GROUP BY user_id
             ORDER BY last_memory_updated_at DESC, user_id LIMIT ?2 OFFSET ?3",
        )
        .bind(user_id)
        .bind(limit as i64)
        .bind(offset as i64)
        .fetch_all(&mut *tx)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT user_id) FROM memories WHERE ?1 IS NULL OR user_id = ?1",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((stats, total.max(0) as u64))
    }
}

fn insert(conn: &Connection, m: &MemoryRecord) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO memories (memory_id, user_id, memory, topics, input, agent_id, team_id,
                               created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        m.memory_id,
        m.user_id,
        m.memory,
        m.topics,
        m.input,
        m.agent_id,
        m.team_id,
        m.created_at,
        m.updated_at
    ])?;
    Ok(())
}
