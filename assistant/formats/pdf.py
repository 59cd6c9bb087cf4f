"""Read a PDF into the Markdown dialect of :mod:`assistant.parsing`.

Library: pdfplumber (MIT licence, built on pdfminer.six, also MIT). It gives
every character with its position, font size and font name, and that is what
this reader needs: reading order, footnotes and footnote markers are all
recovered from geometry. pypdf (BSD) extracts text well but without usable
per-character positions; PyMuPDF is AGPL, which this project cannot take.

The steps, page by page and then over the whole document:

1. Characters are grouped into lines by their vertical centre, so a raised
   footnote marker stays on its line. Digits that are smaller than the line
   and raised above its baseline are footnote markers.
2. Each line is put in logical order from the characters' x positions, not
   from the order in the file: producers write Arabic in visual order, in
   logical order, or mixed. Right-to-left runs are read right to left, numbers
   and Latin words inside them left to right (a simplified inverse of the
   Unicode bidi algorithm). Arabic presentation forms (U+FB50-U+FDFF,
   U+FE70-U+FEFF), which PDFs hold instead of letters, become base letters;
   a lam-alef ligature is one glyph, so it becomes "لا" in the right order.
3. Running headers and footers (same text, digits aside, at the same height
   on many pages) and page-number lines are dropped.
4. At the bottom of a page, lines in a smaller font than the body that start
   with a number are footnotes; a footnote without a number at the top of that
   zone continues the previous page's last footnote.
5. Lines become paragraphs: a new paragraph starts after extra vertical
   space, at a change of font size or weight, at a "12." / "(a)" / bullet
   after a finished sentence, or after a short line ending a sentence. Across
   a page break a paragraph continues when its last line has no terminal
   punctuation or the next page starts in lower case. Larger or bold short
   paragraphs are headings, ranked by size.

Limits: one text column per page; no tables (a table's rows come out as
lines); words split by a line-end hyphen keep the hyphen.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pdfplumber

from assistant.formats.dialect import DialectWriter, Note, Piece, guess_language
from assistant.formats.pdf_lines import Line, Sup, page_lines
from assistant.parsing import TERMINAL

_BULLET = re.compile(r"^[•▪‣◦●·\-–—*]\s+")
_NUMBERED = re.compile(r"^(?:\d{1,3}\.|\([a-z]{1,2}\)|\([ivx]{1,4}\))\s")
_PAGE_NUMBER = re.compile(
    r"^\W*(?:page|p\.|صفحة|الصفحة)?\s*[\d٠-٩]{1,4}(?:\s*(?:of|/|من)\s*[\d٠-٩]{1,4})?\W*$", re.I)
_DIGITS = re.compile(r"[\d٠-٩]+")
_URL_END = re.compile(r"(?:https?://|www\.)\S*[/\-_=?&#]$")
_TITLE_JUNK = re.compile(r"^(microsoft word|untitled)|\.(docx?|pdf|indd)$", re.I)


@dataclass
class Block:
    kind: str  # "para", "item" or "heading"
    page: int
    lines: list[Line] = field(default_factory=list)
    level: int = 0


# --- pages: headers, footers, footnotes ---------------------------------------

def drop_running_lines(pages: list[list[Line]]) -> None:
    """Remove running headers and footers (the same text, digits aside, at the same
    height on many pages) and page numbers standing apart at the top or bottom."""
    def key(line: Line) -> str:
        return _DIGITS.sub("#", line.text).casefold()

    # Lines opening with a superscript number are footnotes, however alike ("Ibid.").
    def footnote_like(line: Line) -> bool:
        start = line.edge_number()
        return bool(start and start[1])

    candidates = [[ln for ln in lines[:3] + lines[-3:] if not footnote_like(ln)]
                  for lines in pages]
    seen: dict[str, list[tuple[int, float]]] = {}
    for number, lines in enumerate(candidates):
        for line in lines:
            seen.setdefault(key(line), []).append((number, line.top))
    needed = max(2, round(0.4 * len(pages)))
    for number, lines in enumerate(candidates):
        page = pages[number]
        for line in lines:
            alike = {p for p, top in seen[key(line)] if abs(top - line.top) <= 4}
            running = len(pages) > 1 and len(alike) >= needed
            if line in page and (running or _lone_page_number(line, page)):
                page.remove(line)


def _lone_page_number(line: Line, page: list[Line]) -> bool:
    """A bare number is a page number only as the first or last line, set apart."""
    if not _PAGE_NUMBER.match(line.text) or line not in (page[0], page[-1]):
        return False
    if len(page) == 1:
        return True
    gap = page[1].top - line.bottom if line is page[0] else line.top - page[-2].bottom
    return gap > 1.2 * max(line.size, 1.0)


def split_footnotes(lines: list[Line], body_size: float) -> tuple[list[Line], list[Line]]:
    """Body lines and footnote lines: the smaller-type lines at the bottom of the page,
    if one of them starts with a number. Small lines set well apart below everything
    and not numbered (a job number, a barcode caption) are page furniture and go."""
    lines = list(lines)
    while len(lines) > 1 and lines[-1].size < 0.9 * body_size \
            and lines[-1].top - lines[-2].bottom > 2 * lines[-1].size \
            and not lines[-1].edge_number():
        lines.pop()
    i = len(lines)
    while i > 0 and lines[i - 1].size < 0.9 * body_size:
        i -= 1
    zone = lines[i:]
    if i == 0 or not any(line.edge_number() for line in zone):
        return lines, []
    return lines[:i], zone


# --- lines to paragraphs ---------------------------------------------------------

def _separator(tokens: list) -> str:
    """What goes between a paragraph so far and its next line: a space, except after
    a word broken at a hyphen or a URL broken at a slash."""
    text = "".join(t for t in tokens if isinstance(t, str)).rstrip()
    last_word = text.rsplit(" ", 1)[-1]
    glued = text.endswith("-") and text[-2:-1].isalpha() or _URL_END.search(last_word)
    return "" if not text or glued else " "


class Layout:
    """Page geometry: margins (per page) and the usual distance between lines."""

    def __init__(self, pages: list[list[Line]]) -> None:
        self.margins: dict[int, tuple[float, float]] = {}
        for lines in pages:
            if lines:  # robust to a few lines standing out (headers, wide tables)
                starts, ends = sorted(ln.x0 for ln in lines), sorted(ln.x1 for ln in lines)
                self.margins[lines[0].page] = (starts[len(starts) // 10],
                                               ends[len(ends) - 1 - len(ends) // 10])
        self.pitch = 0.0

    def right_to_left(self, line: Line, document_rtl: bool) -> bool:
        """A line's base direction: its letters decide, unless it has Latin letters only in
        an Arabic document, where only a left-aligned line reads left to right."""
        right, left = line.letters["R"], line.letters["L"]
        if right > left or not right + left:
            return right > left or document_rtl
        if not document_rtl:
            return False
        margin_left, margin_right = self.margins[line.page]
        left_aligned = line.x0 - margin_left < line.size
        return not (left_aligned and margin_right - line.x1 > 2 * line.size)

    def measure(self, pages: list[list[Line]], body_size: float) -> None:
        pitches = sorted(b.top - a.top for lines in pages
                         for a, b in zip(lines, lines[1:], strict=False)
                         if abs(a.size - body_size) < 0.6 and abs(b.size - body_size) < 0.6)
        # The lower quantile: within paragraphs, not between them.
        self.pitch = pitches[len(pitches) // 5] if pitches else body_size * 1.2

    def indent(self, line: Line) -> float:
        left, right = self.margins[line.page]
        return right - line.x1 if line.rtl else line.x0 - left

    def short(self, line: Line) -> bool:
        left, right = self.margins[line.page]
        gap = line.x0 - left if line.rtl else right - line.x1
        return gap > 0.12 * (right - left)

    def continues(self, block: Block, b: Line) -> bool:
        """Does line b continue the paragraph `block`?"""
        a = block.lines[-1]
        if block.kind == "heading" or abs(a.size - b.size) > 0.6 or a.bold != b.bold:
            return False
        closed = a.text.endswith(TERMINAL)
        starts_item = bool(_NUMBERED.match(b.text) or _BULLET.match(b.text))
        if a.page != b.page:  # across a page break: only an unfinished sentence goes on
            lower = b.text[:1].islower()
            indented = self.indent(b) > self.indent(block.lines[0]) + 0.8 * b.size
            return not starts_item and (lower or not closed and not indented)
        if b.top - a.top > 1.3 * self.pitch + 0.5:  # extra space between paragraphs
            return False
        if closed and (starts_item or self.short(a)):
            return False
        return not (closed and self.indent(b) > max(self.indent(a), 0) + 0.8 * b.size)


def build_blocks(pages: list[list[Line]], layout: Layout, body_size: float) -> list[Block]:
    blocks: list[Block] = []
    for lines in pages:
        for line in lines:
            if blocks and layout.continues(blocks[-1], line):
                blocks[-1].lines.append(line)
            else:
                kind = "item" if _BULLET.match(line.text) else "para"
                blocks.append(Block(kind, line.page, [line]))
    # Headings: short blocks in a larger font (ranked by size), or bold and unpunctuated.
    big = sorted({round(b.lines[0].size * 2) / 2 for b in blocks
                  if b.lines[0].size > 1.15 * body_size}, reverse=True)
    for block in blocks:
        text = " ".join(ln.text for ln in block.lines)
        first = block.lines[0]
        if len(block.lines) > 2 or len(text) > 150 or block.kind == "item":
            continue
        if first.size > 1.15 * body_size:
            block.kind, block.level = "heading", big.index(round(first.size * 2) / 2) + 1
        elif first.bold and abs(first.size - body_size) < 0.6 and not text.endswith(TERMINAL):
            block.kind, block.level = "heading", len(big) + 1
    return blocks


# --- the document -------------------------------------------------------------------

class PdfReader:
    def __init__(self, pdf) -> None:
        self.pdf = pdf
        self.out = DialectWriter()
        self.labels: dict[tuple[int, str], str] = {}  # (page, number) -> footnote label
        self.first_label: dict[str, str] = {}  # number -> the label it got first

    def _pieces(self, tokens: list, page: int, markers: bool = True) -> list[Piece]:
        """Superscript numbers become markers when a footnote has that number (on this
        page first, for documents that number footnotes page by page)."""
        pieces: list[Piece] = []
        for t in tokens:
            if isinstance(t, Sup):
                label = self.labels.get((page, t.digits)) or self.first_label.get(t.digits)
                pieces.append(Note(label) if markers and label else t.digits)
            else:
                pieces.append(t)
        return pieces

    def _footnotes(self, zones: list[list[Line]], bodies: list[list[Line]]) -> dict:
        """page -> [(label, tokens)]. A plain number starts a footnote only if the page
        cites it or it follows the previous footnote's number."""
        notes: dict[int, list[tuple[str, list]]] = {}
        last: list | None = None  # [label, number, tokens]
        for zone, body in zip(zones, bodies, strict=True):
            cited = {t.digits for line in body for t in line.tokens if isinstance(t, Sup)}
            for line in zone:
                start = line.edge_number()  # (digits, superscript?, the rest)
                if start and len(start[0]) > 3:
                    start = None
                expected = start and start[0] == (str(int(last[1]) + 1) if last else "1")
                if start and (start[1] or start[0] in cited or expected):
                    number = start[0]
                    label = number if number not in self.first_label else f"{number}-p{line.page}"
                    self.first_label.setdefault(number, label)
                    self.labels[(line.page, number)] = label
                    last = [label, number, start[2]]
                    notes.setdefault(line.page, []).append(last)
                elif last is not None:  # continued, maybe from the previous page
                    last[2] = [*last[2], _separator(last[2]), *line.tokens]
        return {page: [(label, tokens) for label, _, tokens in found]
                for page, found in notes.items()}

    def _block(self, block: Block) -> None:
        pieces: list[Piece] = []
        for line in block.lines:  # markers resolve against the page they stand on
            pieces += [_separator(pieces), *self._pieces(line.tokens, line.page)]
        if block.kind == "heading":
            self.out.heading(block.level, pieces)
        elif block.kind == "item":
            first = next(i for i, p in enumerate(pieces) if isinstance(p, str) and p.strip())
            pieces[first] = _BULLET.sub("", pieces[first].lstrip(), count=1)
            self.out.item(pieces)
        else:
            self.out.paragraph(pieces)

    def read(self) -> None:
        pages = [page_lines(p, i + 1) for i, p in enumerate(self.pdf.pages)]
        lines = [ln for page in pages for ln in page]
        if not lines:
            raise ValueError("the PDF has no text layer (a scan?): run OCR on it first")
        letters = sum((ln.letters for ln in lines), Counter())
        layout = Layout(pages)
        for line in lines:
            line.order(layout.right_to_left(line, letters["R"] > letters["L"]))
        sizes = Counter()
        for line in lines:
            sizes[round(line.size * 2) / 2] += len(line.text)
        body_size = sizes.most_common(1)[0][0]
        drop_running_lines(pages)
        split = [split_footnotes(page, body_size) for page in pages]
        bodies, zones = [s[0] for s in split], [s[1] for s in split]
        notes = self._footnotes(zones, bodies)
        layout.measure(bodies, body_size)
        page = 1
        self.out.page(1)
        for block in build_blocks(bodies, layout, body_size):
            while page < block.page:  # a page's footnotes follow the paragraphs begun on it
                self._notes(notes, page)
                page += 1
                self.out.page(page)
            self._block(block)
        while True:
            self._notes(notes, page)
            if page >= len(pages):
                break
            page += 1
            self.out.page(page)

    def _notes(self, notes: dict, page: int) -> None:
        for label, tokens in notes.get(page, []):
            self.out.footnote(label, self._pieces(tokens, page, markers=False))


def _pdf_date(value) -> str | None:
    m = re.match(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?", str(value or ""))
    return "-".join(part for part in m.groups() if part) if m else None


def read_pdf(path: Path) -> str:
    from assistant.corpus import CorpusError  # here: corpus imports this module

    try:
        with pdfplumber.open(path) as pdf:
            reader = PdfReader(pdf)
            reader.read()
            meta = dict(pdf.metadata or {})
    except Exception as exc:  # pdfminer raises many unrelated types on broken files
        raise CorpusError(path, f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    language = guess_language(reader.out.text())
    title = str(meta.get("Title") or "").strip()
    reader.out.front_matter(
        **{"title_ar" if language == "ar" else "title_en":
           None if _TITLE_JUNK.search(title) else title},
        language=language,
        date=_pdf_date(meta.get("CreationDate")),
    )
    return reader.out.text()
