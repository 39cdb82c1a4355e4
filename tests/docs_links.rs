//! The docs cite only what is in the repository: every relative link in README.md,
//! CHANGELOG.md, BENCHMARKS.md and docs/**/*.md names a file that exists (and a heading that
//! exists, when it names one), and so does every backticked repository path (`src/...`,
//! `tests/...`, `examples/...`, `bench/...`, `docs/...`, `migrations/...`, `.ci/...`). The
//! README's quick start is `examples/embed_axum.rs`, line for line.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Where a backticked path must start to be read as a path into the repository.
const REPO_PREFIXES: [&str; 7] = [
    "src/",
    "tests/",
    "examples/",
    "bench/",
    "docs/",
    "migrations/",
    ".ci/",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files the test reads, relative to the repository root.
fn doc_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "CHANGELOG.md", "BENCHMARKS.md"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let mut dirs = vec![PathBuf::from("docs")];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<PathBuf> = fs::read_dir(root().join(&dir))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| dir.join(e.expect("a directory entry").file_name()))
            .collect();
        entries.sort();
        for path in entries {
            if root().join(&path).is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "md") {
                files.push(path);
            }
        }
    }
    files
}

/// A file's text with fenced code blocks blanked (their lines kept, so line numbers hold).
fn prose(text: &str) -> String {
    let mut fence: Option<&str> = None;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m => fence = None,
            (None, None) => out.push_str(line),
            _ => {}
        }
        out.push('\n');
    }
    out
}

/// A paragraph of prose: its text and the line it starts on (from 1).
struct Paragraph {
    text: String,
    first_line: usize,
}

impl Paragraph {
    fn line_of(&self, offset: usize) -> usize {
        self.first_line + self.text[..offset].matches('\n').count()
    }
}

fn paragraphs(prose: &str) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut current: Option<Paragraph> = None;
    for (i, line) in prose.lines().enumerate() {
        if line.trim().is_empty() {
            out.extend(current.take());
            continue;
        }
        let p = current.get_or_insert_with(|| Paragraph {
            text: String::new(),
            first_line: i + 1,
        });
        p.text.push_str(line);
        p.text.push('\n');
    }
    out.extend(current);
    out
}

/// The code spans of a paragraph, as (offset of the content, content), CommonMark's way: a run
/// of n backticks up to the next run of exactly n.
fn code_spans(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let run = |at: usize| bytes[at..].iter().take_while(|&&b| b == b'`').count();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let n = run(i);
        let start = i + n;
        let mut j = start;
        let mut close = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let m = run(j);
                if m == n {
                    close = Some(j);
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => {
                spans.push((start, &text[start..end]));
                i = end + n;
            }
            None => i = start,
        }
    }
    spans
}

/// The targets of inline links and images in a paragraph whose code spans are blanked, as
/// (offset, target).
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("](") {
        let start = from + found + 2;
        let mut depth = 0usize;
        let mut end = None;
        for (k, c) in text[start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = Some(start + k);
                    break;
                }
                ')' => depth -= 1,
                '\n' => break,
                _ => {}
            }
        }
        if let Some(end) = end {
            // `[text](<path> "title")`: the path is the first word.
            let target = text[start..end].split_whitespace().next().unwrap_or("");
            out.push((start, target.trim_matches(['<', '>']).to_owned()));
            from = end;
        } else {
            from = start;
        }
    }
    // Reference definitions: `[label]: target`.
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[')
            && let Some(close) = t.find("]:")
            && let Some(target) = t[close + 2..].split_whitespace().next()
        {
            out.push((offset, target.trim_matches(['<', '>']).to_owned()));
        }
        offset += line.len();
    }
    out
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as dashes; repeated
/// headings get `-1`, `-2`, ...
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for line in prose(text).lines() {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let heading = heading.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let slug: String = heading
            .trim()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                '-' | '_' => Some(c),
                c if c.is_alphanumeric() => Some(c),
                _ => None,
            })
            .flat_map(char::to_lowercase)
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        out.push(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    out
}

/// Paths `.gitignore` names (generated files a doc may mention, such as `bench/.venv/`).
fn ignored() -> Vec<String> {
    fs::read_to_string(root().join(".gitignore"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().trim_matches('/').to_owned())
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains('*'))
        .collect()
}

