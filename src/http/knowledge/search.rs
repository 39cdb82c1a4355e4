//! `POST /knowledge/search` and `GET /knowledge/config`.

use super::schema::{
    ChunkerInfo, KnowledgeConfigResponse, ReaderInfo, SearchRequest, SearchResult, SearchResults,
    VectorDbInfo,
};
use super::{TAG, find};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, ValidationError, ValidationErrorBody};
use crate::http::page::PageMeta;
use crate::http::validation::{Params, at, check, invalid, json_object, string_field};
use crate::knowledge::{Knowledge, KnowledgeError, Reader};
use crate::retrieval::{MetadataFilter, SearchType};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::Instant;

/// An optional integer body field within `[min, max]`.
fn int_field(
    loc: Vec<crate::http::error::Loc>,
    value: Option<&Value>,
    min: u64,
    max: Option<u64>,
    errors: &mut Vec<ValidationError>,
) -> Option<u64> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::Number(n))
            if n.as_u64()
                .is_some_and(|n| n >= min && max.is_none_or(|m| n <= m)) =>
        {
            n.as_u64()
        }
        Some(other) => {
            let range = match max {
                Some(max) => format!("an integer from {min} to {max}"),
                None => format!("an integer of at least {min}"),
            };
            errors.push(invalid(
                "int_range",
                loc,
                &format!("Input should be {range}"),
                other.clone(),
            ));
            None
        }
    }
}

/// The knowledge base's vector database, as agno's config and search requests name it.
fn vector_db_id(kb: &Knowledge) -> String {
    format!("{}-vectors", kb.id())
}

/// Search the knowledge base
///
/// `max_results` chunks (default the knowledge base's) of completed content, best first, by
/// `search_type` (default the knowledge base's), limited by `filters`, then paged by `meta`.
#[utoipa::path(
    post, path = "/knowledge/search", tag = TAG,
    request_body = SearchRequest,
    responses(
        (status = 200, description = "One page of the chunks found", body = SearchResults),
        (status = 400, description = "A bad search type, filter or vector database id", body = ErrorBody),
        (status = 404, description = "No such knowledge base", body = ErrorBody),
        (status = 422, description = "No query, or a field of the wrong type", body = ValidationErrorBody),
        (status = 502, description = "The embedding server failed", body = ErrorBody),
    )
)]
pub(super) async fn search_knowledge(
    State(rt): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SearchResults>, ApiError> {
    let started = Instant::now();
    let body = json_object(body)?;
    let mut errors = Vec::new();
    let query = string_field(&body, "query", true, &mut errors);
    let knowledge_id = string_field(&body, "knowledge_id", false, &mut errors);
    let db_id = string_field(&body, "db_id", false, &mut errors);
    let search_type = string_field(&body, "search_type", false, &mut errors);
    let max_results = int_field(
        at("body", "max_results"),
        body.get("max_results"),
        1,
        Some(1000),
        &mut errors,
    );
    let meta = body.get("meta").cloned().unwrap_or(Value::Null);
    let limit = int_field(
        vec!["body".into(), "meta".into(), "limit".into()],
        meta.get("limit"),
        1,
        None,
        &mut errors,
    )
    .unwrap_or(20);
    let page = int_field(
        vec!["body".into(), "meta".into(), "page".into()],
        meta.get("page"),
        1,
        None,
        &mut errors,
    )
    .unwrap_or(1);
    check(errors)?;
    let query = query.unwrap_or_default();
    let kb = find(&rt, knowledge_id.as_deref(), db_id.as_deref())?;
    if let Some(ids) = body.get("vector_db_ids").and_then(Value::as_array)
        && !ids.is_empty()
        && !ids.iter().any(|id| id.as_str() == Some(&vector_db_id(kb)))
    {
        return Err(ApiError::bad_request(format!(
            "None of the provided Vector DB IDs {} match the knowledge base Vector DB ID {}",
            Value::Array(ids.clone()),
            vector_db_id(kb)
        )));
    }
    let search_type = search_type
        .map(|s| s.parse::<SearchType>())
        .transpose()
        .map_err(ApiError::bad_request)?;
    let filter = MetadataFilter::from_json(body.get("filters").unwrap_or(&Value::Null))
        .map_err(ApiError::bad_request)?;
    let hits = kb
        .search(
            &query,
            search_type,
            max_results.map(|n| n as usize),
            &filter,
        )
        .await
        .map_err(|e| match e {
            KnowledgeError::Embed(e) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("The query could not be embedded: {e}"),
            ),
            other => ApiError::internal("knowledge search failed", other),
        })?;
    let total = hits.len() as u64;
    let data = hits
        .into_iter()
        .skip(((page - 1) * limit).min(usize::MAX as u64) as usize)
        .take(limit as usize)
        .map(SearchResult::of)
        .collect();
    Ok(Json(SearchResults {
        data,
        meta: PageMeta {
            page,
            limit,
            total_pages: total.div_ceil(limit),
            total_count: total,
            search_time_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        },
    }))
}

