"""Fact-checking drafts against the seed document: supported, not found, conflicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.factcheck import Verdict, check_draft, claim_facts, compare
from assistant.textnorm import find_normalized

SUPPORTED = ("The Abu Dhabi Dialogue held its seventh ministerial consultation in "
             "February 2024.")
NOT_FOUND = "The region hosts a migration museum in Cairo."
CONFLICT = "There are currently seventeen national UN networks on migration in the region."
DRAFT = f"{SUPPORTED} {NOT_FOUND} {CONFLICT}"


def statuses(verdicts: list[Verdict]) -> list[str]:
    return [v.status for v in verdicts]


def assert_verbatim(verdict: Verdict):
    assert verdict.citations
    for c in verdict.citations:
        assert c.quote and c.quote in c.text
        assert find_normalized(c.text, c.quote) is not None


def test_one_verdict_per_sentence(seed_assistant):
    verdicts = check_draft(seed_assistant, DRAFT)
    assert [v.sentence for v in verdicts] == [SUPPORTED, NOT_FOUND, CONFLICT]
    assert statuses(verdicts) == ["supported", "not_found", "conflicts"]
    supported, missing, conflict = verdicts
    assert DRAFT[supported.start:supported.end] == SUPPORTED

    assert_verbatim(supported)
    assert supported.citations[0].paragraph == "8"
    assert "فبراير" in supported.citations[0].quote
    assert not supported.conflicts

    assert not missing.conflicts
    assert missing.explain()[0] == "No passage in the documents states this."

    assert_verbatim(conflict)
    assert conflict.citations[0].paragraph == "12"
    assert [(c.kind, c.draft, c.source) for c in conflict.conflicts] == [
        ("number", ["17"], ["16"])]
    lines = conflict.explain()
    assert lines[0] == "number: the draft says 17; the source says 16"
    assert "ستة عشر" in lines[1] and "paragraph 12" in lines[1]


def test_arabic_draft_and_arabic_explanations(seed_assistant):
    verdicts = check_draft(
        seed_assistant,
        "عقد حوار أبو ظبي مشاورته الوزارية السابعة في فبراير 2024. "
        "توجد في المنطقة حالياً سبع عشرة شبكة وطنية للأمم المتحدة معنية بالهجرة. "
        "افتتحت المنطقة متحفا للهجرة في القاهرة.")
    assert statuses(verdicts) == ["supported", "conflicts", "not_found"]
    assert all(v.language == "ar" for v in verdicts)
    assert verdicts[1].explain()[0] == "العدد: تقول المسودة 17؛ ويقول المصدر 16"
    assert "الفقرة 12" in verdicts[1].explain()[1]


@pytest.mark.parametrize("sentence, status, kind", [
    ("Lebanon and Jordan concluded bilateral labour agreements with Ethiopia in 2023.",
     "supported", None),
    ("Lebanon and Jordan concluded bilateral labour agreements with Ethiopia in 2021.",
     "conflicts", "year"),
    ("The Abu Dhabi Dialogue held its seventh ministerial consultation in March 2024.",
     "conflicts", "month"),
    ("The 5+5 Dialogue was launched in Rome in 1990.", "supported", None),
    ("Tunisia is a champion country of the compact.", "conflicts", "place"),
    ("Representatives of 28 countries attended the third informal dialogue of champion "
     "countries in Ghana.", "supported", None),
    ("Egypt hosted the football World Cup in 2024.", "not_found", None),
])
def test_facts_decide(seed_assistant, sentence, status, kind):
    (verdict,) = check_draft(seed_assistant, sentence)
    assert verdict.status == status, verdict.to_dict()
    assert [c.kind for c in verdict.conflicts] == ([kind] if kind else [])
    if status != "not_found":
        assert_verbatim(verdict)


def test_nothing_to_check(seed_assistant):
    assert check_draft(seed_assistant, "") == []
    assert check_draft(seed_assistant, "  \n ... !!! ؟؟ ") == []


def test_claim_facts_are_robust():
    assert claim_facts("The network has sixteen members.")["number"] == {"16"}
    assert claim_facts("ستة عشر شبكة")["number"] == {"16"}
    # "one of", "first" and verbs that look like months are not facts to check.
    facts = claim_facts("It is one of the first frameworks that may march on.")
    assert not any(facts.values())
    assert claim_facts("It opened in May 2024.")["month"] == {"May"}
    # An ordinal inside a month name is not a number: تشرين الثاني is November.
    facts = claim_facts("في نوفمبر/تشرين الثاني 2023")
    assert facts["month"] == {"November"} and facts["year"] == {"2023"}
    assert not facts["number"] and not facts["ordinal"]
    assert claim_facts("the seventh consultation")["ordinal"] == {"7"}


def test_compare_needs_a_rival_value_to_conflict():
    claim = claim_facts("The networks help coordination.")
    evidence = claim_facts("There are 16 networks since 2020 in Jordan.")
    assert compare(claim, evidence) == ([], [])  # nothing claimed, nothing contradicted
    conflicts, missing = compare(claim_facts("There are 17 networks."), evidence)
    assert [(c.kind, c.draft, c.source) for c in conflicts] == [("number", ["17"], ["16"])]
    conflicts, missing = compare(claim_facts("There are 17 networks."),
                                 claim_facts("The networks help coordination."))
    assert not conflicts and missing == ["17"]  # unverifiable, not contradicted
    # A missing ordinal alone is no reason to doubt a claim.
    assert compare(claim_facts("the third dialogue"), claim_facts("a dialogue")) == ([], [])


def test_cli_check_json(seed_settings):
    from conftest import env_for

    cli = Path(sys.executable).parent / "assistant"
    done = subprocess.run([str(cli), "check", "-", "--json"], input=DRAFT, text=True,
                          capture_output=True, env=env_for(seed_settings), timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [v["status"] for v in out] == ["supported", "not_found", "conflicts"]
    assert out[0]["citations"][0]["paragraph"] == "8"
    assert out[2]["conflicts"] == [{"kind": "number", "draft": ["17"], "source": ["16"]}]
    assert out[2]["citations"][0]["quote"] in out[2]["citations"][0]["text"]

