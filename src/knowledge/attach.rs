//! [`KnowledgeAttachment`]: a knowledge base as an agent (or a team) uses it: agno's
//! `search_knowledge_base` tool, the instructions about it, and references added to the
//! user's message. One piece, so that any component that talks to a model attaches knowledge
//! the same way.

use super::Knowledge;
use crate::context::RunContext;
use crate::retrieval::{MetadataFilter, SearchHit};
use crate::run::Message;
use crate::tool::{AgentTool, IntoTool, Tool, ToolContext, ToolError};
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The name of agno's search tool.
pub const SEARCH_TOOL: &str = "search_knowledge_base";

/// agno's `_SEARCH_KNOWLEDGE_INSTRUCTIONS`, added to the system message when the tool is on.
const SEARCH_INSTRUCTIONS: &str = "You have a knowledge base you can search using the \
     search_knowledge_base tool. Search before answering questions—don't assume you know the \
     answer. For ambiguous questions, search first rather than asking for clarification.";

/// A knowledge base attached to an agent (or a team) and how it is used. Agno's defaults:
/// the model gets the search tool (agentic RAG); references in the context are off.
#[derive(Debug, Clone)]
pub struct KnowledgeAttachment {
    knowledge: Knowledge,
    /// agno's `search_knowledge`.
    pub search_tool: bool,
    /// agno's `add_knowledge_to_context`: the best chunks for the user's message are added
    /// to it before the model is called.
    pub add_references: bool,
    /// agno's `knowledge_filters`: every search is limited to content with this metadata (a
    /// request's `knowledge_filters` override it key by key).
    pub filters: MetadataFilter,
    /// agno's `enable_agentic_knowledge_filters`: the tool takes a `filters` argument and the
    /// instructions list the metadata keys.
    pub agentic_filters: bool,
}

impl KnowledgeAttachment {
    /// `knowledge` with agno's defaults.
    pub fn new(knowledge: Knowledge) -> KnowledgeAttachment {
        KnowledgeAttachment {
            knowledge,
            search_tool: true,
            add_references: false,
            filters: MetadataFilter::none(),
            agentic_filters: false,
        }
    }

    /// The knowledge base.
    pub fn knowledge(&self) -> &Knowledge {
        &self.knowledge
    }

    /// The search tool the model gets, if it gets one.
    pub fn tool(&self) -> Option<AgentTool> {
        if !self.search_tool {
            return None;
        }
        let search = SearchTool {
            attachment: Box::new(self.clone()),
        };
        Some(match self.agentic_filters {
            true => FilteredSearchTool(search).into_tool(),
            false => search.into_tool(),
        })
    }

    /// The filters of a search in this run: the attachment's, overridden by the request's.
    pub fn run_filters(&self, ctx: &RunContext) -> MetadataFilter {
        match &ctx.knowledge_filters {
            Some(request) => self.filters.merged(request),
            None => self.filters.clone(),
        }
    }

    /// What to add to the system message (agno's `<knowledge_base>` block), if anything.
    pub async fn instructions(&self) -> Option<String> {
        if !self.search_tool {
            return None;
        }
        let mut parts = vec![SEARCH_INSTRUCTIONS.to_owned()];
        if self.agentic_filters {
            let keys = self.knowledge.filter_keys().await.unwrap_or_default();
            if !keys.is_empty() {
                parts.push(format!(
                    "The knowledge base contains documents with these metadata filters: {}.\n\
                     Always use filters when the user query indicates specific metadata: pass \
                     them to the search_knowledge_base tool as a list of {{\"key\": ..., \
                     \"value\": ...}} objects whose keys are among those above.",
                    keys.join(", ")
                ));
            }
        }
        Some(format!(
            "<knowledge_base>\n{}\n</knowledge_base>",
            parts.join("\n")
        ))
    }

    /// Adds what the knowledge base gives a model call to a run's first messages: the
    /// instructions to the system message (one is added first if there is none), the
    /// references to the last message (the user's input).
    pub async fn prepare(&self, ctx: &RunContext, input: &str, messages: &mut Vec<Message>) {
        if let Some(instructions) = self.instructions().await {
            match messages.first_mut().filter(|m| m.role == "system") {
                Some(system) => {
                    let text = format!("{}\n\n{instructions}", system.text());
                    system.content = Some(text);
                }
                None => messages.insert(0, Message::new("system", instructions)),
            }
        }
        if let Some(references) = self.references(ctx, input).await
            && let Some(user) = messages.last_mut()
        {
            let text = format!("{}{references}", user.text());
            user.content = Some(text);
        }
    }

    /// What to append to the user's message (agno's references block), when references are
    /// on and the search found something. A failed search adds nothing (and is logged): the
    /// model still answers.
    pub async fn references(&self, ctx: &RunContext, input: &str) -> Option<String> {
        if !self.add_references {
            return None;
        }
        let filter = self.run_filters(ctx);
        match self.knowledge.search(input, None, None, &filter).await {
            Ok(hits) if !hits.is_empty() => Some(format!(
                "\n\nUse the following references from the knowledge base if it helps:\n\
                 <references>\n{}\n</references>",
                documents(&hits)
            )),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(knowledge = %self.knowledge.id(), error = %e,
                    "no references added: the search failed");
                None
            }
        }
    }
}

