#!/usr/bin/env python3
"""Checks that every line of the given files is an OTLP `TracesData` in the
OTLP JSON encoding, by parsing it with the official protobuf definitions
(`opentelemetry-proto`) and `google.protobuf.json_format`.

OTLP JSON writes trace and span ids as hex, where the protobuf JSON mapping
wants base64 for bytes fields: ids are converted before parsing, nothing else.
Prints ONE JSON document: {"ok", "lines", "spans", "errors": [...]}; exit 1 when any line fails.

    otlp_check.py FILE...
"""

from __future__ import annotations

import json
import sys

from google.protobuf import json_format
from otlp_ids import hex_ids_to_base64
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData


def main() -> int:
    out = {"ok": True, "lines": 0, "spans": 0, "errors": []}
    for path in sys.argv[1:]:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                out["lines"] += 1
                try:
                    data = json_format.Parse(json.dumps(hex_ids_to_base64(json.loads(line))), TracesData())
                    out["spans"] += sum(len(ss.spans) for rs in data.resource_spans for ss in rs.scope_spans)
                except Exception as exc:  # noqa: BLE001 - every failure is reported
                    out["ok"] = False
                    out["errors"].append(f"{path}:{number}: {type(exc).__name__}: {exc}"[:500])
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
