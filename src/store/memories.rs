//! The memories domain: facts about a user (agno's user memories), each with topics and
//! timestamps, written by the memory manager's background jobs and the `/memories` routes and
//! read into an agent's context. A memory belongs to one user: every read and write that names
//! a user touches that user's memories only.

use super::StoreError;
use async_trait::async_trait;

record! {
    /// A memory row.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MemoryRecord {
        /// The id.
        pub memory_id: String,
        /// Whose memory it is (`default` for runs that named no user, as agno).
        pub user_id: String,
        /// The fact, one short sentence.
        pub memory: String,
        /// Its topics (JSON array text).
        pub topics: String,
        /// The message it was learned from, if any.
        pub input: Option<String>,
        /// The agent that learned it, if any.
        pub agent_id: Option<String>,
        /// The team that learned it, if any.
        pub team_id: Option<String>,
        /// Unix milliseconds.
        pub created_at: i64,
        /// Unix milliseconds.
        pub updated_at: i64,
    }
}

impl MemoryRecord {
    /// A new memory of `user_id`, created now with a fresh id.
    pub fn new(user_id: impl Into<String>, memory: impl Into<String>, topics: &[String]) -> Self {
        let now = crate::run::unix_millis();
        MemoryRecord {
            memory_id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.into(),
            memory: memory.into(),
            topics: topics_json(topics),
            input: None,
            agent_id: None,
            team_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The topics as a list (empty if the stored text is not a list of strings).
    pub fn topic_list(&self) -> Vec<String> {
        serde_json::from_str(&self.topics).unwrap_or_default()
    }
}

/// `topics` as the JSON array text the `topics` column holds.
pub fn topics_json(topics: &[String]) -> String {
    serde_json::to_string(topics).unwrap_or_else(|_| "[]".to_owned())
}

/// What a memory update changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryUpdate {
    /// The new text.
    pub memory: String,
    /// The new topics (JSON array text); `None` keeps them.
    pub topics: Option<String>,
    /// The new source message; `None` keeps it.
    pub input: Option<String>,
}

/// The order of a memory listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MemorySort {
    /// By last update (agno's default).
    #[default]
    UpdatedAt,
    /// By creation.
    CreatedAt,
    /// By text.
    Memory,
    /// By user.
    UserId,
    /// By id.
    MemoryId,
    /// By agent.
    AgentId,
    /// By team.
    TeamId,
}

impl MemorySort {
    /// Every accepted `sort_by` value.
    pub const NAMES: [&'static str; 7] = [
        "updated_at",
        "created_at",
        "memory",
        "user_id",
        "memory_id",
        "agent_id",
        "team_id",
    ];

    /// Parses a `sort_by` value.
    pub fn parse(s: &str) -> Option<MemorySort> {
        match s {
            "updated_at" => Some(MemorySort::UpdatedAt),
            "created_at" => Some(MemorySort::CreatedAt),
            "memory" => Some(MemorySort::Memory),
            "user_id" => Some(MemorySort::UserId),
            "memory_id" => Some(MemorySort::MemoryId),
            "agent_id" => Some(MemorySort::AgentId),
            "team_id" => Some(MemorySort::TeamId),
            _ => None,
        }
    }

    /// Whether the column holds text (sorted by its bytes on both backends).
    pub fn is_text(self) -> bool {
        !matches!(self, MemorySort::UpdatedAt | MemorySort::CreatedAt)
    }

    /// The column to order by.
    pub fn column(self) -> &'static str {
        match self {
            MemorySort::UpdatedAt => "updated_at",
            MemorySort::CreatedAt => "created_at",
            MemorySort::Memory => "memory",
            MemorySort::UserId => "user_id",
            MemorySort::MemoryId => "memory_id",
            MemorySort::AgentId => "agent_id",
            MemorySort::TeamId => "team_id",
        }
    }
}

/// Which memories to list, in what order, and which page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryFilter {
    /// Only this user's.
    pub user_id: Option<String>,
    /// Only those this agent learned.
    pub agent_id: Option<String>,
    /// Only those this team learned.
    pub team_id: Option<String>,
    /// Only those with every one of these topics.
    pub topics: Vec<String>,
    /// Only those whose text contains this (case-insensitive).
    pub search_content: Option<String>,
    /// The sort column.
    pub sort_by: MemorySort,
    /// Ascending instead of descending (the default).
    pub ascending: bool,
    /// Page size; 0 for every match.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

impl MemoryFilter {
    /// Every memory of `user_id`, oldest first (what an agent's context shows).
    pub fn of_user(user_id: &str) -> MemoryFilter {
        MemoryFilter {
            user_id: Some(user_id.to_owned()),
            sort_by: MemorySort::CreatedAt,
            ascending: true,
            ..MemoryFilter::default()
        }
    }

