"""Shared by the traced test agent and the traced upstream: an OpenTelemetry
SDK tracer provider whose spans are appended, one JSON object per line, to a
file, so a test can check afterwards how the processes' spans link up.

Each line: {"trace_id", "span_id", "parent_span_id" (or null), "name", "kind", "service"}
with ids as lowercase hex and kind as the SDK's name (SERVER, CLIENT, INTERNAL, ...).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


class JsonLinesExporter(SpanExporter):
    """Appends each finished span to `path` (opened per export, so nothing is buffered)."""

    def __init__(self, path: str, service: str) -> None:
        self.path = path
        self.service = service

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a") as f:
            for s in spans:
                parent = s.parent.span_id if s.parent is not None else None
                f.write(
                    json.dumps(
                        {
                            "trace_id": format(s.context.trace_id, "032x"),
                            "span_id": format(s.context.span_id, "016x"),
                            "parent_span_id": format(parent, "016x") if parent else None,
                            "name": s.name,
                            "kind": s.kind.name,
                            "service": self.service,
                        }
                    )
                    + "\n"
                )
        return SpanExportResult.SUCCESS


def install(path: str, service: str) -> TracerProvider:
    """Makes a provider that writes to `path` the global one, and returns it."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path, service)))
    trace.set_tracer_provider(provider)
    return provider
