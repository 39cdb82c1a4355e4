//! [`StepOutcome`]: how a step ended, typed, as it passes up through the constructs that
//! contain it (Steps, Parallel, Condition, Loop, Router) to the run.

use crate::agent::DeferredHook;
use crate::outcome::Failure;
use crate::run::{ChildRun, StepMetrics, StepOutput};

/// How a step ended.
///
/// Only the common ending is unboxed: boxing `Completed` would cost every step an allocation,
/// while the rare endings stay a pointer.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum StepOutcome {
    /// The step finished (it may have been skipped after an error, with `success: false`); the
    /// run goes on.
    Completed(StepOutput),
    /// The step failed and ends the run: its (partial) output and why.
    Failed(Box<Failed>),
    /// The run was cancelled during (or before) the step: its partial output.
    Cancelled(Box<StepOutput>),
    /// The step waits for a person: its output so far. The run stops, stored PAUSED.
    // Produced once steps can ask for a person (human-in-the-loop); every construct and the
    // run already pass it up.
    #[allow(dead_code)]
    Paused(Box<StepOutput>),
}

/// A step that failed the run.
#[derive(Debug)]
pub(crate) struct Failed {
    pub output: StepOutput,
    pub failure: Failure,
}

impl StepOutcome {
    /// A failure that ends the run.
    pub(crate) fn failed(output: StepOutput, failure: Failure) -> StepOutcome {
        StepOutcome::Failed(Box::new(Failed { output, failure }))
    }

    /// True when the step ends the run: it failed or was cancelled (a pause is weaker: a
    /// `Parallel` whose branches did not fail pauses).
    pub(crate) fn ends_run(&self) -> bool {
        matches!(self, StepOutcome::Failed(_) | StepOutcome::Cancelled(_))
    }

    /// The step's output, however it ended.
    pub(crate) fn into_output(self) -> StepOutput {
        match self {
            StepOutcome::Completed(out) => out,
            StepOutcome::Failed(failed) => failed.output,
            StepOutcome::Cancelled(out) | StepOutcome::Paused(out) => *out,
        }
    }
}

/// What steps leave behind besides their outputs.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub deferred: Vec<DeferredHook>,
    pub executor_runs: Vec<ChildRun>,
    pub metrics: Vec<StepMetrics>,
}

impl Collected {
    pub(crate) fn absorb(&mut self, other: Collected) {
        self.deferred.extend(other.deferred);
        self.executor_runs.extend(other.executor_runs);
        self.metrics.extend(other.metrics);
    }
}
