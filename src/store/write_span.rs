//! Every store write as a span (`db.system.name`, `db.operation.name`) and, when someone
//! observes the store, its latency: the backends open a [`WriteSpan`] around each write.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// Told each write's latency (the runtime's Prometheus metrics).
pub trait WriteObserver: std::fmt::Debug + Send + Sync + 'static {
    /// A write of `operation` (the store method) on `backend` (`sqlite`, `postgresql`) took
    /// `elapsed`, from the call to its commit.
    fn write_done(&self, backend: &'static str, operation: &'static str, elapsed: Duration);
}

/// One write in progress: its span (disabled unless tracing is on) and, if observed, its
/// start.
pub(crate) struct WriteSpan<'a> {
    _span: tracing::Span,
    observed: Option<(&'a dyn WriteObserver, Instant)>,
    backend: &'static str,
    operation: &'static str,
}

impl<'a> WriteSpan<'a> {
    /// Starts timing a write of `operation` on `backend`.
    pub(crate) fn start(
        backend: &'static str,
        operation: &'static str,
        observer: Option<&'a Arc<dyn WriteObserver>>,
    ) -> WriteSpan<'a> {
        let span = tracing::info_span!(
            target: "agentos::store",
            "db write",
            otel.name = operation,
            otel.kind = "client",
            db.system.name = backend,
            db.operation.name = operation,
        );
        WriteSpan {
            _span: span,
            observed: observer.map(|o| (&**o, Instant::now())),
            backend,
            operation,
        }
    }
}

impl Drop for WriteSpan<'_> {
    fn drop(&mut self) {
        if let Some((observer, started)) = self.observed {
            observer.write_done(self.backend, self.operation, started.elapsed());
        }
    }
}

/// The store method a write closure belongs to, from its type's name
/// (`…::finish_run::{{closure}}::{{closure}}` → `finish_run`).
pub(crate) fn operation_of<F>() -> &'static str {
    let name = std::any::type_name::<F>();
    let head = name.split("::{{closure}}").next().unwrap_or(name);
    let method = head.rsplit("::").next().unwrap_or(head);
    // An `async fn`'s lifetimes: `finish_run<'_, '_>`.
    method.split('<').next().unwrap_or(method)
}
