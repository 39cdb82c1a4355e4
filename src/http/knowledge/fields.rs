//! What the knowledge routes share: the form's fields, the JSON-object field, the reader an
//! upload names, and the knowledge base a request names.

use super::find;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::files::Upload;
use crate::http::validation::Params;
use crate::knowledge::{Knowledge, Reader};
use serde_json::{Map, Value};

/// The form's fields by name (the last value of each).
pub(super) struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    pub(super) fn int(&self, name: &str) -> Result<Option<usize>, ApiError> {
        self.get(name)
            .map(|v| v.trim().parse().map_err(|_| ApiError::bad_int(name, v)))
            .transpose()
    }
}

/// A JSON object form field (`metadata`): anything else is the client's mistake.
pub(super) fn object_field(name: &str, value: &str) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be a JSON object, e.g. {{\"topic\": \"billing\"}}"
        ))),
    }
}

pub(super) fn knowledge_params(raw: Option<String>) -> Result<Params, ApiError> {
    Params::parse(raw)
}

pub(super) fn kb<'a>(rt: &'a AppState, q: &Params) -> Result<&'a Knowledge, ApiError> {
    find(rt, q.get("knowledge_id"), q.get("db_id"))
}

pub(super) fn supported_types() -> String {
    Reader::ALL
        .iter()
        .flat_map(|r| r.extensions().iter().copied())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The reader for an upload: the one named, else the file's.
pub(super) fn reader_for(
    named: Option<&str>,
    upload: Option<&Upload>,
) -> Result<Option<Reader>, ApiError> {
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
