//! Prometheus metrics of one `AgentOs`: a registry of its own (not the process's global
//! recorder, so several `AgentOs` in one process keep theirs apart), rendered in Prometheus's
//! text format.
//!
//! A handle is registered once per label set and kept; an update is then an atomic add (a
//! histogram's, a push onto its lock-free bucket). The per-run handles are looked up when the
//! run starts; the model, store and HTTP handles are found in a small read-locked map the first
//! time a label set is seen and read from it afterwards.

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Latency buckets (seconds): from a store write to a long model call.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0,
];

/// The statuses a run ends in (`RunStatus`'s wire names).
pub(crate) const RUN_END_STATUSES: [&str; 4] = ["COMPLETED", "ERROR", "CANCELLED", "PAUSED"];

/// Every metric's name and help text.
const DESCRIPTIONS: &[(&str, &str, char)] = &[
    (
        "agentos_runs_started_total",
        "Runs started, by component kind and id.",
        'c',
    ),
    (
        "agentos_runs_finished_total",
        "Runs finished, by component kind, id and final status.",
        'c',
    ),
    (
        "agentos_run_duration_seconds",
        "Run latency from start to stored final state.",
        'h',
    ),
    (
        "agentos_runs_in_flight",
        "Runs executing in this process now.",
        'g',
    ),
    (
        "agentos_model_call_duration_seconds",
        "Model call latency, by model and provider.",
        'h',
    ),
    (
        "agentos_model_tokens_total",
        "Tokens the models reported, by model, provider and type (input or output).",
        'c',
    ),
    (
        "agentos_jobs",
        "Jobs in the database, by kind and state.",
        'g',
    ),
    (
        "agentos_job_oldest_due_seconds",
        "How long the oldest due job of each kind has been waiting.",
        'g',
    ),
    (
        "agentos_job_lag_seconds",
        "Time from a job attempt being due to its start, by kind.",
        'h',
    ),
    (
        "agentos_job_attempts_total",
        "Job attempts, by kind and outcome.",
        'c',
    ),
    (
        "agentos_store_write_duration_seconds",
        "Store write latency (queued and committed), by backend and operation.",
        'h',
    ),
    (
        "agentos_http_requests_total",
        "HTTP requests, by method, matched route and status.",
        'c',
    ),
    (
        "agentos_http_request_duration_seconds",
        "HTTP request latency to the response head, by method and matched route.",
        'h',
    ),
    (
        "agentos_spans_dropped_total",
        "Finished spans dropped because the export queue was full.",
        'c',
    ),
    (
        "agentos_spans_exported_total",
        "Spans accepted by the OTLP endpoint.",
        'c',
    ),
    (
        "agentos_spans_export_failed_total",
        "Spans the OTLP endpoint did not take (down, slow or refusing).",
        'c',
    ),
    (
        "agentos_spans_stored_total",
        "Spans written to the traces store.",
        'c',
    ),
];

/// The handles of one component's runs.
#[derive(Debug)]
pub(crate) struct RunHandles {
    started: Counter,
    /// By [`RUN_END_STATUSES`] index.
    finished: [Counter; 4],
    duration: [Histogram; 4],
}

impl RunHandles {
    /// A run began.
    pub(crate) fn started(&self) {
        self.started.increment(1);
    }

    /// A run ended in `status` (a wire name) after `elapsed`.
    pub(crate) fn finished(&self, status: &str, elapsed: Duration) {
        let i = RUN_END_STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(1);
        self.finished[i].increment(1);
        self.duration[i].record(elapsed.as_secs_f64());
    }
}

/// The handles of one model's calls.
#[derive(Debug)]
struct ModelHandles {
    duration: Histogram,
    input: Counter,
    output: Counter,
}

