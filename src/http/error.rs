//! [`ApiError`]: every error answer is JSON `{"detail": ...}` with the right status.

use crate::runtime::StartError;
use crate::store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An HTTP error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    detail: Value,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: Value::String(detail.into()),
        }
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, detail)
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    /// FastAPI's 422 for a missing required field: `{"detail":[{"type":"missing",...}]}`.
    pub(crate) fn missing(location: &str, field: &str) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{
                "type": "missing",
                "loc": [location, field],
                "msg": "Field required",
                "input": null,
            }]),
        }
    }

    /// FastAPI's 422 for a value that is not a boolean.
    pub(crate) fn bad_bool(field: &str, input: &str) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{
                "type": "bool_parsing",
                "loc": ["body", field],
                "msg": "Input should be a valid boolean, unable to interpret input",
                "input": input,
            }]),
        }
    }

    /// FastAPI's 422 for a body field that does not parse as an integer.
    pub(crate) fn bad_int(field: &str, input: &str) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{
                "type": "int_parsing",
                "loc": ["body", field],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": input,
            }]),
        }
    }

    /// FastAPI's 422 with these pydantic-style error objects (`type`, `loc`, `msg`, `input`).
    pub(crate) fn unprocessable(errors: Vec<Value>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: Value::Array(errors),
        }
    }

    /// A server-side failure: logged in full, answered with a safe message.
    pub(crate) fn internal(context: &str, e: impl std::fmt::Display) -> ApiError {
        tracing::error!("{context}: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{context}: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "detail": self.detail }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::SessionConflict(id) => ApiError::new(
                StatusCode::CONFLICT,
                format!("Session {id} belongs to another workflow, agent or team"),
            ),
            other => ApiError::internal("database error", other),
        }
    }
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> ApiError {
        match e {
            StartError::NotFound(kind) => {
                ApiError::not_found(format!("{} not found", kind.label()))
            }
            StartError::Store(e) => e.into(),
        }
    }
}
