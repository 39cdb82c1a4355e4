//! [`Knowledge`]: a knowledge base on the database agentos already has. Content goes in (files,
//! URLs, text) as durable ingestion jobs: read (`read.rs`), chunked (`chunk.rs`), embedded in
//! batches and stored; agents search it with agno's `search_knowledge_base` tool or get
//! references added to their context (`attach.rs`).
//!
//! The engine does not know the store: the runtime hands each knowledge base a
//! [`KnowledgeIndex`] over it when the OS starts.

mod attach;
mod chunk;
pub(crate) mod read;

pub use attach::{KnowledgeAttachment, SEARCH_TOOL};
pub use chunk::Chunking;
pub use read::{Reader, Section};

use crate::model::{EmbedError, Embedder, normalized};
use crate::retrieval::{MetadataFilter, SearchHit, SearchType, fuse_rrf, query_words};
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// What a knowledge base searches: the store's vector and keyword search, which the runtime
/// provides.
#[async_trait]
pub trait KnowledgeIndex: Send + Sync + 'static {
    /// Chunks of completed content nearest `embedding` (unit length), nearest first.
    async fn vector_search(
        &self,
        knowledge_id: &str,
        embedder: &str,
        embedding: &[f32],
        filter: &MetadataFilter,
        limit: u32,
    ) -> Result<Vec<SearchHit>, String>;
    /// Chunks of completed content matching `words` best, best first.
    async fn keyword_search(
        &self,
        knowledge_id: &str,
        words: &[String],
        filter: &MetadataFilter,
        limit: u32,
    ) -> Result<Vec<SearchHit>, String>;
    /// The metadata keys of the knowledge base's content (what filters can use).
    async fn metadata_keys(&self, knowledge_id: &str) -> Result<Vec<String>, String>;
}

/// Why a search gave no answer.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum KnowledgeError {
    /// The knowledge base is not served by a running OS (nothing to search yet).
    #[error("the knowledge base {0:?} is not attached to a database: serve it with AgentOs")]
    NotAttached(String),
    /// The query could not be embedded.
    #[error("the query could not be embedded: {0}")]
    Embed(#[from] EmbedError),
    /// The database failed.
    #[error("knowledge search failed: {0}")]
    Store(String),
}

/// Content a knowledge base loads when the OS starts (the same file or text again is not
/// indexed twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file, or every file of a folder and its subfolders that a reader reads.
    Path(PathBuf),
    /// A URL the server fetches.
    Url(String),
    /// Text, with a name.
    Text {
        /// Its name.
        name: String,
        /// The text.
        text: String,
    },
}

/// A knowledge base: a name, an embedder, how content is chunked and how it is searched.
///
/// ```
/// use agentos::model::OpenAIEmbedder;
/// use agentos::{Agent, Knowledge, ScriptedModel, SearchType};
/// let docs = Knowledge::new("docs")
///     .embedder(OpenAIEmbedder::new("text-embedding-3-small"))
///     .search_type(SearchType::Hybrid)
///     .max_results(5);
/// let agent = Agent::new("Support").model(ScriptedModel::new()).knowledge(docs.clone());
/// assert_eq!(docs.id(), "docs");
/// ```
///
/// Cloning gives another handle to the same knowledge base.
#[derive(Clone)]
pub struct Knowledge(Arc<Inner>);

struct Inner {
    id: String,
    name: String,
    description: Option<String>,
    embedder: Arc<dyn Embedder>,
    search_type: SearchType,
    max_results: usize,
    chunking: Chunking,
    max_file_bytes: usize,
    max_attempts: u32,
    sources: Vec<Source>,
    index: RwLock<Option<Arc<dyn KnowledgeIndex>>>,
}

impl std::fmt::Debug for Knowledge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knowledge")
            .field("id", &self.0.id)
            .field("embedder", &self.0.embedder.id())
            .field("search_type", &self.0.search_type)
            .finish_non_exhaustive()
    }
}

