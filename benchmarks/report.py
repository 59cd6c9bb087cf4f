"""Turn results.json into rich tables (terminal) and RESULTS.md (Markdown)."""

from __future__ import annotations

from pathlib import Path

LANGS = ("ar", "en")


def _f(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _scaling_runs(results: dict, mode: str) -> dict[int, dict]:
    return {r["size"]: r for r in results.get("scaling", {}).get("runs", [])
            if r["mode"] == mode and "error" not in r}


def _why_scaling(runs: dict[int, dict], size: int, metric: str) -> str:
    lo, hi = runs[1], runs[size]
    why = (f"dense search p50 {lo['dense_ms']['p50']:.1f} -> {hi['dense_ms']['p50']:.1f} ms; "
           f"the same query straight to Chroma "
           f"{lo['dense_raw_ms']['p50']:.1f} -> {hi['dense_raw_ms']['p50']:.1f} ms;"
           f" BM25 {lo['lexical_ms']['p50']:.1f} -> {hi['lexical_ms']['p50']:.1f} ms")
    if metric == "ask_ms":
        why += (f"; query embedding {lo['ask_stage_p50_ms'].get('embed_ms', 0):.0f} / "
                f"{hi['ask_stage_p50_ms'].get('embed_ms', 0):.0f} ms")
    return why


def targets(results: dict) -> list[dict]:
    """Each target: measured value, met or not, by how much it is missed and why."""
    out = []
    q = (results.get("quality") or {}).get("systems")
    if q:
        for lang in LANGS:
            a = q["a"][lang]["recall@5"]
            best_key = max("bcd", key=lambda k: q[k][lang]["recall@5"])
            best = q[best_key][lang]["recall@5"]
            gap = None
            if a == best:
                gap = ("tied at 1.000, the ceiling: no system can beat it on this set"
                       if a == 1 else "tied (not beaten)")
            elif a < best:
                gap = f"{best - a:.3f} short of {best_key}"
            out.append({"target": f"(a) beats every baseline on recall@5 ({lang})",
                        "value": f"{a:.3f} vs best baseline {best_key} {best:.3f}",
                        "met": a > best, "gap": gap})
    warm = (results.get("latency") or {}).get("warm")
    if warm:
        p50 = warm["a_ask_ms"]["p50"]
        gap = None
        if p50 > 100:
            load = [p["load"][0] for p in results.get("loadavg", [])]
            gap = (f"{p50 - 100:.1f} ms over; query embedding alone p50 "
                   f"{warm['query_embedding_ms']['p50']:.0f} ms (1 torch thread: "
                   f"{warm['query_embedding_1_thread_ms']['p50']:.0f} ms); "
                   f"1-min load average up to {max(load, default=0):.1f}")
        out.append({"target": "warm ask p50 <= 100 ms at 1x", "value": f"{p50:.1f} ms",
                    "met": p50 <= 100, "gap": gap})
    growth = (results.get("scaling") or {}).get("growth", {})
    for mode, metrics in sorted(growth.items()):
        runs = _scaling_runs(results, mode)
        size = 1000 if 1000 in runs else max(runs)
        for metric in ("path_ms", "ask_ms"):
            ratio = metrics.get(metric, {}).get(str(size))
            if ratio is None or size == 1:
                continue
            label = "retrieval path" if metric == "path_ms" else "end-to-end ask"
            note = "" if size == 1000 else f" (1000x not run; largest {size}x)"
            out.append({"target": f"p50 at 1000x <= 3 x p50 at 1x ({label}, {mode} Chroma)"
                                  + note,
                        "value": f"{ratio:.2f}x ({runs[1][metric]['p50']:.1f} -> "
                                 f"{runs[size][metric]['p50']:.1f} ms)",
                        "met": ratio <= 3,
                        "gap": None if ratio <= 3 else f"{ratio - 3:.2f}x over: "
                        + _why_scaling(runs, size, metric)})
    return out


def sections(results: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for every table; shared by the terminal and Markdown output."""
    tables = []
    env = results.get("env", {})
    if env:
        rows = [["date", env["date"]], ["cpu", f"{env['cpu']} ({env['cores_logical']} logical, "
                                          f"{env['cores_physical']} physical cores)"],
                ["memory", f"{env['memory_gb']} GB"], ["python", env["python"]],
                ["torch threads", f"{env['torch_threads']} (interop "
                                  f"{env['torch_interop_threads']})"]]
        rows += [[k, v or "not installed"] for k, v in env["versions"].items()]
        tables.append(("Environment", ["item", "value"], rows))
    if results.get("loadavg"):
        tables.append((f"Load average while running (other processes included; "
                       f"{env.get('cores_logical', '?')} cores)",
                       ["phase starting", "1 min", "5 min", "15 min"],
                       [[p["phase"], *map(str, p["load"])] for p in results["loadavg"]]))
    t = results.get("targets")
    if t:
        tables.append(("Targets", ["target", "measured", "met", "gap"],
                       [[x["target"], x["value"], "yes" if x["met"] else "NO", x["gap"] or ""]
                        for x in t]))
    q = results.get("quality")
    if q:
        rows = []
        for s in q["systems"].values():
            rows.append([s["label"]] + [_f(s[lang][m], 3) for lang in LANGS
                                        for m in ("recall@1", "recall@5", "mrr@5")])
        n = {lang: q["systems"]["a"][lang]["n"] for lang in LANGS}
        tables.append((f"Quality (answerable items: ar {n['ar']}, en {n['en']}; k={q['k']})",
                       ["system", "ar R@1", "ar R@5", "ar MRR@5", "en R@1", "en R@5",
                        "en MRR@5"], rows))
    lat = results.get("latency", {})
    if lat.get("warm") or lat.get("cold"):
        w, c = lat.get("warm", {}), lat.get("cold", {})
        rows = []
        if w:
            rows += [["warm ask p50 / p95 (ms)", f"{_f(w['a_ask_ms']['p50'])} / "
                      f"{_f(w['a_ask_ms']['p95'])}", f"{_f(w['d_retrieve_ms']['p50'])} / "
                      f"{_f(w['d_retrieve_ms']['p95'])}",
                      f"{_f(w['ratio_p50_a_over_d'], 2)} / {_f(w['ratio_p95_a_over_d'], 2)}"],
                     ["query embedding alone p50 / p95 (ms)",
                      f"{_f(w['query_embedding_ms']['p50'])} / "
                      f"{_f(w['query_embedding_ms']['p95'])}",
                      f"{_f(w['query_embedding_llama_adapter_ms']['p50'])} / "
                      f"{_f(w['query_embedding_llama_adapter_ms']['p95'])}", ""]]
            one = w.get("query_embedding_1_thread_ms")
            if one and one["n"]:
                rows.append([f"query embedding, 1 torch thread instead of {w['torch_threads']}"
                             " (p50 / p95 ms)", f"{_f(one['p50'])} / {_f(one['p95'])}",
                             "", "diagnostic"])
            st = w.get("a_stage_ms", {})
            rows.append(["(a) stage p50s (ms)", ", ".join(
                f"{k.removesuffix('_ms')} {_f(v['p50'])}" for k, v in st.items()
                if k != "total_ms"), "retrieval only, no LLM", ""])
        if c:
            rows += [["cold start to first answer, median (s)",
                      _f(c["a"]["first_answer_s_median"], 2),
                      _f(c["d"]["first_answer_s_median"], 2), _f(c["ratio_a_over_d"], 2)],
                     ["serving RSS after answering / peak (MB)",
                      f"{_f(c['a']['serving_rss_mb'])} / {_f(c['a']['serving_peak_rss_mb'])}",
                      f"{_f(c['d']['serving_rss_mb'])} / {_f(c['d']['serving_peak_rss_mb'])}",
                      "peak = model load"]]
        tables.append(("Latency and serving memory", ["measure", "(a) pipeline",
                                                      "(d) llama-index", "a / d"], rows))
    ix = results.get("indexing")
    if ix:
        li = (q or {}).get("llama_index", {})
        rows = [["build_index, passages/s", _f(ix["passages_per_s"], 2),
                 f"{ix['passages']} passages in {ix['build_s']:.2f} s"],
                ["build_index, texts embedded/s", _f(ix["texts_per_s_build"], 2),
                 f"{ix['texts_embedded']} texts (passages + sentence records)"],
                ["raw SentenceTransformer.encode, texts/s", _f(ix["texts_per_s_raw_encode"], 2),
                 f"same {ix['raw_encode_texts']} texts in {ix['raw_encode_s']:.2f} s "
                 f"(= {_f(ix['passages_per_s_raw_encode'], 2)} passages/s)"],
                ["pipeline overhead", f"{ix['overhead_s']:.2f} s", f"{ix['overhead_pct']}% of "
                                                                   "the build"],
                ["model load", f"{ix['model_load_s']:.2f} s", "not in the build time"],
                ["indexing peak RSS", f"{_f(ix['peak_rss_build_mb'])} MB",
                 f"model loaded: {_f(ix['rss_model_loaded_mb'])} MB"]]
        if li:
            rows.append(["(d) llama-index from_documents, nodes/s", _f(li["nodes_per_s"], 2),
                         f"{li['nodes']} nodes (mean {li['mean_node_chars']} chars) in "
                         f"{li['build_s']:.2f} s"])
        tables.append(("Indexing", ["measure", "value", "detail"], rows))
    sc = results.get("scaling", {})
    if sc.get("runs"):
        rows = []
        for r in sc["runs"]:
            if "error" in r:
                rows.append([r["mode"], f"{r['size']}x", "error: " + r["error"][-80:]] + [""] * 7)
                continue
            server = r.get("server", {})
            rows.append([r["mode"], f"{r['size']}x ({r['passages']})",
                         f"{_f(r['path_ms']['p50'])} / {_f(r['path_ms']['p95'])}",
                         f"{_f(r['dense_ms']['p50'])} ({_f(r['dense_raw_ms']['p50'])})",
                         f"{_f(r['lexical_ms']['p50'])}",
                         f"{_f(r['ask_ms']['p50'])} / {_f(r['ask_ms']['p95'])}",
                         _f(r["recall@5_answerable"], 3), f"{r['insert_s']:.1f}",
                         _f(r["peak_rss_mb"]),
                         _f(server.get("peak_rss_mb")) if server else "—"])
        tables.append(("Scaling (ms; retrieval path = dense + BM25 + fusion, vectors given)",
                       ["chroma", "size (passages)", "path p50 / p95",
                        "dense p50 (raw Chroma)",
                        "bm25 p50", "ask p50 / p95", "R@5", "insert s", "client peak RSS MB",
                        "server peak RSS MB"], rows))
        growth = sc.get("growth", {})
        if growth:
            rows = [[mode, metric] + [_f(v, 2) for v in ratios.values()]
                    for mode, metrics in sorted(growth.items())
                    for metric, ratios in metrics.items()]
            sizes = next(iter(next(iter(growth.values())).values())).keys()
            tables.append(("Scaling: p50 relative to 1x", ["chroma", "metric"] +
                           [f"{s}x" for s in sizes], rows))
    if results.get("errors"):
        tables.append(("Errors", ["part", "error"],
                       [[k, v[-300:]] for k, v in results["errors"].items()]))
    return tables


def print_tables(results: dict, console) -> None:
    from rich.table import Table

    for title, header, rows in sections(results):
        table = Table(title=title, title_justify="left", show_lines=False)
        for h in header:
            table.add_column(h)
        for row in rows:
            table.add_row(*[str(x) for x in row])
        console.print(table)


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def cell(x) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return lines


def write_markdown(results: dict, path: Path, notes: list[str]) -> None:
    env = results.get("env", {})
    mode = "quick subset (--quick)" if results["config"]["quick"] else "full run"
    out = ["# Benchmark results", "",
           f"Measured {env.get('date', '?')} on {env.get('cpu', '?')}, "
           f"{env.get('cores_logical', '?')} cores; {mode}; total runtime "
           f"{results.get('runtime_s', 0):.0f} s. Regenerate with `python -m benchmarks` "
           "(`make bench`); raw figures in `results.json`.", ""]
    for title, header, rows in sections(results):
        out += [f"## {title}", ""] + _md_table(header, rows) + [""]
    out += ["## How these were measured", ""] + [f"- {n}" for n in notes] + [""]
    path.write_text("\n".join(out), "utf-8")
