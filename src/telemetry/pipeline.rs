//! The span pipeline: agentos's spans (target `agentos…`) → `tracing-opentelemetry` → one SDK
//! tracer whose only processor routes each finished span to the queue of the `AgentOs` it
//! belongs to ([`super::export`]).
//!
//! Which `AgentOs` a span belongs to travels in OpenTelemetry's context: a root span (an HTTP
//! request, a run started without one, a job attempt) gets a parent context holding its
//! [`TraceRoute`], and every span below inherits its parent's context. The processor reads it
//! when a span starts, keeps it as an attribute, and takes the attribute off again when the span
//! ends.

use super::export::{Route, TraceRoute};
use opentelemetry::trace::{Span as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, Span, SpanData, SpanProcessor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;
use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context as LayerContext, Filter, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The attribute a span carries from its start to its end: the index of its route.
const ROUTE_ATTRIBUTE: &str = "agentos.internal.route";

/// How many `AgentOs` have tracing on in this process: agentos's span callsites are enabled
/// while it is above zero.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// The routes of the `AgentOs` values with tracing on, by index (`None`: ended).
static ROUTES: RwLock<Vec<Option<Arc<Route>>>> = RwLock::new(Vec::new());

/// Set once [`layer`] has been made (so that it is, presumably, in the subscriber).
static LAYER_MADE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The one tracer behind [`layer`], made on first use.
fn tracer() -> &'static SdkTracer {
    static TRACER: OnceLock<SdkTracer> = OnceLock::new();
    TRACER.get_or_init(|| {
        let provider = SdkTracerProvider::builder()
            .with_span_processor(RouteProcessor)
            .build();
        provider.tracer("agentos")
    })
}

/// Whether an agentos span is wanted now: some `AgentOs` has tracing on.
fn is_agentos_span(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_span() && meta.target().starts_with("agentos")
}

/// The filter of [`layer`]: agentos's spans while tracing is on, nothing else. Its answer is
/// cached per callsite; [`activate`] rebuilds the cache when it changes.
struct AgentosSpans;

impl<S> Filter<S> for AgentosSpans {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: &LayerContext<'_, S>) -> bool {
        is_agentos_span(meta) && ACTIVE.load(Ordering::Relaxed) > 0
    }

    fn callsite_enabled(&self, meta: &'static tracing::Metadata<'static>) -> Interest {
        match is_agentos_span(meta) && ACTIVE.load(Ordering::Relaxed) > 0 {
            true => Interest::always(),
            false => Interest::never(),
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match ACTIVE.load(Ordering::Relaxed) {
            0 => LevelFilter::OFF,
            _ => LevelFilter::INFO,
        })
    }
}

/// The console's filter beside `RUST_LOG`'s: everything but agentos's spans, decided once
/// per callsite.
struct NotAgentosSpans;

impl<S> Filter<S> for NotAgentosSpans {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: &LayerContext<'_, S>) -> bool {
        !is_agentos_span(meta)
    }

    fn callsite_enabled(&self, meta: &'static tracing::Metadata<'static>) -> Interest {
        match is_agentos_span(meta) {
            true => Interest::never(),
            false => Interest::always(),
        }
    }
}

/// The layer that turns agentos's spans into OpenTelemetry spans, for a subscriber of the
/// application's own:
///
/// ```no_run
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::util::SubscriberInitExt;
/// tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer())
///     .with(agentos::telemetry::layer())
///     .init();
/// ```
///
/// It sees agentos's spans only, and only while an `AgentOs` has tracing on; its filter is
/// its own, so the application's other layers keep theirs. [`init`] installs it for you.
pub fn layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    LAYER_MADE.store(true, Ordering::Relaxed);
    tracing_opentelemetry::layer()
        .with_tracer(tracer().clone())
        .with_context_activation(false)
        .with_level(false)
        .with_target(false)
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_filter(AgentosSpans)
}

/// Installs the global subscriber: the console log (`RUST_LOG`, default `info`; agentos's
/// spans are not logged) and [`layer`]. Does nothing if a global subscriber is already set.
pub fn init() {
    let _ = try_init();
}

/// [`init`], failing if a global subscriber is already set.
pub fn try_init() -> Result<(), tracing_subscriber::util::TryInitError> {
    let env = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let console = tracing_subscriber::fmt::layer().with_filter(
        tracing_subscriber::filter::FilterExt::and(env, NotAgentosSpans),
    );
    tracing_subscriber::registry()
        .with(console)
        .with(layer())
        .try_init()
}

/// One `AgentOs`'s place in the pipeline while its tracing is on: dropping it takes the route
/// away, and disables agentos's spans once no `AgentOs` has tracing on.
#[derive(Debug)]
pub(crate) struct Activation {
    index: usize,
}

impl Activation {
    /// The route its root spans carry.
    pub(crate) fn route(&self) -> TraceRoute {
        TraceRoute(self.index)
    }
}

impl Drop for Activation {
    fn drop(&mut self) {
        if let Some(slot) = ROUTES
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(self.index)
        {
            *slot = None;
        }
        if ACTIVE.fetch_sub(1, Ordering::Relaxed) == 1 {
            tracing::callsite::rebuild_interest_cache();
        }
    }
}

/// Turns tracing on for an `AgentOs` whose finished spans go to `route`. Installs [`init`]'s
/// subscriber if the process has none yet; warns if it has one that may not carry [`layer`].
pub(crate) fn activate(route: Arc<Route>) -> Activation {
    if !tracing::dispatcher::has_been_set() {
        init();
    } else if !LAYER_MADE.load(Ordering::Relaxed) {
        tracing::warn!(
            "tracing is on, but the global subscriber was set without agentos's layer: no span \
             will be stored or exported; add agentos::telemetry::layer() to it (or call \
             agentos::telemetry::init() instead)"
        );
    }
    tracer();
    // Never reused: a span still in flight for an `AgentOs` that has stopped must not reach
    // another one that took its place.
    let index = {
        let mut routes = ROUTES.write().unwrap_or_else(|p| p.into_inner());
        routes.push(Some(route));
        routes.len() - 1
    };
    if ACTIVE.fetch_add(1, Ordering::Relaxed) == 0 {
        tracing::callsite::rebuild_interest_cache();
    }
    Activation { index }
}

/// The SDK tracer's processor: routes each finished span to its `AgentOs`'s queue.
#[derive(Debug)]
struct RouteProcessor;

impl SpanProcessor for RouteProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        if let Some(route) = cx.get::<TraceRoute>() {
            span.set_attribute(KeyValue::new(ROUTE_ATTRIBUTE, route.0 as i64));
        }
    }

    fn on_end(&self, mut span: SpanData) {
        let Some(at) = span
            .attributes
            .iter()
            .position(|kv| kv.key.as_str() == ROUTE_ATTRIBUTE)
        else {
            return;
        };
        let Value::I64(index) = span.attributes.remove(at).value else {
            return;
        };
        let route = ROUTES
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(index as usize)
            .cloned()
            .flatten();
        if let Some(route) = route {
            route.push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}
