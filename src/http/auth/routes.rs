//! Which scope each route needs: the one table a new route is added to.
//!
//! [`ROUTE_SCOPES`] is agno 3.1.10's default scope map (`get_default_scope_mappings`), in its
//! order, plus agentos's own routes. Patterns are agno's: `METHOD /path` where `*` matches
//! anything, slashes included; the first exact key wins, then the first pattern that matches.
//! A route not in the table needs no scope (any authenticated caller), as in agno.
//!
//! [`RESOURCE_ACTIONS`] is agno's per-resource gate (`require_resource_access`): on these routes
//! the caller must also hold the action on the agent, team or workflow in the path, else 403
//! `Access denied to <action> this <kind>`. Patterns here match one path segment per `{}`.
//!
//! Routes being built elsewhere (teams, memories, knowledge, traces, MCP, approvals, metrics)
//! are already in the table with agno's scopes, so their handlers need no auth code: the layer
//! checks the route, and the handlers filter by [`super::Access::scoped_user_id`].

/// agno's default route → required scopes, and agentos's routes (`/hooks/jobs`).
pub(crate) const ROUTE_SCOPES: &[(&str, &[&str])] = &[
    // Config
    ("GET /config", &["config:read"]),
    ("GET /models", &["config:read"]),
    // Agents
    ("GET /agents", &["agents:read"]),
    ("GET /agents/*", &["agents:read"]),
    ("POST /agents", &["agents:write"]),
    ("PATCH /agents/*", &["agents:write"]),
    ("DELETE /agents/*", &["agents:delete"]),
    ("POST /agents/*/runs", &["agents:run"]),
    ("POST /agents/*/runs/*/continue", &["agents:run"]),
    ("POST /agents/*/runs/*/cancel", &["agents:run"]),
    // Teams
    ("GET /teams", &["teams:read"]),
    ("GET /teams/*", &["teams:read"]),
    ("POST /teams", &["teams:write"]),
    ("PATCH /teams/*", &["teams:write"]),
    ("DELETE /teams/*", &["teams:delete"]),
    ("POST /teams/*/runs", &["teams:run"]),
    ("POST /teams/*/runs/*/continue", &["teams:run"]),
    ("POST /teams/*/runs/*/cancel", &["teams:run"]),
    // Workflows
    ("GET /workflows", &["workflows:read"]),
    ("GET /workflows/*", &["workflows:read"]),
    ("POST /workflows", &["workflows:write"]),
    ("PATCH /workflows/*", &["workflows:write"]),
    ("DELETE /workflows/*", &["workflows:delete"]),
    ("POST /workflows/*/runs", &["workflows:run"]),
    ("POST /workflows/*/runs/*/continue", &["workflows:run"]),
    ("POST /workflows/*/runs/*/cancel", &["workflows:run"]),
    // Sessions
    ("GET /sessions", &["sessions:read"]),
    ("GET /sessions/*", &["sessions:read"]),
    ("POST /sessions", &["sessions:write"]),
    ("POST /sessions/*/rename", &["sessions:write"]),
    ("PATCH /sessions/*", &["sessions:write"]),
    ("DELETE /sessions", &["sessions:delete"]),
    ("DELETE /sessions/*", &["sessions:delete"]),
    // Memories
    ("GET /memories", &["memories:read"]),
    ("GET /memories/*", &["memories:read"]),
    ("GET /memory_topics", &["memories:read"]),
    ("GET /user_memory_stats", &["memories:read"]),
    ("POST /memories", &["memories:write"]),
    ("PATCH /memories/*", &["memories:write"]),
    ("DELETE /memories", &["memories:delete"]),
    ("DELETE /memories/*", &["memories:delete"]),
    ("POST /optimize-memories", &["memories:write"]),
    // Learnings
    ("GET /learnings", &["learnings:read"]),
    ("GET /learnings/*", &["learnings:read"]),
    ("POST /learnings", &["learnings:write"]),
    ("PATCH /learnings/*", &["learnings:write"]),
    ("DELETE /learnings/*", &["learnings:delete"]),
    // Knowledge
    ("GET /knowledge/content", &["knowledge:read"]),
    ("GET /knowledge/content/*", &["knowledge:read"]),
    ("GET /knowledge/config", &["knowledge:read"]),
    ("POST /knowledge/content", &["knowledge:write"]),
    ("POST /knowledge/content/*/refresh", &["knowledge:write"]),
    ("PATCH /knowledge/content/*", &["knowledge:write"]),
    ("POST /knowledge/search", &["knowledge:read"]),
    ("DELETE /knowledge/content", &["knowledge:delete"]),
    ("DELETE /knowledge/content/*", &["knowledge:delete"]),
    // Metrics
    ("GET /metrics", &["metrics:read"]),
    ("POST /metrics/refresh", &["metrics:write"]),
    ("GET /metrics/refresh/status", &["metrics:read"]),
    // Evals
    ("GET /eval-runs", &["evals:read"]),
    ("GET /eval-runs/*", &["evals:read"]),
    ("POST /eval-runs", &["evals:write"]),
    ("PATCH /eval-runs/*", &["evals:write"]),
    ("DELETE /eval-runs", &["evals:delete"]),
    // Traces
    ("GET /traces", &["traces:read"]),
    ("GET /traces/*", &["traces:read"]),
    ("GET /trace_session_stats", &["traces:read"]),
    // Service accounts
    ("POST /service-accounts", &["service_accounts:write"]),
    ("GET /service-accounts", &["service_accounts:read"]),
    ("DELETE /service-accounts/*", &["service_accounts:delete"]),
    // Schedules
    ("GET /schedules", &["schedules:read"]),
    ("GET /schedules/*", &["schedules:read"]),
    ("POST /schedules", &["schedules:write"]),
    ("PATCH /schedules/*", &["schedules:write"]),
    ("DELETE /schedules/*", &["schedules:delete"]),
    ("POST /schedules/*/enable", &["schedules:write"]),
    ("POST /schedules/*/disable", &["schedules:write"]),
    ("POST /schedules/*/trigger", &["schedules:write"]),
    ("GET /schedules/*/runs", &["schedules:read"]),
    ("GET /schedules/*/runs/*", &["schedules:read"]),
    // Approvals
    ("GET /approvals", &["approvals:read"]),
    ("GET /approvals/count", &["approvals:read"]),
    ("GET /approvals/*", &["approvals:read"]),
    ("GET /approvals/*/status", &["approvals:read"]),
    ("POST /approvals/*/resolve", &["approvals:write"]),
    ("DELETE /approvals/*", &["approvals:delete"]),
    ("POST /traces/search", &["traces:read"]),
    // Database migrations
    ("POST /databases/all/migrate", &["config:write"]),
    ("POST /databases/*/migrate", &["config:write"]),
    ("POST /knowledge/remote-content", &["knowledge:write"]),
    ("GET /knowledge/*/sources", &["knowledge:read"]),
    ("GET /knowledge/*/sources/*/files", &["knowledge:read"]),
    ("GET /filesystem/*", &["filesystem:read"]),
    ("GET /registry", &["registry:read"]),
    // Components (Studio)
    ("GET /components", &["components:read"]),
    ("GET /components/*", &["components:read"]),
    ("POST /components", &["components:write"]),
    ("PATCH /components/*", &["components:write"]),
    ("DELETE /components/*", &["components:delete"]),
    ("POST /components/*/restore", &["components:delete"]),
    // agentos: the durable hook jobs (run outputs of every user: operators only).
    ("GET /hooks/jobs", &["hooks:read"]),
    ("POST /hooks/jobs/*/retry", &["hooks:write"]),
];

