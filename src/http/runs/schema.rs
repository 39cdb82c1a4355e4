//! Wire types of the run routes: the 202 of a background run, cancel's `{}`, and the meta
//! events of `/resume` (written with Python's `json.dumps`, in agno's key order).

use crate::run::RunStatus;
use serde::Serialize;
use utoipa::ToSchema;

/// 202: the run is accepted and executes in the background; poll `GET .../runs/{run_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunAccepted {
    /// The run's id.
    pub run_id: String,
    /// Its session.
    pub session_id: String,
    /// `PENDING` when just accepted; the current status for a repeated `Idempotency-Key`.
    pub status: RunStatus,
}

/// Cancel's answer: `{}`, for a run executing, a finished one or an unknown one alike.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Cancelled {}

/// `catch_up`: a `/resume` joins a run still executing.
#[derive(Debug, Serialize)]
pub(super) struct CatchUp<'a> {
    pub event: &'static str,
    pub run_id: &'a str,
    pub status: &'static str,
    /// Events the client has not seen yet (a run executing here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed_events: Option<usize>,
    /// Events so far (a run executing here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_event_count: Option<usize>,
    pub message: String,
}

/// `replay`: a `/resume` of a run that has ended.
#[derive(Debug, Serialize)]
pub(super) struct Replay<'a> {
    pub event: &'static str,
    pub run_id: &'a str,
    pub status: &'static str,
    pub total_events: usize,
    /// Events kept in memory (a run that ended here recently).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_buffered: Option<usize>,
    /// The client's `last_event_index` (a run that ended here recently).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_index_requested: Option<i64>,
    pub message: String,
}

/// `error`: a `/resume` of a run found nowhere.
#[derive(Debug, Serialize)]
pub(super) struct StreamError {
    pub event: &'static str,
    pub error: String,
}
