//! agno's memory routes: `POST/GET/DELETE /memories`, `GET/PATCH/DELETE /memories/{id}`,
//! `GET /memory_topics`, `GET /user_memory_stats` and `POST /optimize-memories`, with agno's
//! shapes. A memory belongs to one user: a request that names a user reads and changes only
//! that user's memories, and another user's memory is answered 404, as a missing one.

mod schema;

use super::auth::Access;
use super::error::{ApiError, ErrorBody, ValidationErrorBody};
use super::page::PageMeta;
use super::validation::{Params, at, check, enum_error, json_object, string_field};
use super::{AppState, Path};
use crate::http::api::{Api, routes};
use crate::model::{Model, OpenAIChat};
use crate::store::{MemoryFilter, MemoryRecord, MemorySort, MemoryUpdate, topics_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use schema::{
    DeleteMemoriesRequest, MemoryList, OptimizeMemoriesRequest, OptimizeMemoriesResponse,
    UserMemoryCreateSchema, UserMemorySchema, UserStatsList, UserStatsSchema, memory_body,
    string_list, tokens,
};
use std::sync::Arc;
use std::time::Instant;

pub(crate) fn router() -> Api {
    [
        routes!(create_memory, list_memories, delete_memories),
        routes!(get_memory, update_memory, delete_memory),
        routes!(memory_topics),
        routes!(user_memory_stats),
        routes!(optimize_memories),
    ]
    .into_iter()
    .fold(Api::default(), Api::routes)
}

/// The OpenAPI tag of these routes.
const TAG: &str = "Memory";

/// The largest page the lists serve.
const MAX_LIMIT: i64 = 1000;

/// The user a request acts for: the caller's scoped user when there is one (JWT with user
/// isolation, a service account), whatever the request names; else the one it names.
fn acting_user(access: &Access, requested: Option<String>) -> Result<Option<String>, ApiError> {
    Ok(match access.scoped_user_id()? {
        Some(user) => Some(user.to_owned()),
        None => requested,
    })
}

fn memory_not_found(memory_id: &str) -> ApiError {
    ApiError::not_found(format!("Memory with ID {memory_id} not found"))
}

fn user_required() -> ApiError {
    ApiError::bad_request("User ID is required")
}

/// `limit` (default 20) and `page` (default 1) as agno reads them, and the offset they give.
fn page(q: &Params, errors: &mut Vec<super::error::ValidationError>) -> (u64, u64, u32) {
    let limit = q
        .int("limit", Some(20), 1, Some(MAX_LIMIT), errors)
        .unwrap_or(20) as u64;
    // agno accepts page 0, and reads it as the first page.
    let page = q.int("page", Some(1), 0, None, errors).unwrap_or(1).max(1) as u64;
    let offset = (page - 1).saturating_mul(limit).min(u32::MAX as u64) as u32;
    (limit, page, offset)
}

/// Create a memory
///
/// agno's `UserMemoryCreateSchema`: `memory` (1 to 5000 characters), `user_id`, `topics`.
#[utoipa::path(
    post, path = "/memories", tag = TAG,
    params(("db_id" = Option<String>, Query, description = "Accepted for agno's clients; there is one database")),
    request_body = UserMemoryCreateSchema,
    responses(
        (status = 200, description = "The memory created", body = UserMemorySchema),
        (status = 400, description = "No `user_id`", body = ErrorBody),
        (status = 422, description = "A missing, empty or too long `memory`, or a field of the wrong type", body = ValidationErrorBody),
    )
)]
async fn create_memory(
    State(rt): State<AppState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UserMemorySchema>, ApiError> {
    let body = json_object(body)?;
    let mut errors = Vec::new();
    let parsed = memory_body(&body, &mut errors);
    check(errors)?;
    let Some(parsed) = parsed else {
        return Err(ApiError::missing("body", "memory"));
    };
    let user_id = acting_user(&access, parsed.user_id)?.ok_or_else(user_required)?;
    let memory = MemoryRecord::new(user_id, parsed.memory, &parsed.topics);
    rt.store.insert_memory(&memory).await?;
    Ok(Json(UserMemorySchema::from(&memory)))
}

/// List memories, paged
///
/// Filtered by user, agent, team, topics (comma-separated, all must be there) and content
/// (case-insensitive); newest update first by default.
#[utoipa::path(
    get, path = "/memories", tag = TAG,
    params(
        ("user_id" = Option<String>, Query, description = "Only this user's memories"),
        ("agent_id" = Option<String>, Query, description = "Only those this agent learned"),
        ("team_id" = Option<String>, Query, description = "Only those this team learned"),
        ("topics" = Option<String>, Query, description = "Comma-separated topics, all of which a memory must have"),
        ("search_content" = Option<String>, Query, description = "Text the memory contains (case-insensitive)"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 1000, description = "Memories per page (default 20)"),
        ("page" = Option<u64>, Query, description = "Page, from 1 (default 1)"),
        ("sort_by" = Option<String>, Query, description = "`updated_at` (default), `created_at`, `memory`, `user_id`, `memory_id`, `agent_id` or `team_id`"),
        ("sort_order" = Option<String>, Query, description = "`desc` (default) or `asc`"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients; there is one database"),
    ),
    responses(
        (status = 200, description = "One page of memories", body = MemoryList),
        (status = 422, description = "A parameter out of range or not one of its values", body = ValidationErrorBody),
    )
)]
async fn list_memories(
    State(rt): State<AppState>,
    access: Access,
    RawQuery(raw): RawQuery,
) -> Result<Json<MemoryList>, ApiError> {
    let started = Instant::now();
    let q = Params::parse(raw)?;
    let mut errors = Vec::new();
    let (limit, page, offset) = page(&q, &mut errors);
    let sort_by = match q.get("sort_by") {
        None => MemorySort::UpdatedAt,
        Some(s) => MemorySort::parse(s).unwrap_or_else(|| {
            errors.push(enum_error(at("query", "sort_by"), s, &MemorySort::NAMES));
            MemorySort::UpdatedAt
        }),
    };
    let ascending = q
        .one_of("sort_order", &["asc", "desc"], &mut errors)
        .is_some_and(|o| o == "asc");
    check(errors)?;
    // agno reads the first `topics` value, comma-separated.
    let topics = q
        .all("topics")
        .first()
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let text = |name: &str| q.get(name).map(str::to_owned);
    let filter = MemoryFilter {
        user_id: acting_user(&access, text("user_id"))?,
        agent_id: text("agent_id"),
        team_id: text("team_id"),
        topics,
        search_content: text("search_content"),
        sort_by,
        ascending,
        limit: limit as u32,
        offset,
    };
    let (memories, total) = rt.store.list_memories(&filter).await?;
    Ok(Json(MemoryList {
        data: memories.iter().map(UserMemorySchema::from).collect(),
        meta: PageMeta {
            page,
            limit,
            total_pages: total.div_ceil(limit),
            total_count: total,
            search_time_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        },
    }))
}

