//! agno's paging metadata, shared by the paged lists.

use serde::Serialize;
use utoipa::ToSchema;

/// agno's `PaginationInfo`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PageMeta {
    /// This page, from 1.
    pub page: u64,
    /// Entries per page.
    pub limit: u64,
    pub total_pages: u64,
    pub total_count: u64,
    /// How long the query took (the session list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_time_ms: Option<f64>,
}
