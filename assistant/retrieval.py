"""Hybrid retrieval: dense search in Chroma and BM25 over normalised Arabic/English,
fused by reciprocal rank.

We fuse ourselves rather than through llama-index's QueryFusionRetriever
because abstention and answer composition need each retriever's own rank and
the dense cosine, which the fusion retriever replaces by its fused score.

Entry point: :class:`Retriever` and its :meth:`Retriever.retrieve`.
"""

from __future__ import annotations

import time

from assistant.chunking import embedding_text
from assistant.config import Settings, get_settings
from assistant.crosslingual import ConceptScorer, expand
from assistant.domain import ScoredPassage
from assistant.index import PassageIndex
from assistant.lexical import LexicalIndex
from assistant.textnorm import tokenize

RRF_K = 60  # the customary constant; it damps the weight of the very top ranks


class Retriever:
    def __init__(self, index: PassageIndex, embedder, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.index = index
        self.embedder = embedder
        ids = list(index.passages)
        tokens = [tokenize(embedding_text(index.passages[i])) for i in ids]
        self.lexical = LexicalIndex.from_tokens(ids, tokens)
        self.concepts = ConceptScorer(tokens)

    def overlap_for(self, question: str):
        """Scores a sentence by the question's concepts it contains, in either language."""
        return self.concepts.for_question(question)

    def embed_question(self, question: str) -> list[float]:
        from assistant.embedding import embed_query

        return embed_query(self.embedder, question).tolist()

    def retrieve(self, question: str, k: int | None = None,
                 timings: dict | None = None) -> tuple[list[ScoredPassage], list[float]]:
        """Return the fused top-k passages (plus the paragraphs that cite any
        footnote among them) and the question's embedding."""
        k = k or self.settings.top_k
        depth = max(20, 4 * k)
        t0 = time.perf_counter()
        vector = self.embed_question(question)
        t1 = time.perf_counter()
        dense = self.index.dense_search(vector, depth)
        t2 = time.perf_counter()
        lexical = self.lexical.search(expand(question), depth)
        t3 = time.perf_counter()
        if timings is not None:
            timings.update(embed_ms=(t1 - t0) * 1e3, dense_ms=(t2 - t1) * 1e3,
                           lexical_ms=(t3 - t2) * 1e3)
        return self.fuse(dense, lexical, k), vector

    def fuse(self, dense, lexical, k: int) -> list[ScoredPassage]:
        fused: dict[str, ScoredPassage] = {}
        for rank, (passage, cosine) in enumerate(dense, start=1):
            fused[passage.passage_id] = ScoredPassage(passage, 1 / (RRF_K + rank),
                                                      dense_rank=rank, dense_score=cosine)
        for rank, (pid, _score) in enumerate(lexical, start=1):
            passage = self.index.passages.get(pid)
            if passage is None:
                continue
            hit = fused.setdefault(pid, ScoredPassage(passage, 0.0))
            hit.score += 1 / (RRF_K + rank)
            hit.lexical_rank = rank
        ranked = sorted(fused.values(), key=lambda h: (-h.score, h.passage.passage_id))[:k]
        return self._with_citing_paragraphs(ranked)

    def _with_citing_paragraphs(self, ranked: list[ScoredPassage]) -> list[ScoredPassage]:
        """A footnote means little alone: bring in the paragraph that cites it."""
        out: list[ScoredPassage] = []
        seen = {h.passage.passage_id for h in ranked}
        for hit in ranked:
            out.append(hit)
            if hit.passage.kind != "footnote":
                continue
            for number in hit.passage.cited_by:
                for pid in self.index.by_paragraph.get((hit.passage.doc_id, number), []):
                    if pid not in seen:
                        seen.add(pid)
                        out.append(ScoredPassage(self.index.passages[pid], hit.score * 0.999))
        return out
