//! The benchmark's agentos server: the seed example (`examples/background_hooks_workflow.rs`,
//! compiled in as a module, so the benchmark serves exactly the workflow a user runs) on
//! jemalloc, and, for the team level, the team `research-team` (a coordinating leader and two
//! members, `researcher` and `writer`, all on the same model; `bench/agno_app.py` serves its
//! twin). `bench/run.sh` builds it in release mode and `bench/bench.py` starts it against
//! the mock.
//!
//! The allocator is the application's choice, not the library's: agentos sets none, and the
//! example keeps the system's so that it reads like the Python it ports. What jemalloc buys
//! here is in BENCHMARKS.md and docs/design-notes.md ("The benchmark server's allocator").
//!
//! Environment: as the example (`OPENAI_BASE_URL`, `AGENT_OS_PORT`, `RUST_LOG`, ...), plus
//! jemalloc's own `MALLOC_CONF`, which overrides the options set below. Tracing is off unless
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (spans exported over OTLP, as by any `AgentOs`) or
//! `BENCH_TRACING=1` (spans also stored for agno's `/traces`).

#[allow(dead_code)]
#[path = "../../../../examples/background_hooks_workflow.rs"]
mod seed;

use agentos::{Agent, AgentOs, Team, TeamMode};

/// jemalloc instead of the system allocator: fewer CPU cycles per run under load. Unprefixed,
/// so SQLite's allocations use it too.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, which it reads before `main`: pages freed under load go back to the
/// system over about a second instead of ten, for a lower peak at the same CPU per run.
/// `MALLOC_CONF` in the environment still overrides it. The symbol carries jemalloc's `_rjem_`
/// prefix on the platforms where tikv-jemalloc-sys cannot take over `malloc` itself.
#[cfg(not(target_env = "msvc"))]
#[allow(non_upper_case_globals)]
#[cfg_attr(
    any(
        target_os = "android",
        target_os = "dragonfly",
        target_vendor = "apple"
    ),
    unsafe(export_name = "_rjem_malloc_conf")
)]
#[cfg_attr(
    not(any(
        target_os = "android",
        target_os = "dragonfly",
        target_vendor = "apple"
    )),
    unsafe(export_name = "malloc_conf")
)]
static malloc_conf: &[u8; 20] = b"dirty_decay_ms:1000\0";

/// The Analyzer alone, served as an agent, for the memory levels: `bench-agent` as is, and
/// `bench-memory` with user memories on (after each run, a memory job with one model call).
fn bench_agent(id: &str) -> Agent {
    Agent::new("Bench Agent")
        .with_id(id)
        .shared_model(seed::model("gpt-5.2"))
        .instructions("Analyze the input and identify key points.")
}

/// The team level's team: a leader coordinating a Researcher and a Writer (the mock scripts the
/// leader's two delegations, then its answer).
fn research_team() -> Team {
    let member = |name: &str, role: &str, instructions: &str| {
        Agent::new(name)
            .shared_model(seed::model("gpt-5.2"))
            .role(role)
            .instructions(instructions)
    };
    Team::new("Research Team")
        .id("research-team")
        .mode(TeamMode::Coordinate)
        .shared_model(seed::model("gpt-5.2"))
        .instructions("Delegate research to the Researcher, then have the Writer write it up.")
        .members([
            member(
                "Researcher",
                "Finds the key facts about a topic",
                "Research the topic and list the key facts.",
            ),
            member(
                "Writer",
                "Writes a clear short report from research notes",
                "Write a short report from the research.",
            ),
        ])
}

/// The example's `main`, on this binary's allocator, plus the memory levels' two agents and
/// the team level's team (the seed workflow's runs never touch them).
#[tokio::main]
async fn main() -> Result<(), agentos::OsError> {
    seed::init();
    let tracing = std::env::var("BENCH_TRACING").is_ok_and(|v| v == "1");
    AgentOs::new()
        .workflow(seed::analysis_workflow())
        .agent(bench_agent("bench-agent"))
        .agent(bench_agent("bench-memory").update_memory_on_run(true))
        .team(research_team())
        .run_hooks_in_background(true)
        .tracing(tracing)
        .serve("127.0.0.1:7777")
        .await
}
