//! Integration tests: the real server on a loopback port, a temp SQLite file, and a local
//! OpenAI-compatible mock. One binary, many modules.

mod durability;
mod errors;
mod example;
mod helpers;
mod hooks;
mod lifecycle;
mod mock_openai;
#[path = "../store/backend.rs"]
mod pg_backend;
mod postgres;
mod replicas;
mod runs;
