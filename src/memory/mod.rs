//! User memories and session summaries, as agno's `MemoryManager` and
//! `SessionSummaryManager`: what they are configured with, and the model calls they make.
//!
//! - [`MemoryManager`]: after a run (or when the model asks through its `update_user_memory`
//!   tool), one conversation with a model that offers agno's own memory tools (`add_memory`,
//!   `update_memory`, `delete_memory`, `clear_memory`, same names and arguments) on the user's
//!   memories;
//! - [`SessionSummaryManager`]: a summary of a session's conversation, with its topics.
//!
//! Both run as durable background jobs after the response (the runtime's memory jobs); this
//! module knows no database: it works on a [`MemoryDb`], which the runtime binds to the store
//! and to one user.

mod manager;
mod prompts;
mod summary;

pub use manager::MemoryManager;
pub(crate) use manager::optimize;
pub use summary::{SessionSummary, SessionSummaryManager};

use async_trait::async_trait;

/// One of a user's memories, as the memory manager sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserMemory {
    pub memory_id: String,
    pub memory: String,
    pub topics: Vec<String>,
}

/// One user's memories, as the memory manager's tools change them. Errors are messages: the
/// tool gives them back to the model.
#[async_trait]
pub(crate) trait MemoryDb: Send + Sync {
    /// Every memory of the user, oldest first.
    async fn memories(&self) -> Result<Vec<UserMemory>, String>;
    /// Adds a memory.
    async fn add(&self, memory: &str, topics: &[String]) -> Result<(), String>;
    /// Changes a memory of the user; `false` if the user has none with this id.
    async fn update(
        &self,
        memory_id: &str,
        memory: &str,
        topics: Option<&[String]>,
    ) -> Result<bool, String>;
    /// Deletes a memory of the user; `false` if the user has none with this id.
    async fn delete(&self, memory_id: &str) -> Result<bool, String>;
    /// Deletes every memory of the user.
    async fn clear(&self) -> Result<(), String>;
}

/// agno's text before the memories in an agent's system message.
pub(crate) fn memories_block(memories: &[String]) -> String {
    if memories.is_empty() {
        return "You have the capability to retain memories from previous interactions with the user, but have not had any interactions with the user yet.\n".to_owned();
    }
    let mut out = String::from(
        "You have access to user info and preferences from previous interactions that you can use to personalize your response:\n\n<memories_from_previous_interactions>",
    );
    for memory in memories {
        out.push_str("\n- ");
        out.push_str(memory);
    }
    out.push_str("\n</memories_from_previous_interactions>\n\n");
    out.push_str("Note: this information is from previous interactions and may be updated in this conversation. You should always prefer information from this conversation over the past memories.\n");
    out
}

/// agno's instructions for the agentic memory tool, in the system message.
pub(crate) const AGENTIC_MEMORY_INSTRUCTIONS: &str = "\n<updating_user_memories>\n\
- You have access to the `update_user_memory` tool that you can use to add new memories, update existing memories, delete memories, or clear all memories.\n\
- If the user's message includes information that should be captured as a memory, use the `update_user_memory` tool to update your memory database.\n\
- Memories should include details that could personalize ongoing interactions with the user.\n\
- Use this tool to add new memories or update existing memories that you identify in the conversation.\n\
- Use this tool if the user asks to update their memory, delete a memory, or clear all memories.\n\
- If you use the `update_user_memory` tool, remember to pass on the response to the user.\n\
</updating_user_memories>\n\n";

/// agno's block presenting the session summary in an agent's system message.
pub(crate) fn summary_block(summary: &str) -> String {
    format!(
        "Here is a brief summary of your previous interactions:\n\n<summary_of_previous_interactions>\n{summary}\n</summary_of_previous_interactions>\n\nNote: this information is from previous interactions and may be outdated. You should ALWAYS prefer information from this conversation over the past summary.\n\n"
    )
}
