"""Checkable facts in a sentence: places and bodies (Arabic or English), numbers, years.

Answer composition uses them to name, in English, what an Arabic source says;
the fact-check uses them to spot a draft that states a different number, year
or name than its evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from assistant.textnorm import normalize

# Arabic clitics that attach to a name: conjunctions, then prepositions.
_PREFIX = r"(?:(?<=\s)|^)(?:[وف])?(?:[بلك])?"


@dataclass(frozen=True)
class Entity:
    english: str
    kind: str  # country, city, region, organisation, month


@lru_cache(maxsize=1)
def _gazetteer() -> list[tuple[Entity, list[re.Pattern], re.Pattern]]:
    rows = []
    text = resources.files("assistant.data").joinpath("gazetteer.tsv").read_text("utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        english, arabic, kind = line.split("\t")
        patterns = []
        for form in arabic.split("|"):
            form = normalize(form)
            # "لل" is how ل + ال is written: للمغرب = ل + المغرب
            alt = f"|لل{re.escape(form[2:])}" if form.startswith("ال") else ""
            patterns.append(re.compile(f"{_PREFIX}(?:{re.escape(form)}{alt})(?=\\s|$|[^\\w])"))
        en = re.compile(r"\b" + re.escape(english.removeprefix("the ").lower()) + r"\b")
        rows.append((Entity(english, kind), patterns, en))
    return rows


def entities(text: str) -> list[Entity]:
    """Gazetteer entities named in the text, in order of first mention."""
    norm = normalize(text)
    found: list[tuple[int, Entity]] = []
    for entity, arabic, english in _gazetteer():
        positions = [m.start() for p in arabic for m in p.finditer(norm)]
        positions += [m.start() for m in english.finditer(norm)]
        if positions:
            found.append((min(positions), entity))
    found.sort(key=lambda t: t[0])
    # A longer name shadows a shorter one inside it ("the Rabat Process" vs "Rabat").
    names = [e.english for _, e in found]
    return [e for _, e in found
            if not any(e.english != o and e.english.lower() in o.lower() for o in names)]


_EN_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_EN_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
            "eighty": 80, "ninety": 90, "hundred": 100}
EN_ORDINALS = {w: i + 1 for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
    "twentieth".split())}
# Normalised Arabic forms (ة→ه, أ→ا); feminine and masculine, cardinal and ordinal.
_AR_UNITS = {
    "واحد": 1, "واحده": 1, "اثنان": 2, "اثنين": 2, "اثنتان": 2, "ثلاث": 3, "ثلاثه": 3,
    "اربع": 4, "اربعه": 4, "خمس": 5, "خمسه": 5, "ست": 6, "سته": 6, "سبع": 7, "سبعه": 7,
    "ثماني": 8, "ثمانيه": 8, "ثمان": 8, "تسع": 9, "تسعه": 9, "عشر": 10, "عشره": 10,
    "احدي": 1, "احد": 1, "اثنا": 2, "اثني": 2, "اثنتا": 2, "اثنتي": 2,
    "الاول": 1, "الاولي": 1, "الثاني": 2, "الثانيه": 2, "الثالث": 3, "الثالثه": 3,
    "الرابع": 4, "الرابعه": 4, "الخامس": 5, "الخامسه": 5, "السادس": 6, "السادسه": 6,
    "السابع": 7, "السابعه": 7, "الثامن": 8, "الثامنه": 8, "التاسع": 9, "التاسعه": 9,
    "العاشر": 10, "العاشره": 10,
}
_AR_TENS = {"عشرون": 20, "عشرين": 20, "ثلاثون": 30, "ثلاثين": 30, "اربعون": 40,
            "اربعين": 40, "خمسون": 50, "خمسين": 50, "مائه": 100, "مئه": 100}
# Month names that contain an ordinal: تشرين الثاني is November, not "second".
ORDINAL_MONTH = re.compile(r"(?:تشرين|كانون|جمادي|ربيع)\s+ال(?:اول|ثاني|اولي|اخر|اخره)(?!\w)")
# "+" stays inside a token so that a name like "5+5" is not read as two fives.
_WORD = re.compile(r"[\w+]+")


def numbers(text: str) -> list[float]:
    """Numbers stated in digits or words ("sixteen", "ستة عشر", "السابعة"), years included.

    Compound words are summed: "ستة عشر" = 6 + 10, "twenty-eight" = 20 + 8.
    """
    norm = ORDINAL_MONTH.sub(" ", normalize(text)).replace("-", " ")
    values: list[float] = []
    pending: float | None = None
    for token in _WORD.findall(norm):
        # Clitics: وثلاث، بثلاث، لثلاث (and three, with three, for three).
        bare = token[1:] if token[:1] in "وبل" and token[1:] in _AR_UNITS | _AR_TENS else token
        word = _EN_UNITS.get(bare, _EN_TENS.get(bare, EN_ORDINALS.get(
            bare, _AR_UNITS.get(bare, _AR_TENS.get(bare)))))
        if word is None and re.fullmatch(r"\d+(?:[.,]\d+)?", token):
            if pending is not None:
                values.append(pending)
                pending = None
            values.append(float(token.replace(",", "")))
            continue
        if word is None:
            if pending is not None:
                values.append(pending)
                pending = None
            continue
        pending = float(word) if pending is None else pending + word
    if pending is not None:
        values.append(pending)
    return values


def years(text: str) -> list[int]:
    return [int(v) for v in numbers(text) if v.is_integer() and 1900 <= v <= 2100]
