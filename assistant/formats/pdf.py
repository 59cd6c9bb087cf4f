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
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from assistant.formats.dialect import DialectWriter, Note, Piece, guess_language
from assistant.parsing import TERMINAL

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_MIRROR = str.maketrans("()[]{}<>«»‹›", ")(][}{><»«›‹")
_OPENERS, _CLOSERS = "([{<«‹", ")]}>»›"
_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.I)
_BULLET = re.compile(r"^[•▪‣◦●·\-–—*]\s+")
_NUMBERED = re.compile(r"^(?:\d{1,3}\.|\([a-z]{1,2}\)|\([ivx]{1,4}\))\s")
_NOTE_START = re.compile(r"^\s*(\d{1,3})[.)]?\s+")
_PAGE_NUMBER = re.compile(
    r"^\W*(?:page|p\.|صفحة|الصفحة)?\s*[\d٠-٩]{1,4}(?:\s*(?:of|/|من)\s*[\d٠-٩]{1,4})?\W*$", re.I)
_DIGITS = re.compile(r"[\d٠-٩]+")
_TITLE_JUNK = re.compile(r"^(microsoft word|untitled)|\.(docx?|pdf|indd)$", re.I)


@dataclass
class Glyph:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool
    sup: bool = False


@dataclass
class Sup:
    """A superscript number: a footnote marker if a footnote has that number."""

    digits: str


@dataclass
class Line:
    page: int
    tokens: list  # logical order: str and Sup
    top: float
    bottom: float
    x0: float
    x1: float
    size: float
    bold: bool
    rtl: bool

    @property
    def text(self) -> str:
        return "".join(t for t in self.tokens if isinstance(t, str)).strip()


@dataclass
class Block:
    kind: str  # "para", "item" or "heading"
    page: int
    lines: list[Line] = field(default_factory=list)
    level: int = 0


# --- characters to lines ----------------------------------------------------

def _direction(ch: str) -> str:
    bidi = unicodedata.bidirectional(ch[:1]) if ch else ""
    if bidi in ("R", "AL"):
        return "R"
    if bidi == "L":
        return "L"
    return "NUM" if bidi in ("EN", "AN") else "N"


def _base_letters(text: str) -> str:
    """Presentation forms to the letters they show (NFKC only for those characters)."""
    out = []
    for ch in text:
        cp = ord(ch)
        if 0xFB00 <= cp <= 0xFDFF or 0xFE70 <= cp <= 0xFEFE:
            folded = unicodedata.normalize("NFKC", ch)
            if cp <= 0xFE7F and cp >= 0xFE70:  # isolated/medial harakat: drop space, tatweel
                folded = folded.replace(" ", "").replace("\u0640", "")
            out.append(folded)
        elif cp != 0xFEFF:
            out.append(ch)
    return "".join(out)


def _attach_marks(glyphs: list[Glyph]) -> list[Glyph]:
    """Put each combining mark (haraka) into the glyph it sits on, so reordering
    cannot separate them."""
    out: list[Glyph] = []
    for g in glyphs:
        if unicodedata.category(g.text[:1]) == "Mn" and out:
            centre = (g.x0 + g.x1) / 2
            host = min(out[-2:], key=lambda h: 0 if h.x0 <= centre <= h.x1 else 1)
            host.text += g.text
        else:
            out.append(g)
    return out


def _logical(glyphs: list[Glyph], rtl: bool) -> list[Glyph]:
    """Visual (left-to-right) glyphs to logical order."""
    kinds = [_direction(g.text) if not g.sup else "N" for g in glyphs]
    bidi = [unicodedata.bidirectional(g.text[:1]) if g.text else "" for g in glyphs]
    # Separators and signs that belong to a number: "10.5", "1,000", "50%", "2023-2025".
    for i, kind in enumerate(kinds):
        left = kinds[i - 1] if i else ""
        right = kinds[i + 1] if i + 1 < len(kinds) else ""
        if kind == "N" and (bidi[i] in ("CS", "ES") and left == right == "NUM"
                            or bidi[i] == "ET" and "NUM" in (left, right)):
            kinds[i] = "NUM"
    strong = ["L" if k == "NUM" else k for k in kinds]
    base = "R" if rtl else "L"
    i = 0
    while i < len(strong):  # neutrals take the direction around them, else the line's
        if strong[i] != "N":
            i += 1
            continue
        j = i
        while j < len(strong) and strong[j] == "N":
            j += 1
        left = strong[i - 1] if i else base
        right = strong[j] if j < len(strong) else base
        strong[i:j] = [left if left == right else base] * (j - i)
        i = j
    runs: list[tuple[str, list[Glyph]]] = []
    for g, d in zip(glyphs, strong, strict=True):
        if runs and runs[-1][0] == d:
            runs[-1][1].append(g)
        else:
            runs.append((d, [g]))
    if rtl:
        runs.reverse()
    out: list[Glyph] = []
    for d, run in runs:
        out.extend(reversed(run) if d == "R" else run)
    return _fix_mirroring(out, {id(g) for d, run in runs if d == "R" for g in run})


