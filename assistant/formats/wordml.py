"""WordprocessingML helpers for the DOCX reader: parts, styles and list numbering.

Word does not store the numbers it displays for automatically numbered
paragraphs; it stores list definitions (numbering.xml) and the paragraphs'
membership in them, and counts at display time. :class:`Numbering` counts the
same way so that the reader can write the number a reader of the document sees.
"""

from __future__ import annotations

import re

from lxml import etree

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
DECIMAL = {"decimal", "decimalZero", "decimalHalfWidth", "decimalFullWidth", "hindiNumbers",
           "ordinal", "cardinalText", "ordinalText", "decimalEnclosedParen"}
LOWER = {"lowerLetter", "lowerRoman", "arabicAlpha", "arabicAbjad"}


def w(tag: str) -> str:
    return f"{{{W}}}{tag}"


def val(el, default: str | None = None) -> str | None:
    return default if el is None else el.get(w("val"), default)


def on(el) -> bool:
    """A toggle property (<w:b/>, <w:vanish w:val="0"/>) that is present and not off."""
    return el is not None and val(el, "true") not in ("0", "false", "off", "none")


def is_true(attr: str | None) -> bool:
    return attr in ("1", "true", "on")


def to_int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def links(part) -> dict[str, str]:
    """Relationship id -> URL. Each part has its own ids: footnotes.xml's rId1 is not
    document.xml's rId1."""
    return {rid: rel.target_ref for rid, rel in part.rels.items() if rel.is_external}


def xml_part(part, reltype: str):
    """The root element of a related part and its external links (or None, {})."""
    for rel in part.rels.values():
        if rel.reltype == RT + reltype and not rel.is_external:
            target = rel.target_part
            return etree.fromstring(target.blob, PARSER), links(target)
    return None, {}


class Styles:
    """Paragraph and character styles (styles.xml), followed through w:basedOn."""

    def __init__(self, root) -> None:
        self.styles: dict[str, etree._Element] = {}
        self.default = ""
        for style in [] if root is None else root.iter(w("style")):
            sid = style.get(w("styleId"), "")
            self.styles[sid] = style
            if style.get(w("type")) == "paragraph" and is_true(style.get(w("default"))):
                self.default = sid

    def chain(self, sid: str | None) -> list:
        """The style and the styles it is based on, nearest first."""
        out, seen = [], set()
        sid = sid or self.default
        while sid and sid in self.styles and sid not in seen and len(out) < 20:
            seen.add(sid)
            out.append(self.styles[sid])
            sid = val(self.styles[sid].find(w("basedOn")))
        return out

    def name(self, style) -> str:
        return (val(style.find(w("name"))) or "").strip().lower()

    def ppr(self, sid: str | None, tag: str):
        for style in self.chain(sid):
            el = style.find(f"{w('pPr')}/{w(tag)}")
            if el is not None:
                return el
        return None

    def bold(self, sid: str | None) -> bool | None:
        for style in self.chain(sid):
            for tag in ("b", "bCs"):
                el = style.find(f"{w('rPr')}/{w(tag)}")
                if el is not None:
                    return on(el)
        return None


def roman(n: int) -> str:
    out = ""
    for value, letters in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"),
                           (90, "xc"), (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"),
                           (4, "iv"), (1, "i")):
        while n >= value:
            out, n = out + letters, n - value
    return out


def format_number(n: int, fmt: str) -> str:
    """The number as Word shows it, with two deliberate differences: Arabic letter
    formats (أ، ب...) get the Latin letter of the same rank, because the dialect's
    sub-paragraph numbers are (a), (b)...; Arabic-Indic digits come out as ASCII
    digits, like the paragraph numbers the parser reads."""
    if fmt in ("lowerLetter", "upperLetter", "arabicAlpha", "arabicAbjad"):
        letter = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1) if n > 0 else "0"
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman"):
        return roman(n).upper() if fmt == "upperRoman" else roman(n)
    if fmt in ("bullet", "none"):
        return ""
    return f"{n:02d}" if fmt == "decimalZero" else str(n)


