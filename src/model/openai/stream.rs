//! A streamed reply: chunks decoded into content deltas, tool calls (put together from their
//! indexed deltas) and usage.

use super::super::{ModelChunk, ModelError, ToolCall};
use super::wire::{map_error, usage_of};
use async_openai::error::OpenAIError;
use futures::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A streamed tool call being put together from its indexed deltas.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

pub(super) struct StreamState {
    inner: std::pin::Pin<Box<dyn futures::Stream<Item = Result<Value, OpenAIError>> + Send>>,
    timeout: Duration,
    /// A chunk with a non-empty `finish_reason` was seen.
    finished: bool,
    /// The stream has ended (or failed); nothing more is yielded.
    done: bool,
    /// Chunks decoded but not yet yielded (a chunk may carry content and usage).
    pending: Vec<ModelChunk>,
    /// Tool calls being accumulated, by their `index`.
    calls: std::collections::BTreeMap<u64, PartialCall>,
    started: Instant,
}

impl StreamState {
    /// The state of a stream that has just started.
    pub(super) fn new(
        inner: std::pin::Pin<Box<dyn futures::Stream<Item = Result<Value, OpenAIError>> + Send>>,
        timeout: Duration,
    ) -> StreamState {
        StreamState {
            inner,
            timeout,
            finished: false,
            done: false,
            pending: Vec::new(),
            calls: std::collections::BTreeMap::new(),
            started: Instant::now(),
        }
    }

    /// Adds one chunk's tool-call deltas: the first delta of an index carries the id and
    /// name, the following ones pieces of the arguments.
    fn accumulate(&mut self, deltas: &[Value]) {
        for (position, delta) in deltas.iter().enumerate() {
            let index = delta
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let call = self.calls.entry(index).or_default();
            if let Some(Value::String(id)) = delta.get("id")
                && !id.is_empty()
            {
                call.id = id.clone();
            }
            if let Some(Value::String(name)) = delta.pointer("/function/name") {
                call.name.push_str(name);
            }
            match delta.pointer("/function/arguments") {
                Some(Value::String(args)) => call.arguments.push_str(args),
                // Some servers send the whole arguments as an object, in one delta.
                Some(args @ Value::Object(_)) => call.arguments = args.to_string(),
                _ => {}
            }
        }
    }

    /// The complete tool calls, in index order.
    fn take_calls(&mut self) -> impl Iterator<Item = ModelChunk> + use<> {
        std::mem::take(&mut self.calls).into_values().map(|call| {
            ModelChunk::ToolCall(ToolCall {
                id: call.id,
                name: call.name,
                arguments: call.arguments,
            })
        })
    }

    pub(super) async fn next(mut self) -> Option<(Result<ModelChunk, ModelError>, StreamState)> {
        loop {
            if let Some(chunk) = self.pending.pop() {
                return Some((Ok(chunk), self));
            }
            if self.done {
                return None;
            }
            let item = match tokio::time::timeout(self.timeout, self.inner.next()).await {
                Err(_) => {
                    self.done = true;
                    let waited = self.started.elapsed().min(self.timeout);
                    return Some((Err(ModelError::Timeout(waited)), self));
                }
                Ok(item) => item,
            };
            match item {
                None if self.finished => {
                    self.done = true;
                    // Calls still open if the server never sent a `finish_reason`.
                    let calls: Vec<ModelChunk> = self.take_calls().collect();
                    self.pending.extend(calls.into_iter().rev());
                }
                None => {
                    self.done = true;
                    let e = ModelError::Malformed("stream ended before the model finished".into());
                    return Some((Err(e), self));
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some((Err(map_error(e)), self));
                }
                Some(Ok(chunk)) => {
                    if let Some(err) = chunk.get("error") {
                        self.done = true;
                        let e = ModelError::Status {
                            status: 500,
                            message: err.to_string(),
                        };
                        return Some((Err(e), self));
                    }
                    // Some servers send `"finish_reason": ""` mid-stream: only a non-empty
                    // string marks the end.
                    let choice = chunk.pointer("/choices/0");
                    if let Some(Value::String(reason)) = choice.and_then(|c| c.get("finish_reason"))
                        && !reason.is_empty()
                    {
                        self.finished = true;
                    }
                    // This chunk's pieces in the order they are yielded: content, then (once
                    // the model has finished) the complete tool calls, then usage.
                    let mut out = Vec::new();
                    if let Some(Value::String(text)) =
                        choice.and_then(|c| c.pointer("/delta/content"))
                        && !text.is_empty()
                    {
                        out.push(ModelChunk::Content(text.clone()));
                    }
                    if let Some(Value::Array(deltas)) =
                        choice.and_then(|c| c.pointer("/delta/tool_calls"))
                    {
                        self.accumulate(deltas);
                    }
                    if self.finished {
                        out.extend(self.take_calls());
                    }
                    if let Some(usage) = usage_of(&chunk) {
                        self.finished = true;
                        out.extend(self.take_calls());
                        out.push(ModelChunk::Usage(usage));
                    }
                    // `pending` is a stack.
                    self.pending.extend(out.into_iter().rev());
                }
            }
        }
    }
}
