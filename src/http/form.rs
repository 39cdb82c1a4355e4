//! The run form: `multipart/form-data` or `application/x-www-form-urlencoded`, parsed into a
//! [`RunRequest`] with FastAPI's rules (wire spec §0, §2.1).

use super::error::ApiError;
use super::files::Upload;
use crate::runtime::RunRequest;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, OriginalUri, Request};
use axum::http::{StatusCode, header};
use serde_json::Value;
use utoipa::ToSchema;

/// More fields than any client sends; past this the form is refused (400).
const MAX_FIELDS: usize = 1000;

fn too_many_fields() -> ApiError {
    ApiError::bad_request(format!("Too many form fields (at most {MAX_FIELDS})"))
}

/// The fields of a run form, in order, and its `files` parts (agent runs use them; workflows,
/// as in agno, ignore them).
#[derive(Debug, Default)]
pub(crate) struct RunForm(pub Vec<(String, String)>, pub Vec<Upload>);

fn body_error(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(status, "Request body too large")
    } else {
        ApiError::bad_request(format!("Malformed request body: {text}"))
    }
}

impl<S: Send + Sync> FromRequest<S> for RunForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<RunForm, ApiError> {
        RunForm::read(req, state, "-F message='Hello' -F stream=false").await
    }
}

impl RunForm {
    /// Reads the form; a JSON body is refused with 415 and a curl example (`fields`) of the
    /// form to send instead.
    pub(crate) async fn read<S: Send + Sync>(
        req: Request,
        state: &S,
        fields: &str,
    ) -> Result<RunForm, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(req, state)
                .await
                .map_err(|e| body_error(e.status(), e.body_text()))?;
            let mut fields = Vec::new();
            let mut uploads = Vec::new();
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| body_error(e.status(), e.body_text()))?
            {
                if fields.len() + uploads.len() >= MAX_FIELDS {
                    return Err(too_many_fields());
                }
                let Some(name) = field.name().map(str::to_owned) else {
                    continue;
                };
                if let Some(file_name) = field.file_name().map(str::to_owned) {
                    let content_type = field.content_type().unwrap_or("").to_owned();
                    let bytes = field
                        .bytes()
                        .await
                        .map_err(|e| body_error(e.status(), e.body_text()))?;
                    if name == "files" || name == "file" {
                        uploads.push(Upload {
                            field: name,
                            name: file_name,
                            content_type,
                            bytes: bytes.to_vec(),
                        });
                    }
                    continue;
                }
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| body_error(e.status(), e.body_text()))?;
                let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                    ApiError::bad_request(format!("Field {name:?} is not valid UTF-8"))
                })?;
                fields.push((name, text));
            }
            Ok(RunForm(fields, uploads))
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            let bytes = Bytes::from_request(req, state)
                .await
                .map_err(|e| body_error(e.status(), e.body_text()))?;
            Ok(RunForm(parse_urlencoded(&bytes)?, Vec::new()))
        } else if is_json(&content_type) {
            Err(send_a_form(&req, &content_type, fields))
        } else {
            // FastAPI answers any other body as a form without `message`.
            Err(ApiError::missing("body", "message"))
        }
    }
}

/// `application/json` or any `+json` type.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence == "application/json" || essence.ends_with("+json")
}

/// 415 for a JSON body: the route reads a form, as agno's does; the detail shows how to send one.
fn send_a_form(req: &Request, content_type: &str, fields: &str) -> ApiError {
    let path = match req.extensions().get::<OriginalUri>() {
        Some(OriginalUri(uri)) => uri.path().to_owned(),
        None => req.uri().path().to_owned(),
    };
    let url = match req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        Some(host) => format!("http://{host}{path}"),
        None => path,
    };
    let essence = content_type.split(';').next().unwrap_or("").trim();
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "This route reads a form, not {essence}: send multipart/form-data or \
             application/x-www-form-urlencoded, for example: curl -X POST {url} {fields}"
        ),
    )
}

/// Parses `application/x-www-form-urlencoded`, refusing invalid UTF-8 (rather than replacing
/// it, as lenient parsers do) and more than [`MAX_FIELDS`] fields.
fn parse_urlencoded(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |part: &[u8]| -> Result<String, ApiError> {
        let spaced: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| ApiError::bad_request("Form field is not valid UTF-8"))
    };
    let mut fields = Vec::new();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        if fields.len() >= MAX_FIELDS {
            return Err(too_many_fields());
        }
        let mut kv = pair.splitn(2, |&b| b == b'=');
        let name = decode(kv.next().unwrap_or_default())?;
        let value = decode(kv.next().unwrap_or_default())?;
        fields.push((name, value));
    }
    Ok(fields)
}

/// FastAPI's boolean parsing for declared fields.
fn parse_bool(field: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" | "t" | "y" => Ok(true),
        "false" | "0" | "off" | "no" | "f" | "n" => Ok(false),
        _ => Err(ApiError::bad_bool(field, value)),
    }
}

/// An extra field's value: `true`/`false` become booleans, `null`/`none` null (agno's rule).
fn coerce_extra(value: String) -> Value {
    match value.to_ascii_lowercase().as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" | "none" => Value::Null,
        _ => Value::String(value),
    }
}

/// Fields agno decodes as JSON objects; bad JSON is dropped with a warning, as agno does.
const JSON_FIELDS: [&str; 3] = ["session_state", "dependencies", "metadata"];

