"""Turn a parsed Document into Passages, the units that are embedded and cited.

A passage is one paragraph, one list item or one footnote. A paragraph longer
than ``max_chars`` is cut into windows of whole sentences; a window never
crosses its paragraph's boundary, so every passage still cites one paragraph.

Entry point: :func:`document_passages`.
"""

from __future__ import annotations

import hashlib
import json

from assistant.domain import Document, Paragraph, Passage
from assistant.textnorm import split_sentences


def _hash(*parts: object) -> str:
    blob = json.dumps(parts, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def sentence_windows(text: str, max_chars: int) -> list[str]:
    """Group whole sentences into windows of at most max_chars (a longer sentence stands alone)."""
    if len(text) <= max_chars:
        return [text]
    windows: list[str] = []
    current_start = current_end = None
    for start, end in split_sentences(text):
        if current_start is not None and end - current_start > max_chars:
            windows.append(text[current_start:current_end])
            current_start = None
        if current_start is None:
            current_start = start
        current_end = end
    if current_start is not None:
        windows.append(text[current_start:current_end])
    return windows or [text]


def _paragraph_passages(doc: Document, para: Paragraph, max_chars: int) -> list[Passage]:
    windows = sentence_windows(para.text, max_chars)
    passages = []
    for i, window in enumerate(windows):
        suffix = f".w{i + 1}" if len(windows) > 1 else ""
        passages.append(Passage(
            passage_id=f"{doc.doc_id}#p{para.number}{suffix}",
            doc_id=doc.doc_id,
            title=doc.meta.title(),
            language=doc.meta.language,
            section=para.section,
            kind=para.kind,
            text=window,
            # Offsets are the paragraph's range in the source: markup removed
            # from the text means a window has no exact source range of its own.
            start=para.start,
            end=para.end,
            content_hash=_hash(window, para.section, para.number, para.footnotes),
            paragraph=para.number,
            footnotes=list(para.footnotes),
            page=para.page,
            window=i,
        ))
    return passages


def document_passages(doc: Document, max_chars: int = 1200) -> list[Passage]:
    passages: list[Passage] = []
    for para in doc.paragraphs:
        passages.extend(_paragraph_passages(doc, para, max_chars))
    for note in doc.footnotes.values():
        if not note.text:
            continue
        citing = [doc.paragraph(n) for n in note.cited_by]
        section = next((p.section for p in citing if p), [])
        passages.append(Passage(
            passage_id=f"{doc.doc_id}#fn{note.number}",
            doc_id=doc.doc_id,
            title=doc.meta.title(),
            language=doc.meta.language,
            section=section,
            kind="footnote",
            text=note.text,
            start=note.start,
            end=note.end,
            content_hash=_hash(note.text, note.number, note.cited_by),
            footnote=note.number,
            cited_by=list(note.cited_by),
            page=note.page,
        ))
    return passages


def embedding_text(passage: Passage) -> str:
    """What the model sees: the innermost heading gives a paragraph its topic."""
    context = passage.section[-1] if passage.section else ""
    return f"{context}: {passage.text}" if context else passage.text
