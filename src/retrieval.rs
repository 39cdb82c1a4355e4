//! What retrieval is made of, shared by the knowledge engine, its store and the wire: how to
//! search ([`SearchType`]), which content to search ([`MetadataFilter`]) and what a search finds
//! ([`SearchHit`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// How a knowledge base is searched: agno's `search_type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchType {
    /// Nearest embeddings (cosine similarity).
    Vector,
    /// Full-text search over the chunks' words (BM25 on SQLite, `ts_rank` on Postgres).
    Keyword,
    /// Both, fused by reciprocal rank.
    #[default]
    Hybrid,
}

impl SearchType {
    /// The wire name: `vector`, `keyword` or `hybrid`.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchType::Vector => "vector",
            SearchType::Keyword => "keyword",
            SearchType::Hybrid => "hybrid",
        }
    }
}

impl fmt::Display for SearchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SearchType {
    type Err = String;

    fn from_str(s: &str) -> Result<SearchType, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vector" => Ok(SearchType::Vector),
            "keyword" => Ok(SearchType::Keyword),
            "hybrid" => Ok(SearchType::Hybrid),
            other => Err(format!(
                "unknown search_type {other:?}: use vector, keyword or hybrid"
            )),
        }
    }
}

/// Which content items a search looks at: each key of the content's metadata must hold the
/// value given, or one of the values given as a list (agno's dict `knowledge_filters`).
///
/// ```
/// use agentos::MetadataFilter;
/// use serde_json::json;
/// let filter = MetadataFilter::from_json(&json!({"topic": "billing", "year": [2024, 2025]})).unwrap();
/// assert!(filter.matches(&json!({"topic": "billing", "year": 2025}).as_object().unwrap()));
/// assert!(!filter.matches(&json!({"topic": "billing", "year": 2023}).as_object().unwrap()));
/// assert!(MetadataFilter::from_json(&json!({"topic": {"nested": 1}})).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetadataFilter {
    /// `(key, accepted values)`, in key order; each value a string, number or boolean.
    terms: Vec<(String, Vec<Value>)>,
}

impl MetadataFilter {
    /// No filter: every content item.
    pub fn none() -> MetadataFilter {
        MetadataFilter::default()
    }

    /// The filter a JSON object describes; anything else, or a value that is not a string,
    /// number, boolean or a list of them, is refused with a message naming the key.
    pub fn from_json(value: &Value) -> Result<MetadataFilter, String> {
        match value {
            Value::Null => Ok(MetadataFilter::none()),
            Value::Object(map) => MetadataFilter::from_map(map),
            _ => Err("filters must be a JSON object of metadata keys and values".to_owned()),
        }
    }

    /// The filter a JSON object describes (see [`MetadataFilter::from_json`]).
    pub fn from_map(map: &Map<String, Value>) -> Result<MetadataFilter, String> {
        let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
        let mut terms = Vec::with_capacity(map.len());
        for (key, value) in map {
            if key.is_empty() || key.contains(['"', '\\']) {
                return Err(format!(
                    "filter key {key:?}: a key must be non-empty, without quotes or backslashes"
                ));
            }
            let values = match value {
                Value::Array(items) if !items.is_empty() && items.iter().all(scalar) => {
                    items.clone()
                }
                v if scalar(v) => vec![v.clone()],
                _ => {
                    return Err(format!(
                        "filter {key:?}: a value must be a string, a number, a boolean, or a \
                         non-empty list of them"
                    ));
                }
            };
            terms.push((key.clone(), values));
        }
        terms.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(MetadataFilter { terms })
    }

    /// The keys and their accepted values.
    pub fn terms(&self) -> &[(String, Vec<Value>)] {
        &self.terms
    }

    /// True when there is nothing to filter on.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// This filter with `other`'s keys added, `other`'s value winning where both have a key
    /// (agno: a request's filters override the agent's).
    pub fn merged(&self, other: &MetadataFilter) -> MetadataFilter {
        let mut terms: Vec<_> = self
            .terms
            .iter()
            .filter(|(k, _)| !other.terms.iter().any(|(o, _)| o == k))
            .cloned()
            .collect();
        terms.extend(other.terms.iter().cloned());
        terms.sort_by(|a, b| a.0.cmp(&b.0));
        MetadataFilter { terms }
    }

