"""Characters of a PDF page to lines of text in logical order.

PDF files place glyphs; they do not say in which order the words are read.
Producers write Arabic in visual order (left to right on the page), in
logical order, or mixed, and many store the contextual glyphs (presentation
forms) instead of letters. So this module never trusts the order in the file:
it sorts each line's glyphs by x position (visual order) and then undoes the
bidirectional layout:

* Right-to-left runs (Arabic) are read right to left; Latin words, numbers
  and the separators inside numbers ("10.5", "50%", "A/RES/73/195") keep
  their left-to-right order.
* A number between Arabic words acts as right-to-left for the spaces and
  punctuation around it (rule N1 of the Unicode bidi algorithm), so
  "(2018 - 2030)" comes back in that order; a number next to Latin letters
  reads with them ("ISO 9001", "COVID-19"). The one case geometry cannot
  settle, a number *before* a Latin word inside Arabic ("360-degree"), is read
  as Latin-then-number.
* Brackets read right to left are mirrored or not, whichever leaves them
  balanced (producers disagree about which character a mirrored glyph maps to).
* Presentation forms become base letters after reordering, glyph by glyph,
  so a lam-alef ligature (one glyph) becomes "لا" in the right order.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_MIRROR = str.maketrans("()[]{}<>«»‹›", ")(][}{><»«›‹")
_OPENERS, _CLOSERS = "([{<«‹", ")]}>»›"
_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.I)
_JOINING = {"WS", "CS", "ES", "ET"}  # what may stand between a number and its Latin word


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


@dataclass(eq=False)  # lines are compared by identity
class Line:
    page: int
    glyphs: list[Glyph]  # visual order, spaces included, superscript digits merged
    top: float
    bottom: float
    x0: float
    x1: float
    size: float
    bold: bool
    letters: Counter  # strong letters by direction: "R" and "L"
    rtl: bool = False
    tokens: list = field(default_factory=list)  # logical order: str and Sup

    @property
    def text(self) -> str:
        return "".join(t for t in self.tokens if isinstance(t, str)).strip()

    def order(self, rtl: bool) -> None:
        """Put the glyphs in logical order for a line of the given base direction."""
        self.rtl = rtl
        self.tokens = _tokens(logical(self.glyphs, rtl))

    def edge_number(self) -> tuple[str, bool, list] | None:
        """The number standing first at the line's starting edge (the right one in
        Arabic) and the rest of the line: how a footnote begins. Read from geometry,
        not from the bidi reading, which cannot tell "1 https://..." (a footnote
        number, then a link) from "ISO 9001"."""
        glyphs = self.glyphs[::-1] if self.rtl else self.glyphs
        i = 0
        while i < len(glyphs) and not glyphs[i].text.strip():
            i += 1
        j = i
        if i < len(glyphs) and glyphs[i].sup:
            j += 1
        else:
            while j < len(glyphs) and glyphs[j].text.isdigit() and not glyphs[j].sup:
                j += 1
            if j < len(glyphs) and glyphs[j].text in ".)" and j > i:
                j += 1
            if j == i or j < len(glyphs) and glyphs[j].text.strip():
                return None  # not a number, or a number glued to a word ("2023-2025")
        number = [g for g in glyphs[i:j] if g.text.isdigit()]
        digits = "".join(g.text for g in (number[::-1] if self.rtl else number))
        rest = glyphs[j:][::-1] if self.rtl else glyphs[j:]
        return digits, glyphs[i].sup, _tokens(logical(rest, self.rtl))


def _tokens(glyphs: list[Glyph]) -> list:
    tokens: list = []
    for g in glyphs:
        if g.sup:
            tokens.append(Sup(g.text))
        elif tokens and isinstance(tokens[-1], str):
            tokens[-1] += base_letters(g.text)
        else:
            tokens.append(base_letters(g.text))
    return tokens


def base_letters(text: str) -> str:
    """Presentation forms to the letters they show (NFKC, but only for those)."""
    out = []
    for ch in text:
        cp = ord(ch)
        if 0xFB00 <= cp <= 0xFDFF or 0xFE70 <= cp <= 0xFEFE:
            folded = unicodedata.normalize("NFKC", ch)
            if 0xFE70 <= cp <= 0xFE7F:  # spacing and tatweel forms of harakat: the mark only
                folded = folded.replace(" ", "").replace("\u0640", "")
            out.append(folded)
        elif cp != 0xFEFF:  # a byte order mark is no text
            out.append(ch)
    return "".join(out)


def _class(g: Glyph) -> str:
    if g.sup:
        return "N"
    bidi = unicodedata.bidirectional(g.text[:1]) if g.text else ""
    if bidi in ("R", "AL"):
        return "R"
    if bidi == "L":
        return "L"
    return "NUM" if bidi in ("EN", "AN") else "N"


def _bidi(g: Glyph) -> str:
    return unicodedata.bidirectional(g.text[:1]) if g.text and not g.sup else ""


def _number_units(glyphs: list[Glyph], kinds: list[str], rtl: bool) -> list[list[Glyph]]:
    """Group glyphs into units that keep their inner order, and give number units
    the direction they act with (in `kinds`, changed in place).

    A number read with the Latin words on its left ("ISO 9001", "A/RES/73/195",
    "COVID-19 ...") is Latin. Any other number acts as right to left for what lies
    around it (bidi rule N1); after an Arabic word a comma or point still joins its
    digits ("10.5") but "%" and "-" do not ("50%" is drawn "%50"), while at the
    start of a line the number keeps them ("50%", "2018-2030")."""
    def letter(i: int, step: int) -> tuple[str, bool]:
        close = True  # only spaces, separators and digits on the way
        while 0 <= i < len(kinds):
            if kinds[i] in ("L", "R"):
                return kinds[i], close
            close = close and (kinds[i] == "NUM" or _bidi(glyphs[i]) in _JOINING)
            i += step
        return "", False

    modes: dict[int, str] = {}  # first glyph of a digit run -> "L", "EN" or "AN"
    i = 0
    while i < len(kinds):
        if kinds[i] != "NUM":
            i += 1
            continue
        j = i
        while j < len(kinds) and kinds[j] == "NUM":
            j += 1
        (left, left_close), (right, right_close) = letter(i - 1, -1), letter(j, 1)
        if rtl:
            modes[i] = "L" if left == "L" and left_close else "AN" if right == "R" else "EN"
        else:  # in a Latin line, a number is Latin unless it only touches Arabic words
            touching = {left} if left_close else set()
            touching |= {right} if right_close else set()
            modes[i] = "AN" if "R" in touching and "L" not in touching else "L"
        i = j

    units: list[list[Glyph]] = []
    unit_kinds: list[str] = []
    for i, g in enumerate(glyphs):
        kind, bidi = kinds[i], _bidi(g)
        prev_num = bool(unit_kinds) and unit_kinds[-1] in ("NUM-L", "NUM-EN", "NUM-AN")
        next_num = i + 1 < len(kinds) and kinds[i + 1] == "NUM"
        mode = unit_kinds[-1][4:] if prev_num else ""
        glue = kind == "NUM" and prev_num or kind == "N" and prev_num and (
            bidi == "CS" and next_num
            or mode in ("L", "EN") and (bidi == "ES" and next_num or bidi == "ET"))
        if glue:
            units[-1].append(g)
        elif kind == "NUM":
            units.append([g])
            unit_kinds.append("NUM-" + modes.get(i, "L"))
        else:
            units.append([g])
            unit_kinds.append(kind)
    kinds[:] = ["L" if k == "NUM-L" else "R" if k.startswith("NUM") else k for k in unit_kinds]
    return units


def logical(glyphs: list[Glyph], rtl: bool) -> list[Glyph]:
    """Visual (left-to-right) glyphs to logical order, for a line of base direction `rtl`."""
    kinds = [_class(g) for g in glyphs]
    units = _number_units(glyphs, kinds, rtl)
    base = "R" if rtl else "L"
    i = 0
    while i < len(kinds):  # neutrals take the direction on both sides, else the base one
        if kinds[i] != "N":
            i += 1
            continue
        j = i
        while j < len(kinds) and kinds[j] == "N":
            j += 1
        left = kinds[i - 1] if i else base
        right = kinds[j] if j < len(kinds) else base
        kinds[i:j] = [left if left == right else base] * (j - i)
        i = j
    runs: list[tuple[str, list[list[Glyph]]]] = []
    for unit, kind in zip(units, kinds, strict=True):
        if runs and runs[-1][0] == kind:
            runs[-1][1].append(unit)
        else:
            runs.append((kind, [unit]))
    if rtl:
        runs.reverse()
    out: list[Glyph] = []
    turned: set[int] = set()
    for kind, run in runs:
        for unit in reversed(run) if kind == "R" else run:
            out.extend(unit)
            if kind == "R" and len(unit) == 1:
                turned.add(id(unit[0]))
    return _mirror(out, turned)


def _unbalanced(texts: list[str]) -> tuple[int, bool]:
    depth = bad = 0
    first = ""
    for ch in "".join(texts):
        if ch in _OPENERS:
            depth, first = depth + 1, first or "open"
        elif ch in _CLOSERS:
            bad, depth, first = bad + (depth == 0), max(0, depth - 1), first or "close"
    return bad + depth, first == "close"


def _mirror(glyphs: list[Glyph], turned: set[int]) -> list[Glyph]:
    plain = [g.text for g in glyphs]
    if not any(ch in _OPENERS + _CLOSERS for ch in "".join(plain)):
        return glyphs
    mirrored = [g.text.translate(_MIRROR) if id(g) in turned else g.text for g in glyphs]
    if _unbalanced(mirrored) < _unbalanced(plain):
        for g, text in zip(glyphs, mirrored, strict=True):
            g.text = text
    return glyphs


def _attach_marks(glyphs: list[Glyph]) -> list[Glyph]:
    """Put each combining mark (a haraka) into the letter it sits on, the one under its
    centre, so that reordering cannot separate them."""
    letters = [g for g in glyphs if unicodedata.category(g.text[:1]) != "Mn"]
    if not letters:
        return glyphs
    for mark in (g for g in glyphs if unicodedata.category(g.text[:1]) == "Mn"):
        centre = (mark.x0 + mark.x1) / 2
        host = min(letters, key=lambda h: max(h.x0 - centre, centre - h.x1, 0))
        host.text = unicodedata.normalize("NFC", host.text + mark.text)  # marks in canonical order
    return letters


def _make_line(glyphs: list[Glyph], page: int) -> Line | None:
    visible = [g for g in glyphs if g.text.strip()]
    if not visible:
        return None
    sizes: Counter = Counter()
    for g in visible:  # by area, so that a few wide letters outweigh many small digits
        sizes[round(g.size, 1)] += g.size
    size = sizes.most_common(1)[0][0]
    baseline = statistics.median(g.bottom for g in visible if g.size >= 0.9 * size)
    for g in visible:  # smaller raised digits, or superscript digit characters
        digits = g.text.translate(_SUPERSCRIPTS)
        raised = g.size < 0.85 * size and g.bottom < baseline - 0.15 * size
        if digits.isdigit() and (raised or digits != g.text):
            g.sup, g.text = True, digits
    ordered = _attach_marks(sorted(glyphs, key=lambda g: (g.x0, g.top)))
    spaced: list[Glyph] = []  # drawn spaces are kept; missing ones added at wide gaps
    for g in ordered:
        prev = spaced[-1] if spaced else None
        if prev is not None and g.text.strip() and prev.text.strip():
            limit = (0.5 if g.sup or prev.sup else 0.2) * min(g.size, prev.size, size)
            if g.x0 - prev.x1 > limit:
                spaced.append(Glyph(" ", prev.x1, g.x0, g.top, g.bottom, size, False))
        if g.text.strip() or prev is not None and prev.text.strip():
            spaced.append(g)
    merged: list[Glyph] = []  # neighbouring superscript digits are one marker
    for g in spaced:
        if g.sup and merged and merged[-1].sup and g.x0 - merged[-1].x1 < 0.3 * size:
            merged[-1].text += g.text
            merged[-1].x1 = g.x1
        else:
            merged.append(g)
    body = [g for g in merged if g.text.strip() and not g.sup] or visible
    letters = Counter(k for k in map(_class, body) if k in ("L", "R"))
    return Line(page, merged, min(g.top for g in body), max(g.bottom for g in body),
                min(g.x0 for g in body), max(g.x1 for g in body), size,
                sum(g.bold for g in body) * 2 > len(body), letters)


def page_lines(page, number: int) -> list[Line]:
    """The page's lines, top to bottom, glyphs still in visual order."""
    glyphs = []
    left, top, right, bottom = page.bbox
    for c in page.dedupe_chars().chars:
        if not c.get("upright", True) or not c.get("text"):
            continue  # rotated text: margin stamps, vertical labels
        if c["x1"] < left or c["x0"] > right or c["bottom"] < top or c["top"] > bottom:
            continue  # drawn outside the page: not shown, not read
        glyphs.append(Glyph(c["text"], c["x0"], c["x1"], c["top"], c["bottom"],
                            float(c.get("size") or 0), bool(_BOLD.search(c.get("fontname", "")))))
    # A glyph belongs to the line whose height covers its centre, which keeps raised
    # markers on their line and separates lines whenever there is any leading.
    glyphs.sort(key=lambda g: ((g.top + g.bottom) / 2, g.x0))
    groups: list[list[Glyph]] = []
    top = bottom = 0.0
    for g in glyphs:
        if groups and top - 1 <= (g.top + g.bottom) / 2 <= bottom + 1:
            groups[-1].append(g)
            top, bottom = min(top, g.top), max(bottom, g.bottom)
        else:
            groups.append([g])
            top, bottom = g.top, g.bottom
    lines = [_make_line(group, number) for group in groups]
    return sorted((ln for ln in lines if ln is not None), key=lambda ln: ln.top)
