//! The sessions domain: a session's row, the sessions API's view of it, and the list's
//! filters, sorts and pages.

use super::StoreError;
use crate::kind::ComponentKind;
use async_trait::async_trait;

record! {
    /// A session row.
    #[derive(Debug, Clone, PartialEq)]
    pub struct SessionRecord {
        /// The id.
        pub session_id: String,
        /// Agent, team or workflow.
        pub session_type: ComponentKind,
        /// The workflow, agent or team id.
        pub component_id: String,
        /// The user, when known.
        pub user_id: Option<String>,
        /// The name (the first run's input by default).
        pub session_name: Option<String>,
        /// Session state (JSON text).
        pub session_state: String,
        /// Unix milliseconds.
        pub created_at: i64,
        /// Unix milliseconds.
        pub updated_at: i64,
    }
}

impl SessionRecord {
    /// True when this stored session was created empty (`POST /sessions`,
    /// [`SessionStore::create_session`]) without a component or a name, and `incoming` (the
    /// session of a run starting in it, of the same type) should complete it:
    /// [`super::RunStore::begin_run`] then records the run's component where there was none,
    /// and the run's input as the name where there was none.
    pub fn completed_by_first_run(&self, incoming: &SessionRecord) -> bool {
        (self.component_id.is_empty() || self.session_name.is_none())
            && self.session_type == incoming.session_type
            && (self.component_id.is_empty() || self.component_id == incoming.component_id)
    }
}

record! {
    /// A session as the sessions API shows it: the row plus what only that API sets.
    #[derive(Debug, Clone, PartialEq)]
    pub struct SessionView {
        /// The session row.
        #[sqlx(flatten)]
        pub session: SessionRecord,
        /// Free-form metadata (JSON object text), set by `PATCH /sessions/{id}`.
        pub metadata: Option<String>,
        /// The session summary (JSON object text, `{"summary", "topics"?, "updated_at"?}`).
        pub summary: Option<String>,
    }
}

/// The order of a session listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SessionSort {
    /// By creation time (agno's default).
    #[default]
    CreatedAt,
    /// By last update.
    UpdatedAt,
    /// By name.
    SessionName,
}

impl SessionSort {
    /// Every accepted `sort_by` value.
    pub const NAMES: [&'static str; 3] = ["created_at", "updated_at", "session_name"];

    /// Parses agno's `sort_by` value (`created_at`, `updated_at`, `session_name`).
    pub fn parse(s: &str) -> Option<SessionSort> {
        match s {
            "created_at" => Some(SessionSort::CreatedAt),
            "updated_at" => Some(SessionSort::UpdatedAt),
            "session_name" => Some(SessionSort::SessionName),
            _ => None,
        }
    }

    /// The column to order by.
    pub fn column(self) -> &'static str {
        match self {
            SessionSort::CreatedAt => "created_at",
            SessionSort::UpdatedAt => "updated_at",
            SessionSort::SessionName => "session_name",
        }
    }
}

/// Which sessions to list, in what order, and which page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only sessions of this type.
    pub session_type: Option<ComponentKind>,
    /// Only sessions of this agent, team or workflow.
    pub component_id: Option<String>,
    /// Only sessions of this user.
    pub user_id: Option<String>,
    /// Only sessions whose name contains this text (ASCII case-insensitive).
    pub session_name: Option<String>,
    /// The sort column.
    pub sort_by: SessionSort,
    /// Ascending instead of descending (the default).
    pub ascending: bool,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

