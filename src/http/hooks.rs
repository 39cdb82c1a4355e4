//! `/hooks/jobs`: the durable background hook jobs, and retrying a failed or dead one (agentos
//! extensions).

use super::error::{ApiError, ErrorBody};
use super::page::PageMeta;
use super::{AppState, Path, Query, iso};
use crate::http::api::{Api, routes};
use crate::store::{HOOK_JOB_KIND, JobFilter, JobRecord};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

pub(crate) fn router() -> Api {
    [routes!(list_jobs), routes!(retry_job)]
        .into_iter()
        .fold(Api::default(), Api::routes)
}

/// The OpenAPI tag of these routes.
const TAG: &str = "Hooks";

const STATUSES: [&str; 5] = ["pending", "running", "done", "failed", "dead"];

/// `?status=&run_id=&hook=&page=&limit=` on the job list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct JobsQuery {
    /// Only jobs in this status: `pending`, `running`, `done`, `failed` or `dead`.
    status: Option<String>,
    /// Only this run's jobs.
    run_id: Option<String>,
    /// Only this hook's jobs.
    hook: Option<String>,
    /// Page, from 1 (default 1).
    page: Option<u32>,
    /// Jobs per page (default 20, at most 1000).
    limit: Option<u32>,
}

/// One durable hook job.
#[derive(Debug, Serialize, ToSchema)]
struct HookJob {
    job_id: String,
    run_id: String,
    hook_name: String,
    /// `pending`, `running`, `done`, `failed` (will retry) or `dead`.
    status: String,
    attempts: u32,
    max_attempts: u32,
    /// How the last attempt ended: `ok`, `error`, `panic` or `timeout`.
    outcome: Option<String>,
    last_error: Option<String>,
    /// Every failed attempt, oldest first: `{"attempt", "outcome", "error", "at"}`.
    #[schema(value_type = Vec<Object>)]
    attempt_errors: Value,
    /// ISO-8601 UTC.
    next_attempt_at: String,
    created_at: String,
    updated_at: String,
}

/// One page of hook jobs.
#[derive(Debug, Serialize, ToSchema)]
struct HookJobList {
    data: Vec<HookJob>,
    meta: PageMeta,
}

impl HookJob {
    fn of(job: &JobRecord) -> HookJob {
        HookJob {
            job_id: job.job_id.clone(),
            run_id: job.run_id.clone().unwrap_or_default(),
            hook_name: job.name.clone(),
            status: job.status.clone(),
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            outcome: job.outcome.clone(),
            last_error: job.last_error.clone(),
            attempt_errors: serde_json::from_str(&job.attempt_errors)
                .unwrap_or_else(|_| Value::Array(Vec::new())),
            next_attempt_at: iso(job.next_attempt_at),
            created_at: iso(job.created_at),
            updated_at: iso(job.updated_at),
        }
    }
}

/// Background hook jobs, oldest first, paged
#[utoipa::path(
    get, path = "/hooks/jobs", tag = TAG,
    params(JobsQuery),
    responses(
        (status = 200, description = "One page of jobs", body = HookJobList),
        (status = 400, description = "An unknown status, or a bad number", body = ErrorBody),
    )
)]
async fn list_jobs(
    State(rt): State<AppState>,
    Query(q): Query<JobsQuery>,
) -> Result<Json<HookJobList>, ApiError> {
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
    Ok(Json(HookJobList {
        data: jobs.iter().map(HookJob::of).collect(),
        meta: PageMeta {
            page: page.into(),
            limit: limit.into(),
            total_pages: total.div_ceil(limit as u64),
            total_count: total,
            search_time_ms: None,
        },
    }))
}

/// Put a failed or dead hook job back in the queue
///
/// The dispatcher's next sweep runs it.
#[utoipa::path(
    post, path = "/hooks/jobs/{job_id}/retry", tag = TAG,
    params(("job_id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job, pending again", body = HookJob),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job is not `failed` or `dead`", body = ErrorBody),
    )
)]
async fn retry_job(
    State(rt): State<AppState>,
    Path(job_id): Path<String>,
) -> Result<Json<HookJob>, ApiError> {
    match rt.store.retry_job(&job_id).await? {
        None => Err(ApiError::not_found("Hook job not found")),
        Some((true, job)) => Ok(Json(HookJob::of(&job))),
        Some((false, job)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "Hook job is {}; only failed or dead jobs can be retried",
                job.status
            ),
        )),
    }
}
