//! The usage metrics domain (agno's `/metrics`): daily aggregates of runs, sessions, users and
//! tokens per component kind, one row per day and user (`usage_metrics`), recomputed from the
//! `runs` table by a refresh; and the job gauges Prometheus reads at each scrape.

use super::StoreError;
use crate::kind::ComponentKind;
use async_trait::async_trait;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

record! {
    /// One day's usage by one user (`""`: runs without a user).
    #[derive(Debug, Clone, PartialEq)]
    pub struct UsageRecord {
        /// `YYYY-MM-DD` (UTC).
        pub date: String,
        /// The user, or `""`.
        pub user_id: String,
        /// Agent runs.
        pub agent_runs_count: i64,
        /// Agent sessions with a run that day.
        pub agent_sessions_count: i64,
        /// Team runs.
        pub team_runs_count: i64,
        /// Team sessions with a run that day.
        pub team_sessions_count: i64,
        /// Workflow runs.
        pub workflow_runs_count: i64,
        /// Workflow sessions with a run that day.
        pub workflow_sessions_count: i64,
        /// Tokens in.
        pub input_tokens: i64,
        /// Tokens out.
        pub output_tokens: i64,
        /// Tokens in all.
        pub total_tokens: i64,
        /// `[{"model_id", "model_provider", "count"}]`: model calls' runs by model.
        pub model_metrics: String,
        /// 1 once the day is over (it is not recomputed), else 0.
        pub completed: i64,
        /// Unix milliseconds.
        pub created_at: i64,
        /// Unix milliseconds.
        pub updated_at: i64,
    }
}

record! {
    /// A run as the usage refresh reads it.
    #[derive(Debug, Clone, PartialEq)]
    pub struct UsageRun {
        /// Its session.
        pub session_id: String,
        /// `agent`, `team` or `workflow`.
        pub component_type: ComponentKind,
        /// Its user.
        pub user_id: Option<String>,
        /// Its output (JSON), once finished.
        pub output: Option<String>,
        /// Unix milliseconds.
        pub created_at: i64,
    }
}

record! {
    /// The jobs of one kind in one state, for Prometheus.
    #[derive(Debug, Clone, PartialEq)]
    pub struct JobGauge {
        /// The job kind.
        pub kind: String,
        /// `pending`, `running`, `done`, `failed` or `dead`.
        pub status: String,
        /// How many.
        pub count: i64,
        /// Unix milliseconds: the earliest `next_attempt_at` among them.
        pub oldest_due: i64,
    }
}

/// Usage aggregates and the live job counts.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// The runs created in `[from, to)` (unix milliseconds).
    async fn usage_runs(&self, from: i64, to: i64) -> Result<Vec<UsageRun>, StoreError>;
    /// The first run's creation (unix milliseconds), if any.
    async fn first_run_at(&self) -> Result<Option<i64>, StoreError>;
    /// The latest `completed` day stored, if any.
    async fn last_completed_usage_day(&self) -> Result<Option<String>, StoreError>;
    /// Replaces the rows of every day from `from_date` on with `records`, in one transaction.
    async fn replace_usage(
        &self,
        from_date: &str,
        records: Vec<UsageRecord>,
    ) -> Result<(), StoreError>;
    /// The stored rows of the days in `[from, to]` (either end open), of `user_id` if given,
    /// oldest day first.
    async fn usage(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        user_id: Option<&str>,
    ) -> Result<Vec<UsageRecord>, StoreError>;
    /// The jobs by kind and state.
    async fn job_gauges(&self) -> Result<Vec<JobGauge>, StoreError>;
}

