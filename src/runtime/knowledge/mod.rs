//! Knowledge bases in the runtime: the index each one searches (the store, behind the engine's
//! [`KnowledgeIndex`]), content added as a durable ingestion job (`ingest.rs`, jobs of kind
//! [`KNOWLEDGE_JOB_KIND`]), and the sources each loads at startup.

mod ingest;

pub(crate) use ingest::Ingestion;

use super::Runtime;
use super::jobs::ReadyJob;
use crate::knowledge::{Chunking, Knowledge, KnowledgeIndex, Reader, Source};
use crate::retrieval::{MetadataFilter, SearchHit};
use crate::run::unix_millis;
use crate::store::{
    ContentAdded, ContentRecord, KeywordQuery, NewContent, NewJob, Store, StoreError, VectorQuery,
};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::Arc;

/// The kind of an ingestion job; its name is the knowledge base's id.
pub(crate) const KNOWLEDGE_JOB_KIND: &str = "knowledge";

/// The store, as the engine's knowledge bases search it.
pub(crate) struct StoreIndex(pub Arc<dyn Store>);

#[async_trait]
impl KnowledgeIndex for StoreIndex {
    async fn vector_search(
        &self,
        knowledge_id: &str,
        embedder: &str,
        embedding: &[f32],
        filter: &MetadataFilter,
        limit: u32,
    ) -> Result<Vec<SearchHit>, String> {
        let query = VectorQuery {
            knowledge_id,
            embedder,
            embedding,
            filter,
            limit,
        };
        self.0
            .vector_search(&query)
            .await
            .map_err(|e| e.to_string())
    }

    async fn keyword_search(
        &self,
        knowledge_id: &str,
        words: &[String],
        filter: &MetadataFilter,
        limit: u32,
    ) -> Result<Vec<SearchHit>, String> {
        let query = KeywordQuery {
            knowledge_id,
            words,
            filter,
            limit,
        };
        self.0
            .keyword_search(&query)
            .await
            .map_err(|e| e.to_string())
    }

    async fn metadata_keys(&self, knowledge_id: &str) -> Result<Vec<String>, String> {
        self.0
            .metadata_keys(knowledge_id)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Where new content comes from.
#[derive(Debug, Clone)]
pub(crate) enum ContentInput {
    /// An uploaded file, and the reader for it.
    File {
        file_name: Option<String>,
        media_type: String,
        bytes: Vec<u8>,
        reader: Reader,
    },
    /// Text (`text_content`), read as `reader` (text unless told otherwise).
    Text { text: String, reader: Reader },
    /// A URL the server fetches; the reader, unless named, follows what it answers.
    Url { url: String, reader: Option<Reader> },
}

/// Content to add to a knowledge base.
#[derive(Debug, Clone)]
pub(crate) struct NewUpload {
    pub name: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub input: ContentInput,
    pub chunking: Chunking,
    /// A file loaded from a path at startup: identified by its path, so an edited file replaces
    /// its earlier version instead of being added beside it.
    pub from_path: bool,
}

/// What an ingestion job needs besides the content row.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct IngestPayload {
    pub content_id: String,
    pub chunking: Chunking,
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hex::encode(hash.finalize())
}

impl Runtime {
    /// A knowledge base by id.
    pub(crate) fn knowledge(&self, id: &str) -> Option<&Knowledge> {
        self.knowledge.iter().find(|k| k.id() == id)
    }

