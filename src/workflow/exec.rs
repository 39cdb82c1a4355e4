//! The leaf steps (an agent, a function) and what every step's execution shares: its scope,
//! its place, its blank output, its events. `flow.rs` dispatches a step of any kind and runs
//! the constructs.

use super::Workflow;
use super::input::StepInput;
use super::outcome::{Collected, StepOutcome};
use super::step::{OnError, Step, StepFn, StepKind};
use crate::agent::{Agent, AgentCall, StepPlace};
use crate::context::RunContext;
use crate::event::{EventSink, RunEvent, StepIndex, WorkflowContext};
use crate::outcome::{ErrorKind, Failure};
use crate::run::{ChildRun, RunMetrics, RunStatus, StepMetrics, StepOutput, unix_seconds};
use crate::team::{Team, TeamCall};
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// The run-wide facts every step sees.
pub(crate) struct Scope<'a> {
    pub wf: &'a Workflow,
    pub ctx: &'a Arc<RunContext>,
}

impl Scope<'_> {
    pub(super) fn event_ctx(&self, step_id: &str, parent: Option<&str>) -> WorkflowContext {
        WorkflowContext {
            created_at: unix_seconds(),
            workflow_id: self.wf.id.clone(),
            workflow_name: self.wf.name.clone(),
            session_id: self.ctx.session_id.clone(),
            run_id: self.ctx.run_id.clone(),
            step_id: Some(step_id.to_owned()),
            parent_step_id: parent.map(str::to_owned),
            nested_depth: 0,
        }
    }
}

/// The error agno records on the step a cancel interrupted.
pub(super) const CANCELLED_STEP: &str = "Cancelled during execution";

/// `step` was interrupted (or never started) by a cancel: its partial output, marked.
pub(super) fn cancelled(step: &Step, partial: Option<StepOutput>) -> StepOutcome {
    let base = partial.unwrap_or_else(|| output_of(step, ""));
    StepOutcome::Cancelled(Box::new(StepOutput {
        content: base.content.filter(|c| !c.is_empty()),
        success: false,
        error: Some(CANCELLED_STEP.to_owned()),
        ..base
    }))
}

/// Where a step sits: its index (path from the top) and its enclosing construct's id.
#[derive(Debug, Clone)]
pub(crate) struct Place<'a> {
    pub index: StepIndex,
    pub parent: Option<&'a str>,
}

/// A blank output of `step`: name, id, type and executor filled in (agno leaves the executor
/// null for every construct but Parallel).
pub(super) fn output_of(step: &Step, content: impl Into<String>) -> StepOutput {
    let (executor_type, executor_name) = match &step.kind {
        StepKind::Agent(a) => (Some("agent"), Some(a.name().to_owned())),
        StepKind::Team(t) => (Some("team"), Some(t.get_name().to_owned())),
        StepKind::Function(_) => (Some("function"), Some(step.name.clone())),
        StepKind::Parallel(_) => (Some("parallel"), Some(step.name.clone())),
        _ => (None, None),
    };
    StepOutput {
        step_name: step.name.clone(),
        step_id: step.id.clone(),
        step_type: step.kind.type_name().to_owned(),
        executor_type: executor_type.map(str::to_owned),
        executor_name,
        ..StepOutput::new(content)
    }
}

/// The output of a construct over its children's outputs.
pub(super) fn construct_output(
    step: &Step,
    content: String,
    children: Vec<StepOutput>,
) -> StepOutput {
    StepOutput {
        success: children.iter().all(|c| c.success),
        stop: children.iter().any(|c| c.stop),
        steps: (!children.is_empty()).then_some(children),
        ..output_of(step, content)
    }
}

/// agno's output for a step skipped after an error.
fn skipped(step: &Step, error: &str) -> StepOutput {
    StepOutput {
        success: false,
        error: Some(error.to_owned()),
        ..output_of(step, format!("Step skipped due to error: {error}"))
    }
}

