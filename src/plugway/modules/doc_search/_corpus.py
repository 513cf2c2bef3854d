"""The document corpus shipped with the doc_search gateway, and the tokenizer its rankers share.

Ranking plugins (shipped or third-party) all read the same corpus so that an A/B test compares
ranking, not data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["Corpus", "Document", "default_corpus", "tokenize"]

_TOKEN = re.compile(r"[a-z0-9]+")
# Very common English words carry no ranking signal; dropping them keeps scores meaningful on
# a small corpus.
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "for",
        "from",
        "has",
        "have",
        "how",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "too",
        "up",
        "was",
        "we",
        "what",
        "when",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "without",
        "you",
        "your",
    ]
)


def _stem(token: str) -> str:
    """Strip a few English suffixes so that 'searching' and 'search' meet (light, predictable)."""
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if len(token) > len(suffix) + 2 and token.endswith(suffix):
            return token[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return token


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens, stop words removed, lightly stemmed."""
    return [_stem(t) for t in _TOKEN.findall(text.lower()) if t not in _STOP]


@dataclass(frozen=True, slots=True)
class Document:
    """One searchable document."""

    id: str
    title: str
    body: str
    tags: tuple[str, ...]

    @property
    def text(self) -> str:
        """Title and body together: what the rankers index."""
        return f"{self.title}. {self.body}"


class Corpus:
    """An immutable, ordered collection of documents with their token lists precomputed."""

    __slots__ = ("_by_id", "_docs", "_tokens")

    def __init__(self, documents: Sequence[Document]) -> None:
        self._docs = tuple(documents)
        self._by_id = {d.id: d for d in self._docs}
        if len(self._by_id) != len(self._docs):
            raise ValueError("corpus document ids must be unique")
        self._tokens = tuple(tuple(tokenize(d.text)) for d in self._docs)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Corpus:
        """Build from ``{"documents": [{"id", "title", "body", "tags"}...]}``."""
        docs = [
            Document(
                id=str(item["id"]),
                title=str(item["title"]),
                body=str(item["body"]),
                tags=tuple(str(t) for t in item.get("tags", ())),
            )
            for item in data["documents"]
        ]
        return cls(docs)

    def __len__(self) -> int:
        return len(self._docs)

    def __iter__(self) -> Iterator[Document]:
        return iter(self._docs)

    def __getitem__(self, index: int) -> Document:
        return self._docs[index]

    def get(self, doc_id: str) -> Document | None:
        return self._by_id.get(doc_id)

    def tokens(self, index: int) -> tuple[str, ...]:
        """The token list of the document at ``index``."""
        return self._tokens[index]


@cache
def default_corpus() -> Corpus:
    """The corpus shipped in this package (``corpus.json``), loaded once per process."""
    text = resources.files(__package__).joinpath("corpus.json").read_text(encoding="utf-8")
    return Corpus.from_mapping(json.loads(text))
