//! Content in: `POST /knowledge/content` (a file, text or a URL; 202 and a durable ingestion
//! job) and `POST /knowledge/remote-content`.

use super::fields::{Fields, kb, knowledge_params, object_field, reader_for};
use super::schema::UploadResponse;
use super::{TAG, find};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, ValidationErrorBody};
use crate::http::form::RunForm;
use crate::knowledge::{Chunking, Reader};
use crate::runtime::knowledge::{ContentInput, NewUpload};
use axum::Json;
use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use serde_json::Value;
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

/// The form of `POST /knowledge/remote-content`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form
pub(crate) struct RemoteContentForm {
    /// The id of a configured remote source (none are: `/knowledge/config`).
    config_id: String,
    /// The file or folder in it.
    path: String,
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
