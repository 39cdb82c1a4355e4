//! The event journal of a resumable run (`background=true&stream=true`): every event gets an
//! `event_index`, is kept in memory for subscribers (the first client, and any `/resume`), and
//! is written to `run_events` when the run ends, for replays after the run left memory.

use crate::event::RunEvent;
use crate::run::RunStatus;
use std::sync::Mutex;
use tokio::sync::watch;

/// One journaled event: its SSE name and its JSON payload (with `event_index`).
#[derive(Debug, Clone)]
pub(crate) struct JournalEntry {
    pub name: String,
    pub json: String,
}

impl JournalEntry {
    /// The entry in SSE framing.
    pub(crate) fn push_sse(&self, out: &mut String) {
        out.push_str("event: ");
        out.push_str(&self.name);
        out.push_str("\ndata: ");
        out.push_str(&self.json);
        out.push_str("\n\n");
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: Vec<JournalEntry>,
    /// Set once the run's final state is stored.
    status: Option<RunStatus>,
}

/// The events of one run, in order, with a signal for subscribers.
#[derive(Debug)]
pub(crate) struct Journal {
    inner: Mutex<Inner>,
    /// The number of entries (and whether the run ended), for subscribers to wait on.
    changed: watch::Sender<(usize, bool)>,
}

impl Default for Journal {
    fn default() -> Journal {
        Journal {
            inner: Mutex::default(),
            changed: watch::channel((0, false)).0,
        }
    }
}

/// `payload` (a JSON object) with `"event_index": index` appended.
pub(crate) fn with_index(payload: &str, index: usize) -> String {
    match payload.strip_suffix('}') {
        Some(body) if body.len() > 1 => format!("{body},\"event_index\":{index}}}"),
        _ => format!("{{\"event_index\":{index}}}"),
    }
}

impl Journal {
    /// A journal holding `rows` already (stored events of a run being resumed).
    pub(crate) fn with_rows(rows: Vec<(i64, String)>) -> Journal {
        let journal = Journal::default();
        journal.preload(rows);
        journal
    }

    /// Puts stored `(event_index, payload)` rows first, in order (a resumed run's events
    /// before the restart); new events continue their numbering.
    pub(crate) fn preload(&self, rows: Vec<(i64, String)>) {
        let mut inner = self.lock();
        let mut loaded: Vec<JournalEntry> = rows
            .into_iter()
            .map(|(_, json)| {
                let name = serde_json::from_str::<serde_json::Value>(&json)
                    .ok()
                    .and_then(|v| v.get("event")?.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "message".to_owned());
                JournalEntry { name, json }
            })
            .collect();
        loaded.append(&mut inner.entries);
        inner.entries = loaded;
        let len = inner.entries.len();
        drop(inner);
        self.changed.send_replace((len, false));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends an event.
    pub(crate) fn push(&self, event: &RunEvent) {
        let mut inner = self.lock();
        let index = inner.entries.len();
        inner.entries.push(JournalEntry {
            name: event.name().to_owned(),
            json: with_index(&event.to_json(), index),
        });
        let len = inner.entries.len();
        drop(inner);
        self.changed.send_replace((len, false));
    }

    /// Marks the run ended (its final state is stored): subscribers stop after the last entry.
    pub(crate) fn finish(&self, status: RunStatus) {
        let mut inner = self.lock();
        inner.status = Some(status);
        let len = inner.entries.len();
        drop(inner);
        self.changed.send_replace((len, true));
    }

    /// The entries from `from` on, and the final status if the run ended.
    pub(crate) fn since(&self, from: usize) -> (Vec<JournalEntry>, Option<RunStatus>) {
        let inner = self.lock();
        let entries = inner.entries.get(from..).unwrap_or_default().to_vec();
        (entries, inner.status)
    }

    /// All entries as `(event_index, payload)`, to store.
    pub(crate) fn rows(&self) -> Vec<(i64, String)> {
        self.rows_from(0)
    }

    /// The entries from index `from` on, as `(event_index, payload)` rows.
    pub(crate) fn rows_from(&self, from: usize) -> Vec<(i64, String)> {
        self.lock()
            .entries
            .iter()
            .enumerate()
            .skip(from)
            .map(|(i, e)| (i as i64, e.json.clone()))
            .collect()
    }

    /// How many entries there are now, and whether the run ended.
    pub(crate) fn len(&self) -> (usize, Option<RunStatus>) {
        let inner = self.lock();
        (inner.entries.len(), inner.status)
    }

    /// A receiver that wakes on every new entry and at the end.
    pub(crate) fn subscribe(&self) -> watch::Receiver<(usize, bool)> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::with_index;

    #[test]
    fn the_index_is_appended_to_the_payload() {
        assert_eq!(
            with_index(r#"{"event":"RunContent"}"#, 3),
            r#"{"event":"RunContent","event_index":3}"#
        );
        assert_eq!(with_index("{}", 0), r#"{"event_index":0}"#);
    }
}
