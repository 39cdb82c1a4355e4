//! agno's built-in agent tools: `update_session_state` (agentic state),
//! `get_chat_history` (`read_chat_history`) and `update_user_memory` (agentic memory), with
//! agno's names, arguments and answers. The last two need what only a run has (the session's
//! history, the run's memory tasks), so they are made per run, and only for an agent that
//! uses them: an agent without them runs with its own tool list, borrowed.

use super::{Agent, AgentCall};
use crate::run::Message;
use crate::tool::{AgentTool, IntoTool, ToolContext, tool_fn};
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

/// The name of agno's agentic state tool.
pub(crate) const UPDATE_SESSION_STATE: &str = "update_session_state";

/// A session's earlier messages, read when the model asks (the runtime reads the store).
#[async_trait]
pub(crate) trait ChatHistory: Send + Sync {
    /// The session's messages before this run, oldest first.
    async fn messages(&self) -> Result<Vec<Message>, String>;
}

/// The memory tasks the model gave through `update_user_memory` during a run.
pub(super) type MemoryTasks = Arc<Mutex<Vec<String>>>;

/// The arguments of `update_session_state`.
#[derive(Debug, Deserialize, JsonSchema)]
struct StateUpdates {
    /// The updates to apply to the shared session state. Should be a dictionary of key-value
    /// pairs.
    session_state_updates: Map<String, Value>,
}

/// The arguments of `get_chat_history`.
#[derive(Debug, Deserialize, JsonSchema)]
struct ChatArgs {
    /// The number of chats to return. Each chat contains 2 messages. One from the user and one
    /// from the agent. Default: None
    #[serde(default)]
    num_chats: Option<usize>,
}

/// The arguments of `update_user_memory`.
#[derive(Debug, Deserialize, JsonSchema)]
struct MemoryTask {
    /// The task to update the memory. Be specific and describe the task in detail.
    task: String,
}

/// agno's `update_session_state`: sets each key it is given; answers with the whole state.
pub(super) fn update_session_state_tool() -> AgentTool {
    tool_fn(
        UPDATE_SESSION_STATE,
        "Update the shared session state.  Provide any updates as a dictionary of key-value pairs.\nExample:\n    \"session_state_updates\": {\"shopping_list\": [\"milk\", \"eggs\", \"bread\"]}",
        |ctx: ToolContext, args: StateUpdates| async move {
            let state = ctx.session_state.update(|state| {
                state.extend(args.session_state_updates);
                Value::Object(state.clone())
            });
            Ok::<_, String>(format!("Updated session state: {state}"))
        },
    )
    .into_tool()
}

/// agno's `get_chat_history`: the session's messages as a JSON list, the last `num_chats`
/// messages when given.
fn chat_history_tool(history: Arc<dyn ChatHistory>) -> AgentTool {
    tool_fn(
        "get_chat_history",
        "Use this function to get the chat history between the user and agent.",
        move |args: ChatArgs| {
            let history = history.clone();
            async move {
                let mut messages = history.messages().await?;
                if let Some(n) = args.num_chats {
                    messages = messages.split_off(messages.len().saturating_sub(n));
                }
                serde_json::to_string(&messages).map_err(|e| e.to_string())
            }
        },
    )
    .into_tool()
}

/// agno's `update_user_memory`: the task is kept for the memory manager, which carries it out
/// in a background job after the response.
fn update_user_memory_tool(tasks: MemoryTasks) -> AgentTool {
    tool_fn(
        "update_user_memory",
        "Use this function to submit a task to modify the Agent's memory.\nDescribe the task in detail and be specific.\nThe task can include adding a memory, updating a memory, deleting a memory, or clearing all memories.",
        move |args: MemoryTask| {
            let tasks = tasks.clone();
            async move {
                if args.task.trim().is_empty() {
                    return Err("the task is empty: describe the memory to add, update or delete".to_owned());
                }
                tasks.lock().unwrap_or_else(|p| p.into_inner()).push(args.task);
                Ok::<_, String>(
                    "Memory update scheduled: the memory manager applies it right after this response."
                        .to_owned(),
                )
            }
        },
    )
    .into_tool()
}

impl Agent {
    /// The tools of one run: the agent's own, plus the per-run built-ins it uses (and where the
    /// memory tasks of `update_user_memory` go).
    pub(super) fn tools_for(
        &self,
        call: &AgentCall,
    ) -> (Cow<'_, [AgentTool]>, Option<MemoryTasks>) {
        let Some(extras) = self.extras() else {
            return (Cow::Borrowed(&self.tools), None);
        };
        let chat = call
            .recall
            .as_ref()
            .and_then(|r| r.chat.clone())
            .filter(|_| extras.read_chat_history);
        let tasks = extras.memory.agentic.then(MemoryTasks::default);
        if chat.is_none() && tasks.is_none() {
            return (Cow::Borrowed(&self.tools), None);
        }
        let mut tools = self.tools.clone();
        if let Some(chat) = chat {
            tools.push(chat_history_tool(chat));
        }
        if let Some(tasks) = &tasks {
            tools.push(update_user_memory_tool(tasks.clone()));
        }
        (Cow::Owned(tools), tasks)
    }
}
