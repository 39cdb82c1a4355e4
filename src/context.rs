//! [`RunContext`]: the facts of one run, made once when the run starts and shared by every
//! level of it (the runtime, each workflow step, each agent call, and the tools, hooks and
//! function steps that run inside it), as agno's `RunContext` is.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// The run's `session_state`: one JSON object shared by every level of a run (every step,
/// every branch of a `Parallel`), loaded from the session and stored with it when the run
/// ends. Cloning gives another handle to the same map.
#[derive(Debug, Clone, Default)]
pub struct SessionState(Arc<Mutex<Map<String, Value>>>);

impl SessionState {
    /// A state holding `map`.
    pub fn new(map: Map<String, Value>) -> SessionState {
        SessionState(Arc::new(Mutex::new(map)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Map<String, Value>> {
        // A poisoned lock only means a step panicked while holding it; the map is still a
        // valid JSON object.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value at `key`, if any.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.lock().get(key).cloned()
    }

    /// Sets `key` to `value`.
    pub fn set(&self, key: impl Into<String>, value: impl Into<Value>) {
        self.lock().insert(key.into(), value.into());
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.lock().remove(key)
    }

    /// Runs `f` on the map, atomically with respect to other steps.
    pub fn update<R>(&self, f: impl FnOnce(&mut Map<String, Value>) -> R) -> R {
        f(&mut self.lock())
    }

    /// A copy of the whole map.
    pub fn snapshot(&self) -> Map<String, Value> {
        self.lock().clone()
    }

    /// Replaces the whole map.
    pub(crate) fn replace(&self, map: Map<String, Value>) {
        *self.lock() = map;
    }
}

/// A text document uploaded with a run; the model reads it after the message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// The file's name.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// The files uploaded with a run (`POST /agents/{id}/runs` with `files`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// Images, as data URLs, sent to the model with the message.
    #[serde(default)]
    pub images: Vec<String>,
    /// Text documents, sent to the model after the message.
    #[serde(default)]
    pub documents: Vec<Document>,
}

impl Media {
    /// True when nothing was uploaded.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.documents.is_empty()
    }
}

/// Who asked for a run: the identity the server verified (a JWT's claims, a service account, or
/// the security key), set by the auth layer; tools and hooks read it from the [`RunContext`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Principal {
    /// The verified user: the token's user claim (`sub` by default), or a service account's
    /// principal (`sa:<name>`). `None` for the security key and for a token without one.
    pub user_id: Option<String>,
    /// The scopes the credential grants (a JWT's `scopes` claim, a service account's scopes).
    pub scopes: Vec<String>,
    /// The service account's name, when the credential is one.
    pub service_account: Option<String>,
}

impl Principal {
    /// A principal for `user_id` with `scopes` (for tests of tools and hooks).
    pub fn new<I, S>(user_id: Option<String>, scopes: I) -> Principal
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Principal {
            user_id,
            scopes: scopes.into_iter().map(Into::into).collect(),
            service_account: None,
        }
    }
}

/// The facts of one run, shared by every level of it.
///
/// The runtime makes one per run from the request; a workflow's steps, the agents they call,
/// and the tools, hooks and function steps inside see the same value (agno's `RunContext`:
/// `run_id`, `session_id`, `user_id`, `session_state`, `dependencies`, `metadata`).
///
/// ```
/// use agentos::RunContext;
/// let ctx = RunContext::new("run-1", "session-1").user_id("alice");
/// ctx.session_state.set("cart", serde_json::json!(["apple"]));
/// assert_eq!(ctx.session_state.get("cart"), Some(serde_json::json!(["apple"])));
/// assert!(!ctx.is_cancelled());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunContext {
    /// The top-level run's id (an agent step inside a workflow has its own run id besides).
    pub run_id: String,
    /// The session.
    pub session_id: String,
    /// The user, when the request named one.
    pub user_id: Option<String>,
    /// The session state, readable and writable, stored with the session when the run ends.
    pub session_state: SessionState,
    /// The request's `dependencies` form field (a JSON object).
    pub dependencies: Map<String, Value>,
    /// The request's `metadata` form field (a JSON object).
    pub metadata: Option<Map<String, Value>>,
    /// The request's extra form fields (`true`/`false` become booleans, `null`/`none` null).
    pub extra: Map<String, Value>,
    /// The request's `additional_data` form field (a JSON object), given to workflow steps.
    pub additional_data: Map<String, Value>,
    /// Files uploaded with the run.
    pub media: Media,
    /// When the run started, unix seconds.
    pub created_at: i64,
    /// Who asked for the run, when the server authenticates requests (JWT, service account or
    /// security key); `None` when auth is off.
    pub principal: Option<Arc<Principal>>,
    cancel: CancellationToken,
    hooks_in_background: bool,
}

impl RunContext {
    /// The context of the run `run_id` in session `session_id`, with nothing else set (for
    /// tests of tools, hooks and function steps; the runtime makes the real one).
    pub fn new(run_id: impl Into<String>, session_id: impl Into<String>) -> RunContext {
        RunContext {
            run_id: run_id.into(),
            session_id: session_id.into(),
            user_id: None,
            session_state: SessionState::default(),
            dependencies: Map::new(),
            metadata: None,
            extra: Map::new(),
            additional_data: Map::new(),
            media: Media::default(),
            created_at: chrono::Utc::now().timestamp(),
            principal: None,
            cancel: CancellationToken::new(),
            hooks_in_background: false,
        }
    }

    /// Sets the user.
    pub fn user_id(mut self, user_id: impl Into<String>) -> RunContext {
        self.user_id = Some(user_id.into());
        self
    }

    /// True once the run was asked to stop. Long tools can check it and return early.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the run is asked to stop.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// The run's cancel token (the runtime's switch for this run).
    pub(crate) fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// AgentOs-wide `run_hooks_in_background`, as it was when the run started.
    pub(crate) fn hooks_in_background(&self) -> bool {
        self.hooks_in_background
    }

    /// Sets the hook mode (the runtime's setting for this run).
    pub(crate) fn with_hooks_in_background(mut self, on: bool) -> RunContext {
        self.hooks_in_background = on;
        self
    }
}
