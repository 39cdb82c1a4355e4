//! Offline stand-ins for the model calls of memories and session summaries, shared by the
//! examples: what a `ScriptedModel` answers the memory manager and the session summary manager,
//! and what an agent's system message says it remembers.

use agentos::{ModelRequest, ScriptedReply};
use serde_json::json;

/// The memory manager's part, offline: a message about the user ("My name is Ana", "I love
/// jazz") becomes a memory with agno's `add_memory` tool; anything else changes nothing.
/// `None` when the request is not the memory manager's.
pub fn memory_manager_reply(req: &ModelRequest) -> Option<ScriptedReply> {
    if !req.tools.iter().any(|t| t.name == "add_memory") {
        return None;
    }
    if !req.tool_results().is_empty() {
        return Some(ScriptedReply::text("Memories updated."));
    }
    let message = req.last_user_message().trim();
    let lower = message.to_lowercase();
    let about_user = [
        "my ", "i am ", "i'm ", "i like ", "i love ", "i live ", "i work ",
    ];
    if !about_user.iter().any(|p| lower.starts_with(p)) {
        return Some(ScriptedReply::text("No memories to update."));
    }
    let topic = if lower.contains("name") {
        "name"
    } else if lower.contains("live") {
        "location"
    } else if lower.contains("work") {
        "work"
    } else {
        "preferences"
    };
    Some(ScriptedReply::tool_call(
        "add_memory",
        json!({"memory": format!("The user said: {message}"), "topics": [topic]}),
    ))
}

/// The session summary manager's part, offline: the conversation's user messages, joined.
/// `None` when the request is not the summary manager's.
pub fn summary_reply(req: &ModelRequest) -> Option<ScriptedReply> {
    let format = req.response_format.as_ref()?;
    if format.name != "SessionSummaryResponse" {
        return None;
    }
    let system = req
        .messages
        .first()
        .map(|m| m.content.as_str())
        .unwrap_or("");
    let asked: Vec<&str> = between(system, "<conversation>", "</conversation>")
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.strip_prefix("User: "))
        .collect();
    Some(ScriptedReply::json(json!({
        "summary": format!("The user asked: {}", asked.join(" / ")),
        "topics": ["conversation"],
    })))
}

/// What the system message says the agent remembers of the user, as a sentence to append to
/// an answer (empty when it remembers nothing).
pub fn remembered(req: &ModelRequest) -> String {
    let system = req
        .messages
        .first()
        .map(|m| m.content.as_str())
        .unwrap_or("");
    let Some(block) = between(
        system,
        "<memories_from_previous_interactions>",
        "</memories_from_previous_interactions>",
    ) else {
        return String::new();
    };
    let memories: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("- ")).collect();
    format!(" (I remember: {})", memories.join("; "))
}

/// The text between `open` and `close`.
pub fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    text.split(open).nth(1)?.split(close).next()
}
