"""Regression evals: run reference sets through the assistant, score, compare to a baseline.

Reference items are JSONL (see eval/README.md):
    {"id": "en-07", "lang": "en", "question": "…", "answerable": true,
     "facts": [["Rome", "روما"], ["1990"]], "evidence": ["في روما في عام 1990"]}

Entry points: :func:`run_eval` (scores), :func:`compare` (the gate),
:func:`write_report` (Markdown and chart).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.textnorm import normalize

HEADLINE = ["fact_recall", "evidence_cited", "citation_precision", "abstention_accuracy",
            "recall_at_k", "mrr"]
LOWER_IS_BETTER = {"false_abstention", "latency_p50_ms", "latency_p95_ms"}
SUMMARY_KEYS = HEADLINE + ["false_abstention", "latency_p50_ms", "latency_p95_ms"]


class EvalSetError(ValueError):
    pass


@dataclass
class Item:
    id: str
    lang: str
    question: str
    answerable: bool
    facts: list[list[str]] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def load_set(path: Path) -> list[Item]:
    items = []
    for lineno, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            item = Item(id=str(raw["id"]), lang=raw["lang"], question=raw["question"],
                        answerable=bool(raw["answerable"]), facts=raw.get("facts", []),
                        evidence=raw.get("evidence", []))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalSetError(f"{path}:{lineno}: not a reference item ({exc})") from None
        if item.lang not in ("ar", "en"):
            raise EvalSetError(f"{path}:{lineno}: lang must be 'ar' or 'en'")
        if item.answerable and not item.evidence:
            raise EvalSetError(f"{path}:{lineno}: an answerable item needs evidence")
        if not item.answerable and (item.facts or item.evidence):
            raise EvalSetError(f"{path}:{lineno}: an unanswerable item has no facts or evidence")
        items.append(item)
    return items


def _norm(text: str) -> str:
    return normalize(text)


def supports(item: Item, passage_text: str) -> bool:
    text = _norm(passage_text)
    return any(_norm(ev) in text for ev in item.evidence)


def score_item(item: Item, answer: dict, k: int) -> dict:
    """Per-item result; `answer` is Answer.to_dict()."""
    text = _norm(answer["answer"])
    facts_missed = [alts for alts in item.facts if not any(_norm(a) in text for a in alts)]
    citations = answer["citations"]
    cited_ok = [supports(item, c["text"]) for c in citations]
    rank = next((i for i, p in enumerate(answer["passages"][:k], start=1)
                 if supports(item, p["text"])), None)
    result = {
        "id": item.id, "lang": item.lang, "question": item.question,
        "answerable": item.answerable, "answer": answer["answer"],
        "abstained": answer["abstained"],
        "citations": [{"paragraph": c["paragraph"], "footnote": c["footnote"],
                       "quote": c["quote"], "supports": ok}
                      for c, ok in zip(citations, cited_ok, strict=True)],
        "facts_missed": facts_missed,
        "rank": rank,
        "latency_ms": answer["timings_ms"].get("total_ms", 0.0),
    }
    if item.answerable:
        result["fact_recall"] = 1 - len(facts_missed) / len(item.facts) if item.facts else 1.0
        result["evidence_cited"] = any(cited_ok)
        result["passed"] = (not answer["abstained"] and result["evidence_cited"]
                            and not facts_missed)
    else:
        result["passed"] = answer["abstained"]
    return result


def _mean(values) -> float | None:
    values = list(values)
    return round(statistics.fmean(values), 4) if values else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return round(values[index], 1)


def summarize(results: list[dict]) -> dict:
    answerable = [r for r in results if r["answerable"]]
    unanswerable = [r for r in results if not r["answerable"]]
    shown = [c for r in results for c in r["citations"]]
    latencies = [r["latency_ms"] for r in results]
    return {
        "items": len(results),
        "fact_recall": _mean(r["fact_recall"] for r in answerable),
        "evidence_cited": _mean(float(r["evidence_cited"]) for r in answerable),
        "citation_precision": _mean(float(c["supports"]) for c in shown),
        "abstention_accuracy": _mean(float(r["abstained"]) for r in unanswerable),
        "false_abstention": _mean(float(r["abstained"]) for r in answerable),
        "recall_at_k": _mean(float(r["rank"] is not None) for r in answerable),
        "mrr": _mean((1 / r["rank"] if r["rank"] else 0.0) for r in answerable),
        "latency_p50_ms": _percentile(latencies, 0.5),
        "latency_p95_ms": _percentile(latencies, 0.95),
    }


def run_eval(items: list[Item], ask: Callable[[str], dict], k: int = 5,
             on_item: Callable[[int], None] | None = None) -> dict:
    """`ask(question)` returns Answer.to_dict(); the model is loaded once by the caller."""
    results = []
    started = time.perf_counter()
    for i, item in enumerate(items, start=1):
        results.append(score_item(item, ask(item.question), k))
        if on_item:
            on_item(i)
    summary = summarize(results)
    summary["by_lang"] = {lang: summarize([r for r in results if r["lang"] == lang])
                          for lang in sorted({r["lang"] for r in results})}
    return {"summary": summary, "items": results, "k": k,
            "seconds": round(time.perf_counter() - started, 1)}


def compare(run: dict, baseline: dict, max_drop: float = 0.02) -> list[str]:
    """Regressions against the baseline: headline metrics that fell by more than
    max_drop (overall or in one language), and items that passed and now fail."""
    problems = []
    scopes = [("overall", run["summary"], baseline["summary"])] + [
        (lang, run["summary"]["by_lang"].get(lang, {}), base)
        for lang, base in baseline["summary"].get("by_lang", {}).items()]
    for scope, now, before in scopes:
        for key in HEADLINE:
            if before.get(key) is None or now.get(key) is None:
                continue
            if before[key] - now[key] > max_drop:
                problems.append(f"{key} ({scope}) fell from {before[key]:.3f} to {now[key]:.3f}")
    passed_before = {r["id"] for r in baseline.get("items", []) if r.get("passed")}
    for r in run["items"]:
        if r["id"] in passed_before and not r["passed"]:
            problems.append(f"item {r['id']} passed in the baseline and now fails")
    return problems


def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) and value <= 1.0 else f"{value}"


def write_chart(run: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = sorted(run["summary"]["by_lang"])
    width = 0.8 / max(1, len(langs))
    fig, ax = plt.subplots(figsize=(9, 4))
    for i, lang in enumerate(langs):
        values = [run["summary"]["by_lang"][lang].get(key) or 0 for key in HEADLINE]
        ax.bar([x + i * width for x in range(len(HEADLINE))], values, width, label=lang)
    ax.set_xticks([x + width * (len(langs) - 1) / 2 for x in range(len(HEADLINE))])
    ax.set_xticklabels([key.replace("_", "\n") for key in HEADLINE], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("Metrics per language")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary_table(run: dict) -> str:
    langs = sorted(run["summary"]["by_lang"])
    lines = ["| metric | all | " + " | ".join(langs) + " |",
             "|---|---|" + "---|" * len(langs)]
    for key in SUMMARY_KEYS:
        row = [_fmt(run["summary"].get(key))]
        row += [_fmt(run["summary"]["by_lang"][lang].get(key)) for lang in langs]
        lines.append(f"| {key} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_report(run: dict, path: Path, regressions: list[str] | None = None) -> None:
    chart = path.with_suffix(".png")
    write_chart(run, chart)
    out = ["# Evaluation report", "", summary_table(run), ""]
    out += ["## Regressions against the baseline", ""]
    out += [f"- {p}" for p in regressions] if regressions else [
        "None." if regressions is not None else "No baseline given."]
    out += ["", f"![metrics per language]({chart.name})", "", "## Items", ""]
    for r in run["items"]:
        status = "PASS" if r["passed"] else "FAIL"
        out.append(f"### {r['id']} ({r['lang']}) — {status}")
        out.append(f"- question: {r['question']}")
        out.append(f"- abstained: {r['abstained']}; first supporting passage at rank: "
                   f"{r['rank'] if r['rank'] else '—'}")
        if r["facts_missed"]:
            out.append(f"- facts missed: {r['facts_missed']}")
        for c in r["citations"]:
            where = f"footnote {c['footnote']}" if c["footnote"] else f"paragraph {c['paragraph']}"
            out.append(f"- cites {where} ({'supports' if c['supports'] else 'does not support'})")
        answer = r["answer"].replace("\n", "\n  > ")
        out.append(f"- answer:\n  > {answer}")
        out.append("")
    path.write_text("\n".join(out), "utf-8")
