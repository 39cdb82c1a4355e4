//! Prompt building, as agno 3.1.10 builds an agent's system and user messages
//! (`agno/agent/_messages.py`): description, instructions (a text, a list, or a function of the
//! run's context), additional information (markdown, the time, the agent's name), `{var}`
//! templates filled from the session state, dependencies, metadata and user id, the expected
//! output, additional context, the user's memories, the session summary and the session state.

use super::builtin::ChatHistory;
use super::{Agent, AgentCall};
use crate::context::RunContext;
use crate::memory;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A function giving an agent's instructions for one run.
type InstructionsFn = dyn Fn(&RunContext) -> Instructions + Send + Sync;

/// An agent's instructions: one text, a list (each a bullet of the system message, as agno
/// renders a list), or a function of the run's context, called once per run.
///
/// ```
/// use agentos::{Agent, Instructions, RunContext};
/// let fixed = Agent::new("A").instructions("Answer briefly.");
/// let listed = Agent::new("B").instructions(["Answer briefly.", "Cite your sources."]);
/// let per_user = Agent::new("C").instructions(Instructions::from_fn(|ctx: &RunContext| {
///     format!("You are talking to {}.", ctx.user_id.as_deref().unwrap_or("a guest")).into()
/// }));
/// # let _ = (fixed, listed, per_user);
/// ```
#[derive(Clone)]
pub enum Instructions {
    /// One text.
    Text(String),
    /// Several, rendered as a bulleted list.
    List(Vec<String>),
    /// Computed from the run's context when the run starts.
    Dynamic(Arc<InstructionsFn>),
}

impl std::fmt::Debug for Instructions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Instructions::Text(t) => f.debug_tuple("Text").field(t).finish(),
            Instructions::List(l) => f.debug_tuple("List").field(l).finish(),
            Instructions::Dynamic(_) => f.write_str("Dynamic"),
        }
    }
}

impl Instructions {
    /// Instructions computed from the run's context (agno's callable `instructions`).
    pub fn from_fn<F>(f: F) -> Instructions
    where
        F: Fn(&RunContext) -> Instructions + Send + Sync + 'static,
    {
        Instructions::Dynamic(Arc::new(f))
    }

    /// The instructions for this run, as a list.
    fn resolve(&self, ctx: &RunContext) -> Vec<String> {
        match self {
            Instructions::Text(t) => vec![t.clone()],
            Instructions::List(l) => l.clone(),
            Instructions::Dynamic(f) => match f(ctx) {
                Instructions::Dynamic(_) => Vec::new(),
                other => other.resolve(ctx),
            },
        }
    }
}

impl From<&str> for Instructions {
    fn from(s: &str) -> Instructions {
        Instructions::Text(s.to_owned())
    }
}

impl From<String> for Instructions {
    fn from(s: String) -> Instructions {
        Instructions::Text(s)
    }
}

impl From<&String> for Instructions {
    fn from(s: &String) -> Instructions {
        Instructions::Text(s.clone())
    }
}

impl From<Vec<String>> for Instructions {
    fn from(l: Vec<String>) -> Instructions {
        Instructions::List(l)
    }
}

impl From<Vec<&str>> for Instructions {
    fn from(l: Vec<&str>) -> Instructions {
        Instructions::List(l.into_iter().map(str::to_owned).collect())
    }
}

impl<const N: usize> From<[&str; N]> for Instructions {
    fn from(l: [&str; N]) -> Instructions {
        Instructions::List(l.into_iter().map(str::to_owned).collect())
    }
}

/// What the runtime read for an agent's context before its run: the user's memories, the
/// session's summary and its earlier messages (each only when the agent asks for it).
#[derive(Clone, Default)]
pub(crate) struct Recall {
    /// The user's memories, oldest first (`Some` when the agent adds memories to its context).
    pub memories: Option<Vec<String>>,
    /// The session's summary, if it has one and the agent adds it to its context.
    pub summary: Option<String>,
    /// The session's earlier messages, for `get_chat_history`.
    pub chat: Option<Arc<dyn ChatHistory>>,
}

impl std::fmt::Debug for Recall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recall")
            .field("memories", &self.memories)
            .field("summary", &self.summary)
            .field("chat", &self.chat.is_some())
            .finish()
    }
}

