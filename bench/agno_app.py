"""The seed workflow served by agno's AgentOS, for `bench/run.sh --vs-agno` (our own file).

Same agents, instructions, hooks and flag as agno's cookbook example background_hooks_workflow.py
(which examples/background_hooks_workflow.rs ports); the model server comes from OPENAI_BASE_URL
(the benchmark's mock). Also the team level's team `research-team`, the twin of bench-server's
(a coordinating leader, members `researcher` and `writer`; the mock scripts the delegations).
Serve with `uvicorn agno_app:app --port 7778`.
"""

import asyncio

from agno.agent import Agent
from agno.db.sqlite import AsyncSqliteDb
from agno.models.openai import OpenAIChat
from agno.os import AgentOS
from agno.run.agent import RunOutput
from agno.team import Team
from agno.team.mode import TeamMode
from agno.workflow import Workflow


async def log_step_completion(run_output: RunOutput, agent: Agent) -> None:
    print(f"[Background Hook] Agent '{agent.name}' completed step")
    print(f"[Background Hook] Run ID: {run_output.run_id}")
    await asyncio.sleep(1)
    print(f"[Background Hook] Logged metrics for {agent.name}")


def agent(name: str, instructions: str) -> Agent:
    return Agent(
        name=name,
        model=OpenAIChat(id="gpt-5.2"),
        instructions=instructions,
        post_hooks=[log_step_completion],
    )


workflow = Workflow(
    id="analysis-workflow",
    name="AnalysisWorkflow",
    description="Analyzes input and provides a summary",
    steps=[
        agent("Analyzer", "Analyze the input and identify key points."),
        agent("Summarizer", "Summarize the analysis into a brief response."),
    ],
    db=AsyncSqliteDb(db_file="tmp/workflow.db"),
)

team = Team(
    id="research-team",
    name="Research Team",
    mode=TeamMode.coordinate,
    model=OpenAIChat(id="gpt-5.2"),
    instructions="Delegate research to the Researcher, then have the Writer write it up.",
    members=[
        Agent(
            id="researcher",
            name="Researcher",
            role="Finds the key facts about a topic",
            model=OpenAIChat(id="gpt-5.2"),
            instructions="Research the topic and list the key facts.",
        ),
        Agent(
            id="writer",
            name="Writer",
            role="Writes a clear short report from research notes",
            model=OpenAIChat(id="gpt-5.2"),
            instructions="Write a short report from the research.",
        ),
    ],
    db=AsyncSqliteDb(db_file="tmp/workflow.db"),
)

agent_os = AgentOS(workflows=[workflow], teams=[team], run_hooks_in_background=True)
app = agent_os.get_app()
