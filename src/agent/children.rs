//! [`ChildTools`]: tools whose calls start child runs (a team's delegation and task tools),
//! run by the same agent loop as any tool; and [`LoopState`], where that loop stands, so a
//! run that stopped mid-way (a crash) picks up without paying again for what finished.

use crate::event::EventSink;
use crate::model::ToolDefinition;
use crate::run::{Message, ToolExecution};
use crate::tool::ToolOutcome;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The tools of an agent that leads other runs (a team's leader): their calls get the run's
/// event sink (the members' events stream through it) and may end the conversation (a routed
/// member's answer is the team's). The loop reports its progress to them, so the team can
/// checkpoint it, and asks them whether an answer ends the run (tasks mode goes on until its
/// task list is done).
pub(crate) trait ChildTools: Send + Sync + std::fmt::Debug {
    /// The tools' definitions, offered to the model beside the agent's own.
    fn definitions(&self) -> &[ToolDefinition];

    /// Runs one call of one of these tools. Never fails: a problem is the call's error result.
    fn call<'a>(
        &'a self,
        execution: ToolExecution,
        args: Result<Value, String>,
        sink: EventSink,
    ) -> BoxFuture<'a, ToolOutcome>;

    /// Whether [`ChildTools::progress`] records anything (a background run's checkpoints): when
    /// not, the loop does not copy its messages for it.
    fn checkpoints(&self) -> bool;

    /// Where the loop stands: a reply with tool calls has arrived (`state.done` empty), or one
    /// of its calls has finished (`state.done` holds those that have).
    fn progress<'a>(&'a self, state: &'a LoopState) -> BoxFuture<'a, ()>;

    /// An iteration of the loop begins (`iteration` counts from 1; there is one unless
    /// [`ChildTools::next_turn`] asks for more).
    fn turn_started<'a>(&'a self, iteration: usize, sink: &'a mut EventSink) -> BoxFuture<'a, ()>;

    /// The model answered without calling tools at the end of iteration `iteration`:
    /// `Some(message)` sends it this user message and goes on, `None` makes the answer final.
    fn next_turn<'a>(
        &'a self,
        iteration: usize,
        sink: &'a mut EventSink,
    ) -> BoxFuture<'a, Option<String>>;
}

/// Where an agent's loop stands: the messages so far and, when the last one is a reply with
/// tool calls, the calls of that reply that have finished. Serializable: a checkpoint holds it,
/// and a resumed run starts from it (the finished calls are not made again).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct LoopState {
    /// Every message so far, the session's history included.
    pub messages: Vec<Message>,
    /// The tool calls of the rounds before the current one.
    pub tools: Vec<ToolExecution>,
    /// The calls of the current round (the last message's) that have finished.
    pub done: Vec<ToolExecution>,
    /// Rounds of tool calls in the current iteration.
    pub rounds: usize,
    /// The iteration (from 1).
    pub iteration: usize,
    /// Tokens spent so far.
    pub input_tokens: u64,
    /// Tokens spent so far.
    pub output_tokens: u64,
}
