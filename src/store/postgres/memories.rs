//! Memories on Postgres: one statement per operation, a user's replacement in one transaction.

use super::PgStore;
use crate::run::unix_millis;
use crate::store::memories::distinct_topics;
use crate::store::{
    MemoryFilter, MemoryRecord, MemoryStore, MemoryUpdate, StoreError, UserMemoryStats,
};
use async_trait::async_trait;
use sqlx::PgConnection;

#[async_trait]
impl MemoryStore for PgStore {
    async fn insert_memory(&self, memory: &MemoryRecord) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert(&mut conn, memory).await
    }

    async fn update_memory(
        &self,
        memory_id: &str,
        user_id: Option<&str>,
        update: &MemoryUpdate,
    ) -> Result<Option<MemoryRecord>, StoreError> {
        let memory = sqlx::query_as(
            "UPDATE memories SET memory = $1, topics = coalesce($2, topics),
                                 input = coalesce($3, input), updated_at = $4
             WHERE memory_id = $5 AND ($6::text IS NULL OR user_id = $6)
             RETURNING *",
        )
        .bind(&update.memory)
        .bind(&update.topics)
        .bind(&update.input)
        .bind(unix_millis())
        .bind(memory_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(memory)
    }

    async fn get_memory(
        &self,
        memory_id: &str,
        user_id: Option<&str>,
    ) -> Result<Option<MemoryRecord>, StoreError> {
        let memory = sqlx::query_as(
            "SELECT * FROM memories WHERE memory_id = $1 AND ($2::text IS NULL OR user_id = $2)",
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
            |n| format!("${n}"),
            |column, p| format!("strpos({column}, {p}::text) > 0"),
            |column, p| format!("strpos(lower({column}), lower({p}::text)) > 0"),
        );
        let dir = if f.ascending { "ASC" } else { "DESC" };
        // Text by its bytes and NULLs first ascending, as on SQLite.
        let (collate, nulls) = match (f.sort_by.is_text(), f.ascending) {
            (true, true) => (" COLLATE \"C\"", " NULLS FIRST"),
            (true, false) => (" COLLATE \"C\"", " NULLS LAST"),
            (false, _) => ("", ""),
        };
        let column = f.sort_by.column();
        let page = values.len() + 1;
        // Sorted as on SQLite: text by its bytes, ties in insertion order.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let sql = format!(
            "SELECT * FROM memories {filter}
             ORDER BY {column}{collate} {dir}{nulls}, seq {dir} LIMIT ${page} OFFSET ${}",
            page + 1
        );
        let limit = (f.limit != 0).then_some(f.limit as i64);
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
        let done = sqlx::query(
            "DELETE FROM memories WHERE memory_id = ANY($1) AND ($2::text IS NULL OR user_id = $2)",
        )
        .bind(memory_ids)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn replace_user_memories(
        &self,
        user_id: &str,
        memories: &[MemoryRecord],
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM memories WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for memory in memories {
            insert(&mut tx, memory).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn memory_topics(&self, user_id: Option<&str>) -> Result<Vec<String>, StoreError> {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT topics FROM memories WHERE $1::text IS NULL OR user_id = $1",
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
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let stats = sqlx::query_as(
            "SELECT user_id, COUNT(*) AS total_memories,
                    MAX(updated_at) AS last_memory_updated_at
             FROM memories WHERE $1::text IS NULL OR user_id = $1
             GROUP BY user_id
             ORDER BY last_memory_updated_at DESC, user_id COLLATE \"C\" LIMIT $2 OFFSET $3",
        )
        .bind(user_id)
        .bind(limit as i64)
        .bind(offset as i64)
        .fetch_all(&mut *tx)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT user_id) FROM memories WHERE $1::text IS NULL OR user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((stats, total.max(0) as u64))
    }
}

async fn insert(conn: &mut PgConnection, m: &MemoryRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO memories (memory_id, user_id, memory, topics, input, agent_id, team_id,
                               created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&m.memory_id)
    .bind(&m.user_id)
    .bind(&m.memory)
    .bind(&m.topics)
    .bind(&m.input)
    .bind(&m.agent_id)
    .bind(&m.team_id)
    .bind(m.created_at)
    .bind(m.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}
