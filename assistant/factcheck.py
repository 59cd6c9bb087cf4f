"""Fact-check a draft against the documents, one sentence at a time.

Each sentence of the draft is retrieved like a question and every sentence of
the retrieved passages is scored against it (:func:`assistant.compose.candidates`).
Among the candidates close to the best score, the first that settles the claim
decides:

- **supported**: its score clears the assistant's abstention threshold, every
  number, year, place and month the claim states is in it, and it says the same
  kind of thing (close in meaning, or sharing enough of the claim's concepts);
- **conflicts**: its score clears the threshold but, where the claim states a
  number, ordinal, year, place or month, it states a different one (the draft
  says 17, the source says ستة عشر = 16);
- **not_found**: no candidate settles it, e.g. the evidence is weak, or it never
  mentions a fact the claim states.

A claim without numbers is never contradicted by evidence that has some; only
the facts :mod:`assistant.facts` recognises are compared, so a name missing from
its gazetteer is neither confirmed nor contradicted. The evidence is quoted
verbatim from the cited passage, as in the assistant's answers.

Entry point: :func:`check_draft`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.compose import Candidate, candidates, citation_for
from assistant.domain import Citation
from assistant.facts import EN_ORDINALS, ORDINAL_MONTH, entities, numbers
from assistant.textnorm import detect_language, find_normalized, normalize, split_sentences

STATUSES = ("supported", "not_found", "conflicts")
# Candidates this close to the best one are weighed too: one of them may agree.
CONSIDER_MARGIN = 0.03
# Without a fact to compare, a claim needs this cosine, or this word overlap
# with the evidence sentence, on top of a strong score.
CLOSE_COSINE = 0.85
CLOSE_OVERLAP = 0.5
FACT_OVERLAP = 0.3  # ... or this overlap, when all the claim's facts are in the evidence
CHECKED_KINDS = {"country": "place", "city": "place", "month": "month"}
KINDS = ("number", "ordinal", "year", "place", "month")
# A missing ordinal does not count against a claim: "the third dialogue" is
# often written without the article in Arabic (حوار ثالث), which facts misses.
SOFT_KINDS = {"ordinal"}
_DIGIT_ONE = re.compile(r"(?<![\d.,])1(?![\d.,])")
_AR_ORDINALS = ("اول اولي ثاني ثانيه ثالث ثالثه رابع رابعه خامس خامسه سادس سادسه سابع سابعه "
                "ثامن ثامنه تاسع تاسعه عاشر عاشره").split()
_ORDINAL = re.compile(r"\b(?:" + "|".join(EN_ORDINALS) + r")\b|(?<!\w)[وفبل]?ال(?:"
                      + "|".join(_AR_ORDINALS) + r")(?!\w)")
_LATIN_WORD = re.compile(r"[A-Za-z]+")

LABELS = {
    "en": {"number": "number", "ordinal": "ordinal", "year": "year", "place": "place",
           "month": "month",
           "says": "the draft says {draft}; the source says {source}",
           "not_found": "No passage in the documents states this.",
           "closest": "Closest passage (not enough to support it): {where}",
           "missing": "The documents do not state: {facts}",
           "evidence": "[{n}] {title} — {where}: «{quote}»"},
    "ar": {"number": "العدد", "ordinal": "الترتيب", "year": "السنة", "place": "المكان",
           "month": "الشهر",
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

    def reasons(self, lang: str | None = None) -> list[str]:
        """Why the sentence is not supported: the conflicts, or what is missing."""
        lang = lang if lang in LABELS else self.language
        words = LABELS[lang]
        lines = [f"{words[c.kind]}: " + words["says"].format(
            draft=", ".join(c.draft), source=", ".join(c.source)) for c in self.conflicts]
        if self.status == "not_found":
            lines.append(words["not_found"])
            if self.missing:
                lines.append(words["missing"].format(facts=", ".join(self.missing)))
            if self.citations:
                lines.append(words["closest"].format(where=where(self.citations[0], lang)))
        return lines

    def explain(self, lang: str | None = None) -> list[str]:
        """Human lines: the supporting citations, or the conflicting evidence."""
        lang = lang if lang in LABELS else self.language
        lines = self.reasons(lang)
        if self.status != "not_found":
            lines += [LABELS[lang]["evidence"].format(n=c.number, title=c.title,
                                                      where=where(c, lang), quote=c.quote)
                      for c in self.citations]
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


def _english_month_stated(name: str, text: str) -> bool:
    """"May" and "March" are months only when written as names, not as verbs."""
    for m in re.finditer(rf"\b{name}\b", text):
        if m.start() > 0 or re.match(r"\s*\d", text[m.end():]):
            return True
    return False


def claim_facts(text: str) -> dict[str, set[str]]:
    """The checkable facts of a sentence, by kind, as comparable strings."""
    norm = ORDINAL_MONTH.sub(" _ ", normalize(text))
    ordinals = {v for m in _ORDINAL.finditer(norm) for v in numbers(m.group())}
    cardinals = numbers(_ORDINAL.sub(" _ ", norm))
    if not _DIGIT_ONE.search(norm):
        # "one of", "the first": seldom a quantity anyone states on purpose.
        cardinals = [v for v in cardinals if v != 1.0]
    found: dict[str, set[str]] = {kind: set() for kind in KINDS}
    found["ordinal"] = {_fmt(v) for v in ordinals if v != 1.0}
    for v in cardinals:
        kind = "year" if v.is_integer() and 1900 <= v <= 2100 else "number"
        found[kind].add(_fmt(v))
    arabic_months = {e.english for e in entities(_LATIN_WORD.sub(" ", text))
                     if e.kind == "month"}
    for e in entities(text):
        kind = CHECKED_KINDS.get(e.kind)
        if kind == "month" and e.english not in arabic_months and \
                not _english_month_stated(e.english, text):
            continue
        if kind:
            found[kind].add(e.english)
    return found


def compare(claim: dict[str, set[str]], evidence: dict[str, set[str]]
            ) -> tuple[list[Conflict], list[str]]:
    """(conflicts, missing): a kind conflicts when the claim states a value the
    evidence lacks while the evidence states another value of that kind."""
    conflicts, missing = [], []
    for kind in KINDS:
        extra = claim[kind] - evidence[kind]
        if not extra:
            continue
        other = evidence[kind] - claim[kind]
        if other:
            conflicts.append(Conflict(kind, sorted(extra), sorted(other)))
        elif kind not in SOFT_KINDS:
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

    return pipeline.abstain_threshold(claim_lang, evidence_lang)


def judge(claim: str, claim_lang: str, cand: Candidate) -> _Judged:
    facts = claim_facts(claim)
    conflicts, missing = compare(facts, claim_facts(cand.text))
    strong = cand.score >= threshold(claim_lang, cand.passage.language)
    # Sharing a name or a year is not enough: the sentence must also say the same
    # kind of thing, judged by meaning (cosine) or by the concepts both contain.
    needed = FACT_OVERLAP if any(facts.values()) else CLOSE_OVERLAP
    close = cand.cosine >= CLOSE_COSINE or cand.overlap >= needed
    supports = strong and close and not conflicts and not missing
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
    considered = [c for c in cands if c.score >= best.score - CONSIDER_MARGIN]
    judged = [judge(sentence, lang, c) for c in considered]
    # The best-scoring sentence that either confirms or contradicts the claim decides.
    chosen = next((j for j in judged if j.supports or j.conflicts), None)
    if chosen is None:
        chosen = judged[0]
        verdict.missing = chosen.missing
    elif chosen.supports:
        verdict.status = "supported"
    else:
        verdict.status = "conflicts"
        verdict.conflicts = chosen.conflicts
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
