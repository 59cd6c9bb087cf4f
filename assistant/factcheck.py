"""Fact-check a draft against the documents, one sentence at a time.

Each sentence of the draft is retrieved like a question; the best evidence
sentence (scored by :func:`assistant.compose.candidates`) then decides:

- **supported**: the evidence is strong (at or above the assistant's abstention
  threshold) and corroborates the claim: every number, year, place and month the
  claim states is in the evidence, or, for a claim without such facts, it is
  close in meaning (or, in the same language, in wording) to the evidence;
- **conflicts**: the evidence is strong but states a different number, year,
  place or month where the claim states one (the draft says 17, the source
  says ستة عشر = 16);
- **not_found**: anything else, including a claim whose specific facts the
  evidence does not mention at all.

Only the facts :mod:`assistant.facts` recognises are compared: a name missing
from its gazetteer is neither confirmed nor contradicted.

Entry point: :func:`check_draft`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.compose import Candidate, candidates, citation_for
from assistant.domain import Citation
from assistant.facts import entities, numbers
from assistant.textnorm import detect_language, find_normalized, split_sentences

STATUSES = ("supported", "not_found", "conflicts")
# Candidates this close to the best one are weighed too: one of them may agree.
CONSIDER_MARGIN = 0.03
# Without a fact to compare, a claim needs this cosine, or this word overlap
# with the evidence sentence, on top of a strong score.
CLOSE_COSINE = 0.85
CLOSE_OVERLAP = 0.5
CHECKED_KINDS = {"country": "place", "city": "place", "month": "month"}
_DIGIT_ONE = re.compile(r"(?<![\d.,])1(?![\d.,])|[١۱](?![\d٠-٩])")

LABELS = {
    "en": {"number": "number", "year": "year", "place": "place", "month": "month",
           "says": "the draft says {draft}; the source says {source}",
           "not_found": "No passage in the documents states this.",
           "closest": "Closest passage (not enough to support it): {where}",
           "missing": "The documents do not state: {facts}",
           "evidence": "[{n}] {title} — {where}: «{quote}»"},
    "ar": {"number": "العدد", "year": "السنة", "place": "المكان", "month": "الشهر",
           "says": "تقول المسودة {draft}؛ ويقول المصدر {source}",
           "not_found": "لا يوجد في الوثائق مقطع ينص على ذلك.",
           "closest": "أقرب مقطع (لا يكفي لتأييده): {where}",
           "missing": "لا تذكر الوثائق: {facts}",
           "evidence": "[{n}] {title} — {where}: «{quote}»"},
}


@dataclass
class Conflict:
    kind: str  # number, year, place, month
    draft: list[str]
    source: list[str]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "draft": self.draft, "source": self.source}


@dataclass
class Verdict:
    sentence: str
    status: str  # supported, not_found, conflicts
    start: int = 0  # offsets of the sentence in the draft
    end: int = 0
    language: str = "en"
    score: float = 0.0
    citations: list[Citation] = field(default_factory=list)  # the evidence
    conflicts: list[Conflict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # claim facts absent from the evidence

    def to_dict(self) -> dict:
        return {
            "sentence": self.sentence, "status": self.status, "start": self.start,
            "end": self.end, "language": self.language, "score": round(self.score, 4),
            "citations": [c.to_dict() for c in self.citations],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "missing": self.missing,
        }

    def explain(self, lang: str | None = None) -> list[str]:
        """Human lines: the supporting citations, or the conflicting evidence."""
        lang = lang if lang in LABELS else self.language
        words = LABELS[lang]
        lines = []
        for c in self.conflicts:
            lines.append(f"{words[c.kind]}: " + words["says"].format(
                draft=", ".join(c.draft), source=", ".join(c.source)))
        if self.status == "not_found":
            lines.append(words["not_found"])
            if self.missing:
                lines.append(words["missing"].format(facts=", ".join(self.missing)))
            if self.citations:
                lines.append(words["closest"].format(where=where(self.citations[0], lang)))
            return lines
        for c in self.citations:
            lines.append(words["evidence"].format(n=c.number, title=c.title,
                                                  where=where(c, lang), quote=c.quote))
        return lines


def where(c: Citation, lang: str) -> str:
    ar = lang == "ar"
    if c.footnote:
        place = f"{'الحاشية' if ar else 'footnote'} {c.footnote}"
    else:
        place = f"{'الفقرة' if ar else 'paragraph'} {c.paragraph}"
    if c.page is not None:
        place += f"{'، الصفحة' if ar else ', page'} {c.page}"
    return place


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def claim_facts(text: str) -> dict[str, set[str]]:
    """The checkable facts of a sentence, by kind, as comparable strings."""
    values = numbers(text)
    if 1.0 in values and not _DIGIT_ONE.search(text):
        # "one of", "the first": seldom a quantity anyone states on purpose.
        values = [v for v in values if v != 1.0]
    found: dict[str, set[str]] = {"number": set(), "year": set(), "place": set(),
                                  "month": set()}
    for v in values:
        kind = "year" if v.is_integer() and 1900 <= v <= 2100 else "number"
        found[kind].add(_fmt(v))
    for e in entities(text):
        kind = CHECKED_KINDS.get(e.kind)
        if kind:
            found[kind].add(e.english)
    return found


def compare(claim: dict[str, set[str]], evidence: dict[str, set[str]]
            ) -> tuple[list[Conflict], list[str]]:
    """(conflicts, missing): a kind conflicts when the claim states a value the
    evidence lacks while the evidence states another value of that kind."""
    conflicts, missing = [], []
    for kind in ("number", "year", "place", "month"):
        extra = claim[kind] - evidence[kind]
        if not extra:
            continue
        other = evidence[kind] - claim[kind]
        if other:
            conflicts.append(Conflict(kind, sorted(extra), sorted(other)))
        else:
            missing.extend(sorted(extra))
    return conflicts, missing


@dataclass
class _Judged:
    candidate: Candidate
    conflicts: list[Conflict]
    missing: list[str]
    supports: bool


def threshold(claim_lang: str, evidence_lang: str) -> float:
    """The score under which the assistant would abstain on this evidence."""
    from assistant import pipeline

    per_language = getattr(pipeline, "abstain_threshold", None)
    if per_language is not None:
        return per_language(claim_lang, evidence_lang)
    return pipeline.ABSTAIN_BELOW


def judge(claim: str, claim_lang: str, cand: Candidate) -> _Judged:
    facts = claim_facts(claim)
    conflicts, missing = compare(facts, claim_facts(cand.text))
    strong = cand.score >= threshold(claim_lang, cand.passage.language)
    has_facts = any(facts.values())
    close = cand.cosine >= CLOSE_COSINE or cand.overlap >= CLOSE_OVERLAP
    supports = strong and not conflicts and not missing and (has_facts or close)
    return _Judged(cand, conflicts if strong else [], missing, supports)


def check_sentence(assistant, sentence: str, retriever=None, index=None,
                   k: int | None = None) -> Verdict:
    retriever = retriever or assistant.retriever
    index = index or assistant.index
    lang = detect_language(sentence)
    verdict = Verdict(sentence=sentence, status="not_found", language=lang)
    hits, vector = retriever.retrieve(sentence, k or assistant.settings.top_k)
    vectors = index.sentence_vectors([h.passage.passage_id for h in hits])
    overlap_for = getattr(retriever, "overlap_for", None)  # cross-lingual word overlap
    if overlap_for is not None:
        cands = candidates(sentence, vector, hits, vectors, overlap_for(sentence))
    else:
        cands = candidates(sentence, vector, hits, vectors)
    if not cands:
        return verdict
    best = cands[0]
    verdict.score = best.score
    considered = [c for c in cands if c.score >= best.score - CONSIDER_MARGIN]
    judged = [judge(sentence, lang, c) for c in considered]
    chosen = next((j for j in judged if j.supports), None)
    if chosen is not None:
        verdict.status = "supported"
    elif judged[0].conflicts:
        chosen = judged[0]
        verdict.status = "conflicts"
        verdict.conflicts = chosen.conflicts
    else:
        chosen = judged[0]
        verdict.missing = chosen.missing
    citation = citation_for(1, chosen.candidate)
    # The quote must stand verbatim in the passage it cites, as in the answers.
    if find_normalized(citation.text, citation.quote) is not None:
        verdict.citations = [citation]
    verdict.score = chosen.candidate.score
    return verdict


def check_draft(assistant, text: str, k: int | None = None) -> list[Verdict]:
    """One verdict per sentence of the draft (sentences without letters or digits skipped)."""
    if not isinstance(text, str) or not text.strip():
        return []
    from assistant.pipeline import QuestionError, clean_question

    retriever, index = assistant.retriever, assistant.index  # one index generation throughout
    limit = assistant.settings.max_question_chars
    verdicts = []
    for start, end in split_sentences(text):
        sentence = text[start:end].strip()
        try:
            cleaned = clean_question(sentence, limit)
        except QuestionError:
            continue
        if not any(ch.isalnum() for ch in cleaned):
            continue
        verdict = check_sentence(assistant, cleaned, retriever, index, k)
        verdict.sentence, verdict.start, verdict.end = sentence, start, end
        verdicts.append(verdict)
    return verdicts
