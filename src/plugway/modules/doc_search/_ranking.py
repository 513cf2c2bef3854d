"""Two classic ranking functions over a :class:`Corpus`: BM25 and TF-IDF cosine.

They are deliberately different (saturating term frequency with length normalisation vs. vector
angle), so the doc_search gateway has two plugins whose results an A/B test can tell apart.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from plugway.modules.doc_search._corpus import Corpus, tokenize

__all__ = ["Bm25Ranker", "Hit", "TfidfRanker"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked document: its id, title and score (higher is better)."""

    doc_id: str
    title: str
    score: float


def _top(corpus: Corpus, scores: dict[int, float], limit: int) -> list[Hit]:
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], corpus[kv[0]].id))
    return [
        Hit(doc_id=corpus[i].id, title=corpus[i].title, score=round(s, 6))
        for i, s in ranked[:limit]
        if s > 0.0
    ]


class Bm25Ranker:
    """Okapi BM25 with the usual ``k1``/``b`` parameters, over precomputed postings."""

    __slots__ = ("_avgdl", "_b", "_corpus", "_idf", "_k1", "_lengths", "_postings")

    def __init__(self, corpus: Corpus, *, k1: float = 1.2, b: float = 0.75) -> None:
        self._corpus = corpus
        self._k1 = k1
        self._b = b
        self._lengths = [len(corpus.tokens(i)) for i in range(len(corpus))]
        self._avgdl = (sum(self._lengths) / len(self._lengths)) if self._lengths else 0.0
        postings: dict[str, dict[int, int]] = {}
        for i in range(len(corpus)):
            for term, tf in Counter(corpus.tokens(i)).items():
                postings.setdefault(term, {})[i] = tf
        self._postings = postings
        n = len(corpus)
        self._idf = {
            t: math.log(1.0 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            for t, docs in postings.items()
        }

    def search(self, query: str, limit: int) -> list[Hit]:
        scores: dict[int, float] = {}
        for term in set(tokenize(query)):
            docs = self._postings.get(term)
            if not docs:
                continue
            idf = self._idf[term]
            for i, tf in docs.items():
                norm = 1.0 - self._b + self._b * self._lengths[i] / self._avgdl
                scores[i] = scores.get(i, 0.0) + idf * tf * (self._k1 + 1.0) / (
                    tf + self._k1 * norm
                )
        return _top(self._corpus, scores, limit)


class TfidfRanker:
    """TF-IDF vectors (log tf, smoothed idf) compared to the query by cosine similarity."""

    __slots__ = ("_corpus", "_idf", "_vectors")

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus
        n = len(corpus)
        df: Counter[str] = Counter()
        for i in range(n):
            df.update(set(corpus.tokens(i)))
        self._idf = {t: math.log((1.0 + n) / (1.0 + c)) + 1.0 for t, c in df.items()}
        self._vectors = [self._vector(Counter(corpus.tokens(i))) for i in range(n)]

    def _vector(self, counts: Counter[str]) -> dict[str, float]:
        vec = {t: (1.0 + math.log(c)) * self._idf[t] for t, c in counts.items() if t in self._idf}
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {t: v / norm for t, v in vec.items()} if norm else {}

    def search(self, query: str, limit: int) -> list[Hit]:
        q = self._vector(Counter(tokenize(query)))
        scores: dict[int, float] = {}
        if q:
            for i, vec in enumerate(self._vectors):
                s = sum(w * vec.get(t, 0.0) for t, w in q.items())
                if s > 0.0:
                    scores[i] = s
        return _top(self._corpus, scores, limit)
