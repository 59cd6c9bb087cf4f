"""Parse a document's Markdown text into sections, paragraphs and footnotes.

The dialect is ordinary Markdown plus what policy documents bring with them:

* ``<sup>n</sup>`` and ``[^n]`` footnote markers, with definitions
  (``<sup>n</sup> text`` or ``[^n]: text``) wherever a page broke;
* paragraph numbers of the document's own (``12.``, ``(a)``);
* bold run-in heads (``**Regional cooperation:** text``);
* ``<!-- page: N -->`` markers, written by the DOCX/PDF converters.

Entry point: :func:`parse_document`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.domain import Document, DocumentMeta, Footnote, Paragraph, Section

HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
PAGE = re.compile(r"^<!--\s*page:?\s*(\d+)\s*-->\s*$", re.I)
FOOTNOTE_DEF = re.compile(r"^[ \t]*(?:<sup>\s*([\w.-]+)\s*</sup>|\[\^([\w.-]+)\]:)[ \t]*")
LIST_ITEM = re.compile(r"^([ \t]*)[-*+•][ \t]+")
OWN_NUMBER = re.compile(r"^(\d{1,3})\.[ \t]+")
SUB_NUMBER = re.compile(r"^\(([a-z]{1,2}|[ivx]{1,4})\)[ \t]+")
MARKER = re.compile(r"<sup>\s*([\w.-]+)\s*</sup>|\[\^([\w.-]+)\](?!:)")
BOLD_RUN_IN = re.compile(r"^\*\*([^*\n]{1,80}?)[:：]?\*\*[:：]?[ \t]*")
# A run-in head that lost its bold (common in text pulled from PDFs): a few
# words and a colon. Only trusted in documents that also use bold run-in heads.
PLAIN_RUN_IN = re.compile(r"^([^\s:.،,؛;]+(?:[ \t][^\s:.،,؛;]+){0,3})[:：][ \t]+")
AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]+)>")
MD_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?|ftp)://[^)\s]+)\)")
# "__" is bold only as a pair around words; a lone "__" (window.__name) is text.
UNDERSCORE_BOLD = re.compile(r"(?<![^\s(\[])__(?=[^\s_])([^_\n]+?)(?<=[^\s_])__(?!\w)")
SPACES = re.compile(r"[ \t\r\n]+")
TERMINAL = tuple(".!?؟؛:;…\"'»”)")


@dataclass
class _Block:
    kind: str  # heading, page, footnote, item, para
    start: int
    end: int
    text: str  # raw text, markers still in
    level: int = 0
    label: str = ""  # heading level text, footnote number, page number
    depth: int = 0  # list nesting
    lines: list[int] = field(default_factory=list)


def _blocks(source: str) -> list[_Block]:
    """Split the text into blocks: blank lines and block-level syntax end a block."""
    blocks: list[_Block] = []
    current: _Block | None = None
    pos = 0
    for lineno, line in enumerate(source.splitlines(keepends=True), start=1):
        start, pos = pos, pos + len(line)
        body = line.rstrip("\r\n")
        stripped = body.strip()
        end = start + len(body)
        if not stripped:
            current = None
            continue
        if m := HEADING.match(stripped):
            current = None
            blocks.append(_Block("heading", start, end, m.group(2), len(m.group(1))))
            continue
        if m := PAGE.match(stripped):
            current = None
            blocks.append(_Block("page", start, end, "", label=m.group(1)))
            continue
        if m := FOOTNOTE_DEF.match(body):
            current = _Block("footnote", start, end, body[m.end():], label=m.group(1) or m.group(2))
            blocks.append(current)
        elif m := LIST_ITEM.match(body):
            depth = len(m.group(1).expandtabs(4)) // 2
            current = _Block("item", start, end, body[m.end():], depth=depth)
            blocks.append(current)
        elif current is not None and (
            not OWN_NUMBER.match(stripped) or current.kind == "footnote"
        ):
            current.text += "\n" + body
            current.end = end
        else:
            current = _Block("para", start, end, body)
            blocks.append(current)
        current.lines.append(lineno)
    return blocks


def _clean(text: str) -> tuple[str, list[str]]:
    """Drop markup, keep words and URLs; return the text and its footnote markers."""
    markers = [a or b for a, b in MARKER.findall(text)]
    text = MARKER.sub("", text)
    text = MD_LINK.sub(r"\1 (\2)", text)
    text = AUTOLINK.sub(r"\1", text)
    text = UNDERSCORE_BOLD.sub(r"\1", text).replace("**", "")
    return SPACES.sub(" ", text).strip(), markers


def _ends_open(text: str) -> bool:
    """A paragraph cut by a page break stops mid-sentence."""
    return bool(text) and not text.rstrip().endswith(TERMINAL)


def _uses_own_numbers(blocks: list[_Block]) -> bool:
    numbered = sum(1 for b in blocks if b.kind == "para" and OWN_NUMBER.match(b.text.lstrip()))
    return numbered >= 2


def parse_document(source: str, meta: DocumentMeta, path: str = "") -> Document:
    doc = Document(meta=meta, source=source, path=path)
    blocks = _blocks(source)
    own_numbers = _uses_own_numbers(blocks)
    has_bold_run_in = any(b.kind == "para" and BOLD_RUN_IN.match(b.text) for b in blocks)

    headings: list[tuple[int, str]] = []  # (level, title) stack
    run_in: str | None = None
    page: int | None = None
    last_number = "0"  # the last own number seen, for unnumbered blocks in numbered docs
    extra = 0  # unnumbered blocks since last_number
    sequence = 0
    # Set when a paragraph ended mid-sentence and only footnotes/page markers followed.
    open_paragraph: Paragraph | None = None
    interrupted = False

    def section_path() -> list[str]:
        return [t for _, t in headings] + ([run_in] if run_in else [])

    for block in blocks:
        if block.kind == "heading":
            title, _ = _clean(block.text)
            while headings and headings[-1][0] >= block.level:
                headings.pop()
            headings.append((block.level, title))
            run_in = None
            open_paragraph = None
            doc.headings.append((title, block.start, block.end))
            doc.sections.append(Section(section_path(), block.start))
            continue
        if block.kind == "page":
            page = int(block.label)
            interrupted = interrupted or open_paragraph is not None
            continue
        if block.kind == "footnote":
            text, inner = _clean(block.text)
            number = block.label
            if number in doc.footnotes:
                dup = 2
                while f"{number}-{dup}" in doc.footnotes:
                    dup += 1
                doc.warnings.append(
                    f"line {block.lines[0]}: footnote {number} is defined twice; "
                    f"the second definition is kept as footnote {number}-{dup}"
                )
                number = f"{number}-{dup}"
            doc.footnotes[number] = Footnote(number, text, block.start, block.end, page=page)
            interrupted = interrupted or open_paragraph is not None
            continue

        raw = block.text.strip()
        text, markers = _clean(raw)
        if not text:
            continue
        # Rejoin a paragraph that a page break (footnotes, page marker) cut in two.
        if block.kind == "para" and open_paragraph is not None and interrupted:
            open_paragraph.text = f"{open_paragraph.text} {text}"
            open_paragraph.end = block.end
            open_paragraph.spans.append((block.start, block.end))
            open_paragraph.footnotes += [m for m in markers if m not in open_paragraph.footnotes]
            if not _ends_open(open_paragraph.text):
                open_paragraph = None
            interrupted = False
            continue

        number = None
        body = raw
        if block.kind == "para" and own_numbers and (m := OWN_NUMBER.match(raw)):
            number, last_number, extra = m.group(1), m.group(1), 0
            body = raw[m.end():]
        elif block.kind == "para" and own_numbers and (m := SUB_NUMBER.match(raw)):
            number = f"{last_number}({m.group(1)})"
            body = raw[m.end():]

        # Run-in heads open a subsection that lasts until the next heading.
        head_match = BOLD_RUN_IN.match(body) if block.kind == "para" else None
        if head_match is None and has_bold_run_in and block.kind == "para" and number is None:
            head_match = PLAIN_RUN_IN.match(body)
        if head_match:
            head, _ = _clean(head_match.group(1))
            run_in = head.rstrip(":： ")
            doc.headings.append((run_in, block.start, block.start + head_match.end()))
            doc.sections.append(Section(section_path(), block.start))
            body = body[head_match.end():]
        text, _ = _clean(body)
        if not text:
            continue

        if number is None:
            if own_numbers:
                extra += 1
                number = f"{last_number}.{extra}"
            else:
                sequence += 1
                number = str(sequence)
        paragraph = Paragraph(
            number=number,
            text=text,
            section=section_path(),
            start=block.start,
            end=block.end,
            footnotes=list(dict.fromkeys(markers)),
            kind="list_item" if block.kind == "item" else "paragraph",
            page=page,
            spans=[(block.start, block.end)],
        )
        doc.paragraphs.append(paragraph)
        open_paragraph = paragraph if block.kind == "para" and _ends_open(text) else None
        interrupted = False

    _link_footnotes(doc)
    return doc


def _link_footnotes(doc: Document) -> None:
    for paragraph in doc.paragraphs:
        known = []
        for number in paragraph.footnotes:
            footnote = doc.footnotes.get(number)
            if footnote is None:
                doc.warnings.append(
                    f"paragraph {paragraph.number}: footnote marker {number} has no definition"
                )
                continue
            known.append(number)
            if paragraph.number not in footnote.cited_by:
                footnote.cited_by.append(paragraph.number)
        paragraph.footnotes = known
    for footnote in doc.footnotes.values():
        if not footnote.cited_by:
            doc.warnings.append(f"footnote {footnote.number} is defined but never referenced")
