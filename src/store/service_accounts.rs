//! The service accounts domain: machine identities (CI, coding agents, chat apps) whose opaque
//! tokens (`agno_pat_...`) are stored as their SHA-256 hash only, as agno stores them.

use super::StoreError;
use async_trait::async_trait;

record! {
    /// A service account row (agno's `ServiceAccount`). Times are unix seconds.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ServiceAccountRecord {
        /// The id (a UUID).
        pub id: String,
        /// The name, a lowercase slug; unique among accounts not revoked.
        pub name: String,
        /// The user the account belongs to; `None` for a workspace-level account.
        pub user_id: Option<String>,
        /// SHA-256 of the token, hex. The token itself is never stored.
        pub token_hash: String,
        /// The token's first characters, for display.
        pub token_prefix: String,
        /// The scopes granted, as a JSON array of strings.
        pub scopes: String,
        /// When it was made.
        pub created_at: i64,
        /// When its token stops working, if ever.
        pub expires_at: Option<i64>,
        /// When its token was last used (updated at most once a minute).
        pub last_used_at: Option<i64>,
        /// When it was revoked.
        pub revoked_at: Option<i64>,
        /// Who made it (the maker's user id).
        pub created_by: Option<String>,
    }
}

impl ServiceAccountRecord {
    /// The scopes, parsed from their JSON.
    pub fn scope_list(&self) -> Vec<String> {
        serde_json::from_str(&self.scopes).unwrap_or_default()
    }
}

/// The order of a service account listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServiceAccountSort {
    /// By creation time (the default).
    #[default]
    CreatedAt,
    /// By name.
    Name,
    /// By last use.
    LastUsedAt,
    /// By expiry.
    ExpiresAt,
}

impl ServiceAccountSort {
    /// agno's `sort_by`; anything else sorts by `created_at`, as agno clamps it.
    pub fn parse(s: &str) -> ServiceAccountSort {
        match s {
            "name" => ServiceAccountSort::Name,
            "last_used_at" => ServiceAccountSort::LastUsedAt,
            "expires_at" => ServiceAccountSort::ExpiresAt,
            _ => ServiceAccountSort::CreatedAt,
        }
    }

    /// The column.
    pub fn column(self) -> &'static str {
        match self {
            ServiceAccountSort::CreatedAt => "created_at",
            ServiceAccountSort::Name => "name",
            ServiceAccountSort::LastUsedAt => "last_used_at",
            ServiceAccountSort::ExpiresAt => "expires_at",
        }
    }
}

/// Which service accounts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccountFilter {
    /// Revoked accounts too.
    pub include_revoked: bool,
    /// Only this user's accounts and the workspace-level ones (agno's scoped listing).
    pub user_id: Option<String>,
    /// The order.
    pub sort_by: ServiceAccountSort,
    /// Ascending instead of descending.
    pub ascending: bool,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// Service accounts: create, find (by id or by token hash), list, revoke, record use.
#[async_trait]
pub trait ServiceAccountStore: Send + Sync {
    /// Stores a new account; `false`, and nothing stored, when an account of the same name is
    /// active (not revoked).
    async fn create_service_account(
        &self,
        account: &ServiceAccountRecord,
    ) -> Result<bool, StoreError>;
    /// An account by id; with `user_id`, only if it is that user's or workspace-level.
    async fn get_service_account(
        &self,
        id: &str,
        user_id: Option<&str>,
    ) -> Result<Option<ServiceAccountRecord>, StoreError>;
    /// The account whose token has this hash.
    async fn service_account_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ServiceAccountRecord>, StoreError>;
    /// One page of the accounts matching `filter`, and how many match in all.
    async fn list_service_accounts(
        &self,
        filter: &ServiceAccountFilter,
    ) -> Result<(Vec<ServiceAccountRecord>, u64), StoreError>;
    /// Marks an account revoked at `at` (unix seconds) unless it already is; `false` if there
    /// is no such account.
    async fn revoke_service_account(&self, id: &str, at: i64) -> Result<bool, StoreError>;
    /// Records a use of the account's token at `at` (unix seconds).
    async fn touch_service_account(&self, id: &str, at: i64) -> Result<(), StoreError>;
}

/// The listing's `WHERE`, with `placeholder(n)` for the n-th parameter.
pub(crate) fn list_where(
    f: &ServiceAccountFilter,
    placeholder: impl Fn(usize) -> String,
) -> (String, Vec<&str>) {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    if !f.include_revoked {
        conditions.push("revoked_at IS NULL".to_owned());
    }
    if let Some(user) = &f.user_id {
        values.push(user.as_str());
        conditions.push(format!(
            "(user_id = {} OR user_id IS NULL)",
            placeholder(values.len())
        ));
    }
    if conditions.is_empty() {
        (String::new(), values)
    } else {
        (format!("WHERE {}", conditions.join(" AND ")), values)
    }
}
