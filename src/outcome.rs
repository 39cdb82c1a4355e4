//! How a run, or one level of it, ended when it did not complete: a [`Failure`] of a typed
//! [`ErrorKind`].

/// Why a run failed: agno's `error_type`, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ErrorKind {
    /// A pre-hook rejected the input (agno's `InputCheckError`).
    InputCheck,
    /// A post-hook rejected the output (agno's `OutputCheckError`).
    OutputCheck,
    /// The model call failed (after its retries).
    Model,
    /// A structured reply did not parse as the output type.
    OutputSchema,
    /// The model still called tools after `max_tool_rounds`.
    ToolRoundLimit,
    /// A workflow step failed (a function step's error, an evaluator's panic, ...).
    Step,
    /// A team member failed, and its answer was to be the team's (route mode).
    Member,
    /// The run's final state could not be stored.
    Storage,
}

impl ErrorKind {
    /// The `error_type` on the wire (`RunError`, `WorkflowError`).
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InputCheck => "input_check_error",
            ErrorKind::OutputCheck => "output_check_error",
            ErrorKind::Model => "model_error",
            ErrorKind::OutputSchema => "output_schema_error",
            ErrorKind::ToolRoundLimit => "tool_round_limit",
            ErrorKind::Step => "step_error",
            ErrorKind::Member => "member_error",
            ErrorKind::Storage => "storage_error",
        }
    }
}

/// Why a run, or one of its agents or steps, failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Shown to the client (the run's `error`, the event's `content`/`error`).
    pub message: String,
    /// What failed.
    pub kind: ErrorKind,
    /// agno's `error_id` (a guardrail's check trigger).
    pub error_id: Option<String>,
}

impl Failure {
    /// A failure of `kind` with this message.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            kind,
            error_id: None,
        }
    }

    /// True when a guardrail rejected the client's input.
    pub(crate) fn is_input_rejection(&self) -> bool {
        self.kind == ErrorKind::InputCheck
    }

    /// The wire `error_type`.
    pub(crate) fn error_type(&self) -> String {
        self.kind.as_str().to_owned()
    }
}

/// agno's reason for a cancelled run.
pub(crate) fn cancel_reason(run_id: &str) -> String {
    format!("Run {run_id} was cancelled")
}
