//! Request validation with FastAPI's answers: query strings decoded into pairs (repeated keys
//! kept) and JSON bodies checked field by field, each problem reported as a pydantic-style
//! error in a 422 `{"detail": [{"type", "loc", "msg", "input"}]}`.

use super::error::{ApiError, ErrorContext, Loc, ValidationError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use serde_json::{Map, Value};

/// One pydantic-style validation error.
pub(super) fn invalid(
    kind: &'static str,
    loc: Vec<Loc>,
    msg: &str,
    input: Value,
) -> ValidationError {
    ValidationError::new(kind, loc, msg, input)
}

/// `[where, name]`: the location of a query parameter or body field.
pub(super) fn at(location: &str, name: &str) -> Vec<Loc> {
    vec![location.into(), name.into()]
}

/// The query string as decoded pairs, in order (repeated keys kept, for `status`).
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn parse(raw: Option<String>) -> Result<Params, ApiError> {
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            percent_encoding::percent_decode_str(&s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| ApiError::bad_request("Invalid query string: not valid UTF-8"))
        };
        let mut pairs = Vec::new();
        for part in raw.as_deref().unwrap_or("").split('&') {
            if part.is_empty() {
                continue;
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(Params(pairs))
    }

    /// The last value given for `name` (FastAPI's rule for a scalar parameter).
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The parameter `name`, if given, when it is one of `allowed` (else an `enum` error).
    pub(super) fn one_of(
        &self,
        name: &str,
        allowed: &[&str],
        errors: &mut Vec<ValidationError>,
    ) -> Option<String> {
        let v = self.get(name)?;
        if allowed.contains(&v) {
            return Some(v.to_owned());
        }
        errors.push(enum_error(at("query", name), v, allowed));
        None
    }

    /// An integer parameter at least `min` (and at most `max`), or `default` if absent.
    pub(super) fn int(
        &self,
        name: &str,
        default: Option<i64>,
        min: i64,
        max: Option<i64>,
        errors: &mut Vec<ValidationError>,
    ) -> Option<i64> {
        let Some(raw) = self.get(name) else {
            return default;
        };
        let loc = at("query", name);
        let Ok(n) = raw.trim().parse::<i64>() else {
            errors.push(invalid(
                "int_parsing",
                loc,
                "Input should be a valid integer, unable to parse string as an integer",
                Value::from(raw),
            ));
            return None;
        };
        if n < min {
            let e = invalid(
                "greater_than_equal",
                loc,
                &format!("Input should be greater than or equal to {min}"),
                Value::from(raw),
            );
            errors.push(e.with_ctx(ErrorContext {
                ge: Some(min),
                ..ErrorContext::default()
            }));
            return None;
        }
        if let Some(max) = max.filter(|&max| n > max) {
            let e = invalid(
                "less_than_equal",
                loc,
                &format!("Input should be less than or equal to {max}"),
                Value::from(raw),
            );
            errors.push(e.with_ctx(ErrorContext {
                le: Some(max),
                ..ErrorContext::default()
            }));
            return None;
        }
        Some(n)
    }
}

pub(super) fn enum_error(loc: Vec<Loc>, input: &str, allowed: &[&str]) -> ValidationError {
    let expected = match allowed.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            let head: Vec<String> = rest.iter().map(|a| format!("'{a}'")).collect();
            format!("{} or '{last}'", head.join(", "))
        }
        _ => allowed.iter().map(|a| format!("'{a}'")).collect(),
    };
    let e = invalid(
        "enum",
        loc,
        &format!("Input should be {expected}"),
        Value::from(input),
    );
    e.with_ctx(ErrorContext {
        expected: Some(expected),
        ..ErrorContext::default()
    })
}

/// 422 when any error was collected.
pub(super) fn check(errors: Vec<ValidationError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::unprocessable(errors))
    }
}

/// The request body as a JSON object, or FastAPI's 422.
pub(super) fn json_object(
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::unprocessable(vec![invalid(
            "missing",
            vec!["body".into()],
            "Field required",
            Value::Null,
        )]));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        let err = invalid(
            "json_invalid",
            vec!["body".into(), 0.into()],
            "JSON decode error",
            Value::Object(Map::new()),
        );
        ApiError::unprocessable(vec![err.with_ctx(ErrorContext {
            error: Some(e.to_string()),
            ..ErrorContext::default()
        })])
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::unprocessable(vec![invalid(
            "model_attributes_type",
            vec!["body".into()],
            "Input should be a valid dictionary or object to extract fields from",
            other,
        )])),
    }
}

/// A string field: `Ok(None)` when absent or null (and not `required`).
pub(super) fn string_field(
    body: &Map<String, Value>,
    name: &str,
    required: bool,
    errors: &mut Vec<ValidationError>,
) -> Option<String> {
    match body.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        None | Some(Value::Null) if !required => None,
        None => {
            errors.push(invalid(
                "missing",
                at("body", name),
                "Field required",
                Value::Null,
            ));
            None
        }
        Some(other) => {
            errors.push(invalid(
                "string_type",
                at("body", name),
                "Input should be a valid string",
                other.clone(),
            ));
            None
        }
    }
}

/// An optional JSON object field, as JSON text.
pub(super) fn object_field(
    body: &Map<String, Value>,
    name: &str,
    errors: &mut Vec<ValidationError>,
) -> Option<String> {
    match body.get(name) {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.to_string()),
        Some(other) => {
            errors.push(invalid(
                "dict_type",
                at("body", name),
                "Input should be a valid dictionary",
                other.clone(),
            ));
            None
        }
    }
}
