"""Smoke tests for benchmarks/: the pure parts only (no model, no Chroma, no subprocess)."""

import numpy as np

from assistant.domain import Passage
from benchmarks import report
from benchmarks.common import percentile, summary_ms
from benchmarks.scaling import growth, synthetic_passages


def _passage(i: int, text: str) -> Passage:
    return Passage(passage_id=f"d#p{i}", doc_id="d", title="t", language="ar", section=[],
                   kind="paragraph", text=text, start=0, end=len(text), content_hash=str(i))


def test_percentiles():
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([0.0, 10.0], 0.95) == 9.5
    assert summary_ms([1.0, 2.0, 3.0])["p50"] == 2.0


def test_synthetic_corpus_is_deterministic_and_unit_norm():
    real = [_passage(0, "التعاون الدولي في مجال الهجرة"), _passage(1, "migration compact review")]
    vecs = np.eye(2, 8, dtype=np.float32)
    a, va = synthetic_passages(real, vecs, 50, 10)
    b, vb = synthetic_passages(real, vecs, 50, 10)
    assert [p.text for p in a] == [p.text for p in b] and np.array_equal(va, vb)
    assert np.allclose(np.linalg.norm(va, axis=1), 1.0, atol=1e-5)
    vocab = {w for p in real for w in p.text.split()}
    assert all(set(p.text.split()) <= vocab for p in a)
    assert len({p.passage_id for p in a}) == 50


def test_targets_and_markdown(tmp_path):
    metrics = {"n": 2, "recall@1": 0.5, "recall@5": 1.0, "mrr@5": 0.75}
    lower = {**metrics, "recall@5": 0.5}
    runs = [{"mode": "embedded", "size": s, "passages": 24 * s, "insert_s": 0.1,
             "path_ms": {"p50": p, "p95": p}, "dense_ms": {"p50": p, "p95": p},
             "dense_raw_ms": {"p50": 1.0, "p95": 1.0}, "lexical_ms": {"p50": 0.1},
             "ask_ms": {"p50": 30.0, "p95": 40.0}, "ask_stage_p50_ms": {"embed_ms": 20.0},
             "recall@5_answerable": 1.0, "peak_rss_mb": 900.0} for s, p in ((1, 2.0), (1000, 8.0))]
    results = {
        "config": {"quick": True},
        "quality": {"k": 5, "systems": {
            "a": {"label": "a", "ar": metrics, "en": metrics},
            **{k: {"label": k, "ar": metrics if k == "b" else lower, "en": lower} for k in "bcd"}}},
        "latency": {"warm": {"a_ask_ms": {"p50": 120.0, "p95": 150.0},
                             "d_retrieve_ms": {"p50": 20.0, "p95": 25.0},
                             "query_embedding_ms": {"p50": 90.0, "p95": 99.0},
                             "query_embedding_llama_adapter_ms": {"p50": 90.0, "p95": 99.0},
                             "query_embedding_1_thread_ms": {"n": 1, "p50": 30.0, "p95": 31.0},
                             "torch_threads": 2, "ratio_p50_a_over_d": 6.0,
                             "ratio_p95_a_over_d": 6.0}},
        "scaling": {"runs": runs, "growth": growth(runs)},
    }
    results["targets"] = report.targets(results)
    met = {t["target"]: t["met"] for t in results["targets"]}
    assert met["(a) beats every baseline on recall@5 (en)"] is True
    assert met["(a) beats every baseline on recall@5 (ar)"] is False  # tied with (b)
    assert met["warm ask p50 <= 100 ms at 1x"] is False
    assert any("4.00x" in t["value"] and not t["met"] for t in results["targets"])
    out = tmp_path / "RESULTS.md"
    report.write_markdown(results, out, ["a note"])
    text = out.read_text("utf-8")
    assert "## Targets" in text and "## Quality" in text and "a note" in text
