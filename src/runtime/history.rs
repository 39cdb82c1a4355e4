//! An agent's conversation history: the session's earlier completed runs as messages; a
//! team's: its earlier runs and its members'.

use crate::run::{ChildRun, Message, RunOutput, TeamRunOutput};
use crate::store::Store;
use crate::team::{Team, TeamHistory};

/// The last `n` completed runs of the session (not `run_id`), as user and assistant messages
/// marked `from_history`, oldest first.
pub(super) async fn history(
    store: &dyn Store,
    session_id: &str,
    run_id: &str,
    n: usize,
) -> Vec<Message> {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    let runs = match store.recent_completed_runs(session_id, run_id, n).await {
        Ok(runs) => runs,
        Err(e) => {
            tracing::warn!(session = %session_id, error = %e, "cannot read the session's history");
            return Vec::new();
        }
    };
    runs.iter()
        .filter_map(|r| serde_json::from_str::<RunOutput>(r.output.as_deref()?).ok())
        .flat_map(|run| {
            let answer = run.content_text();
            [
                Message::new("user", run.input.input_content),
                Message::new("assistant", answer),
            ]
        })
        .map(|mut m| {
            m.from_history = true;
            m
        })
        .collect()
}

/// What a team run remembers of the session (one read): the team's earlier completed runs
/// (as many as the leader or `add_team_history_to_members` shows), and in them its members'
/// runs, by member id.
pub(super) async fn team_history(
    store: &dyn Store,
    session_id: &str,
    run_id: &str,
    team: &Team,
) -> TeamHistory {
    let n = team.history_depth();
    if n == 0 {
        return TeamHistory::default();
    }
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    let runs = match store.recent_completed_runs(session_id, run_id, n).await {
        Ok(runs) => runs,
        Err(e) => {
            tracing::warn!(session = %session_id, error = %e, "cannot read the session's history");
            return TeamHistory::default();
        }
    };
    let mut history = TeamHistory::default();
    for run in runs
        .iter()
        .filter_map(|r| serde_json::from_str::<TeamRunOutput>(r.output.as_deref()?).ok())
    {
        history
            .runs
            .push((run.input.input_content.clone(), run.content_text()));
        for member in run.all_member_runs() {
            if member.status() != crate::run::RunStatus::Completed {
                continue;
            }
            let (id, input) = match member {
                ChildRun::Agent(r) => (&r.agent_id, &r.input.input_content),
                ChildRun::Team(r) => (&r.team_id, &r.input.input_content),
            };
            history
                .members
                .entry(id.clone())
                .or_default()
                .push((input.clone(), crate::run::value_text(member.content())));
        }
    }
    history
}
