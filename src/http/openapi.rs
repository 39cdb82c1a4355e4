//! The OpenAPI 3.1 document served at `/openapi.json`, built in one place as JSON (the handlers
//! stay free of annotations). Every route of the API is listed with its parameters, form
//! fields and main response shapes. When you add a route, add it here too:
//! `tests/api/openapi.rs` checks that every routed path and method is documented, and that
//! every documented operation is routed.

use serde_json::{Map, Value, json};

/// The order of the sections on the docs page.
const TAGS: [&str; 6] = ["Core", "Agents", "Teams", "Workflows", "Sessions", "Hooks"];

/// The whole document.
pub(crate) fn document() -> Value {
    let mut paths = Map::new();
    for (path, method, operation) in operations() {
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "agentos",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "agno AgentOS's HTTP protocol, served by agentos. When `OS_SECURITY_KEY` \
                (or `AgentOs::security_key`) is set, every operation except `/`, `/health`, `/info` \
                and the docs needs `Authorization: Bearer <key>`; otherwise none does.",
        },
        "tags": TAGS.map(|name| json!({"name": name})),
        "paths": paths,
        "components": {
            "securitySchemes": {"HTTPBearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Unauthorized": unauthorized_response()},
            "schemas": schemas(),
        },
        "security": [{"HTTPBearer": []}],
    })
}

