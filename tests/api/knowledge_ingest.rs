//! Ingestion: every file type read and found, bad uploads refused with reasons, an embedding
//! server that is down (retried, status truthful, runs unaffected), a restart mid-ingest that
//! resumes without embedding anything twice, and the same text embedded once.

use crate::helpers::{HookLog, restart_on, spawn_with};
use crate::knowledge::{add_text, docs, search, serve, upload, upload_file, wait_status};
use crate::mock_openai::MockOpenAi;
use agentos::model::OpenAIEmbedder;
use agentos::{Agent, AgentOs, Chunking, Knowledge, ScriptedModel};
use serde_json::json;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// A one-page PDF whose page shows `text` (Helvetica), with a correct cross-reference table.
fn pdf(text: &str) -> Vec<u8> {
    let stream = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    out
}

/// A DOCX (a zip with `word/document.xml`) of these paragraphs, the first a heading.
fn docx(heading: &str, body: &str) -> Vec<u8> {
    let xml = format!(
        "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/\
         wordprocessingml/2006/main\"><w:body>\
         <w:p><w:pPr><w:pStyle w:val=\"Heading1\"/></w:pPr><w:r><w:t>{heading}</w:t></w:r></w:p>\
         <w:p><w:r><w:t>{body}</w:t></w:r></w:p></w:body></w:document>"
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

#[tokio::test]
async fn every_file_type_is_read_chunked_and_found() {
    let app = serve(AgentOs::new().knowledge(docs())).await;
    let files: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "notes.txt",
            "text/plain",
            b"The aardvark sleeps at noon.".to_vec(),
            "aardvark",
        ),
        (
            "guide.md",
            "text/markdown",
            b"# Intro\n\nhello\n\n# Badgers\n\nThe badger digs setts.".to_vec(),
            "badger",
        ),
        (
            "page.html",
            "text/html",
            b"<html><body><h1>Cats</h1><p>The caracal hunts birds.</p></body></html>".to_vec(),
            "caracal",
        ),
        (
            "animals.csv",
            "text/csv",
            b"animal,habitat\ndingo,Australia\nelk,Canada\n".to_vec(),
            "dingo",
        ),
        (
            "facts.json",
            "application/json",
            br#"[{"animal": "echidna", "eats": "ants"}, {"animal": "fox"}]"#.to_vec(),
            "echidna",
        ),
        (
            "report.pdf",
            "application/pdf",
            pdf("The fennec has large ears."),
            "fennec",
        ),
        (
            "memo.docx",
            "application/octet-stream",
            docx("Gazelles", "The gazelle runs fast."),
            "gazelle",
        ),
    ];
    let mut ids = Vec::new();
    for (name, media_type, bytes, _) in &files {
        let (code, body) = upload_file(&app, name, media_type, bytes.clone(), &[]).await;
        assert_eq!(code, 202, "{name}: {body}");
        assert_eq!(body["name"], *name);
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    for ((name, _, _, word), id) in files.iter().zip(&ids) {
        let status = wait_status(&app, id, "completed", Duration::from_secs(20)).await;
        assert_eq!(status["status_message"], "", "{name}");
        let (_, found) = search(&app, json!({"query": word, "search_type": "keyword"})).await;
        let top = &found["data"][0];
        assert_eq!(top["content_id"], id.as_str(), "{name}: {found}");
        assert!(
            top["content"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains(word),
            "{top}"
        );
        assert_eq!(top["content_origin"], *name, "{top}");
    }
    // Where each chunk sits: the PDF's page, the Markdown and DOCX sections, the CSV row.
    let (_, pdf_hit) = search(&app, json!({"query": "fennec", "search_type": "keyword"})).await;
    assert_eq!(pdf_hit["data"][0]["meta_data"]["page"], 1);
    let (_, md_hit) = search(&app, json!({"query": "badger", "search_type": "keyword"})).await;
    assert_eq!(md_hit["data"][0]["meta_data"]["section"], "Badgers");
    let (_, docx_hit) = search(&app, json!({"query": "gazelle", "search_type": "keyword"})).await;
    assert_eq!(docx_hit["data"][0]["meta_data"]["section"], "Gazelles");
    let (_, csv_hit) = search(&app, json!({"query": "dingo", "search_type": "keyword"})).await;
    assert!(
        csv_hit["data"][0]["content"]
            .as_str()
            .unwrap()
            .contains("animal: dingo")
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_and_bad_files_fail_with_the_reason() {
    let kb = docs().max_file_bytes(1024);
    let app = serve(AgentOs::new().knowledge(kb)).await;
    let (code, body) = upload_file(
        &app,
        "tool.exe",
        "application/octet-stream",
        vec![0; 10],
        &[],
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("tool.exe") && detail.contains(".pdf"),
        "{detail}"
    );
    let (code, body) = upload_file(&app, "big.txt", "text/plain", vec![b'a'; 2048], &[]).await;
    assert_eq!(code, 413, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("1024"), "{body}");
    let (code, body) = upload(&app, &[("name", "nothing")]).await;
    assert_eq!(code, 400);
    assert_eq!(
        body["detail"],
        "Provide a file, text_content, or URL to upload."
    );
    let (code, _) = upload(&app, &[("text_content", "x"), ("metadata", "not json")]).await;
    assert_eq!(code, 400);
    let (code, _) = upload(&app, &[("url", "ftp://example.com/a")]).await;
    assert_eq!(code, 400);
    let (code, _) = upload(&app, &[("text_content", "x"), ("reader_id", "excel")]).await;
    assert_eq!(code, 400);
    let (code, body) = upload(
        &app,
        &[
            ("text_content", "x"),
            ("chunker", "FixedSizeChunker"),
            ("chunk_size", "10"),
            ("chunk_overlap", "10"),
        ],
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let (code, _) = upload(&app, &[("text_content", "x"), ("chunk_size", "big")]).await;
    assert_eq!(code, 422);

    // A PDF that does not parse: accepted, then failed with the reason.
    let (code, body) = upload_file(
        &app,
        "broken.pdf",
        "application/pdf",
        b"%PDF-1.7 garbage".to_vec(),
        &[],
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap();
    let status = wait_status(&app, id, "failed", Duration::from_secs(10)).await;
    let message = status["status_message"].as_str().unwrap();
    assert!(message.contains("PDF could not be parsed"), "{message}");

    for path in [
        "/knowledge/content/nope".to_owned(),
        "/knowledge/content/nope/status".to_owned(),
    ] {
        let (code, body) = app.get_json(&path).await;
        assert_eq!(code, 404, "{path}: {body}");
        assert_eq!(body["detail"], "Content not found: nope");
    }
    let response = app
        .client
        .delete(app.url("/knowledge/content/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = app
        .client
        .patch(app.url("/knowledge/content/nope"))
        .form(&[("name", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let (code, body) = app.get_json("/knowledge/content?knowledge_id=other").await;
    assert_eq!(code, 404, "{body}");
    let response = app
        .client
        .post(app.url("/knowledge/remote-content"))
        .form(&[("config_id", "s3-docs"), ("path", "a.pdf")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

/// A knowledge base embedding through the mock's `/v1/embeddings`, two texts per request.
fn remote_docs(mock: &MockOpenAi) -> Knowledge {
    Knowledge::new("docs")
        .embedder(
            OpenAIEmbedder::new("text-embedding-3-small")
                .base_url(mock.base_url())
                .api_key("k")
                .batch_size(2),
        )
        .chunking(Chunking::Document {
            size: 40,
            overlap: 0,
        })
}

/// Six paragraphs, each its own chunk at a chunk size of 40.
const SIX: &str = "Alpha apples are red.\n\nBravo bananas are long.\n\nCharlie cherries are \
     small.\n\nDelta dates are sweet.\n\nEcho elderberries are dark.\n\nFoxtrot figs are soft.";

#[tokio::test]
async fn an_embedding_server_that_is_down_is_retried_and_the_status_says_so() {
    let mock = Arc::new(MockOpenAi::start().await);
    mock.fail_embeddings_after(0);
    let kb = remote_docs(&mock).max_attempts(2);
    let agent = Agent::new("A").model(ScriptedModel::new());
    let os = AgentOs::new()
        .knowledge(kb)
        .agent(agent)
        .hook_retries(3, Duration::from_millis(200))
        .hook_poll_interval(Duration::from_millis(20));
    let app = spawn_with(os, mock.clone(), HookLog::default()).await;
    let (_, body) = upload(&app, &[("name", "six"), ("text_content", SIX)]).await;
    let id = body["id"].as_str().unwrap().to_owned();

    // Processing, with the failure and the retry named.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        let (_, status) = app
            .get_json(&format!("/knowledge/content/{id}/status"))
            .await;
        if status["status_message"]
            .as_str()
            .unwrap()
            .contains("retrying")
        {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(status["status"], "processing");
    let message = status["status_message"].as_str().unwrap();
    assert!(
        message.contains("attempt 1 of 2") && message.contains("503"),
        "{message}"
    );
    // The rest of the server is unaffected: a run completes meanwhile.
    let (code, run) = app.get_json("/health").await;
    assert_eq!(code, 200, "{run}");
    let run: serde_json::Value = app
        .client
        .post(app.url("/agents/a/runs"))
        .form(&[("message", "hi"), ("stream", "false")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["status"], "COMPLETED");
    // Out of attempts: failed with the reason; nothing of it is searchable.
    let status = wait_status(&app, &id, "failed", Duration::from_secs(10)).await;
    let message = status["status_message"].as_str().unwrap();
    assert!(
        message.contains("after 2 attempts") && message.contains("embedding failed"),
        "{message}"
    );

    // Uploaded again once the server is back: indexed.
    mock.heal_embeddings();
    let (_, again) = upload(&app, &[("name", "six"), ("text_content", SIX)]).await;
    assert_eq!(again["id"], id.as_str());
    wait_status(&app, &id, "completed", Duration::from_secs(10)).await;
    let (_, listed) = app.get_json(&format!("/knowledge/content/{id}")).await;
    assert_eq!(listed["status"], "completed");
}

#[tokio::test]
async fn a_restart_mid_ingest_resumes_without_embedding_anything_twice() {
    let mock = Arc::new(MockOpenAi::start().await);
    // The first request (two chunks) goes through, then the server is down.
    mock.fail_embeddings_after(1);
    let os = || {
        AgentOs::new()
            .knowledge(remote_docs(&mock).max_attempts(20))
            .hook_retries(3, Duration::from_millis(300))
            .hook_poll_interval(Duration::from_millis(20))
    };
    let mut app = spawn_with(os(), mock.clone(), HookLog::default()).await;
    let (_, body) = upload(&app, &[("name", "six"), ("text_content", SIX)]).await;
    let id = body["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !app
        .get_json(&format!("/knowledge/content/{id}/status"))
        .await
        .1["status_message"]
        .as_str()
        .unwrap()
        .contains("retrying")
    {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let first_batch = mock.embedded_texts()[..2].to_vec();
    // Nothing of it is searchable while half done.
    let (_, found) = search(&app, json!({"query": "apples", "search_type": "keyword"})).await;
    assert_eq!(found["data"], json!([]), "{found}");

    // The process stops mid-ingest and a new one starts on the same file.
    app.stop().await;
    mock.heal_embeddings();
    let app = restart_on(&app, os()).await;
    wait_status(&app, &id, "completed", Duration::from_secs(10)).await;
    let embedded = mock.embedded_texts();
    // The chunks stored before the stop were embedded once; every chunk was embedded.
    for text in &first_batch {
        assert_eq!(
            embedded.iter().filter(|t| *t == text).count(),
            1,
            "{embedded:?}"
        );
    }
    for word in [
        "apples",
        "bananas",
        "cherries",
        "dates",
        "elderberries",
        "figs",
    ] {
        assert!(
            embedded.iter().any(|t| t.contains(word)),
            "{word}: {embedded:?}"
        );
    }
    let (_, content) = app.get_json(&format!("/knowledge/content/{id}")).await;
    assert_eq!(content["status"], "completed");
    let (_, found) = search(
        &app,
        json!({"query": "apples figs", "search_type": "keyword", "max_results": 10}),
    )
    .await;
    assert_eq!(found["meta"]["total_count"], 2, "{found}");
}

#[tokio::test]
async fn the_same_text_is_embedded_once() {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new().knowledge(remote_docs(&mock));
    let app = spawn_with(os, mock.clone(), HookLog::default()).await;
    add_text(&app, "six", SIX, None).await;
    // Batches of two: three requests for six chunks.
    assert_eq!(mock.embedding_requests(), 3);
    let texts = mock.embedded_texts().len();
    assert_eq!(texts, 6);
    // The same text under another name is another content item, with no new embedding.
    add_text(&app, "six again", SIX, Some(json!({"copy": true}))).await;
    assert_eq!(
        mock.embedded_texts().len(),
        texts,
        "a chunk already embedded was embedded again"
    );
    let (_, found) = search(&app, json!({"query": "cherries", "search_type": "vector"})).await;
    assert!(
        found["data"][0]["content"]
            .as_str()
            .unwrap()
            .contains("cherries"),
        "{found}"
    );
    assert_eq!(found["meta"]["total_count"], 10, "{found}");
}

#[tokio::test]
async fn a_folder_is_loaded_at_startup_and_not_again() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.md"),
        "# Otters\n\nThe otter floats on its back.",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/b.txt"), "The pangolin has scales.").unwrap();
    std::fs::write(dir.path().join("ignored.bin"), [0u8, 1, 2]).unwrap();
    let kb = || docs().add_path(dir.path());
    let mut app = serve(AgentOs::new().knowledge(kb())).await;
    let (_, list) = app.get_json("/knowledge/content").await;
    assert_eq!(list["meta"]["total_count"], 2, "{list}");
    for item in list["data"].as_array().unwrap() {
        wait_status(
            &app,
            item["id"].as_str().unwrap(),
            "completed",
            Duration::from_secs(10),
        )
        .await;
    }
    let (_, found) = search(&app, json!({"query": "pangolin scales"})).await;
    assert_eq!(found["data"][0]["content_origin"], "b.txt", "{found}");
    // Restarted with one file edited: it replaces its earlier version, the other stays.
    app.stop().await;
    std::fs::write(
        dir.path().join("sub/b.txt"),
        "The pangolin curls into a ball.",
    )
    .unwrap();
    let app = restart_on(&app, AgentOs::new().knowledge(kb())).await;
    let (_, list) = app.get_json("/knowledge/content").await;
    assert_eq!(list["meta"]["total_count"], 2, "{list}");
    for item in list["data"].as_array().unwrap() {
        wait_status(
            &app,
            item["id"].as_str().unwrap(),
            "completed",
            Duration::from_secs(10),
        )
        .await;
    }
    let (_, found) = search(&app, json!({"query": "pangolin", "search_type": "keyword"})).await;
    assert_eq!(found["meta"]["total_count"], 1, "{found}");
    assert!(
        found["data"][0]["content"]
            .as_str()
            .unwrap()
            .contains("ball")
    );
}

#[tokio::test]
async fn a_url_is_fetched_by_the_server() {
    // The mock's /v1/models answers JSON: a URL the server can fetch on loopback.
    let mock = Arc::new(MockOpenAi::start().await);
    let app = serve(AgentOs::new().knowledge(docs())).await;
    let url = format!("{}/models", mock.base_url());
    let (code, body) = upload(&app, &[("url", &url)]).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["name"], url.as_str());
    let id = body["id"].as_str().unwrap();
    wait_status(&app, id, "completed", Duration::from_secs(10)).await;
    let (_, found) = search(
        &app,
        json!({"query": "mock-model", "search_type": "keyword"}),
    )
    .await;
    assert_eq!(found["data"][0]["content_origin"], url.as_str(), "{found}");
    // A URL that answers 404 fails with the reason.
    let missing = format!("{}/nothing-here", mock.base_url());
    let (_, body) = upload(&app, &[("url", &missing)]).await;
    let status = wait_status(
        &app,
        body["id"].as_str().unwrap(),
        "failed",
        Duration::from_secs(10),
    )
    .await;
    assert!(
        status["status_message"].as_str().unwrap().contains("404"),
        "{status}"
    );
}
