//! A step of any kind ([`run_step`]), recursively for the constructs: a sequence of steps,
//! [`Steps`], [`Parallel`], [`Condition`], [`Loop`] and [`Router`], each passing its children's
//! [`StepOutcome`] up.

use super::exec::{
    self, CANCELLED_STEP, Place, Scope, cancelled, construct_output, contained, parallel_content,
    step_error, summed_metrics,
};
use super::input::StepInput;
use super::outcome::{Collected, Failed, StepOutcome};
use super::step::{Condition, Loop, Parallel, Router, Step, StepKind, Steps};
use crate::event::{EventSink, RunEvent, StepIndex};
use crate::run::StepOutput;
use futures::future::BoxFuture;
use tracing::Instrument;

/// Runs one step of any kind.
pub(crate) fn run_step<'a>(
    scope: &'a Scope<'a>,
    step: &'a Step,
    place: Place<'a>,
    input: &'a StepInput,
    sink: &'a mut EventSink,
    acc: &'a mut Collected,
) -> BoxFuture<'a, StepOutcome> {
    // One box per kind, sized for that kind: a box for the largest construct's future
    // (~10 KB) would be held by every agent step in flight (BENCHMARKS.md). An agent or
    // function step reads the caller's input; a construct, which advances its own through
    // its children, gets a copy.
    let run: BoxFuture<'a, StepOutcome> = match &step.kind {
        StepKind::Agent(agent) => {
            Box::pin(
                async move { exec::run_agent(scope, step, agent, &place, input, sink, acc).await },
            )
        }
        StepKind::Team(team) => {
            Box::pin(
                async move { exec::run_team(scope, step, team, &place, input, sink, acc).await },
            )
        }
        StepKind::Function(f) => {
            Box::pin(async move { exec::run_function(scope, step, f, &place, input, sink).await })
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
    };
    let span = step_span(step);
    match span.is_disabled() {
        true => run,
        false => Box::pin(
            async move {
                let outcome = run.await;
                end_step_span(&tracing::Span::current(), &outcome);
                outcome
            }
            .instrument(span),
        ),
    }
}

/// The span of one step (`step Analyzer`); for an agent step, an `invoke_agent` span.
/// Disabled while tracing is off.
fn step_span(step: &Step) -> tracing::Span {
    let (kind, agent) = match &step.kind {
        StepKind::Agent(a) => ("Agent", Some((a.id(), a.name()))),
        StepKind::Team(t) => ("Team", Some((t.get_id(), t.get_name()))),
        StepKind::Function(_) => ("function", None),
        StepKind::Steps(_) => ("Steps", None),
        StepKind::Parallel(_) => ("Parallel", None),
        StepKind::Condition(_) => ("Condition", None),
        StepKind::Loop(_) => ("Loop", None),
        StepKind::Router(_) => ("Router", None),
    };
    tracing::info_span!(
        target: "agentos::step",
        "step",
        otel.name = %format_args!("{} {}", match agent {
            Some(_) => "invoke_agent",
            None => "step",
        }, step.name),
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        gen_ai.operation.name = agent.map(|_| "invoke_agent"),
        gen_ai.agent.id = agent.map(|(id, _)| id),
        gen_ai.agent.name = agent.map(|(_, name)| name),
        agentos.step.id = step.id.as_str(),
        agentos.step.name = step.name.as_str(),
        agentos.step.type = kind,
        output.value = tracing::field::Empty,
        error.type = tracing::field::Empty,
    )
}

/// Records how a step ended on its span.
fn end_step_span(span: &tracing::Span, outcome: &StepOutcome) {
    match outcome {
        StepOutcome::Completed(output) => {
            span.record("otel.status_code", "ok");
            if let Some(content) = &output.content {
                span.record("output.value", content.as_str());
            }
        }
        StepOutcome::Failed(failed) => {
            span.record("otel.status_code", "error");
            span.record("otel.status_description", failed.failure.message.as_str());
            span.record("error.type", failed.failure.kind.as_str());
        }
        StepOutcome::Cancelled(_) => {
            span.record("error.type", "cancelled");
        }
        StepOutcome::Paused(_) => {}
    }
}

/// The result of running a sequence: the outputs and the input the next step would get, or
/// the outputs before the step that halted it and that step's outcome.
type Sequence = Result<(Vec<StepOutput>, StepInput), (Vec<StepOutput>, StepOutcome)>;

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
        if scope.ctx.is_cancelled() {
            return Err((done, cancelled(child, None)));
        }
        let place = Place {
            index: parent_index.child(index),
            parent: Some(parent),
        };
        match run_step(scope, child, place, &input, sink, acc).await {
            StepOutcome::Completed(out) => {
                input.advance(&out);
                let stop = out.stop;
                done.push(out);
                if stop {
                    break;
                }
            }
            halted => return Err((done, halted)),
        }
    }
    Ok((done, input))
}

/// A construct halted by one of its children (`halted`, which failed, was cancelled or
/// paused): the same ending, with the construct's output holding the children run so far,
/// the halting one last.
fn wrap_halt(step: &Step, mut done: Vec<StepOutput>, halted: StepOutcome) -> StepOutcome {
    let stopped = |done: Vec<StepOutput>, error: &str| StepOutput {
        success: false,
        error: Some(error.to_owned()),
        ..construct_output(step, error.to_owned(), done)
    };
    match halted {
        StepOutcome::Failed(failed) => {
            let Failed { output, failure } = *failed;
            done.push(output);
            StepOutcome::failed(stopped(done, &failure.message), failure)
        }
        StepOutcome::Cancelled(partial) => {
            done.push(*partial);
            StepOutcome::Cancelled(Box::new(stopped(done, CANCELLED_STEP)))
        }
        StepOutcome::Paused(partial) => {
            done.push(*partial);
            StepOutcome::Paused(Box::new(StepOutput {
                is_paused: true,
                ..construct_output(step, String::new(), done)
            }))
        }
        StepOutcome::Completed(out) => {
            done.push(out);
            StepOutcome::Completed(construct_output(step, String::new(), done))
        }
    }
}