def _fix_mirroring(glyphs: list[Glyph], reversed_ids: set[int]) -> list[Glyph]:
    """Brackets read right to left may need mirroring, depending on the producer:
    keep whichever reading leaves fewer unmatched brackets."""
    def unmatched(texts: list[str]) -> tuple[int, bool]:
        depth = bad = 0
        first_open = None
        for t in texts:
            for ch in t:
                if ch in _OPENERS:
                    depth += 1
                    first_open = True if first_open is None else first_open
                elif ch in _CLOSERS:
                    bad += depth == 0
                    depth = max(0, depth - 1)
                    first_open = False if first_open is None else first_open
        return bad + depth, not first_open

    plain = [g.text for g in glyphs]
    if not any(ch in _OPENERS + _CLOSERS for t in plain for ch in t):
        return glyphs
    mirrored = [g.text.translate(_MIRROR) if id(g) in reversed_ids else g.text for g in glyphs]
    if unmatched(mirrored) < unmatched(plain):
        for g, text in zip(glyphs, mirrored, strict=True):
            g.text = text
    return glyphs


def _make_line(glyphs: list[Glyph], page: int, default_rtl: bool) -> Line | None:
    visible = [g for g in glyphs if g.text.strip()]
    if not visible:
        return None
    size = Counter(round(g.size, 1) for g in visible).most_common(1)[0][0]
    base = statistics.median(g.bottom for g in visible if g.size >= 0.9 * size)
    for g in visible:
        digit = g.text.translate(_SUPERSCRIPTS).isdigit()
        raised = g.size < 0.85 * size and g.bottom < base - 0.15 * size
        if digit and (raised or g.text != g.text.translate(_SUPERSCRIPTS)):
            g.sup, g.text = True, g.text.translate(_SUPERSCRIPTS)
    glyphs = _attach_marks(sorted(glyphs, key=lambda g: (g.x0, g.top)))
    # Spaces: drawn ones are kept, missing ones are added where the gap is wide.
    spaced: list[Glyph] = []
    for g in glyphs:
        prev = spaced[-1] if spaced else None
        if prev is not None and g.text.strip() and prev.text.strip():
            gap = g.x0 - prev.x1
            if gap > (0.5 if g.sup or prev.sup else 0.2) * min(g.size, prev.size, size):
                spaced.append(Glyph(" ", prev.x1, g.x0, g.top, g.bottom, size, False))
        if g.text.strip() or (prev is not None and prev.text.strip()):
            spaced.append(g)
    # Superscript digits next to each other form one marker.
    merged: list[Glyph] = []
    for g in spaced:
        if g.sup and merged and merged[-1].sup and g.x0 - merged[-1].x1 < 0.3 * size:
            merged[-1].text += g.text
            merged[-1].x1 = g.x1
        else:
            merged.append(g)
    body = [g for g in merged if g.text.strip() and not g.sup]
    directions = Counter(_direction(g.text) for g in body)
    rtl = directions["R"] > directions["L"] or (not directions["R"] + directions["L"]
                                                and default_rtl)
    tokens: list = []
    for g in _logical(merged, rtl):
        if g.sup:
            tokens.append(Sup(g.text))
        elif tokens and isinstance(tokens[-1], str):
            tokens[-1] += _base_letters(g.text)
        else:
            tokens.append(_base_letters(g.text))
    edge = body or visible
    return Line(page, tokens, min(g.top for g in edge), max(g.bottom for g in edge),
                min(g.x0 for g in edge), max(g.x1 for g in edge), size,
                sum(g.bold for g in edge) * 2 > len(edge), rtl)


