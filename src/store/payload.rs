//! A hook job's payload: its `HookContext` as JSON (written by `runtime/hook_payload.rs`).
//!
//! A post-hook's context holds the agent's output, and the run's own row, written in the same
//! transaction, holds it too: as the run's `output` (an agent run), or as one of its
//! `step_executor_runs` (an agent step of a workflow). Such a job stores its context without
//! the output, marked with `"run_output_in_run": true`, and a claim of the job puts the output
//! back from the run's row. A run then writes its agent outputs once, not once more per hook
//! (a 2.3 KB context per hook in the seed workflow, against ~0.3 KB without the output).
//!
//! Hook jobs outlive their runs: a store that deletes runs first puts the output back into
//! the payloads of their jobs that may still run, with [`inline_run_output`].

use serde::Deserialize;
use serde_json::Value;

/// The payload key that marks a context stored without its `run_output` (`runtime/hook_payload.rs`
/// writes it).
const OUTPUT_IN_RUN: &str = "run_output_in_run";

#[derive(Deserialize)]
struct Marker {
    #[serde(default, rename = "run_output_in_run")]
    output_in_run: bool,
}

/// Whether `payload` left out the agent's output, to be read from the run's stored output.
pub fn needs_run_output(payload: &str) -> bool {
    serde_json::from_str::<Marker>(payload).is_ok_and(|m| m.output_in_run)
}

/// `payload` with the agent's output put back, taken from `run_output` (the run's stored
/// `output` column); `Ok(None)` when the payload holds its output already. `Err` says why the
/// output cannot be found: the run was deleted (`run_output` is `None`), or its output does
/// not hold this agent's run.
pub fn inline_run_output(
    payload: &str,
    run_output: Option<&str>,
) -> Result<Option<String>, String> {
    if !needs_run_output(payload) {
        return Ok(None);
    }
    let mut ctx: Value =
        serde_json::from_str(payload).map_err(|e| format!("unreadable job payload: {e}"))?;
    let agent_run_id = ctx
        .get("run_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let output = run_output.ok_or("the run's output is gone: the run was deleted")?;
    let mut run: Value =
        serde_json::from_str(output).map_err(|e| format!("unreadable run output: {e}"))?;
    let is_agent_run = |v: &Value| v.get("run_id").and_then(Value::as_str) == Some(agent_run_id);
    let found = match run
        .get_mut("step_executor_runs")
        .and_then(Value::as_array_mut)
    {
        Some(runs) => runs
            .iter()
            .position(&is_agent_run)
            .map(|i| runs.swap_remove(i)),
        None => is_agent_run(&run).then(|| run.take()),
    };
    let found = found.ok_or_else(|| {
        format!("the run's stored output does not hold the agent run {agent_run_id}")
    })?;
    if let Some(map) = ctx.as_object_mut() {
        map.remove(OUTPUT_IN_RUN);
        map.insert("run_output".to_owned(), found);
    }
    serde_json::to_string(&ctx)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// [`inline_run_output`] for a store about to hand out or keep a job's payload: the payload
/// with the output put back, if that changes it. An output that cannot be found is logged, and
/// the payload left as it is (the dispatcher then records the job dead when it claims it).
pub(crate) fn restored(job_id: &str, payload: &str, run_output: Option<&str>) -> Option<String> {
    inline_run_output(payload, run_output).unwrap_or_else(|why| {
        tracing::warn!(job = %job_id, "cannot put back the hook job's context: {why}");
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_step_output_is_found_among_the_workflow_runs_executor_runs() {
        let payload = json!({"run_id": "a2", "run_output": null, "run_output_in_run": true});
        let run = json!({"run_id": "w", "step_executor_runs": [
            {"run_id": "a1", "content": "one"},
            {"run_id": "a2", "content": "two"},
        ]});
        let full = inline_run_output(&payload.to_string(), Some(&run.to_string()))
            .unwrap()
            .unwrap();
        let full: Value = serde_json::from_str(&full).unwrap();
        assert_eq!(
            full,
            json!({"run_id": "a2", "run_output": {"run_id": "a2", "content": "two"}})
        );
    }

    #[test]
    fn an_agent_runs_output_is_the_runs_own() {
        let payload = json!({"run_id": "a", "run_output": null, "run_output_in_run": true});
        let run = json!({"run_id": "a", "content": "hi"});
        let full = inline_run_output(&payload.to_string(), Some(&run.to_string()))
            .unwrap()
            .unwrap();
        let full: Value = serde_json::from_str(&full).unwrap();
        assert_eq!(full["run_output"], run);
    }

    #[test]
    fn a_payload_with_its_output_is_left_alone() {
        let payload = json!({"run_id": "a", "run_output": {"run_id": "a"}}).to_string();
        assert_eq!(inline_run_output(&payload, None), Ok(None));
        assert!(!needs_run_output(&payload));
    }

    #[test]
    fn a_missing_run_or_agent_run_is_an_error() {
        let payload = json!({"run_id": "a9", "run_output_in_run": true}).to_string();
        assert!(
            inline_run_output(&payload, None)
                .unwrap_err()
                .contains("deleted")
        );
        let run = json!({"run_id": "w", "step_executor_runs": [{"run_id": "a1"}]}).to_string();
        assert!(
            inline_run_output(&payload, Some(&run))
                .unwrap_err()
                .contains("a9")
        );
    }
}
