//! Readers: uploaded bytes to text sections (a page, a heading's section, a row) with where
//! each came from. Text, Markdown, HTML (html2text), CSV (csv), JSON (serde_json), PDF
//! (pdf-extract) and DOCX (`docx.rs`).

mod docx;

use serde_json::{Map, Value, json};

/// A piece of a document as its reader found it: text and where it sits (`page`, `section`,
/// `row`).
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The text.
    pub text: String,
    /// Where it sits.
    pub meta: Map<String, Value>,
    /// A boundary: chunks by structure never run across its start (a page, a heading).
    pub boundary: bool,
}

impl Section {
    fn new(text: String, meta: Map<String, Value>, boundary: bool) -> Section {
        Section {
            text,
            meta,
            boundary,
        }
    }
}

/// How content becomes text: agno's reader ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reader {
    /// Plain text.
    Text,
    /// Markdown: sections by heading.
    Markdown,
    /// HTML: its text, sections by heading.
    Html,
    /// CSV: one section per row, `column: value` pairs.
    Csv,
    /// JSON: one section per element of a top-level list.
    Json,
    /// PDF: one section per page.
    Pdf,
    /// Word (DOCX): sections by heading.
    Docx,
}

impl Reader {
    /// Every reader.
    pub const ALL: [Reader; 7] = [
        Reader::Text,
        Reader::Markdown,
        Reader::Html,
        Reader::Csv,
        Reader::Json,
        Reader::Pdf,
        Reader::Docx,
    ];

    /// agno's id (`text`, `markdown`, ...).
    pub fn id(self) -> &'static str {
        match self {
            Reader::Text => "text",
            Reader::Markdown => "markdown",
            Reader::Html => "html",
            Reader::Csv => "csv",
            Reader::Json => "json",
            Reader::Pdf => "pdf",
            Reader::Docx => "docx",
        }
    }

    /// agno's class name (`TextReader`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Reader::Text => "TextReader",
            Reader::Markdown => "MarkdownReader",
            Reader::Html => "HtmlReader",
            Reader::Csv => "CsvReader",
            Reader::Json => "JsonReader",
            Reader::Pdf => "PdfReader",
            Reader::Docx => "DocxReader",
        }
    }

    /// The file extensions it reads.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Reader::Text => &[".txt", ".text", ".log"],
            Reader::Markdown => &[".md", ".markdown"],
            Reader::Html => &[".html", ".htm", ".xhtml"],
            Reader::Csv => &[".csv"],
            Reader::Json => &[".json"],
            Reader::Pdf => &[".pdf"],
            Reader::Docx => &[".docx"],
        }
    }

    /// The reader a client names (`pdf`, `PdfReader`, `pdf_reader`), if any.
    pub fn from_id(id: &str) -> Option<Reader> {
        let key = id.trim().to_ascii_lowercase().replace(['-', ' ', '_'], "");
        let key = key.strip_suffix("reader").unwrap_or(&key);
        Reader::ALL.into_iter().find(|r| r.id() == key)
    }

    /// The reader for a file, by its extension, else by its media type.
    pub fn for_file(file_name: Option<&str>, media_type: &str) -> Option<Reader> {
        let by_name = file_name
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, ext)| format!(".{}", ext.to_ascii_lowercase()))
            .and_then(|ext| {
                Reader::ALL
                    .into_iter()
                    .find(|r| r.extensions().contains(&ext.as_str()))
            });
        by_name.or_else(|| Reader::for_media_type(media_type))
    }

    /// The reader for a media type (`application/pdf`), if one reads it.
    pub fn for_media_type(media_type: &str) -> Option<Reader> {
        let essence = media_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Some(match essence.as_str() {
            "text/plain" => Reader::Text,
            "text/markdown" | "text/x-markdown" => Reader::Markdown,
            "text/html" | "application/xhtml+xml" => Reader::Html,
            "text/csv" | "application/csv" => Reader::Csv,
            "application/json" => Reader::Json,
            "application/pdf" => Reader::Pdf,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
                Reader::Docx
            }
            _ => return None,
        })
    }

    /// Reads `bytes` into sections; `Err` says why they cannot be read (not UTF-8, a PDF that
    /// does not parse, no text at all). CPU-bound: call it off the async runtime for large
    /// inputs.
    pub fn read(self, bytes: &[u8]) -> Result<Vec<Section>, String> {
        let sections = match self {
            Reader::Text => vec![Section::new(utf8(bytes)?, Map::new(), false)],
            Reader::Markdown => by_heading(&utf8(bytes)?),
            Reader::Html => {
                // Headings stay `#` lines; no emphasis marks, no link footnotes.
                let text = html2text::config::plain_no_decorate()
                    .string_from_read(bytes, 100_000)
                    .map_err(|e| format!("the HTML could not be read: {e}"))?;
                by_heading(&text)
            }
            Reader::Csv => csv_rows(bytes)?,
            Reader::Json => json_items(bytes)?,
            Reader::Pdf => pdf_pages(bytes)?,
            Reader::Docx => by_heading(&docx::text(bytes)?),
        };
        let sections: Vec<Section> = sections
            .into_iter()
            .filter(|s| !s.text.trim().is_empty())
            .collect();
        if sections.is_empty() {
            return Err(match self {
                Reader::Pdf => "the PDF has no text to extract (a scan needs OCR first)".into(),
                _ => "the content has no text".into(),
            });
        }
        Ok(sections)
    }
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| format!("the content is not UTF-8 text: {e}"))?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text).to_owned())
}

