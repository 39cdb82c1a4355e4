//! [`MemoryManager`]: agno's memory manager. One conversation with a model that offers agno's
//! memory tools on one user's memories, run to its end (the tools' results fed back until the
//! model answers without calling any).

use super::prompts::{self, Enabled};
use super::{MemoryDb, UserMemory};
use crate::model::{ChatMessage, Model, ModelRequest, ToolCall};
use serde::Deserialize;
use std::sync::Arc;

/// Rounds of tool calls a memory manager's conversation may make before it stops.
const MAX_ROUNDS: usize = 10;

/// Manages a user's memories with a model, as agno's `MemoryManager`: after a run it reads the
/// user's message and adds, updates or deletes the facts worth keeping; through an agent's
/// `update_user_memory` tool it carries out the task the agent describes.
///
/// Its model defaults to the agent's. The prompt is agno's, word for word, unless replaced
/// ([`MemoryManager::system_message`]) or extended.
///
/// ```
/// use agentos::{Agent, MemoryManager, ScriptedModel};
/// let agent = Agent::new("Assistant")
///     .model(ScriptedModel::new())
///     .memory_manager(
///         MemoryManager::new()
///             .memory_capture_instructions("Capture the user's dietary preferences only.")
///             .delete_memories(true),
///     )
///     .update_memory_on_run(true);
/// # let _ = agent;
/// ```
#[derive(Clone)]
pub struct MemoryManager {
    model: Option<Arc<dyn Model>>,
    system_message: Option<String>,
    memory_capture_instructions: Option<String>,
    additional_instructions: Option<String>,
    delete: bool,
    update: bool,
    add: bool,
    clear: bool,
}

impl std::fmt::Debug for MemoryManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryManager")
            .field("model", &self.model.as_ref().map(|m| m.id().to_owned()))
            .field("delete", &self.delete)
            .field("update", &self.update)
            .field("add", &self.add)
            .field("clear", &self.clear)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryManager {
    fn default() -> Self {
        MemoryManager::new()
    }
}

/// The arguments of agno's memory tools (each tool reads the ones it has).
#[derive(Debug, Deserialize)]
struct ToolArgs {
    #[serde(default)]
    memory_id: Option<String>,
    #[serde(default)]
    memory: Option<String>,
    #[serde(default)]
    topics: Option<Vec<String>>,
}

impl MemoryManager {
    /// A manager with agno's defaults: it may add and update memories, not delete or clear them
    /// when asked through the agentic tool (after a run it may always delete, as agno's).
    pub fn new() -> MemoryManager {
        MemoryManager {
            model: None,
            system_message: None,
            memory_capture_instructions: None,
            additional_instructions: None,
            delete: false,
            update: true,
            add: true,
            clear: false,
        }
    }

    /// The model the manager talks to (default: the agent's).
    pub fn model(mut self, model: impl Model) -> MemoryManager {
        self.model = Some(Arc::new(model));
        self
    }

    /// The model, already shared.
    pub fn shared_model(mut self, model: Arc<dyn Model>) -> MemoryManager {
        self.model = Some(model);
        self
    }

    /// Replaces agno's whole system message.
    pub fn system_message(mut self, text: impl Into<String>) -> MemoryManager {
        self.system_message = Some(text.into());
        self
    }

    /// What memories should capture (agno's `memory_capture_instructions`).
    pub fn memory_capture_instructions(mut self, text: impl Into<String>) -> MemoryManager {
        self.memory_capture_instructions = Some(text.into());
        self
    }

    /// Appended to the system message.
    pub fn additional_instructions(mut self, text: impl Into<String>) -> MemoryManager {
        self.additional_instructions = Some(text.into());
        self
    }

    /// Whether the agentic tool may delete memories (default false).
    pub fn delete_memories(mut self, on: bool) -> MemoryManager {
        self.delete = on;
        self
    }

    /// Whether memories may be updated (default true).
    pub fn update_memories(mut self, on: bool) -> MemoryManager {
        self.update = on;
        self
    }

    /// Whether memories may be added (default true).
    pub fn add_memories(mut self, on: bool) -> MemoryManager {
        self.add = on;
        self
    }

    /// Whether the agentic tool may clear all memories (default false).
    pub fn clear_memories(mut self, on: bool) -> MemoryManager {
        self.clear = on;
        self
    }

    /// The manager's own model, if it has one.
    pub fn get_model(&self) -> Option<&Arc<dyn Model>> {
        self.model.as_ref()
    }

    /// After a run: the user's messages, read against their existing memories (agno's
    /// `create_user_memories`). Returns the model's last answer.
    pub(crate) async fn learn(
        &self,
        model: &dyn Model,
        db: &dyn MemoryDb,
        messages: Vec<ChatMessage>,
    ) -> Result<String, String> {
        let enabled = Enabled {
            add: self.add,
            update: self.update,
            delete: true,
            clear: false,
        };
        self.converse(model, db, messages, enabled).await
    }

