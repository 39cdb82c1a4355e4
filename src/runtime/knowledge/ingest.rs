//! The ingestion job ([`Ingestion`], the [`JobHandler`] of kind `knowledge`): read the content
//! (its stored bytes, or its URL fetched), chunk it, embed the chunks in batches (a text some
//! chunk already has a vector for is not embedded again) and store each batch. An attempt that
//! fails (the embedding server down, a crash, the attempt's time running out) is retried with
//! backoff and resumes after the chunks stored; the content item says `processing` with the
//! reason meanwhile, `failed` with it once the attempts run out, `completed` at the end. Its
//! chunks are searchable only then.

use super::{IngestPayload, sha256_hex};
use crate::hooks::JobInfo;
use crate::knowledge::{Knowledge, Reader};
use crate::model::normalized;
use crate::runtime::jobs::JobHandler;
use crate::store::{ContentRecord, JobRecord, NewChunk, Store, content_status as status};
use futures::future::BoxFuture;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Runs ingestion jobs for the knowledge bases served.
pub(crate) struct Ingestion {
    store: Arc<dyn Store>,
    bases: HashMap<String, Knowledge>,
    http: reqwest::Client,
    /// An attempt stops itself this long after it starts, a little before the queue's own
    /// timeout, so that it records why (and what it stored) before it is cut off.
    budget: Duration,
}

/// Why an attempt did not index the content.
enum Failure {
    /// It never will (a file that does not parse, a URL that is not there): `failed` now.
    Permanent(String),
    /// It may next time (the embedding server, the network, the database): retried.
    Transient(String),
}

