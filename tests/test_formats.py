"""DOCX and PDF ingestion: fixtures are written here, then read back through the corpus.

The DOCX files are made with python-docx plus footnotes/endnotes parts written by
hand (python-docx cannot); the PDFs with reportlab, laid out line by line as a
word processor would: running header and footer, superscript markers, footnotes
in a smaller font at the page bottom, and a paragraph that crosses a page break.
The Arabic PDF holds presentation forms in visual order (arabic-reshaper +
python-bidi), as real Arabic PDFs do.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
import pytest

from assistant.chunking import document_passages
from assistant.corpus import READERS, load_document

REPO = Path(__file__).resolve().parent.parent
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"  # DejaVu, with Arabic glyphs
W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
R_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
PRESENTATION_FORMS = re.compile(r"[\uFB50-\uFDFF\uFE70-\uFEFF]")

# --- the texts, shared by the four fixtures --------------------------------------

EN = {
    "title": "Labour mobility partnerships",
    "recalling": "Recalling the commitments made at the previous session of the Assembly,",
    "p1": "Welcomes the entry into force of the regional framework on skills recognition "
          "in March 2024",
    "p2": "Encourages Member States to conclude bilateral labour agreements that guarantee "
          "fair recruitment, including:",
    "a": "the prohibition of recruitment fees charged to workers",
    "b": "written contracts in a language the worker understands;",
    "p3_head": "Remittances:",
    "p3": "Calls for the cost of sending remittances to fall below three per cent by 2030, "
          "as set out in target 10.c of the Sustainable Development Goals",
    "p3_more": ", and notes that the average cost in the",
    "p3_end": "corridor studied remained at six per cent in 2023;",
    "p4": "Decides to review progress on seasonal worker schemes at its next session",
    "fn1": "The framework was adopted in Lisbon on 12 May 2023 by twelve states.",
    "fn2": "As defined by the General Principles for Fair Recruitment.",
    "fn3": "Target 10.c of the 2030 Agenda for Sustainable Development.",
    "fn4": "Seasonal schemes were reviewed in 2022 by the Committee.",
    # The PDF's last paragraph differs, so that each fixture answers a question of its own.
    "p4_pdf": "Requests a report on the portability of pension rights for returning migrants",
    "fn4_pdf": "Pension portability was last examined by the Statistical Commission in 2019.",
    "items": ["Annex item one, a list entry about skills passports.",
              "Annex item two, about portable social security."],
}
AR = {
    "title": "الشراكات في مجال تنقل اليد العاملة",
    "p1": "ترحب بدخول الإطار الإقليمي للاعتراف بالمهارات حيز النفاذ في عام 2024",
    "p2": "تشجع الدول الأعضاء على إبرام اتفاقات عمل ثنائية تكفل التوظيف العادل ولا تفرض "
          "رسوم توظيف على العمال",
    "p2_end": "وتدعو إلى حماية الأجور في جميع مراحل الهجرة.",
    "p3": "تقرر أن تستعرض التقدم المحرز في برامج العمال الموسميين في دورتها المقبلة",
    "fn1": "اعتمد الإطار في الرباط في عام 2023 باتفاق اثنتي عشرة دولة.",
    "fn2": "وفقا للمبادئ العامة للتوظيف العادل.",
    "fn3": "استعرضت اللجنة البرامج الموسمية في عام 2022.",
    "p3_pdf": "تطلب تقريرا عن نقل حقوق المعاشات التقاعدية للمهاجرين العائدين",
    "fn3_pdf": "درست لجنة الإحصاء نقل المعاشات في عام 2019.",
    "items": ["بند أول عن جوازات المهارات.", "بند ثان عن الضمان الاجتماعي."],
}


def no_presentation_forms(text: str) -> bool:
    return not PRESENTATION_FORMS.search(text)


# --- DOCX fixtures ---------------------------------------------------------------------

def _notes_part(doc, kind: str, notes: dict[int, str]) -> None:
    """Add word/footnotes.xml (or endnotes.xml) with its relationship and content type."""
    from docx.opc.constants import CONTENT_TYPE as CT
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    content_type_for = {"footnote": CT.WML_FOOTNOTES, "endnote": CT.WML_ENDNOTES}

    cap = kind.capitalize()
    part = Part(PackURI(f"/word/{kind}s.xml"), content_type_for[kind], b"", doc.part.package)
    xml = [f"<w:{kind}s {W_NS} {R_NS}>",
           f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
           f"</w:{kind}>",
           f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r>'
           f"<w:continuationSeparator/></w:r></w:p></w:{kind}>"]
    for note_id, text in notes.items():
        xml.append(
            f'<w:{kind} w:id="{note_id}"><w:p><w:pPr><w:pStyle w:val="{cap}Text"/></w:pPr>'
            f'<w:r><w:rPr><w:rStyle w:val="{cap}Reference"/></w:rPr><w:{kind}Ref/></w:r>'
            f"{_runs(part, ' ' + text)}</w:p></w:{kind}>")
    xml.append(f"</w:{kind}s>")
    part._blob = "".join(xml).encode("utf-8")
    doc.part.relate_to(part, RT.FOOTNOTES if kind == "footnote" else RT.ENDNOTES)


def _runs(part, text: str) -> str:
    """Runs for `text`, where {label|url} is a hyperlink (related from `part`, as Word does)."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    out = []
    for i, piece in enumerate(re.split(r"\{([^}]*)\}", text)):
        if i % 2:
            label, url = piece.split("|")
            rid = part.relate_to(url, RT.HYPERLINK, is_external=True)
            out.append(f'<w:hyperlink r:id="{rid}"><w:r><w:t xml:space="preserve">'
                       f"{escape(label)}</w:t></w:r></w:hyperlink>")
        elif piece:
            out.append(f'<w:r><w:t xml:space="preserve">{escape(piece)}</w:t></w:r>')
    return "".join(out)