    /// The task an agent gave through `update_user_memory` (agno's `update_memory_task`).
    pub(crate) async fn run_task(
        &self,
        model: &dyn Model,
        db: &dyn MemoryDb,
        task: &str,
    ) -> Result<String, String> {
        let enabled = Enabled {
            add: self.add,
            update: self.update,
            delete: self.delete,
            clear: self.clear,
        };
        let task = vec![ChatMessage::new("user", task)];
        self.converse(model, db, task, enabled).await
    }

    /// The conversation: agno's system message with the user's memories, then `messages`; each
    /// reply's tool calls are applied to `db` in order and their results fed back, until a
    /// reply calls none.
    async fn converse(
        &self,
        model: &dyn Model,
        db: &dyn MemoryDb,
        messages: Vec<ChatMessage>,
        enabled: Enabled,
    ) -> Result<String, String> {
        let existing: Vec<(String, String)> = db
            .memories()
            .await?
            .into_iter()
            .map(|m: UserMemory| (m.memory_id, m.memory))
            .collect();
        let system = match &self.system_message {
            Some(text) => text.clone(),
            None => prompts::manager_system_message(
                self.memory_capture_instructions.as_deref(),
                self.additional_instructions.as_deref(),
                &existing,
                enabled,
            ),
        };
        let mut request = ModelRequest {
            messages: std::iter::once(ChatMessage::new("system", system))
                .chain(messages)
                .collect(),
            tools: prompts::manager_tools(enabled),
            ..ModelRequest::default()
        };
        for _ in 0..MAX_ROUNDS {
            let reply = model.complete(&request).await.map_err(|e| e.to_string())?;
            if reply.tool_calls.is_empty() {
                return Ok(reply.content);
            }
            let mut results = Vec::with_capacity(reply.tool_calls.len());
            for call in &reply.tool_calls {
                let result = apply(db, call, enabled).await?;
                results.push(ChatMessage::tool_result(call.id.clone(), result));
            }
            request.messages.push(ChatMessage::assistant_tool_calls(
                reply.content,
                reply.tool_calls,
            ));
            request.messages.extend(results);
        }
        Ok("The memory manager stopped after too many rounds of tool calls.".to_owned())
    }
}

/// Applies one tool call, answering as agno's tools do. A database failure fails the attempt
/// (the job is retried); a mistake of the model's is told to the model.
async fn apply(db: &dyn MemoryDb, call: &ToolCall, enabled: Enabled) -> Result<String, String> {
    let args: ToolArgs = match serde_json::from_str(if call.arguments.trim().is_empty() {
        "{}"
    } else {
        &call.arguments
    }) {
        Ok(args) => args,
        Err(e) => return Ok(format!("Error: invalid arguments for {}: {e}", call.name)),
    };
    let missing = |what: &str| Ok(format!("Error: {} needs `{what}`", call.name));
    match call.name.as_str() {
        "add_memory" if enabled.add => {
            let Some(memory) = args.memory.filter(|m| !m.trim().is_empty()) else {
                return missing("memory");
            };
            db.add(&memory, &args.topics.unwrap_or_default()).await?;
            Ok("Memory added successfully".to_owned())
        }
        "update_memory" if enabled.update => {
            let Some(id) = args.memory_id else {
                return missing("memory_id");
            };
            let memory = args.memory.unwrap_or_default();
            if memory.is_empty() {
                return Ok("Can't update memory with empty string. Use the delete memory function if available.".to_owned());
            }
            match db.update(&id, &memory, args.topics.as_deref()).await? {
                true => Ok("Memory updated successfully".to_owned()),
                false => Ok(format!("Error: there is no memory with the id {id}")),
            }
        }
        "delete_memory" if enabled.delete => {
            let Some(id) = args.memory_id else {
                return missing("memory_id");
            };
            match db.delete(&id).await? {
                true => Ok("Memory deleted successfully".to_owned()),
                false => Ok(format!("Error: there is no memory with the id {id}")),
            }
        }
        "clear_memory" if enabled.clear => {
            db.clear().await?;
            Ok("Memory cleared successfully".to_owned())
        }
        other => Ok(format!("Error: the tool {other} is not available")),
    }
}

/// agno's summarize strategy: every memory of a user in one, by the model. Returns the new
/// memory's text.
pub(crate) async fn optimize(model: &dyn Model, memories: &[String]) -> Result<String, String> {
    let combined: Vec<String> = memories
        .iter()
        .enumerate()
        .map(|(i, m)| format!("Memory {}: {m}", i + 1))
        .collect();
    let request = ModelRequest {
        messages: vec![
            ChatMessage::new("system", prompts::OPTIMIZE_PROMPT),
            ChatMessage::new(
                "user",
                format!(
                    "Summarize these memories into a single summary:\n\n{}",
                    combined.join("\n\n")
                ),
            ),
        ],
        ..ModelRequest::default()
    };
    let reply = model.complete(&request).await.map_err(|e| e.to_string())?;
    let text = reply.content.trim();
    Ok(match text.is_empty() {
        true => memories.join(" "),
        false => text.to_owned(),
    })
}
