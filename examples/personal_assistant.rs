//! A personal assistant that knows whom it talks to: the run's context in its tools and hooks,
//! `{var}` templates in its prompt, a shopping list kept in the session state, user memories
//! across sessions, and a session summary. Offline (without `OPENAI_API_KEY`/
//! `OPENAI_BASE_URL`) the `ScriptedModel` plays every part, so the whole flow runs as is.
//!
//! ```text
//! cargo run --example personal_assistant
//! # Ana's first session: a memory is learned after the answer, the list lives in the session.
//! curl -X POST http://localhost:7777/agents/personal-assistant/runs -F "message=My name is Ana and I love jazz" \
//!   -F "user_id=ana" -F "session_id=ana-1" -F 'session_state={"user_name": "Ana"}' -F "stream=false"
//! curl -X POST http://localhost:7777/agents/personal-assistant/runs -F "message=Add milk to my list" \
//!   -F "user_id=ana" -F "session_id=ana-1" -F 'dependencies={"store": "the corner shop"}' -F "stream=false"
//! curl http://localhost:7777/sessions/ana-1          # session_state.shopping_list, session_summary
//! curl "http://localhost:7777/memories?user_id=ana"  # what it learned about Ana
//! # A new session: the assistant still remembers Ana; another user is a stranger.
//! curl -X POST http://localhost:7777/agents/personal-assistant/runs -F "message=What do you know about me?" \
//!   -F "user_id=ana" -F "session_id=ana-2" -F "stream=false"
//! ```

#[allow(dead_code)]
#[path = "support/offline_memory.rs"]
mod offline_memory;
#[allow(dead_code)]
#[path = "background_hooks_workflow.rs"]
mod seed;

use agentos::{
    Agent, AgentOs, Hook, HookContext, HookError, Model, OpenAIChat, ScriptedModel, ScriptedReply,
    ToolContext, tool_fn,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The arguments of `add_to_shopping_list`.
#[derive(Debug, Deserialize, JsonSchema)]
struct Item {
    /// What to buy.
    item: String,
}

/// A tool that reads and writes the session state through its run context: the list is
/// stored with the session when the run ends, and the next run of the session starts from it.
async fn add_to_shopping_list(ctx: ToolContext, args: Item) -> Result<String, String> {
    let list = ctx.session_state.update(|state| {
        let list = state
            .entry("shopping_list")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = list {
            items.push(Value::from(args.item.clone()));
        }
        list.clone()
    });
    let user = ctx.user_id.as_deref().unwrap_or("guest");
    Ok(format!("Added {} to {user}'s list: {list}", args.item))
}

/// An inline pre-hook with the run's facts: counts the runs of the session in its state.
async fn count_visits(ctx: HookContext) -> Result<(), HookError> {
    let visits = ctx.session_state.get("visits").and_then(|v| v.as_u64());
    ctx.session_state.set("visits", visits.unwrap_or(0) + 1);
    Ok(())
}

/// Offline: the memory and summary managers' parts, the shopping list tool for "add ... to
/// my list", and otherwise an answer that shows what the prompt told it.
fn offline_model() -> ScriptedModel {
    ScriptedModel::respond(|req| {
        if let Some(reply) = offline_memory::memory_manager_reply(req) {
            return Ok(reply);
        }
        if let Some(reply) = offline_memory::summary_reply(req) {
            return Ok(reply);
        }
        if let Some(result) = req.tool_results().first() {
            return Ok(ScriptedReply::text(format!("Done. {}", result.content)));
        }
        let message = req.last_user_message();
        let lower = message.to_lowercase();
        if let Some(rest) = lower.strip_prefix("add ")
            && let Some(item) = rest.split(" to my list").next()
        {
            return Ok(ScriptedReply::tool_call(
                "add_to_shopping_list",
                json!({"item": item.trim()}),
            ));
        }
        // The first line of the system message is the description, its template filled.
        let system = req
            .messages
            .first()
            .map(|m| m.content.as_str())
            .unwrap_or("");
        let me = system.lines().next().unwrap_or("");
        Ok(ScriptedReply::text(format!(
            "{me} You said: {}{}",
            message.lines().next().unwrap_or(""),
            offline_memory::remembered(req)
        )))
    })
}

/// The personal assistant.
fn personal_assistant() -> Agent {
    let model: Arc<dyn Model> = match OpenAIChat::configured_from_env() {
        true => seed::model("gpt-5.2"),
        false => Arc::new(offline_model()),
    };
    let defaults = json!({"user_name": "friend", "shopping_list": [], "visits": 0});
    Agent::new("Personal Assistant")
        .shared_model(model)
        .description("You are {user_name}'s personal assistant.")
        .instructions([
            "Call the user {user_name}.",
            "Keep their shopping list with the add_to_shopping_list tool.",
            "Remember what they tell you about themselves.",
        ])
        .expected_output("A short, friendly answer.")
        .markdown(true)
        .add_datetime_to_context(true)
        .session_state(defaults.as_object().cloned().unwrap_or_default())
        .add_session_state_to_context(true)
        .enable_agentic_state(true)
        .add_dependencies_to_context(true)
        .read_chat_history(true)
        .update_memory_on_run(true)
        .enable_session_summaries(true)
        .pre_hook(Hook::new("count_visits", count_visits).inline())
        .tool(tool_fn(
            "add_to_shopping_list",
            "Add an item to the user's shopping list.",
            add_to_shopping_list,
        ))
}

#[tokio::main]
async fn main() -> Result<(), agentos::OsError> {
    seed::init();
    AgentOs::new()
        .agent(personal_assistant())
        .serve("127.0.0.1:7777")
        .await
}
