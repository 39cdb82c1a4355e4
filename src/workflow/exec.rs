//! The step executor: runs one [`Step`] of any kind (recursively for constructs), emitting
//! agno's events and collecting agent runs, metrics and deferred hooks.

use super::constructs::{Condition, Loop, Parallel, Router, Steps};
use super::step::{OnError, Step, StepFn, StepInput, StepKind};
use super::{Workflow, WorkflowRunParams};
use crate::agent::{Agent, AgentFailure, AgentRunParams, DeferredHook, StepPlace};
use crate::event::{EventSink, RunEvent, StepIndex, WorkflowContext};
use crate::run::{RunMetrics, RunOutput, RunStatus, StepMetrics, StepOutput, unix_seconds};
use futures::FutureExt;
use futures::future::BoxFuture;
use std::panic::AssertUnwindSafe;

/// The run-wide facts every step sees.
pub(crate) struct Scope<'a> {
    pub wf: &'a Workflow,
    pub p: &'a WorkflowRunParams,
}

impl Scope<'_> {
    fn ctx(&self, step_id: &str, parent: Option<&str>) -> WorkflowContext {
        WorkflowContext {
            created_at: unix_seconds(),
            workflow_id: self.wf.id.clone(),
            workflow_name: self.wf.name.clone(),
            session_id: self.p.session_id.clone(),
            run_id: self.p.run_id.clone(),
            step_id: Some(step_id.to_owned()),
            parent_step_id: parent.map(str::to_owned),
            nested_depth: 0,
        }
    }
}

/// What steps leave behind besides their outputs.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub deferred: Vec<DeferredHook>,
    pub executor_runs: Vec<RunOutput>,
    pub metrics: Vec<StepMetrics>,
}

impl Collected {
    fn absorb(&mut self, other: Collected) {
        self.deferred.extend(other.deferred);
        self.executor_runs.extend(other.executor_runs);
        self.metrics.extend(other.metrics);
    }
}

/// A step that ended the run: its (partial) output and why.
#[derive(Debug)]
pub(crate) struct Failed {
    pub output: StepOutput,
    pub failure: AgentFailure,
}

/// The error agno records on the step a cancel interrupted.
const CANCELLED_STEP: &str = "Cancelled during execution";
/// The `error_type` that marks a cancel (not a failure) travelling up from a nested step.
const CANCELLED: &str = "cancelled";

impl Failed {
    /// True when the run was cancelled rather than failed.
    pub(crate) fn is_cancel(&self) -> bool {
        self.failure.error_type == CANCELLED
    }

    /// `step` was interrupted (or never started) by a cancel.
    fn cancelled(step: &Step, partial: Option<StepOutput>) -> Box<Failed> {
        let base = partial.unwrap_or_else(|| output_of(step, ""));
        Box::new(Failed {
            output: StepOutput {
                content: base.content.filter(|c| !c.is_empty()),
                success: false,
                error: Some(CANCELLED_STEP.to_owned()),
                ..base
            },
            failure: AgentFailure {
                message: CANCELLED_STEP.to_owned(),
                error_type: CANCELLED,
                error_id: None,
            },
        })
    }
}

/// A step's output, or the failure that ends the run.
pub(crate) type Outcome = Result<StepOutput, Box<Failed>>;

/// Where a step sits: its index (path from the top) and its enclosing construct's id.
#[derive(Debug, Clone)]
pub(crate) struct Place<'a> {
    pub index: StepIndex,
    pub parent: Option<&'a str>,
}

