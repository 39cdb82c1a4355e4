//! Agents that know whom they talk to: the system and user messages built as agno builds them
//! (templates filled from the session state, dependencies, metadata and user id), the agent's
//! session state (defaults, the stored one, the request's; tools that change it), history by
//! messages and the chat history tool, and the run context in hooks and function steps.

use crate::helpers::{HookLog, TestApp, fast_retries, spawn_with};
use crate::mock_openai::MockOpenAi;
use agentos::{
    Agent, AgentOs, Hook, HookContext, HookError, Instructions, OpenAIChat, RunContext, Step,
    StepInput, StepOutput, ToolContext, Workflow, tool_fn,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn model(url: &str) -> OpenAIChat {
    OpenAIChat::new("gpt-5.2")
        .base_url(url)
        .api_key("test-key")
        .timeout(Duration::from_secs(30))
        .retry_policy(fast_retries())
}

async fn serve(agent: Agent, mock: Arc<MockOpenAi>) -> TestApp {
    spawn_with(AgentOs::new().agent(agent), mock, HookLog::default()).await
}

/// The messages of the last model request.
fn last_messages(mock: &MockOpenAi) -> Vec<Value> {
    let requests = mock.requests();
    requests.last().unwrap()["messages"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_prompt_is_built_as_agnos_with_its_templates_filled() {
    let mock = Arc::new(MockOpenAi::start().await);
    let agent = Agent::new("Concierge")
        .model(model(&mock.base_url()))
        .description("You are {user_name}'s concierge.")
        .instructions(["Greet {user_name} ({user_id}).", "Offer the {plan} plan."])
        .expected_output("  One sentence.  ")
        .additional_context("Hotel: {hotel}")
        .markdown(true)
        .add_name_to_context(true)
        .session_state(json!({"user_name": "guest"}).as_object().unwrap().clone())
        .add_session_state_to_context(true)
        .add_dependencies_to_context(true);
    let app = serve(agent, mock.clone()).await;
    let (status, run) = app
        .agent_run(
            "concierge",
            &[
                ("message", "Hello, I am {user_name} on {plan}"),
                ("user_id", "ana"),
                ("session_state", r#"{"user_name": "Ana"}"#),
                ("dependencies", r#"{"plan": "gold"}"#),
                (
                    "metadata",
                    r#"{"hotel": "not filled: after the templates"}"#,
                ),
            ],
        )
        .await;
    assert_eq!(status, 200, "{run}");
    let messages = last_messages(&mock);
    assert_eq!(
        messages[0]["content"],
        "You are Ana's concierge.\n\
         - Greet Ana (ana).\n\
         - Offer the gold plan.\n\n\
         <additional_information>\n\
         - Use markdown to format your answers.\n\
         - Your name is: Concierge.\n\
         </additional_information>\n\n\
         <expected_output>\nOne sentence.\n</expected_output>\n\n\
         Hotel: {hotel}\n\n\
         <session_state>\n{\"user_name\":\"Ana\"}\n</session_state>"
    );
    assert_eq!(
        messages[1]["content"],
        "Hello, I am Ana on gold\n\n<additional context>\n{\n  \"plan\": \"gold\"\n}\n</additional context>"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn instructions_can_be_a_function_of_the_run_context() {
    let mock = Arc::new(MockOpenAi::start().await);
    let agent = Agent::new("Greeter")
        .model(model(&mock.base_url()))
        .instructions_fn(|ctx: &RunContext| {
            let user = ctx.user_id.as_deref().unwrap_or("a guest");
            Instructions::from(format!("You are talking to {user} in {}.", ctx.session_id))
        });
    let app = serve(agent, mock.clone()).await;
    app.agent_run(
        "greeter",
        &[("message", "hi"), ("user_id", "bo"), ("session_id", "s9")],
    )
    .await;
    assert_eq!(
        last_messages(&mock)[0]["content"],
        "You are talking to bo in s9."
    );
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Item {
    /// What to add.
    item: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agents_tool_reads_and_writes_the_session_state_kept_across_its_runs() {
    let mock = Arc::new(MockOpenAi::start().await);
    let add = tool_fn(
        "add_to_cart",
        "Add an item to the cart.",
        |ctx: ToolContext, args: Item| async move {
            let cart = ctx.session_state.update(|state| {
                let cart = state.entry("cart").or_insert_with(|| json!([]));
                cart.as_array_mut().unwrap().push(json!(args.item));
                cart.clone()
            });
            Ok::<_, String>(format!(
                "{} has {cart}",
                ctx.user_id.clone().unwrap_or_default()
            ))
        },
    );
    let defaults = json!({"cart": [], "currency": "EUR", "prefs": {"size": "M", "color": "red"}});
    let agent = Agent::new("Shop")
        .model(model(&mock.base_url()))
        .session_state(defaults.as_object().unwrap().clone())
        .tool(add);
    let app = serve(agent, mock.clone()).await;

    mock.push_tool_calls(&[("add_to_cart", json!({"item": "apple"}))]);
    mock.push_reply("added");
    let fields = [
        ("message", "an apple"),
        ("session_id", "s1"),
        ("user_id", "ann"),
        ("session_state", r#"{"prefs": {"color": "blue"}}"#),
    ];
    let (_, run) = app.agent_run("shop", &fields).await;
    assert_eq!(run["tools"][0]["result"], r#"ann has ["apple"]"#, "{run}");
    // The model sees the tool's arguments only, not the context.
    let tools = &mock.requests()[0]["tools"];
    assert_eq!(
        tools[0]["function"]["parameters"]["required"],
        json!(["item"])
    );

    mock.push_tool_calls(&[("add_to_cart", json!({"item": "pear"}))]);
    mock.push_reply("added");
    let (_, run) = app
        .agent_run(
            "shop",
            &[
                ("message", "a pear"),
                ("session_id", "s1"),
                ("user_id", "ann"),
            ],
        )
        .await;
    assert_eq!(run["tools"][0]["result"], r#"ann has ["apple","pear"]"#);
    let (_, session) = app.get_json("/sessions/s1").await;
    assert_eq!(
        session["session_state"],
        json!({"cart": ["apple", "pear"], "currency": "EUR", "prefs": {"size": "M", "color": "blue"}}),
        "defaults < stored < request, merged key by key: {session}"
    );
    // Another session starts from the defaults.
    mock.push_tool_calls(&[("add_to_cart", json!({"item": "fig"}))]);
    mock.push_reply("added");
    let (_, run) = app
        .agent_run("shop", &[("message", "a fig"), ("session_id", "s2")])
        .await;
    assert_eq!(run["tools"][0]["result"], r#" has ["fig"]"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agentic_state_tool_updates_the_session_state() {
    let mock = Arc::new(MockOpenAi::start().await);
    let agent = Agent::new("Planner")
        .model(model(&mock.base_url()))
        .enable_agentic_state(true)
        .add_session_state_to_context(true);
    let app = serve(agent, mock.clone()).await;
    let (_, info) = app.get_json("/agents/planner").await;
    assert_eq!(info["tools"]["tools"][0]["name"], "update_session_state");

    mock.push_tool_calls(&[(
        "update_session_state",
        json!({"session_state_updates": {"shopping_list": ["milk", "eggs"]}}),
    )]);
    mock.push_reply("Noted.");
    let (_, run) = app
        .agent_run(
            "planner",
            &[("message", "milk and eggs"), ("session_id", "p1")],
        )
        .await;
    assert_eq!(
        run["tools"][0]["result"], r#"Updated session state: {"shopping_list":["milk","eggs"]}"#,
        "{run}"
    );
    let (_, session) = app.get_json("/sessions/p1").await;
    assert_eq!(
        session["session_state"],
        json!({"shopping_list": ["milk", "eggs"]})
    );
    app.agent_run(
        "planner",
        &[("message", "what is on it?"), ("session_id", "p1")],
    )
    .await;
    let system = last_messages(&mock)[0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        system
            .contains("<session_state>\n{\"shopping_list\":[\"milk\",\"eggs\"]}\n</session_state>"),
        "{system}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn history_counts_messages_and_the_chat_history_tool_reads_the_session() {
    let mock = Arc::new(MockOpenAi::start().await);
    let agent = Agent::new("Chat")
        .model(model(&mock.base_url()))
        .num_history_messages(1)
        .read_chat_history(true);
    let app = serve(agent, mock.clone()).await;
    for message in ["first", "second"] {
        app.agent_run("chat", &[("message", message), ("session_id", "c1")])
            .await;
    }
    mock.push_tool_calls(&[("get_chat_history", json!({"num_chats": 2}))]);
    mock.push_reply("read it");
    let (_, run) = app
        .agent_run("chat", &[("message", "third"), ("session_id", "c1")])
        .await;
    // One earlier message only: the last answer.
    let sent = &mock.requests()[mock.requests().len() - 2]["messages"];
    let roles: Vec<&str> = sent
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["assistant", "user"], "{sent}");
    assert_eq!(sent[0]["content"], "reply to: second");
    // The tool read the session's earlier messages: the last two.
    let result: Value = serde_json::from_str(run["tools"][0]["result"].as_str().unwrap()).unwrap();
    let texts: Vec<&str> = result
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["second", "reply to: second"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_and_function_steps_get_the_run_context() {
    let mock = Arc::new(MockOpenAi::start().await);
    let log = HookLog::default();
    let seen = log.clone();
    let inline = Hook::new("stamp", |ctx: HookContext| async move {
        let user = ctx.user_id.clone().unwrap_or_default();
        ctx.session_state.set("stamped_by", user);
        Ok::<(), HookError>(())
    })
    .inline();
    let background = Hook::new("audit", move |ctx: HookContext| {
        let seen = seen.clone();
        async move {
            seen.push(format!(
                "audit state={} deps={}",
                serde_json::to_string(&ctx.session_state).unwrap(),
                Value::Object(ctx.dependencies.clone())
            ));
            Ok::<(), HookError>(())
        }
    })
    .background();
    let greet = Step::function("greet", |input: StepInput| async move {
        let ctx = input.run_context();
        let tier = ctx.dependencies.get("tier").cloned().unwrap_or_default();
        ctx.session_state.set("greeted", true);
        Ok(StepOutput::new(format!(
            "hello {} ({tier}) in {}",
            ctx.user_id.as_deref().unwrap_or("?"),
            ctx.session_id
        )))
    });
    let writer = Agent::new("Writer")
        .model(model(&mock.base_url()))
        .post_hook(inline)
        .post_hook(background);
    let workflow = Workflow::new("greeting").steps([greet, Step::agent("write", writer)]);
    let os = AgentOs::new()
        .workflow(workflow)
        .hook_poll_interval(Duration::from_millis(20));
    let app = spawn_with(os, mock.clone(), log.clone()).await;
    let form = reqwest::multipart::Form::new()
        .text("message", "hi")
        .text("stream", "false")
        .text("user_id", "ana")
        .text("session_id", "g1")
        .text("dependencies", r#"{"tier": "gold"}"#);
    let run: Value = app
        .client
        .post(app.url("/workflows/greeting/runs"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(
        run["step_results"][0]["content"],
        "hello ana (\"gold\") in g1"
    );
    let (_, session) = app.get_json("/sessions/g1").await;
    assert_eq!(
        session["session_state"],
        json!({"greeted": true, "stamped_by": "ana"}),
        "the function step and the inline hook wrote the state: {session}"
    );
    // The background hook got the run's final state and its dependencies, from its job.
    assert!(
        log.wait_for(
            r#"audit state={"greeted":true,"stamped_by":"ana"} deps={"tier":"gold"}"#,
            Duration::from_secs(10)
        )
        .await,
        "{:?}",
        log.entries()
    );
}