def _auto_numbering(doc) -> str:
    """A numbering definition like UN resolutions use: 1. 2. 3. with (a) (b) below."""
    from docx.oxml import parse_xml

    numbering = doc.part.numbering_part.element
    abstract = parse_xml(
        f'<w:abstractNum {W_NS} w:abstractNumId="90"><w:multiLevelType w:val="hybridMultilevel"/>'
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/>'
        '<w:lvlText w:val="%1."/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/>'
        '<w:lvlText w:val="(%2)"/></w:lvl></w:abstractNum>')
    first_num = numbering.find(f"{{{numbering.nsmap['w']}}}num")
    first_num.addprevious(abstract) if first_num is not None else numbering.append(abstract)
    numbering.append(parse_xml(f'<w:num {W_NS} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
    return "90"


def _paragraph(doc, parts, style=None, num=None, bidi=False):
    """parts: str, ("b", str) bold, ("fn", id), ("en", id), ("rendered-break",)."""
    from docx.oxml import OxmlElement, parse_xml
    from docx.oxml.ns import qn

    p = doc.add_paragraph(style=style)
    ppr = p._p.get_or_add_pPr()
    if num:
        ppr.append(parse_xml(f'<w:numPr {W_NS}><w:ilvl w:val="{num[1]}"/>'
                             f'<w:numId w:val="{num[0]}"/></w:numPr>'))
    if bidi:
        ppr.append(OxmlElement("w:bidi"))
    for part in parts:
        if isinstance(part, str):
            run = p.add_run(part)
        elif part[0] == "b":
            run = p.add_run(part[1])
            run.bold = True
        elif part[0] in ("fn", "en"):
            kind = "footnote" if part[0] == "fn" else "endnote"
            run = p.add_run()
            run.style = doc.styles["Default Paragraph Font"]
            ref = OxmlElement(f"w:{kind}Reference")
            ref.set(qn("w:id"), str(part[1]))
            run._r.append(ref)
        elif part[0] == "rendered-break":  # what Word writes where a page ended
            run = p.add_run()
            run._r.append(OxmlElement("w:lastRenderedPageBreak"))
            continue
        if bidi:
            run._r.get_or_add_rPr().append(OxmlElement("w:rtl"))
    return p


def _table(doc, rows):
    table = doc.add_table(rows=0, cols=len(rows[0]))
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text
    return table


def make_docx_en(path: Path) -> Path:
    import docx
    from docx.oxml import parse_xml

    doc = docx.Document()
    doc.core_properties.title = "Test resolution on labour mobility partnerships"
    num = _auto_numbering(doc)
    doc.add_heading(EN["title"], level=1)
    doc.add_heading("Preamble", level=2)
    _paragraph(doc, [EN["recalling"]])
    doc.add_heading("Operative part", level=2)
    _paragraph(doc, [EN["p1"], ("fn", 1), ";"], num=(num, 0))
    _paragraph(doc, [EN["p2"]], num=(num, 0))
    _paragraph(doc, [EN["a"], ("fn", 2), ";"], num=(num, 1))
    _paragraph(doc, [EN["b"]], num=(num, 1))
    # Paragraph 3 starts on page 1 and ends on page 2; footnote 3 is cited on page 1.
    _paragraph(doc, [("b", EN["p3_head"]), " " + EN["p3"], ("fn", 3), EN["p3_more"] + " ",
                     ("rendered-break",), EN["p3_end"]], num=(num, 0))
    _paragraph(doc, [EN["p4"], ("en", 1), "."], num=(num, 0))
    for item in EN["items"]:
        doc.add_paragraph(item, style="List Bullet")
    _table(doc, [["Corridor", "Average cost"], ["Gulf to South Asia", "4.1 per cent"]])
    _paragraph(doc, ["# of applications is a count, not a heading; [^9] is not a note."])
    link = parse_xml(f"<w:p {W_NS} {R_NS}>"
                     + _runs(doc.part, "The {framework text|https://example.org/framework} is "
                                       "online.") + "</w:p>")
    doc.add_paragraph()._p.extend(list(link))
    # Footnote 2 links its source: the footnotes part has relationships of its own.
    fn2 = EN["fn2"].replace("General Principles", "{General Principles|https://example.org/fair}")
    _notes_part(doc, "footnote", {1: EN["fn1"], 2: fn2, 3: EN["fn3"]})
    _notes_part(doc, "endnote", {1: EN["fn4"]})
    doc.save(path)
    return path


def make_docx_ar(path: Path) -> Path:
    import docx
    from docx.oxml import OxmlElement

    doc = docx.Document()
    doc.core_properties.title = AR["title"]
    heading = doc.add_heading(AR["title"], level=1)
    heading._p.get_or_add_pPr().append(OxmlElement("w:bidi"))
    _paragraph(doc, ["1. " + AR["p1"], ("fn", 1), "؛"], bidi=True)
    _paragraph(doc, ["2. " + AR["p2"], ("fn", 2), " " + AR["p2_end"]], bidi=True)
    doc.add_page_break()
    _paragraph(doc, ["3. " + AR["p3"], ("fn", 3), "."], bidi=True)
    for item in AR["items"]:
        _paragraph(doc, [item], style="List Bullet", bidi=True)
    _table(doc, [["الممر", "متوسط التكلفة"], ["الخليج إلى جنوب آسيا", "4.1 في المائة"]])
    _notes_part(doc, "footnote", {1: AR["fn1"], 2: AR["fn2"], 3: AR["fn3"]})
    doc.save(path)
    return path


# --- PDF fixtures --------------------------------------------------------------------------

class PdfMaker:
    """A tiny word processor on a reportlab canvas: wraps words, raises footnote
    markers, puts the footnotes of each page at its bottom in a smaller font, and
    draws a running header and a page-number footer on every page."""

    WIDTH, HEIGHT = 595, 842
    LEFT, RIGHT, TOP, BOTTOM = 72, 523, 90, 760
    BODY, NOTE, MARK = 11, 8, 6.5

    def __init__(self, path: Path, rtl: bool, header: str):
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont
        from reportlab.pdfgen import canvas

        pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(FONT_DIR / "DejaVuSans-Bold.ttf")))
        self.metrics = pdfmetrics
        self.c = canvas.Canvas(str(path), pagesize=(self.WIDTH, self.HEIGHT))
        self.rtl, self.header = rtl, header
        self.page, self.y, self.notes = 1, self.TOP, []
        self.c.setTitle(header)

    # text helpers: a word is a list of (text, is_marker) parts in logical order
    def _visual(self, text: str) -> str:
        if not self.rtl:
            return text
        import arabic_reshaper
        from bidi import get_display

        return get_display(arabic_reshaper.reshape(text), base_dir="R")

    def _width(self, text: str, size: float, font="DejaVuSans") -> float:
        return self.metrics.stringWidth(self._visual(text), font, size)

    @staticmethod
    def _parts(word: str) -> list[tuple[str, bool]]:
        return [(p[2:-1], True) if p.startswith("[^") else (p, False)
                for p in re.split(r"(\[\^\d+\])", word) if p]

    def _word_width(self, word, size, font):
        return sum(self._width(t, self.MARK if mark else size, font) for t, mark in
                   self._parts(word))

    def _draw_line(self, words: list[str], size: float, font: str, indent: float = 0) -> None:
        y = self.HEIGHT - self.y
        space = self._width(" ", size, font)
        if self.rtl and not any("[^" in w for w in words):
            # Whole line at once, in visual order: the way most producers write Arabic.
            self.c.setFont(font, size)
            self.c.drawRightString(self.RIGHT - indent, y, self._visual(" ".join(words)))
        else:
            x = self.RIGHT - indent if self.rtl else self.LEFT + indent
            for word in words:
                for text, mark in self._parts(word):
                    fsize, rise = (self.MARK, 3.5) if mark else (size, 0)
                    width = self._width(text, fsize, font)
                    if self.rtl:
                        x -= width
                    self.c.setFont(font, fsize)
                    self.c.drawString(x, y + rise, self._visual(text))
                    if not self.rtl:
                        x += width
                    if mark:
                        self.notes.append(text)
                x += -space if self.rtl else space
        self.y += size * 1.3

    def _wrap(self, words: list[str], size: float, font: str) -> list[list[str]]:
        lines: list[list[str]] = [[]]
        space = self._width(" ", size, font)
        for word in words:
            candidate = [*lines[-1], word]
            width = sum(self._word_width(w, size, font) for w in candidate)
            if lines[-1] and width + space * len(lines[-1]) > self.RIGHT - self.LEFT:
                lines.append([word])
            else:
                lines[-1] = candidate
        return [line for line in lines if line]

    def paragraph(self, text: str, size=BODY, font="DejaVuSans", after=8.0) -> None:
        """Wrap and draw; a form feed in the text ends the page after the current line."""
        for chunk_no, chunk in enumerate(text.split("\f")):
            if chunk_no:
                self.new_page()
            for line in self._wrap(chunk.split(), size, font):
                self._draw_line(line, size, font)
        self.y += after

    def _furniture(self, footnotes: dict[str, str]) -> None:
        c = self.c
        c.setFont("DejaVuSans", 9)
        c.drawString(self.LEFT, self.HEIGHT - 50, self.header)  # running header
        c.drawCentredString(self.WIDTH / 2, 40, f"- {self.page} -")  # footer: page number
        mark = "{}" if self.rtl else "[^{}]"  # plain numbers in Arabic, raised in English
        notes = [self._wrap([mark.format(n), *footnotes[n].split()], self.NOTE, "DejaVuSans")
                 for n in self.notes if n in footnotes]
        if not notes:
            return
        self.y = self.BOTTOM - self.NOTE * 1.3 * sum(len(lines) for lines in notes)
        c.line(self.LEFT, self.HEIGHT - self.y + 12, self.LEFT + 150, self.HEIGHT - self.y + 12)
        for lines in notes:
            for line in lines:
                self._draw_line(line, self.NOTE, "DejaVuSans")

    def new_page(self) -> None:
        self._furniture(self.footnotes)
        self.c.showPage()
        self.page, self.y, self.notes = self.page + 1, self.TOP, []

    def save(self) -> None:
        self._furniture(self.footnotes)
        self.c.save()


