//! agno's scope strings and the decisions made from them (agno 3.1.10 `os/scopes.py`):
//! `resource:action` (all of a kind), `resource:<id>:action` (one, or `*` for any), and the
//! admin scope (`agent_os:admin` unless configured otherwise). `system:*` is read as `config:*`.

use std::collections::BTreeSet;

/// agno's default admin scope: every permission.
pub(crate) const DEFAULT_ADMIN_SCOPE: &str = "agent_os:admin";

/// A scope string, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    /// The admin scope.
    Admin,
    /// `resource:action`.
    Global { resource: &'a str, action: &'a str },
    /// `resource:<id>:action` (`id` may be `*`).
    PerResource {
        resource: &'a str,
        id: &'a str,
        action: &'a str,
    },
    /// Anything else: matches nothing.
    Unknown,
}

/// `system` is the legacy name of `config`.
fn alias(resource: &str) -> &str {
    if resource == "system" {
        "config"
    } else {
        resource
    }
}

/// Parses `scope` as agno's `parse_scope` does.
pub(crate) fn parse<'a>(scope: &'a str, admin_scope: &str) -> Scope<'a> {
    if scope == admin_scope {
        return Scope::Admin;
    }
    let parts: Vec<&str> = scope.split(':').collect();
    match parts[..] {
        [resource, action] => Scope::Global {
            resource: alias(resource),
            action,
        },
        [resource, id, action] => Scope::PerResource {
            resource: alias(resource),
            id,
            action,
        },
        _ => Scope::Unknown,
    }
}

