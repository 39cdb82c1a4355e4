//! One tool call, from the model's request to the result given back: started, executed
//! (contained: a timeout, a panic or an error is a result for the model), summarised.

use super::{AgentTool, ToolContext, Toolkit, toolkit};
use crate::context::RunContext;
use crate::model::ToolCall;
use crate::run::{ToolCallMetrics, ToolExecution, unix_seconds};
use futures::FutureExt;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The outcome of one tool call: its record and the text given back to the model.
pub(crate) struct ToolOutcome {
    pub execution: ToolExecution,
    /// The error, when the call failed.
    pub error: Option<String>,
    /// The call's result ends the conversation: it is the answer (a team's routed member).
    pub stop: bool,
}

impl ToolOutcome {
    /// A call that ended with `result` (an error when `failed`), timed from `started`.
    pub(crate) fn finished(
        mut execution: ToolExecution,
        result: Result<String, String>,
        started: (f64, Instant),
    ) -> ToolOutcome {
        execution.metrics = Some(ToolCallMetrics {
            start_time: Some(started.0),
            end_time: Some(unix_seconds_f64()),
            duration: Some(started.1.elapsed().as_secs_f64()),
        });
        execution.tool_call_error = Some(result.is_err());
        let error = result.as_ref().err().cloned();
        execution.result = Some(result.unwrap_or_else(|e| e));
        ToolOutcome {
            execution,
            error,
            stop: false,
        }
    }
}

/// When a call starts: unix seconds (its record's `start_time`) and the instant (its
/// duration).
pub(crate) fn started_now() -> (f64, Instant) {
    (unix_seconds_f64(), Instant::now())
}

/// The record of a call that has not run yet (the `ToolCallStarted` payload), with the
/// arguments parsed, or the parse error.
pub(crate) fn start(call: &ToolCall) -> (ToolExecution, Result<Value, String>) {
    let args = if call.arguments.trim().is_empty() {
        Ok(Value::Object(Map::new()))
    } else {
        serde_json::from_str::<Value>(&call.arguments)
            .map_err(|e| format!("the arguments are not valid JSON ({e}); send a JSON object"))
    };
    let execution = ToolExecution {
        tool_call_id: call.id.clone(),
        tool_name: call.name.clone(),
        tool_args: args.as_ref().ok().cloned(),
        tool_call_error: None,
        result: None,
        metrics: None,
        child_run_id: None,
        stop_after_tool_call: false,
        created_at: unix_seconds(),
    };
    (execution, args)
}

/// Runs one call to the end: never fails, never panics, never takes longer than `limit`. A
/// call of a tool not in `tools` says what the `toolkits` report about their missing tools.
pub(crate) async fn execute(
    tools: &[AgentTool],
    toolkits: &[Arc<dyn Toolkit>],
    execution: ToolExecution,
    args: Result<Value, String>,
    limit: Duration,
    run: &Arc<RunContext>,
) -> ToolOutcome {
    let started = started_now();
    let span = tracing::info_span!(
        target: "agentos::tool",
        "execute_tool",
        otel.name = %format_args!("execute_tool {}", execution.tool_name),
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = execution.tool_name.as_str(),
        gen_ai.tool.type = "function",
        gen_ai.tool.call.id = execution.tool_call_id.as_str(),
        gen_ai.tool.call.arguments = %execution
            .tool_args
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        output.value = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    let result = match (
        args,
        tools
            .iter()
            .find(|t| t.definition.name == execution.tool_name),
    ) {
        (_, None) => Err(toolkit::not_found(&execution.tool_name, toolkits)),
        (Err(e), Some(_)) => Err(e),
        (Ok(args), Some(tool)) => {
            let ctx = ToolContext::new(run.clone(), execution.tool_call_id.clone());
            let call = std::panic::AssertUnwindSafe(tool.inner.call_json(args, ctx)).catch_unwind();
            let call = tokio::time::timeout(limit, call);
            let outcome = match span.is_disabled() {
                true => call.await,
                false => call.instrument(span.clone()).await,
            };
            match outcome {
                Err(_) => Err(format!("the tool timed out after {limit:?}")),
                Ok(Err(panic)) => Err(format!(
                    "the tool panicked: {}",
                    crate::hooks::panic_message(&panic)
                )),
                Ok(Ok(Err(e))) => Err(e.to_string()),
                Ok(Ok(Ok(text))) => Ok(text),
            }
        }
    };
    if !span.is_disabled() {
        match &result {
            Ok(text) => {
                span.record("otel.status_code", "ok");
                span.record("output.value", text.as_str())
            }
            Err(e) => {
                span.record("otel.status_code", "error");
                span.record("otel.status_description", e.as_str());
                span.record("error.type", "tool_error")
            }
        };
    }
    ToolOutcome::finished(execution, result, started)
}

/// agno's `ToolCallCompleted` content: `name(a=1, b=x) completed in 0.0012s. `
pub(crate) fn summary(execution: &ToolExecution) -> String {
    let args = match &execution.tool_args {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    };
    let secs = execution
        .metrics
        .as_ref()
        .and_then(|m| m.duration)
        .unwrap_or(0.0);
    format!("{}({args}) completed in {secs:.4}s. ", execution.tool_name)
}

fn unix_seconds_f64() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}
