"""Read a Word (.docx) file into the Markdown dialect of :mod:`assistant.parsing`.

python-docx opens the package and finds its parts; the WordprocessingML is read
with lxml, because python-docx gives neither the footnotes and endnotes nor the
numbers Word displays for automatically numbered paragraphs (those are counted
in :mod:`assistant.formats.wordml`).

What comes out:

* headings from "Heading N"/"Title" styles or an outline level; a paragraph
  that is all bold, short and unpunctuated (the usual UN sub-heading) becomes
  a heading one level below the last real one;
* paragraph numbers, typed or automatic: automatic ones are computed from
  numbering.xml (counters, start values, overrides, restarts) and written the
  way the dialect wants: "12." for decimal numbers at the outer level, "(a)"
  for lower-case letters and roman numerals, "- " for bullets; other formats
  keep their displayed text ("A.", "1.1") in front of the paragraph;
* tables, one paragraph per row, cells joined with " | ";
* footnotes as ``[^1]``... numbered in order of first reference, defined just
  after the paragraph that cites them; endnotes as ``[^e1]``... (so they never
  collide with footnote numbers), defined at the end of the document where
  Word prints them;
* page markers, only when the file says where pages break: Word's
  ``lastRenderedPageBreak`` marks (written at every save) if there are any,
  otherwise hard page breaks and section breaks. A file with neither gets no
  page numbers rather than invented ones.

Right-to-left text is stored in logical order in DOCX, so nothing is reordered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from docx import Document as open_docx
from lxml import etree

from assistant.formats.dialect import DialectWriter, Note, Piece, guess_language
from assistant.formats.wordml import (
    R_ID,
    Numbering,
    Styles,
    dialect_number,
    is_true,
    links,
    on,
    to_int,
    val,
    w,
    xml_part,
)

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)
_WEB_URL = re.compile(r"(?:https?|ftp)://[^)\s]+")  # what the dialect turns into "text (url)"
_SKIP = {"del", "moveFrom", "delText", "instrText", "drawing", "pict", "object", "pPr", "rPr",
         "footnoteRef", "endnoteRef", "commentReference", "AlternateContent", "sdtPr"}


@dataclass
class _Text:
    pieces: list = field(default_factory=list)  # str | Note | ("break",)
    bold: list[bool] = field(default_factory=list)  # per piece, for run-in heads


class DocxReader:
    def __init__(self, document) -> None:
        part = document.part
        self.body = document.element.body
        self.styles = Styles(xml_part(part, "styles")[0])
        self.numbering = Numbering(xml_part(part, "numbering")[0], self.styles)
        self.notes: dict[str, dict[str, list]] = {}
        self.note_links: dict[str, dict[str, str]] = {}
        for kind in ("footnote", "endnote"):
            root, self.note_links[kind] = xml_part(part, kind + "s")
            self.notes[kind] = self._notes(root, kind)
        self.links = links(part)  # switched to the notes' own links while reading them
        self.labels: dict[tuple[str, str], str] = {}  # (kind, w:id) -> label, in citing order
        self.new_notes: list[str] = []  # footnotes first cited in the current block
        self.defined: set[str] = set()
        rendered = self.body.find(f".//{w('lastRenderedPageBreak')}") is not None
        hard = any(True for _ in self._hard_breaks())
        self.page_mode = "rendered" if rendered else "hard" if hard else ""
        self.page = 1
        self.out = DialectWriter()
        self.heading_level = 0

    def _hard_breaks(self):
        yield from self.body.iterfind(f".//{w('br')}[@{w('type')}='page']")
        yield from self.body.iterfind(f".//{w('pageBreakBefore')}")
        yield from self.body.iterfind(f".//{w('pPr')}/{w('sectPr')}")

    @staticmethod
    def _notes(root, kind: str) -> dict[str, list]:
        if root is None:
            return {}
        return {n.get(w("id")): n.findall(f".//{w('p')}") for n in root.findall(w(kind))
                if n.get(w("type"), "normal") == "normal"}

    # --- inline content -------------------------------------------------
    def _inline(self, el, out: _Text, style_bold: bool) -> None:
        for child in el:
            tag = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if tag in _SKIP or tag == "txbxContent":
                continue
            if tag == "r":
                self._run(child, out, style_bold)
            elif tag == "hyperlink" and child.get(R_ID) in self.links:
                link = _Text()
                self._inline(child, link, style_bold)
                url, label = self.links[child.get(R_ID)], "".join(
                    p for p in link.pieces if isinstance(p, str))
                if label.strip() and url not in label and _WEB_URL.fullmatch(url) \
                        and "[" not in label and "]" not in label:
                    out.pieces += ["[", *link.pieces, f"]({url})"]
                    out.bold += [False, *link.bold, False]
                else:
                    out.pieces += link.pieces
                    out.bold += link.bold
            else:  # ins, smartTag, sdt, fldSimple, bdo, dir, customXml, oMath (m:r, m:t)...
                self._inline(child, out, style_bold)

    def _run(self, run, out: _Text, style_bold: bool) -> None:
        rpr = run.find(w("rPr"))
        if rpr is not None and on(rpr.find(w("vanish"))):
            return
        bold = style_bold
        if rpr is not None:
            if (char_style := val(rpr.find(w("rStyle")))) is not None:
                char_bold = self.styles.bold(char_style)
                bold = char_bold if char_bold is not None else bold
            for tag in ("b", "bCs"):
                if (el := rpr.find(w(tag))) is not None:
                    bold = on(el)
        custom_mark = False
        for child in run:
            tag = etree.QName(child).localname if isinstance(child.tag, str) else ""
            piece: Piece | tuple | None = None
            if tag == "t" and not custom_mark:  # a custom mark ("*") replaces the number
                piece = child.text or ""
            elif tag in ("tab", "cr", "ptab") \
                    or tag == "br" and child.get(w("type")) in (None, "textWrapping"):
                piece = " "
            elif tag == "noBreakHyphen":
                piece = "-"
            elif tag == "br" and child.get(w("type")) == "page" and self.page_mode == "hard" \
                    or tag == "lastRenderedPageBreak" and self.page_mode == "rendered":
                piece = ("break",)
            elif tag in ("footnoteReference", "endnoteReference"):
                kind = tag[:-9]
                piece = self._note_marker(kind, child.get(w("id"), ""))
                custom_mark = is_true(child.get(w("customMarkFollows")))
            if piece is not None:
                out.pieces.append(piece)
                out.bold.append(bold)

    def _note_marker(self, kind: str, note_id: str) -> Note | None:
        if note_id not in self.notes[kind]:
            return None
        key = (kind, note_id)
        if key not in self.labels:
            count = sum(1 for k, _ in self.labels if k == kind) + 1
            self.labels[key] = str(count) if kind == "footnote" else f"e{count}"
            if kind == "footnote":
                self.new_notes.append(note_id)
        return Note(self.labels[key])

    def _note_pieces(self, kind: str, note_id: str) -> list[Piece]:
        text = _Text()
        body_links, self.links = self.links, self.note_links[kind]
        try:
            for p in self.notes[kind][note_id]:
                self._inline(p, text, False)
                text.pieces.append(" ")
        finally:
            self.links = body_links
        return [p for p in text.pieces if not isinstance(p, tuple | Note)]

    # --- blocks -------------------------------------------------------------
    def _paragraph_text(self, p) -> _Text:
        ppr = p.find(w("pPr"))
        sid = val(ppr.find(w("pStyle"))) if ppr is not None else None
        out = _Text()
        if self.page_mode == "hard" and ppr is not None and on(ppr.find(w("pageBreakBefore"))):
            out.pieces.append(("break",))
            out.bold.append(False)
        self._inline(p, out, bool(self.styles.bold(sid)))
        sect = ppr.find(w("sectPr")) if ppr is not None else None
        if self.page_mode == "hard" and sect is not None \
                and val(sect.find(w("type")), "nextPage") != "continuous":
            out.pieces.append(("break",))
            out.bold.append(False)
        return out

    def _split(self, text: _Text) -> tuple[int, list[Piece], list, list[bool]]:
        """Breaks before the first word; the block's pieces; what follows it."""
        lead, body, bold, tail = 0, [], [], []
        for piece, b in zip(text.pieces, text.bold, strict=True):
            if isinstance(piece, tuple):
                if any(isinstance(x, Note) or x.strip() for x in body):
                    tail.append(piece)
                else:
                    lead += 1
            elif piece is not None:
                body.append(piece)
                bold.append(b)
                if isinstance(piece, Note) and piece.label in self._new_labels():
                    tail.append(piece)
        return lead, body, tail, bold

    def _new_labels(self) -> set[str]:
        return {self.labels[("footnote", n)] for n in self.new_notes}

    def _page_break(self) -> None:
        self.page += 1
        self.out.page(self.page)

    def _after(self, tail: list) -> None:
        """Footnote definitions and page breaks in the order they came in the block."""
        ids = {self.labels[("footnote", n)]: n for n in self.new_notes}
        for item in tail:
            if isinstance(item, Note):
                if item.label not in self.defined:
                    self.defined.add(item.label)
                    self.out.footnote(item.label, self._note_pieces("footnote", ids[item.label]))
            else:
                self._page_break()
        self.new_notes = []

    def paragraph(self, p) -> None:
        ppr = p.find(w("pPr"))
        sid = val(ppr.find(w("pStyle"))) if ppr is not None else None
        lead, body, tail, bold = self._split(self._paragraph_text(p))
        for _ in range(lead):
            self._page_break()
        text = "".join(x for x in body if isinstance(x, str)).strip()
        prefix, kind, ilvl = "", "para", 0
        num_pr = ppr.find(w("numPr")) if ppr is not None else None
        style_num = self.styles.ppr(sid, "numPr")
        num_id = val(num_pr.find(w("numId"))) if num_pr is not None else None
        num_id = num_id or (val(style_num.find(w("numId"))) if style_num is not None else None)
        if num_id and num_id != "0":  # Word counts empty numbered paragraphs too
            lvl = val(num_pr.find(w("ilvl"))) if num_pr is not None else None
            lvl = lvl or (val(style_num.find(w("ilvl"))) if style_num is not None else None)
            ilvl = to_int(lvl, 0) if lvl else self.numbering.level_for_style(num_id, sid or "")
            counted = self.numbering.next(num_id, ilvl)
            if counted:
                kind, prefix = dialect_number(counted[0], ilvl, counted[1], counted[2])
        level = self._heading_level(ppr, sid)
        if not text:
            pass
        elif level:
            self.heading_level = level
            self.out.heading(level, [prefix, *body] if prefix else body)
        elif kind == "item":
            self.out.item(body, depth=ilvl, prefix=prefix)
        elif all(bold[i] for i, x in enumerate(body) if isinstance(x, str) and x.strip()) \
                and not prefix and len(text) < 100 and not text.endswith(tuple(".:;!?؟؛،,")):
            self.out.heading(self.heading_level + 1, body)
        else:
            rest, head = self._run_in(body, bold)
            self.out.paragraph(rest, prefix=prefix, run_in=head)
        self._after(tail)

    def _heading_level(self, ppr, sid: str | None) -> int:
        outline = ppr.find(w("outlineLvl")) if ppr is not None else None
        for style in [None, *self.styles.chain(sid)]:
            if style is not None:
                name = self.styles.name(style)
                if m := _HEADING_STYLE.match(name):
                    return min(6, int(m.group(1)))
                if name == "title":
                    return 1
                outline = style.find(f"{w('pPr')}/{w('outlineLvl')}")
            if outline is not None and (val(outline) or "9").isdigit() and int(val(outline)) < 9:
                return min(6, int(val(outline)) + 1)
        return 0

    @staticmethod
    def _run_in(body: list[Piece], bold: list[bool]) -> tuple[list[Piece], str]:
        """A bold head ending in a colon at the start of a paragraph: "**Head:** text"."""
        head, i = "", 0
        while i < len(body) and isinstance(body[i], str) and bold[i]:
            head += body[i]
            i += 1
        rest = body[i:]
        first = next((x for x in rest if isinstance(x, str) and x.strip()), "")
        has_colon = head.rstrip().endswith((":", "：")) or first.lstrip().startswith(":")
        if not head.strip() or not has_colon or not first or len(head.strip()) > 80:
            return body, ""
        if not head.rstrip().endswith((":", "：")):
            index = rest.index(first)
            rest = [*rest[:index], first.lstrip()[1:], *rest[index + 1:]]
        return rest, head.strip()

    def table(self, tbl) -> None:
        for row in tbl.iterfind(w("tr")):
            text, has_words = _Text(), False
            for cell in row.iterfind(w("tc")):
                cell_text = _Text()
                for p in cell.iter(w("p")):  # nested tables are flattened into the cell
                    self._inline(p, cell_text, False)
                    cell_text.pieces.append(" ")
                    cell_text.bold.append(False)
                words = any(isinstance(x, Note) or isinstance(x, str) and x.strip()
                            for x in cell_text.pieces)
                if words and has_words:  # empty (merged) cells are left out
                    text.pieces.append(" | ")
                    text.bold.append(False)
                has_words = has_words or words
                text.pieces += cell_text.pieces
                text.bold += cell_text.bold
            lead, body, tail, _ = self._split(text)
            for _ in range(lead):
                self._page_break()
            self.out.paragraph(body, numbers_are_text=True)
            self._after(tail)

    def blocks(self, container) -> None:
        for child in container:
            tag = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if tag == "p":
                self.paragraph(child)
            elif tag == "tbl":
                self.table(child)
            elif tag in ("sdt", "sdtContent", "customXml", "ins"):
                self.blocks(child)

    def read(self) -> None:
        if self.page_mode:
            self.out.page(1)
        self.blocks(self.body)
        for (kind, note_id), label in list(self.labels.items()):
            if kind == "endnote":
                self.out.footnote(label, self._note_pieces("endnote", note_id))


def read_docx(path: Path) -> str:
    from assistant.corpus import CorpusError  # here: corpus imports this module

    try:
        document = open_docx(str(path))
        reader = DocxReader(document)
        reader.read()
        core = document.core_properties
    except Exception as exc:  # zipfile, lxml and python-docx raise unrelated types
        raise CorpusError(path, f"not a readable DOCX file ({type(exc).__name__}: {exc})") from exc
    body = reader.out.text()
    language = (core.language or "").split("-")[0].lower()
    language = language if language in ("ar", "en") else guess_language(body)
    reader.out.front_matter(
        doc_id=core.identifier or None,
        **{"title_ar" if language == "ar" else "title_en": core.title},
        language=language,
        date=core.created.date().isoformat() if core.created else None,
    )
    return reader.out.text()
