//! JSON as Python's default `json.dumps` writes it, for the payloads agno writes that way (the
//! `/resume` meta events, run previews): the separators `", "` and `": "`, and every character
//! outside printable ASCII escaped as `\uXXXX` (`ensure_ascii`). Keys keep the order the value
//! serializes them in, as a Python dict keeps its insertion order.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};
use std::io::{self, Write};

/// `value` as Python's `json.dumps(value)`.
pub(crate) fn py_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(128);
    let mut ser = Serializer::with_formatter(&mut out, PyFormatter);
    // Writing to a Vec cannot fail, and the wire types here have only string keys.
    if value.serialize(&mut ser).is_err() {
        return String::from("{}");
    }
    // Only ASCII is written.
    String::from_utf8(out).unwrap_or_default()
}

/// serde_json's compact formatter with Python's separators and `ensure_ascii` escaping.
struct PyFormatter;

impl Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        text: &str,
    ) -> io::Result<()> {
        if text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return w.write_all(text.as_bytes());
        }
        let mut units = [0u16; 2];
        for c in text.chars() {
            if (' '..='~').contains(&c) {
                w.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        // serde_json's escapes are Python's, control characters included (`\u001f`).
        serde_json::ser::CompactFormatter.write_char_escape(w, escape)
    }
}

#[cfg(test)]
mod tests {
    use super::py_json;
    use serde_json::json;

    #[test]
    fn py_json_writes_what_pythons_json_dumps_writes() {
        // json.dumps({"a": [1, "é"], "b": {"c": None}, "d": "😀\n", "e": "\x7f\x1f"}) in Python 3.
        let v = json!({"a": [1, "é"], "b": {"c": null}, "d": "😀\n", "e": "\u{7f}\u{1f}"});
        assert_eq!(
            py_json(&v),
            r#"{"a": [1, "\u00e9"], "b": {"c": null}, "d": "\ud83d\ude00\n", "e": "\u007f\u001f"}"#
        );
    }

    #[test]
    fn struct_fields_keep_their_order() {
        #[derive(serde::Serialize)]
        struct Meta {
            event: &'static str,
            count: u32,
        }
        assert_eq!(
            py_json(&Meta {
                event: "replay",
                count: 2
            }),
            r#"{"event": "replay", "count": 2}"#
        );
    }
}