/// Runs a construct's children in sequence; a child that halts the run halts the construct.
macro_rules! sequence_or_halt {
    ($step:expr, $run:expr) => {
        match $run.await {
            Ok(ok) => ok,
            Err((done, halted)) => return wrap_halt($step, done, halted),
        }
    };
}

pub(super) async fn run_steps(
    scope: &Scope<'_>,
    step: &Step,
    s: &Steps,
    place: &Place<'_>,
    input: StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> StepOutcome {
    sink.emit(|| RunEvent::StepsExecutionStarted {
        ctx: scope.event_ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        steps_count: s.steps.len(),
    })
    .await;
    let children: Vec<&Step> = s.steps.iter().collect();
    let (done, _) = sequence_or_halt!(
        step,
        run_sequence(scope, &children, &step.id, &place.index, input, sink, acc)
    );
    sink.emit(|| RunEvent::StepsExecutionCompleted {
        ctx: scope.event_ctx(&step.id, place.parent),
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
    StepOutcome::Completed(construct_output(step, content, done))
}

pub(super) async fn run_parallel(
    scope: &Scope<'_>,
    step: &Step,
    p: &Parallel,
    place: &Place<'_>,
    input: &StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> StepOutcome {
    sink.emit(|| RunEvent::ParallelExecutionStarted {
        ctx: scope.event_ctx(&step.id, place.parent),
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
    // The first branch (in order) that failed or was cancelled halts the Parallel; failing
    // that, the first that paused; the others' outputs are kept beside it.
    let halting = results.iter().position(|(o, _)| o.ends_run()).or_else(|| {
        results
            .iter()
            .position(|(o, _)| matches!(o, StepOutcome::Paused(_)))
    });
    let mut outputs = Vec::with_capacity(results.len());
    let mut halted = None;
    for (i, (outcome, branch_acc)) in results.into_iter().enumerate() {
        acc.absorb(branch_acc);
        match Some(i) == halting {
            true => halted = Some(outcome),
            false => outputs.push(outcome.into_output()),
        }
    }
    if let Some(halted) = halted {
        return wrap_halt(step, outputs, halted);
    }
    sink.emit(|| RunEvent::ParallelExecutionCompleted {
        ctx: scope.event_ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        parallel_step_count: p.steps.len(),
        step_results: outputs.clone(),
    })
    .await;
    let content = parallel_content(&outputs);
    let metrics = summed_metrics(&outputs);
    StepOutcome::Completed(StepOutput {
        metrics,
        ..construct_output(step, content, outputs)
    })
}

pub(super) async fn run_condition(
    scope: &Scope<'_>,
    step: &Step,
    c: &Condition,
    place: &Place<'_>,
    input: StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> StepOutcome {
    let result = match contained(|| (c.evaluator)(&input)) {
        Ok(r) => r,
        Err(e) => return step_error(scope, step, place, e, sink).await,
    };
    sink.emit(|| RunEvent::ConditionExecutionStarted {
        ctx: scope.event_ctx(&step.id, place.parent),
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
                ctx: scope.event_ctx(&step.id, place.parent),
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
            return StepOutcome::Completed(construct_output(step, content, Vec::new()));
        }
    };
    let children: Vec<&Step> = steps.iter().collect();
    let (done, _) = sequence_or_halt!(
        step,
        run_sequence(scope, &children, &step.id, &place.index, input, sink, acc)
    );
    sink.emit(|| RunEvent::ConditionExecutionCompleted {
        ctx: scope.event_ctx(&step.id, place.parent),
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
    StepOutcome::Completed(construct_output(step, content, done))
}

pub(super) async fn run_loop(
    scope: &Scope<'_>,
    step: &Step,
    l: &Loop,
    place: &Place<'_>,
    mut input: StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> StepOutcome {
    sink.emit(|| RunEvent::LoopExecutionStarted {
        ctx: scope.event_ctx(&step.id, place.parent),
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
            ctx: scope.event_ctx(&step.id, place.parent),
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
            Err((done, halted)) => {
                let mut flat: Vec<StepOutput> = all_results.into_iter().flatten().collect();
                flat.extend(done);
                return wrap_halt(step, flat, halted);
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
            ctx: scope.event_ctx(&step.id, place.parent),
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
        ctx: scope.event_ctx(&step.id, place.parent),
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
    StepOutcome::Completed(construct_output(step, content, flat))
}

pub(super) async fn run_router(
    scope: &Scope<'_>,
    step: &Step,
    r: &Router,
    place: &Place<'_>,
    input: StepInput,
    sink: &mut EventSink,
    acc: &mut Collected,
) -> StepOutcome {
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
        ctx: scope.event_ctx(&step.id, place.parent),
        step_name: step.name.clone(),
        step_index: place.index.clone(),
        selected_steps: names.clone(),
    })
    .await;
    let (done, _) = sequence_or_halt!(
        step,
        run_sequence(scope, &chosen, &step.id, &place.index, input, sink, acc)
    );
    sink.emit(|| RunEvent::RouterExecutionCompleted {
        ctx: scope.event_ctx(&step.id, place.parent),
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
    StepOutcome::Completed(construct_output(step, content, done))
}
