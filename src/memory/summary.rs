//! [`SessionSummaryManager`]: agno's session summaries, a short account of a session's
//! conversation with its topics, made by a model after runs and stored on the session.

use super::prompts;
use crate::model::{ChatMessage, Model, ModelRequest};
use crate::output::OutputSchema;
use crate::run::Message;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A session's summary, as stored on the session and shown by `GET /sessions/{id}`
/// (`session_summary`): agno's `SessionSummary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// The summary.
    pub summary: String,
    /// The topics discussed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<String>>,
    /// When it was made (ISO-8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// What the model answers (agno's `SessionSummaryResponse`).
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "SessionSummaryResponse")]
struct SessionSummaryResponse {
    /// Summary of the session. Be concise and focus on only important information. Do not make
    /// anything up.
    summary: String,
    /// Topics discussed in the session.
    topics: Option<Vec<String>>,
}

/// Makes session summaries, as agno's `SessionSummaryManager`: the session's conversation is
/// put in the system message, and the model answers with a summary and topics (OpenAI's
/// structured output).
///
/// ```
/// use agentos::{Agent, ScriptedModel, SessionSummaryManager};
/// let agent = Agent::new("Support")
///     .model(ScriptedModel::new())
///     .session_summary_manager(SessionSummaryManager::new().last_n_runs(10))
///     .add_session_summary_to_context(true);
/// # let _ = agent;
/// ```
#[derive(Clone, Default)]
pub struct SessionSummaryManager {
    model: Option<Arc<dyn Model>>,
    prompt: Option<String>,
    request_message: Option<String>,
    last_n_runs: Option<usize>,
    conversation_limit: Option<usize>,
}

impl std::fmt::Debug for SessionSummaryManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSummaryManager")
            .field("model", &self.model.as_ref().map(|m| m.id().to_owned()))
            .field("last_n_runs", &self.last_n_runs)
            .finish_non_exhaustive()
    }
}

impl SessionSummaryManager {
    /// agno's defaults: the whole session, agno's prompt, the agent's model.
    pub fn new() -> SessionSummaryManager {
        SessionSummaryManager::default()
    }

    /// The model that summarizes (default: the agent's).
    pub fn model(mut self, model: impl Model) -> SessionSummaryManager {
        self.model = Some(Arc::new(model));
        self
    }

    /// Replaces agno's prompt (the conversation still follows it).
    pub fn session_summary_prompt(mut self, prompt: impl Into<String>) -> SessionSummaryManager {
        self.prompt = Some(prompt.into());
        self
    }

    /// Replaces the user message asking for the summary.
    pub fn summary_request_message(mut self, text: impl Into<String>) -> SessionSummaryManager {
        self.request_message = Some(text.into());
        self
    }

    /// Summarizes only the last `n` runs (default: all of them).
    pub fn last_n_runs(mut self, n: usize) -> SessionSummaryManager {
        self.last_n_runs = Some(n.max(1));
        self
    }

    /// Summarizes at most the last `n` messages.
    pub fn conversation_limit(mut self, n: usize) -> SessionSummaryManager {
        self.conversation_limit = Some(n.max(1));
        self
    }

    /// The manager's own model, if it has one.
    pub fn get_model(&self) -> Option<&Arc<dyn Model>> {
        self.model.as_ref()
    }

    /// How many of the session's last runs to summarize (`None`: all).
    pub(crate) fn runs_to_read(&self) -> Option<usize> {
        self.last_n_runs
    }

    /// Summarizes `conversation` (the session's messages, oldest first). `Ok(None)` when there
    /// is nothing to summarize.
    pub(crate) async fn summarize(
        &self,
        model: &dyn Model,
        conversation: &[Message],
    ) -> Result<Option<SessionSummary>, String> {
        let mut lines: Vec<String> = conversation
            .iter()
            .filter_map(|m| match m.role.as_str() {
                "user" if !m.text().trim().is_empty() => Some(format!("User: {}", m.text())),
                "assistant" | "model" if m.text().trim().is_empty() => None,
                "assistant" | "model" => Some(format!("Assistant: {}\n", m.text())),
                _ => None,
            })
            .collect();
        if let Some(limit) = self.conversation_limit {
            lines = lines.split_off(lines.len().saturating_sub(limit));
        }
        if lines.is_empty() {
            return Ok(None);
        }
        let schema = OutputSchema::of::<SessionSummaryResponse>();
        let mut system = self
            .prompt
            .clone()
            .unwrap_or_else(|| prompts::SUMMARY_PROMPT.to_owned());
        system.push_str("<conversation>");
        system.push_str(&lines.join("\n"));
        system.push_str("</conversation>");
        let request = ModelRequest {
            messages: vec![
                ChatMessage::new("system", system),
                ChatMessage::new(
                    "user",
                    self.request_message
                        .as_deref()
                        .unwrap_or(prompts::SUMMARY_REQUEST),
                ),
            ],
            response_format: Some(schema.format.clone()),
            ..ModelRequest::default()
        };
        let reply = model.complete(&request).await.map_err(|e| e.to_string())?;
        let parsed = schema.parse(&reply.content)?;
        let response: SessionSummaryResponse =
            serde_json::from_value(parsed).map_err(|e| e.to_string())?;
        Ok(Some(SessionSummary {
            summary: response.summary,
            topics: response.topics,
            updated_at: Some(
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            ),
        }))
    }
}
