//! A `/resume` of a run executing on another replica: its events followed through the
//! database as that replica writes them.

use super::schema::CatchUp;
use super::sse::{HEARTBEAT, meta_frame, stored_frame};
use crate::kind::ComponentKind;
use crate::store::{RunRecord, Store};
use axum::body::{Body, Bytes};
use std::convert::Infallible;
use std::sync::Arc;

/// How often a `/resume` following a run on another replica looks for its new events.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// How long a `/resume` following a run on another replica waits, once the run's status is
/// final, for its last events: that replica stores the final state before it sends (and then
/// writes) the final event. A run ended by reconciliation (its replica died) has none to wait
/// for, so the stream ends after this.
const LAST_EVENTS_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The events that end a run's stream: `WorkflowCompleted` (also after `WorkflowCancelled`)
/// or `WorkflowError` for a workflow; `RunCompleted`, `RunError` or `RunCancelled` for an
/// agent (whose `RunCompleted`s inside a workflow are its steps').
fn last_events(component_type: ComponentKind) -> &'static [&'static str] {
    match component_type {
        ComponentKind::Workflow => &["WorkflowCompleted", "WorkflowError"],
        _ => &["RunCompleted", "RunError", "RunCancelled"],
    }
}

/// Where a `/resume` following a run on another replica stands.
struct Follow {
    store: Arc<dyn Store>,
    run_id: String,
    last_events: &'static [&'static str],
    /// The index of the last event sent.
    last: i64,
    /// The `catch_up` frame, until sent.
    meta: Option<String>,
    /// When the run's status was seen final: from then on its last events are awaited.
    ended_at: Option<std::time::Instant>,
    /// The run's last event was sent: the stream is over.
    done: bool,
    idle_since: std::time::Instant,
}

/// A run executing on another replica, followed through the database: a `catch_up` event,
/// the stored events after `last`, then new ones as that replica writes them (every
/// [`FOLLOW_EVERY`]), until the run's last event is out (or, once the run has ended, for
/// [`LAST_EVENTS_WAIT`] at most).
pub(super) fn follow_stored(store: Arc<dyn Store>, run: RunRecord, last: i64) -> Body {
    let meta = meta_frame(
        "catch_up",
        &CatchUp {
            event: "catch_up",
            run_id: &run.run_id,
            status: "running",
            missed_events: None,
            current_event_count: None,
            message: "Following the run from the database.".to_owned(),
        },
    );
    let follow = Follow {
        store,
        last_events: last_events(run.component_type),
        run_id: run.run_id,
        last,
        meta: Some(meta),
        ended_at: None,
        done: false,
        idle_since: std::time::Instant::now(),
    };
    let stream = futures::stream::unfold(follow, |mut f| async move {
        if let Some(meta) = f.meta.take() {
            return Some((Ok::<_, Infallible>(Bytes::from(meta)), f));
        }
        if f.done {
            return None;
        }
        loop {
            let events = f
                .store
                .run_events(&f.run_id, f.last)
                .await
                .unwrap_or_default();
            if let Some((index, _)) = events.last() {
                f.last = *index;
                let mut chunk = String::new();
                for (_, payload) in &events {
                    let (name, frame) = stored_frame(payload);
                    f.done |= f.last_events.contains(&name.as_str());
                    chunk.push_str(&frame);
                }
                f.idle_since = std::time::Instant::now();
                return Some((Ok(Bytes::from(chunk)), f));
            }
            match f.ended_at {
                Some(at) if at.elapsed() >= LAST_EVENTS_WAIT => return None,
                Some(_) => {}
                None => {
                    // Read the status first, then the events once more at once: nothing
                    // written before the run ended is missed.
                    let ended = match f.store.get_run(&f.run_id).await {
                        Ok(Some(r)) => r.status.is_terminal(),
                        Ok(None) | Err(_) => true,
                    };
                    if ended {
                        f.ended_at = Some(std::time::Instant::now());
                        continue;
                    }
                    if f.idle_since.elapsed() >= HEARTBEAT {
                        f.idle_since = std::time::Instant::now();
                        return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), f));
                    }
                }
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    });
    Body::from_stream(stream)
}
