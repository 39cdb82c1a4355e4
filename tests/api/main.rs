//! Integration tests: the real server on a loopback port, a temp SQLite file, and a local
//! OpenAI-compatible mock. One binary, many modules.

mod agent_ui;
mod agents;
mod constructs;
mod durability;
mod edge;
mod errors;
mod example;
mod helpers;
mod hooks;
mod lifecycle;
mod mock_openai;
mod openapi;
#[path = "../store/backend.rs"]
mod pg_backend;
mod postgres;
mod replicas;
mod runs;
mod scripted;
mod sessions;
mod team_durability;
mod team_features;
mod teams;
mod tools;
