//! The wire types of `/knowledge`, in agno 3.1.10's shapes (`os/routers/knowledge/schemas.py`).

use crate::http::iso;
use crate::http::page::PageMeta;
use crate::retrieval::SearchHit;
use crate::store::ContentRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// agno's `ContentResponseSchema`: a content item.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ContentResponse {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// The media type, `text` or `url`.
    #[serde(rename = "type")]
    pub file_type: Option<String>,
    /// Bytes, as a string (agno's).
    pub size: Option<String>,
    /// Always null (agno's too).
    pub linked_to: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// Always null (agno's too).
    pub access_count: Option<u64>,
    /// `processing`, `completed` or `failed`.
    pub status: Option<String>,
    /// Why it failed, or the retry under way.
    pub status_message: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl ContentResponse {
    pub(crate) fn of(r: &ContentRecord) -> ContentResponse {
        ContentResponse {
            id: r.id.clone(),
            name: r.name.clone(),
            description: r.description.clone(),
            file_type: r.file_type.clone(),
            size: Some(r.size.to_string()),
            linked_to: None,
            metadata: r
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
            access_count: None,
            status: Some(r.status.clone()),
            status_message: Some(r.status_message.clone()),
            created_at: Some(iso(r.created_at)),
            updated_at: Some(iso(r.updated_at)),
        }
    }
}

/// The answer to an upload: agno's `ContentResponseSchema` with what is known at once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UploadResponse {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// `processing` (or `completed`, when the same content was indexed before).
    pub status: String,
}

/// The answer to a delete: agno's schema without nulls, the id alone.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeletedContent {
    pub id: String,
}

/// agno's `ContentStatusResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ContentStatusResponse {
    pub id: String,
    /// `processing`, `completed` or `failed`.
    pub status: String,
    /// Why it failed ("" otherwise).
    pub status_message: String,
}

/// A page of content items.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ContentList {
    pub data: Vec<ContentResponse>,
    pub meta: PageMeta,
}

/// agno's `VectorSearchRequestSchema.Meta`: which page of the results.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body; the handler reads it field by field
pub(crate) struct SearchPage {
    /// Results per page (default 20).
    pub limit: Option<u64>,
    /// Page, from 1.
    pub page: Option<u64>,
}

/// agno's `VectorSearchRequestSchema`.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body; the handler reads it field by field
pub(crate) struct SearchRequest {
    /// The query.
    pub query: String,
    /// The database (there is one).
    pub db_id: Option<String>,
    /// The knowledge base (needed when several are served).
    pub knowledge_id: Option<String>,
    /// Must include the knowledge base's vector database id when given.
    pub vector_db_ids: Option<Vec<String>>,
    /// `vector`, `keyword` or `hybrid` (default: the knowledge base's).
    pub search_type: Option<String>,
    /// How many results the search finds (1-1000, default the knowledge base's
    /// `max_results`), then paged by `meta`.
    pub max_results: Option<u64>,
    /// Metadata keys and the values they must have (a list: any of them).
    #[schema(value_type = Option<Object>)]
    pub filters: Option<Map<String, Value>>,
    pub meta: Option<SearchPage>,
}

/// agno's `VectorSearchResult`: a chunk found, with where it came from.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SearchResult {
    /// The chunk's id.
    pub id: String,
    /// The chunk's text.
    pub content: String,
    /// The content item's name.
    pub name: Option<String>,
    /// The content item's metadata and the chunk's own (`chunk`, `chunk_size`, `page`, ...).
    #[schema(value_type = Object)]
    pub meta_data: Map<String, Value>,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub usage: Option<Value>,
    /// Always null: no reranker.
    pub reranking_score: Option<f64>,
    /// The content item.
    pub content_id: String,
    /// Its URL or file name.
    pub content_origin: Option<String>,
    /// The chunk's length in bytes.
    pub size: usize,
    /// The search's score, higher is better (agentos extension).
    pub score: f64,
}

impl SearchResult {
    pub(crate) fn of(hit: SearchHit) -> SearchResult {
        SearchResult {
            id: hit.chunk_id,
            size: hit.text.len(),
            content: hit.text,
            name: hit.name,
            meta_data: hit.meta,
            usage: None,
            reranking_score: None,
            content_id: hit.content_id,
            content_origin: hit.source,
            score: hit.score,
        }
    }
}

/// A page of search results.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SearchResults {
    pub data: Vec<SearchResult>,
    pub meta: PageMeta,
}

/// agno's `ReaderSchema`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReaderInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub chunkers: Vec<String>,
    pub content_types: Vec<String>,
}

/// agno's `ChunkerSchema`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChunkerInfo {
    pub key: String,
    pub name: String,
    pub description: String,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// agno's `VectorDbSchema`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VectorDbInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub search_types: Vec<String>,
}

/// agno's `ConfigResponseSchema`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KnowledgeConfigResponse {
    pub readers: BTreeMap<String, ReaderInfo>,
    /// Which readers read each content type (`.pdf`, `url`, `text`, ...).
    #[serde(rename = "readersForType")]
    pub readers_for_type: BTreeMap<String, Vec<String>>,
    pub chunkers: BTreeMap<String, ChunkerInfo>,
    /// The metadata keys of the content (what filters can use).
    pub filters: Vec<String>,
    pub vector_dbs: Vec<VectorDbInfo>,
    /// None: no remote sources (S3, GCS, ...) are configured.
    #[schema(value_type = Option<Vec<Object>>)]
    pub remote_content_sources: Option<Vec<Value>>,
}
