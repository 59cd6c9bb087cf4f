"""Arabic/English text normalisation, tokenisation and sentence splitting.

The same question is typed many ways in Arabic: with or without harakat,
with أ or ا, with ة or ه, with Arabic-Indic or ASCII digits, sometimes with a
stretched tatweel or an invisible bidi mark pasted from a PDF. :func:`normalize`
folds those differences away so that lexical search, quote verification and
de-duplication compare like with like. :func:`normalize_with_map` and
:func:`find_normalized` keep the way back to the original characters, so a
quote found in normalised text can be highlighted in the source.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Literal

import Stemmer

Script = Literal["ar", "en", "other"]

_DATA = Path(__file__).resolve().parent / "data"

# Bump when tokenize() changes behaviour: saved lexical indexes record the
# fingerprint and refuse to load under a tokenizer that would disagree with them.
TOKENIZER_VERSION = "1"

_HARAKAT = [chr(c) for c in range(0x064B, 0x0653)] + ["\u0670"]  # + superscript alef
_TATWEEL = "\u0640"
_INVISIBLE = (
    [chr(c) for c in range(0x200B, 0x2010)]  # zero-width space/joiners, LRM, RLM
    + [chr(c) for c in range(0x202A, 0x202F)]  # bidi embeddings and overrides
    + [chr(c) for c in range(0x2066, 0x206A)]  # bidi isolates
    + ["\ufeff"]
    # Not in the usual lists, but they arrive the same way (PDF copy-paste) and
    # split or disguise words just as well: soft hyphen, Arabic letter mark,
    # word joiner and the invisible operators.
    + ["\u00ad", "\u061c"]
    + [chr(c) for c in range(0x2060, 0x2065)]
)
# C0 controls other than whitespace (str.isspace counts \x1c-\x1f as whitespace,
# so they are collapsed like spaces rather than dropped), plus DEL. Lone
# surrogates can only come from surrogateescape decoding; they cannot be
# encoded to UTF-8 or JSON, so they go too.
_CONTROLS = [chr(c) for c in range(0x20) if not chr(c).isspace()] + ["\x7f"]
_SURROGATES = [chr(c) for c in range(0xD800, 0xE000)]

_DROP = {ord(c): None for c in _HARAKAT + [_TATWEEL] + _INVISIBLE + _CONTROLS + _SURROGATES}
_FOLD = dict(_DROP)
_FOLD.update({ord(c): "ا" for c in "أإآٱ"})
_FOLD.update({ord("ى"): "ي", ord("ة"): "ه"})
_FOLD.update({0x0660 + d: str(d) for d in range(10)})
_FOLD.update({0x06F0 + d: str(d) for d in range(10)})


def _one_pass(text: str) -> str:
    # Marks and tatweel go before NFKC too: a tatweel between ا and a combining
    # hamza would otherwise stop them composing into أ. NFKC runs again after
    # casefold because casefold can leave text that NFKC would still change.
    text = unicodedata.normalize("NFKC", text.translate(_DROP))
    text = unicodedata.normalize("NFKC", text.casefold())
    return text.translate(_FOLD)


def _fold(text: str) -> str:
    """Everything normalize() does except collapsing whitespace, to a fixed point.

    One pass is almost always enough; a second is needed when stripping a mark
    lets NFKC compose what it could not before (e.g. U+FE71 then a hamza).
    """
    for _ in range(8):
        folded = _one_pass(text)
        if folded == text:
            break
        text = folded
    return text


@lru_cache(maxsize=16384)
def _fold_cached(piece: str) -> str:  # pieces are mostly single characters, which recur
    return _fold(piece)


def normalize(text: str) -> str:
    """Fold Arabic/English text to the form every comparison in the app uses."""
    return " ".join(_fold(text).split())


def _clusters(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a whitespace-free run into pieces that NFKC treats independently.

    A piece is a starter plus the combining marks and invisible characters that
    follow it (those may compose with it once the invisibles are dropped).
    """
    bounds = [start]
    for i in range(start + 1, end):
        ch = text[i]
        if unicodedata.combining(ch) == 0 and ord(ch) not in _DROP:
            bounds.append(i)
    bounds.append(end)
    return list(zip(bounds, bounds[1:], strict=False))


