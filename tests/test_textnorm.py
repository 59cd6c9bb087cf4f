"""Normalisation, tokenisation and sentence splitting for Arabic and English."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant import textnorm
from assistant.textnorm import (
    detect_language,
    find_normalized,
    normalize,
    normalize_with_map,
    script_of,
    split_sentences,
    tokenize,
)

SEED = sorted((Path(__file__).resolve().parent.parent / "corpus").glob("*.md"))

# Characters that exercise every rule, mixed into otherwise arbitrary text so
# hypothesis meets them far more often than uniform sampling would.
AWKWARD = list(
    "\x00\x01\x1b\x7f\t\n\r \u00a0\u3000\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2066"
    "\u2069\ufeff\u00ad\u061c\u0640\u064b\u064e\u0650\u0651\u0652\u0670\u0653\u0654\u0655"
    "أإآٱاىيةهؤئء٠١٢٣٩۰۴۹ﷺﷲ\ufe70\ufe71\ufe76ﻻﺃ\u0301\u0308eEßİﬀ①²Å.!?؟؛۔()\"'،"
)
arbitrary_text = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(AWKWARD)),
    max_size=60,
)
ARABIC_LATIN = [chr(c) for c in range(0x0620, 0x064B)] + list("abcXYZéçÀ0123456789٣٤ _-.,")
arabic_latin_text = st.text(
    alphabet=st.one_of(st.sampled_from(ARABIC_LATIN), st.sampled_from(AWKWARD)), max_size=60
)


def seed_text() -> str:
    text = SEED[0].read_text(encoding="utf-8")
    return text.split("---", 2)[2] if text.startswith("---") else text


# --- normalize: concrete mappings -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("أحمد", "احمد"),
        ("إسلام", "اسلام"),
        ("آمنة", "امنه"),
        ("ٱلهجرة", "الهجره"),
        ("مدرسة", "مدرسه"),
        ("مستشفى", "مستشفي"),
        ("٢٠٢٤", "2024"),
        ("۲۰۲۴", "2024"),
        ("مُهَاجِر", "مهاجر"),
        ("مُهاجِرٌ", "مهاجر"),
        ("شدّة", "شده"),
        ("هٰذا", "هذا"),
        ("الهجـــرة", "الهجره"),
        ("Migration  Policy\n\tNOTE ", "migration policy note"),
        ("Straße", "strasse"),
        ("ﻻ", "لا"),  # presentation-form ligature (PDF text) via NFKC
        ("ﺃﺣﻤﺪ", "احمد"),
        ("ا\u0654", "ا"),  # a combining hamza composes into أ, which folds to ا
        ("ا\u0640\u0654", "ا"),  # ... even with a tatweel in between
        ("ab\u200bc\u202ed\ufeff\x00e", "abcde"),
        ("\u202eالهجرة\u202c", "الهجره"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_mappings(raw, expected):
    assert normalize(raw) == expected


def test_normalize_keeps_other_letters():
    # ؤ and ئ are not folded: they are distinct spellings, not typing variants.
    assert normalize("مسؤول بيئة") == "مسؤول بيئه"


@settings(max_examples=200, deadline=None)
@given(arbitrary_text)
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=200, deadline=None)
@given(arbitrary_text)
def test_normalize_output_is_clean(text):
    out = normalize(text)
    assert out == out.strip() and "  " not in out
    assert not set(out) & set("\x00\u200b\u200f\u202e\ufeff\u0640\u064e\u0651أإآىة٢")
    assert unicodedata.is_normalized("NFKC", out)


# --- normalize_with_map and find_normalized ----------------------------------------


@settings(max_examples=200, deadline=None)
@given(arbitrary_text)
def test_map_is_consistent_with_normalize(text):
    out, index = normalize_with_map(text)
    assert out == normalize(text)
    assert len(index) == len(out)
    assert all(0 <= i < len(text) for i in index)
    assert index == sorted(index)


@settings(max_examples=200, deadline=None)
@given(arbitrary_text)
def test_normalize_and_tokenize_never_crash(text):
    normalize(text)
    normalize_with_map(text)
    tokenize(text)
    tokenize(text, normalise=False)
    split_sentences(text)
    assert detect_language(text) in ("ar", "en")


@settings(max_examples=200, deadline=None)
@given(arabic_latin_text)
def test_normalize_never_loses_letters(text):
    _out, index = normalize_with_map(text)
    covered = set(index)
    for i, ch in enumerate(text):
        arabic_or_latin = "\u0620" <= ch <= "\u064a" or ch.isascii() or "\u00c0" <= ch <= "\u024f"
        if ch.isalnum() and arabic_or_latin and normalize(ch):
            assert i in covered, (i, ch)


def test_map_points_at_source_characters():
    text = "أَحمد  ﷺ x"
    out, index = normalize_with_map(text)
    assert out == "احمد صلي الله عليه وسلم x"
    assert [text[i] for i in index[:4]] == ["أ", "ح", "م", "د"]
    assert set(index[5:-2]) == {text.index("ﷺ")}  # one char expanded into many
    assert text[index[-1]] == "x"


def test_find_normalized_returns_original_span():
    text = "قال التقرير: «الهِجْرَةُ الآمنة» مهمة."
    span = find_normalized(text, "الهجرة الامنة")
    assert span is not None
    assert text[span[0]:span[1]] == "الهِجْرَةُ الآمنة"
    assert find_normalized(text, "غير موجود") is None
    assert find_normalized(text, "  ") is None


def test_find_normalized_in_seed():
    text = seed_text()
    quote = "الاتفاق العالمي هو إطار تعاوني غير ملزم قانوناً"
    # The same quote typed without hamzas, tanwin or ta marbuta.
    span = find_normalized(text, "الاتفاق العالمي هو اطار تعاوني غير ملزم قانونا")
    assert span is not None and text[span[0]:span[1]] == quote


@settings(max_examples=200, deadline=None)
@given(arbitrary_text, st.integers(0, 20), st.integers(1, 5))
def test_find_normalized_finds_word_aligned_substrings(text, first, count):
    words = list(re.finditer(r"\S+", text))
    if not words:
        return
    first = first % len(words)
    last = min(first + count, len(words)) - 1
    needle = text[words[first].start():words[last].end()]
    span = find_normalized(text, needle)
    if not normalize(needle):
        assert span is None
        return
    assert span is not None
    start, end = span
    assert 0 <= start < end <= len(text)
    assert normalize(needle) in normalize(text[start:end])


# --- scripts and language ---------------------------------------------------------


def test_script_and_language():
    assert script_of("الهجرة") == "ar"
    assert script_of("migration") == "en"
    assert script_of("2024") == "other"
    assert script_of("😀") == "other"
    assert script_of("") == "other"
    assert detect_language("ما هي أهداف الاتفاق العالمي؟") == "ar"
    assert detect_language("ما هو GCM?") == "ar"
    assert detect_language("What is the GCM?") == "en"
    assert detect_language("") == "en"
    assert detect_language("😀 2024 !!") == "en"
    assert detect_language(seed_text()) == "ar"


# --- tokenize -----------------------------------------------------------------------


def test_tokenize_keeps_words_with_diacritics_whole():
    assert tokenize("مُهَاجِر") == tokenize("مهاجر") == ["مهاجر"]
    # The baseline does no normalising, but must still not cut at the harakat.
    assert tokenize("مُهَاجِر الهجـــرة", normalise=False) == ["مُهَاجِر", "الهجـــرة"]
    assert tokenize("Migrants ARE", normalise=False) == ["migrants", "are"]


def test_tokenize_drops_stopwords_and_question_words():
    assert tokenize("ما هي الهجرة؟") == tokenize("الهجرة")
    assert tokenize("متى وكيف وأين؟ هل في من على إلى") == []
    assert tokenize("What is the Global Compact?") == ["global", "compact"]


def test_tokenize_stems_variants_together():
    same = [tokenize(w) for w in ("الهجرة", "هجرة", "للهجرة", "والهجرة", "الهجره")]
    assert all(t == same[0] for t in same)
    assert tokenize("المهاجرين") == tokenize("مهاجر")
    assert tokenize("الإتجار") == tokenize("الاتجار")
    assert tokenize("migrants") == tokenize("migrant")
    assert tokenize("migration") == tokenize("migrating")


def test_tokenize_numbers():
    assert tokenize("عام ٢٠٢٤") == tokenize("عام 2024")
    assert "2024" in tokenize("in 2024")
    assert tokenize("(5+5)") == ["5", "5"]


def test_stopword_lists_are_normalised():
    for name in ("stopwords_ar.txt", "stopwords_en.txt"):
        lines = (textnorm._DATA / name).read_text(encoding="utf-8").splitlines()
        words = [w for w in lines if w]
        assert words and len(words) == len(set(words))
        assert [w for w in words if normalize(w) != w or " " in w] == []
    for word in ("في", "من", "الي", "علي", "عن", "مع", "هذا", "هذه", "التي", "الذي", "ان",
                 "كان", "و", "ما", "ماذا", "متي", "كيف", "هل", "اين", "لماذا", "كم"):
        assert word in textnorm.STOPWORDS_AR


def test_stemmers_are_per_thread():
    from concurrent.futures import ThreadPoolExecutor

    texts = [seed_text()[i:i + 400] for i in range(0, 8000, 400)]
    expected = [tokenize(t) for t in texts]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            assert list(pool.map(tokenize, texts)) == expected


# --- split_sentences ------------------------------------------------------------------


def check_spans(text, spans):
    """Spans are trimmed, ordered, and with the whitespace between them rebuild the text."""
    pos = 0
    for start, end in spans:
        assert pos <= start < end <= len(text)
        assert text[pos:start].strip() == ""
        assert not text[start].isspace() and not text[end - 1].isspace()
        pos = end
    assert text[pos:].strip() == ""


def sentences(text):
    return [text[s:e] for s, e in split_sentences(text)]


def test_split_english():
    text = ("The U.N. network met in 2023 (see para. 3.5). It agreed, e.g. on data, "
            "i.e. statistics. Details: https://www.iom.int/arcp?lang=en. Done!  Really?")
    assert sentences(text) == [
        "The U.N. network met in 2023 (see para. 3.5).",
        "It agreed, e.g. on data, i.e. statistics.",
        "Details: https://www.iom.int/arcp?lang=en.",
        "Done!",
        "Really?",
    ]


def test_split_arabic():
    text = "ما هي الأهداف؟ تعزيز التعاون؛ وحماية المهاجرين. انظر (ARCP) و(5+5) ۔ نهاية"
    assert sentences(text) == [
        "ما هي الأهداف؟",
        "تعزيز التعاون؛ وحماية المهاجرين.",
        "انظر (ARCP) و(5+5) ۔",
        "نهاية",
    ]


def test_split_keeps_quotes_and_footnote_marks_with_their_sentence():
    text = 'He said "stop." Then it ended.<sup>4</sup> Next.'
    assert sentences(text) == ['He said "stop."', "Then it ended.<sup>4</sup>", "Next."]


def test_split_seed_paragraph():
    paragraph = next(p for p in seed_text().split("\n\n") if "(ARCP)" in p)
    got = sentences(paragraph)
    check_spans(paragraph, split_sentences(paragraph))
    assert len(got) == 4
    assert got[0].endswith("قضايا الهجرة.")
    assert got[1].endswith("وغيرها.") and "(ARCP)<sup>1</sup>" in got[1] and "(5+5)" in got[1]
    assert got[3].startswith("فعلى سبيل المثال") and got[3].endswith("فبراير/شباط 2024.")


def test_split_seed_document_covers_everything():
    text = seed_text()
    spans = split_sentences(text)
    check_spans(text, spans)
    assert len(spans) > 50
    # A quoted ellipsis ("... والأقاليمية ...") does not end the sentence.
    assert not any(text[s:e].endswith("والأقاليمية ...") for s, e in spans)


@settings(max_examples=200, deadline=None)
@given(arbitrary_text)
def test_split_covers_text_exactly(text):
    check_spans(text, split_sentences(text))


PROTECTED = ["3.5", "U.N.", "e.g.", "i.e.", "No. 7", "para. 12", "(ARCP)",
             "https://www.iom.int/a?b=c.d", "www.rabat-process.org/en", "٣.٥"]
FILLER = ["migration", "Policy", "الهجرة", "التعاون", "Done.", "نعم.", "Why?", "لماذا؟", "2024"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PROTECTED + FILLER), min_size=1, max_size=12))
def test_split_never_cuts_protected_tokens(pieces):
    text = " ".join(pieces)
    spans = split_sentences(text)
    check_spans(text, spans)
    pos = 0
    for piece in pieces:
        start, end = pos, pos + len(piece)
        pos = end + 1
        if piece in PROTECTED:
            assert any(s <= start and end <= e for s, e in spans), (piece, sentences(text))
