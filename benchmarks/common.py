"""Helpers shared by the benchmark parts: paths, settings, statistics, subprocess workers."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
EVAL_SET = REPO / "eval" / "sets" / "seed-background-note.jsonl"
CORPUS_DIR = REPO / "corpus"
CACHE_DIR = REPO / ".cache"
RESULT_TAG = "RESULT "
K = 5  # the cut-off for recall@5 and MRR@5, and the pipeline's default top_k


def make_settings(index_dir: Path | str, chroma_url: str = "", prefix: str = "passages"):
    """Settings for a benchmark index. Everything is passed explicitly so ASSISTANT_*
    variables in the caller's environment cannot redirect a run (no LLM, ever)."""
    from assistant.config import Settings

    return Settings(corpus_dir=CORPUS_DIR, index_dir=Path(index_dir), cache_dir=CACHE_DIR,
                    chroma_url=chroma_url, collection_prefix=prefix, llm_url="", llm_model="")


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..1), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary_ms(values: list[float]) -> dict:
    """p50/p95/mean/n of a list of milliseconds, rounded for the report."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "mean": None}
    return {"n": len(values), "p50": round(percentile(values, 0.5), 2),
            "p95": round(percentile(values, 0.95), 2),
            "mean": round(sum(values) / len(values), 2)}


def maxrss_mb() -> float:
    """Peak resident set size of this process so far.

    VmHWM, not ru_maxrss: Python starts children with vfork + exec, and Linux carries
    the parent's high-water mark into the child's ru_maxrss at exec, so every worker
    spawned by a parent holding the model would report the parent's peak.
    """
    peak = proc_status_mb(os.getpid())["peak_rss_mb"]
    if peak is not None:
        return peak
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


def proc_status_mb(pid: int) -> dict:
    """Current (VmRSS) and peak (VmHWM) resident memory of another process, from /proc."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return {"rss_mb": out.get("VmRSS"), "peak_rss_mb": out.get("VmHWM")}


def child_env() -> dict:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env["ANONYMIZED_TELEMETRY"] = "False"
    loopback = "127.0.0.1,localhost"  # never send a loopback request through a proxy
    env["NO_PROXY"] = env["no_proxy"] = ",".join(x for x in (env.get("NO_PROXY"), loopback) if x)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                     else "")
    return env


def emit(result: dict) -> None:
    """A worker's answer: one tagged JSON line on stdout."""
    print(RESULT_TAG + json.dumps(result), flush=True)


def run_worker(args: list[str], timeout: float) -> dict:
    """Run `python ARGS` in the repo, return the JSON it emitted; raise with its stderr."""
    started = time.perf_counter()
    proc = subprocess.run([PYTHON, *args], cwd=REPO, env=child_env(), capture_output=True,
                          text=True, timeout=timeout)
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG):])
    if proc.returncode != 0 or result is None:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"worker {' '.join(args[:3])} failed (rc {proc.returncode}):\n{tail}")
    result["wall_s"] = round(time.perf_counter() - started, 2)
    return result


def load_questions():
    from assistant.evaluation import load_set

    return load_set(EVAL_SET)


def rank_of_support(item, texts: list[str], k: int = K) -> int | None:
    """1-based rank of the first of the top-k texts that supports the item, or None."""
    from assistant.evaluation import supports

    return next((i for i, text in enumerate(texts[:k], start=1) if supports(item, text)), None)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