fn operations() -> Vec<(String, &'static str, Value)> {
    let mut ops = Vec::new();
    let mut add =
        |path: &str, method: &'static str, op: Value| ops.push((path.to_owned(), method, op));

    // Core
    add(
        "/",
        "get",
        open(op(
            "Core",
            "API home: name, OS id and version",
            vec![],
            None,
            ok(schema("Home")),
        )),
    );
    add(
        "/health",
        "get",
        open(op(
            "Core",
            "Health check",
            vec![],
            None,
            ok(schema("Health")),
        )),
    );
    add(
        "/info",
        "get",
        open(op(
            "Core",
            "Lightweight OS metadata (no key needed)",
            vec![],
            None,
            ok(schema("Info")),
        )),
    );
    add(
        "/config",
        "get",
        op(
            "Core",
            "OS configuration: agents, teams, workflows, databases",
            vec![],
            None,
            ok(schema("Config")),
        ),
    );
    add(
        "/models",
        "get",
        op(
            "Core",
            "The models used by the agents",
            vec![],
            None,
            ok(array(schema("Model"))),
        ),
    );

    // Agents
    let agent = || path_param("agent_id", "The agent's id");
    let run = || path_param("run_id", "The run's id");
    add(
        "/agents",
        "get",
        op(
            "Agents",
            "List the agents",
            vec![],
            None,
            ok(array(schema("Agent"))),
        ),
    );
    add(
        "/agents/{agent_id}",
        "get",
        op(
            "Agents",
            "Get an agent",
            vec![agent()],
            None,
            ok_or_404(schema("Agent")),
        ),
    );
    add(
        "/agents/{agent_id}/runs",
        "post",
        op(
            "Agents",
            "Run an agent: JSON (`stream=false`), SSE (`stream=true`), or 202 (`background=true`)",
            vec![agent()],
            Some(form(agent_run_fields(), &["message"])),
            run_responses(schema("RunOutput")),
        ),
    );
    add(
        "/agents/{agent_id}/runs",
        "get",
        op(
            "Agents",
            "List an agent's runs in a session",
            vec![
                agent(),
                query("session_id", "string", "The session", true),
                status_query(),
            ],
            None,
            ok_or_404(array(schema("RunSchema"))),
        ),
    );
    add(
        "/agents/{agent_id}/runs/{run_id}",
        "get",
        op(
            "Agents",
            "Get (poll) an agent run",
            vec![
                agent(),
                run(),
                query("session_id", "string", "The run's session", true),
            ],
            None,
            ok_or_404(schema("RunOutput")),
        ),
    );
    add(
        "/agents/{agent_id}/runs/{run_id}/cancel",
        "post",
        op(
            "Agents",
            "Cancel an agent run (200 `{}` even for an unknown run)",
            vec![
                agent(),
                run(),
                query("session_id", "string", "The run's session", false),
            ],
            None,
            ok_or_404(json!({"type": "object"})),
        ),
    );
    add(
        "/agents/{agent_id}/runs/{run_id}/resume",
        "post",
        op(
            "Agents",
            "Resume an agent run's SSE stream after `last_event_index`",
            vec![agent(), run()],
            Some(form(resume_fields(), &[])),
            sse_or_404(),
        ),
    );

    // Teams
    let team = || path_param("team_id", "The team's id");
    add(
        "/teams",
        "get",
        op(
            "Teams",
            "List the teams (none yet: `[]`)",
            vec![],
            None,
            ok(array(json!({"type": "object"}))),
        ),
    );
    add(
        "/teams/{team_id}",
        "get",
        op(
            "Teams",
            "Get a team (404 `Team not found`)",
            vec![team()],
            None,
            ok_or_404(json!({"type": "object"})),
        ),
    );

    // Workflows
    let wf = || path_param("workflow_id", "The workflow's id");
    add(
        "/workflows",
        "get",
        op(
            "Workflows",
            "List the workflows",
            vec![],
            None,
            ok(array(schema("WorkflowSummary"))),
        ),
    );
    add(
        "/workflows/{workflow_id}",
        "get",
        op(
            "Workflows",
            "Get a workflow with its steps",
            vec![wf()],
            None,
            ok_or_404(schema("Workflow")),
        ),
    );
    let mut wf_run = op(
        "Workflows",
        "Run a workflow: JSON (`stream=false`), SSE (`stream=true`), or 202 (`background=true`)",
        vec![
            wf(),
            header(
                "Idempotency-Key",
                "Retrying with the same key returns the same run (agentos extension)",
            ),
        ],
        Some(form(workflow_run_fields(), &["message"])),
        run_responses(schema("WorkflowRunOutput")),
    );
    wf_run["responses"]["409"] = error("The session belongs to another workflow, agent or team");
    add("/workflows/{workflow_id}/runs", "post", wf_run);
    add(
        "/workflows/{workflow_id}/runs",
        "get",
        op(
            "Workflows",
            "List a workflow's runs in a session",
            vec![
                wf(),
                query("session_id", "string", "The session", true),
                status_query(),
            ],
            None,
            ok_or_404(array(schema("WorkflowRunSchema"))),
        ),
    );
    add(
        "/workflows/{workflow_id}/runs/{run_id}",
        "get",
        op(
            "Workflows",
            "Get (poll) a workflow run",
            vec![
                wf(),
                run(),
                query("session_id", "string", "The run's session", true),
            ],
            None,
            ok_or_404(schema("WorkflowRunOutput")),
        ),
    );
    add(
        "/workflows/{workflow_id}/runs/{run_id}/cancel",
        "post",
        op(
            "Workflows",
            "Cancel a workflow run (200 `{}` even for an unknown run)",
            vec![
                wf(),
                run(),
                query("session_id", "string", "The run's session", false),
            ],
            None,
            ok_or_404(json!({"type": "object"})),
        ),
    );
    add(
        "/workflows/{workflow_id}/runs/{run_id}/resume",
        "post",
        op(
            "Workflows",
            "Resume a workflow run's SSE stream after `last_event_index`",
            vec![wf(), run()],
            Some(form(resume_fields(), &[])),
            sse_or_404(),
        ),
    );

    // Sessions
    let sid = || path_param("session_id", "The session's id");
    add(
        "/sessions",
        "get",
        op(
            "Sessions",
            "List sessions, newest first, paged",
            session_list_params(),
            None,
            ok(schema("SessionList")),
        ),
    );
    add("/sessions", "post", {
        let mut o = op(
            "Sessions",
            "Create an empty session (201); its first run can then name it with `session_id`",
            vec![
                query_enum(
                    "type",
                    &["agent", "team", "workflow"],
                    "The session type (default `agent`)",
                ),
                query(
                    "db_id",
                    "string",
                    "Accepted for agno's clients; there is one database",
                    false,
                ),
            ],
            Some(json_body(schema("CreateSessionRequest"))),
            json!({"201": {"description": "Created",
                           "content": {"application/json": {"schema": schema("SessionDetail")}}}}),
        );
        o["requestBody"]["required"] = json!(false);
        o["responses"]["409"] = error("A session with this `session_id` exists");
        o["responses"]["422"] = validation_error("A field of the wrong type, or a bad `type`");
        o
    });
    add(
        "/sessions",
        "delete",
        op(
            "Sessions",
            "Delete several sessions (204); 400 if the two lists differ in length",
            vec![],
            Some(json_body(schema("DeleteSessionsRequest"))),
            no_content(),
        ),
    );
    add(
        "/sessions/{session_id}",
        "get",
        op(
            "Sessions",
            "Get a session",
            vec![
                sid(),
                type_query(),
                query(
                    "user_id",
                    "string",
                    "Only if it belongs to this user",
                    false,
                ),
            ],
            None,
            ok_or_404(schema("SessionDetail")),
        ),
    );
    add(
        "/sessions/{session_id}",
        "delete",
        op(
            "Sessions",
            "Delete a session (204)",
            vec![sid(), type_query()],
            None,
            no_content(),
        ),
    );
    add(
        "/sessions/{session_id}",
        "patch",
        op(
            "Sessions",
            "Update a session's name, state, metadata or summary",
            vec![sid(), type_query()],
            Some(json_body(schema("UpdateSessionRequest"))),
            ok_or_404(schema("SessionDetail")),
        ),
    );
    add(
        "/sessions/{session_id}/rename",
        "post",
        op(
            "Sessions",
            "Rename a session",
            vec![sid(), type_query()],
            Some(json_body(schema("RenameSessionRequest"))),
            ok_or_404(schema("SessionDetail")),
        ),
    );
    add(
        "/sessions/{session_id}/runs",
        "get",
        op(
            "Sessions",
            "The runs of a session, oldest first",
            session_runs_params(sid()),
            None,
            ok_or_404(array(
                json!({"oneOf": [schema("RunSchema"), schema("WorkflowRunSchema")]}),
            )),
        ),
    );
    add(
        "/sessions/{session_id}/run-previews",
        "get",
        op(
            "Sessions",
            "Previews of a session's runs, oldest first: ids, status, time, and the first \
             280 characters of input and content",
            session_runs_params(sid()),
            None,
            ok_or_404(array(schema("RunPreview"))),
        ),
    );
    add(
        "/sessions/{session_id}/runs/{run_id}",
        "get",
        op(
            "Sessions",
            "One run of a session",
            vec![sid(), run(), type_query()],
            None,
            ok_or_404(json!({"oneOf": [schema("RunSchema"), schema("WorkflowRunSchema")]})),
        ),
    );

    // Hook jobs (agentos extension)
    add(
        "/hooks/jobs",
        "get",
        op(
            "Hooks",
            "Background hook jobs, oldest first, paged (agentos extension)",
            vec![
                query_enum(
                    "status",
                    &["pending", "running", "done", "failed", "dead"],
                    "Only jobs in this status",
                ),
                query("run_id", "string", "Only this run's jobs", false),
                query("hook", "string", "Only this hook's jobs", false),
                query("page", "integer", "Page, from 1 (default 1)", false),
                query(
                    "limit",
                    "integer",
                    "Jobs per page (default 20, at most 1000)",
                    false,
                ),
                query(
                    "offset",
                    "integer",
                    "Jobs to skip (instead of `page`)",
                    false,
                ),
            ],
            None,
            ok(schema("HookJobList")),
        ),
    );
    add("/hooks/jobs/{job_id}/retry", "post", {
        let mut o = op(
            "Hooks",
            "Put a failed or dead hook job back in the queue (agentos extension)",
            vec![path_param("job_id", "The job's id")],
            None,
            ok_or_404(schema("HookJob")),
        );
        o["responses"]["409"] = error("The job is not `failed` or `dead`");
        o
    });
    ops
}

