//! Tasks mode (agno's `team/task.py`, `team/_task_tools.py`): the leader keeps a task list in
//! the session state (`_team_tasks`, agno's key and shape), creates tasks, runs them on members
//! (`execute_task`, `execute_tasks_parallel`) and is asked to go on until the goal is met.

use super::delegate::{Leading, MemberRun, string_arg};
use super::task_list::{TASK_LIST_KEY, Task, TaskList, pending, placeholder};
use crate::event::{EventSink, RunEvent};
use crate::run::{RunStatus, ToolExecution, value_text};
use crate::tool::ToolOutcome;
use serde_json::Value;
use std::time::Instant;

impl Leading {
    /// Reads, changes and stores the task list in one step (the session state's lock).
    fn with_tasks<R>(&self, f: impl FnOnce(&mut TaskList) -> R) -> R {
        self.rctx.session_state.update(|state| {
            let mut list: TaskList = state
                .get(TASK_LIST_KEY)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            list.update_blocked();
            let out = f(&mut list);
            list.update_blocked();
            if let Ok(value) = serde_json::to_value(&list) {
                state.insert(TASK_LIST_KEY.to_owned(), value);
            }
            out
        })
    }

    fn read_tasks(&self) -> TaskList {
        self.with_tasks(|list| list.clone())
    }

    async fn task_updated(
        &self,
        sink: &mut EventSink,
        task: &Task,
        previous: &str,
        with_result: bool,
    ) {
        let ctx = self.event_context();
        sink.emit(|| RunEvent::TeamTaskUpdated {
            ctx,
            task_id: task.id.clone(),
            title: task.title.clone(),
            status: task.status.clone(),
            previous_status: Some(previous.to_owned()),
            result: task.result.clone().filter(|_| with_result),
            assignee: task.assignee.clone().filter(|a| !a.is_empty()),
        })
        .await;
    }

    /// Records what a member's run did to task `id`; returns the line the leader reads and
    /// whether it failed.
    fn task_finished(&self, id: &str, done: &MemberRun) -> (Task, Result<String, String>) {
        self.with_tasks(|list| {
            let Some(task) = list.get_mut(id) else {
                return (
                    placeholder(id),
                    Err(format!("Task with ID '{id}' not found.")),
                );
            };
            let content = value_text(done.run.content());
            let line = if done.run.status() == RunStatus::Cancelled {
                if !content.is_empty() {
                    task.result = Some(content);
                }
                Err(format!("Task [{id}] was cancelled."))
            } else if let Some(failure) = &done.failure {
                task.status = "failed".to_owned();
                task.result = Some(failure.message.clone());
                Err(format!("Task [{id}] failed: {}", failure.message))
            } else if !content.is_empty() {
                task.status = "completed".to_owned();
                task.result = Some(content.clone());
                Ok(format!("Task [{id}] completed. Result: {content}"))
            } else {
                task.status = "completed".to_owned();
                task.result = Some("No content returned".to_owned());
                Ok(format!("Task [{id}] completed with no content."))
            };
            (task.clone(), line)
        })
    }
}

impl Leading {
    /// Runs one task tool call.
    pub(super) async fn task_call(
        &self,
        execution: ToolExecution,
        args: Value,
        mut sink: EventSink,
        started: (f64, Instant),
    ) -> ToolOutcome {
        let lead = self;
        let result = match execution.tool_name.as_str() {
            "create_task" => create_task(lead, &args, &mut sink).await,
            "update_task_status" => update_task_status(lead, &args, &mut sink).await,
            "list_tasks" => Ok(lead.read_tasks().summary()),
            "add_task_note" => add_task_note(lead, &args),
            "mark_all_complete" => string_arg(&args, "summary").map(|summary| {
                lead.with_tasks(|list| {
                    list.goal_complete = true;
                    list.completion_summary = Some(summary.clone());
                });
                format!("Goal marked as complete. Summary: {summary}")
            }),
            "execute_task" => execute_task(lead, &args, sink).await,
            "execute_tasks_parallel" => execute_tasks_parallel(lead, &args, sink).await,
            other => Err(format!("tool {other} not found")),
        };
        ToolOutcome::finished(execution, result, started)
    }
}