/// What the builder changes; it clones the settings if the handle is shared already.
fn edit(k: Knowledge, f: impl FnOnce(&mut Inner)) -> Knowledge {
    let mut inner = Arc::try_unwrap(k.0).unwrap_or_else(|shared| Inner {
        id: shared.id.clone(),
        name: shared.name.clone(),
        description: shared.description.clone(),
        embedder: shared.embedder.clone(),
        search_type: shared.search_type,
        max_results: shared.max_results,
        chunking: shared.chunking,
        max_file_bytes: shared.max_file_bytes,
        max_attempts: shared.max_attempts,
        sources: shared.sources.clone(),
        index: RwLock::new(None),
    });
    f(&mut inner);
    Knowledge(Arc::new(inner))
}

impl Knowledge {
    /// A knowledge base called `name`; its id is the name in lowercase with dashes. It embeds
    /// with `OpenAIEmbedder::new("text-embedding-3-small")` until given another embedder,
    /// searches hybrid (vector and keyword, fused), 10 results.
    pub fn new(name: impl Into<String>) -> Knowledge {
        let name = name.into();
        Knowledge(Arc::new(Inner {
            id: name.to_lowercase().replace([' ', '_'], "-"),
            name,
            description: None,
            embedder: Arc::new(crate::model::OpenAIEmbedder::new("text-embedding-3-small")),
            search_type: SearchType::Hybrid,
            max_results: 10,
            chunking: Chunking::default(),
            max_file_bytes: 10 * 1024 * 1024,
            max_attempts: 5,
            sources: Vec::new(),
            index: RwLock::new(None),
        }))
    }

    /// Overrides the id (what `knowledge_id` names on the wire, and what its rows carry).
    pub fn with_id(self, id: impl Into<String>) -> Knowledge {
        let id = id.into();
        edit(self, |k| k.id = id)
    }

    /// A description, shown by `/config`.
    pub fn description(self, description: impl Into<String>) -> Knowledge {
        let description = description.into();
        edit(self, |k| k.description = Some(description))
    }

    /// The embedder: any [`Embedder`] ([`crate::model::OpenAIEmbedder`] for any
    /// OpenAI-compatible server, [`crate::model::HashEmbedder`] offline). Vectors made by
    /// another embedder are not compared with this one's: changing it means adding the
    /// content again.
    pub fn embedder(self, embedder: impl Embedder) -> Knowledge {
        let embedder: Arc<dyn Embedder> = Arc::new(embedder);
        edit(self, |k| k.embedder = embedder)
    }

    /// How agents and `POST /knowledge/search` search by default (hybrid).
    pub fn search_type(self, search_type: SearchType) -> Knowledge {
        edit(self, |k| k.search_type = search_type)
    }

    /// How many chunks a search returns by default (10; agno's `max_results`).
    pub fn max_results(self, n: usize) -> Knowledge {
        edit(self, |k| k.max_results = n.max(1))
    }

    /// How content is chunked unless an upload names another chunker.
    pub fn chunking(self, chunking: Chunking) -> Knowledge {
        edit(self, |k| k.chunking = chunking)
    }

    /// The largest file an upload may carry (10 MiB); larger ones get 413. The server's
    /// body limit ([`crate::AgentOs::max_body_bytes`]) applies too.
    pub fn max_file_bytes(self, bytes: usize) -> Knowledge {
        edit(self, |k| k.max_file_bytes = bytes)
    }

    /// Attempts an ingestion gets before its content is `failed` (5). Each attempt resumes
    /// after the chunks the previous ones stored.
    pub fn max_attempts(self, n: u32) -> Knowledge {
        edit(self, |k| k.max_attempts = n.max(1))
    }

    /// Loads a file, or the files of a folder (recursively, those a reader reads), when the
    /// OS starts. Unchanged files are not indexed again.
    pub fn add_path(self, path: impl Into<PathBuf>) -> Knowledge {
        let source = Source::Path(path.into());
        edit(self, |k| k.sources.push(source))
    }

    /// Fetches and loads a URL when the OS starts.
    pub fn add_url(self, url: impl Into<String>) -> Knowledge {
        let source = Source::Url(url.into());
        edit(self, |k| k.sources.push(source))
    }

