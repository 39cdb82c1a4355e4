//! Service accounts on SQLite: reads through the pool, writes through the writer.

use super::SqliteStore;
use crate::store::service_accounts::list_where;
use crate::store::{ServiceAccountFilter, ServiceAccountRecord, ServiceAccountStore, StoreError};
use async_trait::async_trait;
use rusqlite::{ErrorCode, params};

#[async_trait]
impl ServiceAccountStore for SqliteStore {
    async fn create_service_account(
        &self,
        account: &ServiceAccountRecord,
    ) -> Result<bool, StoreError> {
        let a = account.clone();
        self.write(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO service_accounts (id, name, user_id, token_hash, token_prefix,
                        scopes, created_at, expires_at, last_used_at, revoked_at, created_by)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )?
                .execute(params![
                    a.id,
                    a.name,
                    a.user_id,
                    a.token_hash,
                    a.token_prefix,
                    a.scopes,
                    a.created_at,
                    a.expires_at,
                    a.last_used_at,
                    a.revoked_at,
                    a.created_by
                ]);
            match inserted {
                Ok(_) => Ok(true),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    Ok(false)
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn get_service_account(
        &self,
        id: &str,
        user_id: Option<&str>,
    ) -> Result<Option<ServiceAccountRecord>, StoreError> {
        let account = sqlx::query_as(
            "SELECT * FROM service_accounts WHERE id = ?1
                AND (?2 IS NULL OR user_id = ?2 OR user_id IS NULL)",
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
        let account = sqlx::query_as("SELECT * FROM service_accounts WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(account)
    }

    async fn list_service_accounts(
        &self,
        f: &ServiceAccountFilter,
    ) -> Result<(Vec<ServiceAccountRecord>, u64), StoreError> {
        let (filter, values) = list_where(f, |n| format!("?{n}"));
        let (dir, nulls) = match f.ascending {
            true => ("ASC", "NULLS FIRST"),
            false => ("DESC", "NULLS LAST"),
        };
        let page = values.len() + 1;
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT * FROM service_accounts {filter}
             ORDER BY {} {dir} {nulls}, id {dir} LIMIT ?{page} OFFSET ?{}",
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
        let id = id.to_owned();
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE service_accounts SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            )?
            .execute(params![at, id])?;
            let found = conn
                .prepare_cached("SELECT 1 FROM service_accounts WHERE id = ?")?
                .exists(params![id])?;
            Ok(found)
        })
        .await
    }

    async fn touch_service_account(&self, id: &str, at: i64) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            conn.prepare_cached("UPDATE service_accounts SET last_used_at = ? WHERE id = ?")?
                .execute(params![at, id])?;
            Ok(())
        })
        .await
    }
}
