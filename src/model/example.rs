//! A JSON value that fits a JSON schema, for [`ScriptedModel`](super::ScriptedModel)'s default
//! answer to a request with a structured output format.

use serde_json::{Map, Value, json};

/// A value that fits `schema` (as schemars writes them: `$ref` into `$defs`, `anyOf`/`oneOf`,
/// `enum`/`const`, typed objects), with `text` in every free string.
pub(crate) fn example(schema: &Value, text: &str) -> Value {
    Example { root: schema, text }.of(schema, 0)
}

struct Example<'a> {
    root: &'a Value,
    text: &'a str,
}

/// Deeper than this, a recursive schema gets `null` (a recursive type's field is optional).
const MAX_DEPTH: usize = 16;

impl Example<'_> {
    fn of(&self, schema: &Value, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        let Some(s) = schema.as_object() else {
            return Value::Null;
        };
        if let Some(reference) = s.get("$ref").and_then(Value::as_str) {
            return match self.resolve(reference) {
                Some(target) => self.of(target, depth + 1),
                None => Value::Null,
            };
        }
        if let Some(value) = s.get("const") {
            return value.clone();
        }
        if let Some(first) = s
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return first.clone();
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(variants) = s.get(key).and_then(Value::as_array) {
                // The first variant that is not `null`: an optional field gets a value.
                let chosen = variants
                    .iter()
                    .find(|v| v.get("type") != Some(&json!("null")))
                    .or(variants.first());
                return chosen.map_or(Value::Null, |v| self.of(v, depth + 1));
            }
        }
        let ty = match s.get("type") {
            Some(Value::String(t)) => t.as_str(),
            // `["string", "null"]`: the first type that is not null.
            Some(Value::Array(types)) => types
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null"),
            _ if s.contains_key("properties") => "object",
            _ => "null",
        };
        match ty {
            "object" => {
                let mut object = Map::new();
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    for (name, prop) in props {
                        object.insert(name.clone(), self.of(prop, depth + 1));
                    }
                }
                Value::Object(object)
            }
            "array" => {
                let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let item = s
                    .get("items")
                    .map_or(Value::Null, |i| self.of(i, depth + 1));
                Value::Array((0..min).map(|_| item.clone()).collect())
            }
            "string" => Value::String(self.text.to_owned()),
            "integer" => json!(s.get("minimum").and_then(Value::as_i64).unwrap_or(0).max(0)),
            "number" => json!(s.get("minimum").and_then(Value::as_f64).unwrap_or(0.0)),
            "boolean" => Value::Bool(false),
            _ => Value::Null,
        }
    }

    /// `#/$defs/Name` (or `#/definitions/Name`) in the root schema.
    fn resolve(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }
}

#[cfg(test)]
mod tests {
    use super::example;
    use schemars::JsonSchema;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    enum Mood {
        Calm,
        Busy,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Stop {
        name: String,
        minutes: u32,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Plan {
        title: String,
        score: f64,
        urgent: bool,
        mood: Mood,
        note: Option<String>,
        stops: Vec<Stop>,
        first: Stop,
    }

    #[test]
    fn the_example_deserializes_as_the_type() {
        let schema = schemars::schema_for!(Plan).to_value();
        let value = example(&schema, "scripted");
        let plan: Plan = serde_json::from_value(value.clone()).expect("fits the schema");
        assert_eq!(plan.title, "scripted");
        assert_eq!(plan.first.name, "scripted");
        assert!(matches!(plan.mood, Mood::Calm), "{value}");
    }
}