def make_pdf_en(path: Path) -> Path:
    pdf = PdfMaker(path, rtl=False, header="A/RES/99/1 Labour mobility partnerships")
    pdf.footnotes = {"1": EN["fn1"], "2": EN["fn2"], "3": EN["fn3"], "4": EN["fn4_pdf"]}
    pdf.paragraph(EN["title"], size=15, font="DejaVuSans-Bold")
    pdf.paragraph(EN["recalling"])
    pdf.paragraph(f"1. {EN['p1']}[^1];")
    pdf.paragraph(f"2. {EN['p2']}")
    pdf.paragraph(f"(a) {EN['a']}[^2];")
    pdf.paragraph(f"(b) {EN['b']}")
    pdf.paragraph(f"3. {EN['p3']}[^3]{EN['p3_more']}\f{EN['p3_end']}")
    pdf.paragraph(f"4. {EN['p4_pdf']}[^4].")
    for item in EN["items"]:
        pdf.paragraph(f"• {item}")
    pdf.save()
    return path


def make_pdf_ar(path: Path) -> Path:
    pdf = PdfMaker(path, rtl=True, header="A/RES/99/1")
    pdf.footnotes = {"1": AR["fn1"], "2": AR["fn2"], "3": AR["fn3_pdf"]}
    pdf.paragraph(AR["title"], size=15, font="DejaVuSans-Bold")
    pdf.paragraph(f"1. {AR['p1']}[^1]؛")
    pdf.paragraph(f"2. {AR['p2']}[^2]\f{AR['p2_end']}")
    pdf.paragraph(f"3. {AR['p3_pdf']}[^3].")
    for item in AR["items"]:
        pdf.paragraph(f"• {item}")
    pdf.save()
    return path


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    return {
        "docx_en": make_docx_en(folder / "mobility-docx.en.docx"),
        "docx_ar": make_docx_ar(folder / "mobility-docx.ar.docx"),
        "pdf_en": make_pdf_en(folder / "mobility-pdf.en.pdf"),
        "pdf_ar": make_pdf_ar(folder / "mobility-pdf.ar.pdf"),
    }


