#!/usr/bin/env python3
"""A real upstream MCP server for the trace tests: the official Python SDK's
`MCPServer` over stdio, with the OpenTelemetry SDK recording its spans to the
file named by TRACED_SPANS_FILE. The SDK's own middleware opens a SERVER span
whose parent comes from the request's `_meta.traceparent`; the `work` tool
opens a child span of its own and returns the `traceparent` it was sent.
"""

from __future__ import annotations

import json
import os

import otel_files

otel_files.install(os.environ["TRACED_SPANS_FILE"], "traced-upstream")

from mcp.server.mcpserver import Context, MCPServer  # noqa: E402 - after the provider is set
from opentelemetry import trace  # noqa: E402

server = MCPServer("traced-upstream")
tracer = trace.get_tracer("traced-upstream")


def sent_meta(ctx: Context) -> dict:
    meta = ctx.request_context.meta
    if meta is None:
        return {}
    if hasattr(meta, "model_dump"):
        return meta.model_dump(by_alias=True, exclude_none=True)
    return dict(meta)


@server.tool()
def work(text: str, ctx: Context) -> str:
    """Does a little work on `text` and says which trace context it was sent."""
    with tracer.start_as_current_span("work"):
        meta = sent_meta(ctx)
        return json.dumps({"traceparent": meta.get("traceparent"), "length": len(text)})


if __name__ == "__main__":
    server.run("stdio")
