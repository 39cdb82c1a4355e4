"""agentos's /mcp driven by the official MCP Python SDK (`mcp` from PyPI), as Claude, IDEs and
agno users' own scripts reach an AgentOS.

    python mcp_client_suite.py BASE_URL SECURITY_KEY MODE

MODE is the SDK's connect mode: `legacy` (the initialize handshake) or `auto` (`server/discover`
first, the 2026-07-28 revision). The OS serves the workflow `analysis-workflow`, the agent
`assistant` (with the tool `add`) and no team. Prints what it checked; exits non-zero on the
first failure.
"""

import json
import sys

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

BASE, KEY, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
URL = f"{BASE}/mcp"
# One user per mode, so that each run of the suite finds its own session.
USER = f"mcp-user-{MODE}"
TOOLS = {
    "get_agentos_config",
    "run_agent",
    "run_team",
    "run_workflow",
    "continue_run",
    "cancel_run",
    "get_sessions",
    "get_session_runs",
}


def check(condition, what, got=None):
    if not condition:
        raise SystemExit(f"FAILED ({MODE}): {what}" + (f": {got!r}" if got is not None else ""))
    print(f"ok ({MODE}): {what}")


def text_of(result):
    return "".join(block.text for block in result.content if block.type == "text")


def client(headers):
    http = httpx2.AsyncClient(headers=headers, timeout=60)
    return Client(streamable_http_client(URL, http_client=http), mode=MODE)


async def refused_without_the_key():
    # The SDK reports an HTTP error without its status; the raw answer says what it was.
    async with httpx2.AsyncClient() as http:
        res = await http.post(URL, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                              headers={"Accept": "application/json, text/event-stream"})
    check(res.status_code == 401 and res.json() == {"detail": "Authorization header required"},
          "no key: 401 with agno's body", (res.status_code, res.text))
    try:
        async with client({}) as c:
            await c.list_tools()
    except BaseException:
        print(f"ok ({MODE}): no key: the SDK's client is refused")
        return
    raise SystemExit(f"FAILED ({MODE}): the server answered without the key")


async def main():
    await refused_without_the_key()
    async with client({"Authorization": f"Bearer {KEY}"}) as c:
        check(c.server_info is not None and c.server_info.name == "AgentOS", "server name", c.server_info)
        print(f"   protocol {c.protocol_version}")

        listed = await c.list_tools()
        names = {t.name for t in listed.tools}
        check(names == TOOLS, "agno's tool set", sorted(names))
        run_workflow = next(t for t in listed.tools if t.name == "run_workflow")
        schema = run_workflow.input_schema
        check(schema["required"] == ["workflow_id", "message"], "run_workflow requires its id and message", schema)
        check(set(schema["properties"]) == {"workflow_id", "message", "user_id", "session_id"},
              "run_workflow's arguments", schema["properties"])
        check(run_workflow.annotations.destructive_hint is True and run_workflow.title == "Run Workflow",
              "run_workflow's annotations and title", run_workflow.annotations)

        config = await c.call_tool("get_agentos_config", {})
        check(not config.is_error, "get_agentos_config answers", text_of(config))
        body = config.structured_content
        check(json.loads(text_of(config)) == body, "the config as text and as structured content")
        check([w["id"] for w in body["workflows"]] == ["analysis-workflow"], "workflows listed", body["workflows"])
        check([a["id"] for a in body["agents"]] == ["assistant"], "agents listed", body["agents"])
        check([t["id"] for t in body["teams"]] == ["research-team"] and len(body["databases"]) == 1,
              "teams listed, one database", body)

        steps = []

        async def on_progress(progress, total, message):
            steps.append(message)

        run = await c.call_tool(
            "run_workflow",
            {"workflow_id": "analysis-workflow", "message": "MCP is a protocol", "user_id": USER},
            progress_callback=on_progress,
        )
        check(not run.is_error, "run_workflow answers", text_of(run))
        out = run.structured_content
        check(out["status"] == "COMPLETED" and out["workflow_id"] == "analysis-workflow", "the run completed", out)
        check(text_of(run) == out["content"] and "MCP is a protocol" in out["content"],
              "the workflow's content, as text and structured", out)
        check(steps[0] == "Workflow started" and "Step started: Analyzer (1/2)" in steps
              and "Step completed: Summarizer (2/2)" in steps, "progress per step", steps)
        session_id, run_id = out["session_id"], out["run_id"]

        sessions = await c.call_tool("get_sessions", {"session_type": "workflow", "user_id": USER})
        check(not sessions.is_error, "get_sessions answers", text_of(sessions))
        page = sessions.structured_content
        check([s["session_id"] for s in page["data"]] == [session_id], "the run's session listed", page)
        check(page["data"][0]["workflow_id"] == "analysis-workflow" and page["meta"]["total_count"] == 1,
              "the session's workflow and the page's count", page)

        history = await c.call_tool("get_session_runs", {"session_id": session_id})
        check(not history.is_error, "get_session_runs answers", text_of(history))
        runs = history.structured_content["result"]
        check([r["run_id"] for r in runs] == [run_id] and runs[0]["content"] == out["content"],
              "the session's run, with its content", runs)
        one = await c.call_tool("get_session_runs", {"session_id": session_id, "run_id": run_id})
        check(one.structured_content["result"][0]["run_id"] == run_id
              and "step_executor_runs" in one.structured_content["result"][0], "one run in full")

        agent_steps = []

        async def on_agent_progress(progress, total, message):
            agent_steps.append(message)

        agent = await c.call_tool("run_agent", {"agent_id": "assistant", "message": "add 2 and 3"},
                                  progress_callback=on_agent_progress)
        check(not agent.is_error and agent.structured_content["agent_id"] == "assistant", "run_agent answers",
              text_of(agent))
        check("Tool call started: add" in agent_steps, "progress per tool call", agent_steps)

        team = await c.call_tool("run_team", {"team_id": "research-team", "message": "hi"})
        check(not team.is_error and team.structured_content["team_id"] == "research-team"
              and team.structured_content["content"] == "The team's report.", "run_team answers", text_of(team))
        team = await c.call_tool("run_team", {"team_id": "nobody", "message": "hi"})
        check(team.is_error and "Team nobody not found" in text_of(team), "run_team: unknown team",
              text_of(team))
        missing = await c.call_tool("run_workflow", {"message": "no id"})
        check(missing.is_error and "workflow_id" in text_of(missing), "a missing argument is named",
              text_of(missing))

        again = await c.call_tool("continue_run", {"run_id": run_id, "session_id": session_id,
                                                   "workflow_id": "analysis-workflow"})
        check(again.is_error and "not paused" in text_of(again), "continue_run: the run is not paused",
              text_of(again))
        cancel = await c.call_tool("cancel_run", {"run_id": run_id, "workflow_id": "analysis-workflow"})
        check(not cancel.is_error and text_of(cancel) == f"Run {run_id} cancellation requested"
              and cancel.structured_content == {"result": text_of(cancel)}, "cancel_run", text_of(cancel))
        both = await c.call_tool("cancel_run", {"run_id": run_id, "agent_id": "assistant",
                                                "workflow_id": "analysis-workflow"})
        check(both.is_error and "exactly one" in text_of(both), "cancel_run: two owners refused", text_of(both))
    print(f"MCP CLIENT SUITE PASSED ({MODE})")


anyio.run(main)
