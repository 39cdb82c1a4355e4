//! The runtime's observability: its span route and export task (agno's traces store and
//! OTLP), its Prometheus registry, and the run span every run executes in.

use super::component::Component;
use crate::store::{Store, WriteObserver};
use crate::telemetry::metrics::{Metrics, RunHandles};
use crate::telemetry::{
    Activation, Exporter, ExporterSettings, SpanSink, TraceRoute, activate, attach_route,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Span;
use tracing::field::Empty;

/// Where spans are exported to over OTLP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Otlp {
    /// Nowhere, unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set.
    #[default]
    FromEnv,
    /// This traces endpoint (`http://host:4318/v1/traces`).
    Endpoint(String),
    /// Nowhere, whatever the environment says.
    Off,
}

/// What the builder asked for.
#[derive(Debug, Clone)]
pub(crate) struct TelemetrySettings {
    /// Store spans for agno's `/traces`.
    pub traces: bool,
    /// Export spans over OTLP.
    pub otlp: Otlp,
    /// Keep Prometheus metrics.
    pub metrics: bool,
    /// How often finished spans are written out.
    pub export_interval: Duration,
    /// The most finished spans waiting to be written; more are dropped.
    pub queue: usize,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            traces: false,
            otlp: Otlp::FromEnv,
            metrics: false,
            export_interval: Duration::from_secs(1),
            queue: 8192,
        }
    }
}