    /// The `WHERE` clause of the filters given (empty with none) and the values it binds, in
    /// order. `placeholder(n)` writes the n-th parameter (1-based) in the backend's syntax,
    /// `contains(column, p)` the test that the text of `column` contains parameter `p`, and
    /// `contains_ci` the same ignoring case. A topic matches as its JSON string (`"name"`)
    /// inside the stored array, as agno's filter does.
    pub(crate) fn where_clause(
        &self,
        placeholder: impl Fn(usize) -> String,
        contains: impl Fn(&str, &str) -> String,
        contains_ci: impl Fn(&str, &str) -> String,
    ) -> (String, Vec<String>) {
        let mut conditions = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let equal = [
            ("user_id", &self.user_id),
            ("agent_id", &self.agent_id),
            ("team_id", &self.team_id),
        ];
        for (column, value) in equal {
            if let Some(value) = value {
                values.push(value.clone());
                conditions.push(format!("{column} = {}", placeholder(values.len())));
            }
        }
        for topic in &self.topics {
            values.push(serde_json::Value::from(topic.as_str()).to_string());
            conditions.push(contains("topics", &placeholder(values.len())));
        }
        if let Some(text) = &self.search_content {
            values.push(text.clone());
            conditions.push(contains_ci("memory", &placeholder(values.len())));
        }
        if conditions.is_empty() {
            (String::new(), values)
        } else {
            (format!("WHERE {}", conditions.join(" AND ")), values)
        }
    }
}

/// One user's memory count (`GET /user_memory_stats`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserMemoryStats {
    /// The user.
    pub user_id: String,
    /// How many memories they have.
    pub total_memories: i64,
    /// When the last one changed (unix milliseconds).
    pub last_memory_updated_at: i64,
}

/// User memories: written one by one (the memory manager's tools, the routes), listed with
/// filters and pages, counted per user; a user's whole set replaced at once (optimization).
#[async_trait]
pub trait MemoryStore: Send + Sync {
    /// Records a new memory.
    async fn insert_memory(&self, memory: &MemoryRecord) -> Result<(), StoreError>;
    /// Changes a memory and stamps `updated_at`; `None` if there is no memory with this id (of
    /// `user_id`, when given).
    async fn update_memory(
        &self,
        memory_id: &str,
        user_id: Option<&str>,
        update: &MemoryUpdate,
    ) -> Result<Option<MemoryRecord>, StoreError>;
    /// A memory by id (of `user_id`, when given).
    async fn get_memory(
        &self,
        memory_id: &str,
        user_id: Option<&str>,
    ) -> Result<Option<MemoryRecord>, StoreError>;
    /// One page of the memories matching `filter`, and how many match in all.
    async fn list_memories(
        &self,
        filter: &MemoryFilter,
    ) -> Result<(Vec<MemoryRecord>, u64), StoreError>;
    /// Deletes these memories (of `user_id`, when given); returns how many were deleted.
    async fn delete_memories(
        &self,
        memory_ids: &[String],
        user_id: Option<&str>,
    ) -> Result<u64, StoreError>;
    /// In one transaction: deletes every memory of `user_id` and records `memories` instead
    /// (all of them that user's). Returns how many were deleted.
    async fn replace_user_memories(
        &self,
        user_id: &str,
        memories: &[MemoryRecord],
    ) -> Result<u64, StoreError>;
    /// Every topic used (by `user_id`'s memories, when given), each once, sorted.
    async fn memory_topics(&self, user_id: Option<&str>) -> Result<Vec<String>, StoreError>;
    /// Memory counts per user (only `user_id`, when given), the most recently updated first,
    /// one page, and how many users in all.
    async fn user_memory_stats(
        &self,
        user_id: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<UserMemoryStats>, u64), StoreError>;

    /// Every memory of `user_id`, oldest first.
    async fn user_memories(&self, user_id: &str) -> Result<Vec<MemoryRecord>, StoreError> {
        Ok(self.list_memories(&MemoryFilter::of_user(user_id)).await?.0)
    }

    /// Deletes every memory of `user_id`; returns how many.
    async fn clear_user_memories(&self, user_id: &str) -> Result<u64, StoreError> {
        self.replace_user_memories(user_id, &[]).await
    }
}

/// The distinct topics of these `topics` column values, sorted.
pub(crate) fn distinct_topics(columns: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut topics: Vec<String> = columns
        .into_iter()
        .flat_map(|t| serde_json::from_str::<Vec<String>>(&t).unwrap_or_default())
        .collect();
    topics.sort();
    topics.dedup();
    topics
}