/// A step failed with `error` (not a model failure): skip it unless it is marked `Fail`.
pub(super) async fn step_error(
    scope: &Scope<'_>,
    step: &Step,
    place: &Place<'_>,
    error: String,
    sink: &mut EventSink,
) -> StepOutcome {
    tracing::warn!(step = %step.name, %error, "workflow step failed");
    if step.on_error == Some(OnError::Fail) {
        sink.emit(|| RunEvent::StepError {
            ctx: scope.event_ctx(&step.id, place.parent),
            step_name: step.name.clone(),
            step_index: place.index.clone(),
            error: error.clone(),
        })
        .await;
        let output = StepOutput {
            success: false,
            error: Some(error.clone()),
            ..output_of(step, error.clone())
        };
        return StepOutcome::failed(output, Failure::new(ErrorKind::Step, error));
    }
    let out = skipped(step, &error);
    emit_completed(scope, step, place, &out, sink).await;
    StepOutcome::Completed(out)
}

pub(super) async fn emit_completed(
    scope: &Scope<'_>,
    step: &Step,
    place: &Place<'_>,
    out: &StepOutput,
    sink: &mut EventSink,
) {
    sink.emit(|| RunEvent::StepCompleted {
        ctx: scope.event_ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        content: out.content.clone(),
        content_type: "str".to_owned(),
        step_response: Box::new(out.clone()),
    })
    .await;
}

async fn emit_started(scope: &Scope<'_>, step: &Step, place: &Place<'_>, sink: &mut EventSink) {
    sink.emit(|| RunEvent::StepStarted {
        ctx: scope.event_ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
    })
    .await;
}

/// agno's summary of a Parallel's children.
pub(super) fn parallel_content(outputs: &[StepOutput]) -> String {
    if outputs.is_empty() {
        return "No parallel steps executed".to_owned();
    }
    let mut text = String::from("## Parallel Execution Results\n\n");
    for out in outputs {
        let icon = if out.success {
            "✅ SUCCESS:"
        } else {
            "❌ FAILURE:"
        };
        text.push_str(&format!("### {icon} {}\n", out.step_name));
        match out.content.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(c) => text.push_str(&format!("{c}\n\n")),
            None => text.push_str("*(No content)*\n\n"),
        }
    }
    text.trim().to_owned()
}

/// The children's token counts and durations added up (None when there are none).
pub(super) fn summed_metrics(outputs: &[StepOutput]) -> Option<RunMetrics> {
    let mut total = RunMetrics::default();
    let mut any = false;
    for m in outputs.iter().filter_map(|o| o.metrics.as_ref()) {
        any = true;
        total.input_tokens += m.input_tokens;
        total.output_tokens += m.output_tokens;
        total.total_tokens += m.total_tokens;
        if let Some(d) = m.duration {
            *total.duration.get_or_insert(0.0) += d;
        }
        for (kind, models) in &m.details {
            total
                .details
                .entry(kind.clone())
                .or_default()
                .extend(models.iter().cloned());
        }
    }
    any.then_some(total)
}

/// The text of a caught panic.
fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("step panicked: {text}")
}

/// Calls a user closure (an evaluator, selector or end condition), containing a panic.
pub(super) fn contained<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(panic_text)
}