/// Runs one step of any kind.
pub(crate) fn run_step<'a>(
    scope: &'a Scope<'a>,
    step: &'a Step,
    place: Place<'a>,
    input: &'a StepInput,
    sink: &'a mut EventSink,
    acc: &'a mut Collected,
) -> BoxFuture<'a, Outcome> {
    // One box per kind, sized for that kind: a box for the largest construct's future
    // (~10 KB) would be held by every agent step in flight (BENCHMARKS.md). An agent or
    // function step reads the caller's input; a construct, which advances its own through
    // its children, gets a copy.
    match &step.kind {
        StepKind::Agent(agent) => {
            Box::pin(async move { run_agent(scope, step, agent, &place, input, sink, acc).await })
        }
        StepKind::Function(f) => {
            Box::pin(async move { run_function(scope, step, f, &place, input, sink).await })
        }
        StepKind::Steps(s) => {
            let input = input.clone();
            Box::pin(async move { run_steps(scope, step, s, &place, input, sink, acc).await })
        }
        StepKind::Parallel(p) => {
            Box::pin(async move { run_parallel(scope, step, p, &place, input, sink, acc).await })
        }
        StepKind::Condition(c) => {
            let input = input.clone();
            Box::pin(async move { run_condition(scope, step, c, &place, input, sink, acc).await })
        }
        StepKind::Loop(l) => {
            let input = input.clone();
            Box::pin(async move { run_loop(scope, step, l, &place, input, sink, acc).await })
        }
        StepKind::Router(r) => {
            let input = input.clone();
            Box::pin(async move { run_router(scope, step, r, &place, input, sink, acc).await })
        }
    }
}