/// Recomputes every day from the day after the last completed one (or the first run's) to
/// today (`now`, unix milliseconds) and stores it. Returns the rows written.
pub async fn refresh_usage(
    store: &dyn UsageStore,
    now: i64,
) -> Result<Vec<UsageRecord>, StoreError> {
    let start_day = match store.last_completed_usage_day().await? {
        Some(day) => next_day(&day),
        None => match store.first_run_at().await? {
            Some(first) => Some(day_of(first)),
            None => return Ok(Vec::new()),
        },
    };
    let Some(start_day) = start_day else {
        return Ok(Vec::new());
    };
    let Some(from) = day_start(&start_day) else {
        return Ok(Vec::new());
    };
    let today = day_of(now);
    if start_day > today {
        return Ok(Vec::new());
    }
    let runs = store.usage_runs(from, now + 1).await?;
    let records = aggregate(&runs, &today, now);
    store.replace_usage(&start_day, records.clone()).await?;
    Ok(records)
}

/// `YYYY-MM-DD` of a unix-millisecond time (UTC).
pub fn day_of(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

fn day_start(day: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

fn next_day(day: &str) -> Option<String> {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    Some(date.succ_opt()?.format("%Y-%m-%d").to_string())
}

#[derive(Default)]
struct Bucket {
    runs: [i64; 3],
    sessions: [HashSet<String>; 3],
    tokens: [i64; 3],
    models: BTreeMap<(String, String), i64>,
}

fn kind_index(kind: ComponentKind) -> usize {
    match kind {
        ComponentKind::Agent => 0,
        ComponentKind::Team => 1,
        ComponentKind::Workflow => 2,
    }
}

/// Adds one run output's tokens and models: an agent's (or team's) own, a workflow's from the
/// agent runs of its steps.
fn add_output(bucket: &mut Bucket, output: &Value) {
    let runs: Vec<&Value> = match output.get("step_executor_runs").and_then(Value::as_array) {
        Some(steps) => steps.iter().collect(),
        None => vec![output],
    };
    for run in runs {
        let metrics = run.get("metrics");
        let tokens = |k: &str| {
            metrics
                .and_then(|m| m.get(k))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        bucket.tokens[0] += tokens("input_tokens");
        bucket.tokens[1] += tokens("output_tokens");
        bucket.tokens[2] += tokens("total_tokens");
        if let Some(model) = run
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            let provider = run
                .get("model_provider")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            *bucket
                .models
                .entry((model.to_owned(), provider))
                .or_default() += 1;
        }
    }
}

/// One row per day and user of `runs`; days before `today` are completed.
pub fn aggregate(runs: &[UsageRun], today: &str, now: i64) -> Vec<UsageRecord> {
    let mut buckets: BTreeMap<(String, String), Bucket> = BTreeMap::new();
    for run in runs {
        let key = (
            day_of(run.created_at),
            run.user_id.clone().unwrap_or_default(),
        );
        let bucket = buckets.entry(key).or_default();
        let i = kind_index(run.component_type);
        bucket.runs[i] += 1;
        bucket.sessions[i].insert(run.session_id.clone());
        if let Some(output) = run
            .output
            .as_deref()
            .and_then(|o| serde_json::from_str::<Value>(o).ok())
        {
            add_output(bucket, &output);
        }
    }
    buckets
        .into_iter()
        .map(|((date, user_id), b)| {
            let models: Vec<Value> = b
                .models
                .iter()
                .map(|((id, provider), count)| {
                    serde_json::json!({"model_id": id, "model_provider": provider, "count": count})
                })
                .collect();
            UsageRecord {
                completed: i64::from(date.as_str() < today),
                date,
                user_id,
                agent_runs_count: b.runs[0],
                agent_sessions_count: b.sessions[0].len() as i64,
                team_runs_count: b.runs[1],
                team_sessions_count: b.sessions[1].len() as i64,
                workflow_runs_count: b.runs[2],
                workflow_sessions_count: b.sessions[2].len() as i64,
                input_tokens: b.tokens[0],
                output_tokens: b.tokens[1],
                total_tokens: b.tokens[2],
                model_metrics: Value::Array(models).to_string(),
                created_at: now,
                updated_at: now,
            }
        })
        .collect()
}
