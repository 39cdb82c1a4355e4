//! Knowledge retrieval measured: recall@5 of vector, keyword and hybrid search on a generated
//! data set with known answers, ingest throughput (chunks/s) and search latency at given
//! corpus sizes, on SQLite and, when given, Postgres (with or without pgvector). Everything
//! goes through the real server on a loopback port: uploads to `/knowledge/content`, the
//! durable ingestion jobs, `/knowledge/search`. Prints Markdown tables.
//!
//! ```text
//! cargo run --release -p agentos-bench-mock --bin knowledge-bench -- \
//!     --chunks 10000,100000 [--postgres URL] [--pgvector URL] [--queries 200]
//! ```
//!
//! The embedder is the offline `HashEmbedder` (`--dims`, 256 by default), or any
//! OpenAI-compatible `/v1/embeddings` with `--embeddings-url URL --embeddings-model NAME`
//! (`OPENAI_API_KEY` for the key).

use agentos::model::{HashEmbedder, OpenAIEmbedder};
use agentos::{AgentOs, Chunking, DbConfig, Knowledge, SqliteDb};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

struct Args {
    chunks: Vec<usize>,
    queries: usize,
    dims: usize,
    postgres: Option<String>,
    pgvector: Option<String>,
    embeddings_url: Option<String>,
    embeddings_model: String,
}