impl Agent {
    /// The system message of a run (agno's `get_system_message`); `None` when it would be
    /// empty. An agent with only a text of instructions and no template in it sends that
    /// text as it is, without building anything.
    pub(super) fn system_message(&self, rctx: &RunContext, call: &AgentCall) -> Option<String> {
        let Some(extras) = &self.extras else {
            return match &self.instructions {
                None => None,
                Some(Instructions::Text(t)) if !t.contains('{') => Some(t.clone()),
                Some(instructions) => {
                    let rendered = render_instructions(&instructions.resolve(rctx));
                    let text = fill_templates(&rendered, rctx);
                    let text = text.trim();
                    (!text.is_empty()).then(|| text.to_owned())
                }
            };
        };
        let instructions = self
            .instructions
            .as_ref()
            .map(|i| i.resolve(rctx))
            .unwrap_or_default();
        let mut info: Vec<String> = Vec::new();
        if extras.markdown && self.loop_settings.output_schema.is_none() {
            info.push("Use markdown to format your answers.".to_owned());
        }
        if extras.add_datetime_to_context {
            let now = chrono::Local::now();
            let time = match &extras.datetime_format {
                Some(format) => now.format(format).to_string(),
                None => now.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
            };
            info.push(format!("The current time is {time}."));
        }
        if extras.add_name_to_context {
            info.push(format!("Your name is: {}.", self.name));
        }

        let mut out = String::new();
        if let Some(description) = &extras.description {
            out.push_str(description);
            out.push('\n');
        }
        if !instructions.is_empty() {
            let rendered = render_instructions(&instructions);
            match extras.use_instruction_tags {
                true => out.push_str(&format!("<instructions>\n{rendered}\n</instructions>\n\n")),
                false => {
                    out.push_str(&rendered);
                    out.push_str("\n\n");
                }
            }
        }
        if !info.is_empty() {
            out.push_str("<additional_information>");
            for line in &info {
                out.push_str("\n- ");
                out.push_str(line);
            }
            out.push_str("\n</additional_information>\n\n");
        }
        if extras.resolve_in_context {
            out = fill_templates(&out, rctx);
        }
        if let Some(expected) = &extras.expected_output {
            out.push_str(&format!(
                "<expected_output>\n{}\n</expected_output>\n\n",
                expected.trim()
            ));
        }
        if let Some(additional) = &extras.additional_context {
            out.push_str(additional);
            out.push('\n');
        }
        let recall = call.recall.as_deref();
        if extras.memories_in_context() {
            let memories = recall.and_then(|r| r.memories.as_deref()).unwrap_or(&[]);
            out.push_str(&memory::memories_block(memories));
            if extras.memory.agentic {
                out.push_str(memory::AGENTIC_MEMORY_INSTRUCTIONS);
            }
        }
        if let Some(summary) = recall.and_then(|r| r.summary.as_deref())
            && extras.summary_in_context()
        {
            out.push_str(&memory::summary_block(summary));
        }
        if extras.add_session_state_to_context {
            let state = Value::Object(rctx.session_state.snapshot());
            out.push_str(&format!("\n<session_state>\n{state}\n</session_state>\n\n"));
        }
        let out = out.trim();
        (!out.is_empty()).then(|| out.to_owned())
    }

    /// The user message of a run (agno's `get_user_message`): the input with its templates
    /// filled, and the dependencies after it when the agent adds them to its context.
    pub(super) fn user_message(&self, rctx: &RunContext, input: &str) -> String {
        let Some(extras) = &self.extras else {
            return input.to_owned();
        };
        let mut text = match extras.resolve_in_context {
            true => fill_templates(input, rctx),
            false => input.to_owned(),
        };
        if extras.add_dependencies_to_context && !rctx.dependencies.is_empty() {
            let deps = serde_json::to_string_pretty(&rctx.dependencies).unwrap_or_default();
            text.push_str(&format!(
                "\n\n<additional context>\n{deps}\n</additional context>"
            ));
        }
        text
    }
}

/// agno's `render_instructions`: one instruction as it is; several as `- ` bullets, except
/// that instructions of several lines stand as blocks of their own.
fn render_instructions(instructions: &[String]) -> String {
    if let [one] = instructions {
        return one.clone();
    }
    let is_block = |i: &str| i.trim().contains('\n');
    if !instructions.iter().any(|i| is_block(i)) {
        return instructions
            .iter()
            .map(|i| format!("- {}", i.trim()))
            .collect::<Vec<_>>()
            .join("\n");
    }
    instructions
        .iter()
        .map(|i| match is_block(i) {
            true => i.clone(),
            false => format!("- {}", i.trim()),
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Fills `{name}` with the value of `name` in the session state, else the dependencies, else
/// the metadata, else `user_id` (agno's `format_message_with_state_variables`). Names no source
/// has stay as written.
pub(crate) fn fill_templates(text: &str, ctx: &RunContext) -> String {
    if !text.contains('{') {
        return text.to_owned();
    }
    let state = ctx.session_state.snapshot();
    let empty = Map::new();
    let sources = [
        &state,
        &ctx.dependencies,
        ctx.metadata.as_ref().unwrap_or(&empty),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_end = after.find(|c: char| !(c.is_alphanumeric() || c == '_'));
        let value = match name_end {
            Some(end) if end > 0 && after[end..].starts_with('}') => {
                let name = &after[..end];
                let found = sources.iter().find_map(|s| s.get(name)).map(python_str);
                found
                    .or_else(|| (name == "user_id").then(|| ctx.user_id.clone()).flatten())
                    .map(|v| (v, end))
            }
            _ => None,
        };
        match value {
            Some((value, end)) => {
                out.push_str(&value);
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A value as Python's `str()` shows it in a filled template: strings as they are, `True`,
/// `False` and `None` for JSON's literals, numbers as written, lists and objects as JSON.
fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_take_state_then_dependencies_then_metadata_then_user() {
        let mut ctx = RunContext::new("r", "s").user_id("alice");
        ctx.session_state.set("city", "Lyon");
        ctx.session_state.set("vip", true);
        ctx.dependencies.insert("city".into(), json!("Paris"));
        ctx.dependencies
            .insert("plan".into(), json!({"tier": "gold"}));
        ctx.metadata = Some(Map::from_iter([("team".to_owned(), json!(7))]));
        let text = "{user_id} in {city}, {plan} {team} {vip} {unknown} {not a var} {} {{city}}";
        assert_eq!(
            fill_templates(text, &ctx),
            "alice in Lyon, {\"tier\":\"gold\"} 7 True {unknown} {not a var} {} {Lyon}"
        );
    }

    #[test]
    fn instructions_render_as_agno_renders_them() {
        let one = ["Be brief.".to_owned()];
        assert_eq!(render_instructions(&one), "Be brief.");
        let two = ["Be brief. ".to_owned(), "Cite sources.".to_owned()];
        assert_eq!(render_instructions(&two), "- Be brief.\n- Cite sources.");
        let block = ["Be brief.".to_owned(), "Rules:\n- one\n- two".to_owned()];
        assert_eq!(
            render_instructions(&block),
            "- Be brief.\n\nRules:\n- one\n- two"
        );
    }
}
