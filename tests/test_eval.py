"""The regression eval: reference sets, metrics, the baseline gate, the report."""

import json
from collections import Counter

import pytest
from conftest import REPO, run_cli

from assistant.chunking import document_passages
from assistant.corpus import load_documents
from assistant.evaluation import compare, load_set, run_eval, write_report
from assistant.textnorm import normalize

SET = REPO / "eval/sets/seed-background-note.jsonl"
BASELINE = REPO / "eval/baseline.json"


@pytest.mark.parametrize("path", [SET, REPO / "eval/sets/calibration.jsonl"])
def test_reference_sets_are_well_formed(path):
    items = load_set(path)
    assert len({i.id for i in items}) == len(items)
    passages = [normalize(p.text) for d in load_documents().documents
                for p in document_passages(d)]
    for item in items:
        for evidence in item.evidence:
            assert any(normalize(evidence) in p for p in passages), (item.id, evidence)


def test_the_project_set_meets_its_brief():
    items = load_set(SET)
    langs = Counter(i.lang for i in items)
    assert len(items) >= 60 and langs["ar"] == langs["en"]
    assert sum(not i.answerable for i in items) >= 10
    raw = [json.loads(line) for line in SET.read_text("utf-8").splitlines()]
    tags = Counter(t for r in raw for t in r.get("tags", []))
    assert tags["footnote"] >= 5 and tags["page-break"] >= 3 and tags["cross-lingual"] >= 10
    # Questions are paraphrases: none contains its own evidence string.
    for item in items:
        for evidence in item.evidence:
            assert normalize(evidence) not in normalize(item.question), item.id


@pytest.fixture(scope="module")
def current_run(seed_assistant):
    return run_eval(load_set(SET), lambda q: seed_assistant.ask(q).to_dict(), k=5)


def test_no_regression_against_the_committed_baseline(current_run):
    baseline = json.loads(BASELINE.read_text("utf-8"))
    assert compare(current_run, baseline) == []
    summary = current_run["summary"]
    assert set(summary["by_lang"]) == {"ar", "en"}
    for key in ("fact_recall", "evidence_cited", "citation_precision", "abstention_accuracy",
                "false_abstention", "recall_at_k", "mrr", "latency_p50_ms", "latency_p95_ms"):
        assert summary[key] is not None and summary["by_lang"]["en"][key] is not None


def test_a_broken_retriever_fails_the_gate(seed_assistant, tmp_path, monkeypatch):
    retrieve = seed_assistant.retriever.retrieve

    def reversed_retrieve(question, k=None, timings=None):
        hits, vector = retrieve(question, k, timings)
        return hits[::-1], vector

    monkeypatch.setattr(seed_assistant.retriever, "retrieve", reversed_retrieve)
    broken = run_eval(load_set(SET), lambda q: seed_assistant.ask(q).to_dict(), k=5)
    problems = compare(broken, json.loads(BASELINE.read_text("utf-8")))
    assert any(p.startswith("mrr (overall) fell") for p in problems)
    assert any(p.startswith("item ") and "now fails" in p for p in problems)

    report = tmp_path / "report.md"
    write_report(broken, report, problems)
    text = report.read_text("utf-8")
    assert text.startswith("# Evaluation report\n\n| metric | all | ar | en |")
    regressions = text.index("## Regressions against the baseline")
    assert text.index(problems[0]) > regressions > 0
    assert text.index("## Items") > text.index(problems[-1])
    chart = tmp_path / "report.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5000


def test_eval_cli_gate(seed_settings, tmp_path):
    out, report = tmp_path / "run.json", tmp_path / "report.md"
    result = run_cli("eval", "--set", str(SET), "--baseline", str(BASELINE), "--json", str(out),
                     "--report", str(report), settings=seed_settings)
    assert result.returncode == 0, result.stderr
    assert "| fact_recall |" in result.stdout and "no regressions" in result.stdout
    run = json.loads(out.read_text("utf-8"))
    assert {"summary", "items"} <= set(run) and len(run["items"]) == len(load_set(SET))
    item = run["items"][0]
    assert {"answer", "citations", "facts_missed", "rank", "passed"} <= set(item)

    raised = json.loads(BASELINE.read_text("utf-8"))
    raised["summary"]["fact_recall"] = 1.5
    stricter = tmp_path / "stricter.json"
    stricter.write_text(json.dumps(raised), "utf-8")
    result = run_cli("eval", "--set", str(SET), "--baseline", str(stricter),
                     settings=seed_settings)
    assert result.returncode == 1 and "fact_recall (overall) fell from 1.500" in result.stderr