// ---- building blocks ----

fn op(
    tag: &str,
    summary: &str,
    parameters: Vec<Value>,
    body: Option<Value>,
    mut responses: Value,
) -> Value {
    responses["401"] = json!({"$ref": "#/components/responses/Unauthorized"});
    let mut o = json!({"tags": [tag], "summary": summary, "responses": responses});
    if !parameters.is_empty() {
        o["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = body {
        o["requestBody"] = body;
    }
    o
}

/// An operation that never needs the key.
fn open(mut o: Value) -> Value {
    o["security"] = json!([]);
    if let Some(r) = o["responses"].as_object_mut() {
        r.remove("401");
    }
    o
}

fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn query(name: &str, ty: &str, description: &str, required: bool) -> Value {
    json!({"name": name, "in": "query", "required": required, "description": description, "schema": {"type": ty}})
}

fn query_enum(name: &str, values: &[&str], description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description,
           "schema": {"type": "string", "enum": values}})
}

fn header(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "header", "required": false, "description": description,
           "schema": {"type": "string", "maxLength": 255}})
}

fn status_query() -> Value {
    query_enum(
        "status",
        &[
            "PENDING",
            "RUNNING",
            "COMPLETED",
            "PAUSED",
            "CANCELLED",
            "ERROR",
        ],
        "Only runs in this status",
    )
}

