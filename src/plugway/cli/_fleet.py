"""``plugway fleet``: the live replicas that share a server's database, seen from that server.

One answer of ``GET /plugins/v1/fleet``: each replica's address, the revision each gateway
serves there and the plugins it has, so that a replica lagging behind or missing a plugin
shows at a glance (a lagging revision is marked ``*``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx

__all__ = ["register"]

_DEFAULT_URL = "http://127.0.0.1:8087"


def register(subparsers: Any) -> None:
    """Add the ``fleet`` command to the top-level parser."""
    parser = subparsers.add_parser(
        "fleet", help="list the live replicas sharing the database: revisions and plugins"
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("PLUGWAY_URL", _DEFAULT_URL),
        help="any replica's base URL (env PLUGWAY_URL, default %(default)s)",
    )
    parser.add_argument(
        "--token", default=os.environ.get("PLUGWAY_TOKEN"), help="admin token, if reads need it"
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON answer")
    parser.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout in seconds")
    parser.set_defaults(handler=_fleet)


def _fetch(args: argparse.Namespace) -> Any:
    url = args.url.rstrip("/") + "/plugins/v1/fleet"
    headers = {"Accept": "application/json"}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    try:
        response = httpx.get(url, headers=headers, timeout=args.timeout)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"cannot reach {url}: {exc}") from exc
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        detail = data.get("detail") if isinstance(data, dict) else response.text.strip()[:500]
        raise RuntimeError(f"{url}: HTTP {response.status_code}: {detail}")
    return data


def render(data: dict[str, Any]) -> str:
    """The table ``plugway fleet`` prints."""
    replicas = data.get("replicas") or []
    if data.get("database") is None:
        return "this server is not part of a fleet (its registry is not PostgreSQL)"
    head = f"database {data['database']}: {len(replicas)} live replica(s)"
    if not data.get("connected"):
        head += f" — NOT CONNECTED ({data.get('error')})"
    latest: dict[str, int] = {}
    for r in replicas:
        for gw, n in r["served"].items():
            latest[gw] = max(latest.get(gw, 0), n)
    rows = [("REPLICA", "ADDRESS", "PID", "GATEWAY", "REVISION", "PLUGINS")]
    for r in replicas:
        me = " (this one)" if r["replica_id"] == data.get("replica_id") else ""
        for gw in sorted(r["served"]):
            n = r["served"][gw]
            mark = "" if n == latest[gw] else "*"
            plugins = ", ".join(p.rsplit("~", 1)[-1] for p in r["plugins"].get(gw, ()))
            address = f"{r['host']}:{r['port']}"
            rows.append((r["replica_id"] + me, address, str(r["pid"]), gw, f"{n}{mark}", plugins))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [head] + [
        "  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def _fleet(args: argparse.Namespace) -> int:
    try:
        data = _fetch(args)
    except RuntimeError as exc:
        print(f"plugway fleet: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else render(data))
    return 0