pub(super) async fn run_agent(
    scope: &Scope<'_>,
    step: &Step,
    agent: &Agent,
    place: &Place<'_>,
    input: &StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> StepOutcome {
    emit_started(scope, step, place, sink).await;
    let call = AgentCall::step(input.agent_message(), step_place(scope, step, place));
    let result = agent.run(scope.ctx, &call, sink).await;
    acc.deferred.extend(result.deferred);
    let executor = (agent.name(), "agent");
    let run = ChildRun::Agent(result.output);
    finish_executor(scope, step, place, executor, run, result.failure, sink, acc).await
}

pub(super) async fn run_team(
    scope: &Scope<'_>,
    step: &Step,
    team: &Arc<Team>,
    place: &Place<'_>,
    input: &StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> StepOutcome {
    emit_started(scope, step, place, sink).await;
    let call = TeamCall::step(input.agent_message(), step_place(scope, step, place));
    let result = team.run(scope.ctx, call, sink).await;
    acc.deferred.extend(result.deferred);
    let executor = (team.get_name(), "team");
    let run = ChildRun::Team(Box::new(result.output));
    finish_executor(scope, step, place, executor, run, result.failure, sink, acc).await
}

/// Where an agent or team step sits, as its run records it.
fn step_place(scope: &Scope<'_>, step: &Step, place: &Place<'_>) -> StepPlace {
    StepPlace {
        workflow_id: scope.wf.id.clone(),
        workflow_run_id: scope.ctx.run_id.clone(),
        step_id: step.id.clone(),
        step_name: step.name.clone(),
        step_index: place.index.position(),
    }
}

/// The step's output from its agent's or team's run (`executor`: its name and type): recorded,
/// then completed, skipped, failed or cancelled as the run ended.
#[allow(clippy::too_many_arguments)]
async fn finish_executor(
    scope: &Scope<'_>,
    step: &Step,
    place: &Place<'_>,
    executor: (&str, &str),
    run: ChildRun,
    failure: Option<Failure>,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> StepOutcome {
    let out = StepOutput {
        step_run_id: Some(run.run_id().to_owned()),
        metrics: Some(run.metrics().clone()),
        success: failure.is_none(),
        error: failure.as_ref().map(|f| f.message.clone()),
        ..output_of(step, crate::run::value_text(run.content()))
    };
    acc.metrics.push(StepMetrics {
        step_name: step.name.clone(),
        executor_type: executor.1.to_owned(),
        executor_name: executor.0.to_owned(),
        metrics: run.metrics().clone(),
    });
    let was_cancelled = run.status() == RunStatus::Cancelled;
    acc.executor_runs.push(run);
    if was_cancelled {
        return cancelled(step, Some(out));
    }
    match failure {
        None => {
            emit_completed(scope, step, place, &out, sink).await;
            StepOutcome::Completed(out)
        }
        // Only an explicit `Skip` skips a failed agent step; a rejected input always ends the run.
        Some(f) if step.on_error == Some(OnError::Skip) && !f.is_input_rejection() => {
            let out = StepOutput {
                step_run_id: out.step_run_id,
                metrics: out.metrics,
                ..skipped(step, &f.message)
            };
            emit_completed(scope, step, place, &out, sink).await;
            StepOutcome::Completed(out)
        }
        Some(f) => {
            sink.emit(|| RunEvent::StepError {
                ctx: scope.event_ctx(&step.id, place.parent),
                step_name: step.name.clone(),
                step_index: place.index.clone(),
                error: f.message.clone(),
            })
            .await;
            StepOutcome::failed(out, f)
        }
    }
}

pub(super) async fn run_function(
    scope: &Scope<'_>,
    step: &Step,
    f: &StepFn,
    place: &Place<'_>,
    input: &StepInput,
    sink: &mut EventSink,
) -> StepOutcome {
    emit_started(scope, step, place, sink).await;
    let mut error = String::new();
    for attempt in 0..=step.max_retries {
        let call = AssertUnwindSafe(f(input.clone())).catch_unwind().await;
        let returned = match call {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => {
                error = e.to_string();
                tracing::warn!(step = %step.name, attempt = attempt + 1, %error, "function step failed");
                continue;
            }
            Err(panic) => {
                error = panic_text(panic);
                tracing::warn!(step = %step.name, attempt = attempt + 1, %error, "function step failed");
                continue;
            }
        };
        let blank = output_of(step, "");
        let out = StepOutput {
            step_name: blank.step_name,
            step_id: blank.step_id,
            step_type: blank.step_type,
            executor_type: blank.executor_type,
            executor_name: blank.executor_name,
            ..returned
        };
        if !out.success && step.on_error == Some(OnError::Fail) {
            let error = out
                .error
                .clone()
                .unwrap_or_else(|| format!("Step {} reported failure", step.name));
            return step_error(scope, step, place, error, sink).await;
        }
        sink.emit(|| RunEvent::StepOutput {
            ctx: scope.event_ctx(&step.id, place.parent),
            step_name: step.name.clone(),
            step_index: place.index.clone(),
            step_output: Box::new(out.clone()),
        })
        .await;
        emit_completed(scope, step, place, &out, sink).await;
        return StepOutcome::Completed(out);
    }
    step_error(scope, step, place, error, sink).await
}