class Numbering:
    """Word's list counters. Instances (w:num) of one abstract list share its
    counters, as in Word, unless the instance overrides a start value."""

    def __init__(self, root, styles: Styles) -> None:
        self.styles = styles
        self.abstract: dict[str, etree._Element] = {}
        self.nums: dict[str, etree._Element] = {}
        self.counters: dict[tuple, list[int | None]] = {}
        if root is not None:
            for el in root.findall(w("abstractNum")):
                self.abstract[el.get(w("abstractNumId"), "")] = el
            for el in root.findall(w("num")):
                self.nums[el.get(w("numId"), "")] = el

    def _levels(self, num_id: str, depth: int = 0) -> tuple[dict, dict, tuple]:
        num = self.nums.get(num_id)
        if num is None or depth > 3:
            return {}, {}, ()
        abs_id = val(num.find(w("abstractNumId")), "")
        abstract = self.abstract.get(abs_id)
        if abstract is None:
            return {}, {}, ()
        link = val(abstract.find(w("numStyleLink")))
        if link:  # the list is defined by a numbering style: follow it
            style_num = self.styles.ppr(link, "numPr")
            linked = val(style_num.find(w("numId"))) if style_num is not None else None
            levels = self._levels(linked, depth + 1)[0] if linked and linked != num_id else {}
        else:
            levels = {to_int(lv.get(w("ilvl")), 0): lv for lv in abstract.findall(w("lvl"))}
        starts = {}
        for override in num.findall(w("lvlOverride")):
            ilvl = to_int(override.get(w("ilvl")), 0)
            if (lvl := override.find(w("lvl"))) is not None:
                levels = {**levels, ilvl: lvl}
            if (start := override.find(w("startOverride"))) is not None:
                starts[ilvl] = to_int(val(start), 1)
        key = ("num", num_id) if starts else ("abstract", abs_id)
        return levels, starts, key

    def level_for_style(self, num_id: str, style_id: str) -> int:
        levels, _, _ = self._levels(num_id)
        return next((i for i, lv in levels.items() if val(lv.find(w("pStyle"))) == style_id), 0)

    def next(self, num_id: str, ilvl: int) -> tuple[str, str, int] | None:
        """Count one paragraph; return (numFmt, displayed text, this level's number)."""
        levels, starts, key = self._levels(num_id)
        if ilvl not in levels:
            return None

        def start(i: int) -> int:
            return starts.get(i, to_int(val(levels[i].find(w("start"))), 1)) if i in levels else 1

        counts = self.counters.setdefault(key, [None] * 10)
        counts[ilvl] = start(ilvl) if counts[ilvl] is None else counts[ilvl] + 1
        for deeper in range(ilvl + 1, 10):
            lvl = levels.get(deeper)
            restart = val(lvl.find(w("lvlRestart"))) if lvl is not None else None
            after = to_int(restart, deeper)
            if after and ilvl < after:
                counts[deeper] = None
        lvl = levels[ilvl]
        fmt = val(lvl.find(w("numFmt")), "decimal") or "decimal"
        legal = on(lvl.find(w("isLgl")))

        def shown(m: re.Match) -> str:
            i = int(m.group(1)) - 1
            if not 0 <= i < len(counts):
                return ""
            n = counts[i] if counts[i] is not None else start(i)
            level_fmt = val(levels[i].find(w("numFmt")), "decimal") if i in levels else "decimal"
            return format_number(n, "decimal" if legal else level_fmt or "decimal")

        text = re.sub(r"%(\d)", shown, val(lvl.find(w("lvlText")), "") or "")
        return fmt, text, counts[ilvl]


def dialect_number(fmt: str, ilvl: int, shown: str, n: int) -> tuple[str, str]:
    """How the dialect writes a Word number: ("para" | "item", prefix)."""
    core = shown.strip()
    if fmt == "bullet":
        return "item", ""
    if fmt == "none" or not core:
        return "para", ""
    simple = re.fullmatch(r"[(\[]?\s*(\w+)\s*[.)\]]?", core) is not None
    if fmt in DECIMAL and ilvl == 0 and simple and n < 1000:
        return "para", f"{n}. "
    label = format_number(n, fmt)
    if fmt in LOWER and simple and re.fullmatch(r"[a-z]{1,2}|[ivx]{1,4}", label):
        return "para", f"({label}) "
    if fmt in DECIMAL and ilvl > 0:
        return "item", core + " "
    return "para", core + " "