    /// Records content as `processing` and queues its ingestion job. The same content added
    /// again (same name, description, metadata and bytes, URL or text) keeps its id and is not
    /// indexed twice, unless it failed.
    pub(crate) async fn add_content(
        &self,
        kb: &Knowledge,
        upload: NewUpload,
    ) -> Result<ContentRecord, StoreError> {
        let metadata = upload
            .metadata
            .as_ref()
            .map(|m| Value::Object(m.clone()).to_string());
        let (file_type, reader, source_url, source_name, raw, body_hash) = match upload.input {
            ContentInput::File {
                file_name,
                media_type,
                bytes,
                reader,
            } => {
                let hash = sha256_hex(&[&bytes]);
                (
                    Some(media_type),
                    reader.id(),
                    None,
                    file_name,
                    Some(bytes),
                    hash,
                )
            }
            ContentInput::Text { text, reader } => {
                let hash = sha256_hex(&[text.as_bytes()]);
                let kind = Some("text".to_owned());
                (kind, reader.id(), None, None, Some(text.into_bytes()), hash)
            }
            ContentInput::Url { url, reader } => {
                let hash = sha256_hex(&[url.as_bytes()]);
                let id = reader.map_or("url", Reader::id);
                (Some("url".to_owned()), id, Some(url), None, None, hash)
            }
        };
        let text = |s: &Option<String>| s.as_deref().unwrap_or("").as_bytes().to_vec();
        let identity = sha256_hex(&[
            kb.id().as_bytes(),
            &text(&upload.name),
            &text(&upload.description),
            &text(&metadata),
            source_url.as_deref().unwrap_or("").as_bytes(),
            body_hash.as_bytes(),
        ]);
        let content_hash = identity.clone();
        // A file loaded from a path is the same content item whatever its bytes.
        let id_seed = match upload.from_path {
            true => sha256_hex(&[kb.id().as_bytes(), &text(&upload.name)]),
            false => identity,
        };
        let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, id_seed.as_bytes()).to_string();
        if let Some(existing) = self.store.get_content(kb.id(), &id).await?
            && existing.content_hash == content_hash
            && existing.status != crate::store::content_status::FAILED
        {
            return Ok(existing);
        }
        let job_id = uuid::Uuid::new_v4().to_string();
        let payload = IngestPayload {
            content_id: id.clone(),
            chunking: upload.chunking,
        };
        // The job first: a crash before the content row leaves a job that finds nothing to do,
        // never a content item that nothing will index.
        let job = NewJob {
            job_id: job_id.clone(),
            kind: Cow::Borrowed(KNOWLEDGE_JOB_KIND),
            name: kb.id().to_owned(),
            run_id: None,
            payload: serde_json::to_string(&payload).unwrap_or_default(),
            max_attempts: kb.get_max_attempts(),
            lease_owner: self.dispatcher.owner().to_owned(),
            lease_until: unix_millis() + super::COMMITTED_JOB_LEASE.as_millis() as i64,
            claimed: false,
            trace_parent: None,
        };
        self.store.enqueue_jobs(vec![job]).await?;
        let size = raw.as_ref().map_or(0, |r| r.len() as i64);
        let added = self
            .store
            .add_content(NewContent {
                id,
                knowledge_id: kb.id().to_owned(),
                name: upload.name,
                description: upload.description,
                metadata,
                file_type,
                reader: reader.to_owned(),
                source_url,
                source_name,
                size,
                raw,
                content_hash,
                job_id: job_id.clone(),
                now: unix_millis(),
            })
            .await?;
        // Run now: the job indexes the content, or (if the content was there already) ends.
        self.dispatcher.dispatch(vec![ReadyJob {
            job_id,
            start: None,
            trace_parent: None,
            due_at: unix_millis(),
        }]);
        Ok(match added {
            ContentAdded::Queued(record) | ContentAdded::Exists(record) => record,
        })
    }

    /// Adds what each knowledge base loads at startup (files, folders, URLs, texts). Content
    /// already indexed is left alone; a missing path is logged and skipped.
    pub(crate) async fn load_knowledge_sources(&self) {
        for kb in &self.knowledge {
            for source in kb.sources() {
                for upload in uploads_of(kb, source) {
                    if let Err(e) = self.add_content(kb, upload).await {
                        tracing::error!(knowledge = %kb.id(), error = %e, "cannot add content");
                    }
                }
            }
        }
    }
}

/// The uploads a source makes: one per readable file of a path, or the URL, or the text.
fn uploads_of(kb: &Knowledge, source: &Source) -> Vec<NewUpload> {
    let upload = |name: String, input: ContentInput, from_path: bool| NewUpload {
        name: Some(name),
        description: None,
        metadata: None,
        input,
        chunking: kb.get_chunking(),
        from_path,
    };
    match source {
        Source::Url(url) => vec![upload(
            url.clone(),
            ContentInput::Url {
                url: url.clone(),
                reader: None,
            },
            false,
        )],
        Source::Text { name, text } => vec![upload(
            name.clone(),
            ContentInput::Text {
                text: text.clone(),
                reader: Reader::Text,
            },
            false,
        )],
        Source::Path(root) => {
            let mut files = Vec::new();
            collect_files(root, &mut files);
            files.sort();
            files
                .into_iter()
                .filter_map(|path| {
                    let file_name = path.file_name()?.to_string_lossy().into_owned();
                    let reader = Reader::for_file(Some(&file_name), "")?;
                    let bytes = match std::fs::read(&path) {
                        Ok(bytes) => bytes,
                        Err(e) => {
                            tracing::error!(path = %path.display(), error = %e, "cannot read");
                            return None;
                        }
                    };
                    let name = path.to_string_lossy().into_owned();
                    let input = ContentInput::File {
                        file_name: Some(file_name),
                        media_type: String::new(),
                        bytes,
                        reader,
                    };
                    Some(upload(name, input, true))
                })
                .collect()
        }
    }
}

fn collect_files(path: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => out.push(path.to_owned()),
        Ok(m) if m.is_dir() => {
            let Ok(entries) = std::fs::read_dir(path) else {
                return;
            };
            for entry in entries.flatten() {
                collect_files(&entry.path(), out);
            }
        }
        Ok(_) => {}
        Err(e) => tracing::error!(path = %path.display(), error = %e, "knowledge source not found"),
    }
}
