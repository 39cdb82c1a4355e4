//! The server facing the internet: clients that trickle their body or their headers are cut off
//! after the read timeouts while normal runs complete; a head over the limit gets 431; the
//! connection cap holds new connections back; the per-principal rate limit answers 429 with
//! `Retry-After`.

use crate::auth_support::*;
use crate::helpers::*;
use crate::mock_openai::MockOpenAi;
use agentos::{AgentOs, JwtConfig, RateLimit};
use reqwest::Method;
use serde_json::Map;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `host:port` of the app.
fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Waits until the server closes `stream` (EOF or a reset), reading whatever it sent.
async fn closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_cut_off_while_normal_runs_complete() {
    const CLIENTS: usize = 2000;
    let mock = Arc::new(MockOpenAi::start().await);
    // Each model call takes longer than the read timeouts: a run that is slow to answer is not
    // a client that is slow to send.
    mock.set_delay(Duration::from_millis(1500));
    let os = AgentOs::new()
        .agent(assistant(&mock.base_url()))
        .header_read_timeout(Duration::from_secs(1))
        .body_read_timeout(Duration::from_secs(1));
    let app = spawn_with(os, mock, HookLog::default()).await;
    let target = addr(&app);

    // Thousands of clients send their headers, then trickle a body that never ends.
    let mut slow = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let mut s = TcpStream::connect(&target).await.unwrap();
        let head = format!(
            "POST /agents/{AGENT}/runs HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nm"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        if i % 10 == 0 {
            // Some stop half-way through their headers instead.
            let mut s2 = TcpStream::connect(&target).await.unwrap();
            s2.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .unwrap();
            slow.push(s2);
        }
        slow.push(s);
    }
    let trickle = {
        let mut streams = slow;
        tokio::spawn(async move {
            // One byte each, every 200 ms, until the server has closed every one.
            for _ in 0..100 {
                let mut open = 0;
                for s in streams.iter_mut() {
                    if s.write_all(b"a").await.is_ok() {
                        open += 1;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                if open == 0 {
                    break;
                }
            }
            streams
        })
    };

    // Meanwhile normal runs are served.
    let runs: Vec<_> = (0..8)
        .map(|i| {
            let client = app.client.clone();
            let url = app.url(&format!("/agents/{AGENT}/runs"));
            tokio::spawn(async move {
                let form = [
                    ("message", format!("hello {i}")),
                    ("stream", "false".into()),
                ];
                let res = client.post(url).form(&form).send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            })
        })
        .collect();
    for run in runs {
        let (status, body) = run.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"status\":\"COMPLETED\""), "{body}");
    }

    // Every slow connection was closed by the server (a guard against hanging, not a timing).
    let streams = tokio::time::timeout(Duration::from_secs(60), trickle)
        .await
        .expect("slow connections still open after a minute")
        .unwrap();
    let mut streams = streams;
    for s in streams.iter_mut() {
        let rest = tokio::time::timeout(Duration::from_secs(10), closed(s))
            .await
            .expect("a slow connection was left open");
        let text = String::from_utf8_lossy(&rest);
        assert!(
            !text.contains("200 OK"),
            "a trickled request was served: {text}"
        );
    }
    // And the server still answers.
    assert_eq!(app.get_json("/health").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_head_over_the_limit_gets_431() {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .agent(assistant(&mock.base_url()))
        .max_header_bytes(16 * 1024);
    let app = spawn_with(os, mock, HookLog::default()).await;
    let big = "x".repeat(32 * 1024);
    let res = app
        .client
        .get(app.url("/health"))
        .header("X-Big", big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 431);
    let small = "x".repeat(8 * 1024);
    let res = app
        .client
        .get(app.url("/health"))
        .header("X-Big", small)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_past_the_cap_wait_for_one_to_close() {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .agent(assistant(&mock.base_url()))
        .max_connections(2)
        .header_read_timeout(Duration::from_secs(60));
    let app = spawn_with(os, mock, HookLog::default()).await;
    let target = addr(&app);
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    // Two connections hold both slots (idle, mid-headers).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(&target).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    let mut third = TcpStream::connect(&target).await.unwrap();
    third.write_all(request).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "a third connection was served past the cap of two"
    );
    // One held connection finishes its request and leaves: the third is served.
    let mut first = held.remove(0);
    first
        .write_all(b"Host: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&closed(&mut first).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(first);
    let mut rest = buf[..0].to_vec();
    rest.extend(closed(&mut third).await);
    let answer = String::from_utf8_lossy(&rest).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_principal_has_its_own_rate_limit() {
    let mut tokens = Map::new();
    for user in ["alice", "bob"] {
        tokens.insert(
            user.into(),
            spec("HS256", "hs", claims(user, &["config:read"])),
        );
    }
    let Some(minted) = mint("each_principal_has_its_own_rate_limit", tokens).await else {
        return;
    };
    let secret = minted.key("hs.txt");
    let app = spawn_auth(|os| {
        os.authorization(JwtConfig::new().verification_key(secret).algorithm("HS256"))
            .rate_limit(RateLimit::per_minute(6).burst(2))
    })
    .await;
    let get = |token: &str| request(&app, Method::GET, "/config", Some(token)).send();
    assert_eq!(get(minted.token("alice")).await.unwrap().status(), 200);
    assert_eq!(get(minted.token("alice")).await.unwrap().status(), 200);
    let limited = get(minted.token("alice")).await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry), "Retry-After: {retry}");
    let body: serde_json::Value = limited.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("retry after"),
        "{body}"
    );
    // Bob has his own allowance.
    assert_eq!(get(minted.token("bob")).await.unwrap().status(), 200);
}
