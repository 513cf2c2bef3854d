"""``plugway plugins …``: gateways, plugins and routing of a running server, over its admin API.

The CLI holds no routing logic of its own: every answer comes from ``/plugins/v1/`` so that what
an operator sees is exactly what the server decides.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml

__all__ = ["register"]

_DEFAULT_URL = "http://127.0.0.1:8087"
_API = "/plugins/v1"


class _CliError(Exception):
    """A failure to report on stderr with a non-zero exit code."""


def register(subparsers: Any) -> None:
    """Add the ``plugins`` command group to the top-level parser."""
    parser = subparsers.add_parser("plugins", help="inspect gateways and change their routing")
    parser.add_argument(
        "--url",
        default=os.environ.get("PLUGWAY_URL", _DEFAULT_URL),
        help="server base URL (env PLUGWAY_URL, default %(default)s)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("PLUGWAY_TOKEN"),
        help="admin bearer token for changes (env PLUGWAY_TOKEN)",
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON answer")
    parser.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout in seconds")
    # The same options are accepted after the sub-command too (``plugins show gw --json``);
    # SUPPRESS keeps the group-level value unless the option is given there.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--token", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = _Sub(parser.add_subparsers(dest="plugins_command", required=True), common)

    p = sub.add_parser("list", help="list gateways with their contract and plugins")
    p.set_defaults(handler=_list)

    p = sub.add_parser("show", help="one gateway: plugins, health, circuit state, routing")
    p.add_argument("gateway")
    p.set_defaults(handler=_show)

    p = sub.add_parser("explain", help="which plugin would serve a given context, and why")
    p.add_argument("gateway")
    p.add_argument("--tenant", default="", help="tenant id")
    p.add_argument("--subject", default="", help="subject id")
    p.add_argument(
        "--attr", action="append", default=[], metavar="KEY=VALUE", help="request attribute"
    )
    p.set_defaults(handler=_explain)

    routing = sub.add_parser("routing", help="get or replace a gateway's routing")
    rsub = _Sub(routing.add_subparsers(dest="routing_command", required=True), common)
    p = rsub.add_parser("get", help="print the current routing")
    p.add_argument("gateway")
    p.set_defaults(handler=_routing_get)
    p = rsub.add_parser("set", help="replace the routing with a YAML or JSON file ('-' = stdin)")
    p.add_argument("gateway")
    p.add_argument("file")
    p.add_argument("--comment", default=None, help="why (stored with the revision)")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="accept plugins some live replicas lack (they serve the fallbacks; see 'fleet')",
    )
    p.set_defaults(handler=_routing_set)

    p = sub.add_parser("history", help="list the routing revisions of a gateway")
    p.add_argument("gateway")
    p.set_defaults(handler=_history)

    p = sub.add_parser("rollback", help="make an earlier routing revision current again")
    p.add_argument("gateway")
    p.add_argument(
        "--to",
        type=int,
        default=None,
        dest="revision",
        help="revision (default: undo the last routing change; plugins joining or leaving are "
        "not routing changes)",
    )
    p.set_defaults(handler=_rollback)

    p = sub.add_parser(
        "remove", help="remove a plugin instance from the registry: it leaves the routing"
    )
    p.add_argument("gateway")
    p.add_argument("plugin_id", help="the plugin's GTS instance id (see 'show')")
    p.set_defaults(handler=_remove)

    p = sub.add_parser(
        "rescan", help="find plugin packages installed since the server started (no restart)"
    )
    p.set_defaults(handler=_rescan)

    from plugway.cli import _host

    _host.register(sub)  # plugway plugins host: serve plugins out of process


class _Sub:
    """A sub-parser factory that gives every sub-command the common options."""

    def __init__(self, actions: Any, common: argparse.ArgumentParser) -> None:
        self._actions = actions
        self._common = common

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self._actions.add_parser(
            name, parents=[self._common], **kwargs
        )
        return parser


# -- HTTP ------------------------------------------------------------------------------------


def _request(
    args: argparse.Namespace, method: str, path: str, body: Any = None, *, mutating: bool = False
) -> Any:
    headers = {"Accept": "application/json"}
    if mutating and args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    url = args.url.rstrip("/") + _API + path
    try:
        response = httpx.request(method, url, json=body, headers=headers, timeout=args.timeout)
    except httpx.HTTPError as exc:
        raise _CliError(f"cannot reach {url}: {exc}") from exc
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        raise _CliError(_problem_text(response.status_code, data, response.text))
    return data


def _problem_text(status: int, data: Any, raw: str) -> str:
    if not isinstance(data, Mapping):
        return f"HTTP {status}: {raw.strip()[:500]}"
    lines = [f"HTTP {status}: {data.get('title', '')} — {data.get('detail', '')}".rstrip(" —")]
    for err in data.get("errors") or ():
        if isinstance(err, Mapping):
            lines.append(f"  {err.get('field', '?')}: {err.get('message', '')}")
    return "\n".join(lines)


def _run(args: argparse.Namespace, fn: Any) -> int:
    try:
        data, text = fn(args)
    except _CliError as exc:
        print(f"plugway plugins: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(text)
    return 0


# -- commands --------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    def go(args: argparse.Namespace) -> tuple[Any, str]:
        data = _request(args, "GET", "/gateways")
        rows = [("GATEWAY", "CONTRACT", "VERSION", "REVISION", "PLUGINS")]
        for gw in data.get("gateways", []):
            plugins = ", ".join(p["id"].rsplit("~", 1)[-1] for p in gw.get("plugins", []))
            rows.append(
                (
                    gw["name"],
                    gw.get("contract_id", ""),
                    str(gw.get("contract_version", "")),
                    str(gw.get("revision", "")),
                    plugins or "-",
                )
            )
        lines = [_table(rows)]
        failures = data.get("discovery_failures") or []
        if failures:
            lines.append("")
            lines.append("discovery failures:")
            lines.extend(f"  {f.get('name')}: {f.get('error')}" for f in failures)
        return data, "\n".join(lines)

    return _run(args, go)


def _show(args: argparse.Namespace) -> int:
    def go(args: argparse.Namespace) -> tuple[Any, str]:
        gw = _request(args, "GET", f"/gateways/{args.gateway}")
        lines = [
            f"gateway:   {gw['name']}",
            f"contract:  {gw.get('contract_id')} (v{gw.get('contract_version')})",
            f"revision:  {gw.get('revision')}",
            "",
        ]
        rows = [("PLUGIN", "VENDOR", "PRIORITY", "VERSION", "HEALTH", "CIRCUIT", "DEFAULTED")]
        for p in gw.get("plugins", []):
            rows.append(
                (
                    p["id"],
                    str(p.get("vendor", "")),
                    str(p.get("priority", "")),
                    str(p.get("version", "")),
                    str(p.get("health", "")),
                    str(p.get("circuit", "")),
                    ", ".join(p.get("defaulted") or ()) or "-",
                )
            )
        lines.append(_table(rows))
        for label, key in (("warnings", "warnings"), ("left out", "failures")):
            items = gw.get(key) or []
            if items:
                lines.append(f"{label}:")
                lines.extend(f"  {_one_line(i)}" for i in items)
        if gw.get("config_error"):
            lines.append(f"config file: {gw['config_error']}")
        lines.append("")
        lines.append("routing:")
        lines.append(_indent(yaml.safe_dump(gw.get("routing"), sort_keys=False).rstrip()))
        return gw, "\n".join(lines)

    return _run(args, go)


def _explain(args: argparse.Namespace) -> int:
    def go(args: argparse.Namespace) -> tuple[Any, str]:
        attributes: dict[str, str] = {}
        for item in args.attr:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise _CliError(f"--attr {item!r}: expected KEY=VALUE")
            attributes[key] = value
        body = {"tenant_id": args.tenant, "subject_id": args.subject, "attributes": attributes}
        data = _request(args, "POST", f"/gateways/{args.gateway}/explain", body)
        index = data.get("rule_index")
        if index is None:
            rule = "(default route)"
        else:
            rule = f"{data.get('rule') or '(unnamed)'} (rule {index})"
        lines = [
            f"plugin:    {data.get('plugin')}",
            f"rule:      {rule}",
            f"reason:    {data.get('reason', '')}",
            f"fallbacks: {', '.join(data.get('fallbacks') or []) or '-'}",
            f"shadow:    {data.get('shadow') or '-'}",
            f"circuit:   {data.get('circuit') or '-'}",
            f"revision:  {data.get('revision')}",
        ]
        steps = data.get("steps") or []
        if steps:
            lines.append("steps:")
            lines.extend(f"  {step}" for step in steps)
        return data, "\n".join(lines)

    return _run(args, go)


def _routing_get(args: argparse.Namespace) -> int:
    def go(args: argparse.Namespace) -> tuple[Any, str]:
        gw = _request(args, "GET", f"/gateways/{args.gateway}")
        data = {"revision": gw.get("revision"), "routing": gw.get("routing")}
        return data, yaml.safe_dump(gw.get("routing"), sort_keys=False).rstrip()

    return _run(args, go)


def _routing_set(args: argparse.Namespace) -> int:
    def go(args: argparse.Namespace) -> tuple[Any, str]:
        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
            routing = yaml.safe_load(text)
        except (OSError, yaml.YAMLError) as exc:
            raise _CliError(f"cannot read routing from {args.file}: {exc}") from exc
        if isinstance(routing, Mapping) and "routing" in routing and len(routing) == 1:
            routing = routing["routing"]
        path = f"/gateways/{args.gateway}/routing"
        query = {"comment": args.comment} if args.comment else {}
        if args.allow_missing:
            query["allow_missing"] = "true"
        if query:
            path += "?" + str(httpx.QueryParams(query))
        data = _request(args, "PUT", path, routing, mutating=True)
        text = f"routing of {args.gateway} is now revision {data.get('revision')}"
        return data, "\n".join([text, *(f"warning: {w}" for w in data.get("warnings") or ())])

    return _run(args, go)


def _history(args: argparse.Namespace) -> int:
    def go(args: argparse.Namespace) -> tuple[Any, str]:
        data = _request(args, "GET", f"/gateways/{args.gateway}/revisions")
        rows = [("REVISION", "WHEN", "WHO", "WHAT")]
        current = data.get("current")
        for r in data.get("revisions", []):
            mark = "*" if r.get("revision") == current else " "
            rows.append(
                (
                    f"{mark}{r.get('revision')}",
                    str(r.get("created_at", "")),
                    str(r.get("who", "")),
                    str(r.get("what") or ""),
                )
            )
        return data, _table(rows)

    return _run(args, go)


def _rollback(args: argparse.Namespace) -> int:
    def go(args: argparse.Namespace) -> tuple[Any, str]:
        body = {} if args.revision is None else {"revision": args.revision}
        data = _request(args, "POST", f"/gateways/{args.gateway}/rollback", body, mutating=True)
        return data, (
            f"routing of {args.gateway} rolled back to revision {data.get('restored')} "
            f"(now revision {data.get('revision')})"
        )

    return _run(args, go)


def _remove(args: argparse.Namespace) -> int:
    def go(args: argparse.Namespace) -> tuple[Any, str]:
        path = f"/gateways/{args.gateway}/plugins/{quote(args.plugin_id, safe='')}"
        data = _request(args, "DELETE", path, None, mutating=True)
        return data, (
            f"plugin {data.get('removed')} removed from {args.gateway} "
            f"(routing now revision {data.get('revision')})"
        )

    return _run(args, go)


def _rescanned(p: dict[str, Any]) -> str:
    host = p.get("host")
    where = f", in supervised host {host}" if host else ""
    return f"{p.get('gateway')}: {p.get('plugin_id')} ({p.get('name')}{where})"


def _rescan(args: argparse.Namespace) -> int:
    def go(args: argparse.Namespace) -> tuple[Any, str]:
        data = _request(args, "POST", "/discovery/rescan", None, mutating=True)
        added = data.get("added") or []
        removed = data.get("removed") or []
        lines = [f"{len(added)} plugin(s) added, {len(removed)} removed"]
        lines.extend(f"  {_rescanned(a)}" for a in added)
        lines.extend(f"  {_rescanned(r)} removed" for r in removed)
        failures = data.get("failures") or []
        if failures:
            lines.append("left out:")
            lines.extend(f"  {_one_line(f)}" for f in failures)
        return data, "\n".join(lines)

    return _run(args, go)


# -- formatting ------------------------------------------------------------------------------


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _one_line(item: Any) -> str:
    if isinstance(item, Mapping):
        return f"{item.get('name', '?')} ({item.get('stage', '?')}): {item.get('error', '')}"
    return str(item)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