/// A backticked span that names a repository path: its first word, if it starts with one of
/// the prefixes. A placeholder or glob (`NNNN_*.sql`, `<name>`) stands for the directory
/// before it.
fn repo_path(span: &str) -> Option<String> {
    let word = span.split_whitespace().next()?;
    if !REPO_PREFIXES.iter().any(|p| word.starts_with(p)) {
        return None;
    }
    // `src/x.rs:12` names src/x.rs.
    let word = word
        .split(':')
        .next()?
        .trim_end_matches([',', ';', '.', ')']);
    let mut kept = Vec::new();
    for segment in word.split('/') {
        if segment.contains(['*', '<', '{', '?']) || segment.contains("NNNN") {
            kept.push("");
            break;
        }
        kept.push(segment);
    }
    Some(kept.join("/"))
}

#[test]
fn every_file_and_link_the_docs_cite_exists() {
    let ignored = ignored();
    let mut anchor_cache: HashMap<PathBuf, Vec<String>> = HashMap::new();
    let mut anchors_of = |path: &Path| -> Vec<String> {
        anchor_cache
            .entry(path.to_owned())
            .or_insert_with(|| anchors(&fs::read_to_string(path).unwrap_or_default()))
            .clone()
    };
    let mut missing = Vec::new();
    let mut checked = 0;
    for file in doc_files() {
        let text = fs::read_to_string(root().join(&file)).expect("a doc file");
        let dir = file.parent().unwrap_or(Path::new(""));
        for para in paragraphs(&prose(&text)) {
            let spans = code_spans(&para.text);
            let mut blanked = para.text.clone().into_bytes();
            for (start, span) in &spans {
                blanked[*start..start + span.len()].fill(b' ');
            }
            let blanked = String::from_utf8(blanked).expect("blanking keeps UTF-8");

            for (offset, span) in spans {
                let Some(path) = repo_path(span) else {
                    continue;
                };
                if ignored.iter().any(|i| path.starts_with(i.as_str())) {
                    continue;
                }
                checked += 1;
                if !root().join(&path).exists() {
                    missing.push(format!(
                        "{}:{}: `{span}` names {path}, which is not in the repository",
                        file.display(),
                        para.line_of(offset)
                    ));
                }
            }

            for (offset, target) in link_targets(&blanked) {
                if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let at = format!("{}:{}", file.display(), para.line_of(offset));
                let (path, fragment) = match target.split_once('#') {
                    Some((p, f)) => (p, Some(f)),
                    None => (target.as_str(), None),
                };
                let resolved = if path.is_empty() {
                    root().join(&file)
                } else {
                    root().join(dir).join(path)
                };
                if !resolved.exists() {
                    missing.push(format!("{at}: link ({target}): no such file"));
                    continue;
                }
                if let Some(fragment) = fragment
                    && resolved.extension().is_some_and(|x| x == "md")
                    && !anchors_of(&resolved).iter().any(|a| a == fragment)
                {
                    missing.push(format!("{at}: link ({target}): no heading #{fragment}"));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} references found: is the scan broken?"
    );
    assert!(
        missing.is_empty(),
        "the docs cite what is not in the repository:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_readme_quick_start_is_the_embed_example() {
    let readme = fs::read_to_string(root().join("README.md")).expect("README.md");
    let example =
        fs::read_to_string(root().join("examples/embed_axum.rs")).expect("the embed example");
    let blocks: Vec<&str> = readme
        .split("```rust\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("\n```").map(|(code, _)| code))
        .filter(|code| code.contains("use agentos::prelude::*;"))
        .collect();
    assert_eq!(
        blocks.len(),
        1,
        "the README has one quick start using the prelude"
    );
    // The example is its module docs, then exactly the quick start.
    let code: Vec<&str> = example
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .collect();
    let quick_start: Vec<&str> = blocks[0].lines().collect();
    assert_eq!(
        quick_start, code,
        "README.md's quick start and examples/embed_axum.rs differ: keep them the same"
    );
}

#[test]
fn the_scanner_finds_links_spans_and_anchors() {
    let para = "See [a](docs/x.md#y) and `src/store/` or `bench/run.sh --vs-agno`.\n";
    let spans: Vec<&str> = code_spans(para).into_iter().map(|(_, s)| s).collect();
    assert_eq!(spans, ["src/store/", "bench/run.sh --vs-agno"]);
    let links: Vec<String> = link_targets(para).into_iter().map(|(_, t)| t).collect();
    assert_eq!(links, ["docs/x.md#y"]);
    assert_eq!(
        repo_path("migrations/postgres/NNNN_*.sql").as_deref(),
        Some("migrations/postgres/")
    );
    assert_eq!(repo_path("cargo test"), None);
    assert_eq!(
        anchors("# A `b` c\n## 1. Tools, and more\n```\n# not a heading\n```\n## A b c\n"),
        ["a-b-c", "1-tools-and-more", "a-b-c-1"]
    );
}
