//! What crosses between the wire and the runtime: the parsed request ([`RunRequest`]), and
//! what a requester gets back ([`Started`], [`RunHandle`], [`RunResult`]).

use crate::context::{Media, Principal, RunContext, SessionState};
use crate::event::RunEvent;
use crate::event::journal::Journal;
use crate::store::{RunRecord, StoreError};
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A parsed run request (the form fields of `POST .../runs`). Stored (JSON) with a
/// background run, so a new process can resume it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct RunRequest {
    pub message: String,
    pub stream: bool,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub extra: Map<String, Value>,
    pub metadata: Option<Map<String, Value>>,
    /// The `Idempotency-Key` header.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
    /// The `session_state` form field (a JSON object).
    #[serde(default)]
    pub session_state: Option<Map<String, Value>>,
    /// The `dependencies` form field (a JSON object).
    #[serde(default)]
    pub dependencies: Option<Map<String, Value>>,
    /// The `additional_data` form field (a JSON object).
    #[serde(default)]
    pub additional_data: Option<Map<String, Value>>,
    /// `background=true`: answer at once, run detached.
    pub background: bool,
    /// Files uploaded with the run (agent runs).
    #[serde(flatten)]
    pub media: Media,
    /// Who asked (set by the HTTP layer when auth is on; kept with a background run's request so
    /// a resumed run still knows).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "principal_serde"
    )]
    pub principal: Option<Arc<Principal>>,
}

/// A principal as stored with a background run's request: user and scopes.
mod principal_serde {
    use crate::context::Principal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    #[derive(Serialize, Deserialize)]
    struct Stored {
        user_id: Option<String>,
        #[serde(default)]
        scopes: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service_account: Option<String>,
    }

    pub(super) fn serialize<S: Serializer>(
        p: &Option<Arc<Principal>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        p.as_ref()
            .map(|p| Stored {
                user_id: p.user_id.clone(),
                scopes: p.scopes.clone(),
                service_account: p.service_account.clone(),
            })
            .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Arc<Principal>>, D::Error> {
        let stored = Option::<Stored>::deserialize(d)?;
        Ok(stored.map(|s| {
            let mut p = Principal::new(s.user_id, s.scopes);
            p.service_account = s.service_account;
            Arc::new(p)
        }))
    }
}

impl RunRequest {
    /// The run's message and context, made once from the request (its fields move, nothing is
    /// copied); the session state is the request's until the runtime merges in the stored one.
    pub(crate) fn into_context(
        self,
        run_id: String,
        session_id: String,
        created_at: i64,
        hooks_in_background: bool,
    ) -> (String, RunContext) {
        let mut ctx =
            RunContext::new(run_id, session_id).with_hooks_in_background(hooks_in_background);
        ctx.user_id = self.user_id;
        ctx.session_state = SessionState::new(self.session_state.unwrap_or_default());
        ctx.dependencies = self.dependencies.unwrap_or_default();
        ctx.metadata = self.metadata;
        ctx.extra = self.extra;
        ctx.additional_data = self.additional_data.unwrap_or_default();
        ctx.media = self.media;
        ctx.principal = self.principal;
        ctx.created_at = created_at;
        (self.message, ctx)
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    /// No component of that kind and id is served.
    #[error("{} not found", .0.label())]
    NotFound(crate::kind::ComponentKind),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The end of a run as its requester sees it.
#[derive(Debug)]
pub(crate) enum RunResult {
    /// The run ended (completed, failed, cancelled or paused) and is stored.
    Finished {
        /// The stored output, as JSON (serialized once, for the database and the response).
        json: String,
        /// Set when a guardrail rejected the input.
        rejected_input: Option<String>,
    },
    /// The run ended but its final state could not be stored.
    NotStored(String),
}

/// Dropped once the HTTP response is fully written (or abandoned); until then the run holds
/// back its background hooks, so they always start after the response.
#[derive(Debug)]
pub(crate) struct ResponseGuard {
    /// Never sent on: dropping it is the signal.
    pub(super) _done: oneshot::Sender<()>,
}

/// What asking for a run gave.
#[derive(Debug)]
pub(crate) enum Started {
    /// A new run, executing now.
    New(RunHandle),
    /// The idempotency key names this earlier run; it was not executed again.
    Existing(RunRecord),
}

/// A started run.
#[derive(Debug)]
pub(crate) struct RunHandle {
    pub run_id: String,
    pub session_id: String,
    /// Set for background runs: the run executes detached; answer 202 (or stream the journal).
    pub background: bool,
    /// A resumable run's journal (`background=true&stream=true`).
    pub journal: Option<Arc<Journal>>,
    pub events: Option<mpsc::Receiver<Box<RunEvent>>>,
    pub result: oneshot::Receiver<RunResult>,
    pub guard: ResponseGuard,
}