def _aligned_run(text: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """Fold text[start:end] (no whitespace in it), keeping each output char's source range."""
    target = _fold(text[start:end])
    pieces = _clusters(text, start, end)
    for _attempt in range(2):
        outs = [_fold_cached(text[s:e]) for s, e in pieces]
        if "".join(outs) == target:
            return [(ch, s, e) for (s, e), out in zip(pieces, outs, strict=True) for ch in out]
        # Some neighbouring pieces interact (Hangul jamo, Indic two-part vowels,
        # marks freed by a dropped tatweel): merge the pairs that do.
        merged = [pieces[0]]
        for s, e in pieces[1:]:
            ps, pe = merged[-1]
            if _fold(text[ps:e]) != _fold(text[ps:pe]) + _fold(text[s:e]):
                merged[-1] = (ps, e)
            else:
                merged.append((s, e))
        pieces = merged
    return [(ch, start, end) for ch in target]


def _aligned(text: str) -> tuple[str, list[int], list[int]]:
    """normalize(text) plus, per output char, the [start, end) source range it came from.

    Whitespace never composes with its neighbours under NFKC, so each
    whitespace-free run can be folded on its own and the runs rejoined.
    """
    chars: list[tuple[str, int, int]] = []
    for m in re.finditer(r"\s+|\S+", text):
        if m.group()[0].isspace():
            chars.append((" ", m.start(), m.end()))
        else:
            chars.extend(_aligned_run(text, m.start(), m.end()))
    kept: list[list] = []  # [char, start, end], whitespace collapsed as normalize() does
    for ch, s, e in chars:
        if not ch.isspace():
            kept.append([ch, s, e])
        elif kept and kept[-1][0] == " ":
            kept[-1][2] = e
        elif kept:
            kept.append([" ", s, e])
    if kept and kept[-1][0] == " ":
        kept.pop()
    result = "".join(c for c, _, _ in kept)
    starts = [s for _, s, _ in kept]
    ends = [e for _, _, e in kept]
    if result != normalize(text):  # pragma: no cover - a guard, not expected to fire
        result = normalize(text)
        return result, [0] * len(result), [len(text)] * len(result)
    return result, starts, ends


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """normalize(text), and for each output character the index of its source character.

    When NFKC turns one source character into several (ﷺ, ﬀ), they all point at
    that character; when several source characters fold into one (ا + hamza
    mark), it points at the first of them.
    """
    result, starts, _ends = _aligned(text)
    return result, starts


def find_normalized(haystack: str, needle: str) -> tuple[int, int] | None:
    """Span (start, end) of the original haystack whose normalised form contains
    the normalised needle; None if it does not occur (or the needle normalises
    to nothing). The match is a plain substring match, not word-bounded."""
    target = normalize(needle)
    if not target:
        return None
    folded, starts, ends = _aligned(haystack)
    at = folded.find(target)
    if at < 0:
        return None
    return starts[at], ends[at + len(target) - 1]


_ARABIC_RANGES = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x0870, 0x08FF),
                  (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
_LATIN_RANGES = ((0x0041, 0x005A), (0x0061, 0x007A), (0x00C0, 0x024F),
                 (0x1E00, 0x1EFF), (0x2C60, 0x2C7F), (0xA720, 0xA7FF),
                 (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))


def _in(ranges: tuple[tuple[int, int], ...], ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in ranges)


def _letter_counts(text: str) -> tuple[int, int, int]:
    arabic = latin = letters = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
            if _in(_ARABIC_RANGES, ch):
                arabic += 1
            elif _in(_LATIN_RANGES, ch):
                latin += 1
    return arabic, latin, letters


def script_of(token: str) -> Script:
    """The script most of a token's letters are written in ("other" for digits etc.)."""
    if token.isascii():  # the common English case, without the range scans
        return "en" if any(ch.isalpha() for ch in token) else "other"
    arabic, latin, _ = _letter_counts(token)
    if arabic == latin == 0:
        return "other"
    return "ar" if arabic >= latin else "en"


def detect_language(text: str) -> Literal["ar", "en"]:
    """"ar" when Arabic letters make up at least 30% of the letters, else "en".

    30% rather than a majority: an Arabic question often quotes an English
    acronym or title (GCM, "Global Compact") and should still be answered in
    Arabic.
    """
    arabic, _latin, letters = _letter_counts(text)
    if letters and arabic / letters >= 0.3:
        return "ar"
    return "en"


def _mark_class() -> str:
    """A regex character class body of every combining mark in the BMP.

    re has no \\p{M}; marks are not \\w, so without this a word with harakat
    (in the unnormalised baseline) or an uncomposed accent would be cut apart.
    Marks outside the BMP belong to historic scripts and are left out.
    """
    ranges: list[list[int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in ranges)


# A word starts with a letter or digit and runs on over letters, digits and
# marks; "_" is excluded so snake_case splits like punctuation.
_WORD = re.compile(rf"[^\W_](?:[^\W_]|[{_mark_class()}])*")


def _read_words(name: str) -> frozenset[str]:
    lines = (_DATA / name).read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip())


STOPWORDS_AR = _read_words("stopwords_ar.txt")
STOPWORDS_EN = _read_words("stopwords_en.txt")
_STOPWORDS = STOPWORDS_AR | STOPWORDS_EN

# PyStemmer objects hold a mutable Snowball environment and a cache, and are
# documented as unsafe to share between threads; the chat serves many users
# from a thread pool, so each thread gets its own pair.
_local = threading.local()


def _stemmer(language: str) -> Stemmer.Stemmer:
    if not hasattr(_local, "stemmers"):
        _local.stemmers = {lang: Stemmer.Stemmer(lang) for lang in ("arabic", "english")}
    return _local.stemmers[language]


# "وال" + at least three letters is nearly always و + the article; Snowball
# leaves any word starting وا alone (many roots do), so والهجرة would never
# meet الهجرة. These few real words start with وال and must not be cut.
_WAL_WORDS = frozenset({"والدين", "والديه", "والدان", "والدتي", "والدته", "والدها"})


def _stem_arabic(token: str) -> str:
    if len(token) >= 6 and token[:3] in ("وال", "فال") and token not in _WAL_WORDS:
        token = token[1:]
    # normalize() folds ة into ه, but Snowball only strips the feminine ending
    # when it is written ة (it reads a final ه as a pronoun, and strips that
    # only without a prefix). Writing it back lets الهجره and هجره share a stem.
    if len(token) >= 3 and token.endswith("ه"):
        token = token[:-1] + "ة"
    return _stemmer("arabic").stemWord(token) or token


def tokenize(text: str, normalise: bool = True) -> list[str]:
    """Index/query terms for BM25.

    normalise=True: normalise, split into words, drop Arabic and English
    stopwords (question words included: "ما" or "how" says nothing about which
    passage answers), and stem each word with the Snowball stemmer of its script.
    normalise=False is the naive baseline the benchmarks compare against:
    lowercase and split only.
    """
    if not normalise:
        return _WORD.findall(text.lower())
    tokens: list[str] = []
    for word in _WORD.findall(normalize(text)):
        # و and ف attach to any word, stopwords included (وكيف، فهل، وأين).
        if word in _STOPWORDS or (word[0] in "وف" and word[1:] in STOPWORDS_AR):
            continue
        script = script_of(word)
        if script == "ar":
            tokens.append(_stem_arabic(word))
        elif script == "en":
            tokens.append(_stemmer("english").stemWord(word) or word)
        else:
            tokens.append(word)
    return tokens


def tokenizer_fingerprint(normalise: bool = True) -> str:
    """Identifies everything that decides what tokenize() returns.

    Stored with a saved index: if the stopword lists, the stemmer release or
    the Unicode tables change, old index terms no longer match new query terms.
    """
    parts = [TOKENIZER_VERSION, str(normalise), unicodedata.unidata_version]
    if normalise:
        parts += [importlib.metadata.version("PyStemmer"), *sorted(_STOPWORDS)]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:16]