impl Otlp {
    /// The endpoint to give the exporter (`None`: its own environment lookup), if on.
    fn resolve(&self) -> Option<Option<String>> {
        let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
        match self {
            Otlp::Off => None,
            Otlp::Endpoint(url) => Some(Some(url.clone())),
            Otlp::FromEnv => (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .then_some(None),
        }
    }
}

/// The runtime's observability.
pub(crate) struct Telemetry {
    /// Prometheus metrics, when on.
    pub metrics: Option<Arc<Metrics>>,
    /// The route of this runtime's traces, when spans are recorded.
    pub route: Option<TraceRoute>,
    /// Spans stored for `/traces`.
    pub traces: bool,
    /// Keeps the route registered (and agentos's spans enabled) until shutdown.
    activation: Mutex<Option<Activation>>,
    exporter: Mutex<Option<Exporter>>,
    counts: Option<Arc<crate::telemetry::ExportCounts>>,
    /// The latest usage metrics refresh (agno's `/metrics/refresh/status`).
    refresh: Mutex<RefreshState>,
}

/// The state of the latest usage metrics refresh in this process.
#[derive(Debug, Clone)]
pub(crate) struct RefreshState {
    /// `idle`, `running`, `completed` or `failed`.
    pub status: &'static str,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    /// When the latest refresh started (unix milliseconds).
    started_ms: Option<i64>,
}

impl Default for RefreshState {
    fn default() -> Self {
        RefreshState {
            status: "idle",
            started_at: None,
            finished_at: None,
            error: None,
            started_ms: None,
        }
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("metrics", &self.metrics.is_some())
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

/// Store writes' latency into the Prometheus registry.
#[derive(Debug)]
struct WriteMetrics(Arc<Metrics>);

impl WriteObserver for WriteMetrics {
    fn write_done(&self, backend: &'static str, operation: &'static str, elapsed: Duration) {
        self.0.observe(
            "agentos_store_write_duration_seconds",
            &[("backend", backend), ("operation", operation)],
            elapsed.as_secs_f64(),
        );
    }
}

impl Telemetry {
    /// Off: no spans, no metrics.
    pub(crate) fn off() -> Telemetry {
        Telemetry {
            metrics: None,
            route: None,
            traces: false,
            activation: Mutex::new(None),
            exporter: Mutex::new(None),
            counts: None,
            refresh: Mutex::default(),
        }
    }

    /// Marks a usage refresh as running from `at` (ISO), unless one is: then false.
    pub(crate) fn begin_refresh(&self, at: &str) -> bool {
        let mut state = self.refresh.lock().unwrap_or_else(|p| p.into_inner());
        if state.status == "running" {
            return false;
        }
        *state = RefreshState {
            status: "running",
            started_at: Some(at.to_owned()),
            started_ms: Some(crate::run::unix_millis()),
            ..RefreshState::default()
        };
        true
    }

    /// Records how the running usage refresh ended, at `at` (ISO).
    pub(crate) fn end_refresh(&self, at: &str, error: Option<String>) {
        let mut state = self.refresh.lock().unwrap_or_else(|p| p.into_inner());
        state.status = if error.is_some() {
            "failed"
        } else {
            "completed"
        };
        state.finished_at = Some(at.to_owned());
        state.error = error;
    }

    /// The latest usage refresh's state.
    pub(crate) fn refresh_status(&self) -> RefreshState {
        self.refresh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// True when no usage refresh started in the last `stale_ms` before `now`.
    pub(crate) fn refresh_is_stale(&self, now: i64, stale_ms: i64) -> bool {
        let state = self.refresh.lock().unwrap_or_else(|p| p.into_inner());
        state.started_ms.is_none_or(|t| now - t >= stale_ms)
    }

    /// As `settings` ask, for a runtime serving `components` on `store`.
    pub(crate) fn new(
        settings: &TelemetrySettings,
        store: &Arc<dyn Store>,
        components: &[Component],
    ) -> Result<Telemetry, String> {
        let mut telemetry = Telemetry::off();
        if settings.metrics {
            let metrics = Arc::new(Metrics::new(
                components.iter().map(|c| (c.kind().as_str(), c.id())),
            ));
            store.observe_writes(Arc::new(WriteMetrics(metrics.clone())));
            telemetry.metrics = Some(metrics);
        }
        let otlp = settings.otlp.resolve();
        if !settings.traces && otlp.is_none() {
            return Ok(telemetry);
        }
        let sink: Option<Arc<dyn SpanSink>> = match settings.traces {
            true => Some(Arc::new(super::trace_rows::StoreSink(store.clone()))),
            false => None,
        };
        let (route, exporter, counts) = Exporter::new(ExporterSettings {
            otlp: otlp.is_some(),
            otlp_endpoint: otlp.flatten(),
            sink,
            interval: settings.export_interval,
            capacity: settings.queue,
        })?;
        let activation = activate(route);
        telemetry.route = Some(activation.route());
        telemetry.traces = settings.traces;
        telemetry.activation = Mutex::new(Some(activation));
        telemetry.exporter = Mutex::new(Some(exporter));
        telemetry.counts = Some(counts);
        Ok(telemetry)
    }

    /// Starts the export task on `tracker`; it stops (after a last export) with `stopping`.
    pub(crate) fn start(&self, tracker: &TaskTracker, stopping: &CancellationToken) {
        let exporter = self
            .exporter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(exporter) = exporter {
            tracker.spawn(exporter.run(stopping.clone()));
        }
    }

    /// Takes this runtime's route away (at shutdown, once the last spans are out).
    pub(crate) fn stop(&self) {
        self.activation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    /// The run handles of `component`, when metrics are on.
    pub(crate) fn run_handles(&self, component: &Component) -> Option<Arc<RunHandles>> {
        self.metrics
            .as_ref()
            .and_then(|m| m.runs(component.kind().as_str(), component.id()))
    }

    /// The span export's counters, into the registry (at scrape).
    pub(crate) fn export_counts(&self, metrics: &Metrics) {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(c) = &self.counts {
            metrics.set_counter("agentos_spans_dropped_total", c.dropped.load(Relaxed));
            metrics.set_counter("agentos_spans_exported_total", c.exported.load(Relaxed));
            metrics.set_counter(
                "agentos_spans_export_failed_total",
                c.export_failed.load(Relaxed),
            );
            metrics.set_counter("agentos_spans_stored_total", c.stored.load(Relaxed));
        }
    }
}

/// The span a run executes in (`invoke_agent Assistant`, `invoke_workflow AnalysisWorkflow`),
/// a child of the current span (the HTTP request's), in `route`'s traces. Disabled (and
/// nothing computed) while tracing is off.
pub(crate) fn run_span(
    route: Option<TraceRoute>,
    component: &Component,
    run_id: &str,
    session_id: &str,
    user_id: Option<&str>,
    input: &str,
) -> Span {
    // A team is an agent to GenAI's conventions (`agentos.component.kind` says `team`).
    let (operation, agent, workflow) = match component {
        Component::Agent(a) => ("invoke_agent", Some((a.id(), a.name())), None),
        Component::Team(t) => ("invoke_agent", Some((t.get_id(), t.get_name())), None),
        Component::Workflow(w) => ("invoke_workflow", None, Some(w)),
    };
    let span = tracing::info_span!(
        target: "agentos::run",
        "run",
        otel.name = %format_args!("{operation} {}", component.name()),
        otel.status_code = Empty,
        otel.status_description = Empty,
        gen_ai.operation.name = operation,
        gen_ai.agent.id = agent.map(|(id, _)| id),
        gen_ai.agent.name = agent.map(|(_, name)| name),
        gen_ai.workflow.name = workflow.map(|w| w.get_name()),
        gen_ai.conversation.id = session_id,
        agentos.run.id = run_id,
        agentos.component.kind = component.kind().as_str(),
        agentos.component.id = component.id(),
        agentos.run.status = Empty,
        session.id = session_id,
        user.id = user_id,
        input.value = input,
        output.value = Empty,
        error.type = Empty,
    );
    if let Some(route) = route {
        attach_route(&span, route, None, None);
    }
    span
}

/// Records how a run ended on its span.
pub(crate) fn end_run_span(
    span: &Span,
    status: &str,
    output: Option<&str>,
    error: Option<(&str, &str)>,
) {
    if span.is_disabled() {
        return;
    }
    span.record("agentos.run.status", status);
    if let Some(output) = output {
        span.record("output.value", output);
    }
    if error.is_none() && status == "COMPLETED" {
        span.record("otel.status_code", "ok");
    }
    if let Some((kind, message)) = error {
        span.record("otel.status_code", "error");
        span.record("otel.status_description", message);
        span.record("error.type", kind);
    }
}
