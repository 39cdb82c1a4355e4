//! The knowledge domain: the content items of knowledge bases (`knowledge_contents`), their
//! chunks with embeddings (`knowledge_chunks`), and vector and keyword search over them. A
//! chunk is found by a search only once its content item is `completed`, so an ingestion cut
//! short (a crash, an embedding server down) is never half visible.

use super::StoreError;
use crate::retrieval::{MetadataFilter, SearchHit};
use async_trait::async_trait;
use serde_json::{Map, Value};

/// A content item's status: agno's `ContentStatus`.
pub mod status {
    /// Being read, chunked and embedded (or waiting to be retried).
    pub const PROCESSING: &str = "processing";
    /// Every chunk is stored and searchable.
    pub const COMPLETED: &str = "completed";
    /// It could not be indexed; `status_message` says why. None of its chunks is searchable.
    pub const FAILED: &str = "failed";
}

/// A content item to record, `processing`, before its ingestion job runs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContent {
    /// Its id (derived from [`NewContent::content_hash`] and the knowledge base).
    pub id: String,
    /// The knowledge base.
    pub knowledge_id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// A JSON object, as text.
    pub metadata: Option<String>,
    /// The media type (`application/pdf`), or `text` or `url`.
    pub file_type: Option<String>,
    /// The reader that will turn it into text (`pdf`, `markdown`, ...).
    pub reader: String,
    /// The URL the server fetches it from.
    pub source_url: Option<String>,
    /// The uploaded file's name.
    pub source_name: Option<String>,
    /// Bytes uploaded (0 for a URL until fetched).
    pub size: i64,
    /// The bytes uploaded, kept until the content is indexed.
    pub raw: Option<Vec<u8>>,
    /// What identifies the same content uploaded again.
    pub content_hash: String,
    /// The ingestion job queued for it: only that job indexes it (another, queued for the
    /// same content while this one stands, finds it is not its own and ends).
    pub job_id: String,
    /// Unix milliseconds.
    pub now: i64,
}

record! {
    /// A content item as listed (without its raw bytes).
    #[derive(Debug, Clone, PartialEq)]
    pub struct ContentRecord {
        /// Its id.
        pub id: String,
        /// The knowledge base.
        pub knowledge_id: String,
        /// Its name.
        pub name: Option<String>,
        /// Its description.
        pub description: Option<String>,
        /// A JSON object, as text.
        pub metadata: Option<String>,
        /// The media type, or `text` or `url`.
        pub file_type: Option<String>,
        /// The reader that turns it into text.
        pub reader: String,
        /// The URL it is fetched from.
        pub source_url: Option<String>,
        /// The uploaded file's name.
        pub source_name: Option<String>,
        /// Bytes.
        pub size: i64,
        /// What identifies the same content uploaded again.
        pub content_hash: String,
        /// The ingestion job that owns it.
        pub job_id: Option<String>,
        /// [`status`]: `processing`, `completed` or `failed`.
        pub status: String,
        /// Why it failed, or what is happening (a retry).
        pub status_message: String,
        /// Chunks stored.
        pub chunk_count: i64,
        /// Unix milliseconds.
        pub created_at: i64,
        /// Unix milliseconds.
        pub updated_at: i64,
    }
}

impl ContentRecord {
    /// The metadata as a JSON object (an empty one when there is none).
    pub fn metadata_map(&self) -> Map<String, Value> {
        self.metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default()
    }
}

/// What recording a content item did.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentAdded {
    /// It is new (or had failed and starts over): its ingestion should be queued.
    Queued(ContentRecord),
    /// The same content is already there, processing or completed: nothing to do.
    Exists(ContentRecord),
}

/// A chunk to store: its text, its embedding and where it sits.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChunk {
    /// Its id.
    pub id: String,
    /// The content item.
    pub content_id: String,
    /// The knowledge base.
    pub knowledge_id: String,
    /// Its position in the content item, from 0.
    pub chunk_index: u32,
    /// The embedder that made `embedding` ([`crate::model::Embedder::id`]).
    pub embedder: String,
    /// sha-256 of `text`, hex.
    pub text_hash: String,
    /// Unit length.
    pub embedding: Vec<f32>,
    /// A JSON object: the chunk's own metadata (`chunk`, `page`, ...).
    pub meta: String,
    /// Its text.
    pub text: String,
}

/// How to sort a list of content items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContentSort {
    /// By creation time (agno's default).
    #[default]
    CreatedAt,
    /// By last update.
    UpdatedAt,
    /// By name.
    Name,
}

impl ContentSort {
    /// The column.
    pub(crate) fn column(self) -> &'static str {
        match self {
            ContentSort::CreatedAt => "created_at",
            ContentSort::UpdatedAt => "updated_at",
            ContentSort::Name => "name",
        }
    }
}

/// One page of a knowledge base's content items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentPage {
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
    /// The order.
    pub sort: ContentSort,
    /// Oldest (or A) first.
    pub ascending: bool,
}

/// The fields of a content item an update may change (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// New metadata (a JSON object, as text); searches filter on it from now on.
    pub metadata: Option<String>,
}

/// A nearest-neighbour search.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorQuery<'a> {
    /// The knowledge base.
    pub knowledge_id: &'a str,
    /// Only vectors of this embedder are comparable.
    pub embedder: &'a str,
    /// The query's vector, unit length.
    pub embedding: &'a [f32],
    /// Which content items.
    pub filter: &'a MetadataFilter,
    /// At most this many hits.
    pub limit: u32,
}

