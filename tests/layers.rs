//! The crate's architecture, checked: layers point one way (http → runtime → engine → data,
//! model, store), and no two source files import each other, directly or around a circle.
//!
//! Reads `src/` as text: every `use` declaration and every `crate::`/`super::`/`self::` path in
//! code (comments stripped), each resolved to the file it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of a top-level module (the first segment under `src/`).
fn layer(module: &str) -> &'static str {
    match module {
        "lib" | "prelude" | "os" => "surface",
        "http" => "http",
        "runtime" => "runtime",
        "agent" | "workflow" | "team" | "tool" | "hooks" | "output" | "mcp" => "engine",
        "model" => "model",
        "store" => "store",
        "run" | "event" | "kind" | "context" | "outcome" | "db" => "data",
        other => panic!(
            "src/{other}: a new top-level module; give it a layer in tests/layers.rs (see docs/design-notes.md)"
        ),
    }
}

/// What each layer may import (besides itself).
fn allowed(from: &str) -> &'static [&'static str] {
    match from {
        "surface" => &["http", "runtime", "engine", "model", "store", "data"],
        "http" => &["runtime", "engine", "model", "store", "data"],
        "runtime" => &["engine", "model", "store", "data"],
        "engine" => &["model", "data"],
        "model" => &["data"],
        "store" => &["data"],
        "data" => &[],
        _ => &[],
    }
}

/// The source files under `src/`, by their module path (`["runtime", "task"]`; `mod.rs` is its
/// directory's module, `lib.rs` the root `[]`).
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                let mut p = prefix.to_vec();
                p.push(path.file_name().unwrap().to_string_lossy().into_owned());
                walk(&path, &p, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut p = prefix.to_vec();
                if name != "mod" && !(prefix.is_empty() && name == "lib") {
                    p.push(name);
                }
                out.insert(p, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// `text` without comments (line comments, doc comments, block comments) and string literals.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// `code` without inline modules (`mod prelude { pub use super::...; }`): their `super` is the
/// file itself, and what they re-export is the file's own.
fn without_inline_modules(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("mod ") {
        let before = rest[..at].chars().last();
        let head_end = rest[at..].find([';', '{']).map(|i| at + i);
        let is_block = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            && head_end.is_some_and(|i| rest.as_bytes()[i] == b'{');
        let Some(open) = head_end.filter(|_| is_block) else {
            out.push_str(&rest[..at + 4]);
            rest = &rest[at + 4..];
            continue;
        };
        out.push_str(&rest[..at]);
        let mut depth = 0;
        let mut end = rest.len();
        for (i, c) in rest[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Every path a file names: its `use` trees expanded (`a::{b, c::d}` → `a::b`, `a::c::d`) and
/// the `crate::`, `super::` and `self::` paths in its code.
fn paths(code: &str) -> Vec<Vec<String>> {
    fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        if let Some(open) = tree.find('{') {
            let head = format!("{prefix}{}", &tree[..open]);
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let (mut depth, mut start) = (0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&inner[start..i], &head, out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand(&inner[start..], &head, out);
        } else if !tree.is_empty() {
            let path = tree.split(" as ").next().unwrap_or(tree).trim();
            out.push(format!("{prefix}{path}"));
        }
    }
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let end = rest.find(';').unwrap_or(rest.len());
        expand(&rest[..end], "", &mut found);
        rest = &rest[end..];
    }
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let at = from + at;
            from = at + start.len();
            if at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':')
            {
                continue;
            }
            let len = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(code.len() - at);
            // `super::{a, b}` is a use tree, read above.
            if code[at + len..].starts_with('{') {
                continue;
            }
            found.push(code[at..at + len].trim_end_matches(':').to_owned());
        }
    }
    found
        .into_iter()
        .map(|p| {
            p.split("::")
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .collect()
}

/// The file a path names, from the file whose module is `at`: the longest module prefix of
/// the path that is a file. `None` for paths outside the crate.
fn resolve(
    path: &[String],
    at: &[String],
    is_mod_rs: bool,
    files: &BTreeMap<Vec<String>, PathBuf>,
) -> Option<Vec<String>> {
    let mut module: Vec<String> = match path.first()?.as_str() {
        "crate" => Vec::new(),
        // A `foo.rs` file's `self` is `foo`; its `super` is `foo`'s parent. A `mod.rs` file is
        // its directory's module.
        "self" => at.to_vec(),
        "super" => {
            let mut m = at.to_vec();
            m.pop();
            m
        }
        _ => return None,
    };
    let _ = is_mod_rs;
    let mut segments = &path[1..];
    while segments.first().is_some_and(|s| s == "super") {
        module.pop();
        segments = &segments[1..];
    }
    let mut best = module.clone();
    for segment in segments {
        module.push(segment.clone());
        if files.contains_key(&module) {
            best = module.clone();
        } else {
            break;
        }
    }
    files.contains_key(&best).then_some(best)
}

/// The circles of a graph: its strongly connected components of two nodes or more (Tarjan).
fn circles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, (usize, usize)>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        next: usize,
        circles: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a Vec<String>) {
            self.index.insert(v, (self.next, self.next));
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.index[v].1.min(self.index[w].1);
                    self.index.get_mut(v).unwrap().1 = low;
                } else if self.on_stack.contains(w) {
                    let low = self.index[v].1.min(self.index[w].0);
                    self.index.get_mut(v).unwrap().1 = low;
                }
            }
            if self.index[v].0 == self.index[v].1 {
                let mut circle = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    circle.push(w.join("::"));
                    if w == v {
                        break;
                    }
                }
                if circle.len() > 1 {
                    self.circles.push(circle);
                }
            }
        }
    }
    let mut t = Tarjan {
        edges,
        index: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        circles: Vec::new(),
    };
    let nodes: BTreeSet<&Vec<String>> = edges
        .iter()
        .flat_map(|(k, v)| std::iter::once(k).chain(v))
        .collect();
    for v in nodes {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.circles
}