/// Markdown-like text cut at each heading line (`# ...`), the heading kept with its section
/// and named in its `section` metadata.
fn by_heading(text: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut current = String::new();
    let mut heading: Option<String> = None;
    let mut in_code = false;
    let flush = |current: &mut String, heading: &Option<String>, out: &mut Vec<Section>| {
        if !current.trim().is_empty() {
            let mut meta = Map::new();
            if let Some(h) = heading {
                meta.insert("section".into(), json!(h));
            }
            out.push(Section::new(
                std::mem::take(current).trim().to_owned(),
                meta,
                true,
            ));
        }
        current.clear();
    };
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        let title = line
            .trim_start()
            .strip_prefix('#')
            .map(|rest| rest.trim_start_matches('#'))
            .filter(|rest| !in_code && (rest.is_empty() || rest.starts_with(' ')));
        if let Some(title) = title {
            flush(&mut current, &heading, &mut sections);
            heading = Some(title.trim().to_owned()).filter(|t| !t.is_empty());
        }
        current.push_str(line);
        current.push('\n');
    }
    flush(&mut current, &heading, &mut sections);
    sections
}

fn csv_rows(bytes: &[u8]) -> Result<Vec<Section>, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| format!("the CSV could not be read: {e}"))?
        .clone();
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("the CSV could not be read: {e}"))?;
        let text = record
            .iter()
            .enumerate()
            .map(|(i, value)| match headers.get(i) {
                Some(h) if !h.is_empty() => format!("{h}: {value}"),
                _ => value.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut meta = Map::new();
        meta.insert("row".into(), json!(n + 1));
        rows.push(Section::new(text, meta, false));
    }
    Ok(rows)
}

fn json_items(bytes: &[u8]) -> Result<Vec<Section>, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the JSON could not be read: {e}"))?;
    let pretty = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    Ok(match &value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let mut meta = Map::new();
                meta.insert("item".into(), json!(i + 1));
                Section::new(pretty(item), meta, false)
            })
            .collect(),
        other => vec![Section::new(pretty(other), Map::new(), false)],
    })
}

fn pdf_pages(bytes: &[u8]) -> Result<Vec<Section>, String> {
    // pdf-extract panics on some malformed files: a panic is a file that cannot be read.
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| "the PDF could not be parsed (the parser gave up on it)".to_owned())?
        .map_err(|e| format!("the PDF could not be parsed: {e}"))?;
    Ok(pages
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let mut meta = Map::new();
            meta.insert("page".into(), json!(i + 1));
            Section::new(text, meta, true)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_cut_at_headings() {
        let s = Reader::Markdown
            .read(b"intro\n# One\nfirst\n```\n# not a heading\n```\n## Two\nsecond\n")
            .unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].meta["section"], "One");
        assert!(s[1].text.contains("# not a heading"));
        assert_eq!(s[2].meta["section"], "Two");
    }

    #[test]
    fn html_keeps_its_text_and_headings() {
        let html = b"<html><body><h1>Refunds</h1><p>Refunds take <b>5 days</b>.</p>\
                     <h2>Shipping</h2><p>Ships in 2 days.</p><script>x()</script></body></html>";
        let s = Reader::Html.read(html).unwrap();
        let all: String = s.iter().map(|s| s.text.clone()).collect();
        assert!(all.contains("Refunds take 5 days"), "{all}");
        assert!(!all.contains("x()"), "{all}");
        assert!(
            s.iter()
                .any(|s| s.meta.get("section") == Some(&json!("Shipping")))
        );
    }

    #[test]
    fn csv_rows_name_their_columns() {
        let s = Reader::Csv
            .read(b"city,country\nParis,France\nLima,Peru\n")
            .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].text, "city: Lima, country: Peru");
        assert_eq!(s[1].meta["row"], 2);
    }

    #[test]
    fn a_file_that_is_not_a_pdf_fails_with_a_reason() {
        let e = Reader::Pdf.read(b"%PDF-1.4 not really").unwrap_err();
        assert!(e.contains("PDF"), "{e}");
    }

    #[test]
    fn readers_are_found_by_name_extension_and_type() {
        assert_eq!(Reader::from_id("PdfReader"), Some(Reader::Pdf));
        assert_eq!(Reader::from_id("markdown"), Some(Reader::Markdown));
        assert_eq!(Reader::from_id("excel"), None);
        assert_eq!(Reader::for_file(Some("a.DOCX"), ""), Some(Reader::Docx));
        assert_eq!(
            Reader::for_file(None, "text/plain; charset=utf-8"),
            Some(Reader::Text)
        );
        assert_eq!(
            Reader::for_file(Some("a.exe"), "application/octet-stream"),
            None
        );
    }
}
