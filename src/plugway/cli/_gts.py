"""``plugway gts ...``: the GTS operations from a shell, and the conformance server.

Why here and not in plugway.gts: the gts layer does no I/O, so reading files and folders,
printing and exit codes live in the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from plugway.gts import (
    GtsError,
    GtsId,
    GtsPattern,
    GtsStore,
    dump_document,
    extract_id,
    id_or_pattern_error,
)
from plugway.gts._ids import shorten

from ._gts_files import InputError, documents, load_store

__all__ = ["register"]

_OK, _FAILED, _USAGE = 0, 1, 2

_DESCRIPTION = (
    "GTS (Global Type System) operations on ids, patterns and files or folders of "
    ".json/.yaml/.yml documents, and the conformance server. Every command prints one "
    "line per result, a JSON document with --json, and exits with 1 on any failure."
)


def register(subparsers: Any) -> None:
    gts = subparsers.add_parser(
        "gts",
        help="GTS (Global Type System) operations and the conformance server",
        description=_DESCRIPTION,
    )
    sub = gts.add_subparsers(dest="gts_command", required=True)

    def command(name: str, help_text: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        parser = sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
        parser.set_defaults(handler=handler)
        return parser

    p = command("validate-id", "check GTS ids or wildcard patterns (OP#1)", _validate_id)
    p.add_argument("ids", nargs="+", metavar="ID")
    p = command("parse-id", "split GTS ids into segments (OP#3)", _parse_id)
    p.add_argument("ids", nargs="+", metavar="ID")
    p = command("match", "match a candidate id against a pattern (OP#4)", _match)
    p.add_argument("pattern")
    p.add_argument("candidates", nargs="+", metavar="CANDIDATE")
    p = command("uuid", "UUID v5 of GTS ids (OP#5)", _uuid)
    p.add_argument("ids", nargs="+", metavar="ID")
    p = command("extract", "id and type id of each document in files (OP#2)", _extract)
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p = command(
        "validate",
        "load files or folders of .json/.yaml/.yml and validate every entity (OP#6, OP#12, OP#13)",
        _validate,
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p = command("compat", "minor-version compatibility of two types (OP#8)", _compat)
    p.add_argument("old_type_id")
    p.add_argument("new_type_id")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files/folders to load")
    p = command("cast", "cast an instance to another minor version (OP#9)", _cast)
    p.add_argument("--yaml", action="store_true", help="print the cast document as YAML")
    p.add_argument("instance_id")
    p.add_argument("to_type_id")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files/folders to load")
    p = command("query", "select loaded entities with a query expression (OP#10)", _query)
    p.add_argument("expr")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files/folders to load")
    p.add_argument("--limit", type=_limit, default=100, help="at most this many results")
    p = command("attr", "read one attribute, ID@path (OP#11)", _attr)
    p.add_argument("selector", metavar="ID@PATH")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files/folders to load")
    p = command("get", "print one loaded entity by id", _get)
    p.add_argument("--yaml", action="store_true", help="print the document as YAML")
    p.add_argument("gts_id")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files/folders to load")
    p = command("resolve", "relationships of an entity and broken references (OP#7)", _resolve)
    p.add_argument("gts_id")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files/folders to load")

    serve = sub.add_parser(
        "serve",
        help="run the GTS conformance server (gts-spec tests/openapi.json)",
        description="Run the GTS conformance server with an empty in-memory store.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on")
    serve.set_defaults(handler=_serve)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"limit {value} must be at least 1")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range 0..65535")
    return value


# ------------------------------------------------------------------------ output helpers


def _emit(args: argparse.Namespace, payload: Any, lines: Sequence[str], ok: bool) -> int:
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=False, default=str))
    else:
        for line in lines:
            print(line)
    return _OK if ok else _FAILED


def _fail(args: argparse.Namespace, message: str, code: int = _FAILED) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": message}, indent=2))
    else:
        print(f"plugway gts {args.gts_command}: {message}", file=sys.stderr)
    return code


def _warn(args: argparse.Namespace, problems: list[dict[str, Any]]) -> None:
    """Documents left out of the store are never skipped silently."""
    for problem in problems:
        print(
            f"plugway gts {args.gts_command}: skipped {problem['source']}: {problem['error']}",
            file=sys.stderr,
        )


def _with_store(
    args: argparse.Namespace, run: Callable[[GtsStore, list[dict[str, Any]]], int]
) -> int:
    try:
        store, problems = load_store(args.paths)
    except (InputError, GtsError) as exc:
        return _fail(args, str(exc))
    if args.gts_command != "validate":  # validate reports them as results of its own
        _warn(args, problems)
    return run(store, problems)


# ------------------------------------------------------------------------ OP#1 - OP#5


def _validate_id(args: argparse.Namespace) -> int:
    results: list[dict[str, Any]] = []
    for text in args.ids:
        error = id_or_pattern_error(text)
        results.append({"id": text, "valid": not error, "is_wildcard": "*" in text, "error": error})
    lines = [
        f"{shorten(r['id'])}: valid{' pattern' if r['is_wildcard'] else ''}"
        if r["valid"]
        else f"{shorten(r['id'])}: INVALID: {r['error']}"
        for r in results
    ]
    ok = all(r["valid"] for r in results)
    return _emit(args, {"ok": ok, "results": results}, lines, ok)


def _parse_id(args: argparse.Namespace) -> int:
    results: list[dict[str, Any]] = []
    lines: list[str] = []
    for text in args.ids:
        try:
            gid = GtsId.parse(text)
        except GtsError as exc:
            results.append({"id": text, "ok": False, "error": str(exc), "segments": []})
            lines.append(f"{shorten(text)}: INVALID: {exc}")
            continue
        segs = [s._asdict() for s in gid.segments]
        results.append(
            {
                "id": text,
                "ok": True,
                "error": "",
                "is_type": gid.is_type,
                "uuid_tail": gid.uuid_tail,
                "segments": segs,
            }
        )
        lines.append(f"{text}: {'type' if gid.is_type else 'instance'}")
        for i, s in enumerate(segs, start=1):
            minor = "" if s["ver_minor"] is None else f".{s['ver_minor']}"
            kind = "type" if s["is_type"] else "instance"
            lines.append(
                f"  {i}. vendor={s['vendor']} package={s['package']} namespace={s['namespace']}"
                f" type={s['type']} version=v{s['ver_major']}{minor} ({kind})"
            )
        if gid.uuid_tail:
            lines.append(f"  uuid tail: {gid.uuid_tail}")
    ok = all(r["ok"] for r in results)
    return _emit(args, {"ok": ok, "results": results}, lines, ok)


def _match(args: argparse.Namespace) -> int:
    try:
        pattern = GtsPattern.parse(args.pattern)
    except GtsError as exc:
        return _fail(args, str(exc))
    results: list[dict[str, Any]] = []
    for candidate in args.candidates:
        error = id_or_pattern_error(candidate)
        matched = not error and pattern.matches(candidate)
        results.append({"candidate": candidate, "match": matched, "error": error})
    lines = [
        f"{shorten(r['candidate'])}: "
        + ("match" if r["match"] else f"INVALID: {r['error']}" if r["error"] else "no match")
        for r in results
    ]
    payload = {"pattern": args.pattern, "results": results}
    return _emit(args, payload, lines, all(r["match"] for r in results))


def _uuid(args: argparse.Namespace) -> int:
    results: list[dict[str, Any]] = []
    for text in args.ids:
        try:
            results.append({"id": text, "uuid": str(GtsId.parse(text).uuid()), "error": ""})
        except GtsError as exc:
            results.append({"id": text, "uuid": None, "error": str(exc)})
    lines = [f"{shorten(r['id'])}: {r['uuid'] or 'INVALID: ' + r['error']}" for r in results]
    ok = all(r["uuid"] for r in results)
    return _emit(args, {"ok": ok, "results": results}, lines, ok)


def _extract(args: argparse.Namespace) -> int:
    results: list[dict[str, Any]] = []
    try:
        docs = documents(args.paths, results)
    except (InputError, GtsError) as exc:
        return _fail(args, str(exc))
    for source, doc in docs:
        try:
            ext = extract_id(doc)
        except GtsError as exc:
            results.append({"source": source, "ok": False, "error": str(exc)})
            continue
        results.append(
            {
                "source": source,
                "ok": bool(ext.id),
                "id": ext.id,
                "type_id": ext.type_id,
                "is_type": ext.is_type,
                "selected_entity_field": ext.selected_entity_field,
                "selected_type_id_field": ext.selected_type_id_field,
                "error": "" if ext.id else "no id found",
            }
        )
    lines = [
        f"{r['source']}: {'type' if r.get('is_type') else 'instance'} {r['id']}"
        f" (type: {r['type_id'] or '-'})"
        if r["ok"]
        else f"{r['source']}: FAILED: {r['error']}"
        for r in results
    ]
    return _emit(args, results, lines, all(r["ok"] for r in results))


# ------------------------------------------------------------------------ store-backed


def _validate(args: argparse.Namespace) -> int:
    def run(store: GtsStore, problems: list[dict[str, Any]]) -> int:
        results = list(problems)
        for gts_id in store.ids():
            outcome = store.validate_entity(gts_id)
            results.append(outcome.to_dict())
        lines = []
        for r in results:
            label = r.get("id") or r.get("source")
            kind = r.get("entity_type", "document")
            lines.append(
                f"{label}: ok ({kind})" if r["ok"] else f"{label}: FAILED ({kind}): {r['error']}"
            )
        failed = sum(1 for r in results if not r["ok"])
        lines.append(f"{len(results) - failed} valid, {failed} invalid")
        payload: dict[str, Any] = {
            "ok": failed == 0,
            "valid": len(results) - failed,
            "invalid": failed,
            "results": results,
        }
        return _emit(args, payload, lines, failed == 0)

    return _with_store(args, run)


def _compat(args: argparse.Namespace) -> int:
    def run(store: GtsStore, _problems: list[dict[str, Any]]) -> int:
        report = store.compatibility(args.old_type_id, args.new_type_id)
        if report.error:
            return _fail(args, report.error)
        lines = [
            f"{report.old_type_id} -> {report.new_type_id}",
            f"  backward: {_yes(report.is_backward_compatible)}",
            *(f"    {e}" for e in report.backward_errors),
            f"  forward:  {_yes(report.is_forward_compatible)}",
            *(f"    {e}" for e in report.forward_errors),
            f"  full:     {_yes(report.is_fully_compatible)}",
        ]
        return _emit(args, report.to_dict(), lines, report.is_fully_compatible)

    return _with_store(args, run)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _cast(args: argparse.Namespace) -> int:
    def run(store: GtsStore, _problems: list[dict[str, Any]]) -> int:
        try:
            result = store.cast_details(args.instance_id, args.to_type_id)
        except GtsError as exc:
            return _fail(args, str(exc))
        if args.json:
            return _emit(args, result.to_dict(), [], True)
        print(dump_document(result.casted_entity, fmt="yaml" if args.yaml else "json"), end="")
        return _OK

    return _with_store(args, run)


def _query(args: argparse.Namespace) -> int:
    def run(store: GtsStore, _problems: list[dict[str, Any]]) -> int:
        try:
            results = store.query(args.expr, args.limit)
        except GtsError as exc:
            return _fail(args, str(exc))
        lines = [str(extract_id(doc).id) for doc in results]
        payload: dict[str, Any] = {
            "expr": args.expr,
            "limit": args.limit,
            "count": len(results),
            "results": results,
        }
        return _emit(args, payload, lines, True)

    return _with_store(args, run)


def _attr(args: argparse.Namespace) -> int:
    def run(store: GtsStore, _problems: list[dict[str, Any]]) -> int:
        try:
            result = store.attr(args.selector)
        except GtsError as exc:
            return _fail(args, str(exc))
        data = result.to_dict()
        lines = [json.dumps(data.get("value"))] if data.get("resolved") else []
        if not data.get("resolved"):
            reason = data.get("error") or "not resolved"
            return _fail(args, f"{shorten(args.selector)}: {reason}")
        return _emit(args, {"selector": args.selector, **data}, lines, True)

    return _with_store(args, run)


def _get(args: argparse.Namespace) -> int:
    def run(store: GtsStore, _problems: list[dict[str, Any]]) -> int:
        doc = store.get(args.gts_id)
        if doc is None:
            return _fail(args, f"entity {args.gts_id} is not among the loaded documents")
        print(dump_document(doc, fmt="yaml" if args.yaml else "json"), end="")
        return _OK

    return _with_store(args, run)


def _resolve(args: argparse.Namespace) -> int:
    def run(store: GtsStore, _problems: list[dict[str, Any]]) -> int:
        graph = store.relationships(args.gts_id)
        data = graph.to_dict()
        if not graph.found:
            return _fail(args, data["error"])
        lines = [f"{args.gts_id}: {len(graph.entities)} entities reachable"]
        for rel in graph.relations:
            mark = "" if rel.resolved else "  BROKEN"
            lines.append(f"  {rel.source} -[{rel.kind} {rel.path}]-> {rel.target}{mark}")
        lines.extend(f"  PROBLEM: {p}" for p in graph.problems)
        return _emit(args, data, lines, bool(data["ok"]))

    return _with_store(args, run)


# ------------------------------------------------------------------------ server


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from plugway.server import create_gts_app

    print(
        f"plugway gts serve: starting the GTS conformance server on http://{args.host}:{args.port}"
        " (in-memory store; Ctrl+C stops it)",
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.run(create_gts_app(), host=args.host, port=args.port, log_level="warning")
    except KeyboardInterrupt:
        return 130
    return _OK
