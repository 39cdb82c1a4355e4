//! `/hooks/jobs`: the durable background hook jobs, and retrying a failed or dead one.

use super::error::ApiError;
use super::{AppState, iso, route};
use super::{Path, Query};
use crate::store::{HOOK_JOB_KIND, JobFilter, JobRecord};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) fn router() -> Router<AppState> {
    let r = route(Router::new(), "/hooks/jobs", get(list_jobs));
    route(r, "/hooks/jobs/{job_id}/retry", post(retry_job))
}

const STATUSES: [&str; 5] = ["pending", "running", "done", "failed", "dead"];

#[derive(Debug, Deserialize)]
struct JobsQuery {
    status: Option<String>,
    run_id: Option<String>,
    hook: Option<String>,
    page: Option<u32>,
    limit: Option<u32>,
}

fn job_json(job: &JobRecord) -> Value {
    json!({
        "job_id": job.job_id,
        "run_id": job.run_id,
        "hook_name": job.name,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "outcome": job.outcome,
        "last_error": job.last_error,
        "attempt_errors": serde_json::from_str::<Value>(&job.attempt_errors).unwrap_or_else(|_| json!([])),
        "next_attempt_at": iso(job.next_attempt_at),
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
    })
}

/// `GET /hooks/jobs?status=&run_id=&hook=&page=1&limit=20` → `{data, meta}` (agno's paging).
async fn list_jobs(
    State(rt): State<AppState>,
    Query(q): Query<JobsQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(status) = &q.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "Unknown status {status:?}; expected one of {}",
            STATUSES.join(", ")
        )));
    }
    let page = q.page.unwrap_or(1).max(1);
    let limit = q.limit.unwrap_or(20).clamp(1, 1000);
    let filter = JobFilter {
        status: q.status,
        kind: Some(HOOK_JOB_KIND.to_owned()),
        run_id: q.run_id,
        name: q.hook,
        limit,
        offset: (page - 1).saturating_mul(limit),
    };
    let (jobs, total) = rt.store.list_jobs(&filter).await?;
    Ok(Json(json!({
        "data": jobs.iter().map(job_json).collect::<Vec<_>>(),
        "meta": {
            "page": page,
            "limit": limit,
            "total_pages": total.div_ceil(limit as u64),
            "total_count": total,
        },
    })))
}

/// `POST /hooks/jobs/{id}/retry`: a failed or dead job goes back to pending; the dispatcher's
/// next sweep runs it.
async fn retry_job(
    State(rt): State<AppState>,
    Path(job_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match rt.store.retry_job(&job_id).await? {
        None => Err(ApiError::not_found("Hook job not found")),
        Some((true, job)) => Ok(Json(job_json(&job))),
        Some((false, job)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "Hook job is {}; only failed or dead jobs can be retried",
                job.status
            ),
        )),
    }
}
