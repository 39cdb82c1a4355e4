"""A small MCP tool server built on the official `mcp` package (PyPI), for agentos's MCP client
tests and the `mcp_tools` example.

    python mcp_tool_server.py stdio          # MCP over stdin/stdout
    python mcp_tool_server.py http PORT      # MCP over streamable HTTP at http://127.0.0.1:PORT/mcp

Tools: add, echo, slow (sleeps), fail (a tool error), crash (the process exits mid-call),
whoami (what the server was given: environment, headers), enable_extra (adds the
tool `extra` and tells the client its tool list changed), and `dotted.name` (a name OpenAI
would refuse as it is).
"""

import os
import sys
import time

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("agentos-test-tools")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return f"echo: {text}"


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep for `seconds`, then answer."""
    import anyio

    await anyio.sleep(seconds)
    return f"slept {seconds}s"


@server.tool()
def fail(message: str) -> str:
    """Always fails with `message`."""
    raise ToolError(message)


@server.tool()
def crash() -> str:
    """The server process exits in the middle of the call."""
    sys.stdout.flush()
    os._exit(3)


@server.tool()
def whoami(ctx: Context) -> str:
    """What this server was given: its GREETING variable, whether it inherited
    CARGO_MANIFEST_DIR (which cargo sets for the tests that start it), and the Authorization and
    X-Tenant headers of the request (HTTP only)."""
    headers = ctx.headers or {}
    return "|".join(
        [
            f"greeting={os.environ.get('GREETING', '-')}",
            f"inherited={'yes' if os.environ.get('CARGO_MANIFEST_DIR') else 'no'}",
            f"authorization={headers.get('authorization', '-')}",
            f"tenant={headers.get('x-tenant', '-')}",
        ]
    )


def extra(word: str) -> str:
    """A tool that appears only after enable_extra."""
    return f"extra: {word}"


@server.tool()
async def enable_extra(ctx: Context) -> str:
    """Adds the tool `extra` and notifies the client that the tool list changed."""
    if "extra" not in [t.name for t in await server.list_tools()]:
        server.add_tool(extra)
    await ctx.session.send_tool_list_changed()
    return "extra enabled"


server.add_tool(lambda: f"pid {os.getpid()} at {time.time():.3f}", name="dotted.name",
                description="Which process answered.")

if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "http":
        port = int(sys.argv[2])
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run("stdio")