impl SessionFilter {
    /// The `WHERE` clause of the filters given (empty with none) and the values it binds, in
    /// order. `placeholder(n)` writes the n-th parameter (1-based) in the backend's syntax;
    /// `name_contains(p)` the test that the name contains parameter `p`. Only the filters given
    /// appear, so the database can use the index that fits them: a clause that names every
    /// filter as `(?1 IS NULL OR column = ?1)` keeps SQLite from using any index for it.
    pub(crate) fn where_clause(
        &self,
        placeholder: impl Fn(usize) -> String,
        name_contains: impl Fn(&str) -> String,
    ) -> (String, Vec<&str>) {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        let equal = [
            ("session_type", self.session_type.map(ComponentKind::as_str)),
            ("component_id", self.component_id.as_deref()),
            ("user_id", self.user_id.as_deref()),
        ];
        for (column, value) in equal {
            if let Some(value) = value {
                values.push(value);
                conditions.push(format!("{column} = {}", placeholder(values.len())));
            }
        }
        if let Some(name) = &self.session_name {
            values.push(name.as_str());
            conditions.push(name_contains(&placeholder(values.len())));
        }
        if conditions.is_empty() {
            (String::new(), values)
        } else {
            (format!("WHERE {}", conditions.join(" AND ")), values)
        }
    }
}

/// What `PATCH /sessions/{id}` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionUpdate {
    /// The new name.
    pub session_name: Option<String>,
    /// The new session state (JSON object text).
    pub session_state: Option<String>,
    /// The new metadata (JSON object text).
    pub metadata: Option<String>,
    /// The new summary (JSON object text).
    pub summary: Option<String>,
}

/// A session to delete, found only if its type and user match when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    /// The session id.
    pub session_id: String,
    /// Only if the session has this type.
    pub session_type: Option<ComponentKind>,
    /// Only if the session belongs to this user.
    pub user_id: Option<String>,
}

/// What [`SessionStore::delete_sessions`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionsDeleted {
    /// The sessions deleted, with their runs and run events.
    pub deleted: Vec<String>,
    /// Sessions with a run still RUNNING or PENDING. When there is any, nothing was deleted.
    pub busy: Vec<String>,
}

/// Sessions: read, list, create, update and delete (a run's first write creates its session:
/// [`super::RunStore::begin_run`]).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// A session by id.
    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// One page of the sessions matching `filter`, and how many match in all.
    async fn list_sessions(
        &self,
        filter: &SessionFilter,
    ) -> Result<(Vec<SessionView>, u64), StoreError>;
    /// A session with its metadata and summary.
    async fn session_view(&self, session_id: &str) -> Result<Option<SessionView>, StoreError>;
    /// Creates a session before any run (`POST /sessions`): the row `view` describes, with its
    /// state, metadata and summary. An empty `component_id` means none yet, and the first run in
    /// the session names it (see [`SessionRecord::completed_by_first_run`]). `None`, and nothing
    /// written, when a session with that id exists.
    async fn create_session(&self, view: &SessionView) -> Result<Option<SessionView>, StoreError>;
    /// Applies `update` and stamps `updated_at`; `None` if there is no such session.
    async fn update_session(
        &self,
        session_id: &str,
        update: &SessionUpdate,
    ) -> Result<Option<SessionView>, StoreError>;
    /// Renames a session; `None` if there is no such session.
    async fn rename_session(
        &self,
        session_id: &str,
        session_name: &str,
    ) -> Result<Option<SessionView>, StoreError> {
        let update = SessionUpdate {
            session_name: Some(session_name.to_owned()),
            ..SessionUpdate::default()
        };
        self.update_session(session_id, &update).await
    }
    /// In one transaction: deletes the sessions found for `keys` with their runs, run events
    /// and idempotency keys. Jobs stay: they are independent durable work, so the jobs not
    /// done first get the agent output they read from their run put back into their payloads
    /// ([`super::inline_run_output`]). If any of the sessions has a run still RUNNING or
    /// PENDING, deletes nothing and names those in `busy`.
    async fn delete_sessions(&self, keys: &[SessionKey]) -> Result<SessionsDeleted, StoreError>;
    /// Deletes one session (see [`SessionStore::delete_sessions`]).
    async fn delete_session(&self, key: &SessionKey) -> Result<SessionsDeleted, StoreError> {
        self.delete_sessions(std::slice::from_ref(key)).await
    }
}