# --- tests -------------------------------------------------------------------------------------

def test_readers_are_registered():
    assert {".docx", ".pdf"} <= set(READERS)


def test_docx_english(fixtures):
    doc = load_document(fixtures["docx_en"])
    assert doc.meta.language == "en"
    assert doc.meta.title_en == "Test resolution on labour mobility partnerships"
    by = {p.number: p for p in doc.paragraphs}
    assert {"1", "2", "2(a)", "2(b)", "3", "4"} <= set(by)
    assert by["1"].text == EN["p1"] + ";" and by["1"].footnotes == ["1"]
    assert by["2(a)"].text == EN["a"] + ";" and by["2(a)"].footnotes == ["2"]
    # The bold run-in head opens a section; the page break inside paragraph 3 does not cut it.
    assert by["3"].section[-1] == "Remittances"
    assert by["3"].text.endswith(EN["p3_end"]) and by["3"].footnotes == ["3"]
    assert by["3"].page == 1 and by["4"].page == 2
    assert by["4"].footnotes == ["e1"] and doc.footnotes["e1"].text == EN["fn4"]
    assert doc.footnotes["1"].cited_by == ["1"] and doc.footnotes["1"].text == EN["fn1"]
    assert doc.footnotes["2"].text == \
        "As defined by the General Principles (https://example.org/fair) for Fair Recruitment."
    assert any(p.text == "The framework text (https://example.org/framework) is online."
               for p in doc.paragraphs)
    assert doc.footnotes["3"].cited_by == ["3"] and doc.footnotes["3"].page == 1
    assert by["1"].section[-2:] == [EN["title"], "Operative part"]
    items = [p for p in doc.paragraphs if p.kind == "list_item"]
    assert [p.text for p in items] == EN["items"]
    assert any(p.text == "Gulf to South Asia | 4.1 per cent" for p in doc.paragraphs)
    preamble = next(p for p in doc.paragraphs if p.text.startswith("Recalling"))
    assert preamble.number == "0.1" and preamble.section[-1] == "Preamble"
    # Text that looks like syntax stays text.
    escaped = next(p for p in doc.paragraphs if "of applications" in p.text)
    assert escaped.kind == "paragraph" and "is not a note" in escaped.text
    assert not doc.warnings


