//! The leader's system message and tools, as agno 3.1.10 writes them (`team/_messages.py`,
//! `team/_default_tools.py`, `team/_task_tools.py`), so prompts tuned for agno work unchanged.

use super::{Member, Team, TeamMode};
use crate::model::ToolDefinition;
use serde_json::{Value, json};

/// agno's opening statement of the `<team>` block.
const OPENING: &str = "You coordinate this team to fulfill the user's request. \
You have a team of specialists, listed below. \
Delegate to members when their expertise or tools are needed; \
answer directly — including with your own tools — when they are not.\n";

impl Team {
    /// The leader's system message: identity (description, role, instructions), then the
    /// `<team>` block (opening, roster, delegation rules).
    pub(crate) fn system_message(&self) -> String {
        let mut content = String::new();
        if let Some(description) = &self.description {
            content.push_str(&format!("<description>\n{description}\n</description>\n\n"));
        }
        if let Some(role) = &self.role {
            content.push_str(&format!("<your_role>\n{role}\n</your_role>\n\n"));
        }
        if let Some(instructions) = &self.instructions {
            content.push_str(instructions);
            content.push_str("\n\n");
        }
        if !self.members.is_empty() {
            content.push_str("<team>\n");
            content.push_str(OPENING);
            content.push_str("\n<team_members>\n");
            content.push_str(&self.roster(0));
            content.push_str("</team_members>\n");
            content.push_str(&self.mode_instructions());
            content.push_str("</team>\n\n");
        }
        if self.options.markdown && self.leader.output_schema_name().is_none() {
            content.push_str(
                "<additional_information>\n- Use markdown to format your answers.\n</additional_information>\n\n",
            );
        }
        content.trim().to_owned()
    }

    /// agno's `get_members_system_message_content`: one `<member>` element per member; only
    /// the top level shows ids (the ids the leader may use).
    pub(crate) fn roster(&self, indent: usize) -> String {
        let pad = " ".repeat(indent);
        let mut content = String::new();
        for member in &self.members {
            let (role, description) = match member {
                Member::Agent(a) => (a.get_role(), None),
                Member::Team(t) => (t.get_role(), t.get_description()),
            };
            let kind = match member {
                Member::Team(_) => " type=\"team\"",
                Member::Agent(_) => "",
            };
            match indent {
                0 => content.push_str(&format!(
                    "{pad}<member id=\"{}\" name=\"{}\"{kind}>\n",
                    member.id(),
                    member.name()
                )),
                _ => content.push_str(&format!("{pad}<member name=\"{}\"{kind}>\n", member.name())),
            }
            if let Some(role) = role {
                content.push_str(&format!("{pad}  Role: {role}\n"));
            }
            if let Some(description) = description {
                content.push_str(&format!("{pad}  Description: {description}\n"));
            }
            if let Member::Team(t) = member {
                content.push_str(&t.roster(indent + 2));
            }
            content.push_str(&format!("{pad}</member>\n"));
        }
        content
    }

