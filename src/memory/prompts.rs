//! agno's texts for the memory manager and the session summary manager, word for word, so that
//! prompts tuned for agno work unchanged: the manager's system message and its tools'
//! descriptions (agno 3.1.10, `agno/memory/manager.py` and `agno/session/summary.py`).

use crate::model::ToolDefinition;
use serde_json::{Value, json};

/// What the manager captures when no `memory_capture_instructions` are set.
const MEMORY_CAPTURE_INSTRUCTIONS: &str = "\
Memories should capture personal information about the user that is relevant to the current conversation, such as:
- Personal facts: name, age, occupation, location, interests, and preferences
- Opinions and preferences: what the user likes, dislikes, enjoys, or finds frustrating
- Significant life events or experiences shared by the user
- Important context about the user's current situation, challenges, or goals
- Any other details that offer meaningful insight into the user's personality, perspective, or needs
";

/// Which of its four tools the manager offers on a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Enabled {
    pub add: bool,
    pub update: bool,
    pub delete: bool,
    pub clear: bool,
}

/// agno's `MemoryManager.get_system_message`: the criteria, the tools offered and the user's
/// existing memories (`(id, memory)`).
pub(crate) fn manager_system_message(
    capture: Option<&str>,
    additional: Option<&str>,
    existing: &[(String, String)],
    enabled: Enabled,
) -> String {
    let mut lines: Vec<String> = [
        "You are a Memory Manager that is responsible for managing information and preferences about the user. You will be provided with a criteria for memories to capture in the <memories_to_capture> section and a list of existing memories in the <existing_memories> section.",
        "",
        "## When to add or update memories",
        "- Your first task is to decide if a memory needs to be added, updated, or deleted based on the user's message OR if no changes are needed.",
        "- If the user's message meets the criteria in the <memories_to_capture> section and that information is not already captured in the <existing_memories> section, you should capture it as a memory.",
        "- If the users messages does not meet the criteria in the <memories_to_capture> section, no memory updates are needed.",
        "- If the existing memories in the <existing_memories> section capture all relevant information, no memory updates are needed.",
        "",
        "## How to add or update memories",
        "- If you decide to add a new memory, create memories that captures key information, as if you were storing it for future reference.",
        "- Memories should be a brief, third-person statements that encapsulate the most important aspect of the user's input, without adding any extraneous information.",
        "  - Example: If the user's message is 'I'm going to the gym', a memory could be `John Doe goes to the gym regularly`.",
        "  - Example: If the user's message is 'My name is John Doe', a memory could be `User's name is John Doe`.",
        "- Don't make a single memory too long or complex, create multiple memories if needed to capture all the information.",
        "- Don't make a single memory too long or complex, create multiple memories if needed to capture all the information.",
        "- Don't repeat the same information in multiple memories. Rather update existing memories if needed.",
        "- If a user asks for a memory to be updated or forgotten, remove all reference to the information that should be forgotten. Don't say 'The user used to like ...`",
        "- When updating a memory, append the existing memory with new information rather than completely overwriting it.",
        "- When a user's preferences change, update the relevant memories to reflect the new preferences but also capture what the user's preferences used to be and what has changed.",
        "",
        "## Criteria for creating memories",
        "Use the following criteria to determine if a user's message should be captured as a memory.",
        "",
        "<memories_to_capture>",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    lines.push(capture.unwrap_or(MEMORY_CAPTURE_INSTRUCTIONS).to_owned());
    lines.extend(
        [
            "</memories_to_capture>",
            "",
            "## Updating memories",
            "You will also be provided with a list of existing memories in the <existing_memories> section. You can:",
            "  - Decide to make no changes.",
        ]
        .map(str::to_owned),
    );
    let offered = [
        (
            enabled.add,
            "  - Decide to add a new memory, using the `add_memory` tool.",
        ),
        (
            enabled.update,
            "  - Decide to update an existing memory, using the `update_memory` tool.",
        ),
        (
            enabled.delete,
            "  - Decide to delete an existing memory, using the `delete_memory` tool.",
        ),
        (
            enabled.clear,
            "  - Decide to clear all memories, using the `clear_memory` tool.",
        ),
    ];
    lines.extend(
        offered
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, line)| (*line).to_owned()),
    );
    lines.push("You can call multiple tools in a single response if needed. ".to_owned());
    lines.push(
        "Only add or update memories if it is necessary to capture key information provided by the user."
            .to_owned(),
    );
    if !existing.is_empty() {
        lines.push("\n<existing_memories>".to_owned());
        for (id, memory) in existing {
            lines.push(format!("ID: {id}"));
            lines.push(format!("Memory: {memory}"));
            lines.push(String::new());
        }
        lines.push("</existing_memories>".to_owned());
    }
    if let Some(additional) = additional {
        lines.push(additional.to_owned());
    }
    lines.join("\n")
}