def test_docx_arabic(fixtures):
    doc = load_document(fixtures["docx_ar"])
    assert doc.meta.language == "ar" and doc.meta.title_ar == AR["title"]
    by = {p.number: p for p in doc.paragraphs}
    assert {"1", "2", "3"} <= set(by)
    assert by["1"].text == AR["p1"] + "؛" and by["1"].footnotes == ["1"]
    assert by["2"].text == f"{AR['p2']} {AR['p2_end']}"
    assert by["2"].page == 1 and by["3"].page == 2
    assert doc.footnotes["3"].text == AR["fn3"] and doc.footnotes["3"].cited_by == ["3"]
    assert doc.footnotes["3"].page == 2
    assert [p.text for p in doc.paragraphs if p.kind == "list_item"] == AR["items"]
    assert any(p.text == "الخليج إلى جنوب آسيا | 4.1 في المائة" for p in doc.paragraphs)
    assert doc.paragraphs[0].section == [AR["title"]]
    assert not doc.warnings


def test_pdf_english(fixtures):
    doc = load_document(fixtures["pdf_en"])
    assert doc.meta.language == "en"
    by = {p.number: p for p in doc.paragraphs}
    assert {"1", "2", "2(a)", "2(b)", "3", "4"} <= set(by)
    assert by["1"].text == EN["p1"] + ";" and by["1"].footnotes == ["1"]
    assert by["2"].text == EN["p2"]
    assert by["2(a)"].footnotes == ["2"]
    # Paragraph 3 crosses the page break, past footnote 3 and the running header/footer.
    assert by["3"].text == f"{EN['p3']}{EN['p3_more']} {EN['p3_end']}"
    assert by["3"].page == 1 and by["3"].footnotes == ["3"]
    assert by["4"].page == 2 and by["4"].footnotes == ["4"]
    assert doc.footnotes["4"].text == EN["fn4_pdf"]
    for number, page in (("1", 1), ("2", 1), ("3", 1), ("4", 2)):
        assert doc.footnotes[number].text == EN[f"fn{number}"] or number == "4"
        assert doc.footnotes[number].page == page
    assert doc.footnotes["3"].cited_by == ["3"]
    assert [p.text for p in doc.paragraphs if p.kind == "list_item"] == EN["items"]
    assert doc.paragraphs[0].section == [EN["title"]]
    everything = " ".join(p.text for p in doc.paragraphs)
    assert "A/RES/99/1" not in everything and "- 1 -" not in everything
    assert not doc.warnings


