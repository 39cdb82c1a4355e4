//! Service accounts on Postgres.

use super::PgStore;
use crate::store::service_accounts::list_where;
use crate::store::{ServiceAccountFilter, ServiceAccountRecord, ServiceAccountStore, StoreError};
use async_trait::async_trait;

#[async_trait]
impl ServiceAccountStore for PgStore {
    async fn create_service_account(&self, a: &ServiceAccountRecord) -> Result<bool, StoreError> {
        // The partial unique index on active names (and the token hash) refuse a duplicate.
        let inserted = sqlx::query(
            "INSERT INTO service_accounts (id, name, user_id, token_hash, token_prefix, scopes,
                created_at, expires_at, last_used_at, revoked_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT DO NOTHING",
        )
        .bind(&a.id)
        .bind(&a.name)
        .bind(&a.user_id)
        .bind(&a.token_hash)
        .bind(&a.token_prefix)
        .bind(&a.scopes)
        .bind(a.created_at)
        .bind(a.expires_at)
        .bind(a.last_used_at)
        .bind(a.revoked_at)
        .bind(&a.created_by)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn get_service_account(
        &self,
        id: &str,
        user_id: Option<&str>,
    ) -> Result<Option<ServiceAccountRecord>, StoreError> {
        let account = sqlx::query_as(
            "SELECT * FROM service_accounts WHERE id = $1
                AND ($2::text IS NULL OR user_id = $2 OR user_id IS NULL)",
        )
        .bind(id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(account)
    }

    async fn service_account_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ServiceAccountRecord>, StoreError> {
        let account = sqlx::query_as("SELECT * FROM service_accounts WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(account)
    }

    async fn list_service_accounts(
        &self,
        f: &ServiceAccountFilter,
    ) -> Result<(Vec<ServiceAccountRecord>, u64), StoreError> {
        let (filter, values) = list_where(f, |n| format!("${n}"));
        let (dir, nulls) = match f.ascending {
            true => ("ASC", "NULLS FIRST"),
            false => ("DESC", "NULLS LAST"),
        };
        let page = values.len() + 1;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
        let sql = format!(
            "SELECT * FROM service_accounts {filter}
             ORDER BY {} {dir} {nulls}, id {dir} LIMIT ${page} OFFSET ${}",
            f.sort_by.column(),
            page + 1
        );
        let rows = values
            .iter()
            .fold(sqlx::query_as(&sql), |q, v| q.bind(*v))
            .bind(f.limit as i64)
            .bind(f.offset as i64)
            .fetch_all(&mut *tx)
            .await?;
        let sql = format!("SELECT COUNT(*) FROM service_accounts {filter}");
        let total: i64 = values
            .iter()
            .fold(sqlx::query_scalar(&sql), |q, v| q.bind(*v))
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((rows, total.max(0) as u64))
    }

    async fn revoke_service_account(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let found: Option<i32> = sqlx::query_scalar(
            "WITH revoked AS (
                UPDATE service_accounts SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL
             )
             SELECT 1 FROM service_accounts WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    async fn touch_service_account(&self, id: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE service_accounts SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