/// A blank output of `step`: name, id, type and executor filled in (agno leaves the executor
/// null for every construct but Parallel).
fn output_of(step: &Step, content: impl Into<String>) -> StepOutput {
    let (executor_type, executor_name) = match &step.kind {
        StepKind::Agent(a) => (Some("agent"), Some(a.name().to_owned())),
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
fn construct_output(step: &Step, content: String, children: Vec<StepOutput>) -> StepOutput {
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
async fn step_error(
    scope: &Scope<'_>,
    step: &Step,
    place: &Place<'_>,
    error: String,
    sink: &mut EventSink,
) -> Outcome {
    tracing::warn!(step = %step.name, %error, "workflow step failed");
    if step.on_error == Some(OnError::Fail) {
        sink.emit(|| RunEvent::StepError {
            ctx: scope.ctx(&step.id, place.parent),
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
        return Err(Box::new(Failed {
            output,
            failure: AgentFailure {
                message: error,
                error_type: "step_error",
                error_id: None,
            },
        }));
    }
    let out = skipped(step, &error);
    emit_completed(scope, step, place, &out, sink).await;
    Ok(out)
}

async fn emit_completed(
    scope: &Scope<'_>,
    step: &Step,
    place: &Place<'_>,
    out: &StepOutput,
    sink: &mut EventSink,
) {
    sink.emit(|| RunEvent::StepCompleted {
        ctx: scope.ctx(&step.id, place.parent),
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
        ctx: scope.ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
    })
    .await;
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
fn contained<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(panic_text)
}

async fn run_agent(
    scope: &Scope<'_>,
    step: &Step,
    agent: &Agent,
    place: &Place<'_>,
    input: &StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> Outcome {
    emit_started(scope, step, place, sink).await;
    let p = scope.p;
    let params = AgentRunParams {
        input: input.agent_message(),
        session_id: p.session_id.clone(),
        user_id: p.user_id.clone(),
        extra: p.extra.clone(),
        metadata: p.metadata.clone(),
        place: Some(StepPlace {
            workflow_id: scope.wf.id.clone(),
            workflow_run_id: p.run_id.clone(),
            step_id: step.id.clone(),
            step_name: step.name.clone(),
            step_index: place.index.position(),
        }),
        hooks_in_background: p.hooks_in_background,
        run_id: None,
        history: Vec::new(),
        images: Vec::new(),
        documents: Vec::new(),
        cancel: p.cancel.clone(),
        top_level: false,
    };
    let result = agent.run(&params, sink).await;
    acc.deferred.extend(result.deferred);
    let run = result.output;
    let out = StepOutput {
        step_run_id: Some(run.run_id.clone()),
        metrics: Some(run.metrics.clone()),
        success: result.failure.is_none(),
        error: result.failure.as_ref().map(|f| f.message.clone()),
        ..output_of(step, run.content_text())
    };
    acc.metrics.push(StepMetrics {
        step_name: step.name.clone(),
        executor_type: "agent".to_owned(),
        executor_name: agent.name().to_owned(),
        metrics: run.metrics.clone(),
    });
    let was_cancelled = run.status == RunStatus::Cancelled;
    acc.executor_runs.push(run);
    if was_cancelled {
        return Err(Failed::cancelled(step, Some(out)));
    }
    match result.failure {
        None => {
            emit_completed(scope, step, place, &out, sink).await;
            Ok(out)
        }
        // Only an explicit `Skip` skips a failed agent step; a rejected input always ends the run.
        Some(f) if step.on_error == Some(OnError::Skip) && !f.is_input_rejection() => {
            let out = StepOutput {
                step_run_id: out.step_run_id,
                metrics: out.metrics,
                ..skipped(step, &f.message)
            };
            emit_completed(scope, step, place, &out, sink).await;
            Ok(out)
        }
        Some(f) => {
            sink.emit(|| RunEvent::StepError {
                ctx: scope.ctx(&step.id, place.parent),
                step_name: step.name.clone(),
                step_index: place.index.clone(),
                error: f.message.clone(),
            })
            .await;
            Err(Box::new(Failed {
                output: out,
                failure: f,
            }))
        }
    }
}

async fn run_function(
    scope: &Scope<'_>,
    step: &Step,
    f: &StepFn,
    place: &Place<'_>,
    input: &StepInput,
    sink: &mut EventSink,
) -> Outcome {
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
            ctx: scope.ctx(&step.id, place.parent),
            step_name: step.name.clone(),
            step_index: place.index.clone(),
            step_output: Box::new(out.clone()),
        })
        .await;
        emit_completed(scope, step, place, &out, sink).await;
        return Ok(out);
    }
    step_error(scope, step, place, error, sink).await
}

/// The result of running a sequence: the outputs and the input the next step would get.
type Sequence = Result<(Vec<StepOutput>, StepInput), (Vec<StepOutput>, Box<Failed>)>;

/// Runs `steps` one after the other, each given the previous one's output; stops after a step
/// that asks to stop.
async fn run_sequence(
    scope: &Scope<'_>,
    steps: &[&Step],
    parent: &str,
    parent_index: &StepIndex,
    mut input: StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> Sequence {
    let mut done = Vec::with_capacity(steps.len());
    for (index, child) in steps.iter().enumerate() {
        if scope.p.cancel.is_cancelled() {
            return Err((done, Failed::cancelled(child, None)));
        }
        let place = Place {
            index: parent_index.child(index),
            parent: Some(parent),
        };
        match run_step(scope, child, place, &input, sink, acc).await {
            Ok(out) => {
                input.advance(&out);
                let stop = out.stop;
                done.push(out);
                if stop {
                    break;
                }
            }
            Err(failed) => return Err((done, failed)),
        }
    }
    Ok((done, input))
}

/// A construct's failure: its output holds the children run so far, the failed one last.
fn wrap_failure(step: &Step, mut done: Vec<StepOutput>, failed: Box<Failed>) -> Box<Failed> {
    let Failed { output, failure } = *failed;
    done.push(output);
    let output = StepOutput {
        success: false,
        error: Some(failure.message.clone()),
        ..construct_output(step, failure.message.clone(), done)
    };
    Box::new(Failed { output, failure })
}

async fn run_steps(
    scope: &Scope<'_>,
    step: &Step,
    s: &Steps,
    place: &Place<'_>,
    input: StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> Outcome {
    sink.emit(|| RunEvent::StepsExecutionStarted {
        ctx: scope.ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        steps_count: s.steps.len(),
    })
    .await;
    let children: Vec<&Step> = s.steps.iter().collect();
    let (done, _) = run_sequence(scope, &children, &step.id, &place.index, input, sink, acc)
        .await
        .map_err(|(done, f)| wrap_failure(step, done, f))?;
    sink.emit(|| RunEvent::StepsExecutionCompleted {
        ctx: scope.ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        steps_count: s.steps.len(),
        executed_steps: done.len(),
        step_results: done.clone(),
    })
    .await;
    let content = match done.len() {
        0 => "No steps to execute".to_owned(),
        n => format!("Steps {} completed with {n} results", step.name),
    };
    Ok(construct_output(step, content, done))
}

/// agno's summary of a Parallel's children.
fn parallel_content(outputs: &[StepOutput]) -> String {
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
fn summed_metrics(outputs: &[StepOutput]) -> Option<RunMetrics> {
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

async fn run_parallel(
    scope: &Scope<'_>,
    step: &Step,
    p: &Parallel,
    place: &Place<'_>,
    input: &StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> Outcome {
    sink.emit(|| RunEvent::ParallelExecutionStarted {
        ctx: scope.ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        parallel_step_count: p.steps.len(),
    })
    .await;
    let branches = p.steps.iter().enumerate().map(|(index, child)| {
        let mut branch_sink = sink.fork();
        let parent = Some(step.id.as_str());
        async move {
            let mut branch_acc = Collected::default();
            let place = Place {
                index: place.index.child(index),
                parent,
            };
            let outcome = run_step(
                scope,
                child,
                place,
                input,
                &mut branch_sink,
                &mut branch_acc,
            )
            .await;
            (outcome, branch_acc)
        }
    });
    let results = futures::future::join_all(branches).await;
    let mut outputs = Vec::with_capacity(results.len());
    let mut first_failure = None;
    for (outcome, branch_acc) in results {
        acc.absorb(branch_acc);
        match outcome {
            Ok(out) => outputs.push(out),
            Err(failed) if first_failure.is_none() => first_failure = Some(failed),
            Err(failed) => outputs.push(failed.output),
        }
    }
    if let Some(failed) = first_failure {
        return Err(wrap_failure(step, outputs, failed));
    }
    sink.emit(|| RunEvent::ParallelExecutionCompleted {
        ctx: scope.ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        parallel_step_count: p.steps.len(),
        step_results: outputs.clone(),
    })
    .await;
    let content = parallel_content(&outputs);
    let metrics = summed_metrics(&outputs);
    Ok(StepOutput {
        metrics,
        ..construct_output(step, content, outputs)
    })
}

async fn run_condition(
    scope: &Scope<'_>,
    step: &Step,
    c: &Condition,
    place: &Place<'_>,
    input: StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> Outcome {
    let result = match contained(|| (c.evaluator)(&input)) {
        Ok(r) => r,
        Err(e) => return step_error(scope, step, place, e, sink).await,
    };
    sink.emit(|| RunEvent::ConditionExecutionStarted {
        ctx: scope.ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        condition_result: result,
    })
    .await;
    let (branch, steps) = match (result, c.else_steps.is_empty()) {
        (true, _) => ("if", &c.steps),
        (false, false) => ("else", &c.else_steps),
        (false, true) => {
            sink.emit(|| RunEvent::ConditionExecutionCompleted {
                ctx: scope.ctx(&step.id, place.parent),
                step_name: step.name.clone(),
                step_index: place.index.clone(),
                condition_result: false,
                executed_steps: 0,
                branch: None,
                step_results: Vec::new(),
            })
            .await;
            let content = format!(
                "Condition {} not met - skipped {} steps",
                step.name,
                c.steps.len()
            );
            return Ok(construct_output(step, content, Vec::new()));
        }
    };
    let children: Vec<&Step> = steps.iter().collect();
    let (done, _) = run_sequence(scope, &children, &step.id, &place.index, input, sink, acc)
        .await
        .map_err(|(done, f)| wrap_failure(step, done, f))?;
    sink.emit(|| RunEvent::ConditionExecutionCompleted {
        ctx: scope.ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        condition_result: result,
        executed_steps: steps.len(),
        branch: Some(branch.to_owned()),
        step_results: done.clone(),
    })
    .await;
    let content = format!(
        "Condition {} completed with {} results ({branch} branch)",
        step.name,
        done.len()
    );
    Ok(construct_output(step, content, done))
}

async fn run_loop(
    scope: &Scope<'_>,
    step: &Step,
    l: &Loop,
    place: &Place<'_>,
    mut input: StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> Outcome {
    sink.emit(|| RunEvent::LoopExecutionStarted {
        ctx: scope.ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        max_iterations: l.max_iterations,
    })
    .await;
    let children: Vec<&Step> = l.steps.iter().collect();
    let mut all_results: Vec<Vec<StepOutput>> = Vec::new();
    let mut iteration = 0;
    while iteration < l.max_iterations {
        sink.emit(|| RunEvent::LoopIterationStarted {
            ctx: scope.ctx(&step.id, place.parent),
            step_name: step.name.clone(),
            step_index: place.index.clone(),
            iteration: iteration + 1,
            max_iterations: l.max_iterations,
        })
        .await;
        let (outputs, next_input) = match run_sequence(
            scope,
            &children,
            &step.id,
            &place.index,
            input.clone(),
            sink,
            acc,
        )
        .await
        {
            Ok(ok) => ok,
            Err((done, failed)) => {
                let mut flat: Vec<StepOutput> = all_results.into_iter().flatten().collect();
                flat.extend(done);
                return Err(wrap_failure(step, flat, failed));
            }
        };
        iteration += 1;
        let stopped = outputs.iter().any(|o| o.stop);
        let ended = match &l.end_condition {
            Some(end) => match contained(|| end(&outputs)) {
                Ok(ended) => ended,
                Err(e) => return step_error(scope, step, place, e, sink).await,
            },
            None => false,
        };
        // As agno: false only when the end condition or a stop ends the loop (reaching
        // `max_iterations` ends it too, with `should_continue` still true).
        let should_continue = !ended && !stopped;
        sink.emit(|| RunEvent::LoopIterationCompleted {
            ctx: scope.ctx(&step.id, place.parent),
            step_name: step.name.clone(),
            step_index: place.index.clone(),
            iteration,
            max_iterations: l.max_iterations,
            iteration_results: outputs.clone(),
            should_continue,
        })
        .await;
        all_results.push(outputs);
        if !should_continue {
            break;
        }
        if l.forward_iteration_output {
            input = next_input;
        }
    }
    sink.emit(|| RunEvent::LoopExecutionCompleted {
        ctx: scope.ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        total_iterations: iteration,
        max_iterations: l.max_iterations,
        all_results: all_results.clone(),
    })
    .await;
    let flat: Vec<StepOutput> = all_results.into_iter().flatten().collect();
    let content = format!(
        "Loop {} completed {iteration} iterations with {} total steps",
        step.name,
        flat.len()
    );
    Ok(construct_output(step, content, flat))
}

async fn run_router(
    scope: &Scope<'_>,
    step: &Step,
    r: &Router,
    place: &Place<'_>,
    input: StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> Outcome {
    let names = match contained(|| (r.selector)(&input)) {
        Ok(names) => names,
        Err(e) => return step_error(scope, step, place, e, sink).await,
    };
    let mut chosen = Vec::with_capacity(names.len());
    for name in &names {
        match r.choices.iter().find(|c| &c.name == name) {
            Some(choice) => chosen.push(choice),
            None => {
                let error = format!("Router {} has no choice named {name:?}", step.name);
                return step_error(scope, step, place, error, sink).await;
            }
        }
    }
    sink.emit(|| RunEvent::RouterExecutionStarted {
        ctx: scope.ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        selected_steps: names.clone(),
    })
    .await;
    let (done, _) = run_sequence(scope, &chosen, &step.id, &place.index, input, sink, acc)
        .await
        .map_err(|(done, f)| wrap_failure(step, done, f))?;
    sink.emit(|| RunEvent::RouterExecutionCompleted {
        ctx: scope.ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        selected_steps: names.clone(),
        executed_steps: chosen.len(),
        step_results: done.clone(),
    })
    .await;
    let content = match done.len() {
        0 => format!(
            "Router {} completed with 0 results (no steps selected)",
            step.name
        ),
        n => format!("Router {} completed with {n} results", step.name),
    };
    Ok(construct_output(step, content, done))
}