impl Scope<'_> {
    fn resource(&self) -> Option<&str> {
        match self {
            Scope::Global { resource, .. } | Scope::PerResource { resource, .. } => Some(resource),
            _ => None,
        }
    }

    fn action(&self) -> Option<&str> {
        match self {
            Scope::Global { action, .. } | Scope::PerResource { action, .. } => Some(action),
            _ => None,
        }
    }

    /// The resource id of a per-resource scope (`*` included).
    fn id(&self) -> Option<&str> {
        match self {
            Scope::PerResource { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// agno's `matches_scope`: whether a held scope satisfies a required one (for `resource_id`).
fn matches(held: &Scope, required: &Scope, resource_id: Option<&str>) -> bool {
    if *held == Scope::Admin {
        return true;
    }
    if matches!(held, Scope::Unknown) || matches!(required, Scope::Unknown) {
        return false;
    }
    if held.resource() != required.resource() || held.action() != required.action() {
        return false;
    }
    match (required.id(), held.id()) {
        (Some(_), None) | (Some(_), Some("*")) => true,
        (Some(_), Some(id)) => Some(id) == resource_id,
        (None, None) | (None, Some("*")) => true,
        (None, Some(_)) => false,
    }
}

/// agno's `has_required_scopes`: every required scope is held. A required `resource:action`
/// of the path's own kind (`resource_type`) is checked for the path's `resource_id`.
pub(crate) fn has_required(
    held: &[String],
    required: &[&str],
    resource_type: Option<&str>,
    resource_id: Option<&str>,
    admin_scope: &str,
) -> bool {
    if required.is_empty() {
        return true;
    }
    let held: Vec<Scope> = held.iter().map(|s| parse(s, admin_scope)).collect();
    if held.contains(&Scope::Admin) {
        return true;
    }
    required.iter().all(|required| {
        let parts: Vec<&str> = required.split(':').collect();
        let required = match (parts.as_slice(), resource_type, resource_id) {
            (&[resource, action], Some(kind), Some(id)) if alias(resource) == kind => {
                Scope::PerResource {
                    resource: kind,
                    id,
                    action,
                }
            }
            _ => parse(required, admin_scope),
        };
        held.iter().any(|h| matches(h, &required, resource_id))
    })
}

/// The ids of `resource_type` the scopes give access to for `action` (agno's
/// `get_accessible_resource_ids`; `None` reads or runs): `{"*"}` for all.
pub(crate) fn accessible_ids(
    held: &[String],
    resource_type: &str,
    action: Option<&str>,
    admin_scope: &str,
) -> BTreeSet<String> {
    let allowed = |a: Option<&str>| match action {
        Some(action) => a == Some(action),
        None => matches!(a, Some("read" | "run")),
    };
    let parsed: Vec<Scope> = held.iter().map(|s| parse(s, admin_scope)).collect();
    let all = parsed.iter().any(|s| {
        *s == Scope::Admin
            || (s.resource() == Some(resource_type)
                && allowed(s.action())
                && matches!(s.id(), None | Some("*")))
    });
    if all {
        return BTreeSet::from(["*".to_owned()]);
    }
    parsed
        .iter()
        .filter(|s| s.resource() == Some(resource_type) && allowed(s.action()))
        .filter_map(|s| s.id().filter(|id| *id != "*").map(str::to_owned))
        .collect()
}

/// agno's `split_scope`: `(namespace, sub_namespace, permission)` for the wire.
pub(crate) fn split(raw: &str) -> (String, Option<String>, String) {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.len() {
        2 => (alias(parts[0]).to_owned(), None, parts[1].to_owned()),
        n if n >= 3 => (
            alias(parts[0]).to_owned(),
            Some(parts[1..n - 1].join(":")),
            parts[n - 1].to_owned(),
        ),
        _ => (parts[0].to_owned(), None, "unknown".to_owned()),
    }
}

/// agno's 403 detail: `Insufficient permissions`, naming the required scopes when known.
pub(crate) fn insufficient(required: &[&str]) -> String {
    if required.is_empty() {
        "Insufficient permissions".to_owned()
    } else {
        format!(
            "Insufficient permissions. Required scope(s): {}",
            required.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn per_resource_scopes_satisfy_the_route_for_their_id_only() {
        let a = DEFAULT_ADMIN_SCOPE;
        let held = s(&["agents:web:run"]);
        assert!(has_required(
            &held,
            &["agents:run"],
            Some("agents"),
            Some("web"),
            a
        ));
        assert!(!has_required(
            &held,
            &["agents:run"],
            Some("agents"),
            Some("x"),
            a
        ));
        assert!(!has_required(&held, &["agents:run"], None, None, a));
        let held = s(&["agents:*:run"]);
        assert!(has_required(
            &held,
            &["agents:run"],
            Some("agents"),
            Some("x"),
            a
        ));
        assert!(has_required(&held, &["agents:run"], None, None, a));
        let held = s(&["agents:run"]);
        assert!(has_required(
            &held,
            &["agents:run"],
            Some("agents"),
            Some("x"),
            a
        ));
        // A foreign family is checked as written.
        let held = s(&["agents:web:read"]);
        assert!(!has_required(
            &held,
            &["sessions:read"],
            Some("agents"),
            Some("web"),
            a
        ));
    }

    #[test]
    fn admin_and_legacy_names() {
        let a = DEFAULT_ADMIN_SCOPE;
        assert!(has_required(&s(&[a]), &["config:read"], None, None, a));
        assert!(has_required(
            &s(&["system:read"]),
            &["config:read"],
            None,
            None,
            a
        ));
        assert!(!has_required(
            &s(&["admin"]),
            &["config:read"],
            None,
            None,
            a
        ));
        assert!(has_required(
            &s(&["root"]),
            &["config:read"],
            None,
            None,
            "root"
        ));
    }

    #[test]
    fn accessible_ids_collect_per_resource_grants() {
        let a = DEFAULT_ADMIN_SCOPE;
        let held = s(&["agents:one:read", "agents:two:run", "workflows:*:read"]);
        let ids = accessible_ids(&held, "agents", Some("read"), a);
        assert_eq!(ids, BTreeSet::from(["one".to_owned()]));
        let ids = accessible_ids(&held, "agents", None, a);
        assert_eq!(ids.len(), 2);
        let ids = accessible_ids(&held, "workflows", Some("read"), a);
        assert_eq!(ids, BTreeSet::from(["*".to_owned()]));
        assert!(accessible_ids(&held, "teams", Some("read"), a).is_empty());
    }

    #[test]
    fn scopes_split_for_the_wire() {
        assert_eq!(split("agents:read"), ("agents".into(), None, "read".into()));
        assert_eq!(
            split("agents:*:run"),
            ("agents".into(), Some("*".into()), "run".into())
        );
        assert_eq!(split("system:read").0, "config");
    }
}
