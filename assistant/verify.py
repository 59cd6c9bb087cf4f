"""Citation verification: nothing reaches the user that its cited text does not hold.

A citation survives only if its quote is found, after normalisation, in the
passage it points to, and that passage was retrieved for this question.
Markers of removed citations are taken out of the text and the rest renumbered.

Entry point: :func:`verify`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.domain import Citation, Passage
from assistant.textnorm import find_normalized

MARKER = re.compile(r"\s?\[(\d+)\]")


@dataclass
class Verified:
    text: str
    citations: list[Citation]
    removed: list[tuple[Citation, str]] = field(default_factory=list)  # (citation, reason)


def check(citation: Citation, retrieved: dict[str, Passage]) -> str | None:
    """Why the citation must go, or None if it stands."""
    passage = retrieved.get(citation.passage_id)
    if passage is None:
        return "cites a passage that was not retrieved for this question"
    same_place = (passage.doc_id, passage.paragraph or None, passage.footnote or None) == (
        citation.doc_id, citation.paragraph or None, citation.footnote or None)
    if not same_place:
        return "paragraph or footnote number does not match the cited passage"
    if not citation.quote.strip() or find_normalized(passage.text, citation.quote) is None:
        return "quoted span is not in the cited passage"
    return None


def verify(text: str, citations: list[Citation], retrieved: dict[str, Passage]) -> Verified:
    kept: list[Citation] = []
    removed: list[tuple[Citation, str]] = []
    renumber: dict[int, int] = {}
    for citation in citations:
        reason = check(citation, retrieved)
        if reason:
            removed.append((citation, reason))
            continue
        renumber[citation.number] = len(kept) + 1
        citation.text = retrieved[citation.passage_id].text  # show the source, not a claim of it
        kept.append(citation)

    def replace(m: re.Match) -> str:
        new = renumber.get(int(m.group(1)))
        return f" [{new}]" if new else ""

    text = MARKER.sub(replace, text)
    for citation in kept:
        citation.number = renumber[citation.number]
    return Verified(text, kept, removed)
