//! The traces and usage domains of the `Store` contract (agno's `/traces` and `/metrics`), on
//! both backends.

use crate::backend::TestDb;
use agentos::store::{
    CmpOp, FilterValue, HOOK_JOB_KIND, NewJob, Page, RunRecord, SessionRecord, SpanRecord,
    TraceBatch, TraceField, TraceFilter, TraceRecord, refresh_usage,
};
use agentos::{ComponentKind, RunStatus};
use serde_json::{Value, json};

const SEC: i64 = 1_000_000;

fn span(trace: &str, id: &str, parent: Option<&str>, start: i64, status: &str) -> SpanRecord {
    SpanRecord {
        span_id: id.into(),
        trace_id: trace.into(),
        parent_span_id: parent.map(Into::into),
        name: format!("span {id}"),
        span_kind: "INTERNAL".into(),
        status_code: status.into(),
        status_message: (status == "ERROR").then(|| "it broke".into()),
        start_time: start,
        end_time: start + SEC,
        duration_ms: 1000,
        attributes: json!({"k": id}).to_string(),
        created_at: start,
    }
}

/// The aggregate of `spans`, with the run's context when `run` names it.
fn batch(spans: Vec<SpanRecord>, run: Option<(&str, &str, &str)>) -> TraceBatch {
    let start = spans.iter().map(|s| s.start_time).min().unwrap();
    let end = spans.iter().map(|s| s.end_time).max().unwrap();
    let errors = spans.iter().filter(|s| s.status_code == "ERROR").count() as i64;
    let trace = TraceRecord {
        trace_id: spans[0].trace_id.clone(),
        name: match run {
            Some((_, _, agent)) => format!("invoke_agent {agent}"),
            None => spans[0].name.clone(),
        },
        status: if errors > 0 { "ERROR" } else { "OK" }.into(),
        start_time: start,
        end_time: end,
        duration_ms: (end - start) / 1000,
        total_spans: spans.len() as i64,
        error_count: errors,
        run_id: run.map(|r| r.0.into()),
        session_id: run.map(|r| r.1.into()),
        user_id: run.map(|_| "ada".into()),
        agent_id: run.map(|r| r.2.into()),
        team_id: None,
        workflow_id: None,
        input: run.map(|_| "hello".into()),
        created_at: start,
    };
    TraceBatch { trace, spans }
}

