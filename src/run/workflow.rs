//! What a workflow run produces: each step's [`StepOutput`], the run's [`WorkflowRunOutput`]
//! and its metrics (agno's `StepOutput` and `WorkflowRunOutput`, with agno's keys).

use super::{ChildRun, RunMetrics, RunStatus, value_text};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The result of one workflow step (agno's `StepOutput.to_dict()`: every key present, nulls too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepOutput {
    /// The step's content (the agent's answer, or an error text).
    pub content: Option<String>,
    /// The step's name.
    pub step_name: String,
    /// The step's id.
    pub step_id: String,
    /// `"Step"`, `"Steps"`, `"Parallel"`, `"Condition"`, `"Loop"` or `"Router"`.
    pub step_type: String,
    /// `"agent"`, `"function"` or `"parallel"`; null for the other constructs.
    pub executor_type: Option<String>,
    /// The agent's name, the function step's name, or the Parallel's name.
    pub executor_name: Option<String>,
    /// The agent run's id.
    pub step_run_id: Option<String>,
    /// Media (unused, null).
    pub images: Option<Vec<Value>>,
    /// Media (unused, null).
    pub videos: Option<Vec<Value>>,
    /// Media (unused, null).
    pub audio: Option<Vec<Value>>,
    /// Media (unused, null).
    pub files: Option<Vec<Value>>,
    /// The agent run's metrics.
    pub metrics: Option<RunMetrics>,
    /// False when the step failed.
    pub success: bool,
    /// The failure, if any.
    pub error: Option<String>,
    /// Whether the step asked the workflow to stop.
    pub stop: bool,
    /// Whether the step is paused for a human.
    pub is_paused: bool,
    /// The outputs of a construct's children (Steps, Parallel, Condition, Loop, Router), in
    /// order; absent for a single step, as in agno.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub steps: Option<Vec<StepOutput>>,
}

impl StepOutput {
    /// What a function step returns: this content, successful. The workflow fills in the
    /// step's name, id and type.
    ///
    /// ```
    /// use agentos::StepOutput;
    /// let out = StepOutput::new("42 sources found").with_stop(true);
    /// assert_eq!(out.content.as_deref(), Some("42 sources found"));
    /// assert!(out.success && out.stop);
    /// ```
    pub fn new(content: impl Into<String>) -> StepOutput {
        StepOutput {
            content: Some(content.into()),
            step_name: String::new(),
            step_id: String::new(),
            step_type: "Step".to_owned(),
            executor_type: None,
            executor_name: None,
            step_run_id: None,
            images: None,
            videos: None,
            audio: None,
            files: None,
            metrics: None,
            success: true,
            error: None,
            stop: false,
            is_paused: false,
            steps: None,
        }
    }

    /// A failed result with this error (`success: false`); content is the error text.
    pub fn failure(error: impl Into<String>) -> StepOutput {
        let error = error.into();
        StepOutput {
            success: false,
            error: Some(error.clone()),
            ..StepOutput::new(error)
        }
    }

    /// `stop = true` ends the workflow after this step (agno's early termination).
    pub fn with_stop(mut self, stop: bool) -> StepOutput {
        self.stop = stop;
        self
    }

    /// The deepest last nested step (the step itself when it has no children), whose content
    /// agno takes as a workflow's final content.
    pub fn deepest(&self) -> &StepOutput {
        match self.steps.as_deref() {
            Some([.., last]) => last.deepest(),
            _ => self,
        }
    }

    /// The content of the deepest last nested step (see [`StepOutput::deepest`]).
    pub fn deepest_content(&self) -> Option<&str> {
        self.deepest().content.as_deref()
    }
}

/// One entry of `WorkflowRunOutput.metrics.steps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepMetrics {
    /// The step's name.
    pub step_name: String,
    /// `"agent"`.
    pub executor_type: String,
    /// The agent's name.
    pub executor_name: String,
    /// The agent run's metrics.
    pub metrics: RunMetrics,
}

/// `WorkflowRunOutput.metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkflowMetrics {
    /// Per-step metrics, by step name.
    pub steps: BTreeMap<String, StepMetrics>,
    /// Seconds the whole run took.
    pub duration: f64,
}

/// The output of a workflow run (agno's `WorkflowRunOutput.to_dict()`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkflowRunOutput {
    /// The message the run was started with.
    pub input: String,
    /// The last step's content (or the error text of a failed run): text, or, when the last
    /// step is an agent with an output type, its JSON object (see
    /// [`WorkflowRunOutput::content_as`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// `"str"`, or the output type's name when `content` is its object.
    pub content_type: String,
    /// The workflow's id.
    pub workflow_id: String,
    /// The workflow's name.
    pub workflow_name: String,
    /// This run's id.
    pub run_id: String,
    /// Its session.
    pub session_id: String,
    /// The user, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Current or final status.
    pub status: RunStatus,
    /// The error of a failed run (an agentos addition; agno has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Media (always empty).
    #[serde(default)]
    pub images: Vec<Value>,
    /// Media (always empty).
    #[serde(default)]
    pub videos: Vec<Value>,
    /// Media (always empty).
    #[serde(default)]
    pub audio: Vec<Value>,
    /// Media (always empty).
    #[serde(default)]
    pub files: Vec<Value>,
    /// One entry per executed step.
    #[serde(default)]
    pub step_results: Vec<StepOutput>,
    /// The agent and team runs behind the steps.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub step_executor_runs: Vec<ChildRun>,
    /// Per-step metrics and total duration (absent until the run ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<WorkflowMetrics>,
    /// Free-form metadata from the request (`metadata` form field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl WorkflowRunOutput {
    /// The content as text: a string as it is, an object as compact JSON; empty when there is
    /// none.
    pub fn content_text(&self) -> String {
        self.content.as_ref().map(value_text).unwrap_or_default()
    }

    /// The content as `T`: the last step's output type when it is an agent with
    /// `output_schema::<T>()`, or `String` for text.
    ///
    /// ```
    /// # use agentos::WorkflowRunOutput;
    /// # fn check(output: &WorkflowRunOutput) -> Result<(), serde_json::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Report { city: String, score: u32 }
    /// let report: Report = output.content_as()?;
    /// # let _ = (report.city, report.score);
    /// # Ok(())
    /// # }
    /// ```
    pub fn content_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(self.content.as_ref().unwrap_or(&Value::Null))
    }
}