/// Get a memory
#[utoipa::path(
    get, path = "/memories/{memory_id}", tag = TAG,
    params(
        ("memory_id" = String, Path, description = "The memory's id"),
        ("user_id" = Option<String>, Query, description = "Only if it is this user's"),
    ),
    responses(
        (status = 200, description = "The memory", body = UserMemorySchema),
        (status = 404, description = "No such memory (of this user)", body = ErrorBody),
    )
)]
async fn get_memory(
    State(rt): State<AppState>,
    access: Access,
    Path(memory_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<UserMemorySchema>, ApiError> {
    let q = Params::parse(raw)?;
    let user = acting_user(&access, q.get("user_id").map(str::to_owned))?;
    let memory = rt
        .store
        .get_memory(&memory_id, user.as_deref())
        .await?
        .ok_or_else(|| memory_not_found(&memory_id))?;
    Ok(Json(UserMemorySchema::from(&memory)))
}

/// Update a memory
///
/// Replaces its text and topics. The memory must exist and be the named user's: agno would
/// create it (or overwrite another user's), this answers 404.
#[utoipa::path(
    patch, path = "/memories/{memory_id}", tag = TAG,
    params(("memory_id" = String, Path, description = "The memory's id")),
    request_body = UserMemoryCreateSchema,
    responses(
        (status = 200, description = "The updated memory", body = UserMemorySchema),
        (status = 400, description = "No `user_id`", body = ErrorBody),
        (status = 404, description = "No such memory of this user", body = ErrorBody),
        (status = 422, description = "A missing, empty or too long `memory`, or a field of the wrong type", body = ValidationErrorBody),
    )
)]
async fn update_memory(
    State(rt): State<AppState>,
    access: Access,
    Path(memory_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UserMemorySchema>, ApiError> {
    let body = json_object(body)?;
    let mut errors = Vec::new();
    let parsed = memory_body(&body, &mut errors);
    check(errors)?;
    let Some(parsed) = parsed else {
        return Err(ApiError::missing("body", "memory"));
    };
    let user_id = acting_user(&access, parsed.user_id)?.ok_or_else(user_required)?;
    let update = MemoryUpdate {
        memory: parsed.memory,
        topics: Some(topics_json(&parsed.topics)),
        input: None,
    };
    let memory = rt
        .store
        .update_memory(&memory_id, Some(&user_id), &update)
        .await?
        .ok_or_else(|| memory_not_found(&memory_id))?;
    Ok(Json(UserMemorySchema::from(&memory)))
}

/// Delete a memory (204)
#[utoipa::path(
    delete, path = "/memories/{memory_id}", tag = TAG,
    params(
        ("memory_id" = String, Path, description = "The memory's id"),
        ("user_id" = Option<String>, Query, description = "Only if it is this user's"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such memory (of this user)", body = ErrorBody),
    )
)]
async fn delete_memory(
    State(rt): State<AppState>,
    access: Access,
    Path(memory_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<StatusCode, ApiError> {
    let q = Params::parse(raw)?;
    let user = acting_user(&access, q.get("user_id").map(str::to_owned))?;
    let ids = [memory_id.clone()];
    match rt.store.delete_memories(&ids, user.as_deref()).await? {
        0 => Err(memory_not_found(&memory_id)),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// Delete memories (204)
///
/// `{"memory_ids": [...], "user_id"?}`; ids that name no memory (of the user) are skipped.
#[utoipa::path(
    delete, path = "/memories", tag = TAG,
    request_body = DeleteMemoriesRequest,
    responses(
        (status = 204, description = "Deleted"),
        (status = 422, description = "No `memory_ids`, an empty list, or a field of the wrong type", body = ValidationErrorBody),
    )
)]
async fn delete_memories(
    State(rt): State<AppState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let body = json_object(body)?;
    let mut errors = Vec::new();
    let ids = string_list(&body, "memory_ids", true, &mut errors);
    if let Some(list) = ids.as_ref().filter(|l| l.is_empty()) {
        errors.push(schema_too_short("memory_ids", list.len()));
    }
    let user_id = string_field(&body, "user_id", false, &mut errors);
    check(errors)?;
    let ids = ids.unwrap_or_default();
    rt.store
        .delete_memories(&ids, acting_user(&access, user_id)?.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// pydantic's `too_short` for a list under one item.
fn schema_too_short(name: &str, actual: usize) -> super::error::ValidationError {
    super::validation::invalid(
        "too_short",
        at("body", name),
        "List should have at least 1 item after validation, not 0",
        serde_json::Value::Array(Vec::new()),
    )
    .with_ctx(super::error::ErrorContext {
        field_type: Some("List"),
        min_length: Some(1),
        actual_length: Some(actual),
        ..Default::default()
    })
}

/// Every memory topic, each once
#[utoipa::path(
    get, path = "/memory_topics", tag = TAG,
    params(("user_id" = Option<String>, Query, description = "Only this user's topics")),
    responses((status = 200, description = "The topics, sorted", body = Vec<String>))
)]
async fn memory_topics(
    State(rt): State<AppState>,
    access: Access,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<String>>, ApiError> {
    let q = Params::parse(raw)?;
    let user = acting_user(&access, q.get("user_id").map(str::to_owned))?;
    Ok(Json(rt.store.memory_topics(user.as_deref()).await?))
}

/// Memory counts per user, paged
///
/// The most recently updated first.
#[utoipa::path(
    get, path = "/user_memory_stats", tag = TAG,
    params(
        ("user_id" = Option<String>, Query, description = "Only this user"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 1000, description = "Users per page (default 20)"),
        ("page" = Option<u64>, Query, description = "Page, from 1 (default 1)"),
    ),
    responses(
        (status = 200, description = "One page of users", body = UserStatsList),
        (status = 422, description = "A parameter out of range", body = ValidationErrorBody),
    )
)]
async fn user_memory_stats(
    State(rt): State<AppState>,
    access: Access,
    RawQuery(raw): RawQuery,
) -> Result<Json<UserStatsList>, ApiError> {
    let started = Instant::now();
    let q = Params::parse(raw)?;
    let mut errors = Vec::new();
    let (limit, page, offset) = page(&q, &mut errors);
    check(errors)?;
    let user = acting_user(&access, q.get("user_id").map(str::to_owned))?;
    let (stats, total) = rt
        .store
        .user_memory_stats(user.as_deref(), limit as u32, offset)
        .await?;
    Ok(Json(UserStatsList {
        data: stats.iter().map(UserStatsSchema::from).collect(),
        meta: PageMeta {
            page,
            limit,
            total_pages: total.div_ceil(limit),
            total_count: total,
            search_time_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        },
    }))
}

/// The model that optimizes: the request's (`openai:<id>`), else the memory manager's of the
/// first agent that keeps memories, else the first agent's, else agno's default (OpenAI
/// `gpt-4o`).
fn optimization_model(rt: &AppState, asked: Option<&str>) -> Result<Arc<dyn Model>, ApiError> {
    if let Some(asked) = asked {
        let (provider, id) = asked.split_once(':').ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid model string format: '{asked}'. Expected 'provider:model_id'"
            ))
        })?;
        return match provider.to_ascii_lowercase().as_str() {
            "openai" if !id.is_empty() => Ok(Arc::new(OpenAIChat::new(id))),
            _ => Err(ApiError::bad_request(format!(
                "Model provider '{provider}' is not served: use 'openai:<model_id>'"
            ))),
        };
    }
    let keeps_memories = rt.agents.iter().find(|a| {
        a.extras()
            .is_some_and(|e| e.memory.manager.is_some() || e.memories_in_context())
    });
    Ok(keeps_memories
        .or(rt.agents.first())
        .and_then(|a| a.memory_model())
        .unwrap_or_else(|| Arc::new(OpenAIChat::new("gpt-4o"))))
}

