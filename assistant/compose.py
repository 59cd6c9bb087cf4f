"""Extractive answers: pick the sentences that answer the question, quote them, cite them.

Deterministic and offline. Every sentence of the retrieved passages is scored
by its cosine to the question (precomputed sentence vectors, so an English
question can select an Arabic sentence) plus its word overlap with the
question; near-duplicates are dropped; the framing is written in the
question's language and the evidence is quoted as it stands in the source.

Entry point: :func:`compose`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.domain import Citation, Passage, ScoredPassage
from assistant.facts import entities, numbers, years
from assistant.textnorm import split_sentences, tokenize

MAX_SENTENCES = 3
# Sentences within this margin of the best one are kept as further evidence.
KEEP_MARGIN = 0.025
OVERLAP_WEIGHT = 0.12  # word overlap adds up to this much to a cosine
RANK_WEIGHT = 0.01
# A sentence that asks (the guiding questions) resembles a question but states nothing.
QUESTION_PENALTY = 0.05


@dataclass
class Candidate:
    passage: Passage
    start: int
    end: int
    cosine: float
    overlap: float
    rank: int

    @property
    def text(self) -> str:
        return self.passage.text[self.start:self.end]

    @property
    def score(self) -> float:
        asks = self.text.rstrip().endswith(("?", "؟"))
        return (self.cosine + OVERLAP_WEIGHT * self.overlap + RANK_WEIGHT / self.rank
                - QUESTION_PENALTY * asks)


@dataclass
class Draft:
    text: str
    citations: list[Citation]
    evidence: list[Candidate]
    best: Candidate | None  # the top-scoring sentence, chosen or not

    @property
    def best_score(self) -> float:
        return self.best.score if self.best else 0.0


URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+")
WORDS = re.compile(r"[^\W\d_]{2,}")


def informative(sentence: str) -> bool:
    """A link or a "see more at <link>" line states nothing worth quoting."""
    return len(WORDS.findall(URL.sub(" ", sentence))) >= 4


def overlap(question_terms: set[str], text: str) -> float:
    if not question_terms:
        return 0.0
    return len(question_terms & set(tokenize(text))) / len(question_terms)


def candidates(question: str, question_vector, hits: list[ScoredPassage],
               vectors: dict[str, list[tuple[int, int, list]]],
               overlap_fn: Callable[[str], float] | None = None) -> list[Candidate]:
    """Every sentence of the retrieved passages, scored against the question.

    `overlap_fn(sentence)` gives the word-overlap part (the retriever's
    cross-lingual concept scorer); plain shared stems when not given."""
    q = np.asarray(question_vector, dtype=np.float32)
    if overlap_fn is None:
        terms = set(tokenize(question))
        overlap_fn = lambda sentence: overlap(terms, sentence)  # noqa: E731
    out = []
    for rank, hit in enumerate(hits, start=1):
        passage = hit.passage
        spans = vectors.get(passage.passage_id)
        if not spans:
            spans = [(s, e, None) for s, e in split_sentences(passage.text)] or \
                [(0, len(passage.text), None)]
        for start, end, vector in spans:
            if vector is not None:
                cosine = float(np.dot(q, np.asarray(vector, dtype=np.float32)))
            else:
                cosine = hit.dense_score if hit.dense_score is not None else 0.0
            sentence = passage.text[start:end]
            if not informative(sentence):
                continue
            out.append(Candidate(passage, start, end, cosine, overlap_fn(sentence), rank))
    out.sort(key=lambda c: -c.score)
    return out


def _redundant(a: Candidate, chosen: list[Candidate]) -> bool:
    ta = set(tokenize(a.text))
    for b in chosen:
        tb = set(tokenize(b.text))
        if ta and tb and len(ta & tb) / min(len(ta), len(tb)) > 0.7:
            return True
    return False


def select(cands: list[Candidate]) -> list[Candidate]:
    if not cands:
        return []
    best = cands[0].score
    chosen: list[Candidate] = []
    for c in cands:
        if len(chosen) == MAX_SENTENCES or c.score < best - KEEP_MARGIN:
            break
        if not _redundant(c, chosen):
            chosen.append(c)
    # Read in document order, as the source tells it.
    return sorted(chosen, key=lambda c: (c.passage.doc_id, c.passage.start, c.start))


def citation_for(number: int, c: Candidate) -> Citation:
    p = c.passage
    return Citation(number=number, passage_id=p.passage_id, doc_id=p.doc_id, title=p.title,
                    section=p.section, paragraph=p.paragraph, footnote=p.footnote,
                    quote=c.text, text=p.text, page=p.page)


def locator(p: Passage, lang: str) -> str:
    if p.kind == "footnote":
        cited = "، ".join(p.cited_by) if lang == "ar" else ", ".join(p.cited_by)
        if lang == "ar":
            return f"الحاشية {p.footnote}" + (f" (مذكورة في الفقرة {cited})" if cited else "")
        return f"footnote {p.footnote}" + (f" (cited in paragraph {cited})" if cited else "")
    label = p.label(lang)
    return label[0].upper() + label[1:] if lang == "en" else label


def _named_facts(text: str) -> str:
    """Names, figures and years of an Arabic quote, spelled out for an English reader."""
    names = [e.english for e in entities(text) if e.kind != "month"]
    found_years = sorted(set(years(text)))
    figures = [n for n in dict.fromkeys(numbers(text)) if n not in found_years]
    parts = []
    if names:
        parts.append(", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1])
    if figures:
        parts.append("the figure(s) " + ", ".join(f"{n:g}" for n in figures))
    if found_years:
        parts.append(", ".join(str(y) for y in found_years))
    return "; ".join(parts)


def frame(chosen: list[Candidate], lang: str) -> tuple[str, list[Citation]]:
    citations = [citation_for(i, c) for i, c in enumerate(chosen, start=1)]
    if lang == "ar":
        lines = ["بحسب الوثائق:"]
        for i, c in enumerate(chosen, start=1):
            lines.append(f"- {locator(c.passage, 'ar')} من «{c.passage.title}»: «{c.text}» [{i}]")
        return "\n".join(lines), citations
    lines = ["According to the documents:"]
    for i, c in enumerate(chosen, start=1):
        line = f'- {locator(c.passage, "en")} of "{c.passage.title}": "{c.text}" [{i}]'
        if c.passage.language != "en":
            facts = _named_facts(c.text)
            original = "Arabic" if c.passage.language == "ar" else c.passage.language
            line += f" (in the original {original}"
            line += f"; it names {facts})" if facts else ")"
        lines.append(line)
    return "\n".join(lines), citations


def compose(question: str, lang: str, question_vector, hits: list[ScoredPassage],
            vectors: dict[str, list[tuple[int, int, list]]],
            overlap_fn: Callable[[str], float] | None = None) -> Draft:
    cands = candidates(question, question_vector, hits, vectors, overlap_fn)
    chosen = select(cands)
    text, citations = frame(chosen, lang) if chosen else ("", [])
    return Draft(text, citations, chosen, cands[0] if cands else None)
