"""Bridge English questions and Arabic sources (and back) in the lexical path.

The embedding model matches across languages, but weakly; BM25 not at all.
A glossary of the domain's vocabulary (assistant/data/glossary.tsv) and the
place-name gazetteer turn a question into *concepts*: each concept is a word
or phrase with its forms in both languages. They serve twice:

* the BM25 query is expanded with the other language's forms;
* an answer sentence is scored by the share of the question's concepts it
  contains, weighted by how rare each concept is in the corpus (IDF), which is
  what tells an answerable question from an unanswerable one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from assistant.textnorm import tokenize


@dataclass(frozen=True)
class Concept:
    label: str
    forms: tuple[tuple[str, ...], ...]  # stem sequences; a form matches if all its stems occur
    other: tuple[str, ...] = ()  # surface forms to add to a lexical query


@dataclass(frozen=True)
class _Entry:
    english: str
    arabic: tuple[str, ...]
    forms: tuple[tuple[str, ...], ...]


def _rows(name: str) -> Iterable[tuple[str, str]]:
    text = resources.files("assistant.data").joinpath(name).read_text("utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            english, arabic = line.split("\t")[:2]
            yield english.removeprefix("the "), arabic


@lru_cache(maxsize=1)
def _entries() -> tuple[_Entry, ...]:
    entries = []
    for english, arabic in [*_rows("glossary.tsv"), *_rows("gazetteer.tsv")]:
        arabic_forms = tuple(f for f in arabic.split("|") if f)
        forms = {tuple(tokenize(english))} | {tuple(tokenize(f)) for f in arabic_forms}
        forms.discard(())
        if forms:
            entries.append(_Entry(english, arabic_forms, tuple(sorted(forms))))
    return tuple(entries)


@lru_cache(maxsize=1)
def _form_index() -> list[tuple[tuple[str, ...], _Entry]]:
    """Every form of every entry, longest first, so phrases win over their words."""
    pairs = [(form, e) for e in _entries() for form in e.forms]
    pairs.sort(key=lambda p: -len(p[0]))
    return pairs


def _find(seq: list[str], form: tuple[str, ...], taken: list[bool]) -> int | None:
    n = len(form)
    for i in range(len(seq) - n + 1):
        if tuple(seq[i:i + n]) == form and not any(taken[i:i + n]):
            return i
    return None


def concepts(question: str) -> list[Concept]:
    stems = tokenize(question)
    taken = [False] * len(stems)
    found: dict[str, Concept] = {}
    for form, entry in _form_index():
        at = _find(stems, form, taken)
        if at is None:
            continue
        for j in range(at, at + len(form)):
            taken[j] = True
        found.setdefault(entry.english, Concept(entry.english, entry.forms,
                                                (entry.english, *entry.arabic)))
    for stem, used in zip(stems, taken, strict=True):
        if not used:
            found.setdefault(stem, Concept(stem, ((stem,),)))
    return list(found.values())


def expand(question: str) -> str:
    """The question plus the other language's forms of its concepts, for BM25."""
    extra = [form for c in concepts(question) for form in c.other]
    return " ".join([question, *extra])


class ConceptScorer:
    """IDF-weighted share of a question's concepts found in a text."""

    def __init__(self, corpus_tokens: Iterable[Iterable[str]]):
        df: Counter[str] = Counter()
        n = 0
        for tokens in corpus_tokens:
            n += 1
            df.update(set(tokens))
        self.df, self.n = df, n
        self.max_idf = math.log((n + 1) / 0.5)

    def idf(self, stem: str) -> float:
        return math.log((self.n + 1) / (self.df.get(stem, 0) + 0.5))

    def weight(self, concept: Concept) -> float:
        # The commonest form decides: "migration" is cheap whichever language asks.
        return max(0.05, min(max(self.idf(s) for s in form) for form in concept.forms))

    def for_question(self, question: str):
        cs = concepts(question)
        weights = [self.weight(c) for c in cs]
        total = sum(weights)

        def score(text: str) -> float:
            if not total:
                return 0.0
            have = set(tokenize(text))
            hit = sum(w for c, w in zip(cs, weights, strict=True)
                      if any(set(form) <= have for form in c.forms))
            return hit / total

        return score
