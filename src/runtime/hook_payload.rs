//! Writing a hook job's payload: its `HookContext` as JSON, without the agent's output when
//! the run's stored output holds it (the store reads such payloads back:
//! `crate::store::inline_run_output`).

use crate::hooks::HookContext;
use serde::Serialize;

#[derive(Serialize)]
struct Stored<'a> {
    #[serde(flatten)]
    ctx: &'a HookContext,
    #[serde(
        rename = "run_output_in_run",
        skip_serializing_if = "std::ops::Not::not"
    )]
    output_in_run: bool,
}

/// `ctx` as a job's payload. With `output_in_run` (the run's stored output holds the agent's
/// output), without its `run_output`, and marked so that it is read back from the run.
pub(crate) fn encode(ctx: &mut HookContext, output_in_run: bool) -> serde_json::Result<String> {
    let output = if output_in_run {
        ctx.run_output.take()
    } else {
        None
    };
    let json = serde_json::to_string(&Stored { ctx, output_in_run });
    if output.is_some() {
        ctx.run_output = output;
    }
    json
}