# Lower-cased, without the final period. "etc" is left out on purpose: it ends
# sentences as often as not, and a following lower-case word already keeps
# "etc. and" together.
_ABBREVIATIONS = frozenset("""
    al approx art arts c ca cf ch chap co corp dept doc dr ed eds e.g eg est fig figs
    gen govt i.e ie inc jr ltd mr mrs ms mt no nos op p para paras pp prof pt rev
    res sec sect sr st vol vols vs
    jan feb mar apr jun jul aug sep sept oct nov dec
""".split())

# Not "؛": the Arabic semicolon joins clauses of one statement (often the items of a
# list), and a quote cut there loses the rest of what the source says.
_END_RUN = re.compile(r"[.!?؟\u06d4]+")
# Closers that belong to the sentence they follow: quotes, brackets, emphasis,
# and footnote references such as <sup>3</sup> or [^3] placed after the stop.
_CLOSERS = re.compile(r"""(?:["'”’»)\]}*_]|<sup>[^<>\s]{1,12}</sup>|\[\^?\w{1,12}\])*""")
# A blank line, or a line break before a heading or list item, always ends a sentence.
_HARD_BREAK = re.compile(r"\n[ \t]*\n\s*|\n(?=[ \t]*(?:#{1,6}\s|[-*•+]\s|\(?\w{1,3}[.)]\s))")
_DOTTED_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_NEXT_CHAR = re.compile(r"\s*(\S)")


