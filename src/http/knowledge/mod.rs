//! `/knowledge`: content in (uploads, URLs, text: `upload.rs`), content listed, read, updated
//! and deleted (`content.rs`), search and the knowledge configuration (`search.rs`), in agno
//! 3.1.10's shapes.

mod content;
mod fields;
mod schema;
mod search;
mod upload;

use super::AppState;
use super::error::ApiError;
use crate::http::api::{Api, routes};
use crate::knowledge::Knowledge;
use axum::http::StatusCode;

pub(crate) fn router() -> Api {
    [
        routes!(
            upload::upload_content,
            content::list_content,
            content::delete_all_content
        ),
        routes!(upload::upload_remote_content),
        routes!(
            content::get_content,
            content::update_content,
            content::delete_content
        ),
        routes!(content::get_content_status),
        routes!(search::search_knowledge),
        routes!(search::get_config),
    ]
    .into_iter()
    .fold(Api::default(), Api::routes)
}

/// The OpenAPI tag of these routes.
const TAG: &str = "Knowledge";

/// The knowledge base a request names (agno's `get_knowledge_instance`): by `knowledge_id`,
/// else by `db_id` (there is one database), else the only one served.
fn find<'a>(
    rt: &'a AppState,
    knowledge_id: Option<&str>,
    db_id: Option<&str>,
) -> Result<&'a Knowledge, ApiError> {
    let ids = || {
        rt.knowledge
            .iter()
            .map(|k| k.id())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(id) = knowledge_id.filter(|id| !id.is_empty()) {
        return rt.knowledge(id).ok_or_else(|| {
            ApiError::not_found(format!(
                "Knowledge base '{id}' not found. Served knowledge bases: {}",
                ids()
            ))
        });
    }
    if let Some(db) = db_id.filter(|db| !db.is_empty() && *db != rt.db_id) {
        return Err(ApiError::not_found(format!(
            "Knowledge instance with db_id '{db}' not found"
        )));
    }
    match rt.knowledge.as_slice() {
        [] => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "No knowledge base is available on this AgentOS: give one to an agent \
             (Agent::knowledge) or to the OS (AgentOs::knowledge)",
        )),
        [only] => Ok(only),
        _ => Err(ApiError::bad_request(format!(
            "knowledge_id query parameter is required when using multiple knowledge bases. \
             Available IDs: {}",
            ids()
        ))),
    }
}

/// 404 for a content id the knowledge base does not have.
fn content_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Content not found: {id}"))
}