/// One `AgentOs`'s metrics.
pub(crate) struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    runs: HashMap<&'static str, HashMap<String, Arc<RunHandles>>>,
    models: RwLock<HashMap<u64, Arc<ModelHandles>>>,
    handles: RwLock<HashMap<u64, Histogram>>,
    counters: RwLock<HashMap<u64, Counter>>,
    hasher: std::collections::hash_map::RandomState,
    in_flight: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn labels(pairs: &[(&'static str, &str)]) -> Vec<Label> {
    pairs
        .iter()
        .map(|(k, v)| Label::new(*k, v.to_string()))
        .collect()
}

impl Metrics {
    /// A registry with the run handles of `components` (kind, id) registered.
    pub(crate) fn new<'a>(
        components: impl IntoIterator<Item = (&'static str, &'a str)>,
    ) -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        for (name, help, kind) in DESCRIPTIONS {
            let key = KeyName::from_const_str(name);
            let help = SharedString::const_str(help);
            match kind {
                'c' => recorder.describe_counter(key, None, help),
                'g' => recorder.describe_gauge(key, None, help),
                _ => recorder.describe_histogram(key, None, help),
            }
        }
        let handle = recorder.handle();
        let mut this = Metrics {
            in_flight: recorder.register_gauge(&Key::from_name("agentos_runs_in_flight"), &META),
            recorder,
            handle,
            runs: HashMap::new(),
            models: RwLock::default(),
            handles: RwLock::default(),
            counters: RwLock::default(),
            hasher: Default::default(),
        };
        for (kind, id) in components {
            let handles = this.run_handles_new(kind, id);
            this.runs
                .entry(kind)
                .or_default()
                .insert(id.to_owned(), Arc::new(handles));
        }
        this
    }

    fn counter(&self, name: &'static str, pairs: &[(&'static str, &str)]) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels(pairs)), &META)
    }

    fn gauge(&self, name: &'static str, pairs: &[(&'static str, &str)]) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_parts(name, labels(pairs)), &META)
    }

    fn histogram(&self, name: &'static str, pairs: &[(&'static str, &str)]) -> Histogram {
        self.recorder
            .register_histogram(&Key::from_parts(name, labels(pairs)), &META)
    }

    fn run_handles_new(&self, kind: &'static str, id: &str) -> RunHandles {
        let by = |status: &'static str| [("kind", kind), ("component", id), ("status", status)];
        RunHandles {
            started: self.counter(
                "agentos_runs_started_total",
                &[("kind", kind), ("component", id)],
            ),
            finished: RUN_END_STATUSES.map(|s| self.counter("agentos_runs_finished_total", &by(s))),
            duration: RUN_END_STATUSES
                .map(|s| self.histogram("agentos_run_duration_seconds", &by(s))),
        }
    }

    /// The run handles of a component served here.
    pub(crate) fn runs(&self, kind: &'static str, id: &str) -> Option<Arc<RunHandles>> {
        self.runs.get(kind)?.get(id).cloned()
    }

    fn hash(&self, parts: impl Hash) -> u64 {
        self.hasher.hash_one(parts)
    }

    /// A model call ended after `elapsed`, with these token counts.
    pub(crate) fn model_call(
        &self,
        model: &str,
        provider: &str,
        elapsed: Duration,
        input_tokens: u64,
        output_tokens: u64,
    ) {
        let key = self.hash((model, provider));
        let found = self
            .models
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let handles = found.unwrap_or_else(|| {
            let labels = |t: &'static str| [("model", model), ("provider", provider), ("type", t)];
            let made = Arc::new(ModelHandles {
                duration: self.histogram(
                    "agentos_model_call_duration_seconds",
                    &[("model", model), ("provider", provider)],
                ),
                input: self.counter("agentos_model_tokens_total", &labels("input")),
                output: self.counter("agentos_model_tokens_total", &labels("output")),
            });
            self.models
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, made.clone());
            made
        });
        handles.duration.record(elapsed.as_secs_f64());
        handles.input.increment(input_tokens);
        handles.output.increment(output_tokens);
    }

    /// Records `value` in the histogram `name` with these labels.
    pub(crate) fn observe(&self, name: &'static str, pairs: &[(&'static str, &str)], value: f64) {
        let key = self.hash((name, pairs));
        let found = self
            .handles
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let histogram = found.unwrap_or_else(|| {
            let made = self.histogram(name, pairs);
            self.handles
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, made.clone());
            made
        });
        histogram.record(value);
    }

    /// Adds `n` to the counter `name` with these labels.
    pub(crate) fn count(&self, name: &'static str, pairs: &[(&'static str, &str)], n: u64) {
        let key = self.hash((name, pairs));
        let found = self
            .counters
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let counter = found.unwrap_or_else(|| {
            let made = self.counter(name, pairs);
            self.counters
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, made.clone());
            made
        });
        counter.increment(n);
    }

    /// Sets a gauge (at scrape time: jobs by state, runs in flight).
    pub(crate) fn set_gauge(&self, name: &'static str, pairs: &[(&'static str, &str)], value: f64) {
        self.gauge(name, pairs).set(value);
    }

    /// Sets a counter to an absolute value (the span export's own counters, read at scrape).
    pub(crate) fn set_counter(&self, name: &'static str, value: u64) {
        self.recorder
            .register_counter(&Key::from_name(name), &META)
            .absolute(value);
    }

    /// Sets the runs in flight.
    pub(crate) fn set_in_flight(&self, n: usize) {
        self.in_flight.set(n as f64);
    }

    /// The exposition, in Prometheus's text format.
    pub(crate) fn render(&self) -> String {
        self.handle.render()
    }
}

/// The metadata every handle is registered with (the Prometheus exporter ignores it).
static META: Metadata<'static> = Metadata::new(module_path!(), metrics::Level::INFO, None);