pub async fn traces_merge_their_batches_and_are_found_by_agnos_filters(db: &TestDb) {
    let store = db.open().await;
    let t1 = "0af7651916cd43dd8448eb211c80319c";
    let t2 = "4bf92f3577b34da6a3ce929d0e0e4736";
    let base = 1_800_000_000 * SEC;
    // A job attempt's spans can be written before the run's own batch arrives.
    let early = batch(vec![span(t1, "b1", Some("a1"), base + 5 * SEC, "OK")], None);
    store.write_traces(vec![early.clone()]).await.unwrap();
    let run = batch(
        vec![
            span(t1, "a1", None, base, "OK"),
            span(t1, "a2", Some("a1"), base + SEC, "ERROR"),
        ],
        Some(("run-1", "sess-1", "calc")),
    );
    let other = batch(
        vec![span(t2, "c1", None, base + 100 * SEC, "OK")],
        Some(("run-2", "sess-2", "writer")),
    );
    store.write_traces(vec![run, other]).await.unwrap();
    // The same spans again count once.
    store.write_traces(vec![early]).await.unwrap();

    let t = store.get_trace(Some(t1), None).await.unwrap().unwrap();
    assert_eq!(
        t.name, "invoke_agent calc",
        "the run's batch names the trace"
    );
    assert_eq!((t.total_spans, t.error_count), (3, 1));
    assert_eq!(t.status, "ERROR");
    assert_eq!((t.start_time, t.end_time), (base, base + 6 * SEC));
    assert_eq!(t.duration_ms, 6000);
    assert_eq!(t.run_id.as_deref(), Some("run-1"));
    assert_eq!(t.session_id.as_deref(), Some("sess-1"));
    assert_eq!(t.agent_id.as_deref(), Some("calc"));
    assert_eq!(t.input.as_deref(), Some("hello"));
    let (whole, its_spans) = store.trace_detail(Some(t1), None).await.unwrap().unwrap();
    assert_eq!(whole.total_spans, its_spans.len() as i64, "one snapshot");
    assert!(
        store
            .trace_detail(Some("nope"), None)
            .await
            .unwrap()
            .is_none()
    );
    let by_run = store.get_trace(None, Some("run-2")).await.unwrap().unwrap();
    assert_eq!(by_run.trace_id, t2);
    assert!(store.get_trace(Some("nope"), None).await.unwrap().is_none());

    let spans = store.trace_spans(t1).await.unwrap();
    let ids: Vec<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "b1"], "earliest first");
    assert_eq!(spans[1].status_message.as_deref(), Some("it broke"));
    let attrs: Value = serde_json::from_str(&spans[0].attributes).unwrap();
    assert_eq!(attrs["k"], "a1");
    assert_eq!(store.get_span("b1").await.unwrap().unwrap().trace_id, t1);

    let page = Page { page: 1, limit: 10 };
    let find = |f: TraceFilter| {
        let store = store.clone();
        async move {
            let (rows, total) = store.list_traces(&f, page).await.unwrap();
            let ids: Vec<String> = rows.into_iter().map(|t| t.trace_id).collect();
            (ids, total)
        }
    };
    let text = |s: &str| FilterValue::Text(s.into());
    assert_eq!(
        find(TraceFilter::All).await,
        (vec![t2.into(), t1.into()], 2),
        "latest start first"
    );
    assert_eq!(
        find(TraceFilter::Cmp(
            TraceField::Status,
            CmpOp::Eq,
            text("ERROR")
        ))
        .await
        .0,
        [t1]
    );
    assert_eq!(
        find(TraceFilter::Cmp(
            TraceField::Name,
            CmpOp::Contains,
            text("WRITER")
        ))
        .await
        .0,
        [t2],
        "CONTAINS ignores case"
    );
    assert_eq!(
        find(TraceFilter::Cmp(
            TraceField::Name,
            CmpOp::StartsWith,
            text("invoke_agent c")
        ))
        .await
        .0,
        [t1]
    );
    assert_eq!(
        find(TraceFilter::In(
            TraceField::AgentId,
            vec![text("calc"), text("x")]
        ))
        .await
        .0,
        [t1]
    );
    assert_eq!(
        find(TraceFilter::Not(Box::new(TraceFilter::Cmp(
            TraceField::AgentId,
            CmpOp::Eq,
            text("calc")
        ))))
        .await
        .0,
        [t2]
    );
    assert_eq!(
        find(TraceFilter::Cmp(
            TraceField::StartTime,
            CmpOp::Gte,
            FilterValue::Number(base + 50 * SEC)
        ))
        .await
        .0,
        [t2]
    );
    assert_eq!(
        find(TraceFilter::Or(vec![
            TraceFilter::Cmp(TraceField::DurationMs, CmpOp::Gt, FilterValue::Number(5000)),
            TraceFilter::Cmp(TraceField::RunId, CmpOp::Eq, text("run-2")),
        ]))
        .await
        .1,
        2
    );
    assert_eq!(
        find(TraceFilter::Cmp(
            TraceField::Name,
            CmpOp::Contains,
            text("50%_")
        ))
        .await
        .1,
        0,
        "LIKE's wildcards are matched literally"
    );
    let (rows, total) = store
        .list_traces(&TraceFilter::All, Page { page: 2, limit: 1 })
        .await
        .unwrap();
    assert_eq!((rows[0].trace_id.as_str(), total), (t1, 2));

    let (stats, total) = store
        .trace_session_stats(&TraceFilter::All, page)
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(stats[0].session_id, "sess-2", "latest first");
    assert_eq!(stats[1].total_traces, 1);
    assert_eq!(stats[1].agent_id.as_deref(), Some("calc"));
    let (stats, _) = store
        .trace_session_stats(
            &TraceFilter::Cmp(TraceField::AgentId, CmpOp::Eq, text("writer")),
            page,
        )
        .await
        .unwrap();
    assert_eq!(stats.len(), 1);
}

fn session(id: &str, kind: ComponentKind, user: Option<&str>, at: i64) -> SessionRecord {
    SessionRecord {
        session_id: id.into(),
        session_type: kind,
        component_id: "c".into(),
        user_id: user.map(Into::into),
        session_name: None,
        session_state: "{}".into(),
        created_at: at,
        updated_at: at,
    }
}