/// Hits as agno's documents (`Document.to_dict()`: `name`, `content`, `meta_data`), JSON with
/// two-space indents, as agno's `references_format="json"`.
pub fn documents(hits: &[SearchHit]) -> String {
    let docs: Vec<Value> = hits
        .iter()
        .map(|h| {
            let mut meta = h.meta.clone();
            meta.insert("content_id".into(), json!(h.content_id));
            if let Some(source) = &h.source {
                meta.insert("source".into(), json!(source));
            }
            let mut doc = Map::new();
            if let Some(name) = &h.name {
                doc.insert("name".into(), json!(name));
            }
            doc.insert("meta_data".into(), Value::Object(meta));
            doc.insert("content".into(), json!(h.text));
            Value::Object(doc)
        })
        .collect();
    serde_json::to_string_pretty(&docs).unwrap_or_else(|_| "[]".to_owned())
}

/// `search_knowledge_base(query)`.
#[derive(Debug)]
struct SearchTool {
    attachment: Box<KnowledgeAttachment>,
}

/// The arguments of agno's `search_knowledge_base`.
#[derive(Debug, Deserialize, JsonSchema)]
struct SearchArgs {
    /// The query to search for.
    query: String,
}

/// agno's `KnowledgeFilter`.
#[derive(Debug, Deserialize, JsonSchema)]
struct KnowledgeFilter {
    /// A metadata key.
    key: String,
    /// The value it must have.
    value: Value,
}

/// The arguments of agno's `search_knowledge_base` with agentic filters.
#[derive(Debug, Deserialize, JsonSchema)]
struct FilteredSearchArgs {
    /// The query to search for.
    query: String,
    /// The filters to apply to the search. This is a list of KnowledgeFilter objects.
    #[serde(default)]
    filters: Option<Vec<KnowledgeFilter>>,
}

const DESCRIPTION: &str = "Use this function to search the knowledge base for information about \
     a query.";

impl SearchTool {
    async fn run(&self, ctx: &RunContext, query: &str, agentic: MetadataFilter) -> String {
        let set = self.attachment.run_filters(ctx);
        // agno: the model's filters apply only when the user (agent or request) set none.
        let filter = if set.is_empty() { agentic } else { set };
        let knowledge = &self.attachment.knowledge;
        match knowledge.search(query, None, None, &filter).await {
            Ok(hits) if hits.is_empty() => "No documents found".to_owned(),
            Ok(hits) => documents(&hits),
            Err(e) => {
                tracing::warn!(knowledge = %knowledge.id(), error = %e, "knowledge search failed");
                format!("Error searching knowledge base: {e}")
            }
        }
    }
}

#[async_trait]
impl Tool for SearchTool {
    type Args = SearchArgs;
    type Output = String;
    fn name(&self) -> &str {
        SEARCH_TOOL
    }
    fn description(&self) -> &str {
        DESCRIPTION
    }
    async fn call(&self, args: SearchArgs) -> Result<String, ToolError> {
        let ctx = RunContext::new("", "");
        Ok(self.run(&ctx, &args.query, MetadataFilter::none()).await)
    }
    async fn call_with_context(
        &self,
        ctx: &ToolContext,
        args: SearchArgs,
    ) -> Result<String, ToolError> {
        Ok(self.run(ctx, &args.query, MetadataFilter::none()).await)
    }
}

/// `search_knowledge_base(query, filters)`.
#[derive(Debug)]
struct FilteredSearchTool(SearchTool);

impl FilteredSearchTool {
    fn filter(filters: Option<Vec<KnowledgeFilter>>) -> Result<MetadataFilter, ToolError> {
        let map: Map<String, Value> = filters
            .unwrap_or_default()
            .into_iter()
            .map(|f| (f.key, f.value))
            .collect();
        MetadataFilter::from_map(&map).map_err(ToolError::new)
    }
}

#[async_trait]
impl Tool for FilteredSearchTool {
    type Args = FilteredSearchArgs;
    type Output = String;
    fn name(&self) -> &str {
        SEARCH_TOOL
    }
    fn description(&self) -> &str {
        DESCRIPTION
    }
    async fn call(&self, args: FilteredSearchArgs) -> Result<String, ToolError> {
        let ctx = RunContext::new("", "");
        let filter = Self::filter(args.filters)?;
        Ok(self.0.run(&ctx, &args.query, filter).await)
    }
    async fn call_with_context(
        &self,
        ctx: &ToolContext,
        args: FilteredSearchArgs,
    ) -> Result<String, ToolError> {
        let filter = Self::filter(args.filters)?;
        Ok(self.0.run(ctx, &args.query, filter).await)
    }
}
