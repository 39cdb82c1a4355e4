//! [`ApiError`]: every error answer is JSON `{"detail": ...}` with the right status; and the
//! wire types of those bodies ([`ErrorBody`], [`ValidationErrorBody`]) that the OpenAPI document
//! names.

use super::AppState;
use crate::kind::ComponentKind;
use crate::runtime::StartError;
use crate::store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// An HTTP error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: ErrorResponse,
}

/// The body of an error answer: a message, or FastAPI's list of validation errors.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum ErrorResponse {
    Message(ErrorBody),
    Invalid(ValidationErrorBody),
}

/// `{"detail": "..."}`: what went wrong, in words.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// The problem, and what to do about it.
    detail: String,
}

/// FastAPI's 422 body: `{"detail": [{"type", "loc", "msg", "input"}]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ValidationErrorBody {
    /// One entry per invalid field.
    detail: Vec<ValidationError>,
}

/// One pydantic-style validation error.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ValidationError {
    /// pydantic's error type (`missing`, `int_parsing`, `enum`, ...).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where: `["body", "message"]`, `["query", "limit"]`, `["body", "session_ids", 0]`.
    pub loc: Vec<Loc>,
    /// The message.
    pub msg: String,
    /// The value that was refused (`null` when missing).
    pub input: Value,
    /// Details of the rule that failed, for some types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<ErrorContext>,
}

/// One step of a validation error's `loc`: a name or a list position.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum Loc {
    /// `body`, `query`, or a field name.
    Key(String),
    /// A position in a list.
    Index(usize),
}

impl From<&str> for Loc {
    fn from(s: &str) -> Loc {
        Loc::Key(s.to_owned())
    }
}

impl From<usize> for Loc {
    fn from(i: usize) -> Loc {
        Loc::Index(i)
    }
}

/// pydantic's `ctx`: the bound, the choices or the parse error behind a validation error.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub(crate) struct ErrorContext {
    /// The lower bound (`greater_than_equal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ge: Option<i64>,
    /// The upper bound (`less_than_equal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub le: Option<i64>,
    /// The accepted values (`enum`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// The JSON parser's message (`json_invalid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The kind of value checked (`too_short`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_type: Option<&'static str>,
    /// The shortest length allowed (`too_short`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    /// The length given (`too_short`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_length: Option<usize>,
}

impl ValidationError {
    pub(crate) fn new(
        kind: &'static str,
        loc: Vec<Loc>,
        msg: impl Into<String>,
        input: Value,
    ) -> Self {
        ValidationError {
            kind,
            loc,
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    pub(crate) fn with_ctx(mut self, ctx: ErrorContext) -> Self {
        self.ctx = Some(ctx);
        self
    }
}

impl ApiError {
    /// The answer's text: its `detail`, or the validation errors' messages.
    pub(crate) fn detail(&self) -> String {
        match &self.body {
            ErrorResponse::Message(body) => body.detail.clone(),
            ErrorResponse::Invalid(body) => body
                .detail
                .iter()
                .map(|e| e.msg.clone())
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorResponse::Message(ErrorBody {
                detail: detail.into(),
            }),
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
        let loc = vec![location.into(), field.into()];
        ApiError::unprocessable(vec![ValidationError::new(
            "missing",
            loc,
            "Field required",
            Value::Null,
        )])
    }

    /// FastAPI's 422 for a value that is not a boolean.
    pub(crate) fn bad_bool(field: &str, input: &str) -> ApiError {
        ApiError::unprocessable(vec![ValidationError::new(
            "bool_parsing",
            vec!["body".into(), field.into()],
            "Input should be a valid boolean, unable to interpret input",
            Value::from(input),
        )])
    }

    /// FastAPI's 422 for a body field that does not parse as an integer.
    pub(crate) fn bad_int(field: &str, input: &str) -> ApiError {
        ApiError::unprocessable(vec![ValidationError::new(
            "int_parsing",
            vec!["body".into(), field.into()],
            "Input should be a valid integer, unable to parse string as an integer",
            Value::from(input),
        )])
    }

    /// FastAPI's 422 with these validation errors.
    pub(crate) fn unprocessable(errors: Vec<ValidationError>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: ErrorResponse::Invalid(ValidationErrorBody { detail: errors }),
        }
    }

    /// A server-side failure: logged in full, answered with a safe message.
    pub(crate) fn internal(context: &str, e: impl std::fmt::Display) -> ApiError {
        tracing::error!("{context}: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{context}: {e}"))
    }

    /// 404 for an unknown agent, team or workflow id: agno's text first (`Agent not found`),
    /// then the id asked for and the ids served, so a typo shows at once.
    fn unknown_component<'a>(
        kind: ComponentKind,
        id: &str,
        served: impl Iterator<Item = &'a str>,
    ) -> ApiError {
        let served: Vec<&str> = served.collect();
        let served = match served.is_empty() {
            true => "none".to_owned(),
            false => served.join(", "),
        };
        ApiError::not_found(format!(
            "{} not found: '{id}'. Served {}: {served}",
            kind.label(),
            kind.plural()
        ))
    }

    /// [`ApiError::unknown_component`] for the components of `kind` this runtime serves.
    pub(crate) fn unknown(rt: &AppState, kind: ComponentKind, id: &str) -> ApiError {
        ApiError::unknown_component(kind, id, rt.ids(kind).into_iter())
    }

    /// The answer when starting a run of `kind` `id` failed. A session owned by another
    /// component is read once more to name its owner in the 409.
    pub(crate) async fn from_start(
        rt: &AppState,
        kind: ComponentKind,
        id: &str,
        e: StartError,
    ) -> ApiError {
        match e {
            StartError::NotFound(_) => ApiError::unknown(rt, kind, id),
            StartError::Store(StoreError::SessionConflict(session_id)) => {
                let owner = rt.store.get_session(&session_id).await.ok().flatten();
                let detail = match owner {
                    Some(s) if !s.component_id.is_empty() => format!(
                        "Session {session_id} belongs to {} '{}'; send another session_id, \
                         or none to start a new session",
                        s.session_type, s.component_id
                    ),
                    Some(s) => format!(
                        "Session {session_id} is {} {} session; send another session_id, \
                         or none to start a new session",
                        match s.session_type {
                            ComponentKind::Agent => "an",
                            _ => "a",
                        },
                        s.session_type
                    ),
                    None => conflict_text(&session_id),
                };
                ApiError::new(StatusCode::CONFLICT, detail)
            }
            StartError::Store(e) => e.into(),
        }
    }
}

/// The 409 text when the session's owner is not known.
fn conflict_text(session_id: &str) -> String {
    format!("Session {session_id} belongs to another workflow, agent or team")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::SessionConflict(id) => {
                ApiError::new(StatusCode::CONFLICT, conflict_text(&id))
            }
            other => ApiError::internal("database error", other),
        }
    }
}
