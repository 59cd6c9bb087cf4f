"""Documents as the assistant cites them, rebuilt from the indexed passages.

Staff use this (``assistant corpus show``, the chat's corpus tab) to see what a
citation points to, so it reads the index rather than re-parsing the files.
"""

from __future__ import annotations

from assistant.domain import Passage
from assistant.index import PassageIndex


def _number_key(number: str) -> tuple:
    head = number.split("(")[0].split("-")[0]
    parts = []
    for piece in head.split("."):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(parts), number


def list_documents(index: PassageIndex) -> list[dict]:
    docs = []
    for doc_id, info in sorted(index.documents().items()):
        passages = index.document_passages(doc_id)
        docs.append({
            "doc_id": doc_id,
            "title": info.get("title", doc_id),
            "language": info.get("language", ""),
            "path": info.get("path", ""),
            "paragraphs": len({p.paragraph for p in passages if p.paragraph}),
            "footnotes": sum(1 for p in passages if p.kind == "footnote"),
        })
    return docs


def document_outline(index: PassageIndex, doc_id: str, paragraph: str | None = None) -> dict:
    passages = index.document_passages(doc_id)
    if not passages:
        raise KeyError(f"no document {doc_id!r} in the index")
    info = index.documents().get(doc_id, {})
    paragraphs: dict[str, dict] = {}
    footnotes: list[dict] = []
    for p in sorted(passages, key=lambda p: (p.kind == "footnote", p.start, p.window)):
        if p.kind == "footnote":
            footnotes.append({"number": p.footnote, "text": p.text, "cited_by": p.cited_by,
                              "page": p.page})
            continue
        entry = paragraphs.setdefault(p.paragraph, {
            "number": p.paragraph, "section": p.section, "kind": p.kind,
            "text": "", "footnotes": p.footnotes, "page": p.page,
        })
        entry["text"] = f"{entry['text']} {p.text}".strip()
    ordered = sorted(paragraphs.values(), key=lambda e: _number_key(e["number"]))
    footnotes.sort(key=lambda f: _number_key(f["number"]))
    if paragraph is not None:
        ordered = [e for e in ordered if e["number"] == str(paragraph)]
        if not ordered:
            raise KeyError(f"document {doc_id!r} has no paragraph {paragraph}")
        cited = {n for e in ordered for n in e["footnotes"]}
        footnotes = [f for f in footnotes if f["number"] in cited]
    return {
        "doc_id": doc_id,
        "title": info.get("title") or passages[0].title,
        "language": info.get("language") or passages[0].language,
        "paragraphs": ordered,
        "footnotes": footnotes,
    }


def passage_with_footnotes(index: PassageIndex, passage: Passage) -> list[Passage]:
    """The footnotes a paragraph references, for showing next to a citation."""
    found = []
    for number in passage.footnotes:
        note = index.passages.get(f"{passage.doc_id}#fn{number}")
        if note is not None:
            found.append(note)
    return found
