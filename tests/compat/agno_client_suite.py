"""agno's own Python client, driven against a running agentos.

Usage: python agno_client_suite.py <base_url> [--bearer TOKEN --other-bearer TOKEN]

With `--bearer`, every call carries `Authorization: Bearer TOKEN` (a JWT for the user `alice`;
agno's client takes headers on every method) against a server with JWT auth and per-user
isolation; `--other-bearer` is another user's token, who must see none of alice's sessions.

The server must serve (as `tests/agno_client.rs` sets it up):
- the agent `assistant` (with user memories on) and the seed workflow `analysis-workflow`,
  whose model is an OpenAI-compatible mock answering `reply to: <last user message>` (and a
  message with `[echo-system]` with the system message it was sent, and a memory manager with
  one `add_memory` call keeping the user's message);
- the agent `slow-assistant` and the workflow `slow-workflow`, whose model never answers in
  time, so that their runs can be cancelled while in flight;
- the knowledge base `docs` (an offline embedder), attached to `assistant` and to
  `knowledge-agent`, whose model calls `search_knowledge_base` with the user's message and then
  answers with what the tool returned.
- tracing on (`AgentOs::tracing(true)`), for agno's traces API.
- the team `research-team` (a scripted leader delegating `Research: <message>` to
  `researcher`, then `Write: <its answer>` to `writer`, then answering `Report: <the writer's
  answer>`; members on the mock), and the team `slow-team`, whose member never answers in
  time.

Every check is one named step. A failing step prints what was called, what was expected and
what the server answered, and the next steps still run. Exit status 0 only if every step passed.
"""

import argparse
import asyncio
import inspect
import json
import logging
import sys
import traceback
import uuid

import httpx
from agno.client import AgentOSClient
from agno.db.base import SessionType
from agno.media import File
from agno.os.routers.traces.schemas import TraceSearchGroupBy

AGENT = "assistant"
SLOW_AGENT = "slow-assistant"
WORKFLOW = "analysis-workflow"
SLOW_WORKFLOW = "slow-workflow"
KNOWLEDGE_AGENT = "knowledge-agent"
HANDBOOK = "Employees accrue twenty-five vacation days per year, booked through the HR portal."
GUIDE = "# Expenses\n\nSubmit expense receipts within thirty days of purchase."
TEAM = "research-team"
SLOW_TEAM = "slow-team"


class WithHeaders:
    """agno's client with `headers=` given to every method that takes them (all do)."""

    def __init__(self, client, headers):
        self._client = client
        self._headers = headers

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not self._headers or name.startswith("_") or not callable(attr):
            return attr
        if "headers" not in inspect.signature(attr).parameters:
            return attr

        def call(*args, **kwargs):
            kwargs.setdefault("headers", self._headers)
            return attr(*args, **kwargs)

        return call


class SuiteFailure(Exception):
    """A check that did not hold."""


def expect(condition, message):
    if not condition:
        raise SuiteFailure(message)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise SuiteFailure(f"{what}: expected {expected!r}, got {actual!r}")


def status_of(obj):
    """`RunStatus.completed` or "COMPLETED" -> "COMPLETED"."""
    status = getattr(obj, "status", obj)
    return getattr(status, "value", status)


def describe_http_error(e):
    """The request agno's client sent and what the server answered."""
    request = e.request
    try:
        sent = request.content.decode("utf-8", "replace")
    except httpx.RequestNotRead:
        sent = "<streamed>"
    try:
        answered = e.response.text[:500]
    except httpx.ResponseNotRead:
        answered = "<streamed response, body not read>"
    return (
        f"{request.method} {request.url} (body {sent[:300]!r}) -> "
        f"{e.response.status_code} {answered}"
    )


