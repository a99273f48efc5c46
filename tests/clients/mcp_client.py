#!/usr/bin/env python3
"""Drive a stdio MCP server with the official Python `mcp` SDK; print ONE JSON document.

    mcp_client.py [options] [--ops JSON | --ops-file PATH] -- COMMAND [ARG...]

Ops (a JSON list; read from stdin when neither --ops nor --ops-file is given):
    {"op": "list_tools", "meta": {...}}
    {"op": "call", "tool": "echo", "args": {"message": "hi"}, "meta": {"traceparent": "..."},
     "repeat": 3, "timeout": 5}
    {"op": "sleep", "seconds": 0.2}
Each executed step appends one entry to "results" (a repeated call appends one per repeat).
See README.md for the output format and exit codes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import anyio
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import Implementation


def dump(model: Any) -> Any:
    return None if model is None else model.model_dump(mode="json", by_alias=True, exclude_none=True)


def describe_exc(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, MCPError):
        err: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.data is not None:
            err["data"] = exc.data
        return err
    if isinstance(exc, TimeoutError):
        return {"type": "TimeoutError", "message": "operation timed out (client-side)"}
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return describe_exc(exc.exceptions[0])
    return {"type": type(exc).__name__, "message": str(exc)}


def parse_env(pairs: list[str], passthrough: list[str], inherit: bool) -> dict[str, str]:
    env = dict(os.environ) if inherit else {}
    for name in passthrough:
        if name in os.environ:
            env[name] = os.environ[name]
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"mcp_client: --env wants KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


async def run_call(client: Client, op: dict[str, Any], timeout: float) -> dict[str, Any]:
    entry: dict[str, Any] = {"op": "call", "tool": op["tool"]}
    started = time.monotonic()
    try:
        with anyio.fail_after(timeout + 5):  # backstop; the SDK's own timeout should fire first
            res = await client.call_tool(
                op["tool"], op.get("args"), read_timeout_seconds=timeout, meta=op.get("meta")
            )
        entry.update(
            ok=True,
            isError=bool(res.is_error),
            text="\n".join(c.text for c in res.content if getattr(c, "type", None) == "text"),
            content=[dump(c) for c in res.content],
            structuredContent=res.structured_content,
        )
        if res.meta:
            entry["_meta"] = res.meta
    except Exception as exc:  # noqa: BLE001 - every failure is data for the caller
        entry.update(ok=False, error=describe_exc(exc))
    entry["ms"] = round((time.monotonic() - started) * 1000, 1)
    return entry


async def run_list_tools(client: Client, op: dict[str, Any], timeout: float) -> dict[str, Any]:
    entry: dict[str, Any] = {"op": "list_tools"}
    started = time.monotonic()
    try:
        tools, cursor = [], None
        with anyio.fail_after(timeout):
            while True:
                page = await client.list_tools(cursor=cursor, meta=op.get("meta"))
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
        entry.update(ok=True, names=[t.name for t in tools], tools=[dump(t) for t in tools])
    except Exception as exc:  # noqa: BLE001
        entry.update(ok=False, error=describe_exc(exc))
    entry["ms"] = round((time.monotonic() - started) * 1000, 1)
    return entry


async def run(args: argparse.Namespace, ops: list[dict[str, Any]], out: dict[str, Any]) -> None:
    params = StdioServerParameters(
        command=args.command[0],
        args=args.command[1:],
        env=parse_env(args.env, args.env_pass, args.inherit_env),
        cwd=args.cwd,
    )
    errlog = sys.stderr if args.stderr == "inherit" else open(  # noqa: SIM115 - lives as long as the process
        os.devnull if args.stderr == "discard" else args.stderr, "a"
    )
    client = Client(
        stdio_client(params, errlog=errlog),
        mode=args.mode,
        client_info=Implementation(name=args.client_name, version=args.client_version),
        read_timeout_seconds=args.timeout,
        cache=None,  # every list_tools must reach the server
    )
    started = time.monotonic()
    with anyio.fail_after(args.deadline):  # whole-run backstop: never hang the calling test
        async with client:
            out["connected"] = True
            out["connectMs"] = round((time.monotonic() - started) * 1000, 1)
            out["protocolVersion"] = client.protocol_version
            out["era"] = "modern" if client.session.discover_result is not None else "legacy"
            out["serverInfo"] = dump(client.server_info)
            out["serverCapabilities"] = dump(client.server_capabilities)
            out["instructions"] = client.instructions
            for op in ops:
                await run_op(client, op, float(op.get("timeout", args.timeout)), out["results"])


async def run_op(client: Client, op: dict[str, Any], timeout: float, results: list[dict[str, Any]]) -> None:
    kind = op.get("op")
    if kind == "sleep":
        await anyio.sleep(float(op.get("seconds", 0)))
        results.append({"op": "sleep", "ok": True, "seconds": op.get("seconds", 0)})
    elif kind == "list_tools":
        results.append(await run_list_tools(client, op, timeout))
    elif kind == "call":
        for i in range(int(op.get("repeat", 1))):
            entry = await run_call(client, op, timeout)
            if "repeat" in op:
                entry["rep"] = i
            results.append(entry)
    else:
        results.append({"op": kind, "ok": False, "error": {"type": "BadOp", "message": json.dumps(op)}})

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", default="auto", help="legacy | auto | 2026-07-28 (pin a modern version, no probe)")
    p.add_argument("--client-name", default="gatehouse-test-client", help="clientInfo.name")
    p.add_argument("--client-version", default="0.0.0", help="clientInfo.version")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="env var for the server")
    p.add_argument("--env-pass", action="append", default=[], metavar="NAME", help="copy NAME from our env")
    p.add_argument("--inherit-env", action="store_true", help="pass our whole environment to the server")
    p.add_argument("--cwd", help="working directory for the server")
    p.add_argument("--timeout", type=float, default=30.0, help="default per-operation timeout, seconds")
    p.add_argument("--deadline", type=float, default=300.0, help="hard limit for the whole run, seconds")
    p.add_argument("--stderr", default="inherit", help="server stderr: inherit | discard | PATH (appended)")
    p.add_argument("--ops", help="ops as a JSON list")
    p.add_argument("--ops-file", help="read ops JSON from this file")
    p.add_argument("command", nargs="+", help="server command and arguments (put them after --)")
    args = p.parse_args()

    if args.ops is not None:
        ops_text = args.ops
    elif args.ops_file is not None:
        with open(args.ops_file) as f:
            ops_text = f.read()
    else:
        ops_text = sys.stdin.read()
    ops = json.loads(ops_text) if ops_text.strip() else []
    if not isinstance(ops, list):
        p.error("ops must be a JSON list")

    out: dict[str, Any] = {"mode": args.mode, "connected": False, "results": [], "error": None}
    code = 0
    try:
        anyio.run(run, args, ops, out)
    except BaseException as exc:  # noqa: BLE001 - report, don't traceback
        if isinstance(exc, KeyboardInterrupt):
            raise
        out["error"] = describe_exc(exc)
        code = 1
    out["results"] = out.pop("results")  # keep the long part last
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