    /// Whether `metadata` passes (numbers compare by value: `2` matches `2.0`).
    pub fn matches(&self, metadata: &Map<String, Value>) -> bool {
        self.terms.iter().all(|(key, values)| {
            metadata
                .get(key)
                .is_some_and(|v| values.iter().any(|want| same_value(v, want)))
        })
    }
}

/// JSON equality where numbers compare as numbers.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// One chunk a search found, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The chunk's id.
    pub chunk_id: String,
    /// The content item it is part of.
    pub content_id: String,
    /// The content item's name.
    pub name: Option<String>,
    /// Where the content came from: its URL, or the uploaded file's name.
    pub source: Option<String>,
    /// The chunk's position in its content item, from 1 (agno's `chunk`).
    pub chunk: u32,
    /// The chunk's text.
    pub text: String,
    /// The content item's metadata and the chunk's own (`chunk`, `chunk_size`, and where the
    /// reader found it: `page`, `section`, `row`).
    pub meta: Map<String, Value>,
    /// Higher is better: cosine similarity (vector), the text rank (keyword), or the fused
    /// reciprocal-rank score (hybrid).
    pub score: f64,
}

/// The words of a keyword query: runs of letters and digits, lowercased, at most 64 of them
/// (never search syntax).
pub fn query_words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(64)
        .map(str::to_lowercase)
        .collect()
}

/// The constant of reciprocal rank fusion: a document at rank `r` (from 1) in one list scores
/// `1 / (RRF_K + r)` (Cormack et al.; 60 is the usual choice).
pub const RRF_K: f64 = 60.0;

/// Reciprocal rank fusion of several ranked lists into one, best first, at most `limit` hits.
/// A chunk found by several lists sums its scores; ties keep the first list's order.
pub fn fuse_rrf(lists: &[Vec<SearchHit>], limit: usize) -> Vec<SearchHit> {
    let mut fused: Vec<SearchHit> = Vec::new();
    for list in lists {
        for (rank, hit) in list.iter().enumerate() {
            let score = 1.0 / (RRF_K + rank as f64 + 1.0);
            match fused.iter_mut().find(|h| h.chunk_id == hit.chunk_id) {
                Some(existing) => existing.score += score,
                None => fused.push(SearchHit {
                    score,
                    ..hit.clone()
                }),
            }
        }
    }
    // Stable: equal scores keep the order they were first seen in.
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused.truncate(limit);
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str) -> SearchHit {
        SearchHit {
            chunk_id: id.to_owned(),
            content_id: "c".to_owned(),
            name: None,
            source: None,
            chunk: 1,
            text: id.to_owned(),
            meta: Map::new(),
            score: 0.0,
        }
    }

    #[test]
    fn a_chunk_both_lists_rank_well_comes_first() {
        let vector = vec![hit("a"), hit("b"), hit("c")];
        let keyword = vec![hit("b"), hit("d")];
        let fused = fuse_rrf(&[vector, keyword], 3);
        let ids: Vec<_> = fused.iter().map(|h| h.chunk_id.as_str()).collect();
        // b is found by both; a and d are first in one list only.
        assert_eq!(ids, ["b", "a", "d"]);
        assert!((fused[0].score - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-12);
    }

    #[test]
    fn filters_merge_with_the_later_winning() {
        let agent = MetadataFilter::from_json(&serde_json::json!({"a": 1, "b": "x"})).unwrap();
        let run = MetadataFilter::from_json(&serde_json::json!({"b": "y"})).unwrap();
        let merged = agent.merged(&run);
        let meta = serde_json::json!({"a": 1.0, "b": "y"});
        assert!(merged.matches(meta.as_object().unwrap()));
        assert_eq!(merged.terms().len(), 2);
    }
}