def test_pdf_arabic(fixtures):
    doc = load_document(fixtures["pdf_ar"])
    assert doc.meta.language == "ar"
    assert all(no_presentation_forms(p.text) for p in doc.paragraphs)
    by = {p.number: p for p in doc.paragraphs}
    assert {"1", "2", "3"} <= set(by)
    # Logical order, base letters, lam-alef resolved: the exact sentences written.
    assert by["1"].text == AR["p1"] + "؛"
    assert by["1"].footnotes == ["1"]
    assert by["2"].text == f"{AR['p2']} {AR['p2_end']}"
    assert by["2"].page == 1 and by["2"].footnotes == ["2"]
    assert by["3"].page == 2 and by["3"].text == AR["p3_pdf"] + "."
    for number, page in (("1", 1), ("2", 1), ("3", 2)):
        note = doc.footnotes[number]
        assert note.text == AR[f"fn{number}" + ("_pdf" if number == "3" else "")]
        assert note.page == page
        assert note.cited_by == [number] and no_presentation_forms(note.text)
    assert [p.text for p in doc.paragraphs if p.kind == "list_item"] == AR["items"]
    assert doc.paragraphs[0].section == [AR["title"]]
    assert not any("A/RES/99/1" in p.text for p in doc.paragraphs)
    assert not doc.warnings


@pytest.mark.parametrize("name", ["docx_en", "docx_ar", "pdf_en", "pdf_ar"])
def test_passage_labels(fixtures, name):
    doc = load_document(fixtures[name])
    labels = {p.label() for p in document_passages(doc)}
    assert "paragraph 2, page 1" in labels
    assert "page 1, footnote 1" in labels
    assert all(no_presentation_forms(passage.text) for passage in document_passages(doc))


def test_unreadable_files_are_reported(tmp_path):
    from assistant.corpus import CorpusError

    for suffix in (".docx", ".pdf"):
        bad = tmp_path / f"broken{suffix}"
        bad.write_bytes(b"this is not what the suffix says")
        with pytest.raises(CorpusError, match="not a readable"):
            load_document(bad)



# --- the pieces on their own ---------------------------------------------------------------

def test_word_numbering_counts_like_word():
    from lxml import etree

    from assistant.formats.wordml import Numbering, Styles, dialect_number

    def lvl(i, fmt, text, extra=""):
        return (f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/>'
                f'<w:lvlText w:val="{text}"/>{extra}</w:lvl>')

    root = etree.fromstring(
        f"<w:numbering {W_NS}>"
        '<w:abstractNum w:abstractNumId="1">' + lvl(0, "decimal", "%1.")
        + lvl(1, "lowerLetter", "(%2)") + lvl(2, "lowerRoman", "(%3)") + "</w:abstractNum>"
        '<w:abstractNum w:abstractNumId="2">' + lvl(0, "upperRoman", "%1.")
        + lvl(1, "decimal", "%1.%2", '<w:lvlRestart w:val="0"/>') + "</w:abstractNum>"
        '<w:abstractNum w:abstractNumId="3">' + lvl(0, "bullet", "•") + "</w:abstractNum>"
        '<w:num w:numId="1"><w:abstractNumId w:val="1"/></w:num>'
        '<w:num w:numId="2"><w:abstractNumId w:val="1"/></w:num>'
        '<w:num w:numId="3"><w:abstractNumId w:val="1"/>'
        '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="10"/></w:lvlOverride></w:num>'
        '<w:num w:numId="4"><w:abstractNumId w:val="2"/></w:num>'
        '<w:num w:numId="5"><w:abstractNumId w:val="3"/></w:num>'
        "</w:numbering>")
    numbering = Numbering(root, Styles(None))
    steps = [("1", 0, "1."), ("1", 1, "(a)"), ("1", 1, "(b)"), ("1", 2, "(i)"),
             ("2", 0, "2."),  # another instance of the same list continues it
             ("1", 1, "(a)"),  # a new paragraph number restarts its letters
             ("3", 0, "10."), ("3", 0, "11."),  # a start override restarts
             ("4", 0, "I."), ("4", 1, "I.1"), ("4", 0, "II."), ("4", 1, "II.2")]
    for num_id, ilvl, shown in steps:
        assert numbering.next(num_id, ilvl)[1] == shown
    assert dialect_number("decimal", 0, "12.", 12) == ("para", "12. ")
    assert dialect_number("lowerLetter", 1, "(c)", 3) == ("para", "(c) ")
    assert dialect_number("lowerRoman", 2, "(iv)", 4) == ("para", "(iv) ")
    assert dialect_number("upperLetter", 0, "B.", 2) == ("para", "B. ")
    assert dialect_number("decimal", 1, "2.3", 3) == ("item", "2.3 ")
    assert dialect_number("bullet", 0, "•", 1) == ("item", "")
    assert numbering.next("5", 0)[0] == "bullet"
    assert numbering.next("99", 0) is None


