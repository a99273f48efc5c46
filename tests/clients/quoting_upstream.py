#!/usr/bin/env python3
"""A real upstream MCP server (the official Python SDK's `MCPServer` over
stdio) that treats what it is given the way many real servers do: it quotes
its arguments in JSON-RPC error messages (JSON-escaped, and as Python reprs)
and echoes them on stderr. It also records every `notifications/cancelled`
it receives, so a test can check that a cancellation really arrived.

QUOTING_UPSTREAM_EVENTS names a file; each start of `slow` and each
cancellation received is appended to it as one JSON line:
{"event": "started", "request_id": ...} / {"event": "cancelled", "params": {...}}.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError

EVENTS = os.environ["QUOTING_UPSTREAM_EVENTS"]


def record(event: dict[str, Any]) -> None:
    with open(EVENTS, "a") as f:
        f.write(json.dumps(event) + "\n")


async def record_cancellations(ctx: Any, call_next: Any) -> Any:
    """Middleware: sees every inbound message, `notifications/cancelled` included."""
    if ctx.method == "notifications/cancelled":
        record({"event": "cancelled", "params": dict(ctx.params or {})})
    return await call_next(ctx)


server = MCPServer("quoting-upstream", middleware=[record_cancellations])


@server.tool()
def find(query: str) -> str:
    """Looks `query` up, finds nothing, and says so quoting it (JSON-escaped)."""
    print(f"find: looking for {json.dumps(query)}", file=sys.stderr, flush=True)
    print(f"find: raw {query}", file=sys.stderr, flush=True)
    raise MCPError(-32000, f"no match for {json.dumps(query)}")


@server.tool()
def check(query: str) -> str:
    """Rejects `query` as invalid, quoting it as a Python repr."""
    raise MCPError(-32602, f"invalid query {query!r}")


@server.tool()
async def slow(seconds: float, ctx: Context) -> str:
    """Sleeps `seconds`; a cancellation ends it early."""
    record({"event": "started", "request_id": ctx.request_id})
    await anyio.sleep(seconds)
    return "done"


if __name__ == "__main__":
    print("quoting-upstream: ready on stdio", file=sys.stderr, flush=True)
    server.run("stdio")