def page_lines(page, number: int, default_rtl: bool) -> list[Line]:
    glyphs = []
    for c in page.dedupe_chars().chars:
        if not c.get("upright", True) or not c.get("text"):
            continue
        glyphs.append(Glyph(c["text"], c["x0"], c["x1"], c["top"], c["bottom"],
                            float(c.get("size") or 0), bool(_BOLD.search(c.get("fontname", "")))))
    glyphs.sort(key=lambda g: ((g.top + g.bottom) / 2, g.x0))
    groups: list[list[Glyph]] = []
    top = bottom = 0.0
    for g in glyphs:
        middle = (g.top + g.bottom) / 2
        if groups and top - 1 <= middle <= bottom + 1:
            groups[-1].append(g)
            top, bottom = min(top, g.top), max(bottom, g.bottom)
        else:
            groups.append([g])
            top, bottom = g.top, g.bottom
    lines = [_make_line(group, number, default_rtl) for group in groups]
    return sorted((ln for ln in lines if ln is not None), key=lambda ln: ln.top)


# --- pages: headers, footers, footnotes ---------------------------------------

def drop_running_lines(pages: list[list[Line]]) -> None:
    """Remove running headers/footers and page numbers (top and bottom three lines)."""
    def key(line: Line) -> str:
        return _DIGITS.sub("#", line.text).casefold()

    candidates = [lines[:3] + lines[-3:] for lines in pages]
    seen: dict[str, list[tuple[int, float]]] = {}
    for number, lines in enumerate(candidates):
        for line in lines:
            seen.setdefault(key(line), []).append((number, line.top))
    needed = max(2, round(0.4 * len(pages)))
    for number, lines in enumerate(candidates):
        for line in lines:
            pages_alike = {p for p, top in seen[key(line)] if abs(top - line.top) <= 4}
            if _PAGE_NUMBER.match(line.text) or len(pages) > 1 and len(pages_alike) >= needed:
                if line in pages[number]:
                    pages[number].remove(line)


def _note_start(line: Line) -> tuple[str, list] | None:
    tokens = [t for t in line.tokens if not (isinstance(t, str) and not t.strip())]
    if tokens and isinstance(tokens[0], Sup):
        return tokens[0].digits, line.tokens[line.tokens.index(tokens[0]) + 1:]
    if tokens and (m := _NOTE_START.match(tokens[0])):
        rest = tokens[0][m.end():]
        return m.group(1), [rest, *line.tokens[line.tokens.index(tokens[0]) + 1:]]
    return None


def split_footnotes(lines: list[Line], body_size: float) -> tuple[list[Line], list[Line]]:
    i = len(lines)
    while i > 0 and lines[i - 1].size < 0.9 * body_size:
        i -= 1
    zone = lines[i:]
    if i == 0 or not any(_note_start(line) for line in zone):
        return lines, []
    return lines[:i], zone


# --- lines to paragraphs ---------------------------------------------------------

def _joined(lines: list[Line]) -> list:
    tokens: list = []
    for line in lines:
        text_so_far = "".join(t for t in tokens if isinstance(t, str))
        hyphen = text_so_far.endswith("-") and text_so_far[-2:-1].isalpha()
        if tokens and not hyphen:
            tokens.append(" ")
        tokens.extend(line.tokens)
    return tokens


