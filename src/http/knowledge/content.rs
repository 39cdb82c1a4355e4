//! Content routes: upload (a file, text or a URL; 202 and a durable ingestion job), remote
//! content, the paged list, one item, its status, update and delete.

use super::schema::{
    ContentList, ContentResponse, ContentStatusResponse, DeletedContent, UploadResponse,
};
use super::{TAG, content_not_found, find};
use crate::http::error::{ApiError, ErrorBody, ValidationErrorBody};
use crate::http::files::Upload;
use crate::http::form::RunForm;
use crate::http::page::PageMeta;
use crate::http::validation::{Params, at, check, enum_error};
use crate::http::{AppState, Path};
use crate::knowledge::{Chunking, Knowledge, Reader};
use crate::runtime::knowledge::{ContentInput, NewUpload};
use crate::store::{ContentPage, ContentSort, ContentUpdate};
use axum::Json;
use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use serde_json::{Map, Value};
use std::time::Instant;
use utoipa::ToSchema;

/// The form of `POST /knowledge/content` (multipart, or URL-encoded without a file).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form; `RunForm` reads it field by field
pub(crate) struct UploadForm {
    /// The content's name (default: the file's name, or the URL).
    name: Option<String>,
    /// What it is.
    description: Option<String>,
    /// One URL (optionally JSON-encoded) the server fetches.
    url: Option<String>,
    /// A JSON object: metadata searches can filter on.
    metadata: Option<String>,
    /// The file: text, Markdown, HTML, CSV, JSON, PDF or DOCX.
    #[schema(value_type = Option<String>, format = Binary)]
    file: Option<Vec<u8>>,
    /// Text to index.
    text_content: Option<String>,
    /// The reader (`text`, `markdown`, `html`, `csv`, `json`, `pdf`, `docx`); default: by the
    /// file's extension or type.
    reader_id: Option<String>,
    /// `FixedSizeChunker`, `DocumentChunker`, `MarkdownChunker` or `RowChunker`.
    chunker: Option<String>,
    /// Characters per chunk.
    chunk_size: Option<u64>,
    /// Characters shared by neighbouring chunks.
    chunk_overlap: Option<u64>,
}

/// The form of `PATCH /knowledge/content/{content_id}`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form
pub(crate) struct UpdateForm {
    name: Option<String>,
    description: Option<String>,
    /// A JSON object; replaces the metadata.
    metadata: Option<String>,
    /// Must name a reader; accepted and otherwise unused (agno's too).
    reader_id: Option<String>,
}

/// The form of `POST /knowledge/remote-content`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form
pub(crate) struct RemoteContentForm {
    /// The id of a configured remote source (none are: `/knowledge/config`).
    config_id: String,
    /// The file or folder in it.
    path: String,
}

/// The form's fields by name (the last value of each).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    fn int(&self, name: &str) -> Result<Option<usize>, ApiError> {
        self.get(name)
            .map(|v| v.trim().parse().map_err(|_| ApiError::bad_int(name, v)))
            .transpose()
    }
}

/// A JSON object form field (`metadata`): anything else is the client's mistake.
fn object_field(name: &str, value: &str) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be a JSON object, e.g. {{\"topic\": \"billing\"}}"
        ))),
    }
}

fn supported_types() -> String {
    Reader::ALL
        .iter()
        .flat_map(|r| r.extensions().iter().copied())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The reader for an upload: the one named, else the file's.
fn reader_for(named: Option<&str>, upload: Option<&Upload>) -> Result<Option<Reader>, ApiError> {
    if let Some(id) = named {
        return Reader::from_id(id).map(Some).ok_or_else(|| {
            let ids: Vec<_> = Reader::ALL.iter().map(|r| r.id()).collect();
            ApiError::bad_request(format!(
                "Invalid reader_id: {id}. Readers: {}",
                ids.join(", ")
            ))
        });
    }
    let Some(upload) = upload else {
        return Ok(None);
    };
    Reader::for_file(Some(&upload.name), &upload.content_type)
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Unsupported file type: {:?} ({}). Supported: {}",
                upload.name,
                if upload.content_type.is_empty() {
                    "no content type"
                } else {
                    &upload.content_type
                },
                supported_types()
            ))
        })
}