#[test]
fn layers_point_one_way_and_no_files_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = modules(&src);
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut wrong_way = Vec::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests (`#[cfg(test)] mod tests`, at the end of a file) are not the architecture,
        // and their `super` is the file itself.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code = without_inline_modules(&code_only(text));
        let is_mod_rs = file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs");
        let from_layer = layer(module.first().map_or("lib", String::as_str));
        for path in paths(&code) {
            let Some(target) = resolve(&path, module, is_mod_rs, &files) else {
                continue;
            };
            if &target == module {
                continue;
            }
            let to_layer = layer(target.first().map_or("lib", String::as_str));
            if to_layer != from_layer && !allowed(from_layer).contains(&to_layer) {
                wrong_way.push(format!(
                    "{} ({from_layer}) imports {} ({to_layer}): {}",
                    file.display(),
                    files[&target].display(),
                    path.join("::")
                ));
            }
            // A module's own namespace (its parent's file, its children's re-exports) is not an
            // import between peers.
            let ancestor = target.len() < module.len() && module.starts_with(&target);
            let child = module.len() < target.len() && target.starts_with(module);
            if !ancestor && !child {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    assert!(
        wrong_way.is_empty(),
        "imports against the layers (http → runtime → engine → data, model, store):\n{}",
        wrong_way.join("\n")
    );

    let circles = circles(&edges);
    assert!(
        circles.is_empty(),
        "source files that import each other (directly or around a circle): {circles:?}"
    );
}

#[test]
fn the_checker_sees_a_circle_and_a_wrong_way_import() {
    let code = code_only(
        "use super::{a, b::{c, d as e}};\n// use crate::http;\nfn f() { crate::store::open(); let s = \"crate::x\"; }",
    );
    let found: Vec<String> = paths(&code).iter().map(|p| p.join("::")).collect();
    assert_eq!(
        found,
        [
            "super::a",
            "super::b::c",
            "super::b::d",
            "crate::store::open"
        ]
    );
    let node = |s: &str| vec![s.to_owned()];
    let mut edges = BTreeMap::new();
    edges.insert(node("a"), BTreeSet::from([node("b")]));
    edges.insert(node("b"), BTreeSet::from([node("c")]));
    assert!(circles(&edges).is_empty());
    edges.insert(node("c"), BTreeSet::from([node("a")]));
    assert_eq!(circles(&edges).len(), 1);
    assert_eq!(layer("workflow"), "engine");
    assert!(!allowed("engine").contains(&"runtime"));
    assert!(!allowed("store").contains(&"engine"));
}
