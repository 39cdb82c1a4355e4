//! Tasks mode's task list (agno's `team/task.py`): tasks with their status, assignee,
//! dependencies, result and notes, kept in the session state under `_team_tasks` in agno's
//! shape, and agno's summary of it, which the leader reads.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// agno's session-state key of the task list.
pub(super) const TASK_LIST_KEY: &str = "_team_tasks";

/// One task (agno's `Task.to_dict()`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Task {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "pending")]
    pub status: String,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub created_at: f64,
}

pub(super) fn pending() -> String {
    "pending".to_owned()
}

/// agno's `TaskList.to_dict()`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct TaskList {
    #[serde(default)]
    pub tasks: Vec<Task>,
    #[serde(default)]
    pub goal_complete: bool,
    #[serde(default)]
    pub completion_summary: Option<String>,
}

impl TaskList {
    pub(super) fn get(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    pub(super) fn get_mut(&mut self, id: &str) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|t| t.id == id)
    }

    fn is_blocked(&self, task: &Task) -> bool {
        task.dependencies
            .iter()
            .any(|dep| self.get(dep).is_none_or(|d| d.status != "completed"))
    }

    fn has_failed_dependency(&self, task: &Task) -> bool {
        task.dependencies
            .iter()
            .any(|dep| self.get(dep).is_some_and(|d| d.status == "failed"))
    }

    /// agno's `_update_blocked_statuses`: pending tasks with unfinished dependencies are
    /// blocked, blocked ones whose dependencies completed are pending again, and a task whose
    /// dependency failed fails too.
    pub(super) fn update_blocked(&mut self) {
        for i in 0..self.tasks.len() {
            let task = self.tasks[i].clone();
            let status = match task.status.as_str() {
                "blocked" if self.has_failed_dependency(&task) => Some("failed"),
                "blocked" if !self.is_blocked(&task) => Some("pending"),
                "pending" if self.is_blocked(&task) => Some("blocked"),
                _ => None,
            };
            if let Some(status) = status {
                let t = &mut self.tasks[i];
                if status == "failed" {
                    t.result = Some("Automatically failed: a dependency failed.".to_owned());
                }
                t.status = status.to_owned();
            }
        }
    }

    pub(super) fn all_terminal(&self) -> bool {
        !self.tasks.is_empty()
            && self
                .tasks
                .iter()
                .all(|t| t.status == "completed" || t.status == "failed")
    }

    /// agno's `get_summary_string`.
    pub(super) fn summary(&self) -> String {
        if self.tasks.is_empty() {
            return "No tasks created yet.".to_owned();
        }
        let mut counts: Vec<(String, usize)> = Vec::new();
        for t in &self.tasks {
            match counts.iter_mut().find(|(s, _)| *s == t.status) {
                Some((_, n)) => *n += 1,
                None => counts.push((t.status.clone(), 1)),
            }
        }
        let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        let mut lines = vec![format!(
            "Tasks ({} total: {}):",
            self.tasks.len(),
            parts.join(", ")
        )];
        for t in &self.tasks {
            let assignee = match &t.assignee {
                Some(a) if !a.is_empty() => format!(" (assigned: {a})"),
                _ => " (unassigned)".to_owned(),
            };
            lines.push(format!(
                "  [{}] {} - {}{assignee}",
                t.id,
                t.title,
                t.status.to_uppercase()
            ));
            if !t.dependencies.is_empty() {
                // Python's repr of the list, as agno prints it.
                let deps: Vec<String> = t.dependencies.iter().map(|d| format!("'{d}'")).collect();
                lines.push(format!("      Depends on: [{}]", deps.join(", ")));
            }
            if let Some(result) = &t.result {
                let preview: String = match result.chars().count() > 200 {
                    true => format!("{}...", result.chars().take(200).collect::<String>()),
                    false => result.clone(),
                };
                lines.push(format!("      Result: {preview}"));
            }
            for note in t.notes.iter().rev().take(3).rev() {
                lines.push(format!("      Note: {note}"));
            }
        }
        if self.goal_complete
            && let Some(summary) = &self.completion_summary
        {
            lines.push(format!("\nGoal marked complete: {summary}"));
        }
        lines.join("\n")
    }

    /// agno's `TaskData` of each task, for `TeamTaskStateUpdated`.
    pub(super) fn task_data(&self) -> Vec<Value> {
        self.tasks
            .iter()
            .map(|t| {
                json!({"id": t.id, "title": t.title, "description": t.description,
                       "status": t.status, "assignee": t.assignee,
                       "dependencies": t.dependencies, "result": t.result})
            })
            .collect()
    }
}

/// A task known only by its id.
pub(super) fn placeholder(id: &str) -> Task {
    Task {
        id: id.to_owned(),
        title: String::new(),
        description: String::new(),
        status: pending(),
        assignee: None,
        parent_id: None,
        dependencies: Vec::new(),
        result: None,
        notes: Vec::new(),
        created_at: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, status: &str, deps: &[&str]) -> Task {
        Task {
            status: status.to_owned(),
            title: format!("Task {id}"),
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
            assignee: Some("writer".to_owned()),
            ..placeholder(id)
        }
    }

    #[test]
    fn dependencies_block_and_a_failed_one_fails_its_dependents() {
        let mut list = TaskList {
            tasks: vec![
                task("a", "pending", &[]),
                task("b", "pending", &["a"]),
                task("c", "blocked", &["d"]),
                task("d", "failed", &[]),
            ],
            ..TaskList::default()
        };
        list.update_blocked();
        let status: Vec<&str> = list.tasks.iter().map(|t| t.status.as_str()).collect();
        assert_eq!(status, ["pending", "blocked", "failed", "failed"]);
        assert_eq!(
            list.tasks[2].result.as_deref(),
            Some("Automatically failed: a dependency failed.")
        );
        list.get_mut("a").unwrap().status = "completed".to_owned();
        list.update_blocked();
        assert_eq!(list.tasks[1].status, "pending");
        assert!(!list.all_terminal());
        list.get_mut("b").unwrap().status = "completed".to_owned();
        assert!(list.all_terminal());
        assert!(
            !TaskList::default().all_terminal(),
            "an empty list never is"
        );
    }

    #[test]
    fn the_summary_is_agnos() {
        let mut done = task("a", "completed", &[]);
        done.result = Some("x".repeat(250));
        done.notes = vec!["n1".into(), "n2".into(), "n3".into(), "n4".into()];
        let list = TaskList {
            tasks: vec![done, task("b", "pending", &["a"])],
            goal_complete: true,
            completion_summary: Some("all done".to_owned()),
        };
        let summary = list.summary();
        let expected = format!(
            "Tasks (2 total: 1 completed, 1 pending):\n  [a] Task a - COMPLETED (assigned: writer)\n      Result: {}...\n      Note: n2\n      Note: n3\n      Note: n4\n  [b] Task b - PENDING (assigned: writer)\n      Depends on: ['a']\n\nGoal marked complete: all done",
            "x".repeat(200)
        );
        assert_eq!(summary, expected);
        assert_eq!(TaskList::default().summary(), "No tasks created yet.");
    }
}
