//! The memory routes' wire types (agno's `agno/os/routers/memory/schemas.py`) and the checks
//! of their JSON bodies, with pydantic's 422 shapes.

use crate::http::error::{ErrorContext, ValidationError};
use crate::http::iso;
use crate::http::page::PageMeta;
use crate::http::validation::{at, invalid, string_field};
use crate::store::{MemoryRecord, UserMemoryStats};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The longest memory text agno accepts.
const MAX_MEMORY_CHARS: usize = 5000;

/// agno's `UserMemorySchema`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserMemorySchema {
    pub memory_id: String,
    pub memory: String,
    /// The memory's topics.
    pub topics: Vec<String>,
    /// The agent that learned it.
    pub agent_id: Option<String>,
    /// The team that learned it.
    pub team_id: Option<String>,
    pub user_id: String,
    /// When it last changed (ISO-8601 UTC).
    pub updated_at: String,
}

impl From<&MemoryRecord> for UserMemorySchema {
    fn from(m: &MemoryRecord) -> UserMemorySchema {
        UserMemorySchema {
            memory_id: m.memory_id.clone(),
            memory: m.memory.clone(),
            topics: m.topic_list(),
            agent_id: m.agent_id.clone(),
            team_id: m.team_id.clone(),
            user_id: m.user_id.clone(),
            updated_at: iso(m.updated_at),
        }
    }
}

/// agno's `PaginatedResponse[UserMemorySchema]`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MemoryList {
    pub data: Vec<UserMemorySchema>,
    pub meta: PageMeta,
}

/// agno's `UserStatsSchema`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserStatsSchema {
    pub user_id: String,
    pub total_memories: i64,
    /// When the user's last memory changed (ISO-8601 UTC).
    pub last_memory_updated_at: Option<String>,
}

impl From<&UserMemoryStats> for UserStatsSchema {
    fn from(s: &UserMemoryStats) -> UserStatsSchema {
        UserStatsSchema {
            user_id: s.user_id.clone(),
            total_memories: s.total_memories,
            last_memory_updated_at: Some(iso(s.last_memory_updated_at)),
        }
    }
}

/// agno's `PaginatedResponse[UserStatsSchema]`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserStatsList {
    pub data: Vec<UserStatsSchema>,
    pub meta: PageMeta,
}

/// agno's `OptimizeMemoriesResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OptimizeMemoriesResponse {
    /// The memories after the optimization (one, the summary).
    pub memories: Vec<UserMemorySchema>,
    pub memories_before: usize,
    pub memories_after: usize,
    /// Estimated as agno does without a tokenizer: four characters a token.
    pub tokens_before: usize,
    pub tokens_after: usize,
    pub tokens_saved: usize,
    pub reduction_percentage: f64,
}

/// agno's `UserMemoryCreateSchema` (`POST /memories`, `PATCH /memories/{id}`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct UserMemoryCreateSchema {
    /// 1 to 5000 characters.
    #[schema(min_length = 1, max_length = 5000)]
    memory: String,
    /// Required in effect: without it the answer is 400 `User ID is required`.
    user_id: Option<String>,
    topics: Option<Vec<String>>,
}

/// agno's `DeleteMemoriesRequest` (`DELETE /memories`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct DeleteMemoriesRequest {
    #[schema(min_items = 1)]
    memory_ids: Vec<String>,
    /// Only this user's memories are deleted.
    user_id: Option<String>,
}

/// agno's `OptimizeMemoriesRequest` (`POST /optimize-memories`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct OptimizeMemoriesRequest {
    user_id: String,
    /// `provider:model_id` (only `openai:` is served); default: the memory manager's model.
    model: Option<String>,
    /// false: a preview, nothing saved (default true).
    apply: Option<bool>,
}

/// A checked memory body: its text, user and topics.
pub(crate) struct MemoryBody {
    pub memory: String,
    pub user_id: Option<String>,
    pub topics: Vec<String>,
}

/// Checks a `UserMemoryCreateSchema` body, collecting pydantic's errors.
pub(crate) fn memory_body(
    body: &Map<String, Value>,
    errors: &mut Vec<ValidationError>,
) -> Option<MemoryBody> {
    let memory = string_field(body, "memory", true, errors);
    if let Some(text) = &memory {
        let chars = text.chars().count();
        if chars < 1 {
            errors.push(
                invalid(
                    "string_too_short",
                    at("body", "memory"),
                    "String should have at least 1 character",
                    Value::from(text.as_str()),
                )
                .with_ctx(ErrorContext {
                    min_length: Some(1),
                    ..ErrorContext::default()
                }),
            );
        } else if chars > MAX_MEMORY_CHARS {
            errors.push(
                invalid(
                    "string_too_long",
                    at("body", "memory"),
                    &format!("String should have at most {MAX_MEMORY_CHARS} characters"),
                    Value::from(text.as_str()),
                )
                .with_ctx(ErrorContext {
                    max_length: Some(MAX_MEMORY_CHARS),
                    ..ErrorContext::default()
                }),
            );
        }
    }
    let user_id = string_field(body, "user_id", false, errors);
    let topics = string_list(body, "topics", false, errors).unwrap_or_default();
    Some(MemoryBody {
        memory: memory?,
        user_id,
        topics,
    })
}

/// A list of strings: `None` when absent or null (and not `required`).
pub(crate) fn string_list(
    body: &Map<String, Value>,
    name: &str,
    required: bool,
    errors: &mut Vec<ValidationError>,
) -> Option<Vec<String>> {
    match body.get(name) {
        None | Some(Value::Null) if !required => None,
        None => {
            errors.push(invalid(
                "missing",
                at("body", name),
                "Field required",
                Value::Null,
            ));
            None
        }
        Some(Value::Array(items)) => {
            let mut list = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => list.push(s.clone()),
                    other => {
                        let mut loc = at("body", name);
                        loc.push(i.into());
                        errors.push(invalid(
                            "string_type",
                            loc,
                            "Input should be a valid string",
                            other.clone(),
                        ));
                    }
                }
            }
            Some(list)
        }
        Some(other) => {
            errors.push(invalid(
                "list_type",
                at("body", name),
                "Input should be a valid list",
                other.clone(),
            ));
            None
        }
    }
}

/// agno's token estimate without a tokenizer: four characters a token.
pub(crate) fn tokens(memories: &[&str]) -> usize {
    memories.iter().map(|m| m.chars().count() / 4).sum()
}
