#!/usr/bin/env python3
"""A real OTLP/HTTP receiver for the export tests, decoding with the official
protobuf definitions (`opentelemetry-proto`): POST /v1/traces and /v1/metrics,
`application/x-protobuf` or `application/json` (OTLP JSON: hex ids).

It binds 127.0.0.1 on a free port, prints `PORT\\n` on stdout, then appends one
JSON line per request to --out:
    {"path", "content_type", "spans": [{"trace_id", "span_id", "parent_span_id", "name", "kind"}],
     "metrics": [{"name", "unit", "histogram_count", "attributes": [{...}]}]}
--blackhole accepts connections and never answers (a collector that hangs).
It stops by itself after --seconds (bounded: a test can never hang on it).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from otlp_ids import hex_ids_to_base64
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


def attrs(kvs):
    return {kv.key: json_format.MessageToDict(kv.value) for kv in kvs}


def summarize_traces(req: ExportTraceServiceRequest) -> list[dict]:
    return [
        {
            "trace_id": s.trace_id.hex(),
            "span_id": s.span_id.hex(),
            "parent_span_id": s.parent_span_id.hex() or None,
            "name": s.name,
            "kind": s.kind,
            "attributes": attrs(s.attributes),
        }
        for rs in req.resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
    ]


def summarize_metrics(req: ExportMetricsServiceRequest) -> list[dict]:
    out = []
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                points = m.histogram.data_points if m.HasField("histogram") else []
                out.append(
                    {
                        "name": m.name,
                        "unit": m.unit,
                        "histogram_count": sum(p.count for p in points),
                        "attributes": [attrs(p.attributes) for p in points],
                    }
                )
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--blackhole", action="store_true")
    a = p.parse_args()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            ctype = self.headers.get("Content-Type", "")
            is_json = ctype.startswith("application/json")
            record = {"path": self.path, "content_type": ctype, "spans": [], "metrics": []}
            if self.path.endswith("/v1/traces"):
                req, resp = ExportTraceServiceRequest(), ExportTraceServiceResponse()
            elif self.path.endswith("/v1/metrics"):
                req, resp = ExportMetricsServiceRequest(), ExportMetricsServiceResponse()
            else:
                self.send_response(404)
                self.end_headers()
                return
            try:
                if is_json:
                    json_format.Parse(json.dumps(hex_ids_to_base64(json.loads(body))), req)
                else:
                    req.ParseFromString(body)
            except Exception as exc:  # noqa: BLE001 - a bad payload is a test failure to report
                record["error"] = f"{type(exc).__name__}: {exc}"
            if isinstance(req, ExportTraceServiceRequest):
                record["spans"] = summarize_traces(req)
            else:
                record["metrics"] = summarize_metrics(req)
            with lock, open(a.out, "a") as f:
                f.write(json.dumps(record) + "\n")
            payload = json_format.MessageToJson(resp).encode() if is_json else resp.SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/json" if is_json else "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    deadline = time.monotonic() + a.seconds
    if a.blackhole:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        print(sock.getsockname()[1], flush=True)
        held = []
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                conn, _ = sock.accept()
                held.append(conn)  # never read, never answered
            except TimeoutError:
                pass
        return 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while time.monotonic() < deadline:
        time.sleep(0.2)
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