class Layout:
    """Page geometry needed to tell a new paragraph from a wrapped line."""

    def __init__(self, pages: list[list[Line]], body_size: float) -> None:
        self.margins = {}
        pitches = []
        for lines in pages:
            if not lines:
                continue
            widest = max(ln.x1 - ln.x0 for ln in lines)
            wide = [ln for ln in lines if ln.x1 - ln.x0 >= 0.8 * widest]
            self.margins[lines[0].page] = (statistics.median(ln.x0 for ln in wide),
                                           statistics.median(ln.x1 for ln in wide))
            pitches += [b.top - a.top for a, b in zip(lines, lines[1:], strict=False)
                        if abs(a.size - body_size) < 0.6 and abs(b.size - body_size) < 0.6]
        pitches.sort()
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
        if a.page != b.page:  # across a page break
            lower = b.text[:1].islower()
            return not starts_item and (not closed or lower) \
                and (lower or self.indent(b) <= self.indent(block.lines[0]) + 0.8 * b.size)
        if b.top - a.top > 1.3 * self.pitch + 0.5:
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
    # Headings: short blocks in a larger font, or bold and unpunctuated.
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
        self.first_label: dict[str, str] = {}  # number -> its first label

    def _pieces(self, tokens: list, page: int, markers: bool = True) -> list[Piece]:
        pieces: list[Piece] = []
        for t in tokens:
            if isinstance(t, Sup):
                label = self.labels.get((page, t.digits)) or self.first_label.get(t.digits)
                pieces.append(Note(label) if markers and label else t.digits)
            else:
                pieces.append(t)
        return pieces

    def _footnotes(self, zones: list[list[Line]], bodies: list[list[Line]]) -> dict:
        notes: dict[int, list[tuple[str, list[Line]]]] = {}
        last: tuple[str, list[Line]] | None = None
        for zone, body in zip(zones, bodies, strict=True):
            cited = {t.digits for line in body for t in line.tokens if isinstance(t, Sup)}
            for line in zone:
                start = _note_start(line)
                plain_ok = start and (start[0] in cited or last and start[0] == str(
                    int(last[0].split("-")[0]) + 1))
                sup_start = start and isinstance(
                    next(t for t in line.tokens if not isinstance(t, str) or t.strip()), Sup)
                if start and (sup_start or plain_ok):
                    number = start[0]
                    label = number if number not in self.first_label else f"{number}-p{line.page}"
                    self.first_label.setdefault(number, label)
                    self.labels[(line.page, number)] = label
                    rest = Line(**{**line.__dict__, "tokens": start[1]})
                    last = (label, [rest])
                    notes.setdefault(line.page, []).append(last)
                elif last is not None:
                    last[1].append(line)  # a continuation, possibly from the previous page
        return notes

    def read(self) -> None:
        default_rtl = False
        pages = [page_lines(p, i + 1, default_rtl) for i, p in enumerate(self.pdf.pages)]
        sizes = Counter()
        for line in (ln for lines in pages for ln in lines):
            sizes[round(line.size * 2) / 2] += len(line.text)
        if not sizes:
            raise ValueError("the PDF has no text layer (a scan?): run OCR on it first")
        body_size = sizes.most_common(1)[0][0]
        drop_running_lines(pages)
        split = [split_footnotes(lines, body_size) for lines in pages]
        bodies, zones = [s[0] for s in split], [s[1] for s in split]
        notes = self._footnotes(zones, bodies)
        blocks = build_blocks(bodies, Layout(bodies, body_size), body_size)
        page = 1
        self.out.page(1)
        for block in [*blocks, None]:
            target = block.page if block else len(pages)
            while page <= target:
                if block is None or page < target:
                    for label, lines in notes.get(page, []):
                        self.out.footnote(label, self._pieces(_joined(lines), page, False))
                if page == target:
                    break
                page += 1
                self.out.page(page)
            if block is None:
                break
            tokens: list[Piece] = []
            for i, line in enumerate(block.lines):
                tokens += self._pieces(_joined([line]), line.page)
                if i + 1 < len(block.lines):
                    hyphen = line.text.endswith("-") and line.text[-2:-1].isalpha()
                    tokens += [] if hyphen else [" "]
            if block.kind == "heading":
                self.out.heading(block.level, tokens)
            elif block.kind == "item":
                first = next(i for i, t in enumerate(tokens) if isinstance(t, str) and t.strip())
                tokens[first] = _BULLET.sub("", tokens[first].lstrip(), count=1)
                self.out.item(tokens)
            else:
                self.out.paragraph(tokens)


def _pdf_date(value) -> str | None:
    m = re.match(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?", str(value or ""))
    if not m:
        return None
    return "-".join(part for part in m.groups() if part)


def read_pdf(path: Path) -> str:
    import pdfplumber  # imported here: the reader is optional

    from assistant.corpus import CorpusError

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
