"""Write the Markdown dialect of :mod:`assistant.parsing` from converted content.

The DOCX and PDF readers rebuild headings, paragraphs, list items, footnotes
and page breaks, then hand them to :class:`DialectWriter`, which turns them
into text that the parser reads back exactly as meant. Two things need care:

* Source text that merely looks like syntax ("# 1 priority", "- 5 °C",
  "[^3]", "**") must stay text. It is broken up with an invisible WORD JOINER
  (U+2060), which the parser leaves alone and :mod:`assistant.textnorm`
  drops before anything is compared, searched or embedded.
* The parser rejoins a paragraph that ends without terminal punctuation when
  only footnote definitions and page markers separate it from the next
  paragraph: that repairs Markdown converted from PDF page by page. Our
  readers hand over whole paragraphs, so a footnote definition or page marker
  that follows an "open" paragraph (a table row, a title line) is held back
  until a block has been written that the parser will not extend. The cost is
  that the paragraph right after such a break may carry the previous page
  number; the gain is that two paragraphs are never glued together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from assistant.parsing import (
    FOOTNOTE_DEF,
    HEADING,
    LIST_ITEM,
    MARKER,
    OWN_NUMBER,
    PAGE,
    SUB_NUMBER,
    TERMINAL,
    UNDERSCORE_BOLD,
)

JOINER = "\u2060"
# Everything str.splitlines() splits on: a paragraph must stay on one line.
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
_SPACES = re.compile(r"[ \t\u00a0\u2007\u202f]+")
_STARS = re.compile(r"(?<=\*)(?=\*)")  # between two asterisks: "**" is always bold
_ARABIC_LETTER = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")


@dataclass(frozen=True)
class Note:
    """A footnote marker inside a run of text; rendered as ``[^label]``."""

    label: str


Piece = str | Note


def one_line(text: str) -> str:
    return _SPACES.sub(" ", _LINE_BREAKS.sub(" ", text))


def _escape_inline(text: str) -> str:
    text = MARKER.sub(lambda m: m.group(0)[0] + JOINER + m.group(0)[1:], text)
    text = UNDERSCORE_BOLD.sub(lambda m: f"_{JOINER}_{m.group(1)}_{JOINER}_", text)
    return _STARS.sub(JOINER, text)


def render(pieces: Iterable[Piece]) -> str:
    """Join text and markers into one escaped line (markers are never escaped)."""
    out: list[str] = []
    buffer: list[str] = []
    for piece in pieces:
        if isinstance(piece, Note):  # a marker sits on the word before it: "word[^1] "
            text = _escape_inline(one_line("".join(buffer)))
            out += [text.rstrip(), f"[^{piece.label}]"]
            buffer = [" "] if text != text.rstrip() else []
        else:
            buffer.append(piece)
    out.append(_escape_inline(one_line("".join(buffer))))
    return _SPACES.sub(" ", "".join(out)).strip()


def _guard_start(text: str, numbers_too: bool = False) -> str:
    """Keep a line's start from reading as a heading, list item, note or page marker."""
    patterns = [HEADING, PAGE, FOOTNOTE_DEF, LIST_ITEM]
    if numbers_too:
        patterns += [OWN_NUMBER, SUB_NUMBER]
    if text.startswith("<!--") or any(p.match(text) for p in patterns):
        return JOINER + text
    return text


def plain_text(line: str) -> str:
    """What the parser keeps of a rendered line: no markers, no emphasis."""
    return UNDERSCORE_BOLD.sub(r"\1", MARKER.sub("", line)).replace("**", "").strip()


def ends_open(line: str) -> bool:
    text = plain_text(line)
    return bool(text) and not text.endswith(TERMINAL)


def guess_language(text: str) -> str:
    letters = [c for c in text if c.isalpha()]
    arabic = sum(1 for c in letters if _ARABIC_LETTER.match(c))
    return "ar" if letters and arabic / len(letters) > 0.3 else "en"


class DialectWriter:
    """Collects blocks in reading order; :meth:`text` returns the document."""

    def __init__(self) -> None:
        self._meta: dict[str, str] = {}
        self._blocks: list[str] = []
        self._held: list[str] = []  # footnote definitions and page markers waiting
        self._open = False  # the last block is a paragraph the parser could extend

    def front_matter(self, **meta: str | None) -> None:
        self._meta.update({k: str(v).strip() for k, v in meta.items() if v and str(v).strip()})

    def _flush(self) -> None:
        self._blocks.extend(self._held)
        self._held = []

    def _hold(self, block: str) -> None:
        self._held.append(block)
        if not self._open:
            self._flush()

    def heading(self, level: int, pieces: Iterable[Piece]) -> None:
        text = render(pieces)
        if not text:
            return
        self._flush()  # a heading ends any paragraph the parser could extend
        level = max(1, min(6, level))
        self._blocks.append(f"{'#' * level} {text}")
        self._open = False

    def paragraph(self, pieces: Iterable[Piece], prefix: str = "", run_in: str = "",
                  numbers_are_text: bool = False) -> None:
        """A paragraph; `prefix` is its own number ("12. ", "(a) "), `run_in` a bold head.

        `numbers_are_text` escapes a leading "12." that is not the document's own
        paragraph number (e.g. the first cell of a table row)."""
        body = render(pieces)
        if not body and not run_in:
            return
        if run_in:
            head = render([run_in]).rstrip(":： ").replace("*", "")
            body = f"**{head}:** {body}".rstrip()
        elif not prefix:
            body = _guard_start(body, numbers_are_text)
        line = f"{prefix}{body}"
        if not self._open:
            self._flush()
        self._blocks.append(line)
        self._open = ends_open(line)
        if not self._open:
            self._flush()

    def item(self, pieces: Iterable[Piece], depth: int = 0, prefix: str = "") -> None:
        body = render(pieces)
        if not body:
            return
        self._flush()  # list items are never extended by the parser
        self._blocks.append(f"{'  ' * depth}- {prefix}{body}")
        self._open = False

    def footnote(self, label: str, pieces: Iterable[Piece]) -> None:
        self._hold(f"[^{label}]: {render(pieces)}".rstrip())

    def page(self, number: int) -> None:
        self._hold(f"<!-- page: {number} -->")

    def text(self) -> str:
        self._flush()
        head = ""
        if self._meta:
            dumped = yaml.safe_dump(self._meta, allow_unicode=True, sort_keys=False, width=4096)
            head = f"---\n{dumped}---\n\n"
        return head + "\n\n".join(self._blocks) + "\n"
