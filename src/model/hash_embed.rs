//! [`HashEmbedder`]: a deterministic embedder with no server, for tests and offline demos.

use super::embed::{EmbedError, Embedder, normalized};
use async_trait::async_trait;

/// Embeds text offline by feature hashing: each word (lowercased, a trailing plural `s`
/// dropped, common English words skipped) and each pair of neighbouring words is hashed into
/// one of `dimensions` buckets with a hashed sign, weighted by `1 + ln(count)`, and the vector
/// is normalized. Texts that share words get close vectors, so retrieval tests measure real
/// ranking; texts that only mean the same with other words do not (use a real embedding model
/// for that). The same text always gives the same vector, on every machine.
///
/// ```
/// use agentos::model::{Embedder, HashEmbedder};
/// # tokio_test(async {
/// let e = HashEmbedder::new(256);
/// let v = e.embed(&["refund policy for orders".into(), "orders refund".into(),
///                   "the weather in Paris".into()]).await.unwrap();
/// let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
/// assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]));
/// # });
/// # fn tokio_test(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HashEmbedder {
    id: String,
    dimensions: usize,
}

impl HashEmbedder {
    /// Vectors of `dimensions` numbers (256 is plenty for tests).
    pub fn new(dimensions: usize) -> HashEmbedder {
        let dimensions = dimensions.max(8);
        HashEmbedder {
            id: format!("hash:{dimensions}"),
            dimensions,
        }
    }

    /// The vector of one text.
    pub fn vector(&self, text: &str) -> Vec<f32> {
        let words = terms(text);
        let mut counts: std::collections::HashMap<u64, f32> = std::collections::HashMap::new();
        for word in &words {
            *counts.entry(fnv1a(word.as_bytes())).or_default() += 1.0;
        }
        for pair in words.windows(2) {
            let joined = format!("{} {}", pair[0], pair[1]);
            // Pairs count half: they sharpen, words decide.
            *counts.entry(fnv1a(joined.as_bytes())).or_default() += 0.5;
        }
        let mut v = vec![0f32; self.dimensions];
        for (hash, count) in counts {
            let bucket = (hash % self.dimensions as u64) as usize;
            let sign = if (hash >> 63) == 0 { 1.0 } else { -1.0 };
            v[bucket] += sign * (1.0 + count.ln());
        }
        normalized(v)
    }
}

impl Default for HashEmbedder {
    fn default() -> Self {
        HashEmbedder::new(256)
    }
}

#[async_trait]
impl Embedder for HashEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.vector(t)).collect())
    }
}

/// Words too common to tell texts apart.
const STOPWORDS: [&str; 40] = [
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "does", "for", "from", "has", "have",
    "how", "in", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were",
    "what", "when", "where", "which", "who", "why", "will", "with", "you", "your", "can", "i",
];

/// The text's words: lowercase alphanumeric runs, stopwords dropped, a plural `s` trimmed.
fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.len() > 2 && !stem.ends_with('s') => stem.to_owned(),
            _ => w,
        })
        .collect()
}

/// FNV-1a, 64 bits: a hash that is the same on every machine and every run.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