/// The JSON schema of agno's `topics` argument: a list of strings, or null (strict mode makes
/// every argument required, an optional one nullable).
fn topics_schema() -> Value {
    json!({
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
        "description": "The topics of the memory (e.g. [\"name\", \"hobbies\", \"location\"])."
    })
}

/// The definitions of the manager's tools that are `enabled`, in agno's order, with agno's
/// names, arguments and descriptions.
pub(crate) fn manager_tools(enabled: Enabled) -> Vec<ToolDefinition> {
    let mut tools = Vec::with_capacity(4);
    let def =
        |name: &str, description: &str, properties: Value, required: &[&str]| ToolDefinition {
            name: name.to_owned(),
            description: description.to_owned(),
            parameters: json!({
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": false,
            }),
        };
    if enabled.add {
        tools.push(def(
            "add_memory",
            "Use this function to add a memory to the database.",
            json!({
                "memory": {"type": "string", "description": "The memory to be added."},
                "topics": topics_schema(),
            }),
            &["memory", "topics"],
        ));
    }
    if enabled.update {
        tools.push(def(
            "update_memory",
            "Use this function to update an existing memory in the database.",
            json!({
                "memory_id": {"type": "string", "description": "The id of the memory to be updated."},
                "memory": {"type": "string", "description": "The updated memory."},
                "topics": topics_schema(),
            }),
            &["memory_id", "memory", "topics"],
        ));
    }
    if enabled.delete {
        tools.push(def(
            "delete_memory",
            "Use this function to delete a single memory from the database.",
            json!({
                "memory_id": {"type": "string", "description": "The id of the memory to be deleted."},
            }),
            &["memory_id"],
        ));
    }
    if enabled.clear {
        tools.push(def(
            "clear_memory",
            "Use this function to remove all (or clear all) memories from the database.",
            json!({}),
            &[],
        ));
    }
    tools
}

/// agno's session summary prompt, before the conversation.
pub(crate) const SUMMARY_PROMPT: &str = "\
Analyze the following conversation between a user and an assistant, and extract the following details:
- Summary (str): Provide a concise summary of the session, focusing on important information that would be helpful for future interactions.
- Topics (Optional[List[str]]): List the topics discussed in the session.
Keep the summary concise and to the point. Only include relevant information.
";

/// agno's request for the summary, sent as the user message.
pub(crate) const SUMMARY_REQUEST: &str = "Provide the summary of the conversation.";

/// agno's optimization (summarize strategy) system prompt.
pub(crate) const OPTIMIZE_PROMPT: &str = "\
You are a memory compression assistant. Your task is to summarize multiple memories about a user
into a single comprehensive summary while preserving all key facts.

Requirements:
- Combine related information from all memories
- Preserve all factual information
- Remove redundancy and consolidate repeated facts
- Create a coherent narrative about the user
- Maintain third-person perspective
- Do not add information not present in the original memories

Return only the summarized memory text, nothing else.";
