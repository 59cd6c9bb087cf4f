"""Part 1: retrieval quality of the pipeline against three baselines, one embedding model.

(a) pipeline   ``Assistant.ask(q, k=5)``: dense + BM25 (Arabic normalisation, stemming)
               fused by reciprocal rank, footnotes followed by their citing paragraph.
(b) dense      the same Chroma collection, ``PassageIndex.dense_search`` alone.
(c) bm25-naive ``LexicalIndex.build(..., normalise=False)`` over the same passage texts:
               lowercase whitespace split, no Arabic normalisation, no stemming.
(d) llama-index ``VectorStoreIndex.from_documents`` over the raw Markdown of corpus/,
               default ``SentenceSplitter`` (1024 tokens, overlap 200), the same E5 model
               through ``SentenceTransformerEmbedding``, default in-memory vector store.

A ranked list counts as retrieving an item at rank r when its r-th entry contains one
of the item's evidence strings (``assistant.evaluation.supports``). Only answerable
items count; metrics are per question language.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.common import CORPUS_DIR, K, make_settings, rank_of_support

SYSTEMS = {
    "a": "(a) pipeline: hybrid dense+BM25, RRF",
    "b": "(b) dense only (Chroma)",
    "c": "(c) BM25, no Arabic normalisation",
    "d": "(d) llama-index VectorStoreIndex defaults",
}


class Systems:
    """Everything the quality and warm-latency parts query, loaded once in this process."""

    def __init__(self, index_dir: Path, llama_dir: Path):
        from assistant.chunking import embedding_text
        from assistant.embedding import load_embedder
        from assistant.lexical import LexicalIndex
        from assistant.pipeline import Assistant

        self.settings = make_settings(index_dir)
        self.model = load_embedder(self.settings)
        self.assistant = Assistant(self.settings, embedder=self.model, llm=None)
        self.index = self.assistant.index
        ids = list(self.index.passages)
        self.naive = LexicalIndex.build(
            ids, [embedding_text(self.index.passages[i]) for i in ids], normalise=False)
        self.llama_dir = llama_dir
        self._build_llama()

    def _build_llama(self) -> None:
        from llama_index.core import SimpleDirectoryReader, VectorStoreIndex

        from assistant.embedding import E5_MODEL_NAME, SentenceTransformerEmbedding

        self.embed_model = SentenceTransformerEmbedding(self.model, model_name=E5_MODEL_NAME)
        t0 = time.perf_counter()
        docs = SimpleDirectoryReader(input_dir=str(CORPUS_DIR), required_exts=[".md"]).load_data()
        self.llama_index = VectorStoreIndex.from_documents(docs, embed_model=self.embed_model)
        self.llama_build_s = time.perf_counter() - t0
        self.llama_index.storage_context.persist(persist_dir=str(self.llama_dir))
        self.llama_retriever = self.llama_index.as_retriever(similarity_top_k=K)
        nodes = list(self.llama_index.docstore.docs.values())
        self.llama_nodes = [n.get_content() for n in nodes]
        self.llama_docs = len(docs)

    # Each returns the ranked texts (best first) for one question.
    def ask_a(self, q: str) -> list[str]:
        answer = self.assistant.ask(q, k=K)
        return [h.passage.text for h in answer.passages[:K]]

    def rank_b(self, q: str) -> list[str]:
        from assistant.embedding import embed_query

        vec = embed_query(self.model, q).tolist()
        return [p.text for p, _ in self.index.dense_search(vec, K)]

    def rank_c(self, q: str) -> list[str]:
        return [self.index.passages[pid].text for pid, _ in self.naive.search(q, K)]

    def ask_d(self, q: str) -> list[str]:
        return [n.node.get_content() for n in self.llama_retriever.retrieve(q)]

    def rankers(self) -> dict:
        return {"a": self.ask_a, "b": self.rank_b, "c": self.rank_c, "d": self.ask_d}


def _metrics(ranks: list[int | None]) -> dict:
    n = len(ranks)
    if not n:
        return {"n": 0, "recall@1": None, "recall@5": None, "mrr@5": None}
    return {"n": n,
            "recall@1": round(sum(r == 1 for r in ranks) / n, 3),
            "recall@5": round(sum(r is not None and r <= K for r in ranks) / n, 3),
            "mrr@5": round(sum(1 / r for r in ranks if r) / n, 3)}


def run(systems: Systems, items) -> dict:
    from assistant.evaluation import supports

    answerable = [it for it in items if it.answerable]
    per_item: dict[str, dict[str, int | None]] = {}
    out: dict = {"k": K, "systems": {}, "items_answerable": len(answerable)}
    for key, ranker in systems.rankers().items():
        ranks = {it.id: rank_of_support(it, ranker(it.question)) for it in answerable}
        per_item[key] = ranks
        out["systems"][key] = {
            "label": SYSTEMS[key],
            **{lang: _metrics([ranks[it.id] for it in answerable if it.lang == lang])
               for lang in ("ar", "en")},
            "all": _metrics(list(ranks.values())),
        }
    # How many items any llama-index node could support at all: chunks of raw Markdown
    # can split an evidence string or keep markup (<sup>) inside it.
    reachable = sum(any(supports(it, t) for t in systems.llama_nodes) for it in answerable)
    out["llama_index"] = {
        "documents": systems.llama_docs,
        "nodes": len(systems.llama_nodes),
        "mean_node_chars": round(sum(map(len, systems.llama_nodes)) / len(systems.llama_nodes)),
        "items_any_node_supports": reachable,
        "build_s": round(systems.llama_build_s, 2),
        "nodes_per_s": round(len(systems.llama_nodes) / systems.llama_build_s, 2),
    }
    texts = [p.text for p in systems.index.passages.values()]
    out["pipeline_passages"] = {"passages": len(texts),
                                "mean_passage_chars": round(sum(map(len, texts)) / len(texts))}
    out["per_item_rank"] = per_item
    return out
