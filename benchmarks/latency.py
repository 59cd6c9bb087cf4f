"""Part 2: warm and cold latency of (a) the pipeline and (d) the llama-index baseline.

Warm: both systems loaded in this process, questions asked in turn (a, then d, then
the bare query embedding) so load from other processes hits both alike.
(a) "ask" is ``Assistant.ask(q, k=5)`` end to end with the extractive composer (no LLM);
(d) "ask" is ``VectorStoreIndex.as_retriever(similarity_top_k=5).retrieve(q)``: retrieval
only, no LLM and no answer composition, so (d) does strictly less work than (a).

Cold: a fresh ``python -c`` that imports, loads and answers once, timed from outside
(from just before the process is spawned until it prints that its first answer is done).
The same process then asks the remaining questions, and reports its peak RSS: the
serving memory.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import PYTHON, REPO, K, child_env, summary_ms

COLD_A = """
import json, sys, time
from benchmarks.common import emit, make_settings, maxrss_mb, rss_mb
from assistant.pipeline import Assistant
qs = json.loads(open(sys.argv[2], encoding="utf-8").read())
assistant = Assistant(make_settings(sys.argv[1]), llm=None)
assistant.ask(qs[0], k=TOP_K)
print("FIRST", flush=True)
ms = []
for q in qs[1:]:
    t0 = time.perf_counter(); assistant.ask(q, k=TOP_K); ms.append((time.perf_counter() - t0) * 1e3)
emit({"peak_rss_mb": maxrss_mb(), "rss_mb": rss_mb(), "served": len(ms), "ms": ms})
""".replace("TOP_K", str(K))

COLD_D = """
import json, sys, time
from benchmarks.common import emit, make_settings, maxrss_mb, rss_mb
from llama_index.core import StorageContext, load_index_from_storage
from assistant.embedding import E5_MODEL_NAME, SentenceTransformerEmbedding, load_embedder
qs = json.loads(open(sys.argv[2], encoding="utf-8").read())
model = load_embedder(make_settings(sys.argv[1]))
embed = SentenceTransformerEmbedding(model, model_name=E5_MODEL_NAME)
storage = StorageContext.from_defaults(persist_dir=sys.argv[1])
retriever = load_index_from_storage(storage, embed_model=embed).as_retriever(similarity_top_k=TOP_K)
retriever.retrieve(qs[0])
print("FIRST", flush=True)
ms = []
for q in qs[1:]:
    t0 = time.perf_counter(); retriever.retrieve(q); ms.append((time.perf_counter() - t0) * 1e3)
emit({"peak_rss_mb": maxrss_mb(), "rss_mb": rss_mb(), "served": len(ms), "ms": ms})
""".replace("TOP_K", str(K))


def warm(systems, questions: list[str], reps: int, max_s: float) -> dict:
    from assistant.embedding import embed_query

    assistant, retriever = systems.assistant, systems.llama_retriever
    for q in questions[:3]:  # first calls pay for lazy initialisation
        assistant.ask(q, k=K)
        retriever.retrieve(q)
    a_ms, d_ms, emb_ms, emb_d_ms = [], [], [], []
    stages: dict[str, list[float]] = {}
    deadline = time.perf_counter() + max_s
    for _ in range(reps):
        for q in questions:
            if time.perf_counter() > deadline:
                break
            t0 = time.perf_counter()
            answer = assistant.ask(q, k=K)
            a_ms.append((time.perf_counter() - t0) * 1e3)
            for stage, value in answer.timings_ms.items():
                stages.setdefault(stage, []).append(value)
            t0 = time.perf_counter()
            retriever.retrieve(q)
            d_ms.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            embed_query(systems.model, q)
            emb_ms.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            systems.embed_model.get_query_embedding(q)
            emb_d_ms.append((time.perf_counter() - t0) * 1e3)
    a, d = summary_ms(a_ms), summary_ms(d_ms)
    # The same query embeddings with one torch thread: on a shared 2-core machine two
    # intra-op threads wait on each other whenever another process holds a core.
    import torch

    threads = torch.get_num_threads()
    one_ms = []
    try:
        torch.set_num_threads(1)
        for q in questions:
            if time.perf_counter() > deadline + max_s / 4:
                break
            t0 = time.perf_counter()
            embed_query(systems.model, q)
            one_ms.append((time.perf_counter() - t0) * 1e3)
    finally:
        torch.set_num_threads(threads)
    return {
        "a_ask_ms": a,
        "a_stage_ms": {k: summary_ms(v) for k, v in stages.items()},
        "d_retrieve_ms": d,
        "query_embedding_ms": summary_ms(emb_ms),
        "query_embedding_llama_adapter_ms": summary_ms(emb_d_ms),
        "query_embedding_1_thread_ms": summary_ms(one_ms),
        "torch_threads": threads,
        "ratio_p50_a_over_d": round(a["p50"] / d["p50"], 2) if a["n"] and d["n"] else None,
        "ratio_p95_a_over_d": round(a["p95"] / d["p95"], 2) if a["n"] and d["n"] else None,
        "reps": reps,
        "questions": len(questions),
    }


def _cold_once(code: str, target: Path, questions_file: Path, timeout: float) -> dict:
    with tempfile.TemporaryFile("w+") as errfile:
        started = time.perf_counter()
        proc = subprocess.Popen([PYTHON, "-c", code, str(target), str(questions_file)],
                                cwd=REPO, env=child_env(), stdout=subprocess.PIPE,
                                stderr=errfile, text=True)
        watchdog = threading.Timer(timeout, proc.kill)  # bounds the whole run, not one read
        watchdog.start()
        try:
            first = None
            for line in proc.stdout:
                if line.strip() == "FIRST":
                    first = time.perf_counter() - started
                    break
            out = proc.stdout.read()
            proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        total = time.perf_counter() - started
        errfile.seek(0)
        err = errfile.read()
    result = next((json.loads(x[7:]) for x in out.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or first is None or result is None:
        raise RuntimeError(f"cold-start process failed (rc {proc.returncode}):\n"
                           + "\n".join(err.splitlines()[-12:]))
    served = summary_ms(result.pop("ms"))
    return {"first_answer_s": round(first, 2), "process_s": round(total, 2),
            "serving_ms": served, **result}


def cold(index_dir: Path, llama_dir: Path, questions: list[str], workdir: Path, reps: int,
         timeout: float = 300) -> dict:
    qfile = workdir / "cold-questions.json"
    qfile.write_text(json.dumps(questions, ensure_ascii=False), "utf-8")
    runs: dict[str, list[dict]] = {"a": [], "d": []}
    for _ in range(reps):  # alternate, so a load spike does not land on one system only
        runs["a"].append(_cold_once(COLD_A, index_dir, qfile, timeout))
        runs["d"].append(_cold_once(COLD_D, llama_dir, qfile, timeout))
    out: dict = {"reps": reps, "served_questions": len(questions) - 1}
    for key, rs in runs.items():
        firsts = sorted(r["first_answer_s"] for r in rs)
        out[key] = {"first_answer_s_median": firsts[len(firsts) // 2],
                    "first_answer_s_all": firsts,
                    "serving_peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                    "serving_rss_mb": rs[-1]["rss_mb"],
                    "serving_ms_p50": rs[-1]["serving_ms"]["p50"]}
    a, d = out["a"]["first_answer_s_median"], out["d"]["first_answer_s_median"]
    out["ratio_a_over_d"] = round(a / d, 2) if d else None
    return out