/// agno's per-resource gate: `(pattern, kind, action)`, `{}` one path segment.
pub(crate) const RESOURCE_ACTIONS: &[(&str, &str, &str)] = &[
    ("GET /agents/{}", "agents", "read"),
    ("POST /agents/{}/runs", "agents", "run"),
    ("GET /agents/{}/runs", "agents", "run"),
    ("GET /agents/{}/runs/{}", "agents", "run"),
    ("POST /agents/{}/runs/{}/cancel", "agents", "run"),
    ("POST /agents/{}/runs/{}/continue", "agents", "run"),
    ("POST /agents/{}/runs/{}/resume", "agents", "run"),
    ("GET /agents/{}/runs/{}/checkpoints", "agents", "run"),
    ("GET /agents/{}/runs/{}/checkpoints/{}", "agents", "run"),
    ("POST /agents/{}/sessions/{}/fork", "agents", "run"),
    ("POST /agents/{}/sessions/{}/compact", "agents", "run"),
    ("GET /teams/{}", "teams", "read"),
    ("POST /teams/{}/runs", "teams", "run"),
    ("GET /teams/{}/runs", "teams", "run"),
    ("GET /teams/{}/runs/{}", "teams", "run"),
    ("POST /teams/{}/runs/{}/cancel", "teams", "run"),
    ("POST /teams/{}/runs/{}/continue", "teams", "run"),
    ("POST /teams/{}/runs/{}/resume", "teams", "run"),
    ("GET /teams/{}/runs/{}/checkpoints", "teams", "run"),
    ("GET /teams/{}/runs/{}/checkpoints/{}", "teams", "run"),
    ("POST /teams/{}/sessions/{}/fork", "teams", "run"),
    ("GET /workflows/{}", "workflows", "read"),
    ("POST /workflows/{}/runs", "workflows", "run"),
    ("GET /workflows/{}/runs", "workflows", "run"),
    ("GET /workflows/{}/runs/{}", "workflows", "run"),
    ("POST /workflows/{}/runs/{}/cancel", "workflows", "run"),
    ("POST /workflows/{}/runs/{}/continue", "workflows", "run"),
    ("POST /workflows/{}/runs/{}/resume", "workflows", "run"),
];

