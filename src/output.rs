//! Structured output: a Rust type's JSON schema sent as OpenAI's `response_format`, and the
//! reply checked against the type.

use crate::model::ResponseFormat;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;

/// The formats OpenAI's strict mode accepts; schemars' others (`uint32`, `double`...) go.
const STRICT_FORMATS: &[&str] = &[
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

/// Checks a reply against the output type.
type Validator = dyn Fn(&Value) -> Result<(), String> + Send + Sync;

/// An agent's output type: the format sent to the model and the check of its reply.
#[derive(Clone)]
pub(crate) struct OutputSchema {
    pub format: ResponseFormat,
    validate: Arc<Validator>,
}

impl std::fmt::Debug for OutputSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputSchema")
            .field("name", &self.format.name)
            .finish_non_exhaustive()
    }
}

impl OutputSchema {
    /// The schema of `T`, made strict (every property required, no other property) as OpenAI's
    /// `strict: true` demands; `Option` fields stay nullable.
    pub(crate) fn of<T: JsonSchema + DeserializeOwned + 'static>() -> OutputSchema {
        let mut schema = schemars::schema_for!(T).to_value();
        if let Value::Object(map) = &mut schema {
            map.remove("$schema");
        }
        make_strict(&mut schema);
        let name: String = T::schema_name()
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c,
                _ => '_',
            })
            .take(64)
            .collect();
        OutputSchema {
            format: ResponseFormat {
                name,
                schema,
                strict: true,
            },
            validate: Arc::new(|v| {
                serde_json::from_value::<T>(v.clone())
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        }
    }

    /// Parses and checks the model's reply: the JSON object on success.
    pub(crate) fn parse(&self, reply: &str) -> Result<Value, String> {
        let text = strip_fence(reply);
        let value: Value = serde_json::from_str(text).map_err(|e| {
            let snippet: String = reply.chars().take(200).collect();
            format!(
                "the model's reply is not valid JSON for {}: {e}: {snippet}",
                self.format.name
            )
        })?;
        (self.validate)(&value)
            .map_err(|e| format!("the model's reply does not match {}: {e}", self.format.name))?;
        Ok(value)
    }
}

/// A reply wrapped in a Markdown code fence (some models do that) without the fence.
fn strip_fence(reply: &str) -> &str {
    let t = reply.trim();
    match t.strip_prefix("```") {
        Some(rest) => {
            let body = rest.split_once('\n').map_or("", |(_, b)| b);
            body.trim_end().strip_suffix("```").unwrap_or(body).trim()
        }
        None => t,
    }
}

/// Every object schema: all properties required, no additional ones; formats OpenAI's strict
/// mode refuses removed.
fn make_strict(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                let keys: Vec<Value> = props.keys().cloned().map(Value::String).collect();
                map.insert("required".into(), Value::Array(keys));
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            if let Some(Value::String(format)) = map.get("format")
                && !STRICT_FORMATS.contains(&format.as_str())
            {
                map.remove("format");
            }
            for child in map.values_mut() {
                make_strict(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(make_strict),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Forecast {
        city: String,
        high: u32,
        note: Option<String>,
    }

    #[test]
    fn the_schema_is_strict_and_the_reply_is_checked() {
        let s = OutputSchema::of::<Forecast>();
        assert_eq!(s.format.name, "Forecast");
        assert_eq!(
            s.format.schema["required"],
            serde_json::json!(["city", "high", "note"])
        );
        assert_eq!(s.format.schema["additionalProperties"], false);
        assert!(
            s.format.schema["properties"]["high"]
                .get("format")
                .is_none()
        );
        let ok = s.parse("```json\n{\"city\":\"Paris\",\"high\":21,\"note\":null}\n```");
        assert_eq!(ok.unwrap()["city"], "Paris");
        let err = s.parse(r#"{"city":"Paris"}"#).unwrap_err();
        assert!(err.contains("missing field `high`"), "{err}");
        assert!(s.parse("sunny").unwrap_err().contains("not valid JSON"));
    }
}