def test_writer_escapes_syntax_and_never_glues_paragraphs():
    from assistant.domain import DocumentMeta
    from assistant.formats.dialect import JOINER, DialectWriter, Note
    from assistant.parsing import parse_document

    out = DialectWriter()
    out.page(1)
    tricky = ["# not a heading", "- not an item", "[^3]: not a footnote",
              "<!-- page: 9 --> is text", "[^4] and <sup>5</sup> are not markers",
              "a **starred** word, a __bold__ pair and window.__name__ stay as typed"]
    for text in tricky:
        out.paragraph([text + "."])
    out.paragraph(["Country | Average cost"])  # a table row: no full stop
    out.page(2)
    out.footnote("1", ["A note."])
    out.paragraph(["A paragraph of its own", Note("1"), "."])
    doc = parse_document(out.text(), DocumentMeta(doc_id="t"))
    texts = [p.text.replace(JOINER, "") for p in doc.paragraphs]
    assert texts == [t + "." for t in tricky] + ["Country | Average cost",
                                                 "A paragraph of its own."]
    assert not doc.headings and list(doc.footnotes) == ["1"]
    assert all(p.kind == "paragraph" and p.page == 1 for p in doc.paragraphs)
    assert doc.footnotes["1"].cited_by == [doc.paragraphs[-1].number]