fn args() -> Args {
    let mut a = Args {
        chunks: vec![10_000, 100_000],
        queries: 200,
        dims: 256,
        postgres: None,
        pgvector: None,
        embeddings_url: None,
        embeddings_model: "text-embedding-3-small".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--chunks" => {
                a.chunks = value()
                    .split(',')
                    .map(|n| n.trim().parse().expect("--chunks takes numbers"))
                    .collect()
            }
            "--queries" => a.queries = value().parse().expect("--queries takes a number"),
            "--dims" => a.dims = value().parse().expect("--dims takes a number"),
            "--postgres" => a.postgres = Some(value()),
            "--pgvector" => a.pgvector = Some(value()),
            "--embeddings-url" => a.embeddings_url = Some(value()),
            "--embeddings-model" => a.embeddings_model = value(),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// A fresh database: a temp SQLite file, or a new schema in a Postgres.
async fn database(url: Option<&str>, dir: &std::path::Path) -> DbConfig {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let Some(url) = url else {
        return SqliteDb::new(dir.join(format!("{id}.db"))).into();
    };
    let schema = format!("kbench_{id}");
    let pool = sqlx::PgPool::connect(url)
        .await
        .expect("connect to Postgres");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .expect("create a schema");
    pool.close().await;
    let sep = if url.contains('?') { '&' } else { '?' };
    DbConfig::Postgres(format!("{url}{sep}options=-csearch_path%3D{schema}"))
}

/// A server with one knowledge base on `db`.
struct Server {
    os: AgentOs,
    base: String,
    client: reqwest::Client,
}

impl Server {
    async fn start(db: DbConfig, args: &Args) -> Server {
        let kb = Knowledge::new("bench")
            .chunking(Chunking::Document {
                size: 400,
                overlap: 0,
            })
            .max_attempts(10);
        let kb = match &args.embeddings_url {
            Some(url) => kb.embedder(
                OpenAIEmbedder::new(args.embeddings_model.clone())
                    .base_url(url.clone())
                    .batch_size(100),
            ),
            None => kb.embedder(HashEmbedder::new(args.dims)),
        };
        let os = AgentOs::new()
            .knowledge(kb)
            .db(db)
            .hook_timeout(Duration::from_secs(600))
            .hook_poll_interval(Duration::from_millis(50));
        let router = os.router().await.expect("start the server");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Server {
            os,
            base,
            client: reqwest::Client::new(),
        }
    }

    async fn upload(&self, name: &str, text: &str) -> String {
        let form = [("name", name), ("text_content", text)];
        let response = self
            .client
            .post(format!("{}/knowledge/content", self.base))
            .form(&form)
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), 202, "upload refused");
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// Waits until every content item is completed; fails on a failed one.
    async fn wait_indexed(&self, expected: usize) {
        loop {
            let url = format!("{}/knowledge/content?limit=1000&page=1", self.base);
            let total = self.count(&url, "completed").await;
            if total >= expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn count(&self, first: &str, status: &str) -> usize {
        let mut n = 0;
        let mut page = 1;
        loop {
            let url = first.replace("page=1", &format!("page={page}"));
            let body: Value = self
                .client
                .get(&url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let items = body["data"].as_array().cloned().unwrap_or_default();
            for item in &items {
                assert_ne!(item["status"], "failed", "ingestion failed: {item}");
                n += usize::from(item["status"] == status);
            }
            if items.len() < 1000 {
                return n;
            }
            page += 1;
        }
    }

    async fn search(&self, query: &str, search_type: &str, k: usize) -> (Vec<String>, Duration) {
        let started = Instant::now();
        let body: Value = self
            .client
            .post(format!("{}/knowledge/search", self.base))
            .json(&json!({"query": query, "search_type": search_type, "max_results": k}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let elapsed = started.elapsed();
        let names = body["data"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|h| h["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        (names, elapsed)
    }
}

/// Deterministic pseudo-random numbers (xorshift), so every run measures the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const CITIES: [&str; 12] = [
    "Tromsø",
    "Lisbon",
    "Kraków",
    "Valparaíso",
    "Osaka",
    "Nairobi",
    "Reykjavik",
    "Hobart",
    "Tbilisi",
    "Quito",
    "Tallinn",
    "Marrakesh",
];
const JOBS: [&str; 12] = [
    "glassblower",
    "beekeeper",
    "cartographer",
    "luthier",
    "ferryman",
    "astronomer",
    "cooper",
    "bookbinder",
    "falconer",
    "stonemason",
    "perfumer",
    "clockmaker",
];
const PETS: [&str; 12] = [
    "ferrets",
    "parrots",
    "tortoises",
    "goats",
    "axolotls",
    "geese",
    "hedgehogs",
    "alpacas",
    "canaries",
    "rabbits",
    "iguanas",
    "peacocks",
];
const SYLLABLES: [&str; 16] = [
    "ka", "lo", "mir", "ven", "da", "rus", "tel", "ob", "an", "qui", "zor", "pel", "is", "gra",
    "nu", "bex",
];

/// A made-up word of two syllables from `a` then `b` (64 of them per pair of lists).
fn word(rng: &mut Rng, a: &[&str], b: &[&str]) -> String {
    format!("{}{}", rng.pick(a), rng.pick(b))
}

/// The syllables of made-up towns, trades and animals: each fact has 64 values, so two facts
/// together name one person in the generated corpus, one fact about a dozen.
const TOWN: ([&str; 8], [&str; 8]) = (
    ["Bel", "Cor", "Dun", "Fal", "Gar", "Hol", "Kes", "Lor"],
    [
        "ford", "mouth", "wick", "stead", "holm", "bury", "gate", "port",
    ],
);
const TRADE: ([&str; 8], [&str; 8]) = (
    [
        "glass", "rope", "lamp", "sail", "wheel", "brick", "salt", "wax",
    ],
    [
        "smith", "wright", "binder", "turner", "monger", "weaver", "cutter", "mender",
    ],
);
const ANIMAL: ([&str; 8], [&str; 8]) = (
    [
        "frost", "ember", "moss", "reed", "dusk", "cinder", "brine", "thorn",
    ],
    [
        "hounds", "finches", "moles", "otters", "newts", "larks", "voles", "herons",
    ],
);

/// `(name, text)` of a document, or `(question, the name of the document that answers it)`.
type Named = (String, String);

/// The data set with known answers: a person per document (a made-up name, a city, a trade,
/// pets), and for each of the first `queries` people a question naming two of their three
/// facts and not their name; the relevant document is theirs. Other people share each fact, so
/// a document matching one word is not enough.
fn ir_set(docs: usize, queries: usize) -> (Vec<Named>, Vec<Named>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut corpus = Vec::with_capacity(docs);
    let mut facts = Vec::with_capacity(docs);
    while corpus.len() < docs {
        let name: String = (0..3).map(|_| rng.pick(&SYLLABLES)).collect::<String>();
        let town = word(&mut rng, &TOWN.0, &TOWN.1);
        let trade = word(&mut rng, &TRADE.0, &TRADE.1);
        let animal = word(&mut rng, &ANIMAL.0, &ANIMAL.1);
        let id = format!("person-{}", corpus.len());
        let text = format!(
            "{name} works as a {trade} and lives in {town}. At home {name} keeps {animal}, and \
             on weekends {name} walks by the harbour and reads old newspapers."
        );
        corpus.push((id, text));
        facts.push([town, trade, animal]);
    }
    let mut questions = Vec::new();
    for (i, [town, trade, animal]) in facts.iter().enumerate() {
        if questions.len() == queries {
            break;
        }
        let (q, used) = match rng.next() % 3 {
            0 => (format!("Which {trade} keeps {animal}?"), [1, 2]),
            1 => (format!("Who keeps {animal} in {town}?"), [2, 0]),
            _ => (format!("Is there a {trade} living in {town}?"), [1, 0]),
        };
        // Only questions with a single right answer.
        let unique = facts
            .iter()
            .enumerate()
            .all(|(j, f)| j == i || used.iter().any(|&k| f[k] != facts[i][k]));
        if unique {
            questions.push((q, corpus[i].0.clone()));
        }
    }
    (corpus, questions)
}

/// Paragraphs of filler text for the throughput corpus: one chunk each.
fn filler(doc: usize, paragraphs: usize) -> String {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ doc as u64);
    (0..paragraphs)
        .map(|p| {
            let words: Vec<&str> = (0..40)
                .map(|_| match rng.next() % 3 {
                    0 => rng.pick(&CITIES),
                    1 => rng.pick(&JOBS),
                    _ => rng.pick(&PETS),
                })
                .collect();
            format!("Paragraph {p} of document {doc}: {}.", words.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

const TYPES: [&str; 3] = ["vector", "keyword", "hybrid"];

async fn recall(label: &str, db: DbConfig, args: &Args) -> String {
    let server = Server::start(db, args).await;
    let (corpus, questions) = ir_set(1000, 300);
    for (name, text) in &corpus {
        server.upload(name, text).await;
    }
    server.wait_indexed(corpus.len()).await;
    let mut row = format!("| {label} | {} | {} |", corpus.len(), questions.len());
    for search_type in TYPES {
        let mut found = 0;
        for (q, id) in &questions {
            let (names, _) = server.search(q, search_type, 5).await;
            found += usize::from(names.iter().any(|n| n == id));
        }
        row.push_str(&format!(" {:.3} |", found as f64 / questions.len() as f64));
    }
    server.os.shutdown().await;
    row
}

async fn scale(label: &str, db: DbConfig, chunks: usize, args: &Args) -> String {
    let server = Server::start(db, args).await;
    let per_doc = 100.min(chunks);
    let docs = chunks.div_ceil(per_doc);
    let started = Instant::now();
    let texts: Vec<String> = (0..docs).map(|d| filler(d, per_doc)).collect();
    for (d, text) in texts.iter().enumerate() {
        server.upload(&format!("doc-{d}"), text).await;
    }
    server.wait_indexed(docs).await;
    let ingest = started.elapsed();
    let mut row = format!(
        "| {label} | {} | {:.0} |",
        docs * per_doc,
        (docs * per_doc) as f64 / ingest.as_secs_f64()
    );
    let mut rng = Rng(7);
    for search_type in TYPES {
        let mut samples = Vec::with_capacity(args.queries);
        for _ in 0..args.queries {
            let q = format!(
                "{} {} {}",
                rng.pick(&JOBS),
                rng.pick(&PETS),
                rng.pick(&CITIES)
            );
            samples.push(server.search(&q, search_type, 10).await.1);
        }
        let p50 = percentile(&mut samples, 0.5);
        let p95 = percentile(&mut samples, 0.95);
        row.push_str(&format!(" {p50:.1} / {p95:.1} |"));
    }
    server.os.shutdown().await;
    row
}

#[tokio::main]
async fn main() {
    let args = args();
    let dir = std::env::temp_dir().join(format!("knowledge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut backends: Vec<(String, Option<String>)> =
        vec![("SQLite (sqlite-vec, FTS5)".into(), None)];
    if let Some(url) = &args.postgres {
        backends.push((
            "Postgres (cosine in SQL, tsvector)".into(),
            Some(url.clone()),
        ));
    }
    if let Some(url) = &args.pgvector {
        backends.push(("Postgres (pgvector, tsvector)".into(), Some(url.clone())));
    }
    let embedder = match &args.embeddings_url {
        Some(url) => format!("{} at {url}", args.embeddings_model),
        None => format!("HashEmbedder({})", args.dims),
    };
    println!("Embedder: {embedder}. Chunks of up to 400 characters.\n");
    println!(
        "| backend | documents | questions | recall@5 vector | recall@5 keyword | recall@5 hybrid |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, url) in &backends {
        let db = database(url.as_deref(), &dir).await;
        println!("{}", recall(label, db, &args).await);
    }
    println!();
    println!(
        "| backend | chunks | ingest chunks/s | vector p50 / p95 ms | keyword p50 / p95 ms | hybrid p50 / p95 ms |"
    );
    println!("|---|---|---|---|---|---|");
    for &chunks in &args.chunks {
        for (label, url) in &backends {
            let db = database(url.as_deref(), &dir).await;
            println!("{}", scale(label, db, chunks, &args).await);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