/// A full-text search.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordQuery<'a> {
    /// The knowledge base.
    pub knowledge_id: &'a str,
    /// The query's words (letters and digits only); a chunk with any of them matches, ranked
    /// by how well it matches.
    pub words: &'a [String],
    /// Which content items.
    pub filter: &'a MetadataFilter,
    /// At most this many hits.
    pub limit: u32,
}

/// Content items, their chunks, and search.
#[async_trait]
pub trait KnowledgeStore: Send + Sync {
    /// Records a content item as `processing`, owned by `content.job_id`. If one with this id
    /// and the same hash exists and is processing or completed, it is left as it is
    /// ([`ContentAdded::Exists`]); a failed one, or one whose hash changed (a file loaded
    /// again after an edit), starts over: its chunks go.
    async fn add_content(&self, content: NewContent) -> Result<ContentAdded, StoreError>;
    /// A content item of this knowledge base.
    async fn get_content(
        &self,
        knowledge_id: &str,
        content_id: &str,
    ) -> Result<Option<ContentRecord>, StoreError>;
    /// The bytes uploaded for a content item, while it is not yet indexed.
    async fn content_raw(&self, content_id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// A page of a knowledge base's content items and how many there are in all.
    async fn list_contents(
        &self,
        knowledge_id: &str,
        page: &ContentPage,
    ) -> Result<(Vec<ContentRecord>, u64), StoreError>;
    /// Changes a content item's name, description or metadata; `None` if there is none.
    async fn update_content(
        &self,
        knowledge_id: &str,
        content_id: &str,
        update: &ContentUpdate,
    ) -> Result<Option<ContentRecord>, StoreError>;
    /// Sets the status and message of a content item (`completed` also sets `chunk_count`
    /// from the chunks stored and lets go of the raw bytes; `failed` removes its chunks).
    /// False if there is no such content item.
    async fn set_content_status(
        &self,
        content_id: &str,
        status: &str,
        message: &str,
    ) -> Result<bool, StoreError>;
    /// Deletes a content item and its chunks; false if there was none.
    async fn delete_content(
        &self,
        knowledge_id: &str,
        content_id: &str,
    ) -> Result<bool, StoreError>;
    /// Deletes every content item of a knowledge base and their chunks; how many.
    async fn delete_all_contents(&self, knowledge_id: &str) -> Result<u64, StoreError>;
    /// The positions of the chunks already stored for a content item (an ingestion resumes
    /// after them).
    async fn stored_chunks(&self, content_id: &str) -> Result<Vec<u32>, StoreError>;
    /// Vectors already made by `embedder` for texts of these hashes, by hash.
    async fn cached_embeddings(
        &self,
        embedder: &str,
        text_hashes: &[String],
    ) -> Result<Vec<(String, Vec<f32>)>, StoreError>;
    /// Stores chunks in one transaction; a chunk whose position is already stored for its
    /// content item is skipped (an attempt that is retried writes nothing twice).
    async fn insert_chunks(&self, chunks: Vec<NewChunk>) -> Result<(), StoreError>;
    /// The chunks nearest `query.embedding`, nearest first, of completed content items.
    async fn vector_search(&self, query: &VectorQuery<'_>) -> Result<Vec<SearchHit>, StoreError>;
    /// The chunks matching `query.words` best, best first, of completed content items.
    async fn keyword_search(&self, query: &KeywordQuery<'_>) -> Result<Vec<SearchHit>, StoreError>;
    /// The metadata keys of a knowledge base's content items (what a filter can use).
    async fn metadata_keys(&self, knowledge_id: &str) -> Result<Vec<String>, StoreError>;
    /// What ranks vectors: `sqlite-vec`, `pgvector`, or `sql` (cosine computed in SQL).
    fn vector_backend(&self) -> &'static str;
}

/// A search hit from a row: the chunk's own metadata merged over its content item's.
#[allow(clippy::too_many_arguments)]
pub(crate) fn hit(
    chunk_id: String,
    content_id: String,
    name: Option<String>,
    source: Option<String>,
    chunk_index: i64,
    text: String,
    content_meta: Option<&str>,
    chunk_meta: &str,
    score: f64,
) -> SearchHit {
    let mut meta: Map<String, Value> = content_meta
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    if let Ok(Value::Object(own)) = serde_json::from_str::<Value>(chunk_meta) {
        meta.extend(own);
    }
    SearchHit {
        chunk_id,
        content_id,
        name,
        source,
        chunk: u32::try_from(chunk_index + 1).unwrap_or(u32::MAX),
        text,
        meta,
        score,
    }
}

record! {
    /// A search result row, as both backends select it.
    #[derive(Debug)]
    pub struct HitRow {
        /// The chunk.
        pub id: String,
        /// Its content item.
        pub content_id: String,
        /// The content item's name.
        pub name: Option<String>,
        /// Its URL or file name.
        pub source: Option<String>,
        /// From 0.
        pub chunk_index: i64,
        /// The text.
        pub text: String,
        /// The content item's metadata.
        pub metadata: Option<String>,
        /// The chunk's.
        pub meta: String,
        /// Higher is better.
        pub score: f64,
    }
}

impl From<HitRow> for SearchHit {
    fn from(r: HitRow) -> SearchHit {
        hit(
            r.id,
            r.content_id,
            r.name,
            r.source,
            r.chunk_index,
            r.text,
            r.metadata.as_deref(),
            &r.meta,
            r.score,
        )
    }
}
