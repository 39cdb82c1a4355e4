//! Integration tests: the real server on a loopback port, a temp SQLite file, and a local
//! OpenAI-compatible mock. One binary, many modules.

mod agent_ui;
mod agents;
mod auth_support;
mod constructs;
mod context;
mod durability;
mod edge;
mod errors;
mod example;
mod examples_memory;
mod hardening;
mod helpers;
mod hooks;
mod isolation;
mod jwt;
mod knowledge;
mod knowledge_agents;
mod knowledge_example;
mod knowledge_ingest;
mod lifecycle;
mod memory;
mod memory_routes;
mod mock_openai;
mod observability;
mod openapi;
#[path = "../store/backend.rs"]
mod pg_backend;
mod postgres;
#[path = "../support/python.rs"]
mod python;
mod replicas;
mod runs;
mod scripted;
mod service_accounts;
mod sessions;
mod team_durability;
mod team_features;
mod teams;
mod tools;