fn type_query() -> Value {
    query_enum(
        "type",
        &["agent", "team", "workflow"],
        "The session type (found out if omitted)",
    )
}

/// The filters of a session's run list (`/runs` and `/run-previews`).
fn session_runs_params(session: Value) -> Vec<Value> {
    let mut status = status_query();
    status["description"] = json!("Only runs in one of these statuses (repeatable, any case)");
    status["schema"] = array(status["schema"].clone());
    vec![
        session,
        type_query(),
        query(
            "user_id",
            "string",
            "Only if the session belongs to this user",
            false,
        ),
        query(
            "created_after",
            "integer",
            "Only runs created at or after this time (unix seconds)",
            false,
        ),
        query(
            "created_before",
            "integer",
            "Only runs created at or before this time (unix seconds)",
            false,
        ),
        status,
    ]
}

fn session_list_params() -> Vec<Value> {
    vec![
        type_query(),
        query(
            "component_id",
            "string",
            "Only sessions of this agent, team or workflow",
            false,
        ),
        query("user_id", "string", "Only this user's sessions", false),
        query(
            "session_name",
            "string",
            "Only sessions whose name contains this",
            false,
        ),
        query("page", "integer", "Page, from 1 (default 1)", false),
        query("limit", "integer", "Sessions per page (default 20)", false),
        query_enum(
            "sort_by",
            &["created_at", "updated_at"],
            "Sort key (default `created_at`)",
        ),
        query_enum(
            "sort_order",
            &["asc", "desc"],
            "Sort order (default `desc`)",
        ),
        query(
            "db_id",
            "string",
            "Accepted for agno's clients; there is one database",
            false,
        ),
    ]
}

/// A form body, multipart or URL-encoded (agno's `Form(...)`).
fn form(properties: Value, required: &[&str]) -> Value {
    let schema = json!({"type": "object", "properties": properties, "required": required,
                        "additionalProperties": {"type": "string"}});
    json!({"required": !required.is_empty(), "content": {
        "multipart/form-data": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": schema},
    }})
}

fn json_body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

fn field(ty: &str, description: &str) -> Value {
    json!({"type": ty, "description": description})
}

fn common_run_fields() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("message".into(), field("string", "The input"));
    m.insert(
        "stream".into(),
        json!({"type": "boolean", "default": true, "description": "SSE when true"}),
    );
    m.insert(
        "session_id".into(),
        field("string", "The session (a new one if omitted or empty)"),
    );
    m.insert("user_id".into(), field("string", "The user"));
    m.insert(
        "background".into(),
        json!({"type": "boolean", "default": false,
        "description": "With stream=false: answer 202 at once and run in the background"}),
    );
    m
}

fn agent_run_fields() -> Value {
    let mut m = common_run_fields();
    m.insert(
        "files".into(),
        json!({"type": "array", "items": {"type": "string", "format": "binary"},
        "description": "Uploaded files (multipart only)"}),
    );
    Value::Object(m)
}

fn workflow_run_fields() -> Value {
    let mut m = common_run_fields();
    for key in ["session_state", "dependencies", "metadata"] {
        m.insert(key.into(), field("string", "A JSON object"));
    }
    m.insert(
        "additional_data".into(),
        field(
            "string",
            "A JSON object, given to every step as `additional_data`",
        ),
    );
    Value::Object(m)
}

fn resume_fields() -> Value {
    json!({
        "last_event_index": field("integer", "Index of the last event received; later ones are replayed"),
        "session_id": field("string", "The run's session (needed once the run left memory)"),
    })
}