/// agno's `fnmatch` for these patterns: `*` matches any run of characters, `/` included.
fn glob(pattern: &str, text: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut text) = text.strip_prefix(head) else {
        return false;
    };
    let mut parts = rest.split('*').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return text.len() >= part.len() && text.ends_with(part);
        }
        match text.find(part) {
            Some(at) => text = &text[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The scopes `method path` requires (empty: none), as agno's `get_required_scopes_for_route`.
pub(crate) fn required_scopes(method: &str, path: &str) -> &'static [&'static str] {
    let matches_key = |key: &str| {
        key.split_once(' ')
            .is_some_and(|(m, p)| m == method && p == path)
    };
    if let Some((_, scopes)) = ROUTE_SCOPES.iter().find(|(key, _)| matches_key(key)) {
        return scopes;
    }
    ROUTE_SCOPES
        .iter()
        .find(|(key, _)| {
            key.split_once(' ')
                .is_some_and(|(m, p)| m == method && glob(p, path))
        })
        .map_or(&[], |(_, scopes)| scopes)
}

/// `(kind, id)` of a path under `/agents`, `/teams` or `/workflows` (agno's
/// `get_resource_context_from_path`).
pub(crate) fn resource_of(path: &str) -> (Option<&'static str>, Option<&str>) {
    let path = path.strip_prefix("/a2a").unwrap_or(path);
    for kind in ["agents", "teams", "workflows"] {
        let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(kind)) else {
            continue;
        };
        if rest.is_empty() {
            return (Some(kind), None);
        }
        if let Some(rest) = rest.strip_prefix('/') {
            let id = rest.split('/').next().filter(|id| !id.is_empty());
            return (Some(kind), id);
        }
    }
    (None, None)
}

/// The per-resource action `method path` requires: `(kind, id, action)`.
pub(crate) fn resource_action<'p>(
    method: &str,
    path: &'p str,
) -> Option<(&'static str, &'p str, &'static str)> {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    RESOURCE_ACTIONS.iter().find_map(|(key, kind, action)| {
        let (m, pattern) = key.split_once(' ')?;
        let wanted: Vec<&str> = pattern.split('/').skip(1).collect();
        let fits = m == method
            && wanted.len() == segments.len()
            && wanted
                .iter()
                .zip(&segments)
                .all(|(w, s)| *w == "{}" && !s.is_empty() || w == s);
        fits.then(|| (*kind, segments[1], *action))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_spans_slashes_as_in_fnmatch() {
        assert_eq!(required_scopes("GET", "/agents"), ["agents:read"]);
        assert_eq!(required_scopes("GET", "/agents/a/runs/r"), ["agents:read"]);
        assert_eq!(required_scopes("POST", "/agents/a/runs"), ["agents:run"]);
        assert_eq!(
            required_scopes("POST", "/agents/a/runs/r/cancel"),
            ["agents:run"]
        );
        assert!(required_scopes("POST", "/agents/a/runs/r/resume").is_empty());
        assert_eq!(
            required_scopes("DELETE", "/sessions/s"),
            ["sessions:delete"]
        );
        assert_eq!(
            required_scopes("GET", "/sessions/s/runs/r"),
            ["sessions:read"]
        );
        assert!(required_scopes("GET", "/health").is_empty());
        assert_eq!(
            required_scopes("GET", "/knowledge/content/x"),
            ["knowledge:read"]
        );
    }

    #[test]
    fn the_resource_in_the_path() {
        assert_eq!(resource_of("/agents"), (Some("agents"), None));
        assert_eq!(resource_of("/agents/x/runs"), (Some("agents"), Some("x")));
        assert_eq!(resource_of("/agentsx"), (None, None));
        assert_eq!(resource_of("/knowledge/agents"), (None, None));
        assert_eq!(
            resource_action("GET", "/agents/x/runs/r"),
            Some(("agents", "x", "run"))
        );
        assert_eq!(
            resource_action("GET", "/agents/x"),
            Some(("agents", "x", "read"))
        );
        assert_eq!(resource_action("GET", "/agents"), None);
        assert_eq!(resource_action("DELETE", "/agents/x"), None);
    }
}
