#!/usr/bin/env python3
"""The test agent for "one trace per user request": the official Python MCP
SDK plus the OpenTelemetry SDK. It opens its own span ("the LLM call"),
sends that span's `traceparent` in `_meta`, and calls one tool on a stdio
MCP server (Gatehouse), recording its spans to --spans. Prints ONE JSON
document: {"trace_id", "span_id", "isError", "text"}.

    traced_agent.py --spans FILE --tool NAME [--args JSON] [--env K=V]... -- CMD [ARG...]
"""

from __future__ import annotations

import argparse
import json
import sys

import anyio
import otel_files
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import Implementation
from opentelemetry import trace
from opentelemetry.propagate import inject


async def run(a: argparse.Namespace) -> dict:
    env = dict(pair.split("=", 1) for pair in a.env)
    params = StdioServerParameters(command=a.command[0], args=a.command[1:], env=env)
    tracer = trace.get_tracer("traced-agent")
    with open(a.stderr, "a") as errlog, anyio.fail_after(a.deadline):
        client = Client(
            stdio_client(params, errlog=errlog),
            mode="legacy",
            client_info=Implementation(name="traced-agent", version="1.0"),
            read_timeout_seconds=30,
            cache=None,
        )
        async with client:
            with tracer.start_as_current_span("llm call") as span:
                carrier: dict[str, str] = {}
                inject(carrier)  # this span's traceparent, sent in _meta
                res = await client.call_tool(a.tool, json.loads(a.args), meta=carrier)
            ctx = span.get_span_context()
            return {
                "trace_id": format(ctx.trace_id, "032x"),
                "span_id": format(ctx.span_id, "016x"),
                "sent_traceparent": carrier.get("traceparent"),
                "isError": bool(res.is_error),
                "text": "\n".join(c.text for c in res.content if getattr(c, "type", None) == "text"),
            }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--spans", required=True)
    p.add_argument("--tool", required=True)
    p.add_argument("--args", default="{}")
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--stderr", default="/dev/null")
    p.add_argument("--deadline", type=float, default=90.0)
    p.add_argument("command", nargs="+")
    a = p.parse_args()
    provider = otel_files.install(a.spans, "traced-agent")
    out = anyio.run(run, a)
    provider.shutdown()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
