//! Observability: `tracing` spans exported with OpenTelemetry (OTLP/HTTP and agno's `/traces`
//! store), and Prometheus metrics.
//!
//! # Spans
//!
//! agentos opens a span for every run, workflow step, model call, tool call, job attempt, store
//! write and HTTP request (target `agentos::…`, level `INFO`), named and attributed after
//! OpenTelemetry's GenAI semantic conventions (`invoke_agent Assistant`, `chat gpt-5.2`,
//! `execute_tool add`, with `gen_ai.*` attributes). They go nowhere until an `AgentOs` turns
//! tracing on (`AgentOs::tracing(true)` stores them for agno's `/traces`; an OTLP endpoint,
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, exports them): before that every span callsite is disabled,
//! and a run pays only `tracing`'s check of that.
//!
//! The spans reach OpenTelemetry through [`layer`], a `tracing-opentelemetry` layer with a
//! filter of its own (agentos's spans, only while tracing is on). [`init`] installs it with the
//! console log (`RUST_LOG`, default `info`); an application with its own subscriber adds
//! [`layer`] to it instead.
//!
//! Finished spans never wait for anything: each is pushed into its `AgentOs`'s bounded queue
//! (dropped and counted when full), and a background task of that `AgentOs` writes them in
//! batches to the database and the OTLP endpoint. A collector that is down or slow loses
//! spans, never a run.
//!
//! # Metrics
//!
//! `AgentOs::prometheus(...)` serves the Prometheus text exposition; the handles are atomics
//! registered once (see `metrics.rs`).

mod export;
pub(crate) mod metrics;
mod pipeline;
mod propagate;

pub(crate) use export::{ExportCounts, Exporter, ExporterSettings, SpanSink, TraceRoute};
pub(crate) use pipeline::{Activation, activate};
pub use pipeline::{init, layer, try_init};
pub(crate) use propagate::{attach_route, follow, traceparent};

/// A finished span, as OpenTelemetry's SDK records it.
pub(crate) type SpanData = opentelemetry_sdk::trace::SpanData;
