//! Chunking: a reader's sections into the pieces that are embedded and searched, by fixed size
//! with overlap or by the document's structure. Sizes are in characters, as agno's.

use super::read::Section;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// How content is cut into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum Chunking {
    /// Windows of `size` characters, each starting `size - overlap` after the previous, cut at
    /// a space near the end when there is one (agno's `FixedSizeChunker`).
    Fixed {
        /// Characters per chunk.
        size: usize,
        /// Characters shared by neighbouring chunks.
        overlap: usize,
    },
    /// Paragraphs packed into chunks of at most `size` characters, never across a page or a
    /// heading; a paragraph longer than `size` is cut as `Fixed` (agno's `DocumentChunker`, and
    /// `MarkdownChunker` for Markdown).
    Document {
        /// Most characters per chunk.
        size: usize,
        /// Overlap when a long paragraph is cut.
        overlap: usize,
    },
}

impl Default for Chunking {
    fn default() -> Self {
        Chunking::Document {
            size: 1500,
            overlap: 150,
        }
    }
}

impl Chunking {
    /// agno's name of the strategy.
    pub fn name(&self) -> &'static str {
        match self {
            Chunking::Fixed { .. } => "FixedSizeChunker",
            Chunking::Document { .. } => "DocumentChunker",
        }
    }

    /// The strategy a client names (agno's chunker keys), with these sizes, or why not.
    pub fn named(
        name: &str,
        size: Option<usize>,
        overlap: Option<usize>,
    ) -> Result<Chunking, String> {
        let size = size.unwrap_or(1500);
        let overlap = overlap.unwrap_or(0);
        if size == 0 {
            return Err("chunk_size must be at least 1".into());
        }
        if overlap >= size {
            return Err(format!(
                "chunk_overlap ({overlap}) must be smaller than chunk_size ({size})"
            ));
        }
        let key = name
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_', ' '], "");
        match key.strip_suffix("chunker").unwrap_or(&key) {
            "fixed" | "fixedsize" => Ok(Chunking::Fixed { size, overlap }),
            "document" | "markdown" | "row" | "recursive" | "paragraph" => {
                Ok(Chunking::Document { size, overlap })
            }
            _ => Err(format!(
                "unknown chunker {name:?}: use FixedSizeChunker, DocumentChunker, \
                 MarkdownChunker or RowChunker"
            )),
        }
    }

    /// The chunks of `sections`, in order: their text, and their metadata (the section's,
    /// plus `chunk` from 1 and `chunk_size`).
    pub fn chunk(&self, sections: &[Section]) -> Vec<(String, Map<String, Value>)> {
        let pieces = match *self {
            Chunking::Fixed { size, overlap } => fixed(sections, size, overlap),
            Chunking::Document { size, overlap } => by_structure(sections, size, overlap),
        };
        pieces
            .into_iter()
            .filter(|(text, _)| !text.trim().is_empty())
            .enumerate()
            .map(|(i, (text, mut meta))| {
                meta.insert("chunk".into(), json!(i + 1));
                meta.insert("chunk_size".into(), json!(text.chars().count()));
                (text, meta)
            })
            .collect()
    }
}

/// The whole text in windows; each chunk takes the metadata of the section it starts in.
fn fixed(sections: &[Section], size: usize, overlap: usize) -> Vec<(String, Map<String, Value>)> {
    let mut text: Vec<char> = Vec::new();
    // (first char, section) for each section.
    let mut starts = Vec::with_capacity(sections.len());
    for s in sections {
        if !text.is_empty() {
            text.extend("\n\n".chars());
        }
        starts.push(text.len());
        text.extend(s.text.chars());
    }
    let meta_at = |at: usize| {
        let i = starts.partition_point(|&s| s <= at).saturating_sub(1);
        sections.get(i).map(|s| s.meta.clone()).unwrap_or_default()
    };
    windows(&text, size, overlap)
        .into_iter()
        .map(|(start, end)| (text[start..end].iter().collect(), meta_at(start)))
        .collect()
}

