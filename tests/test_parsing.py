"""Parsing documents into sections, paragraphs and footnotes."""

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.corpus import load_document
from assistant.domain import DocumentMeta
from assistant.parsing import parse_document

DATA = Path(__file__).parent / "data"


def test_seed_structure(seed_document):
    doc = seed_document
    assert doc.meta.language == "ar"
    numbers = [p.number for p in doc.paragraphs]
    assert numbers == [str(i) for i in range(1, len(numbers) + 1)]
    assert len(doc.paragraphs) == 18
    consultative = next(p for p in doc.paragraphs if "للعمليات التشاورية الإقليمية" in p.text)
    assert consultative.footnotes == ["1", "2", "3", "4", "5"]
    assert consultative.section[-1] == "التعاون الإقليمي"
    networks = next(p for p in doc.paragraphs if "ستة عشر شبكة" in p.text)
    assert networks.footnotes == ["6"]
    assert doc.footnotes["6"].cited_by == [networks.number]
    for n in "12345":
        assert doc.footnotes[n].cited_by == [consultative.number]
    # The page break cut the Qatar-Uganda paragraph; it must be whole again.
    qatar = next(p for p in doc.paragraphs if "دولة قطر" in p.text)
    assert "استخدام العمالة من جمهورية أوغندا" in qatar.text
    assert "وإدارة استخدام العمالة" in qatar.text
    assert len(qatar.spans) == 2
    assert not any(p.text.startswith("استخدام العمالة") for p in doc.paragraphs)
    # URLs survive, markers do not leak into the text.
    assert "https://www.khartoumprocess.net/" in doc.footnotes["2"].text
    assert not any("<sup>" in p.text for p in doc.paragraphs)
    # Guiding questions are list items with their own numbers.
    questions = [p for p in doc.paragraphs if p.kind == "list_item"]
    assert len(questions) == 4 and questions[0].section[-1] == "أسئلة توجيهية"
    assert not doc.warnings


def test_run_in_heads_become_sections(seed_document):
    sections = {p.section[-1] for p in seed_document.paragraphs}
    assert {"التعاون الإقليمي", "التعاون الثنائي", "التعاون الوطني", "مقدمة"} <= sections
    paragraphs = seed_document.paragraphs
    bilateral = next(p for p in paragraphs if "اتفاقيات التعاون الثنائي بين" in p.text)
    assert not bilateral.text.startswith("**")
    assert bilateral.section[-1] == "التعاون الثنائي"


def test_english_numbered_document():
    doc = load_document(DATA / "numbered-resolution.en.md")
    by_number = {p.number: p for p in doc.paragraphs}
    assert {"1", "2", "2(a)", "2(b)", "3", "4"} <= set(by_number)
    assert by_number["1"].footnotes == ["1"]
    assert by_number["2(a)"].footnotes == ["2"]
    assert by_number["2(a)"].text.startswith("the prohibition of recruitment fees")
    # Paragraph 3 continues on page 2 after footnotes 1 and 2 and keeps footnote 3.
    assert by_number["3"].text.endswith("remained at six per cent in 2023;")
    assert by_number["3"].footnotes == ["3"]
    assert by_number["3"].section[-1] == "Remittances"
    assert by_number["4"].page == 2
    assert doc.footnotes["1"].cited_by == ["1"]
    assert "https://example.org/framework" in doc.footnotes["1"].text
    # Unnumbered blocks in a numbered document are numbered after their predecessor.
    preamble = next(p for p in doc.paragraphs if p.text.startswith("Recalling"))
    assert preamble.number == "0.1"
    items = [p for p in doc.paragraphs if p.kind == "list_item"]
    assert len(items) == 3
    assert not doc.warnings


def test_footnote_problems_are_reported_not_fatal():
    text = "Para one cites a missing note[^9].\n\nPara two cites[^1].\n\n[^1]: One.\n\n" \
           "[^1]: One again.\n\n[^4]: Never cited.\n"
    doc = parse_document(text, DocumentMeta(doc_id="t"))
    assert [p.text for p in doc.paragraphs] == ["Para one cites a missing note.",
                                                "Para two cites."]
    joined = " ".join(doc.warnings)
    assert "marker 9 has no definition" in joined
    assert "footnote 1 is defined twice" in joined
    assert "footnote 4 is defined but never referenced" in joined
    assert doc.footnotes["1-2"].text == "One again."


# --- nothing is lost -------------------------------------------------------

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzابتثجحخدذرزسشصضطظعغفقكلمنهويءآأإةى0123456789",
               min_size=1, max_size=8)
SENTENCE = st.lists(WORD, min_size=1, max_size=12).map(" ".join)


@st.composite
def documents(draw):
    """A random document in the dialect, and the words it contains, by block."""
    blocks, words = [], []
    n_notes = 0
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["heading", "para", "para", "item", "runin", "note"]))
        text = draw(SENTENCE)
        words += text.split()
        if kind == "heading":
            blocks.append("#" * draw(st.integers(1, 4)) + " " + text)
        elif kind == "item":
            blocks.append("- " + text)
        elif kind == "runin":
            head = draw(WORD)
            words.append(head)
            blocks.append(f"**{head}:** {text}.")
        elif kind == "note":
            n_notes += 1
            blocks.append(f"<sup>{n_notes}</sup> {text}")
        else:
            marker = f"<sup>{n_notes + 1}</sup>" if draw(st.booleans()) else ""
            end = draw(st.sampled_from([".", "", "؟"]))
            blocks.append(f"{text}{marker}{end}")
    return "\n\n".join(blocks) + "\n", words


@settings(max_examples=300, deadline=None)
@given(documents())
def test_every_word_ends_up_in_exactly_one_place(doc_and_words):
    source, words = doc_and_words
    doc = parse_document(source, DocumentMeta(doc_id="prop"))
    pieces = [p.text for p in doc.paragraphs] + [f.text for f in doc.footnotes.values()] \
        + [h[0] for h in doc.headings]
    found = [w for piece in pieces for w in re.findall(r"[^\s.؟:*]+", piece)]
    assert sorted(found) == sorted(words)