impl Ingestion {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        bases: &[Knowledge],
        attempt_timeout: Duration,
    ) -> Ingestion {
        let margin = (attempt_timeout / 10).min(Duration::from_secs(5));
        Ingestion {
            store,
            bases: bases
                .iter()
                .map(|k| (k.id().to_owned(), k.clone()))
                .collect(),
            http: reqwest::Client::new(),
            budget: attempt_timeout.saturating_sub(margin),
        }
    }

    async fn run_job(&self, job: &JobRecord, attempt: JobInfo) -> Result<(), String> {
        let payload: IngestPayload = serde_json::from_str(&job.payload)
            .map_err(|e| format!("unreadable ingestion payload: {e}"))?;
        let id = &payload.content_id;
        let Some(kb) = self.bases.get(&job.name) else {
            let why = format!("the knowledge base {:?} is not served any more", job.name);
            self.set(id, status::FAILED, &why).await;
            return Ok(());
        };
        let record = self
            .store
            .get_content(kb.id(), id)
            .await
            .map_err(|e| e.to_string())?;
        // Deleted meanwhile, owned by a later upload of the same content, or already done.
        let Some(record) = record.filter(|r| r.job_id.as_deref() == Some(job.job_id.as_str()))
        else {
            return Ok(());
        };
        if record.status != status::PROCESSING {
            return Ok(());
        }
        let work = tokio::time::timeout(self.budget, self.index(kb, &record, &payload));
        let outcome = match work.await {
            Ok(outcome) => outcome,
            Err(_) => Err(Failure::Transient(format!(
                "the attempt ran out of time after {:?}; the next one resumes after the chunks \
                 stored",
                self.budget
            ))),
        };
        match outcome {
            Ok(()) => {
                self.set(id, status::COMPLETED, "").await;
                Ok(())
            }
            Err(Failure::Permanent(why)) => {
                self.set(id, status::FAILED, &why).await;
                Ok(())
            }
            Err(Failure::Transient(why)) => {
                if attempt.attempt >= job.max_attempts {
                    let message = format!(
                        "ingestion failed after {} attempts: {why}",
                        job.max_attempts
                    );
                    self.set(id, status::FAILED, &message).await;
                } else {
                    let message = format!(
                        "attempt {} of {} failed, retrying: {why}",
                        attempt.attempt, job.max_attempts
                    );
                    self.set(id, status::PROCESSING, &message).await;
                }
                Err(why)
            }
        }
    }

    async fn set(&self, id: &str, status: &str, message: &str) {
        if let Err(e) = self.store.set_content_status(id, status, message).await {
            tracing::error!(content = %id, error = %e, "cannot record the content's status");
        }
    }

    /// Reads, chunks, embeds and stores what is not stored yet.
    async fn index(
        &self,
        kb: &Knowledge,
        record: &ContentRecord,
        payload: &IngestPayload,
    ) -> Result<(), Failure> {
        let store_error = |e: crate::store::StoreError| Failure::Transient(e.to_string());
        let (bytes, reader) = match &record.source_url {
            Some(url) => {
                self.fetch(url, &record.reader, kb.get_max_file_bytes())
                    .await?
            }
            None => {
                let raw = self
                    .store
                    .content_raw(&record.id)
                    .await
                    .map_err(store_error)?;
                let raw = raw.ok_or_else(|| {
                    Failure::Permanent("the uploaded bytes are gone; upload it again".into())
                })?;
                let reader = Reader::from_id(&record.reader)
                    .ok_or_else(|| Failure::Permanent(format!("no reader {:?}", record.reader)))?;
                (raw, reader)
            }
        };
        let sections = tokio::task::spawn_blocking(move || reader.read(&bytes))
            .await
            .map_err(|e| Failure::Permanent(format!("the reader failed: {e}")))?
            .map_err(Failure::Permanent)?;
        let chunks = payload.chunking.chunk(&sections);
        let stored: HashSet<u32> = self
            .store
            .stored_chunks(&record.id)
            .await
            .map_err(store_error)?
            .into_iter()
            .collect();
        let embedder = kb.get_embedder();
        let todo: Vec<(u32, String, String)> = chunks
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !stored.contains(&(*i as u32)))
            .map(|(i, (text, meta))| (i as u32, text, serde_json::Value::Object(meta).to_string()))
            .collect();
        for batch in todo.chunks(embedder.batch_size().max(1)) {
            let hashes: Vec<String> = batch
                .iter()
                .map(|(_, text, _)| sha256_hex(&[text.as_bytes()]))
                .collect();
            let mut vectors: HashMap<String, Vec<f32>> = self
                .store
                .cached_embeddings(embedder.id(), &hashes)
                .await
                .map_err(store_error)?
                .into_iter()
                .collect();
            let mut missing: Vec<(String, String)> = Vec::new();
            for ((_, text, _), hash) in batch.iter().zip(&hashes) {
                if !vectors.contains_key(hash) && !missing.iter().any(|(h, _)| h == hash) {
                    missing.push((hash.clone(), text.clone()));
                }
            }
            if !missing.is_empty() {
                let texts: Vec<String> = missing.iter().map(|(_, t)| t.clone()).collect();
                let made = embedder
                    .embed(&texts)
                    .await
                    .map_err(|e| Failure::Transient(format!("embedding failed: {e}")))?;
                if made.len() != texts.len() {
                    return Err(Failure::Transient(format!(
                        "embedding failed: {} vectors for {} texts",
                        made.len(),
                        texts.len()
                    )));
                }
                for ((hash, _), vector) in missing.into_iter().zip(made) {
                    vectors.insert(hash, normalized(vector));
                }
            }
            let rows = batch
                .iter()
                .zip(&hashes)
                .map(|((index, text, meta), hash)| NewChunk {
                    id: uuid::Uuid::new_v4().to_string(),
                    content_id: record.id.clone(),
                    knowledge_id: kb.id().to_owned(),
                    chunk_index: *index,
                    embedder: embedder.id().to_owned(),
                    text_hash: hash.clone(),
                    embedding: vectors.get(hash).cloned().unwrap_or_default(),
                    meta: meta.clone(),
                    text: text.clone(),
                })
                .collect();
            self.store.insert_chunks(rows).await.map_err(store_error)?;
        }
        Ok(())
    }

    /// Fetches a URL (at most `limit` bytes) and picks its reader: the one named at upload,
    /// else by the URL's file name, else by the answer's media type, else HTML or text.
    async fn fetch(
        &self,
        url: &str,
        named: &str,
        limit: usize,
    ) -> Result<(Vec<u8>, Reader), Failure> {
        let transient = |e: reqwest::Error| Failure::Transient(format!("GET {url}: {e}"));
        let mut response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(transient)?;
        let status = response.status();
        if status.is_client_error() {
            return Err(Failure::Permanent(format!("GET {url} answered {status}")));
        }
        if !status.is_success() {
            return Err(Failure::Transient(format!("GET {url} answered {status}")));
        }
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transient)? {
            if bytes.len() + chunk.len() > limit {
                return Err(Failure::Permanent(format!(
                    "GET {url}: the content is larger than the limit of {limit} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let file_name = url
            .split(['?', '#'])
            .next()
            .and_then(|u| u.rsplit('/').next());
        let reader = Reader::from_id(named)
            .or_else(|| Reader::for_file(file_name, &media_type))
            .unwrap_or(match media_type.contains("html") {
                true => Reader::Html,
                false => Reader::Text,
            });
        Ok((bytes, reader))
    }
}

impl JobHandler for Ingestion {
    fn run<'a>(
        &'a self,
        job: &'a JobRecord,
        attempt: JobInfo,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.run_job(job, attempt))
    }
}