fn ok(schema: Value) -> Value {
    json!({"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}})
}

fn ok_or_404(schema: Value) -> Value {
    let mut r = ok(schema);
    r["404"] = error("Not found");
    r
}

fn no_content() -> Value {
    json!({"204": {"description": "Deleted"}, "400": error("Bad request"), "404": error("Not found")})
}

fn sse() -> Value {
    json!({"schema": {"type": "string", "description": "`event: <Name>` / `data: <JSON>` blocks"}})
}

fn sse_or_404() -> Value {
    json!({"200": {"description": "The events as Server-Sent Events", "content": {"text/event-stream": sse()}},
           "404": error("Not found")})
}

fn run_responses(output: Value) -> Value {
    json!({
        "200": {"description": "The finished run (`stream=false`) or its events (`stream=true`)",
                "content": {"application/json": {"schema": output}, "text/event-stream": sse()}},
        "202": {"description": "Accepted: a background run (`background=true`), or a run still \
                                executing for a repeated `Idempotency-Key`",
                "content": {"application/json": {"schema": schema("RunAccepted")}}},
        "400": error("Bad request (malformed body, rejected input, ...)"),
        "404": error("Unknown id"),
        "413": error("Body over the limit"),
        "422": {"description": "A missing `message` or a bad boolean",
                "content": {"application/json": {"schema": schema("ValidationError")}}},
    })
}

fn validation_error(description: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": schema("ValidationError")}}})
}

fn error(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema("Error")}}})
}

// ---- schemas: the main response shapes, loose where agno's are large ----

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

