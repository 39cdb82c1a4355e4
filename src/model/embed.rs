//! Embedders: text to vectors for a knowledge base. [`Embedder`] is the seam;
//! [`OpenAIEmbedder`] calls any OpenAI-compatible `POST /v1/embeddings` (OpenAI, vLLM, Ollama,
//! llama.cpp); `HashEmbedder` (in `hash_embed.rs`) needs no server.

use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::Duration;

/// Why texts could not be embedded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EmbedError {
    /// The server could not be reached, or did not answer in time.
    #[error("embedding server unreachable: {0}")]
    Unreachable(String),
    /// The server answered with an error status.
    #[error("embedding server answered {status}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The answer was not what an embeddings API returns.
    #[error("unexpected embeddings answer: {0}")]
    Malformed(String),
}

/// Turns texts into vectors of one fixed dimension; similar texts get close vectors.
#[async_trait]
pub trait Embedder: Send + Sync + 'static {
    /// Names the embedder and its settings (`openai:text-embedding-3-small`): vectors made by
    /// one id are compared only with vectors of the same id, and a text already embedded under
    /// this id is not embedded again.
    fn id(&self) -> &str;
    /// How many texts one call may take.
    fn batch_size(&self) -> usize {
        100
    }
    /// One vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// An embedding model served by an OpenAI-compatible API (`POST {base}/embeddings`).
///
/// `OpenAIEmbedder::new(model)` reads `OPENAI_API_KEY` and `OPENAI_BASE_URL` (ending in `/v1`,
/// default OpenAI's); the builder methods override them. A failed call is not retried here:
/// the ingestion job that called it is, with backoff, and resumes where it stopped.
///
/// ```
/// use agentos::model::{Embedder, OpenAIEmbedder};
/// let embedder = OpenAIEmbedder::new("text-embedding-3-small")
///     .base_url("http://localhost:11434/v1")
///     .batch_size(32);
/// assert_eq!(embedder.id(), "openai:text-embedding-3-small");
/// ```
#[derive(Clone)]
pub struct OpenAIEmbedder {
    id: String,
    model: String,
    base_url: String,
    api_key: Option<String>,
    dimensions: Option<u32>,
    batch_size: usize,
    timeout: Duration,
    http: reqwest::Client,
}

impl std::fmt::Debug for OpenAIEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAIEmbedder")
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

/// One HTTP client for every embedder that is not given its own.
fn shared_client() -> reqwest::Client {
    static SHARED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    SHARED.get_or_init(reqwest::Client::new).clone()
}

impl OpenAIEmbedder {
    /// The embedding model `model` on the server named by `OPENAI_BASE_URL`.
    pub fn new(model: impl Into<String>) -> OpenAIEmbedder {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let model = model.into();
        OpenAIEmbedder {
            id: format!("openai:{model}"),
            model,
            base_url: env("OPENAI_BASE_URL").unwrap_or_else(|| "https://api.openai.com/v1".into()),
            api_key: env("OPENAI_API_KEY"),
            dimensions: None,
            batch_size: 100,
            timeout: Duration::from_secs(60),
            http: shared_client(),
        }
    }

    /// Uses this base URL (including `/v1`) instead of `OPENAI_BASE_URL`.
    pub fn base_url(mut self, url: impl Into<String>) -> OpenAIEmbedder {
        self.base_url = url.into();
        self
    }

    /// Uses this API key instead of `OPENAI_API_KEY`.
    pub fn api_key(mut self, key: impl Into<String>) -> OpenAIEmbedder {
        self.api_key = Some(key.into());
        self
    }

    /// Asks for vectors of this many dimensions (the `dimensions` parameter of OpenAI's
    /// `text-embedding-3` models).
    pub fn dimensions(mut self, dimensions: u32) -> OpenAIEmbedder {
        self.dimensions = Some(dimensions);
        self.id = format!("openai:{}:{dimensions}", self.model);
        self
    }

    /// How many texts one request carries (default 100).
    pub fn batch_size(mut self, n: usize) -> OpenAIEmbedder {
        self.batch_size = n.max(1);
        self
    }

    /// The longest one request may take (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> OpenAIEmbedder {
        self.timeout = timeout;
        self
    }

    /// Sends the requests through `client` (a proxy, custom TLS roots).
    pub fn http_client(mut self, client: reqwest::Client) -> OpenAIEmbedder {
        self.http = client;
        self
    }
}

#[async_trait]
impl Embedder for OpenAIEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let mut body = json!({"model": self.model, "input": texts, "encoding_format": "float"});
        if let Some(d) = self.dimensions {
            body["dimensions"] = json!(d);
        }
        let url = format!("{}/embeddings", self.base_url.trim_end_matches('/'));
        let mut request = self.http.post(&url).timeout(self.timeout).json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| EmbedError::Unreachable(format!("{url}: {e}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| EmbedError::Unreachable(format!("{url}: {e}")))?;
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(300).collect());
            return Err(EmbedError::Status {
                status: status.as_u16(),
                message,
            });
        }
        parse_embeddings(&text, texts.len())
    }
}

/// The vectors of an embeddings answer (`{"data": [{"index", "embedding"}]}`), in input order.
fn parse_embeddings(text: &str, expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    let answer: Value =
        serde_json::from_str(text).map_err(|e| EmbedError::Malformed(e.to_string()))?;
    let data = answer
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| EmbedError::Malformed("no `data` list".into()))?;
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, item) in data.iter().enumerate() {
        let index = item
            .get("index")
            .and_then(Value::as_u64)
            .map_or(position, |i| i as usize);
        let vector: Vec<f32> = item
            .get("embedding")
            .and_then(Value::as_array)
            .ok_or_else(|| EmbedError::Malformed(format!("item {index} has no `embedding`")))?
            .iter()
            .map(|x| x.as_f64().map(|x| x as f32))
            .collect::<Option<_>>()
            .ok_or_else(|| EmbedError::Malformed(format!("item {index}: not numbers")))?;
        let slot = vectors
            .get_mut(index)
            .ok_or_else(|| EmbedError::Malformed(format!("index {index} out of range")))?;
        *slot = Some(vector);
    }
    vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| EmbedError::Malformed(format!("no vector for input {i}"))))
        .collect()
}

/// `v` scaled to unit length (a zero vector stays zero): cosine similarity is then the dot
/// product.
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_put_back_in_input_order() {
        let text = r#"{"data":[{"index":1,"embedding":[0.5]},{"index":0,"embedding":[1,2]}]}"#;
        let v = parse_embeddings(text, 2).unwrap();
        assert_eq!(v, vec![vec![1.0, 2.0], vec![0.5]]);
        assert!(parse_embeddings(r#"{"data":[]}"#, 1).is_err());
    }
}