/// The URL field: one http(s) URL, plain or JSON-encoded.
fn url_field(value: &str) -> Result<String, ApiError> {
    let url = match serde_json::from_str::<Value>(value) {
        Ok(Value::String(s)) => s,
        Ok(_) => {
            return Err(ApiError::bad_request(
                "URL must be a single non-empty string; submit each URL separately.",
            ));
        }
        Err(_) => value.to_owned(),
    };
    let url = url.trim().to_owned();
    match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(url),
        _ => Err(ApiError::bad_request(format!(
            "url must be an http or https URL, got {url:?}"
        ))),
    }
}

fn knowledge_params(raw: Option<String>) -> Result<Params, ApiError> {
    Params::parse(raw)
}

fn kb<'a>(rt: &'a AppState, q: &Params) -> Result<&'a Knowledge, ApiError> {
    find(rt, q.get("knowledge_id"), q.get("db_id"))
}

/// Upload content
///
/// A file (multipart), `text_content` or a `url`; answered 202 at once while a durable job
/// reads, chunks and embeds it (`GET /knowledge/content/{id}/status` follows it). The same
/// content uploaded again keeps its id and is not indexed twice.
#[utoipa::path(
    post, path = "/knowledge/content", tag = TAG,
    params(
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base (needed when several are served)"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients; there is one database"),
    ),
    request_body(content(
        (UploadForm = "multipart/form-data"),
        (UploadForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 202, description = "Accepted; being indexed", body = UploadResponse),
        (status = 400, description = "Nothing to upload, an unsupported file type, bad metadata, URL, reader or chunker", body = ErrorBody),
        (status = 404, description = "No such knowledge base", body = ErrorBody),
        (status = 413, description = "The file is over the knowledge base's limit", body = ErrorBody),
        (status = 422, description = "A chunk size that is not a number", body = ValidationErrorBody),
        (status = 503, description = "No knowledge base is served", body = ErrorBody),
    )
)]
pub(super) async fn upload_content(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Result<(StatusCode, Json<UploadResponse>), ApiError> {
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    let curl = "-F file=@handbook.pdf  (or -F text_content='...', or -F url=https://...)";
    let RunForm(fields, mut uploads) = RunForm::read(request, &rt, curl).await?;
    let f = Fields(fields);
    uploads.retain(|u| u.field == "file");
    let file = uploads.pop();
    let metadata = f
        .get("metadata")
        .map(|m| object_field("metadata", m))
        .transpose()?;
    let reader = reader_for(f.get("reader_id"), file.as_ref())?;
    let chunking = match (
        f.get("chunker"),
        f.int("chunk_size")?,
        f.int("chunk_overlap")?,
    ) {
        (None, None, None) => kb.get_chunking(),
        (name, size, overlap) => {
            let name = name.unwrap_or(kb.get_chunking().name());
            Chunking::named(name, size, overlap).map_err(ApiError::bad_request)?
        }
    };
    let (input, default_name) = if let Some(file) = file {
        if file.bytes.len() > kb.get_max_file_bytes() {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "The file {:?} is {} bytes; the knowledge base takes files up to {} bytes",
                    file.name,
                    file.bytes.len(),
                    kb.get_max_file_bytes()
                ),
            ));
        }
        let name = file.name.clone();
        let input = ContentInput::File {
            reader: reader.unwrap_or(Reader::Text),
            media_type: file.content_type,
            file_name: Some(file.name),
            bytes: file.bytes,
        };
        (input, Some(name))
    } else if let Some(text) = f.get("text_content") {
        let input = ContentInput::Text {
            text: text.to_owned(),
            reader: reader.unwrap_or(Reader::Text),
        };
        (input, None)
    } else if let Some(url) = f.get("url") {
        let url = url_field(url)?;
        (
            ContentInput::Url {
                url: url.clone(),
                reader,
            },
            Some(url),
        )
    } else {
        return Err(ApiError::bad_request(
            "Provide a file, text_content, or URL to upload.",
        ));
    };
    let name = f.get("name").map(str::to_owned).or(default_name);
    let description = f.get("description").map(str::to_owned);
    let upload = NewUpload {
        name: name.clone(),
        description: description.clone(),
        metadata: metadata.clone(),
        input,
        chunking,
        from_path: false,
    };
    let record = rt.add_content(kb, upload).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(UploadResponse {
            id: record.id,
            name,
            description,
            metadata,
            status: record.status,
        }),
    ))
}

