"""The domain's nouns, as plain data classes shared by every stage.

Offsets (`start`, `end`) always index into `Document.source`, the text the
parser saw, so a citation can be traced back to the exact characters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Footnote:
    number: str
    text: str
    start: int
    end: int
    cited_by: list[str] = field(default_factory=list)  # paragraph numbers
    page: int | None = None


@dataclass
class Paragraph:
    number: str
    text: str
    section: list[str]  # heading path, outermost first
    start: int
    end: int
    footnotes: list[str] = field(default_factory=list)
    kind: str = "paragraph"  # "paragraph" or "list_item"
    page: int | None = None
    # A paragraph rejoined across a page break spans several source ranges.
    spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Section:
    path: list[str]
    start: int


@dataclass
class DocumentMeta:
    doc_id: str
    title_en: str = ""
    title_ar: str = ""
    language: str = "en"
    date: str = ""
    issuer: str = ""
    source: str = ""

    def title(self, lang: str | None = None) -> str:
        lang = lang or self.language
        preferred = self.title_ar if lang == "ar" else self.title_en
        return preferred or self.title_en or self.title_ar or self.doc_id


@dataclass
class Document:
    meta: DocumentMeta
    source: str  # the text the parser read (front matter removed)
    path: str = ""
    sections: list[Section] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)
    footnotes: dict[str, Footnote] = field(default_factory=dict)
    headings: list[tuple[str, int, int]] = field(default_factory=list)  # text, start, end
    warnings: list[str] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id

    def paragraph(self, number: str) -> Paragraph | None:
        return next((p for p in self.paragraphs if p.number == str(number)), None)


@dataclass
class Passage:
    """The unit of retrieval: a paragraph (or a window of a long one) or a footnote."""

    passage_id: str
    doc_id: str
    title: str
    language: str
    section: list[str]
    kind: str  # "paragraph", "list_item" or "footnote"
    text: str
    start: int
    end: int
    content_hash: str
    paragraph: str | None = None
    footnote: str | None = None
    footnotes: list[str] = field(default_factory=list)  # referenced (paragraphs)
    cited_by: list[str] = field(default_factory=list)  # citing paragraphs (footnotes)
    page: int | None = None
    window: int = 0  # index of the sentence window within its paragraph

    def to_dict(self) -> dict:
        return asdict(self)

    def label(self, lang: str = "en") -> str:
        """Human locator such as "paragraph 12, page 3" or "footnote 6"."""
        ar = lang == "ar"
        parts = []
        if self.paragraph:
            parts.append(f"{'الفقرة' if ar else 'paragraph'} {self.paragraph}")
        if self.page is not None:
            parts.append(f"{'الصفحة' if ar else 'page'} {self.page}")
        if self.footnote:
            parts.append(f"{'الحاشية' if ar else 'footnote'} {self.footnote}")
        return ("، " if ar else ", ").join(parts)


@dataclass
class Citation:
    number: int  # the [n] marker shown in the answer
    passage_id: str
    doc_id: str
    title: str
    section: list[str]
    paragraph: str | None
    footnote: str | None
    quote: str  # the exact span of the source that supports the claim
    text: str  # the full text of the cited passage
    page: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ScoredPassage:
    passage: Passage
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_score: float | None = None


@dataclass
class Answer:
    text: str
    language: str
    citations: list[Citation]
    abstained: bool
    passages: list[ScoredPassage]
    timings_ms: dict[str, float] = field(default_factory=dict)
    question: str = ""
    rewritten_question: str = ""
    notice: str = ""  # e.g. the LLM failed and the extractive answer is shown
    unsupported: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "rewritten_question": self.rewritten_question,
            "answer": self.text,
            "language": self.language,
            "abstained": self.abstained,
            "notice": self.notice,
            "unsupported": self.unsupported,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [
                {**sp.passage.to_dict(), "score": sp.score} for sp in self.passages
            ],
            "timings_ms": self.timings_ms,
        }