/// `(start, end)` of each window of at most `size` chars over `text`, cut at the last
/// whitespace of its final fifth when there is one; each next window starts `overlap` chars
/// before the previous end.
fn windows(text: &[char], size: usize, overlap: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + size).min(text.len());
        if end < text.len() {
            let floor = end - size / 5;
            if let Some(cut) = (floor..end).rev().find(|&i| text[i].is_whitespace()) {
                end = cut + 1;
            }
        }
        out.push((start, end));
        if end >= text.len() {
            break;
        }
        start = end.saturating_sub(overlap).max(start + 1);
    }
    out
}

/// Paragraphs packed up to `size`, a new chunk at every boundary section.
fn by_structure(
    sections: &[Section],
    size: usize,
    overlap: usize,
) -> Vec<(String, Map<String, Value>)> {
    let mut out: Vec<(String, Map<String, Value>)> = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    let mut meta = Map::new();
    let flush =
        |current: &mut String, len: &mut usize, meta: &Map<String, Value>, out: &mut Vec<_>| {
            if !current.trim().is_empty() {
                out.push((current.trim().to_owned(), meta.clone()));
            }
            current.clear();
            *len = 0;
        };
    for section in sections {
        if section.boundary {
            flush(&mut current, &mut current_len, &meta, &mut out);
        }
        if current.is_empty() {
            meta = section.meta.clone();
        }
        for paragraph in section
            .text
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let len = paragraph.chars().count();
            if len > size {
                flush(&mut current, &mut current_len, &meta, &mut out);
                let chars: Vec<char> = paragraph.chars().collect();
                for (start, end) in windows(&chars, size, overlap) {
                    out.push((chars[start..end].iter().collect(), section.meta.clone()));
                }
                meta = section.meta.clone();
                continue;
            }
            if current_len > 0 && current_len + 2 + len > size {
                flush(&mut current, &mut current_len, &meta, &mut out);
                meta = section.meta.clone();
            }
            if current_len > 0 {
                current.push_str("\n\n");
                current_len += 2;
            }
            current.push_str(paragraph);
            current_len += len;
        }
    }
    flush(&mut current, &mut current_len, &meta, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str, boundary: bool) -> Section {
        Section {
            text: text.into(),
            meta: Map::new(),
            boundary,
        }
    }

    #[test]
    fn fixed_windows_overlap_and_cover_everything() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let chunks = Chunking::Fixed {
            size: 20,
            overlap: 5,
        }
        .chunk(&[section(text, false)]);
        assert!(chunks.len() > 3);
        assert!(chunks.iter().all(|(t, _)| t.chars().count() <= 20));
        assert!(chunks[0].0.starts_with("one two"));
        assert!(chunks.last().unwrap().0.ends_with("twelve"));
        // Neighbours share text.
        let tail: String = chunks[0].0.chars().rev().take(3).collect();
        let tail: String = tail.chars().rev().collect();
        assert!(chunks[1].0.contains(tail.trim()), "{chunks:?}");
        assert_eq!(chunks[1].1["chunk"], 2);
    }

    #[test]
    fn structure_packs_paragraphs_and_respects_headings() {
        let sections = [
            section("# A\n\npara one\n\npara two", true),
            section("# B\n\npara three", true),
        ];
        let chunks = Chunking::Document {
            size: 100,
            overlap: 0,
        }
        .chunk(&sections);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].0, "# A\n\npara one\n\npara two");
        assert_eq!(chunks[1].0, "# B\n\npara three");
    }

    #[test]
    fn bad_sizes_and_names_are_refused() {
        assert!(Chunking::named("FixedSizeChunker", Some(10), Some(10)).is_err());
        assert!(Chunking::named("SemanticChunker", None, None).is_err());
        assert_eq!(
            Chunking::named("RowChunker", Some(300), None),
            Ok(Chunking::Document {
                size: 300,
                overlap: 0
            })
        );
    }
}