/// Upload remote content
///
/// Content from a configured remote source (S3, GCS, SharePoint, GitHub in agno). None is
/// configured here: every `config_id` is unknown.
#[utoipa::path(
    post, path = "/knowledge/remote-content", tag = TAG,
    params(
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    request_body(content(
        (RemoteContentForm = "multipart/form-data"),
        (RemoteContentForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 400, description = "Unknown content source", body = ErrorBody),
        (status = 422, description = "`config_id` or `path` missing", body = ValidationErrorBody),
        (status = 503, description = "No knowledge base is served", body = ErrorBody),
    )
)]
pub(super) async fn upload_remote_content(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Result<(StatusCode, Json<UploadResponse>), ApiError> {
    let q = knowledge_params(raw)?;
    find(&rt, q.get("knowledge_id"), q.get("db_id"))?;
    let RunForm(fields, _) = RunForm::read(request, &rt, "-F config_id=... -F path=...").await?;
    let f = Fields(fields);
    let config_id = f
        .get("config_id")
        .ok_or_else(|| ApiError::missing("body", "config_id"))?;
    f.get("path")
        .ok_or_else(|| ApiError::missing("body", "path"))?;
    Err(ApiError::bad_request(format!(
        "Unknown content source: {config_id}. Check /knowledge/config for available sources \
         (this server has none; upload files, text or URLs with POST /knowledge/content)."
    )))
}

/// List content, newest first, paged
#[utoipa::path(
    get, path = "/knowledge/content", tag = TAG,
    params(
        ("limit" = Option<u64>, Query, minimum = 1, description = "Items per page (default 20)"),
        ("page" = Option<u64>, Query, minimum = 0, description = "Page, from 1 (default 1)"),
        ("sort_by" = Option<String>, Query, description = "`created_at` (default), `updated_at` or `name`"),
        ("sort_order" = Option<String>, Query, description = "`desc` (default) or `asc`"),
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "One page of content items", body = ContentList),
        (status = 404, description = "No such knowledge base", body = ErrorBody),
        (status = 422, description = "A parameter out of range", body = ValidationErrorBody),
    )
)]
pub(super) async fn list_content(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ContentList>, ApiError> {
    let started = Instant::now();
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    let mut errors = Vec::new();
    let limit = q.int("limit", Some(20), 1, Some(1000), &mut errors);
    let page = q.int("page", Some(1), 0, None, &mut errors);
    let sort = match q.get("sort_by") {
        None | Some("created_at") => Some(ContentSort::CreatedAt),
        Some("updated_at") => Some(ContentSort::UpdatedAt),
        Some("name") => Some(ContentSort::Name),
        Some(s) => {
            let names = ["created_at", "updated_at", "name"];
            errors.push(enum_error(at("query", "sort_by"), s, &names));
            None
        }
    };
    let ascending = match q.get("sort_order") {
        None | Some("desc") => Some(false),
        Some("asc") => Some(true),
        Some(s) => {
            errors.push(enum_error(at("query", "sort_order"), s, &["asc", "desc"]));
            None
        }
    };
    check(errors)?;
    let (Some(limit), Some(page), Some(sort), Some(ascending)) = (limit, page, sort, ascending)
    else {
        return Err(ApiError::bad_request("invalid query"));
    };
    let (limit, page) = (limit as u64, (page as u64).max(1));
    let request = ContentPage {
        limit: limit as u32,
        offset: ((page - 1) * limit).min(u32::MAX as u64) as u32,
        sort,
        ascending,
    };
    let (rows, total) = rt.store.list_contents(kb.id(), &request).await?;
    Ok(Json(ContentList {
        data: rows.iter().map(ContentResponse::of).collect(),
        meta: PageMeta {
            page,
            limit,
            total_pages: total.div_ceil(limit),
            total_count: total,
            search_time_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        },
    }))
}

/// One content item
#[utoipa::path(
    get, path = "/knowledge/content/{content_id}", tag = TAG,
    params(
        ("content_id" = String, Path, description = "The content item's id"),
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "The content item", body = ContentResponse),
        (status = 404, description = "No such content item", body = ErrorBody),
    )
)]
pub(super) async fn get_content(
    State(rt): State<AppState>,
    Path(content_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ContentResponse>, ApiError> {
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    let record = rt.store.get_content(kb.id(), &content_id).await?;
    let record = record.ok_or_else(|| content_not_found(&content_id))?;
    Ok(Json(ContentResponse::of(&record)))
}

/// A content item's processing status
#[utoipa::path(
    get, path = "/knowledge/content/{content_id}/status", tag = TAG,
    params(
        ("content_id" = String, Path, description = "The content item's id"),
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "`processing`, `completed` or `failed`, with the reason", body = ContentStatusResponse),
        (status = 404, description = "No such content item", body = ErrorBody),
    )
)]
pub(super) async fn get_content_status(
    State(rt): State<AppState>,
    Path(content_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ContentStatusResponse>, ApiError> {
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    let record = rt.store.get_content(kb.id(), &content_id).await?;
    let record = record.ok_or_else(|| content_not_found(&content_id))?;
    Ok(Json(ContentStatusResponse {
        id: record.id,
        status: record.status,
        status_message: record.status_message,
    }))
}

/// Update a content item's name, description or metadata
#[utoipa::path(
    patch, path = "/knowledge/content/{content_id}", tag = TAG,
    params(
        ("content_id" = String, Path, description = "The content item's id"),
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    request_body(content(
        (UpdateForm = "multipart/form-data"),
        (UpdateForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The updated content item", body = ContentResponse),
        (status = 400, description = "Metadata that is not a JSON object, or an unknown reader", body = ErrorBody),
        (status = 404, description = "No such content item", body = ErrorBody),
    )
)]
pub(super) async fn update_content(
    State(rt): State<AppState>,
    Path(content_id): Path<String>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Result<Json<ContentResponse>, ApiError> {
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    let RunForm(fields, _) = RunForm::read(request, &rt, "-F name='New name'").await?;
    let f = Fields(fields);
    let metadata = f
        .get("metadata")
        .map(|m| object_field("metadata", m))
        .transpose()?;
    reader_for(f.get("reader_id"), None)?;
    let update = ContentUpdate {
        name: f.get("name").map(str::to_owned),
        description: f.get("description").map(str::to_owned),
        metadata: metadata.map(|m| Value::Object(m).to_string()),
    };
    let record = rt
        .store
        .update_content(kb.id(), &content_id, &update)
        .await?;
    let record = record.ok_or_else(|| content_not_found(&content_id))?;
    Ok(Json(ContentResponse::of(&record)))
}

/// Delete a content item and its chunks
#[utoipa::path(
    delete, path = "/knowledge/content/{content_id}", tag = TAG,
    params(
        ("content_id" = String, Path, description = "The content item's id"),
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "Deleted", body = DeletedContent),
        (status = 404, description = "No such content item", body = ErrorBody),
    )
)]
pub(super) async fn delete_content(
    State(rt): State<AppState>,
    Path(content_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<DeletedContent>, ApiError> {
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    if !rt.store.delete_content(kb.id(), &content_id).await? {
        return Err(content_not_found(&content_id));
    }
    Ok(Json(DeletedContent { id: content_id }))
}

/// Delete every content item of the knowledge base
#[utoipa::path(
    delete, path = "/knowledge/content", tag = TAG,
    params(
        ("knowledge_id" = Option<String>, Query, description = "The knowledge base"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "`\"success\"`", body = String),
        (status = 404, description = "No such knowledge base", body = ErrorBody),
    )
)]
pub(super) async fn delete_all_content(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<&'static str>, ApiError> {
    let q = knowledge_params(raw)?;
    let kb = kb(&rt, &q)?;
    rt.store.delete_all_contents(kb.id()).await?;
    Ok(Json("success"))
}