    /// agno's `_get_mode_instructions`: the `<delegation>` block of the mode.
    fn mode_instructions(&self) -> String {
        let selector = "role and description";
        let mut content = String::from("\n<delegation>\n");
        let mode = self.options.mode;
        content.push_str(&match mode {
            TeamMode::Tasks => format!(
                "You work from a shared task list: you create tasks, assign each one to a member, \
execute them, and deliver the result.\n\n\
- `create_task` sets the assignee — the member whose {selector} fit the work best. \
`execute_tasks_parallel` runs each task against the member it was created with, so a task \
created without an assignee cannot go in a batch. Titles are unique: creating a task under \
an existing title returns that task instead of a new one.\n\
- Set `depends_on` only when a task genuinely needs another task's output.\n\
- Run one task with `execute_task`, or a batch of independent ones with \
`execute_tasks_parallel`. `list_tasks` re-reads the board at any point.\n\
- Read every result. On a failure, retry, reassign, or change the plan — do not repeat the \
same call unchanged. Record work you did yourself with `update_task_status`, and anything a \
later task will need with `add_task_note`.\n\
- A task result is evidence, not your answer. When a task fails or a member returns nothing, \
say so plainly and name what it reported — never supply a cause or a finding the member did \
not state.\n\
- `mark_all_complete` ends the loop; the summary you pass it is bookkeeping, not the reply. \
Write the answer as your own message in the same turn — that message is what reaches the \
user. A list whose tasks have all completed also ends the loop. For a request that needs \
no tasks at all — a greeting, a question you can simply answer — write the answer and call \
`mark_all_complete` in the same turn: that finishes at once instead of after a reminder. \
Call it too when the goal is out of reach: a partial outcome stated plainly beats looping.\n"
            ),
            TeamMode::Route => format!(
                "You work in route mode: you hand the request to exactly one member with \
`delegate_task_to_member`, and its reply is returned to the user as written and ends the \
run.\n\n\
- Pick the member whose {selector} are the closest match; if none is a clear fit, pick the \
closest and carry the shortfall into the task.\n\
- Pass the request whole. Do not reinterpret, narrow, or summarize what the user asked.\n\
- State any requirement on the reply — format, length, structure, tone — in the task itself. \
Your own formatting rules and expected output are not applied to what the member returns.\n\
- Write no text of your own in the turn you hand over: anything you write is prepended to the \
member's reply, and you get no turn to review or correct what it sends.\n"
            ),
            TeamMode::Broadcast => "You work in broadcast mode: one call puts the same task to every member, then you write the \
answer yourself.\n\n\
- Call `delegate_task_to_members` exactly once. One call reaches every member; do not call it \
once per member.\n\
- Write one whole question each member can answer from its own vantage point, not a sub-task \
for one of them.\n\
- A member's output is evidence, not your answer. When a member fails, refuses, or returns \
nothing, say so plainly and name what it reported — never supply a cause, source, or finding \
the member did not state.\n\
- Say each finding once: where members agree that is one finding, not three; where they \
conflict, reconcile it and say which view you took. Integrate the strongest contributions \
thematically — never list the responses in sequence.\n"
                .to_owned(),
            TeamMode::Coordinate => format!(
                "You work in coordinate mode: you hand sub-tasks to members with \
`delegate_task_to_member` and write the answer yourself.\n\n\
- Match each sub-task to the member whose {selector} fit it best. When sub-tasks do not \
depend on each other, delegate them in the same turn instead of one per turn.\n\
- A member's output is evidence, not your answer. When a member fails, refuses, or returns \
nothing, say so plainly and name what it reported — never supply a cause, source, or finding \
the member did not state.\n\
- If a response is off-target, re-delegate with clearer instructions or try a better-suited \
member. If it still misses, answer with what you have and say what is missing — do not work \
through the roster.\n\
- Write one answer. Resolve contradictions, add structure, and fill gaps only where you can \
state the basis for it. Never concatenate member outputs.\n"
            ),
        });
        let o = &self.options;
        if mode != TeamMode::Tasks && !o.determine_input_for_members {
            content.push_str(
                "\nMembers do not see this conversation, and each one receives the user's message verbatim \
rather than the text you write. Pass a short label; do not restate or rewrite the request.\n",
            );
        } else if o.add_team_history_to_members || o.share_member_interactions {
            content.push_str(
                "\nMembers see only what you pass them plus the shared context this team forwards — not the \
conversation itself. Carry over every name, number and earlier answer the task depends on, \
and say what a good result looks like.\n",
            );
        } else {
            content.push_str(
                "\nMembers do not see this conversation. Each one gets only the text you write for it, so \
carry over every name, number and earlier answer it needs, and say what a good result looks \
like.\n",
            );
        }
        if mode != TeamMode::Broadcast {
            let has_sub_team = self.members.iter().any(|m| matches!(m, Member::Team(_)));
            content.push_str(match has_sub_team {
                true => "Member ids are the ids shown in the roster above, used exactly as written — never joined \
or prefixed. Delegate to a sub-team by the sub-team's own id; its leader hands work to \
the members inside it.\n",
                false => "Member ids are the ids shown in the roster above, used exactly as written.\n",
            });
        }
        content.push_str("</delegation>\n");
        content
    }

    /// The tools that run members: `delegate_task_to_member` (coordinate, route),
    /// `delegate_task_to_members` (broadcast), or the task tools (tasks), with agno's names,
    /// descriptions and parameters.
    pub(crate) fn child_tool_definitions(&self) -> Vec<ToolDefinition> {
        if self.members.is_empty() {
            return Vec::new();
        }
        match self.options.mode {
            TeamMode::Tasks => task_definitions(),
            TeamMode::Broadcast => vec![definition(
                "delegate_task_to_members",
                "Use this function to send one task to every member agent and return their responses.\n\
One call reaches all members; do not call it once per member.",
                json!({
                    "task": string("(str) A clear and concise description of the task to send to member agents, including what a good result looks like."),
                }),
                &["task"],
            )],
            TeamMode::Coordinate | TeamMode::Route => vec![definition(
                "delegate_task_to_member",
                "Use this function to delegate a task to the selected team member.",
                json!({
                    "member_id": string("(str) The ID of the member to delegate the task to, exactly as it appears in <team_members>."),
                    "task": string("(str) A clear and concise description of the task the member should achieve, including what a good result looks like."),
                }),
                &["member_id", "task"],
            )],
        }
    }
}

/// A string parameter with agno's description (`(type) text`).
fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

/// A tool definition: name, description and an object schema of these properties.
fn definition(
    name: &str,
    description: &str,
    properties: Value,
    required: &[&str],
) -> ToolDefinition {
    ToolDefinition {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters: json!({
            "type": "object",
            "properties": properties,
            "required": required,
        }),
    }
}

