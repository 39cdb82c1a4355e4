//! `POST .../runs/{run_id}/resume` (wire spec §7.3): its form, and the stream it answers with.

use super::follow::follow_stored;
use super::schema::{CatchUp, Replay, StreamError};
use super::sse::{journal_body, meta_frame, sse_response, stored_frame};
use crate::http::error::ApiError;
use crate::http::form::RunForm;
use crate::kind::ComponentKind;
use crate::runtime::Runtime;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::response::Response;

/// The `/resume` form: `last_event_index` (the last event the client has; none = replay all)
/// and `session_id`.
#[derive(Debug, Default)]
pub(crate) struct ResumeForm {
    pub last_event_index: Option<i64>,
    pub session_id: Option<String>,
}

impl ResumeForm {
    /// The `/resume` form, from a form body if there is one (the fields are all optional).
    pub(crate) async fn from_request(request: Request) -> Result<ResumeForm, ApiError> {
        let has_form = request.headers().contains_key(header::CONTENT_TYPE);
        let form = match has_form {
            true => Some(RunForm::read(request, &(), "-F last_event_index=0").await?),
            false => None,
        };
        ResumeForm::parse(form)
    }

    fn parse(form: Option<RunForm>) -> Result<ResumeForm, ApiError> {
        let mut out = ResumeForm::default();
        for (name, value) in form.map(|f| f.0).unwrap_or_default() {
            match name.as_str() {
                "last_event_index" if !value.trim().is_empty() => {
                    let index = value
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| ApiError::bad_int("last_event_index", &value))?;
                    out.last_event_index = Some(index);
                }
                "session_id" => out.session_id = Some(value).filter(|v| !v.is_empty()),
                _ => {}
            }
        }
        Ok(out)
    }
}

/// Live from the in-memory journal while the run executes (a `catch_up` meta event, the missed
/// events, then live ones), the missed events of a recently finished run (`replay`), or the
/// events stored in the database.
pub(crate) async fn resume(
    rt: &Runtime,
    component_type: ComponentKind,
    component_id: &str,
    run_id: &str,
    form: ResumeForm,
) -> Result<Response, ApiError> {
    let last = form.last_event_index.unwrap_or(-1);
    let from = usize::try_from(last + 1).unwrap_or(0);
    if let Some(journal) = rt.journal(run_id) {
        let (count, ended) = journal.len();
        let missed = count.saturating_sub(from);
        let prelude = match ended {
            None if missed == 0 => Vec::new(),
            None => vec![meta_frame(
                "catch_up",
                &CatchUp {
                    event: "catch_up",
                    run_id,
                    status: "running",
                    missed_events: Some(missed),
                    current_event_count: Some(count),
                    message: format!("Catching up on {missed} missed events."),
                },
            )],
            Some(status) => vec![meta_frame(
                "replay",
                &Replay {
                    event: "replay",
                    run_id,
                    status: status.as_str(),
                    total_events: missed,
                    total_buffered: Some(count),
                    last_event_index_requested: Some(last),
                    message: format!(
                        "Run {}. Replaying {missed} missed events (of {count} total).",
                        status.as_str()
                    ),
                },
            )],
        };
        return Ok(sse_response(journal_body(journal, from, prelude)));
    }
    let run = rt
        .store
        .get_run(run_id)
        .await?
        .filter(|r| r.component_type == component_type && r.component_id == component_id)
        .filter(|r| form.session_id.as_deref().is_none_or(|s| s == r.session_id));
    let Some(run) = run else {
        let error = StreamError {
            event: "error",
            error: format!("Run {run_id} not found in buffer or database"),
        };
        return Ok(sse_response(Body::from(meta_frame("error", &error))));
    };
    if !run.status.is_terminal() && !rt.store.exclusive() {
        // Executing on another replica: follow its events as they are written.
        return Ok(sse_response(follow_stored(rt.store.clone(), run, last)));
    }
    let events = rt.store.run_events(run_id, last).await?;
    let status = run.status.as_str();
    let message = match (events.is_empty(), run.status.is_terminal()) {
        (false, _) => "Run completed. Replaying stored events from database.".to_owned(),
        (true, true) => format!(
            "Run {status} with no stored events: a run submitted without streaming keeps only its final output."
        ),
        (true, false) => format!(
            "Run is {status} and was submitted without streaming, so it has no event stream to attach to. Poll the run endpoint for its result."
        ),
    };
    let replay = Replay {
        event: "replay",
        run_id,
        status,
        total_events: events.len(),
        total_buffered: None,
        last_event_index_requested: None,
        message,
    };
    let mut body = meta_frame("replay", &replay);
    for (_, payload) in &events {
        body.push_str(&stored_frame(payload).1);
    }
    Ok(sse_response(Body::from(body)))
}
