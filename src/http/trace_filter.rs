//! agno's filter expressions (`agno.filters.from_dict`) for `POST /traces/search`, checked
//! and turned into the store's [`TraceFilter`], and the ISO-8601 times the traces routes take.

use super::error::ApiError;
use crate::store::{CmpOp, FilterValue, TraceField, TraceFilter};
use serde_json::Value;

/// How deep a search filter may nest (agno's limit).
const MAX_DEPTH: usize = 10;

/// An ISO-8601 time (with its offset) as unix microseconds, or agno's 400.
pub(super) fn time_param(name: &str, value: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(&value.trim().replace(' ', "T")))
        .map(|t| t.timestamp_micros())
        .map_err(|e| {
            ApiError::bad_request(format!(
                "Invalid {name} format. Use ISO 8601 format (e.g., '2025-11-19T10:00:00Z' or \
                 '2025-11-19T10:00:00+05:30'): {e}"
            ))
        })
}

/// A filter value for `field`: text, or for a time an ISO-8601 time, or for `duration_ms` a
/// number.
fn filter_value(field: TraceField, value: &Value) -> Result<FilterValue, String> {
    match (field, value) {
        (TraceField::DurationMs, Value::Number(n)) => n
            .as_f64()
            .map(|n| FilterValue::Number(n as i64))
            .ok_or_else(|| format!("duration_ms: {n} is not a number")),
        (TraceField::DurationMs, other) => Err(format!("duration_ms takes a number, not {other}")),
        (f, Value::String(s)) if f.is_number() => time_param(f.column(), s)
            .map(FilterValue::Number)
            .map_err(|_| format!("{} takes an ISO-8601 time, not {s:?}", f.column())),
        (f, other) if f.is_number() => Err(format!(
            "{} takes an ISO-8601 time, not {other}",
            f.column()
        )),
        (_, Value::String(s)) => Ok(FilterValue::Text(s.clone())),
        (_, Value::Number(n)) => Ok(FilterValue::Text(n.to_string())),
        (_, Value::Bool(b)) => Ok(FilterValue::Text(b.to_string())),
        (f, other) => Err(format!("{}: {other} is not a value", f.column())),
    }
}

/// agno's FilterExpr as a [`TraceFilter`], or why it is not one.
pub(super) fn parse_filter(value: &Value, depth: usize) -> Result<TraceFilter, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "Filter expression exceeds maximum nesting depth of {MAX_DEPTH}"
        ));
    }
    let Some(obj) = value.as_object().filter(|o| o.contains_key("op")) else {
        return Err(format!(
            "Invalid filter dictionary: must contain 'op' key. Got: {value}"
        ));
    };
    let op = obj.get("op").and_then(Value::as_str).unwrap_or_default();
    let field = || -> Result<TraceField, String> {
        let key = obj.get("key").and_then(Value::as_str).ok_or_else(|| {
            format!("{op} filter requires 'key' and 'value' fields. Got: {value}")
        })?;
        TraceField::parse(key).ok_or_else(|| format!("Unknown filter field {key:?}"))
    };
    let cmp = |op_kind: CmpOp| -> Result<TraceFilter, String> {
        let field = field()?;
        let v = obj.get("value").ok_or_else(|| {
            format!("{op} filter requires 'key' and 'value' fields. Got: {value}")
        })?;
        Ok(TraceFilter::Cmp(field, op_kind, filter_value(field, v)?))
    };
    let list = |key: &str| -> Result<Vec<TraceFilter>, String> {
        obj.get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{op} filter requires '{key}' field. Got: {value}"))?
            .iter()
            .map(|c| parse_filter(c, depth + 1))
            .collect()
    };
    match op {
        "EQ" => cmp(CmpOp::Eq),
        "NEQ" => cmp(CmpOp::Neq),
        "GT" => cmp(CmpOp::Gt),
        "GTE" => cmp(CmpOp::Gte),
        "LT" => cmp(CmpOp::Lt),
        "LTE" => cmp(CmpOp::Lte),
        "CONTAINS" => cmp(CmpOp::Contains),
        "STARTSWITH" => cmp(CmpOp::StartsWith),
        "IN" => {
            let field = field()?;
            let values = obj
                .get("values")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    format!("IN filter requires 'key' and 'values' fields. Got: {value}")
                })?
                .iter()
                .map(|v| filter_value(field, v))
                .collect::<Result<_, _>>()?;
            Ok(TraceFilter::In(field, values))
        }
        "AND" => Ok(TraceFilter::And(list("conditions")?)),
        "OR" => Ok(TraceFilter::Or(list("conditions")?)),
        "NOT" => {
            let inner = obj
                .get("condition")
                .ok_or_else(|| format!("NOT filter requires 'condition' field. Got: {value}"))?;
            Ok(TraceFilter::Not(Box::new(parse_filter(inner, depth + 1)?)))
        }
        other => Err(format!("Unknown filter operator: {other}")),
    }
}
