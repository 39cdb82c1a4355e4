//! Content routes: the paged list, one item, its status, update and delete (uploads are in
//! `upload.rs`).

use super::fields::{Fields, kb, knowledge_params, object_field, reader_for};
use super::schema::{ContentList, ContentResponse, ContentStatusResponse, DeletedContent};
use super::{TAG, content_not_found};
use crate::http::error::{ApiError, ErrorBody, ValidationErrorBody};
use crate::http::form::RunForm;
use crate::http::page::PageMeta;
use crate::http::validation::{at, check, enum_error};
use crate::http::{AppState, Path};
use crate::store::{ContentPage, ContentSort, ContentUpdate};
use axum::Json;
use axum::extract::{RawQuery, Request, State};
use serde_json::Value;
use std::time::Instant;
use utoipa::ToSchema;

/// The form of `PATCH /knowledge/content/{content_id}`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form
pub(crate) struct UpdateForm {
    name: Option<String>,
    description: Option<String>,
    /// A JSON object; replaces the metadata.
    metadata: Option<String>,
    /// Must name a reader; accepted and otherwise unused (agno's too).
    reader_id: Option<String>,
}

/// List content, newest first, paged
#[utoipa::path(
    get, path = "/knowledge/content", tag = TAG,
    params(
        ("limit" = Option<u64>, Query, minimum = 1, description = "Items per page (default 20)"),
        ("page" = Option<u64>, Query, minimum = 0, description = "Page, from 1 (default 1)"),
        ("sort_by" = Option<String>, Query, description = "`created_at` (default), `updated_at` or `name`"),
        ("sort_order" = Option<String>, Query, description = "`desc` (default) or `asc`"),
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "One page of content items", body = ContentList),
        (status = 404, description = "No such knowledge base", body = ErrorBody),
        (status = 422, description = "A parameter out of range", body = ValidationErrorBody),
    )
)]
pub(super) async fn list_content(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ContentList>, ApiError> {
    let started = Instant::now();
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    let mut errors = Vec::new();
    let limit = q.int("limit", Some(20), 1, Some(1000), &mut errors);
    let page = q.int("page", Some(1), 0, None, &mut errors);
    let sort = match q.get("sort_by") {
        None | Some("created_at") => Some(ContentSort::CreatedAt),
        Some("updated_at") => Some(ContentSort::UpdatedAt),
        Some("name") => Some(ContentSort::Name),
        Some(s) => {
            let names = ["created_at", "updated_at", "name"];
            errors.push(enum_error(at("query", "sort_by"), s, &names));
            None
        }
    };
    let ascending = match q.get("sort_order") {
        None | Some("desc") => Some(false),
        Some("asc") => Some(true),
        Some(s) => {
            errors.push(enum_error(at("query", "sort_order"), s, &["asc", "desc"]));
            None
        }
    };
    check(errors)?;
    let (Some(limit), Some(page), Some(sort), Some(ascending)) = (limit, page, sort, ascending)
    else {
        return Err(ApiError::bad_request("invalid query"));
    };
    let (limit, page) = (limit as u64, (page as u64).max(1));
    let request = ContentPage {
        limit: limit as u32,
        offset: ((page - 1) * limit).min(u32::MAX as u64) as u32,
        sort,
        ascending,
    };
    let (rows, total) = rt.store.list_contents(kb.id(), &request).await?;
    Ok(Json(ContentList {
        data: rows.iter().map(ContentResponse::of).collect(),
        meta: PageMeta {
            page,
            limit,
            total_pages: total.div_ceil(limit),
            total_count: total,
            search_time_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        },
    }))
}

/// One content item
#[utoipa::path(
    get, path = "/knowledge/content/{content_id}", tag = TAG,
    params(
        ("content_id" = String, Path, description = "The content item's id"),
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "The content item", body = ContentResponse),
        (status = 404, description = "No such content item", body = ErrorBody),
    )
)]
pub(super) async fn get_content(
    State(rt): State<AppState>,
    Path(content_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ContentResponse>, ApiError> {
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    let record = rt.store.get_content(kb.id(), &content_id).await?;
    let record = record.ok_or_else(|| content_not_found(&content_id))?;
    Ok(Json(ContentResponse::of(&record)))
}

/// A content item's processing status
#[utoipa::path(
    get, path = "/knowledge/content/{content_id}/status", tag = TAG,
    params(
        ("content_id" = String, Path, description = "The content item's id"),
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "`processing`, `completed` or `failed`, with the reason", body = ContentStatusResponse),
        (status = 404, description = "No such content item", body = ErrorBody),
    )
)]
pub(super) async fn get_content_status(
    State(rt): State<AppState>,
    Path(content_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ContentStatusResponse>, ApiError> {
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    let record = rt.store.get_content(kb.id(), &content_id).await?;
    let record = record.ok_or_else(|| content_not_found(&content_id))?;
    Ok(Json(ContentStatusResponse {
        id: record.id,
        status: record.status,
        status_message: record.status_message,
    }))
}

/// Update a content item's name, description or metadata
#[utoipa::path(
    patch, path = "/knowledge/content/{content_id}", tag = TAG,
    params(
        ("content_id" = String, Path, description = "The content item's id"),
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    request_body(content(
        (UpdateForm = "multipart/form-data"),
        (UpdateForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The updated content item", body = ContentResponse),
        (status = 400, description = "Metadata that is not a JSON object, or an unknown reader", body = ErrorBody),
        (status = 404, description = "No such content item", body = ErrorBody),
    )
)]
pub(super) async fn update_content(
    State(rt): State<AppState>,
    Path(content_id): Path<String>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Result<Json<ContentResponse>, ApiError> {
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    let RunForm(fields, _) = RunForm::read(request, &rt, "-F name='New name'").await?;
    let f = Fields(fields);
    let metadata = f
        .get("metadata")
        .map(|m| object_field("metadata", m))
        .transpose()?;
    reader_for(f.get("reader_id"), None)?;
    let update = ContentUpdate {
        name: f.get("name").map(str::to_owned),
        description: f.get("description").map(str::to_owned),
        metadata: metadata.map(|m| Value::Object(m).to_string()),
    };
    let record = rt
        .store
        .update_content(kb.id(), &content_id, &update)
        .await?;
    let record = record.ok_or_else(|| content_not_found(&content_id))?;
    Ok(Json(ContentResponse::of(&record)))
}

/// Delete a content item and its chunks
#[utoipa::path(
    delete, path = "/knowledge/content/{content_id}", tag = TAG,
    params(
        ("content_id" = String, Path, description = "The content item's id"),
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "Deleted", body = DeletedContent),
        (status = 404, description = "No such content item", body = ErrorBody),
    )
)]
pub(super) async fn delete_content(
    State(rt): State<AppState>,
    Path(content_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<DeletedContent>, ApiError> {
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    if !rt.store.delete_content(kb.id(), &content_id).await? {
        return Err(content_not_found(&content_id));
    }
    Ok(Json(DeletedContent { id: content_id }))
}

/// Delete every content item of the knowledge base
#[utoipa::path(
    delete, path = "/knowledge/content", tag = TAG,
    params(
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "`\"success\"`", body = String),
        (status = 404, description = "No such knowledge base", body = ErrorBody),
    )
)]
pub(super) async fn delete_all_content(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<&'static str>, ApiError> {
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    rt.store.delete_all_contents(kb.id()).await?;
    Ok(Json("success"))
}
