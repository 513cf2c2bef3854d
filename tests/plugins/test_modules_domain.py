"""Domain logic of the shipped gateways: doc_search ranking and the tenant hierarchy."""

from __future__ import annotations

import pytest

from plugway.modules.doc_search._corpus import Corpus, Document, default_corpus, tokenize
from plugway.modules.doc_search._ranking import Bm25Ranker, TfidfRanker
from plugway.modules.tenant_resolver._hierarchy import TenantTree
from plugway.modules.tenant_resolver._models import (
    BarrierMode,
    TenantInfo,
    TenantNotFoundError,
    TenantStatus,
)

# -- doc_search -------------------------------------------------------------------------------


def test_shipped_corpus_loads_with_unique_ids() -> None:
    corpus = default_corpus()
    assert 40 <= len(corpus) <= 80
    assert len({d.id for d in corpus}) == len(corpus)
    assert all(d.title and d.body for d in corpus)


def test_tokenize_drops_stop_words_and_stems() -> None:
    assert tokenize("The Searching of indexes") == ["search", "index"]


@pytest.mark.parametrize("ranker_cls", [Bm25Ranker, TfidfRanker])
def test_rankers_put_the_obvious_document_first(ranker_cls: type) -> None:
    ranker = ranker_cls(default_corpus())
    hits = ranker.search("rendezvous hashing weights", 5)
    assert hits[0].title == "Rendezvous hashing"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(hits) <= 5


@pytest.mark.parametrize("ranker_cls", [Bm25Ranker, TfidfRanker])
def test_rankers_return_nothing_for_unknown_words(ranker_cls: type) -> None:
    assert ranker_cls(default_corpus()).search("zzzz qqqq", 10) == []


def test_the_two_rankers_differ_on_some_query() -> None:
    corpus = default_corpus()
    bm25, tfidf = Bm25Ranker(corpus), TfidfRanker(corpus)
    queries = ["coffee", "traffic rollout", "search ranking", "tenant", "python plugins"]
    assert any(
        [h.doc_id for h in bm25.search(q, 5)] != [h.doc_id for h in tfidf.search(q, 5)]
        for q in queries
    )


def test_corpus_refuses_duplicate_ids() -> None:
    doc = Document(id="d", title="t", body="b", tags=())
    with pytest.raises(ValueError, match="unique"):
        Corpus([doc, doc])


# -- tenant_resolver --------------------------------------------------------------------------

A, B, C, D, E = "a", "b", "c", "d", "e"


def _tree() -> TenantTree:
    # A -> B (self-managed) -> C ; A -> D (suspended) -> E
    return TenantTree(
        [
            TenantInfo(id=A, name="Root"),
            TenantInfo(id=B, name="Barrier", parent_id=A, self_managed=True),
            TenantInfo(id=C, name="Grandchild", parent_id=B),
            TenantInfo(id=D, name="Suspended", parent_id=A, status=TenantStatus.SUSPENDED),
            TenantInfo(id=E, name="Leaf", parent_id=D),
        ]
    )


def test_ancestors_stop_at_a_barrier_unless_ignored() -> None:
    tree = _tree()
    assert [t.id for t in tree.ancestors(C, BarrierMode.RESPECT)] == [B]
    assert [t.id for t in tree.ancestors(C, BarrierMode.IGNORE)] == [B, A]
    assert tree.ancestors(B, BarrierMode.RESPECT) == []
    assert tree.ancestors(A, BarrierMode.RESPECT) == []


def test_descendants_are_preorder_and_skip_barriers_and_filtered_subtrees() -> None:
    tree = _tree()
    everything = frozenset[TenantStatus]()
    assert [t.id for t in tree.descendants(A, everything, BarrierMode.RESPECT, None)] == [D, E]
    assert [t.id for t in tree.descendants(A, everything, BarrierMode.IGNORE, None)] == [
        B,
        C,
        D,
        E,
    ]
    active = frozenset({TenantStatus.ACTIVE})
    assert [t.id for t in tree.descendants(A, active, BarrierMode.IGNORE, None)] == [B, C]
    assert [t.id for t in tree.descendants(A, everything, BarrierMode.IGNORE, 1)] == [B, D]


def test_is_ancestor_respects_barriers_and_is_not_reflexive() -> None:
    tree = _tree()
    assert tree.is_ancestor(A, E, BarrierMode.RESPECT)
    assert not tree.is_ancestor(A, C, BarrierMode.RESPECT)
    assert tree.is_ancestor(A, C, BarrierMode.IGNORE)
    assert tree.is_ancestor(B, C, BarrierMode.RESPECT)
    assert not tree.is_ancestor(A, A, BarrierMode.RESPECT)
    with pytest.raises(TenantNotFoundError, match="'zz'"):
        tree.is_ancestor("zz", A, BarrierMode.RESPECT)


def test_get_many_skips_unknown_dedups_and_filters() -> None:
    tree = _tree()
    got = tree.get_many([A, "nope", A, D], frozenset({TenantStatus.ACTIVE}))
    assert [t.id for t in got] == [A]


def test_parent_cycles_do_not_loop() -> None:
    tree = TenantTree(
        [TenantInfo(id="x", name="x", parent_id="y"), TenantInfo(id="y", name="y", parent_id="x")]
    )
    assert [t.id for t in tree.ancestors("x", BarrierMode.IGNORE)] == ["y"]
    assert tree.is_ancestor("y", "x", BarrierMode.IGNORE)
