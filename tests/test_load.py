"""Load: 50 concurrent chat clients for 60 seconds on loopback, bounded in count and time."""

from __future__ import annotations

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
from test_chat_concurrency import SESSIONS, Transcript

from assistant.textnorm import normalize

CLIENTS = 50
SECONDS = 60
MAX_QUESTIONS_PER_CLIENT = 400  # a hard bound, whatever the speed


def client_loop(url: str, offset: int, deadline: float, results: list, lock) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    try:
        for n in range(MAX_QUESTIONS_PER_CLIENT):
            if time.monotonic() >= deadline:
                return
            if n and n % 3 == 0:
                client.reset_session()  # a new participant: keeps each transcript short
            question, evidence, where = SESSIONS[(offset + n) % len(SESSIONS)]
            started = time.perf_counter()
            try:
                _, chat, _ = client.predict(question, api_name="/ask")
                error = None
            except Exception as exc:  # recorded, then asserted to be none
                chat, error = "", f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - started
            answer = Transcript(chat).messages[-1] if chat else {"text": "", "cites": set()}
            ok = error is None and normalize(evidence) in normalize(answer["text"]) and \
                where in answer["cites"]
            with lock:
                results.append({"question": question, "seconds": elapsed, "ok": ok,
                                "error": error})
    finally:
        client.close()


@pytest.mark.slow
def test_fifty_clients_for_a_minute(chat_url, tmp_path):
    process = psutil.Process()
    results: list[dict] = []
    memory: list[tuple[float, int]] = []
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + SECONDS
    stop = threading.Event()

    def sample():
        while not stop.wait(2.0):
            memory.append((time.monotonic() - start, process.memory_info().rss))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(client_loop, chat_url, i, deadline, results, lock)
                   for i in range(CLIENTS)]
        for f in futures:
            f.result(timeout=SECONDS + 240)
    stop.set()
    sampler.join()

    latencies = sorted(r["seconds"] for r in results)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    early = [rss for t, rss in memory if 10 <= t <= 25]
    late = [rss for t, rss in memory if t >= SECONDS - 15]
    record = {"clients": CLIENTS, "seconds": SECONDS, "answers": len(results),
              "errors": [r["error"] for r in results if r["error"]][:5],
              "wrong": sum(not r["ok"] for r in results),
              "p50_s": round(statistics.median(latencies), 3), "p95_s": round(p95, 3),
              "rss_early_mb": round(statistics.median(early) / 2**20),
              "rss_late_mb": round(statistics.median(late) / 2**20)}
    print("\nload:", json.dumps(record))
    (tmp_path / "load.json").write_text(json.dumps(record), "utf-8")
    assert len(results) >= CLIENTS  # every client got through at least one question
    assert not record["errors"], record
    assert record["wrong"] == 0, [r for r in results if not r["ok"]][:3]
    # Flat memory: the last quarter-minute within 15% of the first (after warm-up).
    assert statistics.median(late) <= 1.15 * statistics.median(early), record