def _is_abbreviation(text: str, dot: int) -> bool:
    """Does the single period at text[dot] end an abbreviation rather than a sentence?"""
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lstrip("([{\"'“‘«").lower()
    if word in _ABBREVIATIONS or _DOTTED_ACRONYM.fullmatch(word):
        return True
    if len(word) == 1 and _in(_LATIN_RANGES, word):
        return True  # an initial: "J. Smith", "Annex A. 3"
    # A lower-case Latin word after the period means the sentence goes on.
    following = _NEXT_CHAR.match(text, dot + 1)
    nxt = following.group(1) if following else ""
    return nxt.islower() and _in(_LATIN_RANGES, nxt)


def _ellipsis_ends(text: str, stop: int, end: int) -> bool:
    """An ellipsis usually marks words left out of a quote ("... والأقاليمية ...
    للنظر"); it ends the sentence only before a capital letter or the block's end."""
    following = _NEXT_CHAR.match(text, stop, end)
    if not following:
        return True
    nxt = following.group(1)
    return nxt.isupper() and _in(_LATIN_RANGES, nxt)


def _inside_parentheses(text: str, start: int, at: int) -> bool:
    """Is position `at` inside an open "(" that closes soon on the same line?"""
    depth = 0
    for ch in text[start:at]:
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
    if not depth:
        return False
    ahead = text[at:at + 200].split("\n", 1)[0]
    return ")" in ahead


def _block_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    cuts = []
    sentence_start = start
    for m in _END_RUN.finditer(text, start, end):
        stop = _CLOSERS.match(text, m.end(), end).end()
        if stop < end and not text[stop].isspace():
            continue  # 3.5, www.iom.int, "?" inside a URL
        if m.group() == "." and _is_abbreviation(text, m.start()):
            continue
        if len(m.group()) > 1 and set(m.group()) == {"."} and not _ellipsis_ends(text, stop, end):
            continue
        if _inside_parentheses(text, sentence_start, m.start()):
            continue
        cuts.append(stop)
        sentence_start = stop
    bounds = [start, *cuts, end]
    return list(zip(bounds, bounds[1:], strict=False))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in `text`, Arabic or English, whitespace trimmed.

    Between consecutive spans there is only whitespace, and every
    non-whitespace character lies in exactly one span.
    """
    blocks = []
    block_start = 0
    for m in _HARD_BREAK.finditer(text):
        blocks.append((block_start, m.start()))
        block_start = m.end()
    blocks.append((block_start, len(text)))

    spans = []
    for b_start, b_end in blocks:
        for s, e in _block_sentences(text, b_start, b_end):
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if s < e:
                spans.append((s, e))
    return spans
