"""OTLP JSON writes trace and span ids as hex strings, while protobuf's JSON
mapping expects bytes fields in base64: this converts a parsed OTLP JSON
document in place so `json_format` can read it with the official definitions.
Shared by otlp_check.py and otlp_receiver.py (run as scripts from this folder).
"""

from __future__ import annotations

import base64

ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def hex_ids_to_base64(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ID_FIELDS and isinstance(value, str):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            hex_ids_to_base64(item)
    return node