/// A field that must hold a JSON object (`session_state`, `additional_data`): anything else
/// is the client's mistake, answered 400 rather than dropped (agno drops bad `session_state`
/// with a warning, and passes `additional_data` on as a string).
fn json_object(field: &str, value: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(format!(
            "{field} must be a JSON object"
        ))),
        Err(e) => Err(ApiError::bad_request(format!(
            "{field} is not valid JSON: {e}"
        ))),
    }
}

fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

impl RunForm {
    /// Validates an agent run's form: the fields, and the uploaded files for the model.
    pub(crate) fn into_agent_request(mut self) -> Result<RunRequest, ApiError> {
        let mut uploads = std::mem::take(&mut self.1);
        uploads.retain(|u| u.field == "files");
        let mut req = self.into_run_request()?;
        super::files::attach(&mut req, uploads)?;
        Ok(req)
    }

    /// Validates the form into a run request (uploaded files are not used).
    pub(crate) fn into_run_request(self) -> Result<RunRequest, ApiError> {
        let mut req = RunRequest {
            stream: true,
            ..RunRequest::default()
        };
        let mut message = None;
        for (name, value) in self.0 {
            match name.as_str() {
                "message" => message = Some(value),
                "stream" => req.stream = parse_bool("stream", &value)?,
                "background" => req.background = parse_bool("background", &value)?,
                "session_id" => {
                    if has_nul(&value) {
                        return Err(ApiError::bad_request(
                            "session_id must not contain NUL bytes",
                        ));
                    }
                    req.session_id = Some(value).filter(|v| !v.is_empty());
                }
                "user_id" => req.user_id = Some(value).filter(|v| !v.is_empty()),
                "stream_events" | "version" | "factory_input" => {}
                "knowledge_filters" => {
                    let map = json_object(&name, &value)?;
                    crate::retrieval::MetadataFilter::from_map(&map)
                        .map_err(|e| ApiError::bad_request(format!("knowledge_filters: {e}")))?;
                    req.knowledge_filters = Some(map);
                }
                "session_state" | "additional_data" => {
                    let map = json_object(&name, &value)?;
                    if name == "session_state" {
                        req.session_state = Some(map.clone());
                    } else {
                        req.additional_data = Some(map.clone());
                    }
                    req.extra.insert(name, Value::Object(map));
                }
                field if JSON_FIELDS.contains(&field) => {
                    match serde_json::from_str::<Value>(&value) {
                        Ok(Value::Object(map)) => {
                            match field {
                                "metadata" => req.metadata = Some(map.clone()),
                                "dependencies" => req.dependencies = Some(map.clone()),
                                _ => {}
                            }
                            req.extra.insert(name, Value::Object(map));
                        }
                        _ => {
                            tracing::warn!(field, "ignoring a form field that is not a JSON object")
                        }
                    }
                }
                _ => {
                    req.extra.insert(name, coerce_extra(value));
                }
            }
        }
        req.message = message.ok_or_else(|| ApiError::missing("body", "message"))?;
        Ok(req)
    }
}

/// The form of `POST /workflows/{workflow_id}/runs` (multipart or URL-encoded). Other fields
/// are passed on to the run as extra data (`true`/`false` as booleans, `null`/`none` as null).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form; `RunForm` reads it field by field
pub(crate) struct WorkflowRunForm {
    /// The input.
    message: String,
    /// Server-Sent Events when true, JSON when false.
    #[schema(default = true)]
    stream: Option<bool>,
    /// The session (a new one if omitted or empty).
    session_id: Option<String>,
    /// The user.
    user_id: Option<String>,
    /// With `stream=false`: answer 202 at once and run in the background (poll the run); with
    /// `stream=true`: a resumable stream whose events carry `event_index`.
    #[schema(default = false)]
    background: Option<bool>,
    /// A JSON object: the session state the steps start from.
    session_state: Option<String>,
    /// A JSON object, given to the steps.
    dependencies: Option<String>,
    /// A JSON object, stored with the run.
    metadata: Option<String>,
    /// A JSON object, given to every step as `additional_data`.
    additional_data: Option<String>,
}

/// The form of `POST /agents/{agent_id}/runs` (multipart or URL-encoded). Other fields are
/// passed on to the run as extra data.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form; `RunForm` reads it field by field
pub(crate) struct AgentRunForm {
    /// The input.
    message: String,
    /// Server-Sent Events when true, JSON when false.
    #[schema(default = true)]
    stream: Option<bool>,
    /// The session (a new one if omitted or empty); its earlier messages are the history.
    session_id: Option<String>,
    /// The user.
    user_id: Option<String>,
    /// With `stream=false`: answer 202 at once and run in the background (poll the run); with
    /// `stream=true`: a resumable stream whose events carry `event_index`.
    #[schema(default = false)]
    background: Option<bool>,
    /// A JSON object: the session state, over the session's stored one and the agent's
    /// defaults; stored with the session.
    session_state: Option<String>,
    /// A JSON object: the run's dependencies (templates, tools, hooks; in the user message
    /// with `add_dependencies_to_context`).
    dependencies: Option<String>,
    /// A JSON object, stored with the run.
    metadata: Option<String>,
    /// Images (png, jpeg, gif, webp) for the model, and text documents (multipart only).
    #[schema(value_type = Option<Vec<String>>, format = Binary)]
    files: Option<Vec<Vec<u8>>>,
}

/// The form of `POST .../runs/{run_id}/resume` (optional: no body replays every event).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form; `ResumeForm` reads it field by field
pub(crate) struct ResumeRequest {
    /// The index of the last event received; the later ones are sent.
    last_event_index: Option<i64>,
    /// The run's session (needed once the run has left this server's memory).
    session_id: Option<String>,
}
