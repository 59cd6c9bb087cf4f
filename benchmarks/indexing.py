"""Part 3: indexing throughput and memory.

A subprocess loads the model, builds a fresh index with ``build_index`` in a
temporary directory, then times a bare ``SentenceTransformer.encode`` over the
very texts the build embedded (passages with their heading, plus the sentence
records). The gap between the two is the pipeline's overhead: parsing,
chunking, sentence splitting, Chroma writes and the generation bookkeeping.
The index it builds is the one every later part queries.

    python -m benchmarks.indexing --worker INDEX_DIR   # used by `python -m benchmarks`
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from benchmarks.common import emit, make_settings, maxrss_mb, rss_mb, run_worker


def _worker(index_dir: Path) -> None:
    from assistant.chunking import document_passages, embedding_text
    from assistant.corpus import load_documents
    from assistant.embedding import embed_passages, load_embedder
    from assistant.index import build_index, passage_sentences

    settings = make_settings(index_dir)
    rss_start = rss_mb()
    t0 = time.perf_counter()
    model = load_embedder(settings)  # cached per process: build_index reuses it
    load_s = time.perf_counter() - t0
    embed_passages(model, ["warm-up", "تسخين"], settings.embed_batch_size)  # lazy torch init
    rss_loaded = rss_mb()

    t0 = time.perf_counter()
    report = build_index(settings=settings)
    build_s = time.perf_counter() - t0
    if not report.ok:
        raise SystemExit(f"build_index failed: {report.errors}")
    peak_build = maxrss_mb()

    docs = load_documents(None, settings).documents
    passages = [p for d in docs for p in document_passages(d, settings.max_passage_chars)]
    texts = [embedding_text(p) for p in passages] + [s.text for s in passage_sentences(passages)]
    t0 = time.perf_counter()
    model.encode(texts, prompt_name="passage", batch_size=settings.embed_batch_size,
                 normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    encode_s = time.perf_counter() - t0

    emit({
        "passages": len(passages),
        "records_in_index": report.passages_total + report.sentences_embedded,
        # A fresh build embeds every record it writes: passages and sentence records.
        "texts_embedded": report.passages_embedded + report.sentences_embedded,
        "documents": len(docs),
        "model_load_s": round(load_s, 2),
        "build_s": round(build_s, 3),
        "raw_encode_s": round(encode_s, 3),
        "raw_encode_texts": len(texts),
        "rss_start_mb": rss_start,
        "rss_model_loaded_mb": rss_loaded,
        "peak_rss_build_mb": peak_build,
    })


def run(index_dir: Path, timeout: float = 600) -> dict:
    """Build the benchmark index in index_dir (in a subprocess) and derive throughputs."""
    r = run_worker(["-m", "benchmarks.indexing", "--worker", str(index_dir)], timeout)
    build_s, encode_s = r["build_s"], r["raw_encode_s"]
    r["passages_per_s"] = round(r["passages"] / build_s, 2)
    r["texts_per_s_build"] = round(r["texts_embedded"] / build_s, 2)
    r["texts_per_s_raw_encode"] = round(r["raw_encode_texts"] / encode_s, 2)
    # The same texts at the raw rate, expressed per passage for a like-for-like column.
    r["passages_per_s_raw_encode"] = round(r["passages"] / encode_s, 2)
    r["overhead_s"] = round(build_s - encode_s, 3)
    r["overhead_pct"] = round(100 * (build_s - encode_s) / build_s, 1)
    return r


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker(Path(sys.argv[2]))
    else:
        raise SystemExit(__doc__)