async fn create_task(lead: &Leading, args: &Value, sink: &mut EventSink) -> Result<String, String> {
    let title = string_arg(args, "title")?;
    let description = string_arg(args, "description").unwrap_or_default();
    let assignee = string_arg(args, "assignee").unwrap_or_default();
    let depends_on: Vec<String> = args
        .get("depends_on")
        .and_then(Value::as_array)
        .map(|deps| deps.iter().map(value_text).collect())
        .unwrap_or_default();
    let created = lead.with_tasks(|list| {
        let key = title.trim().to_lowercase();
        if let Some(existing) = list.tasks.iter().find(|t| t.title.trim().to_lowercase() == key) {
            return Err(format!(
                "Task already exists: [{}] {} (status: {}). Use this task instead of creating a duplicate.",
                existing.id, existing.title, existing.status
            ));
        }
        let mut id = uuid::Uuid::new_v4().to_string();
        id.truncate(8);
        list.tasks.push(Task {
            id: id.clone(),
            title: title.clone(),
            description,
            status: pending(),
            assignee: Some(assignee),
            parent_id: None,
            dependencies: depends_on,
            result: None,
            notes: Vec::new(),
            created_at: chrono::Utc::now().timestamp_micros() as f64 / 1e6,
        });
        list.update_blocked();
        Ok(list.get(&id).cloned().unwrap_or_else(|| placeholder(&id)))
    });
    let task = match created {
        Ok(task) => task,
        // agno answers a duplicate title as a plain result, not an error.
        Err(existing) => return Ok(existing),
    };
    let ctx = lead.event_context();
    sink.emit(|| RunEvent::TeamTaskCreated {
        ctx,
        task_id: task.id.clone(),
        title: task.title.clone(),
        description: task.description.clone(),
        assignee: task.assignee.clone().filter(|a| !a.is_empty()),
        status: task.status.clone(),
        dependencies: task.dependencies.clone(),
    })
    .await;
    Ok(format!(
        "Task created: [{}] {} (status: {})",
        task.id, task.title, task.status
    ))
}

async fn update_task_status(
    lead: &Leading,
    args: &Value,
    sink: &mut EventSink,
) -> Result<String, String> {
    let id = string_arg(args, "task_id")?;
    let status = string_arg(args, "status")?;
    if status == "blocked" {
        return Err("Cannot manually set status to 'blocked'. Blocked status is managed automatically based on task dependencies.".to_owned());
    }
    if !["pending", "in_progress", "completed", "failed"].contains(&status.as_str()) {
        return Err(format!(
            "Invalid status '{status}'. Must be one of: pending, in_progress, completed, failed."
        ));
    }
    let result = string_arg(args, "result").ok();
    let updated = lead.with_tasks(|list| {
        let task = list.get_mut(&id)?;
        let previous = task.status.clone();
        task.status = status.clone();
        if let Some(result) = result {
            task.result = Some(result);
        }
        Some((previous, task.clone()))
    });
    let Some((previous, task)) = updated else {
        return Err(format!("Task with ID '{id}' not found."));
    };
    let terminal = task.status == "completed" || task.status == "failed";
    lead.task_updated(sink, &task, &previous, terminal).await;
    Ok(format!(
        "Task [{}] '{}' updated to {}.",
        task.id, task.title, task.status
    ))
}

fn add_task_note(lead: &Leading, args: &Value) -> Result<String, String> {
    let id = string_arg(args, "task_id")?;
    let note = string_arg(args, "note")?;
    lead.with_tasks(|list| match list.get_mut(&id) {
        Some(task) => {
            task.notes.push(note);
            Ok(format!("Note added to task [{}].", task.id))
        }
        None => Err(format!("Task with ID '{id}' not found.")),
    })
}

async fn execute_task(lead: &Leading, args: &Value, mut sink: EventSink) -> Result<String, String> {
    let id = string_arg(args, "task_id")?;
    let member_id = string_arg(args, "member_id")?;
    let Some(task) = lead.read_tasks().get(&id).cloned() else {
        return Err(format!("Task with ID '{id}' not found."));
    };
    if task.status != "pending" && task.status != "in_progress" {
        return Err(format!(
            "Task [{id}] is {} and cannot be executed.",
            task.status
        ));
    }
    let Some(member) = lead.team.find_member(&member_id) else {
        return Err(format!(
            "Member with ID {member_id} not found. Available members:\n{}",
            lead.team.roster(0)
        ));
    };
    let started = lead.with_tasks(|list| {
        let t = list.get_mut(&id)?;
        let previous = t.status.clone();
        t.status = "in_progress".to_owned();
        t.assignee = Some(member_id.clone());
        Some((previous, t.clone()))
    });
    if let Some((previous, t)) = &started {
        lead.task_updated(&mut sink, t, previous, false).await;
    }
    let description = match task.description.is_empty() {
        true => task.title.clone(),
        false => task.description.clone(),
    };
    let done = lead
        .run_member(member, &description, true, sink.fork())
        .await;
    let (task, line) = lead.task_finished(&id, &done);
    if task.status != "in_progress" {
        lead.task_updated(&mut sink, &task, "in_progress", true)
            .await;
    }
    line
}