    /// Loads a text when the OS starts.
    pub fn add_text(self, name: impl Into<String>, text: impl Into<String>) -> Knowledge {
        let source = Source::Text {
            name: name.into(),
            text: text.into(),
        };
        edit(self, |k| k.sources.push(source))
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The description.
    pub fn get_description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The embedder.
    pub fn get_embedder(&self) -> &Arc<dyn Embedder> {
        &self.0.embedder
    }

    /// The default search type.
    pub fn get_search_type(&self) -> SearchType {
        self.0.search_type
    }

    /// How many results a search returns by default.
    pub fn get_max_results(&self) -> usize {
        self.0.max_results
    }

    /// The default chunking.
    pub fn get_chunking(&self) -> Chunking {
        self.0.chunking
    }

    /// The largest file an upload may carry.
    pub fn get_max_file_bytes(&self) -> usize {
        self.0.max_file_bytes
    }

    /// Attempts per ingestion.
    pub fn get_max_attempts(&self) -> u32 {
        self.0.max_attempts
    }

    /// What it loads at startup.
    pub fn sources(&self) -> &[Source] {
        &self.0.sources
    }

    /// Connects it to the store (the runtime does this when the OS starts).
    pub(crate) fn attach_index(&self, index: Arc<dyn KnowledgeIndex>) {
        *self.0.index.write().unwrap_or_else(|p| p.into_inner()) = Some(index);
    }

    fn index(&self) -> Result<Arc<dyn KnowledgeIndex>, KnowledgeError> {
        self.0
            .index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| KnowledgeError::NotAttached(self.0.id.clone()))
    }

    /// True when both handles are the same knowledge base.
    pub fn same(&self, other: &Knowledge) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Searches: `limit` chunks (default [`Knowledge::max_results`]) of completed content
    /// passing `filter`, best first, by `search_type` (default [`Knowledge::search_type`]).
    /// Hybrid fuses the vector and keyword rankings by reciprocal rank; if the query cannot be
    /// embedded it answers from keywords alone (and logs why).
    pub async fn search(
        &self,
        query: &str,
        search_type: Option<SearchType>,
        limit: Option<usize>,
        filter: &MetadataFilter,
    ) -> Result<Vec<SearchHit>, KnowledgeError> {
        let index = self.index()?;
        let limit = limit.unwrap_or(self.0.max_results).max(1);
        let store = |e: String| KnowledgeError::Store(e);
        match search_type.unwrap_or(self.0.search_type) {
            SearchType::Vector => {
                let embedding = self.embed_query(query).await?;
                index
                    .vector_search(
                        &self.0.id,
                        self.0.embedder.id(),
                        &embedding,
                        filter,
                        limit as u32,
                    )
                    .await
                    .map_err(store)
            }
            SearchType::Keyword => index
                .keyword_search(&self.0.id, &query_words(query), filter, limit as u32)
                .await
                .map_err(store),
            SearchType::Hybrid => {
                // Each ranking deeper than the answer, so that fusion has something to fuse.
                let depth = (limit * 3).max(20) as u32;
                let words = query_words(query);
                let keyword = index.keyword_search(&self.0.id, &words, filter, depth);
                let vector = async {
                    match self.embed_query(query).await {
                        Ok(embedding) => index
                            .vector_search(
                                &self.0.id,
                                self.0.embedder.id(),
                                &embedding,
                                filter,
                                depth,
                            )
                            .await
                            .map_err(store),
                        Err(e) => {
                            tracing::warn!(knowledge = %self.0.id, error = %e,
                                "hybrid search answers from keywords alone");
                            Ok(Vec::new())
                        }
                    }
                };
                let (vector, keyword) = tokio::join!(vector, keyword);
                Ok(fuse_rrf(&[vector?, keyword.map_err(store)?], limit))
            }
        }
    }

    /// The metadata keys of its content, for filters.
    pub async fn filter_keys(&self) -> Result<Vec<String>, KnowledgeError> {
        self.index()?
            .metadata_keys(&self.0.id)
            .await
            .map_err(KnowledgeError::Store)
    }

    async fn embed_query(&self, query: &str) -> Result<Vec<f32>, KnowledgeError> {
        let mut vectors = self.0.embedder.embed(&[query.to_owned()]).await?;
        let vector = vectors
            .pop()
            .ok_or_else(|| EmbedError::Malformed("no vector for the query".into()))?;
        Ok(normalized(vector))
    }
}