fn schemas() -> Value {
    let s = |t: &str| json!({"type": t});
    let opt_s = || json!({"type": ["string", "null"]});
    let obj = || json!({"type": "object"});
    let status = json!({"type": "string", "enum": ["PENDING", "RUNNING", "COMPLETED", "PAUSED", "CANCELLED", "ERROR"]});
    let model = object(
        json!({"name": s("string"), "model": s("string"), "provider": s("string")}),
        &[],
    );
    let meta = object(
        json!({"page": s("integer"), "limit": s("integer"), "total_pages": s("integer"), "total_count": s("integer")}),
        &["page", "limit", "total_pages", "total_count"],
    );
    json!({
        "Error": object(json!({"detail": s("string")}), &["detail"]),
        "ValidationError": object(json!({"detail": array(object(
            json!({"type": s("string"), "loc": array(s("string")), "msg": s("string"), "input": {}}), &["type", "loc", "msg"]))}), &["detail"]),
        "Home": object(json!({"name": s("string"), "id": s("string"), "version": s("string")}), &["name", "id", "version"]),
        "Health": object(json!({"status": s("string"), "instantiated_at": s("string")}), &["status"]),
        "Info": object(json!({
            "os_id": s("string"), "name": opt_s(), "os_version": s("string"),
            "agno_version": {"type": "string", "description": "The agno release whose protocol is spoken"},
            "agent_count": s("integer"), "team_count": s("integer"), "workflow_count": s("integer"),
            "mcp": object(json!({"enabled": s("boolean"), "path": opt_s(), "oauth": {}, "tool_run_endpoint": s("boolean")}), &[]),
            "auth_mode": {"type": "string", "enum": ["none", "security_key", "jwt"]},
            "user_isolation": s("boolean"),
        }), &["os_id", "os_version", "agno_version", "agent_count", "team_count", "workflow_count", "auth_mode"]),
        "Config": object(json!({
            "os_id": s("string"), "available_models": array(s("string")), "os_database": s("string"),
            "databases": array(s("string")), "session": obj(), "agents": array(obj()), "teams": array(obj()),
            "workflows": array(obj()), "interfaces": array(obj()),
        }), &["os_id"]),
        "Model": object(json!({"id": s("string"), "provider": s("string")}), &["id", "provider"]),
        "Agent": object(json!({"id": s("string"), "name": s("string"), "db_id": s("string"),
                               "description": s("string"), "model": model.clone()}), &["id"]),
        "WorkflowSummary": object(json!({"id": s("string"), "name": s("string"), "description": s("string"),
                                         "db_id": s("string")}), &["id"]),
        "Workflow": object(json!({"id": s("string"), "name": s("string"), "description": s("string"),
                                  "db_id": s("string"), "steps": array(obj())}), &["id"]),
        "RunAccepted": object(json!({"run_id": s("string"), "session_id": s("string"), "status": status.clone()}),
                              &["run_id", "session_id", "status"]),
        "RunOutput": object(json!({
            "run_id": s("string"), "agent_id": s("string"), "agent_name": s("string"), "session_id": s("string"),
            "user_id": s("string"), "content": {}, "content_type": s("string"), "model": s("string"),
            "model_provider": s("string"), "status": status.clone(), "created_at": s("integer"),
            "metrics": obj(), "messages": array(obj()), "tools": array(obj()), "input": obj(), "error": s("string"),
        }), &["run_id", "status"]),
        "WorkflowRunOutput": object(json!({
            "input": {}, "content": {}, "content_type": s("string"), "workflow_id": s("string"),
            "workflow_name": s("string"), "run_id": s("string"), "session_id": s("string"), "user_id": s("string"),
            "created_at": s("integer"), "status": status.clone(), "step_results": array(obj()),
            "step_executor_runs": array(schema("RunOutput")), "metrics": obj(), "error": s("string"),
        }), &["run_id", "status"]),
        "RunSchema": object(json!({
            "run_id": s("string"), "parent_run_id": opt_s(), "agent_id": s("string"), "user_id": opt_s(),
            "status": status.clone(), "run_input": opt_s(), "content": {}, "metrics": obj(),
            "messages": array(obj()), "tools": array(obj()), "created_at": s("string"),
        }), &["run_id"]),
        "WorkflowRunSchema": object(json!({
            "run_id": s("string"), "run_input": opt_s(), "workflow_id": s("string"), "user_id": s("string"),
            "content": {}, "content_type": s("string"), "status": status, "step_results": array(obj()),
            "step_executor_runs": array(obj()), "metrics": obj(), "created_at": s("string"),
        }), &["run_id"]),
        "SessionSchema": object(json!({
            "session_id": s("string"), "session_name": s("string"), "session_state": obj(),
            "session_type": {"type": "string", "enum": ["agent", "team", "workflow"]}, "user_id": s("string"),
            "agent_id": s("string"), "team_id": s("string"), "workflow_id": s("string"), "metadata": obj(),
            "created_at": s("string"), "updated_at": s("string"),
        }), &["session_id"]),
        "SessionList": object(json!({"data": array(schema("SessionSchema")), "meta": meta.clone()}), &["data", "meta"]),
        "SessionDetail": object(json!({
            "session_id": s("string"), "session_name": s("string"), "user_id": s("string"),
            "session_state": obj(), "metadata": obj(), "created_at": s("string"), "updated_at": s("string"),
        }), &["session_id"]),
        "DeleteSessionsRequest": object(json!({
            "session_ids": array(s("string")),
            "session_types": array(json!({"type": "string", "enum": ["agent", "team", "workflow"]})),
        }), &["session_ids", "session_types"]),
        "CreateSessionRequest": object(json!({
            "session_id": {"type": "string", "description": "A new one if omitted"},
            "session_name": s("string"), "session_state": obj(), "metadata": obj(), "user_id": s("string"),
            "agent_id": {"type": "string", "description": "For `type=agent`"},
            "team_id": {"type": "string", "description": "For `type=team`"},
            "workflow_id": {"type": "string", "description": "For `type=workflow`"},
        }), &[]),
        "RunPreview": object(json!({
            "run_id": s("string"), "parent_run_id": s("string"), "agent_id": s("string"),
            "team_id": s("string"), "workflow_id": s("string"), "user_id": s("string"), "status": status.clone(),
            "run_input": {"type": "string", "maxLength": 280}, "content_preview": {"type": "string", "maxLength": 280},
            "created_at": s("string"),
        }), &["run_id"]),
        "RenameSessionRequest": object(json!({"session_name": s("string")}), &["session_name"]),
        "UpdateSessionRequest": object(json!({"session_name": s("string"), "session_state": obj(),
                                              "metadata": obj(), "summary": obj()}), &[]),
        "HookJob": object(json!({
            "job_id": s("string"), "run_id": s("string"), "hook_name": s("string"),
            "status": {"type": "string", "enum": ["pending", "running", "done", "failed", "dead"]},
            "attempts": s("integer"), "max_attempts": s("integer"),
            "outcome": {"type": ["string", "null"], "enum": ["ok", "error", "panic", "timeout", null]},
            "last_error": opt_s(), "attempt_errors": array(obj()), "next_attempt_at": opt_s(),
            "created_at": s("string"), "updated_at": s("string"),
        }), &["job_id", "run_id", "hook_name", "status"]),
        "HookJobList": object(json!({"data": array(schema("HookJob")), "meta": meta}), &["data", "meta"]),
    })
}

/// The shared 401 answer, referenced by every operation that needs the key.
fn unauthorized_response() -> Value {
    json!({"description": "`Authorization header required` or `Invalid authentication token`",
           "content": {"application/json": {"schema": schema("Error")}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for name in text.split("\"#/components/").skip(1) {
            let name = &name[..name.find('"').unwrap()];
            let mut parts = name.split('/');
            let (kind, key) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(
                doc["components"][kind][key].is_object(),
                "dangling $ref {name}"
            );
        }
    }
}
