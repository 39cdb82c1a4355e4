//! One `AgentOs`'s span export: a bounded queue that finished spans are pushed into (never
//! waiting: a full queue drops the span and counts it), and the task that empties it every
//! `interval`, writing each batch to the database ([`SpanSink`]) and to the OTLP endpoint.
//!
//! The queue is only read by that task, on its own timer: pushing a span wakes nobody, so a
//! traced run has no more wake-ups than an untraced one.

use futures::future::BoxFuture;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Which `AgentOs` a trace belongs to: a value in the OpenTelemetry context of its root span,
/// inherited by every span below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceRoute(pub(crate) usize);

/// Where finished spans are kept besides OTLP: agno's traces store.
pub(crate) trait SpanSink: Send + Sync + 'static {
    /// Writes one batch.
    fn write<'a>(&'a self, spans: &'a [SpanData]) -> BoxFuture<'a, Result<(), String>>;
}

/// How one `AgentOs` exports its spans.
pub(crate) struct ExporterSettings {
    /// The OTLP/HTTP traces endpoint (`…/v1/traces`), or `None` to resolve it from
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`; `otlp` off: no export.
    pub otlp_endpoint: Option<String>,
    /// Export to OTLP at all.
    pub otlp: bool,
    /// The database, for agno's `/traces`.
    pub sink: Option<Arc<dyn SpanSink>>,
    /// How often the queue is emptied.
    pub interval: Duration,
    /// The most spans waiting; more are dropped.
    pub capacity: usize,
}

/// What the export has done, for `/metrics/prometheus`.
#[derive(Debug, Default)]
pub(crate) struct ExportCounts {
    /// Spans dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Spans written to the database.
    pub stored: AtomicU64,
    /// Spans the database refused.
    pub store_failed: AtomicU64,
    /// Spans the OTLP endpoint accepted.
    pub exported: AtomicU64,
    /// Spans the OTLP endpoint did not take (down, slow, refused).
    pub export_failed: AtomicU64,
}

/// The producer side, held by the pipeline's route table.
#[derive(Debug)]
pub(crate) struct Route {
    tx: mpsc::Sender<SpanData>,
    counts: Arc<ExportCounts>,
}

impl Route {
    /// Queues a finished span, or drops it if the queue is full.
    pub(crate) fn push(&self, span: SpanData) {
        if self.tx.try_send(span).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The consumer side: the task's state.
pub(crate) struct Exporter {
    rx: mpsc::Receiver<SpanData>,
    otlp: Option<opentelemetry_otlp::SpanExporter>,
    sink: Option<Arc<dyn SpanSink>>,
    interval: Duration,
    counts: Arc<ExportCounts>,
    /// The size of a batch written at once.
    batch: usize,
}

impl Exporter {
    /// The queue's two ends, or why the OTLP exporter could not be built.
    pub(crate) fn new(
        settings: ExporterSettings,
    ) -> Result<(Arc<Route>, Exporter, Arc<ExportCounts>), String> {
        let otlp = match settings.otlp {
            false => None,
            true => Some(otlp_exporter(settings.otlp_endpoint.as_deref())?),
        };
        let (tx, rx) = mpsc::channel(settings.capacity.max(1));
        let counts = Arc::new(ExportCounts::default());
        let route = Arc::new(Route {
            tx,
            counts: counts.clone(),
        });
        let exporter = Exporter {
            rx,
            otlp,
            sink: settings.sink,
            interval: settings.interval,
            counts: counts.clone(),
            batch: 512,
        };
        Ok((route, exporter, counts))
    }

    /// Empties the queue every `interval` until `stopping`, then once more.
    pub(crate) async fn run(mut self, stopping: CancellationToken) {
        loop {
            let stop = tokio::select! {
                () = tokio::time::sleep(self.interval) => false,
                () = stopping.cancelled() => true,
            };
            self.drain().await;
            if stop {
                if let Some(otlp) = &self.otlp {
                    let _ = otlp.shutdown();
                }
                return;
            }
        }
    }

    /// Writes everything queued now, a batch at a time.
    async fn drain(&mut self) {
        let mut spans = Vec::with_capacity(self.batch);
        loop {
            spans.clear();
            while spans.len() < self.batch {
                match self.rx.try_recv() {
                    Ok(span) => spans.push(span),
                    Err(_) => break,
                }
            }
            if spans.is_empty() {
                return;
            }
            let n = spans.len() as u64;
            if let Some(sink) = &self.sink {
                match sink.write(&spans).await {
                    Ok(()) => self.counts.stored.fetch_add(n, Ordering::Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %e, spans = n, "cannot store spans");
                        self.counts.store_failed.fetch_add(n, Ordering::Relaxed)
                    }
                };
            }
            if let Some(otlp) = &self.otlp {
                let batch = std::mem::replace(&mut spans, Vec::with_capacity(self.batch));
                match otlp.export(batch).await {
                    Ok(()) => self.counts.exported.fetch_add(n, Ordering::Relaxed),
                    Err(e) => {
                        let failed = self.counts.export_failed.fetch_add(n, Ordering::Relaxed);
                        // Once, then every 10,000th span: a collector that stays down must not
                        // fill the log.
                        if failed == 0 || failed / 10_000 != (failed + n) / 10_000 {
                            tracing::warn!(error = %e, "cannot export spans over OTLP; they are dropped");
                        }
                        failed
                    }
                };
            }
        }
    }
}

/// The OTLP/HTTP (protobuf) exporter, its resource naming the service (`OTEL_SERVICE_NAME`,
/// default `agentos`).
fn otlp_exporter(endpoint: Option<&str>) -> Result<opentelemetry_otlp::SpanExporter, String> {
    use opentelemetry_otlp::WithExportConfig;
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let mut exporter = builder.build().map_err(|e| e.to_string())?;
    let name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "agentos".to_owned());
    exporter.set_resource(&Resource::builder().with_service_name(name).build());
    Ok(exporter)
}
