//! A research and writing team: the Rust port of agno's cookbook
//! `03_teams/modes/coordinate/01_basic.py` ("Basic Coordinate Mode Example"), served by
//! AgentOS.
//!
//! The team leader (coordinate mode, agno's default):
//! 1. analyzes the user's request,
//! 2. selects the most appropriate member agent(s),
//! 3. crafts specific tasks for each selected member,
//! 4. synthesizes member responses into a final answer.
//!
//! ```text
//! cargo run --example team
//! curl -N -X POST http://localhost:7777/teams/research-writing-team/runs \
//!   -F "message=Write a brief overview of how large language models are trained, covering pre-training, fine-tuning, and RLHF."
//! ```
//!
//! With neither `OPENAI_API_KEY` nor `OPENAI_BASE_URL` set, the models are the offline
//! `ScriptedModel`: the leader's delegations are scripted (first the Researcher, then the
//! Writer, then its synthesis), so the stream shows every team and member event.

#[allow(dead_code)]
#[path = "background_hooks_workflow.rs"]
mod seed;

use agentos::{Agent, AgentOs, Model, OpenAIChat, ScriptedModel, ScriptedReply, Team, TeamMode};
use std::sync::Arc;

// ---------------------------------------------------------------------------
// Create Members
// ---------------------------------------------------------------------------

fn researcher() -> Agent {
    Agent::new("Researcher")
        .role("Research specialist who finds and summarizes information")
        .shared_model(seed::model("gpt-5.2"))
        .instructions(
            "- You are a research specialist.\n\
             - Provide clear, factual summaries on any topic.\n\
             - Organize findings with structure and cite limitations.",
        )
}

fn writer() -> Agent {
    Agent::new("Writer")
        .role("Content writer who crafts polished, engaging text")
        .shared_model(seed::model("gpt-5.2"))
        .instructions(
            "- You are a skilled content writer.\n\
             - Transform raw information into well-structured, readable text.\n\
             - Use headers, bullet points, and clear prose.",
        )
}

// ---------------------------------------------------------------------------
// Create Team
// ---------------------------------------------------------------------------

/// Offline, the leader's script: the Researcher gathers facts, the Writer polishes them, and
/// the leader hands over the Writer's piece.
fn offline_leader() -> ScriptedModel {
    ScriptedModel::respond(|req| {
        let last = || {
            req.tool_results()
                .last()
                .map(|r| r.content.clone())
                .unwrap_or_default()
        };
        Ok(match req.turn() {
            0 => ScriptedReply::delegate(
                "researcher",
                format!("Gather the key facts for: {}", req.last_user_message()),
            ),
            1 => ScriptedReply::delegate(
                "writer",
                format!("Polish these findings into a short piece: {}", last()),
            ),
            _ => ScriptedReply::text(format!("## Overview\n\n{}", last())),
        })
    })
}

fn team() -> Team {
    let leader: Arc<dyn Model> = match OpenAIChat::configured_from_env() {
        true => seed::model("gpt-5.2"),
        false => Arc::new(offline_leader()),
    };
    Team::new("Research & Writing Team")
        .id("research-writing-team")
        .mode(TeamMode::Coordinate)
        .shared_model(leader)
        .members([researcher(), writer()])
        .instructions(
            "- You lead a research and writing team.\n\
             - For informational requests, ask the Researcher to gather facts first,\n\
             - then ask the Writer to polish the findings into a final piece.\n\
             - Synthesize everything into a cohesive response.",
        )
        .markdown(true)
}

// ---------------------------------------------------------------------------
// Run Team
// ---------------------------------------------------------------------------

#[tokio::main]
async fn main() -> Result<(), agentos::OsError> {
    seed::init();
    AgentOs::new().team(team()).serve("127.0.0.1:7777").await
}
