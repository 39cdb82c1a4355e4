//! Files uploaded with an agent run (`files` parts of the multipart form): images reach the
//! model as image parts, text-like documents as text; anything else is refused with 400.

use super::error::ApiError;
use crate::context::Document;
use crate::runtime::RunRequest;
use base64::Engine;

/// One uploaded file part.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    /// The form field it came in (`files` for a run, `file` for knowledge).
    pub field: String,
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Image types every OpenAI-compatible vision model takes.
const IMAGE_TYPES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/jpg",
    "image/gif",
    "image/webp",
];

/// Content types read as text, besides `text/*`.
const TEXT_TYPES: [&str; 7] = [
    "application/json",
    "application/xml",
    "application/yaml",
    "application/x-yaml",
    "application/csv",
    "application/x-ndjson",
    "application/javascript",
];

/// File extensions read as text when the client sent no useful content type.
const TEXT_EXTENSIONS: [&str; 16] = [
    "txt", "md", "markdown", "csv", "tsv", "json", "jsonl", "xml", "yaml", "yml", "html", "htm",
    "log", "py", "rs", "toml",
];

fn extension(name: &str) -> Option<String> {
    name.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
}

/// The upload's media type: the part's own, or guessed from the file name when it is missing
/// or generic.
fn media_type(upload: &Upload) -> String {
    let declared = upload
        .content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !declared.is_empty() && declared != "application/octet-stream" {
        return declared;
    }
    match extension(&upload.name).as_deref() {
        Some("png") => "image/png".to_owned(),
        Some("jpg" | "jpeg") => "image/jpeg".to_owned(),
        Some("gif") => "image/gif".to_owned(),
        Some("webp") => "image/webp".to_owned(),
        Some(ext) if TEXT_EXTENSIONS.contains(&ext) => "text/plain".to_owned(),
        _ => declared,
    }
}

/// Adds the uploads to the request: images as data URLs, text-like files as documents.
pub(crate) fn attach(req: &mut RunRequest, uploads: Vec<Upload>) -> Result<(), ApiError> {
    for upload in uploads {
        let media = media_type(&upload);
        if IMAGE_TYPES.contains(&media.as_str()) {
            let data = base64::engine::general_purpose::STANDARD.encode(&upload.bytes);
            req.media.images.push(format!("data:{media};base64,{data}"));
        } else if media.starts_with("text/") || TEXT_TYPES.contains(&media.as_str()) {
            let text = String::from_utf8(upload.bytes).map_err(|_| {
                ApiError::bad_request(format!("File {:?} is not valid UTF-8 text", upload.name))
            })?;
            req.media.documents.push(Document {
                name: upload.name,
                text,
            });
        } else {
            let shown = if media.is_empty() { "unknown" } else { &media };
            return Err(ApiError::bad_request(format!(
                "Unsupported file type: {shown} ({}); send images (png, jpeg, gif, webp) or text documents",
                upload.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(name: &str, content_type: &str, bytes: &[u8]) -> Upload {
        Upload {
            field: "files".to_owned(),
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn images_become_data_urls_and_text_becomes_documents() {
        let mut req = RunRequest::default();
        attach(
            &mut req,
            vec![
                upload("a.png", "image/png", b"\x89PNG"),
                upload("notes.md", "application/octet-stream", b"# hi"),
                upload("data.json", "application/json; charset=utf-8", b"{}"),
            ],
        )
        .unwrap();
        assert_eq!(req.media.images, ["data:image/png;base64,iVBORw=="]);
        let names: Vec<&str> = req
            .media
            .documents
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["notes.md", "data.json"]);
        assert_eq!(req.media.documents[0].text, "# hi");
    }

    #[test]
    fn other_types_are_refused() {
        let mut req = RunRequest::default();
        let err = attach(&mut req, vec![upload("r.pdf", "application/pdf", b"%PDF")]);
        assert!(err.is_err());
        let err = attach(&mut req, vec![upload("t.txt", "text/plain", b"\xff\xfe")]);
        assert!(err.is_err());
    }
}
