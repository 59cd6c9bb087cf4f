"""Part 4: how query latency and memory grow with the corpus, embedded and server Chroma.

For each size (1x, 10x, 100x, 1000x the seed's passage count) a worker process
creates one Chroma collection holding the seed index's real records (passages and
sentence vectors, copied) plus synthetic passages: random word sequences drawn
from the seed's own tokens, with precomputed vectors (90% random unit vectors,
10% noisy near-duplicates of real passage vectors, cosine about 0.85 to their
source), all from a fixed random seed. Nothing is embedded but the questions.
The worker then opens it the way the app does (``PassageIndex`` + ``Assistant``)
and times, over the eval set's questions:

- the retrieval path: dense search in Chroma + BM25 + rank fusion, with the
  question vectors computed beforehand (no model time);
- end-to-end ``ask`` (question embedding, retrieval, extractive composition).

Server mode starts ``chroma run --host 127.0.0.1`` on a free port with a fresh data
directory per size, and always stops it.

    python -m benchmarks.scaling --worker MODE SIZE URL WORKDIR NQ MAX_S   # internal
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import (
    K,
    child_env,
    emit,
    load_questions,
    make_settings,
    maxrss_mb,
    proc_status_mb,
    rank_of_support,
    rss_mb,
    run_worker,
    summary_ms,
)

SEED = 20261129
NEAR_DUPLICATE_SHARE = 0.10
NOISE_NORM = 0.62  # |noise| for a unit vector: cosine 1/sqrt(1 + 0.62**2) ~ 0.85
BATCH = 2000


def export_seed(systems, workdir: Path) -> None:
    """Write the seed index's records and the questions' vectors for the workers."""
    import numpy as np

    from assistant.embedding import embed_query

    for part, collection in (("passages", systems.index.collection),
                             ("sentences", systems.index.sentences)):
        got = collection.get(include=["embeddings", "documents", "metadatas"])
        (workdir / f"seed-{part}.json").write_text(json.dumps(
            {"ids": got["ids"], "documents": got["documents"], "metadatas": got["metadatas"]},
            ensure_ascii=False), "utf-8")
        np.save(workdir / f"seed-{part}.npy", np.asarray(got["embeddings"], dtype=np.float32))
    qvecs = [embed_query(systems.model, it.question) for it in load_questions()]
    np.save(workdir / "question-vectors.npy", np.stack(qvecs).astype(np.float32))


def synthetic_passages(real, real_vectors, count: int, size: int):
    """`count` synthetic Passages and their unit vectors, deterministic for a given size."""
    import numpy as np

    from assistant.domain import Passage

    rng = np.random.default_rng(SEED + size)
    words = np.array([w for p in real for w in p.text.split()])
    lengths = np.array([len(p.text.split()) for p in real])
    picks = lengths[rng.integers(0, len(lengths), count)]
    drawn = words[rng.integers(0, len(words), int(picks.sum()))]
    bounds = np.concatenate([[0], np.cumsum(picks)])
    dim = real_vectors.shape[1]
    vectors = rng.normal(size=(count, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    near = rng.random(count) < NEAR_DUPLICATE_SHARE
    sources = real_vectors[rng.integers(0, len(real_vectors), int(near.sum()))]
    vectors[near] = sources + NOISE_NORM * vectors[near]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    passages = []
    for i in range(count):
        text = " ".join(drawn[bounds[i]:bounds[i + 1]])
        passages.append(Passage(
            passage_id=f"synth#p{i}", doc_id=f"synth-{i // 100:04d}", title="synthetic",
            language="ar", section=["synthetic"], kind="paragraph", text=text, start=0,
            end=len(text), content_hash=f"s{i}", paragraph=str(i)))
    return passages, vectors


def _populate(settings, workdir: Path, size: int) -> dict:
    """Create the collection and state.json for `size` x the seed; return timings."""
    import numpy as np
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.index import (
        Generation,
        chroma_client,
        model_name,
        passage_from_metadata,
        passage_node,
        write_state,
    )

    seed = {part: json.loads((workdir / f"seed-{part}.json").read_text("utf-8"))
            for part in ("passages", "sentences")}
    seed_vectors = {part: np.load(workdir / f"seed-{part}.npy")
                    for part in ("passages", "sentences")}
    real = [passage_from_metadata(m) for m in seed["passages"]["metadatas"]]
    t0 = time.perf_counter()
    fake, vectors = synthetic_passages(real, seed_vectors["passages"],
                                       len(real) * (size - 1), size)
    gen_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    generation = Generation.create(chroma_client(settings), settings, 1, model_name(settings))
    for part, collection in (("passages", generation.passages),
                             ("sentences", generation.sentences)):
        collection.add(ids=seed[part]["ids"], embeddings=seed_vectors[part],
                       documents=seed[part]["documents"], metadatas=seed[part]["metadatas"])
    store = ChromaVectorStore(chroma_collection=generation.passages)
    for start in range(0, len(fake), BATCH):
        store.add([passage_node(p, v.tolist()) for p, v in
                   zip(fake[start:start + BATCH], vectors[start:start + BATCH], strict=True)])
    insert_s = time.perf_counter() - t0
    write_state(settings, generation, model_name(settings), {})
    return {"passages": len(real) + len(fake), "records": generation.passages.count(),
            "generate_s": round(gen_s, 2), "insert_s": round(insert_s, 2)}


def _worker(mode: str, size: int, url: str, workdir: Path, n_queries: int, max_s: float):
    import numpy as np

    from assistant.embedding import load_embedder
    from assistant.index import PassageIndex
    from assistant.pipeline import Assistant

    index_dir = workdir / f"scale-{mode}-{size}x"
    index_dir.mkdir(parents=True, exist_ok=True)
    settings = make_settings(index_dir, chroma_url=url, prefix=f"scale{size}x")
    model = load_embedder(settings)
    rss_model = rss_mb()
    built = _populate(settings, workdir, size)

    t0 = time.perf_counter()
    assistant = Assistant(settings, index=PassageIndex(settings), embedder=model, llm=None)
    open_s = time.perf_counter() - t0
    rss_open = rss_mb()
    index, retriever = assistant.index, assistant.retriever
    items = load_questions()
    qvecs = np.load(workdir / "question-vectors.npy").tolist()
    depth = max(20, 4 * K)  # as Retriever.retrieve
    for it, vec in list(zip(items, qvecs, strict=True))[:3]:  # warm-up
        retriever.fuse(index.dense_search(vec, depth), retriever.lexical.search(it.question,
                                                                                 depth), K)
        assistant.ask(it.question, k=K)

    path, dense, lexical = [], [], []
    deadline = time.perf_counter() + max_s
    for i in range(n_queries):
        if time.perf_counter() > deadline:
            break
        q, vec = items[i % len(items)].question, qvecs[i % len(items)]
        t0 = time.perf_counter()
        d = index.dense_search(vec, depth)
        t1 = time.perf_counter()
        lex = retriever.lexical.search(q, depth)
        t2 = time.perf_counter()
        retriever.fuse(d, lex, K)
        t3 = time.perf_counter()
        path.append((t3 - t0) * 1e3)
        dense.append((t1 - t0) * 1e3)
        lexical.append((t2 - t1) * 1e3)

    # Diagnostic: the same HNSW query straight to Chroma, without llama-index's wrapper
    # and our result mapping; the gap is what the plumbing costs.
    raw = []
    for i in range(min(n_queries, len(items))):
        t0 = time.perf_counter()
        index.collection.query(query_embeddings=[qvecs[i]], n_results=depth,
                               include=["metadatas", "distances"])
        raw.append((time.perf_counter() - t0) * 1e3)

    ask_ms, ranks, stages = [], [], {}
    deadline = time.perf_counter() + max_s
    for it in items[: min(n_queries, len(items))]:
        if time.perf_counter() > deadline:
            break
        t0 = time.perf_counter()
        answer = assistant.ask(it.question, k=K)
        ask_ms.append((time.perf_counter() - t0) * 1e3)
        for stage, value in answer.timings_ms.items():
            stages.setdefault(stage, []).append(value)
        if it.answerable:
            ranks.append(rank_of_support(it, [h.passage.text for h in answer.passages[:K]]))
    emit({"mode": mode, "size": size, **built, "open_s": round(open_s, 2),
          "path_ms": summary_ms(path), "dense_ms": summary_ms(dense),
          "lexical_ms": summary_ms(lexical), "dense_raw_ms": summary_ms(raw),
          "ask_ms": summary_ms(ask_ms),
          "ask_stage_p50_ms": {k: summary_ms(v)["p50"] for k, v in stages.items()},
          "recall@5_answerable": round(sum(r is not None for r in ranks) / len(ranks), 3)
          if ranks else None,
          "rss_model_loaded_mb": rss_model, "rss_opened_mb": rss_open,
          "peak_rss_mb": maxrss_mb()})


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def chroma_server(data_dir: Path, start_timeout: float = 60):
    """A `chroma run` on loopback; yields (url, pid); always stopped on the way out."""
    port = _free_port()
    chroma = Path(sys.executable).parent / "chroma"
    with open(data_dir.with_suffix(".log"), "w") as log:
        proc = subprocess.Popen([str(chroma), "run", "--path", str(data_dir), "--host",
                                 "127.0.0.1", "--port", str(port)], stdout=log,
                                stderr=subprocess.STDOUT, env=child_env())
        try:
            url = f"http://127.0.0.1:{port}"
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            deadline = time.monotonic() + start_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"chroma run exited with {proc.returncode}; see {log.name}")
                try:
                    with opener.open(url + "/api/v2/heartbeat", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no heartbeat from {url} after {start_timeout:.0f} s")
                time.sleep(0.25)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run(systems, workdir: Path, sizes: list[int], modes: list[str], n_queries: int,
        max_s: float, timeout: float = 900, on_step=None) -> dict:
    export_seed(systems, workdir)
    results: dict = {"sizes": sizes, "modes": modes, "queries": n_queries, "runs": []}
    for mode in modes:
        for size in sizes:
            if on_step:
                on_step(f"scaling: {mode} Chroma, {size}x")
            args = ["-m", "benchmarks.scaling", "--worker", mode, str(size)]
            rest = [str(workdir), str(n_queries), str(max_s)]
            try:
                if mode == "server":
                    with chroma_server(workdir / f"chroma-server-{size}x") as (url, pid):
                        r = run_worker(args + [url] + rest, timeout)
                        r["server"] = proc_status_mb(pid)
                else:
                    r = run_worker(args + [""] + rest, timeout)
            except Exception as exc:  # one failed size should not sink the others
                r = {"mode": mode, "size": size, "error": str(exc)[-2000:]}
            results["runs"].append(r)
    results["growth"] = growth(results["runs"])
    return results


def growth(runs: list[dict]) -> dict:
    """p50 at each size relative to 1x, per mode and metric."""
    out: dict = {}
    for mode in {r["mode"] for r in runs}:
        ok = {r["size"]: r for r in runs if r["mode"] == mode and "error" not in r}
        if 1 not in ok:
            continue
        out[mode] = {}
        for metric in ("path_ms", "ask_ms", "dense_ms", "dense_raw_ms", "lexical_ms"):
            base = ok[1][metric]["p50"]
            out[mode][metric] = {str(s): round(r[metric]["p50"] / base, 2) if base else None
                                 for s, r in sorted(ok.items())}
    return out


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "--worker":
        _, _, mode_, size_, url_, dir_, nq_, max_ = sys.argv
        _worker(mode_, int(size_), url_, Path(dir_), int(nq_), float(max_))
    else:
        raise SystemExit(__doc__)