/// What chunkers there are, as agno's config names them.
fn chunkers(kb: &Knowledge) -> BTreeMap<String, ChunkerInfo> {
    let default = kb.get_chunking();
    let sizes = |chunker: &str| {
        let (size, overlap) = match default {
            crate::knowledge::Chunking::Fixed { size, overlap }
            | crate::knowledge::Chunking::Document { size, overlap } => (size, overlap),
        };
        let mut m = Map::new();
        m.insert("chunk_size".into(), json!(size));
        if chunker != "RowChunker" {
            m.insert("chunk_overlap".into(), json!(overlap));
        }
        m
    };
    [
        (
            "FixedSizeChunker",
            "Chunking strategy that splits text into fixed-size chunks with optional overlap",
        ),
        (
            "DocumentChunker",
            "A chunking strategy that splits text based on document structure like paragraphs \
             and sections",
        ),
        (
            "MarkdownChunker",
            "A chunking strategy that splits markdown based on structure like headers, \
             paragraphs and sections",
        ),
        ("RowChunker", "Packs rows (CSV) or items (JSON) into chunks"),
    ]
    .into_iter()
    .map(|(key, description)| {
        (
            key.to_owned(),
            ChunkerInfo {
                key: key.to_owned(),
                name: key.to_owned(),
                description: description.to_owned(),
                metadata: sizes(key),
            },
        )
    })
    .collect()
}

/// Readers, chunkers, filters and the vector database of a knowledge base
#[utoipa::path(
    get, path = "/knowledge/config", tag = TAG,
    params(
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "The knowledge base's configuration", body = KnowledgeConfigResponse),
        (status = 404, description = "No such knowledge base", body = ErrorBody),
        (status = 503, description = "No knowledge base is served", body = ErrorBody),
    )
)]
pub(super) async fn get_config(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<KnowledgeConfigResponse>, ApiError> {
    let q = Params::parse(raw)?;
    let kb = find(&rt, q.get("knowledge_id"), q.get("db_id"))?;
    let chunkers = chunkers(kb);
    let chunker_names: Vec<String> = chunkers.keys().cloned().collect();
    let mut readers = BTreeMap::new();
    let mut readers_for_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for reader in Reader::ALL {
        let types: Vec<String> = reader.extensions().iter().map(|e| e.to_string()).collect();
        for t in &types {
            readers_for_type
                .entry(t.clone())
                .or_default()
                .push(reader.id().to_owned());
        }
        readers.insert(
            reader.id().to_owned(),
            ReaderInfo {
                id: reader.id().to_owned(),
                name: reader.name().to_owned(),
                description: format!("Reads {} files", reader.id()),
                chunkers: chunker_names.clone(),
                content_types: types,
            },
        );
    }
    readers_for_type.insert("url".into(), vec!["html".into(), "text".into()]);
    readers_for_type.insert("text".into(), vec!["text".into(), "markdown".into()]);
    readers_for_type.insert(
        "file".into(),
        Reader::ALL.iter().map(|r| r.id().to_owned()).collect(),
    );
    let filters = kb
        .filter_keys()
        .await
        .map_err(|e| ApiError::internal("config", e))?;
    let backend = rt.store.vector_backend();
    Ok(Json(KnowledgeConfigResponse {
        readers,
        readers_for_type,
        chunkers,
        filters,
        vector_dbs: vec![VectorDbInfo {
            id: vector_db_id(kb),
            name: format!("{} ({backend})", kb.name()),
            description: format!(
                "The chunks of {:?} in this OS's database, embedded by {}",
                kb.name(),
                kb.get_embedder().id()
            ),
            search_types: vec!["vector".into(), "keyword".into(), "hybrid".into()],
        }],
        remote_content_sources: None,
    }))
}