async fn finished_run(
    store: &dyn agentos::store::Store,
    id: &str,
    session_id: &str,
    kind: ComponentKind,
    user: Option<&str>,
    output: Value,
) {
    let at = agentos_now();
    let run = RunRecord {
        run_id: id.into(),
        session_id: session_id.into(),
        component_type: kind,
        component_id: "c".into(),
        user_id: user.map(Into::into),
        status: RunStatus::Running,
        input: "hi".into(),
        output: None,
        error: None,
        created_at: at,
        updated_at: at,
    };
    store
        .begin_run(&session(session_id, kind, user, at), &run, None)
        .await
        .unwrap();
    store
        .finish_run(
            id,
            RunStatus::Completed,
            &output.to_string(),
            None,
            Vec::new(),
        )
        .await
        .unwrap();
}

fn agentos_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub async fn usage_is_counted_per_day_and_user_from_the_runs(db: &TestDb) {
    let store = db.open().await;
    assert!(
        refresh_usage(&*store, agentos_now())
            .await
            .unwrap()
            .is_empty()
    );
    let agent_output = json!({"model": "gpt-5.2", "model_provider": "OpenAI",
        "metrics": {"input_tokens": 10, "output_tokens": 4, "total_tokens": 14}});
    finished_run(
        &*store,
        "r1",
        "s1",
        ComponentKind::Agent,
        Some("ada"),
        agent_output.clone(),
    )
    .await;
    finished_run(
        &*store,
        "r2",
        "s1",
        ComponentKind::Agent,
        Some("ada"),
        agent_output,
    )
    .await;
    let workflow_output = json!({"step_executor_runs": [
        {"model": "gpt-5.2", "model_provider": "OpenAI", "metrics": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}},
        {"model": "small", "model_provider": "OpenAI", "metrics": {"input_tokens": 5, "output_tokens": 5, "total_tokens": 10}},
    ]});
    finished_run(
        &*store,
        "r3",
        "s2",
        ComponentKind::Workflow,
        None,
        workflow_output,
    )
    .await;

    let rows = refresh_usage(&*store, agentos_now()).await.unwrap();
    assert_eq!(rows.len(), 2, "one row per user today: {rows:?}");
    let ada = rows.iter().find(|r| r.user_id == "ada").unwrap();
    assert_eq!((ada.agent_runs_count, ada.agent_sessions_count), (2, 1));
    assert_eq!(
        (ada.input_tokens, ada.output_tokens, ada.total_tokens),
        (20, 8, 28)
    );
    let models: Value = serde_json::from_str(&ada.model_metrics).unwrap();
    assert_eq!(
        models,
        json!([{"model_id": "gpt-5.2", "model_provider": "OpenAI", "count": 2}])
    );
    let nobody = rows.iter().find(|r| r.user_id.is_empty()).unwrap();
    assert_eq!(
        (nobody.workflow_runs_count, nobody.workflow_sessions_count),
        (1, 1)
    );
    assert_eq!(nobody.total_tokens, 13);
    assert_eq!(nobody.completed, 0, "today is not over");

    // A second refresh replaces today's rows rather than adding to them.
    refresh_usage(&*store, agentos_now()).await.unwrap();
    let stored = store.usage(None, None, None).await.unwrap();
    assert_eq!(stored.len(), 2);
    let today = agentos::store::day_of(agentos_now());
    assert_eq!(
        store
            .usage(Some(&today), Some(&today), Some("ada"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .usage(Some("2999-01-01"), None, None)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn job_gauges_count_jobs_by_kind_and_state(db: &TestDb) {
    let store = db.open().await;
    let job = |id: &str, kind: &'static str| NewJob {
        job_id: id.into(),
        kind: kind.into(),
        name: "n".into(),
        run_id: None,
        payload: "{}".into(),
        max_attempts: 3,
        lease_owner: "me".into(),
        lease_until: 0,
        claimed: false,
        trace_parent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
    };
    store
        .enqueue_jobs(vec![
            job("j1", HOOK_JOB_KIND),
            job("j2", HOOK_JOB_KIND),
            job("j3", "memory"),
        ])
        .await
        .unwrap();
    let mut gauges = store.job_gauges().await.unwrap();
    gauges.sort_by(|a, b| a.kind.cmp(&b.kind));
    let counts: Vec<(&str, &str, i64)> = gauges
        .iter()
        .map(|g| (g.kind.as_str(), g.status.as_str(), g.count))
        .collect();
    assert_eq!(counts, [("hook", "pending", 2), ("memory", "pending", 1)]);
    // The job keeps the trace context it was made in.
    let claimed = store
        .claim_job("j1", "me", i64::MAX)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        claimed.trace_parent.as_deref(),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
}