async fn execute_tasks_parallel(
    lead: &Leading,
    args: &Value,
    mut sink: EventSink,
) -> Result<String, String> {
    let ids: Vec<String> = args
        .get("task_ids")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().map(value_text).collect())
        .ok_or("invalid arguments: missing `task_ids`")?;
    let list = lead.read_tasks();
    let mut runs = Vec::new();
    for id in &ids {
        let Some(task) = list.get(id) else {
            return Err(format!("Task '{id}' not found."));
        };
        if task.status != "pending" && task.status != "in_progress" {
            return Err(format!("Task [{id}] is {}, cannot execute.", task.status));
        }
        let Some(assignee) = task.assignee.clone().filter(|a| !a.is_empty()) else {
            return Err(format!(
                "Task [{id}] has no assignee. Assign a member_id first."
            ));
        };
        let Some(member) = lead.team.find_member(&assignee) else {
            return Err(format!("Member '{assignee}' not found for task [{id}]."));
        };
        runs.push((task.clone(), member));
    }
    if runs.is_empty() {
        return Ok("No valid tasks to execute.".to_owned());
    }
    for (task, _) in &runs {
        let previous = lead.with_tasks(|list| {
            let t = list.get_mut(&task.id)?;
            let previous = t.status.clone();
            t.status = "in_progress".to_owned();
            Some((previous, t.clone()))
        });
        if let Some((previous, t)) = previous {
            lead.task_updated(&mut sink, &t, &previous, false).await;
        }
    }
    let finished = futures::future::join_all(runs.iter().map(|(task, member)| {
        let description = match task.description.is_empty() {
            true => task.title.clone(),
            false => task.description.clone(),
        };
        let fork = sink.fork();
        async move {
            (
                task.id.clone(),
                lead.run_member(member, &description, true, fork).await,
            )
        }
    }))
    .await;
    let mut lines = Vec::new();
    let mut failed = 0;
    for (id, done) in &finished {
        let (task, line) = lead.task_finished(id, done);
        lead.task_updated(&mut sink, &task, "in_progress", true)
            .await;
        match line {
            Ok(line) => lines.push(line),
            Err(line) => {
                failed += 1;
                lines.push(line);
            }
        }
    }
    match failed == finished.len() {
        true => Err(lines.join("\n")),
        false => Ok(lines.join("\n")),
    }
}

impl Leading {
    /// `TeamTaskIterationStarted`.
    pub(super) async fn iteration_started(&self, iteration: usize, sink: &mut EventSink) {
        let ctx = self.event_context();
        sink.emit(|| RunEvent::TeamTaskIterationStarted {
            ctx,
            iteration,
            max_iterations: self.team.options.max_iterations,
        })
        .await;
    }

    /// See [`next_turn`].
    pub(super) async fn next_task_turn(
        &self,
        iteration: usize,
        sink: &mut EventSink,
    ) -> Option<String> {
        next_turn(self, iteration, sink).await
    }
}

/// The end of an iteration: the task list's state (`TeamTaskStateUpdated`,
/// `TeamTaskIterationCompleted`), then agno's termination rules: the goal was marked complete,
/// every task completed, a run without tasks answered twice without tool calls, or the
/// iterations ran out. Otherwise the leader is shown the list and asked to go on.
async fn next_turn(lead: &Leading, iteration: usize, sink: &mut EventSink) -> Option<String> {
    let list = lead.read_tasks();
    let summary = list.summary();
    let max_iterations = lead.team.options.max_iterations;
    let ctx = lead.event_context();
    sink.emit(|| RunEvent::TeamTaskStateUpdated {
        ctx: ctx.clone(),
        task_summary: summary.clone(),
        goal_complete: list.goal_complete,
        tasks: list.task_data(),
        completion_summary: list.completion_summary.clone(),
    })
    .await;
    sink.emit(|| RunEvent::TeamTaskIterationCompleted {
        ctx,
        iteration,
        max_iterations,
        task_summary: summary.clone(),
    })
    .await;
    if list.goal_complete {
        return None;
    }
    if list.all_terminal() && list.tasks.iter().all(|t| t.status != "failed") {
        return None;
    }
    {
        let mut shared = lead.lock();
        match (list.tasks.is_empty(), shared.calls) {
            (true, 0) => shared.idle_turns += 1,
            _ => shared.idle_turns = 0,
        }
        if shared.idle_turns >= 2 {
            return None;
        }
    }
    if iteration >= max_iterations {
        tracing::warn!(team = %lead.team.id, "reached max_iterations ({max_iterations}) without completing all tasks");
        return None;
    }
    Some(format!(
        "<current_task_state>\n{summary}\n</current_task_state>\n\n\
Continue working on the tasks. Create, execute, or update tasks as needed. \
When the goal is met, write your answer and call `mark_all_complete`."
    ))
}