def test_docx_without_page_information_has_no_page_numbers(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("One paragraph.")
    document.add_paragraph("Another paragraph.")
    document.save(tmp_path / "plain.docx")
    doc = load_document(tmp_path / "plain.docx")
    assert [p.page for p in doc.paragraphs] == [None, None]


@pytest.mark.parametrize("sentence", [
    "في عام 2024، اعتمدت الدول الوثيقة A/RES/73/195 بنسبة 50% من الأصوات.",
    "إطار سياسة الهجرة لأفريقيا (2018 - 2030) والعملية الاستشارية (ARCP) لا تزال قائمة.",
    "12. تشجع الدول على خفض تكاليف التحويلات إلى أقل من 3 في المائة؛",
    "اجتماع عام 2023 ضم ممثلين من 28 دولة، منها 5+5 دول متوسطية.",
    "اعتمدت الجمعية العامة القرار A/RES/73/195 المؤرخ 19 كانون الأول/ديسمبر 2018.",
    "انظر https://www.iom.int/x (تم الاطلاع في 2023).",
    "أثرت جائحة COVID-19 على 281 مليون مهاجر في عام 2020.",
    "بنسبة 3.5 في المائة (مقابل 4.1 في المائة في 2022)",
    "(أ) حظر رسوم التوظيف؛",
    "وَيُقِرُّ الاتِّفَاقُ بِالْمَسْؤُولِيَّاتِ الْمُشْتَرَكَةِ لِلدُّوَلِ.",  # harakat on their letters
])
def test_visual_arabic_comes_back_in_logical_order(sentence):
    import arabic_reshaper
    from bidi import get_display

    from assistant.formats.pdf_lines import Glyph, _attach_marks, base_letters, logical

    shaper = arabic_reshaper.ArabicReshaper(configuration={"delete_harakat": False})
    visual = get_display(shaper.reshape(sentence), base_dir="R")
    # Letters left to right as on the page; a haraka drawn over the letter it belongs
    # to (python-bidi leaves it just before that letter in visual order).
    glyphs, x, marks = [], 0.0, []
    for ch in visual:
        if unicodedata.category(ch) == "Mn":
            marks.append(ch)
            continue
        glyphs.append(Glyph(ch, x, x + 4.5, 0, 10, 10, False))
        glyphs += [Glyph(m, x + 1.5, x + 3.5, 0, 10, 10, False) for m in marks]
        x, marks = x + 5.0, []
    glyphs.sort(key=lambda g: g.x0)
    text = base_letters("".join(g.text for g in logical(_attach_marks(glyphs), rtl=True)))
    assert text == unicodedata.normalize("NFC", sentence)


@pytest.mark.parametrize("sentence", [
    "The Arabic title is الهجرة الدولية and it was adopted in 2024.",
    "See the note (الفقرة 12) of the report.",
    "Paragraph 12 (a) of resolution 73/195, adopted on 19 December 2018, 50% of 1,000.",
])
def test_arabic_inside_english_lines(sentence):
    import arabic_reshaper
    from bidi import get_display

    from assistant.formats.pdf_lines import Glyph, base_letters, logical

    visual = get_display(arabic_reshaper.reshape(sentence), base_dir="L")
    glyphs = [Glyph(ch, 5.0 * i, 5.0 * i + 4.5, 0, 10, 10, False) for i, ch in enumerate(visual)]
    assert base_letters("".join(g.text for g in logical(glyphs, rtl=False))) == sentence


# --- the seed document, through DOCX and PDF and back ------------------------------------

SEED = REPO / "corpus" / "gcm-arab-review-2-session-5-background-note.ar.md"
HARAKAT = re.compile(r"[\u064B-\u0652\u0670]")


def _with_markers(paragraph) -> list[str]:
    """The paragraph's words with its footnote markers after its first words, in order."""
    words = paragraph.text.split()
    for k, number in enumerate(paragraph.footnotes):
        words[k] += f"[^{number}]"
    return words


def test_seed_document_survives_docx(tmp_path):
    import docx

    seed = load_document(SEED)
    document = docx.Document()
    section = None
    for paragraph in seed.paragraphs:
        if paragraph.section[-1] != section:
            section = paragraph.section[-1]
            document.add_heading(section, level=2)
        parts: list = []
        for word in _with_markers(paragraph):
            text, _, note = word.partition("[^")
            parts += [text + " "] + ([("fn", int(note[:-1]))] if note else [])
        style = "List Bullet" if paragraph.kind == "list_item" else None
        _paragraph(document, parts, style=style, bidi=True)
    _notes_part(document, "footnote", {int(n): f.text for n, f in seed.footnotes.items()})
    document.save(tmp_path / "seed.docx")
    doc = load_document(tmp_path / "seed.docx")
    assert [(p.text, p.footnotes, p.kind, p.section[-1]) for p in doc.paragraphs] == \
        [(p.text, p.footnotes, p.kind, p.section[-1]) for p in seed.paragraphs]
    assert {n: f.text for n, f in doc.footnotes.items()} == \
        {n: f.text for n, f in seed.footnotes.items()}
    assert not doc.warnings


def test_seed_document_survives_pdf(tmp_path):
    seed = load_document(SEED)
    pdf = PdfMaker(tmp_path / "seed.pdf", rtl=True, header="GCM/ARAB/2024/BN")
    pdf.footnotes = {n: f.text for n, f in seed.footnotes.items()}
    section = None
    for paragraph in seed.paragraphs:
        if pdf.y > 420:
            pdf.new_page()
        if paragraph.section[-1] != section:
            section = paragraph.section[-1]
            pdf.paragraph(section, size=13, font="DejaVuSans-Bold")
        bullet = "• " if paragraph.kind == "list_item" else ""
        pdf.paragraph(bullet + " ".join(_with_markers(paragraph)))
    pdf.save()
    doc = load_document(tmp_path / "seed.pdf")
    assert all(no_presentation_forms(p.text) for p in doc.paragraphs)
    # The shaper drops harakat; and "(360-degree vision)" inside Arabic is drawn exactly
    # like "(degree vision-360)" would be, so it is read the Latin-first way.
    expected = [(HARAKAT.sub("", p.text).replace("360-degree vision", "degree vision-360"),
                 p.footnotes, p.kind, p.section[-1]) for p in seed.paragraphs]
    assert [(p.text, p.footnotes, p.kind, p.section[-1]) for p in doc.paragraphs] == expected
    assert {n: f.text for n, f in doc.footnotes.items()} == \
        {n: HARAKAT.sub("", f.text) for n, f in seed.footnotes.items()}
    assert not doc.warnings


# --- end to end: index the four files, ask one question of each --------------------------

QUESTIONS = [
    # fixture, question, paragraph that answers, its page, a footnote it cites
    ("docx_en", "When will progress on seasonal worker schemes be reviewed?", "4", 2, "e1"),
    ("pdf_en", "Is a report requested on the portability of pension rights for returning "
               "migrants?", "4", 2, "4"),
    ("docx_ar", "متى تستعرض التقدم المحرز في برامج العمال الموسميين؟", "3", 2, "3"),
    ("pdf_ar", "هل تطلب تقريرا عن نقل حقوق المعاشات التقاعدية للمهاجرين العائدين؟", "3", 2, "3"),
]


@pytest.fixture(scope="module")
def assistant_over_fixtures(fixtures, tmp_path_factory):
    from assistant.config import Settings
    from assistant.index import build_index
    from assistant.pipeline import Assistant

    root = tmp_path_factory.mktemp("e2e")
    settings = Settings(index_dir=root / "index", corpus_dir=fixtures["docx_en"].parent,
                        cache_dir=REPO / ".cache", llm_url="")
    report = build_index(list(fixtures.values()), settings=settings)
    assert report.ok, report.errors
    return Assistant(settings)


@pytest.mark.parametrize(("name", "question", "paragraph", "page", "footnote"), QUESTIONS)
def test_answers_cite_paragraph_page_and_footnote(assistant_over_fixtures, fixtures, name,
                                                  question, paragraph, page, footnote):
    answer = assistant_over_fixtures.ask(question)
    assert not answer.abstained, answer.text
    doc_id = load_document(fixtures[name]).doc_id
    cited = [c for c in answer.citations if c.doc_id == doc_id]
    assert cited, [(c.doc_id, c.paragraph, c.footnote) for c in answer.citations]
    hit = next(c for c in cited if c.paragraph == paragraph)
    assert hit.page == page
    passage = assistant_over_fixtures.index.passages[hit.passage_id]
    assert footnote in passage.footnotes