/// The task tools, with agno's names, descriptions and parameters.
fn task_definitions() -> Vec<ToolDefinition> {
    let list = |d: &str| json!({"type": "array", "items": {"type": "string"}, "description": d});
    vec![
        definition(
            "create_task",
            "Create a new task for the team to work on.",
            json!({
                "title": string("(str) A short, actionable title for the task."),
                "description": string("(str) Detailed description of what needs to be done."),
                "assignee": string("(str) The member_id to assign this task to. Must be a valid member_id."),
                "depends_on": list("(list, optional) List of task IDs that must complete before this task can start."),
            }),
            &["title"],
        ),
        definition(
            "update_task_status",
            "Update the status of a task. Use this to mark tasks you handle yourself as completed.",
            json!({
                "task_id": string("(str) The ID of the task to update."),
                "status": string("(str) New status. One of: pending, in_progress, completed, failed."),
                "result": string("(str, optional) The result or outcome of the task (when completing)."),
            }),
            &["task_id", "status"],
        ),
        definition(
            "list_tasks",
            "List all tasks with their current status, assignees, and dependencies.",
            json!({}),
            &[],
        ),
        definition(
            "add_task_note",
            "Add a note to a task for tracking progress or communicating context.",
            json!({
                "task_id": string("(str) The ID of the task."),
                "note": string("(str) The note to add."),
            }),
            &["task_id", "note"],
        ),
        definition(
            "mark_all_complete",
            "Signal that the overall goal has been achieved. Call this when all tasks are done.",
            json!({"summary": string("(str) A summary of the work done and the final outcome.")}),
            &["summary"],
        ),
        definition(
            "execute_task",
            "Execute a task by delegating it to a team member. The member will receive the task\ndescription and return a result.",
            json!({
                "task_id": string("(str) The ID of the task to execute."),
                "member_id": string("(str) The ID of the member to execute the task."),
            }),
            &["task_id", "member_id"],
        ),
        definition(
            "execute_tasks_parallel",
            "Execute multiple independent tasks in parallel by delegating each to its assigned member.\nAll tasks must be pending with no unresolved dependencies.",
            json!({"task_ids": list("(list) List of task IDs to execute concurrently.")}),
            &["task_ids"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use crate::{Agent, Member, Team, TeamMode};

    fn team(mode: TeamMode) -> Team {
        let member = |name: &str| Agent::new(name).role(format!("{name}s"));
        Team::new("Desk")
            .instructions("Be brief.")
            .members([member("Researcher"), member("Writer")])
            .mode(mode)
    }

    #[test]
    fn the_system_message_is_agnos() {
        let system = team(TeamMode::Coordinate).system_message();
        let expected_start = "Be brief.\n\n<team>\nYou coordinate this team to fulfill the user's request. \
You have a team of specialists, listed below. Delegate to members when their expertise or tools \
are needed; answer directly — including with your own tools — when they are not.\n\n\
<team_members>\n<member id=\"researcher\" name=\"Researcher\">\n  Role: Researchers\n</member>\n\
<member id=\"writer\" name=\"Writer\">\n  Role: Writers\n</member>\n</team_members>\n\n<delegation>\n\
You work in coordinate mode:";
        assert!(system.starts_with(expected_start), "{system}");
        assert!(system.ends_with(
            "Member ids are the ids shown in the roster above, used exactly as written.\n</delegation>\n</team>"
        ), "{system}");
        let broadcast = team(TeamMode::Broadcast).system_message();
        assert!(broadcast.contains("You work in broadcast mode"));
        assert!(
            !broadcast.contains("Member ids are"),
            "broadcast takes no member id"
        );
        let verbatim = team(TeamMode::Route)
            .determine_input_for_members(false)
            .system_message();
        assert!(verbatim.contains("each one receives the user's message verbatim"));
    }

    #[test]
    fn a_nested_team_shows_in_the_roster_without_inner_ids() {
        let inner = Team::new("Research Team")
            .role("Researches")
            .members([Agent::new("Researcher")]);
        let outer = Team::new("Newsroom").members([Member::from(inner)]);
        let system = outer.system_message();
        assert!(system.contains(
            "<member id=\"research-team\" name=\"Research Team\" type=\"team\">\n  Role: Researches\n  <member name=\"Researcher\">\n  </member>\n</member>\n"
        ), "{system}");
        assert!(system.contains("Delegate to a sub-team by the sub-team's own id"));
    }

    #[test]
    fn each_mode_offers_agnos_tools() {
        let names = |mode| -> Vec<String> {
            team(mode)
                .child_tool_definitions()
                .into_iter()
                .map(|d| d.name)
                .collect()
        };
        assert_eq!(names(TeamMode::Coordinate), ["delegate_task_to_member"]);
        assert_eq!(names(TeamMode::Route), ["delegate_task_to_member"]);
        assert_eq!(names(TeamMode::Broadcast), ["delegate_task_to_members"]);
        assert_eq!(
            names(TeamMode::Tasks),
            [
                "create_task",
                "update_task_status",
                "list_tasks",
                "add_task_note",
                "mark_all_complete",
                "execute_task",
                "execute_tasks_parallel"
            ]
        );
        assert!(Team::new("Empty").child_tool_definitions().is_empty());
    }
}