class ErrorLogCounter(logging.Handler):
    """Counts the errors agno's client logs, e.g. an SSE line it could not parse (which it then
    skips silently)."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())


class Suite:
    def __init__(self, base_url, bearer=None, other_bearer=None):
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        self.other_headers = {"Authorization": f"Bearer {other_bearer}"} if other_bearer else {}
        self.jwt = bool(bearer)
        self.client = WithHeaders(AgentOSClient(base_url=self.base_url, timeout=60.0), self.headers)
        self.results = []
        self.tag = uuid.uuid4().hex[:8]
        self.agent_session = f"agent-{self.tag}"
        self.workflow_session = f"workflow-{self.tag}"
        self.agent_runs = []
        self.workflow_runs = []
        self.cancelled_agent = None
        self.cancelled_workflow = None
        self.team_session = f"team-{self.tag}"
        self.team_run_id = None
        self.cancelled_team = None
        self.agno_errors = ErrorLogCounter()
        logging.getLogger("agno").addHandler(self.agno_errors)

    async def step(self, name, func):
        before = len(self.agno_errors.records)
        try:
            await func()
            logged = self.agno_errors.records[before:]
            expect(not logged, f"agno's client logged errors: {logged}")
        except httpx.HTTPStatusError as e:
            self.fail(name, describe_http_error(e))
            return
        except SuiteFailure as e:
            self.fail(name, str(e))
            return
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the suite goes on
            self.fail(name, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}")
            return
        self.results.append((name, True))
        print(f"ok    {name}", flush=True)

    def fail(self, name, detail):
        self.results.append((name, False))
        print(f"FAIL  {name}: {detail}", flush=True)

    # ------------------------------------------------------------------ discovery

    async def config(self):
        config = self.client.get_config()
        expect(config.os_id, "config.os_id is empty")
        agent_ids = [a.id for a in config.agents]
        workflow_ids = [w.id for w in config.workflows]
        expect(AGENT in agent_ids, f"config.agents lacks {AGENT!r}: {agent_ids}")
        expect(WORKFLOW in workflow_ids, f"config.workflows lacks {WORKFLOW!r}: {workflow_ids}")
        again = await self.client.aget_config()
        expect_eq(again.os_id, config.os_id, "aget_config().os_id")

    async def agents(self):
        listed = await self.client.list_agents()
        ids = [a.id for a in listed]
        expect(AGENT in ids and SLOW_AGENT in ids, f"list_agents() ids: {ids}")
        agent = self.client.get_agent(AGENT)
        expect_eq(agent.id, AGENT, "get_agent().id")
        expect_eq(agent.name, "Assistant", "get_agent().name")
        agent = await self.client.aget_agent(AGENT)
        expect_eq(agent.id, AGENT, "aget_agent().id")
        try:
            await self.client.aget_agent("nobody")
        except httpx.HTTPStatusError as e:
            expect_eq(e.response.status_code, 404, "aget_agent() of an unknown agent")
        else:
            raise SuiteFailure("aget_agent() of an unknown agent did not fail")

    async def workflows(self):
        listed = await self.client.list_workflows()
        ids = [w.id for w in listed]
        expect(WORKFLOW in ids, f"list_workflows() ids: {ids}")
        workflow = self.client.get_workflow(WORKFLOW)
        expect_eq(workflow.id, WORKFLOW, "get_workflow().id")
        expect_eq(workflow.name, "AnalysisWorkflow", "get_workflow().name")
        workflow = await self.client.aget_workflow(WORKFLOW)
        expect_eq(workflow.description, "Analyzes input and provides a summary", "description")

    # ------------------------------------------------------------------ agent runs

    async def agent_run(self):
        run = await self.client.run_agent(
            AGENT, "hello agent", session_id=self.agent_session, user_id="alice"
        )
        self.agent_runs.append(run.run_id)
        expect_eq(status_of(run), "COMPLETED", "run_agent().status")
        expect_eq(run.content, "reply to: hello agent", "run_agent().content")
        expect_eq(run.session_id, self.agent_session, "run_agent().session_id")
        expect_eq(run.agent_id, AGENT, "run_agent().agent_id")
        expect(run.run_id, "run_agent().run_id is empty")
        # The session carries over: a second run in it is another run of the same session.
        second = await self.client.run_agent(
            AGENT, "hello again", session_id=self.agent_session, user_id="alice"
        )
        self.agent_runs.append(second.run_id)
        expect_eq(second.session_id, self.agent_session, "second run_agent().session_id")
        expect(second.run_id != run.run_id, "the second run has the first run's run_id")
        expect_eq(second.content, "reply to: hello again", "second run_agent().content")

    async def agent_stream(self):
        events = []
        async for event in self.client.run_agent_stream(
            AGENT, "stream please", session_id=self.agent_session, user_id="alice"
        ):
            events.append(event)
        names = [e.event for e in events]
        expect(names, "run_agent_stream() yielded no events")
        self.agent_runs.append(events[0].run_id)
        expect_eq(names[0], "RunStarted", f"first event of {names}")
        expect_eq(names[-1], "RunCompleted", f"last event of {names}")
        expect("RunContent" in names, f"no RunContent in {names}")
        expect(
            names.index("RunStarted") < names.index("RunContent") < names.index("RunCompleted"),
            f"events out of order: {names}",
        )
        streamed = "".join(e.content or "" for e in events if e.event == "RunContent")
        expect_eq(streamed, "reply to: stream please", "the RunContent deltas joined")
        expect_eq(events[-1].content, "reply to: stream please", "RunCompleted.content")
        run_ids = {e.run_id for e in events}
        expect_eq(len(run_ids), 1, f"run ids across the stream {run_ids}")
        expect_eq({e.session_id for e in events}, {self.agent_session}, "session ids")

    # ------------------------------------------------------------------ knowledge

    async def wait_indexed(self, content_id):
        for _ in range(500):
            status = await self.client.get_knowledge_content_status(content_id)
            if status.status.value != "processing":
                return status
            await asyncio.sleep(0.02)
        raise SuiteFailure(f"content {content_id} still processing: {status}")

    async def knowledge_upload(self):
        config = await self.client.get_knowledge_config()
        expect("pdf" in config.readers, f"get_knowledge_config().readers: {list(config.readers)}")
        expect(".docx" in config.readersForType, f"readersForType: {config.readersForType}")
        text = await self.client.upload_knowledge_content(
            name="handbook", text_content=HANDBOOK, metadata={"team": "hr"}
        )
        expect_eq(text.status.value, "processing", "upload_knowledge_content().status")
        expect_eq(text.name, "handbook", "upload_knowledge_content().name")
        self.knowledge_text = text.id
        guide = await self.client.upload_knowledge_content(
            file=File(content=GUIDE.encode(), filename="expenses.md", mime_type="text/markdown"),
            metadata={"team": "finance"},
        )
        expect_eq(guide.name, "expenses.md", "the uploaded file's name")
        self.knowledge_file = guide.id
        for content_id in (text.id, guide.id):
            status = await self.wait_indexed(content_id)
            expect_eq(status.status.value, "completed", f"status of {content_id}")
            expect_eq(status.status_message, "", "status_message")
        listed = await self.client.list_knowledge_content(limit=10)
        expect_eq(listed.meta.total_count, 2, "list_knowledge_content().meta.total_count")
        expect_eq({c.id for c in listed.data}, {text.id, guide.id}, "listed ids")
        one = await self.client.get_knowledge_content(guide.id)
        expect_eq(one.type, "text/markdown", "get_knowledge_content().type")
        expect_eq(one.metadata, {"team": "finance"}, "get_knowledge_content().metadata")
        config = await self.client.get_knowledge_config()
        expect_eq(sorted(config.filters), ["team"], "get_knowledge_config().filters")

    async def knowledge_update_and_search(self):
        updated = await self.client.update_knowledge_content(
            self.knowledge_text, name="HR handbook", metadata={"team": "people"}
        )
        expect_eq(updated.name, "HR handbook", "update_knowledge_content().name")
        expect_eq(updated.metadata, {"team": "people"}, "update_knowledge_content().metadata")
        for search_type in ("vector", "keyword", "hybrid"):
            found = await self.client.search_knowledge(
                "how many vacation days", search_type=search_type, max_results=5
            )
            expect(found.data, f"search_knowledge({search_type}) found nothing")
            top = found.data[0]
            expect_eq(top.content_id, self.knowledge_text, f"top {search_type} hit")
            expect_eq(top.content, HANDBOOK, f"top {search_type} hit's content")
            expect_eq(top.meta_data.get("chunk"), 1, "the hit's chunk")
        filtered = await self.client.search_knowledge("receipts", filters={"team": "people"})
        expect(
            all(hit.content_id == self.knowledge_text for hit in filtered.data),
            f"filters ignored: {filtered.data}",
        )
        found = await self.client.search_knowledge("receipts", search_type="keyword")
        expect_eq(found.data[0].content_origin, "expenses.md", "content_origin")
        expect_eq(found.data[0].meta_data.get("section"), "Expenses", "the chunk's section")

    async def knowledge_agent(self):
        run = await self.client.run_agent(KNOWLEDGE_AGENT, "vacation days per year")
        expect_eq(status_of(run), "COMPLETED", "run_agent(knowledge-agent).status")
        tools = run.tools or []
        expect(tools, f"the agent called no tool: {run}")
        expect_eq(tools[0].tool_name, "search_knowledge_base", "the tool called")
        expect(HANDBOOK in (tools[0].result or ""), f"the tool result: {tools[0].result!r}")
        expect(HANDBOOK in str(run.content), f"the answer: {run.content!r}")

    async def knowledge_delete(self):
        deleted = await self.client.delete_knowledge_content(self.knowledge_file)
        expect_eq(deleted.id, self.knowledge_file, "delete_knowledge_content().id")
        try:
            await self.client.get_knowledge_content(self.knowledge_file)
        except httpx.HTTPStatusError as e:
            expect_eq(e.response.status_code, 404, "get_knowledge_content() after delete")
        else:
            raise SuiteFailure("a deleted content item is still there")
        result = await self.client.delete_all_knowledge_content()
        expect_eq(result, "success", "delete_all_knowledge_content()")
        listed = await self.client.list_knowledge_content()
        expect_eq(listed.meta.total_count, 0, "content left after delete_all_knowledge_content()")

    # ------------------------------------------------------------------ workflow runs

    async def workflow_run(self):
        run = await self.client.run_workflow(
            WORKFLOW, "hello workflow", session_id=self.workflow_session, user_id="alice"
        )
        self.workflow_runs.append(run.run_id)
        expect_eq(status_of(run), "COMPLETED", "run_workflow().status")
        expect_eq(run.content, "reply to: reply to: hello workflow", "run_workflow().content")
        expect_eq(run.session_id, self.workflow_session, "run_workflow().session_id")
        expect_eq(run.workflow_id, WORKFLOW, "run_workflow().workflow_id")
        steps = [s.step_name for s in run.step_results or []]
        expect_eq(steps, ["Analyzer", "Summarizer"], "run_workflow() step names")
        expect_eq(run.step_results[0].content, "reply to: hello workflow", "first step content")

    async def workflow_stream(self):
        events = []
        async for event in self.client.run_workflow_stream(
            WORKFLOW, "stream workflow", session_id=self.workflow_session, user_id="alice"
        ):
            events.append(event)
        names = [e.event for e in events]
        expect(names, "run_workflow_stream() yielded no events")
        self.workflow_runs.append(events[0].run_id)
        expect_eq(names[0], "WorkflowStarted", f"first event of {names}")
        expect_eq(names[-1], "WorkflowCompleted", f"last event of {names}")
        steps = [
            (e.event, e.step_name) for e in events if e.event in ("StepStarted", "StepCompleted")
        ]
        expect_eq(
            steps,
            [
                ("StepStarted", "Analyzer"),
                ("StepCompleted", "Analyzer"),
                ("StepStarted", "Summarizer"),
                ("StepCompleted", "Summarizer"),
            ],
            "the steps' events in order",
        )
        expect_eq(names.count("RunCompleted"), 2, f"one RunCompleted per agent step in {names}")
        done = events[-1]
        expect_eq(done.content, "reply to: reply to: stream workflow", "WorkflowCompleted.content")
        expect_eq(done.session_id, self.workflow_session, "WorkflowCompleted.session_id")
        workflow_events = [e for e in events if e.event.startswith(("Workflow", "Step"))]
        expect_eq(
            {e.run_id for e in workflow_events}, {done.run_id}, "run ids of the workflow events"
        )

    # ------------------------------------------------------------------ cancel

    async def cancel(self, kind, component, run_id, session):
        """agno's client cancels by run id alone. Under per-user isolation agno requires the
        run's session too (400 without it), which its client cannot send: then the cancel goes
        with `?session_id=` over plain HTTP, with the same bearer."""
        cancel = {
            "agents": self.client.cancel_agent_run,
            "teams": self.client.cancel_team_run,
            "workflows": self.client.cancel_workflow_run,
        }[kind]
        if not self.jwt:
            await cancel(component, run_id)
            return
        try:
            await cancel(component, run_id)
        except httpx.HTTPStatusError as e:
            expect_eq(e.response.status_code, 400, "a cancel without its session")
            expect_eq(
                e.response.json(), {"detail": "session_id is required for this action"}, "body"
            )
        else:
            raise SuiteFailure("a cancel without session_id was accepted under isolation")
        async with httpx.AsyncClient(base_url=self.base_url, headers=self.headers) as http:
            url = f"/{kind}/{component}/runs/{run_id}/cancel"
            response = await http.post(url, params={"session_id": session})
            response.raise_for_status()

    async def cancel_agent(self):
        session = f"slow-agent-{self.tag}"
        events = []
        cancelled = False
        async for event in self.client.run_agent_stream(
            SLOW_AGENT, "never mind", session_id=session
        ):
            events.append(event)
            if not cancelled and event.event == "ModelRequestStarted":
                await self.cancel("agents", SLOW_AGENT, event.run_id, session)
                cancelled = True
        names = [e.event for e in events]
        expect(cancelled, f"no ModelRequestStarted to cancel at: {names}")
        expect_eq(names[-1], "RunCancelled", f"last event of {names}")
        self.cancelled_agent = (session, events[0].run_id)

    async def cancel_workflow(self):
        session = f"slow-workflow-{self.tag}"
        events = []
        cancelled = False
        async for event in self.client.run_workflow_stream(
            SLOW_WORKFLOW, "never mind", session_id=session
        ):
            events.append(event)
            if not cancelled and event.event == "ModelRequestStarted":
                await self.cancel("workflows", SLOW_WORKFLOW, events[0].run_id, session)
                cancelled = True
        names = [e.event for e in events]
        expect(cancelled, f"no ModelRequestStarted to cancel at: {names}")
        expect_eq(names[-2:], ["WorkflowCancelled", "WorkflowCompleted"], f"the end of {names}")
        self.cancelled_workflow = (session, events[0].run_id)

    # ------------------------------------------------------------------ sessions

    async def sessions_listed(self):
        page = await self.client.get_sessions(session_type=SessionType.WORKFLOW, limit=100)
        ids = [s.session_id for s in page.data]
        expect(self.workflow_session in ids, f"workflow sessions {ids}")
        mine = next(s for s in page.data if s.session_id == self.workflow_session)
        expect_eq(mine.workflow_id, WORKFLOW, "the listed workflow session's workflow_id")
        expect_eq(mine.user_id, "alice", "the listed workflow session's user_id")
        expect(page.meta.total_count >= 1, f"meta.total_count {page.meta.total_count}")

        page = await self.client.get_sessions(
            session_type=SessionType.AGENT, component_id=AGENT, user_id="alice"
        )
        ids = [s.session_id for s in page.data]
        expect(self.agent_session in ids, f"agent sessions of alice {ids}")
        expect(self.workflow_session not in ids, f"a workflow session among agent sessions {ids}")
        mine = next(s for s in page.data if s.session_id == self.agent_session)
        expect_eq(mine.agent_id, AGENT, "the listed agent session's agent_id")

    async def session_detail(self):
        detail = await self.client.get_session(self.workflow_session)
        expect_eq(type(detail).__name__, "WorkflowSessionDetailSchema", "get_session() schema")
        expect_eq(detail.session_id, self.workflow_session, "get_session().session_id")
        expect_eq(detail.workflow_id, WORKFLOW, "get_session().workflow_id")
        detail = await self.client.get_session(self.agent_session, session_type=SessionType.AGENT)
        expect_eq(type(detail).__name__, "AgentSessionDetailSchema", "get_session() schema")
        expect_eq(detail.agent_id, AGENT, "get_session().agent_id")
        expect_eq(detail.user_id, "alice", "get_session().user_id")

    async def session_runs(self):
        runs = await self.client.get_session_runs(self.workflow_session)
        expect_eq([r.run_id for r in runs], self.workflow_runs, "workflow session run ids")
        expect_eq([type(r).__name__ for r in runs], ["WorkflowRunSchema"] * 2, "run schemas")
        expect_eq([status_of(r) for r in runs], ["COMPLETED"] * 2, "workflow run statuses")
        expect_eq(runs[0].content, "reply to: reply to: hello workflow", "first run content")
        expect_eq(runs[0].run_input, "hello workflow", "first run input")

        runs = await self.client.get_session_runs(
            self.agent_session, session_type=SessionType.AGENT
        )
        expect_eq([r.run_id for r in runs], self.agent_runs, "agent session run ids")
        expect_eq([type(r).__name__ for r in runs], ["RunSchema"] * 3, "run schemas")
        expect_eq(
            [r.content for r in runs],
            ["reply to: hello agent", "reply to: hello again", "reply to: stream please"],
            "agent run contents",
        )

        run = await self.client.get_session_run(self.agent_session, self.agent_runs[0])
        expect_eq(run.run_id, self.agent_runs[0], "get_session_run().run_id")
        expect_eq(run.agent_id, AGENT, "get_session_run().agent_id")
        run = await self.client.get_session_run(self.workflow_session, self.workflow_runs[1])
        expect_eq(type(run).__name__, "WorkflowRunSchema", "get_session_run() schema")
        expect_eq(run.content, "reply to: reply to: stream workflow", "get_session_run().content")

    async def run_previews(self):
        previews = await self.client.aget_session_run_previews(self.workflow_session)
        expect_eq([p.run_id for p in previews], self.workflow_runs, "run preview ids")
        first = previews[0]
        expect_eq(type(first).__name__, "SessionRunPreviewSchema", "run preview schema")
        expect_eq(first.workflow_id, WORKFLOW, "run preview workflow_id")
        expect_eq(first.run_input, "hello workflow", "run preview run_input")
        expect_eq(first.content_preview, "reply to: reply to: hello workflow", "content_preview")
        expect_eq(first.status, "COMPLETED", "run preview status")
        expect(first.created_at is not None, "run preview created_at")
        # The sync variant, with a status filter.
        previews = self.client.get_session_run_previews(
            self.agent_session, session_type=SessionType.AGENT, status=["completed"]
        )
        expect_eq([p.run_id for p in previews], self.agent_runs, "agent run preview ids")
        expect_eq(previews[0].agent_id, AGENT, "agent run preview agent_id")

    async def session_created(self):
        session = f"created-{self.tag}"
        created = await self.client.create_session(
            session_type=SessionType.AGENT,
            session_id=session,
            session_name="Made by agno",
            session_state={"plan": "draft"},
            metadata={"source": "agno"},
            user_id="bob",
        )
        expect_eq(type(created).__name__, "AgentSessionDetailSchema", "create_session() schema")
        expect_eq(created.session_id, session, "create_session().session_id")
        expect_eq(created.session_name, "Made by agno", "create_session().session_name")
        expect_eq(created.session_state, {"plan": "draft"}, "create_session().session_state")
        expect_eq(created.metadata, {"source": "agno"}, "create_session().metadata")
        # With a JWT, the token's user owns what it creates (agno: request state wins).
        expect_eq(created.user_id, "alice" if self.jwt else "bob", "create_session().user_id")
        expect_eq(created.chat_history, [], "create_session().chat_history")
        try:
            await self.client.create_session(session_type=SessionType.AGENT, session_id=session)
        except httpx.HTTPStatusError as e:
            expect_eq(e.response.status_code, 409, "create_session() with a taken id")
        else:
            raise SuiteFailure("create_session() with a taken id succeeded")

        # Its first run names the agent; the name it was created with stays.
        run = await self.client.run_agent(AGENT, "hello created", session_id=session)
        expect_eq(status_of(run), "COMPLETED", "a run in the created session")
        detail = await self.client.get_session(session)
        expect_eq(detail.agent_id, AGENT, "the created session's agent after its first run")
        expect_eq(detail.session_name, "Made by agno", "the created session's name")
        runs = await self.client.get_session_runs(session)
        expect_eq([r.run_id for r in runs], [run.run_id], "the created session's runs")

        workflow = await self.client.create_session(
            session_type=SessionType.WORKFLOW, workflow_id=WORKFLOW
        )
        expect_eq(type(workflow).__name__, "WorkflowSessionDetailSchema", "workflow schema")
        expect_eq(workflow.workflow_id, WORKFLOW, "create_session().workflow_id")
        expect(workflow.session_id, "a session id is made when none is given")

    async def cancelled_runs_stored(self):
        expect(self.cancelled_agent, "the agent cancel step did not get a run")
        session, run_id = self.cancelled_agent
        run = await self.client.get_session_run(session, run_id, session_type=SessionType.AGENT)
        expect_eq(status_of(run), "CANCELLED", "the cancelled agent run's stored status")
        expect(self.cancelled_workflow, "the workflow cancel step did not get a run")
        session, run_id = self.cancelled_workflow
        run = await self.client.get_session_run(session, run_id, session_type=SessionType.WORKFLOW)
        expect_eq(status_of(run), "CANCELLED", "the cancelled workflow run's stored status")

    async def rename(self):
        renamed = await self.client.rename_session(self.workflow_session, "Renamed by agno")
        expect_eq(renamed.session_name, "Renamed by agno", "rename_session().session_name")
        detail = await self.client.get_session(self.workflow_session)
        expect_eq(detail.session_name, "Renamed by agno", "the renamed session's name")
        updated = await self.client.update_session(
            self.agent_session, session_state={"topic": "greetings"}, metadata={"source": "agno"}
        )
        expect_eq(updated.session_state, {"topic": "greetings"}, "update_session().session_state")
        detail = await self.client.get_session(self.agent_session)
        expect_eq(detail.metadata, {"source": "agno"}, "the updated session's metadata")

    async def delete(self):
        await self.client.delete_session(self.agent_session)
        try:
            await self.client.get_session(self.agent_session)
        except httpx.HTTPStatusError as e:
            expect_eq(e.response.status_code, 404, "get_session() of a deleted session")
        else:
            raise SuiteFailure("get_session() still finds the deleted session")
        page = await self.client.get_sessions(session_type=SessionType.AGENT, limit=100)
        ids = [s.session_id for s in page.data]
        expect(self.agent_session not in ids, f"the deleted session is still listed: {ids}")

        # Several at once.
        targets = [self.cancelled_agent, self.cancelled_workflow]
        expect(all(targets), "the cancel steps did not leave sessions to delete")
        await self.client.delete_sessions(
            [targets[0][0], targets[1][0]], [SessionType.AGENT, SessionType.WORKFLOW]
        )
        for session, _ in targets:
            runs = None
            try:
                runs = await self.client.get_session_runs(session)
            except httpx.HTTPStatusError as e:
                expect_eq(e.response.status_code, 404, f"runs of deleted session {session}")
            expect(runs is None, f"deleted session {session} still has runs {runs}")

    # ------------------------------------------------------------------ memories

    async def memories(self):
        user = f"mem-{self.tag}"
        other = f"other-{self.tag}"
        created = await self.client.create_memory(
            memory="Likes green tea", user_id=user, topics=["drinks"]
        )
        expect(created.memory_id, "create_memory().memory_id is empty")
        expect_eq(created.memory, "Likes green tea", "create_memory().memory")
        expect_eq(created.topics, ["drinks"], "create_memory().topics")
        expect_eq(created.user_id, user, "create_memory().user_id")
        expect(created.updated_at is not None, "create_memory().updated_at is missing")
        await self.client.create_memory(memory="Lives in Oslo", user_id=user, topics=["location"])
        await self.client.create_memory(memory="Likes coffee", user_id=other, topics=["drinks"])

        got = await self.client.get_memory(created.memory_id, user_id=user)
        expect_eq(got.memory, "Likes green tea", "get_memory().memory")
        listed = await self.client.list_memories(user_id=user)
        expect_eq(listed.meta.total_count, 2, "list_memories(user).meta.total_count")
        expect_eq(
            [m.memory for m in listed.data], ["Lives in Oslo", "Likes green tea"], "newest first"
        )
        drinks = await self.client.list_memories(user_id=user, topics=["drinks"])
        expect_eq([m.memory for m in drinks.data], ["Likes green tea"], "by topic")
        found = await self.client.list_memories(search_content="OSLO")
        expect_eq([m.memory for m in found.data], ["Lives in Oslo"], "by content")

        updated = await self.client.update_memory(
            created.memory_id, memory="Loves green tea", user_id=user, topics=["drinks", "tea"]
        )
        expect_eq(updated.memory, "Loves green tea", "update_memory().memory")
        topics = await self.client.get_memory_topics(user_id=user)
        expect_eq(sorted(topics), ["drinks", "location", "tea"], "get_memory_topics(user)")
        stats = await self.client.get_user_memory_stats(user_id=user)
        expect_eq(
            [(s.user_id, s.total_memories) for s in stats.data],
            [(user, 2)],
            "get_user_memory_stats(user)",
        )

        # Another user's memory is not found, as a missing one.
        try:
            await self.client.get_memory(created.memory_id, user_id=other)
        except httpx.HTTPStatusError as e:
            expect_eq(e.response.status_code, 404, "get_memory() of another user's memory")
        else:
            raise SuiteFailure("get_memory() of another user's memory did not fail")

        optimized = await self.client.optimize_memories(user_id=user, apply=True)
        expect_eq(optimized.memories_before, 2, "optimize_memories().memories_before")
        expect_eq(optimized.memories_after, 1, "optimize_memories().memories_after")
        listed = await self.client.list_memories(user_id=user)
        expect_eq(
            [m.memory_id for m in listed.data],
            [optimized.memories[0].memory_id],
            "the user's memories after optimize_memories()",
        )
        await self.client.delete_memory(listed.data[0].memory_id, user_id=user)
        listed = await self.client.list_memories(user_id=user)
        expect_eq(listed.data, [], "the user's memories after delete_memory()")
        theirs = await self.client.list_memories(user_id=other)
        expect_eq(len(theirs.data), 1, "the other user's memories, untouched")
        await self.client.delete_memories([m.memory_id for m in theirs.data], user_id=other)
        theirs = await self.client.list_memories(user_id=other)
        expect_eq(theirs.data, [], "the other user's memories after delete_memories()")

    async def memories_jwt(self):
        """Under per-user isolation a memory is the token's user's, whatever user_id the
        request names; another user's token neither lists nor reads it."""
        created = await self.client.create_memory(
            memory=f"Likes oolong {self.tag}", user_id="someone-else", topics=["drinks"]
        )
        expect_eq(created.user_id, "alice", "create_memory() under a token: the token's user")
        mine = await self.client.list_memories(user_id="someone-else")
        expect(
            created.memory_id in [m.memory_id for m in mine.data],
            "the token's user lists the memory",
        )
        other = WithHeaders(AgentOSClient(base_url=self.base_url, timeout=60.0), self.other_headers)
        theirs = await other.list_memories(user_id="alice")
        expect(
            created.memory_id not in [m.memory_id for m in theirs.data],
            "another user's token lists alice's memory",
        )
        try:
            await other.get_memory(created.memory_id, user_id="alice")
        except httpx.HTTPStatusError as e:
            expect_eq(e.response.status_code, 404, "another user's token reads alice's memory")
        else:
            raise SuiteFailure("another user's token read alice's memory")
        await self.client.delete_memory(created.memory_id, user_id="alice")

    async def memory_in_context(self):
        user = f"learner-{self.tag}"
        stranger = f"stranger-{self.tag}"
        fact = f"I love jazz {self.tag}"
        await self.client.run_agent(AGENT, fact, session_id=f"learn-{self.tag}", user_id=user)
        # The memory manager runs after the response, in the background.
        learned = []
        for _ in range(200):
            listed = await self.client.list_memories(user_id=user)
            learned = [m.memory for m in listed.data if fact in m.memory]
            if learned:
                break
            await asyncio.sleep(0.05)
        expect(learned, f"no memory of {fact!r} for {user}")

        # The mock answers "[echo-system]" with the system message the model was sent.
        echo = await self.client.run_agent(
            AGENT, "[echo-system] what do you know?", session_id=f"recall-{self.tag}", user_id=user
        )
        expect(fact in (echo.content or ""), f"another session of {user}: {echo.content!r}")
        echo = await self.client.run_agent(
            AGENT,
            "[echo-system] what do you know?",
            session_id=f"stranger-{self.tag}",
            user_id=stranger,
        )
        expect(fact not in (echo.content or ""), f"{stranger} was sent: {echo.content!r}")

    # ------------------------------------------------------------------ teams

    async def teams(self):
        listed = await self.client.list_teams()
        ids = [t.id for t in listed]
        expect(TEAM in ids and SLOW_TEAM in ids, f"list_teams() ids: {ids}")
        mine = next(t for t in listed if t.id == TEAM)
        expect_eq(mine.name, "Research Team", "list_teams() name")
        expect_eq(mine.mode, "coordinate", "list_teams() mode")
        team = self.client.get_team(TEAM)
        expect_eq(team.id, TEAM, "get_team().id")
        expect_eq(team.mode, "coordinate", "get_team().mode")
        members = [m.id for m in team.members or []]
        expect_eq(members, ["researcher", "writer"], "get_team().members")
        tools = [t["name"] for t in team.tools["tools"]]
        expect_eq(tools, ["delegate_task_to_member"], "get_team().tools")
        team = await self.client.aget_team(TEAM)
        expect_eq(team.name, "Research Team", "aget_team().name")
        try:
            await self.client.aget_team("nobody")
        except httpx.HTTPStatusError as e:
            expect_eq(e.response.status_code, 404, "aget_team() of an unknown team")
        else:
            raise SuiteFailure("aget_team() of an unknown team did not fail")
        config = self.client.get_config()
        expect(TEAM in [t.id for t in config.teams], f"config.teams: {config.teams}")

    async def team_run(self):
        run = await self.client.run_team(
            TEAM, "hello team", session_id=self.team_session, user_id="alice"
        )
        self.team_run_id = run.run_id
        expect_eq(status_of(run), "COMPLETED", "run_team().status")
        expect_eq(
            run.content,
            "Report: reply to: Write: reply to: Research: hello team",
            "run_team().content",
        )
        expect_eq(run.team_id, TEAM, "run_team().team_id")
        expect_eq(run.session_id, self.team_session, "run_team().session_id")
        members = run.member_responses
        expect_eq([m.agent_id for m in members], ["researcher", "writer"], "member_responses")
        expect_eq(type(members[0]).__name__, "RunOutput", "a member run's type")
        expect_eq(members[0].content, "reply to: Research: hello team", "the researcher's answer")
        expect_eq({m.parent_run_id for m in members}, {run.run_id}, "members' parent_run_id")
        delegations = [t.tool_name for t in run.tools or []]
        expect_eq(delegations, ["delegate_task_to_member"] * 2, "the leader's tool calls")

    async def team_stream(self):
        events = []
        async for event in self.client.run_team_stream(
            TEAM, "stream team", session_id=self.team_session, user_id="alice"
        ):
            events.append(event)
        names = [e.event for e in events]
        expect(names, "run_team_stream() yielded no events")
        expect_eq(names[0], "TeamRunStarted", f"first event of {names}")
        expect_eq(names[-1], "TeamRunCompleted", f"last event of {names}")
        expect_eq(type(events[0]).__name__, "RunStartedEvent", "TeamRunStarted parsed")
        expect_eq(events[0].team_id, TEAM, "TeamRunStarted.team_id")
        expect_eq(names.count("TeamToolCallStarted"), 2, f"delegations in {names}")
        expect_eq(names.count("TeamToolCallCompleted"), 2, f"delegations in {names}")
        member_events = [e for e in events if getattr(e, "agent_id", None)]
        expect_eq(
            {e.agent_id for e in member_events if e.event == "RunCompleted"},
            {"researcher", "writer"},
            "the members' own RunCompleted",
        )
        expect_eq(
            {e.parent_run_id for e in member_events},
            {events[0].run_id},
            "the members' events name the team run",
        )
        done = events[-1]
        expect_eq(
            done.content,
            "Report: reply to: Write: reply to: Research: stream team",
            "TeamRunCompleted.content",
        )
        expect_eq(len(done.member_responses), 2, "TeamRunCompleted.member_responses")
        streamed = "".join(e.content or "" for e in events if e.event == "TeamRunContent")
        expect_eq(streamed, done.content, "the TeamRunContent deltas joined")

    async def cancel_team(self):
        session = f"slow-team-{self.tag}"
        events = []
        cancelled = False
        async for event in self.client.run_team_stream(SLOW_TEAM, "never mind", session_id=session):
            events.append(event)
            if not cancelled and event.event == "ModelRequestStarted":
                await self.cancel("teams", SLOW_TEAM, events[0].run_id, session)
                cancelled = True
        names = [e.event for e in events]
        expect(cancelled, f"no member ModelRequestStarted to cancel at: {names}")
        expect_eq(names[-1], "TeamRunCancelled", f"last event of {names}")
        expect("RunCancelled" in names, f"the member's own RunCancelled in {names}")
        self.cancelled_team = (session, events[0].run_id)

    async def team_sessions(self):
        page = await self.client.get_sessions(session_type=SessionType.TEAM, component_id=TEAM)
        ids = [s.session_id for s in page.data]
        expect(self.team_session in ids, f"team sessions {ids}")
        mine = next(s for s in page.data if s.session_id == self.team_session)
        expect_eq(mine.team_id, TEAM, "the listed team session's team_id")
        detail = await self.client.get_session(self.team_session)
        expect_eq(type(detail).__name__, "TeamSessionDetailSchema", "the team session's schema")
        expect_eq(detail.team_id, TEAM, "get_session().team_id")
        runs = await self.client.get_session_runs(self.team_session)
        kinds = [type(r).__name__ for r in runs]
        expect_eq(
            kinds,
            ["RunSchema", "RunSchema", "TeamRunSchema"] * 2,
            "a team session's runs: each team run after its members'",
        )
        expect_eq(runs[0].parent_run_id, self.team_run_id, "a member run's parent_run_id")
        expect_eq(runs[2].run_id, self.team_run_id, "the team run")
        expect_eq(runs[2].run_input, "hello team", "the team run's input")
        expect(self.cancelled_team, "the team cancel step did not get a run")
        session, run_id = self.cancelled_team
        run = await self.client.get_session_run(session, run_id, session_type=SessionType.TEAM)
        expect_eq(status_of(run), "CANCELLED", "the cancelled team run's stored status")
        runs = await self.client.get_session_runs(session)
        expect_eq(
            [status_of(r) for r in runs],
            ["CANCELLED", "CANCELLED"],
            "the cancelled team run and its member",
        )

    # ------------------------------------------------------------------ the cookbook's raw HTTP

    async def cookbook_raw_http(self):
        session = f"cookbook-{self.tag}"
        with httpx.Client(base_url=self.base_url, timeout=60.0, headers=self.headers) as http:
            health = http.get("/health")
            health.raise_for_status()
            expect_eq(health.json()["status"], "ok", "/health status")
            config = http.get("/config")
            config.raise_for_status()
            ids = {w["id"] for w in config.json()["workflows"]}
            expect(WORKFLOW in ids, f"/config workflows {ids}")

            # One complete, non-streamed run.
            response = http.post(
                f"/workflows/{WORKFLOW}/runs",
                data={"message": "raw and whole", "stream": "false", "session_id": session},
            )
            response.raise_for_status()
            completed = response.json()
            expect_eq(completed["status"], "COMPLETED", "non-streamed status")
            expect_eq(completed["content"], "reply to: reply to: raw and whole", "content")
            expect_eq(completed["session_id"], session, "non-streamed session_id")

            # A streamed run, its SSE read line by line.
            names = []
            run_id = None
            event_name = "message"
            last_payload = None
            with http.stream(
                "POST",
                f"/workflows/{WORKFLOW}/runs",
                data={"message": "raw and streamed", "stream": "true", "session_id": session},
            ) as response:
                response.raise_for_status()
                content_type = response.headers.get("content-type", "")
                expect("text/event-stream" in content_type, f"content-type {content_type!r}")
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event_name = line[len("event: ") :]
                        continue
                    if not line.startswith("data: "):
                        continue
                    payload = json.loads(line[len("data: ") :])
                    expect_eq(payload.get("event"), event_name, "the data's event vs event: line")
                    names.append(event_name)
                    last_payload = payload
                    run_id = run_id or payload.get("run_id")
                    if event_name == "WorkflowCompleted":
                        break
                    expect(
                        event_name not in ("WorkflowCancelled", "WorkflowError"),
                        f"the stream ended with {event_name}: {payload}",
                    )
            expect(run_id, f"no run_id in the stream {names}")
            expect_eq(names[0], "WorkflowStarted", f"first event of {names}")
            expect_eq(names[-1], "WorkflowCompleted", f"last event of {names}")
            expect_eq(last_payload["content"], "reply to: reply to: raw and streamed", "content")

            # The runs of the session, both of them.
            response = http.get(f"/workflows/{WORKFLOW}/runs", params={"session_id": session})
            response.raise_for_status()
            stored = response.json()
            stored_ids = [r["run_id"] for r in stored]
            expect_eq(stored_ids, [completed["run_id"], run_id], "runs listed by session")
            expect_eq([r["status"] for r in stored], ["COMPLETED"] * 2, "listed run statuses")

    async def other_user(self):
        """Another user's token sees none of alice's sessions and runs; no token, nothing."""
        other = WithHeaders(AgentOSClient(base_url=self.base_url, timeout=60.0), self.other_headers)
        page = await other.get_sessions(limit=100)
        ids = [s.session_id for s in page.data]
        expect(self.workflow_session not in ids, f"another user lists alice's session: {ids}")
        for call in (
            lambda: other.get_session(self.workflow_session),
            lambda: other.get_session_runs(self.workflow_session),
        ):
            try:
                await call()
            except httpx.HTTPStatusError as e:
                expect_eq(e.response.status_code, 404, "another user's session")
            else:
                raise SuiteFailure("another user read alice's session")
        with httpx.Client(base_url=self.base_url, timeout=60.0) as http:
            response = http.get("/sessions")
            expect_eq(response.status_code, 401, "no token")
            expect_eq(response.json(), {"detail": "Authorization header missing"}, "no token")
        info = await other.aget_config()
        expect(info.os_id, "another user reads the config")

    # ------------------------------------------------------------------ traces and metrics

    async def traces(self):
        run_id = self.agent_runs[0]
        # Spans are written in batches, about a second after they end.
        page = None
        for _ in range(100):
            page = await self.client.get_traces(run_id=run_id)
            if page.data:
                break
            await asyncio.sleep(0.1)
        expect(page.data, f"no trace of run {run_id}")
        summary = page.data[0]
        expect_eq(summary.run_id, run_id, "trace run_id")
        expect_eq(summary.agent_id, AGENT, "trace agent_id")
        expect_eq(summary.session_id, self.agent_session, "trace session_id")
        expect_eq(summary.status, "OK", "trace status")
        expect(summary.total_spans >= 2, f"a run and its model call at least: {summary}")
        expect_eq(page.meta.total_count, 1, "traces of the run")

        detail = await self.client.get_trace(summary.trace_id)
        expect_eq(detail.trace_id, summary.trace_id, "get_trace id")
        expect_eq(len(detail.tree), 1, "one root: the run")
        root = detail.tree[0]
        expect_eq(root.type, "AGENT", "root span type")
        kinds = [child.type for child in (root.spans or [])]
        expect("LLM" in kinds, f"a model call under the run: {kinds}")
        llm = next(c for c in root.spans if c.type == "LLM")
        expect_eq(llm.metadata.get("model"), "gpt-5.2", "the model call's model")
        node = await self.client.get_trace(summary.trace_id, span_id=llm.id)
        expect_eq(node.id, llm.id, "get_trace(span_id=...)")
        expect_eq(node.type, "LLM", "the span's type")

        found = await self.client.search_traces(
            filter_expr={"op": "AND", "conditions": [
                {"op": "EQ", "key": "run_id", "value": run_id},
                {"op": "IN", "key": "status", "values": ["OK", "ERROR"]},
            ]},
        )
        expect_eq([t.trace_id for t in found.data], [summary.trace_id], "search_traces by run")
        expect(found.data[0].tree, "search_traces answers span trees")
        sessions = await self.client.search_traces(
            filter_expr={"op": "EQ", "key": "agent_id", "value": AGENT},
            group_by=TraceSearchGroupBy.SESSION,
        )
        expect(
            any(s.session_id == self.agent_session for s in sessions.data),
            f"search_traces by session lacks {self.agent_session}: {sessions.data}",
        )
        stats = await self.client.get_trace_session_stats(agent_id=AGENT)
        mine = [s for s in stats.data if s.session_id == self.agent_session]
        expect(mine, f"get_trace_session_stats lacks {self.agent_session}")
        expect_eq(mine[0].total_traces, len(self.agent_runs), "traces of the agent session")

    async def usage_metrics(self):
        refreshed = await self.client.refresh_metrics()
        expect(isinstance(refreshed, list) and refreshed, f"refresh_metrics answered {refreshed}")
        today = refreshed[-1]
        expect(today.agent_runs_count >= len(self.agent_runs), f"agent runs counted: {today}")
        expect(today.workflow_runs_count >= 1, f"workflow runs counted: {today}")
        expect(today.token_metrics.get("input_tokens", 0) > 0, f"tokens counted: {today}")
        metrics = await self.client.get_metrics()
        expect(metrics.metrics, "get_metrics answered no day")
        expect_eq(metrics.metrics[-1].agent_runs_count, today.agent_runs_count, "get_metrics runs")
        status = await self.client.get_metrics_refresh_status()
        expect_eq(status.status, "completed", "refresh status")

    async def run(self):
        steps = [
            ("config", self.config),
            ("agents listed and fetched", self.agents),
            ("workflows listed and fetched", self.workflows),
            ("agent run (JSON), session carried over", self.agent_run),
            ("agent run (stream)", self.agent_stream),
            ("workflow run (JSON)", self.workflow_run),
            ("workflow run (stream)", self.workflow_stream),
            ("agent run cancelled in flight", self.cancel_agent),
            ("workflow run cancelled in flight", self.cancel_workflow),
            ("teams listed and fetched", self.teams),
            ("team run (JSON), members nested", self.team_run),
            ("team run (stream), members' events", self.team_stream),
            ("team run cancelled in flight, member too", self.cancel_team),
            ("team sessions and their runs", self.team_sessions),
            ("sessions listed", self.sessions_listed),
            ("session detail", self.session_detail),
            ("session runs", self.session_runs),
            ("session run previews", self.run_previews),
            ("session created, then run in", self.session_created),
            ("cancelled runs stored CANCELLED", self.cancelled_runs_stored),
            ("traces listed, fetched and searched", self.traces),
            ("usage metrics refreshed and read", self.usage_metrics),
            ("session renamed and updated", self.rename),
            *([("another user's token sees none of it", self.other_user)] if self.jwt else []),
            ("sessions deleted", self.delete),
            *(
                [("memories belong to the token's user", self.memories_jwt)]
                if self.jwt
                else [
                    ("memories created, listed, updated, optimized, deleted", self.memories),
                    (
                        "a memory learned reaches the user's other sessions only",
                        self.memory_in_context,
                    ),
                ]
            ),
            ("cookbook: raw HTTP run, SSE, runs by session", self.cookbook_raw_http),
            ("knowledge: text and a file uploaded, indexed, listed", self.knowledge_upload),
            ("knowledge: content updated, searched three ways", self.knowledge_update_and_search),
            ("knowledge: an agent's search_knowledge_base finds it", self.knowledge_agent),
            ("knowledge: content deleted, then all of it", self.knowledge_delete),
        ]
        for name, func in steps:
            await self.step(name, func)
        failed = [name for name, ok in self.results if not ok]
        print(f"\n{len(self.results) - len(failed)} passed, {len(failed)} failed", flush=True)
        return not failed


def main():
    parser = argparse.ArgumentParser(description="agno's client against agentos")
    parser.add_argument("base_url")
    parser.add_argument("--bearer", help="a JWT for the user alice")
    parser.add_argument("--other-bearer", help="a JWT for another user")
    args = parser.parse_args()
    ok = asyncio.run(Suite(args.base_url, args.bearer, args.other_bearer).run())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
