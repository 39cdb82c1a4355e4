//! DOCX text: the `word/document.xml` part of the zip, read with quick-xml. Paragraphs become
//! lines; a paragraph styled as a heading (`Heading1`, `Title`, ...) becomes a Markdown heading,
//! so the reader's sections follow the document's outline.

use quick_xml::Reader as XmlReader;
use quick_xml::events::Event;
use std::io::Read;

/// The document's text, headings as `#` lines.
pub(super) fn text(bytes: &[u8]) -> Result<String, String> {
    let bad = |e: &dyn std::fmt::Display| format!("the DOCX could not be read: {e}");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .map_err(|e| bad(&e))?
        .read_to_string(&mut xml)
        .map_err(|e| bad(&e))?;
    let mut reader = XmlReader::from_str(&xml);
    let mut out = String::new();
    let mut paragraph = String::new();
    let mut heading: Option<usize> = None;
    let mut in_text = false;
    loop {
        match reader.read_event().map_err(|e| bad(&e))? {
            Event::Start(e) if e.local_name().as_ref() == b"t" => in_text = true,
            Event::End(e) if e.local_name().as_ref() == b"t" => in_text = false,
            Event::Text(t) if in_text => {
                let text = t.decode().map_err(|e| bad(&e))?;
                let text = quick_xml::escape::unescape(&text).map_err(|e| bad(&e))?;
                paragraph.push_str(&text);
            }
            Event::GeneralRef(r) if in_text => {
                let name = r.decode().map_err(|e| bad(&e))?;
                let entity = format!("&{name};");
                let text = quick_xml::escape::unescape(&entity).map_err(|e| bad(&e))?;
                paragraph.push_str(&text);
            }
            Event::Empty(e) | Event::Start(e) => match e.local_name().as_ref() {
                b"tab" => paragraph.push('\t'),
                b"br" | b"cr" => paragraph.push('\n'),
                b"pStyle" => {
                    let style = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == b"val")
                        .map(|a| String::from_utf8_lossy(&a.value).to_ascii_lowercase())
                        .unwrap_or_default();
                    heading = heading_level(&style);
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == b"p" => {
                let line = paragraph.trim();
                if !line.is_empty() {
                    if let Some(level) = heading {
                        out.push_str(&"#".repeat(level));
                        out.push(' ');
                    }
                    out.push_str(line);
                    out.push_str("\n\n");
                }
                paragraph.clear();
                heading = None;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// `heading1` → 1, `title` → 1, else not a heading.
fn heading_level(style: &str) -> Option<usize> {
    if style == "title" {
        return Some(1);
    }
    style
        .strip_prefix("heading")
        .and_then(|n| n.trim().parse::<usize>().ok())
        .map(|n| n.clamp(1, 6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal DOCX: a zip with `word/document.xml`.
    pub(crate) fn docx(paragraphs: &[(&str, &str)]) -> Vec<u8> {
        let body: String = paragraphs
            .iter()
            .map(|(style, text)| {
                let style = if style.is_empty() {
                    String::new()
                } else {
                    format!("<w:pPr><w:pStyle w:val=\"{style}\"/></w:pPr>")
                };
                format!("<w:p>{style}<w:r><w:t>{text}</w:t></w:r></w:p>")
            })
            .collect();
        let xml = format!(
            "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/\
             wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
        );
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        zip.start_file(
            "word/document.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(xml.as_bytes()).unwrap();
        zip.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn paragraphs_and_headings_come_out_in_order() {
        let bytes = docx(&[
            ("Heading1", "Returns"),
            ("", "Items can be returned within 30 days &amp; refunded."),
        ]);
        let text = text(&bytes).unwrap();
        assert_eq!(
            text,
            "# Returns\n\nItems can be returned within 30 days & refunded.\n\n"
        );
        assert!(super::text(b"not a zip").unwrap_err().contains("DOCX"));
    }
}
