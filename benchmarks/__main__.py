"""Benchmarks: quality against baselines, latency, indexing throughput, scaling, environment.

    python -m benchmarks                 # everything (~5-10 min on 2 cores)
    python -m benchmarks --quick         # fewer repetitions, scaling up to 100x
    python -m benchmarks --skip-scaling  # parts 1-3 and 5 only

Writes benchmarks/results.json and benchmarks/RESULTS.md, prints the tables. All
indexes, Chroma servers and llama-index stores live in a temporary directory that
is removed at the end (--keep-tmp keeps it); nothing touches the app's index/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks import indexing, latency, quality, report, scaling
from benchmarks.common import REPO, load_questions, loadavg
from benchmarks.env import environment

OUT_DIR = REPO / "benchmarks"

NOTES = [
    "Quality: a system retrieves an item at rank r when its r-th result contains one of the "
    "item's evidence strings after the lexical normalisation (`assistant.evaluation.supports`)."
    " Answerable items only; recall@1, recall@5 and MRR@5 of the first supporting result.",
    "(a) is `Assistant.ask(q, k=5)`, its first 5 passages; (b) `PassageIndex.dense_search` on "
    "the same collection; (c) `LexicalIndex.build(..., normalise=False)` over the same passage "
    "texts; (d) `VectorStoreIndex.from_documents` over the raw Markdown of corpus/ with "
    "default `SentenceSplitter` and in-memory store, same E5 model via "
    "`SentenceTransformerEmbedding`.",
    "(d)'s chunks are bigger than (a)'s passages (see the Indexing table), so each of its 5 "
    "results covers more of the document: recall@5 favours (d) per result returned.",
    "Latency, warm: both systems in one process, asked in turn per question. (d)'s \"ask\" is "
    "`as_retriever(similarity_top_k=5).retrieve(q)`: retrieval only, no LLM, no answer; "
    "(a)'s ask also composes and verifies an extractive answer.",
    "Cold start: a new `python -c` that imports, loads and answers once, timed from outside "
    "(spawn to the line it prints after the first answer). The same process then answers the "
    "remaining questions; its peak RSS is the serving memory. (d) loads its "
    "persisted llama-index store (`load_index_from_storage`).",
    "Indexing: `build_index` into a fresh temporary directory in a subprocess with the model "
    "already loaded, then `SentenceTransformer.encode` on the same texts.",
    "Peak RSS is the process's VmHWM from /proc, not ru_maxrss: a child started by vfork + "
    "exec inherits its parent's ru_maxrss on Linux, so every worker would report the "
    "parent's peak.",
    "Scaling: synthetic passages (random sequences of the seed's words, fixed seed) with "
    "precomputed vectors (90% random unit vectors, 10% noisy near-duplicates of real passage "
    "vectors) added to a copy of the seed index; one worker process per size and mode; the "
    "server mode runs `chroma run --host 127.0.0.1` with a fresh data directory per size. "
    "R@5 there is (a)'s recall@5 with the synthetic distractors present. \"dense p50 "
    "(raw Chroma)\" is the same query sent straight to the Chroma collection, without "
    "llama-index's vector store wrapper: a diagnostic of what that plumbing costs.",
    "\"1 torch thread\" is a diagnostic: the same query embeddings after "
    "`torch.set_num_threads(1)`. With other processes busy on 2 cores, torch's two intra-op "
    "threads wait for each other and the embedding time swings; one thread does not.",
    "Timings are wall-clock on a shared 2-core machine; the load averages above show how busy "
    "it was. Percentiles are linear-interpolated.",
]


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a fast subset (~2-3 min)")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--skip-cold", action="store_true", help="no cold-start processes")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        help="scaling sizes as multiples of the seed, e.g. 1,10,100")
    parser.add_argument("--modes", default="embedded,server",
                        help="Chroma modes for scaling: embedded,server")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="set torch's intra-op threads here and in every subprocess "
                             "(default: torch's own choice)")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--keep-tmp", action="store_true")
    args = parser.parse_args(argv)

    if args.torch_threads > 0:  # before torch is imported, here and (inherited) in children
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.torch_threads)
        import torch

        torch.set_num_threads(args.torch_threads)
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 150)
    # SIGTERM unwinds like Ctrl-C, so `finally` blocks stop Chroma servers and clean up.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    started = time.perf_counter()
    quick = args.quick
    config = {"quick": quick, "torch_threads_flag": args.torch_threads or None,
              "warm_reps": 1 if quick else 2,
              "cold_reps": 1 if quick else 3,
              "sizes": args.sizes or ([1, 10, 100] if quick else [1, 10, 100, 1000]),
              "modes": [m for m in args.modes.split(",") if m],
              "scaling_queries": 24 if quick else 144,
              "loop_max_s": 40 if quick else 90}
    results: dict = {"config": config, "errors": {}, "loadavg": []}
    workdir = Path(tempfile.mkdtemp(prefix="assistant-bench-"))

    def phase(name: str) -> None:
        results["loadavg"].append({"phase": name, "load": loadavg()})
        console.log(f"[bold]{name}[/] (load {'/'.join(map(str, loadavg()))})")

    def attempt(part: str, fn):
        try:
            return fn()
        except Exception as exc:  # report the part as failed, carry on with the others
            results["errors"][part] = f"{type(exc).__name__}: {exc}"
            console.print(f"[red]{part} failed[/]\n{traceback.format_exc()}")
            return None

    try:
        results["env"] = environment()
        phase("start")
        items = load_questions()
        questions = [it.question for it in (items[::3] if quick else items)]

        phase("indexing (build_index in a subprocess)")
        index_dir, llama_dir = workdir / "index", workdir / "llama"
        results["indexing"] = indexing.run(index_dir)

        phase("loading (a)-(d)")
        systems = quality.Systems(index_dir, llama_dir)
        phase("quality")
        results["quality"] = attempt("quality", lambda: quality.run(systems, items))
        phase("warm latency")
        results["latency"] = {}
        results["latency"]["warm"] = attempt("latency.warm", lambda: latency.warm(
            systems, questions, config["warm_reps"], config["loop_max_s"]))
        if not args.skip_cold:
            phase("cold start and serving memory")
            results["latency"]["cold"] = attempt("latency.cold", lambda: latency.cold(
                index_dir, llama_dir, questions[:24], workdir, config["cold_reps"]))
        if not args.skip_scaling:
            phase("scaling")
            results["scaling"] = attempt("scaling", lambda: scaling.run(
                systems, workdir, config["sizes"], config["modes"],
                config["scaling_queries"], config["loop_max_s"], on_step=phase))
        phase("end")
    except KeyboardInterrupt:
        results["errors"]["run"] = "interrupted"
        raise
    except Exception as exc:
        results["errors"]["run"] = f"{type(exc).__name__}: {exc}"
        console.print(f"[red]benchmark aborted[/]\n{traceback.format_exc()}")
    finally:
        results["runtime_s"] = round(time.perf_counter() - started, 1)
        results = {k: v for k, v in results.items() if v is not None}
        results["targets"] = report.targets(results)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "results.json").write_text(
            json.dumps(results, ensure_ascii=False, indent=1), "utf-8")
        report.write_markdown(results, args.out_dir / "RESULTS.md", NOTES)
        if args.keep_tmp:
            console.log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report.print_tables(results, console)
    console.log(f"wrote {args.out_dir / 'results.json'} and {args.out_dir / 'RESULTS.md'} "
                f"in {results['runtime_s']:.0f} s")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
