"""GTS documents read from files and folders given on the command line, into a store.

A file that cannot be read or parsed, or a document the store refuses, is reported and the rest
still load: a command on a folder answers for everything it could read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from plugway.gts import DOCUMENT_SUFFIXES, GtsError, GtsStore, load_documents

__all__ = ["InputError", "documents", "load_store"]


class InputError(Exception):
    """A file or folder given on the command line cannot be read."""


def _files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix in DOCUMENT_SUFFIXES
            )
            yield from found
        elif path.is_file():
            yield path
        else:
            raise InputError(f"{path}: no such file or folder")


def documents(
    paths: Sequence[Path], problems: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """Every document of every file; a file that cannot be read or parsed is added to
    ``problems`` and the others are still loaded. No file at all is an error."""
    out: list[tuple[str, dict[str, Any]]] = []
    files = list(_files(paths))
    if not files:
        names = ", ".join(str(p) for p in paths)
        raise InputError(f"no {'/'.join(DOCUMENT_SUFFIXES)} files in {names}")
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            docs = load_documents(text, filename=str(path))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append({"source": str(path), "ok": False, "error": f"cannot read: {exc}"})
            continue
        except GtsError as exc:
            problems.append({"source": str(path), "ok": False, "error": str(exc)})
            continue
        out.extend((str(path), doc) for doc in docs)
    return out


def load_store(paths: Sequence[Path]) -> tuple[GtsStore, list[dict[str, Any]]]:
    """Register every document (leniently); load and registration failures are returned."""
    store = GtsStore()
    problems: list[dict[str, Any]] = []
    for source, doc in documents(paths, problems):
        try:
            store.register(doc)
        except GtsError as exc:
            problems.append({"source": source, "ok": False, "error": str(exc)})
    return store, problems