/// Optimize a user's memories
///
/// agno's summarize strategy: every memory of the user in one, written by a model. With
/// `apply: false`, a preview: nothing is saved.
#[utoipa::path(
    post, path = "/optimize-memories", tag = TAG,
    request_body = OptimizeMemoriesRequest,
    responses(
        (status = 200, description = "The memories after optimization", body = OptimizeMemoriesResponse),
        (status = 400, description = "A `model` that is not `openai:<id>`", body = ErrorBody),
        (status = 404, description = "The user has no memories", body = ErrorBody),
        (status = 422, description = "No `user_id`, or a field of the wrong type", body = ValidationErrorBody),
        (status = 502, description = "The model failed", body = ErrorBody),
    )
)]
async fn optimize_memories(
    State(rt): State<AppState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<OptimizeMemoriesResponse>, ApiError> {
    let body = json_object(body)?;
    let mut errors = Vec::new();
    let user_id = string_field(&body, "user_id", true, &mut errors);
    let model = string_field(&body, "model", false, &mut errors);
    let apply = match body.get("apply") {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(other) => {
            errors.push(super::validation::invalid(
                "bool_type",
                at("body", "apply"),
                "Input should be a valid boolean",
                other.clone(),
            ));
            true
        }
    };
    check(errors)?;
    let user_id = acting_user(&access, user_id)?.ok_or_else(user_required)?;
    let model = optimization_model(&rt, model.as_deref())?;
    let before = rt.store.user_memories(&user_id).await?;
    if before.is_empty() {
        return Err(ApiError::not_found(format!(
            "No memories found for user {user_id}"
        )));
    }
    let texts: Vec<String> = before.iter().map(|m| m.memory.clone()).collect();
    let summary = crate::memory::optimize(model.as_ref(), &texts)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("Failed to optimize memories: {e}"),
            )
        })?;
    let mut topics: Vec<String> = before.iter().flat_map(|m| m.topic_list()).collect();
    topics.sort();
    topics.dedup();
    let mut optimized = MemoryRecord::new(user_id.clone(), summary, &topics);
    let single = |ids: Vec<&Option<String>>| match ids.split_first() {
        Some((first, rest)) if first.is_some() && rest.iter().all(|id| id == first) => {
            (*first).clone()
        }
        _ => None,
    };
    optimized.agent_id = single(before.iter().map(|m| &m.agent_id).collect());
    optimized.team_id = single(before.iter().map(|m| &m.team_id).collect());
    if apply {
        rt.store
            .replace_user_memories(&user_id, std::slice::from_ref(&optimized))
            .await?;
    }
    let tokens_before = tokens(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    let tokens_after = tokens(&[optimized.memory.as_str()]);
    let saved = tokens_before.saturating_sub(tokens_after);
    Ok(Json(OptimizeMemoriesResponse {
        memories: vec![UserMemorySchema::from(&optimized)],
        memories_before: before.len(),
        memories_after: 1,
        tokens_before,
        tokens_after,
        tokens_saved: saved,
        reduction_percentage: match tokens_before {
            0 => 0.0,
            n => saved as f64 / n as f64 * 100.0,
        },
    }))
}
