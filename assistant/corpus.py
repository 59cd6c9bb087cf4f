"""Find, read and parse the documents in the corpus.

The format layer is a table from file suffix to a reader that returns the
document's text in the Markdown dialect of :mod:`assistant.parsing`. Adding a
format (DOCX, PDF) means adding one reader to ``READERS``.

Entry point: :func:`load_documents`. It never stops at a bad file: each one
becomes a :class:`CorpusError` naming the file and line, and the rest load.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.config import Settings, get_settings
from assistant.domain import Document, DocumentMeta
from assistant.parsing import parse_document

FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
ARABIC = re.compile(r"[\u0600-\u06FF]")


class CorpusError(Exception):
    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[CorpusError] = field(default_factory=list)


def _decode(data: bytes, path: Path) -> str:
    if b"\x00" in data[:65536]:
        raise CorpusError(path, "binary data, not a text document (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(path, f"invalid UTF-8 at byte {exc.start}", line) from None


def read_markdown(path: Path) -> str:
    return _decode(path.read_bytes(), path)


# suffix -> reader returning Markdown-dialect text (with optional front matter)
READERS: dict[str, Callable[[Path], str]] = {
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".txt": read_markdown,
}


def _register_optional_readers() -> None:
    """DOCX and PDF readers live in assistant.formats when their libraries are installed."""
    try:
        from assistant.formats import READERS as extra  # type: ignore[attr-defined]
    except ImportError:
        return
    READERS.update(extra)


_register_optional_readers()


def slugify(name: str) -> str:
    name = unicodedata.normalize("NFKC", name)
    slug = re.sub(r"[^\w.-]+", "-", name, flags=re.U).strip("-._").lower()
    return slug or "document"


def split_front_matter(text: str, path: Path) -> tuple[dict, str, int]:
    """Return (metadata, body, offset of body in text)."""
    m = FRONT_MATTER.match(text)
    if not m:
        return {}, text, 0
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", 0) + 2
        raise CorpusError(path, f"malformed front matter: {exc.__class__.__name__}", line) from None
    if not isinstance(meta, dict):
        raise CorpusError(path, "front matter must be a mapping of key: value", 2)
    return meta, text[m.end():], m.end()


def _sidecar(path: Path) -> dict:
    side = path.with_suffix(path.suffix + ".json")
    if side.exists():
        try:
            return json.loads(side.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise CorpusError(side, f"unreadable metadata: {exc}") from None
    return {}


def make_meta(raw: dict, path: Path, body: str) -> DocumentMeta:
    language = str(raw.get("language") or "").lower()
    if language not in ("ar", "en"):
        letters = [c for c in body if c.isalpha()]
        arabic = sum(1 for c in letters if ARABIC.match(c))
        language = "ar" if letters and arabic / len(letters) > 0.3 else "en"
    first_heading = next(
        (ln.lstrip("#").strip() for ln in body.splitlines() if ln.startswith("#")), ""
    )
    title_key = "title_ar" if language == "ar" else "title_en"
    meta = DocumentMeta(
        doc_id=slugify(str(raw.get("doc_id") or path.stem)),
        title_en=str(raw.get("title_en") or ""),
        title_ar=str(raw.get("title_ar") or ""),
        language=language,
        date=str(raw.get("date") or ""),
        issuer=str(raw.get("issuer") or ""),
        source=str(raw.get("source") or path.name),
    )
    if not getattr(meta, title_key) and not (meta.title_en or meta.title_ar):
        setattr(meta, title_key, str(raw.get("title") or first_heading or path.stem))
    return meta


def load_document(path: Path, settings: Settings | None = None) -> Document:
    """Read and parse one file; raises CorpusError with a clear message."""
    settings = settings or get_settings()
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise CorpusError(path, f"unsupported file type {path.suffix!r} "
                                f"(supported: {', '.join(sorted(READERS))})")
    size = path.stat().st_size
    if size > settings.max_document_bytes:
        raise CorpusError(path, f"file is {size:,} bytes; the limit is "
                                f"{settings.max_document_bytes:,} (ASSISTANT_MAX_DOCUMENT_BYTES)")
    text = reader(path)
    raw, body, offset = split_front_matter(text, path)
    raw = {**_sidecar(path), **raw}
    meta = make_meta(raw, path, body)
    doc = parse_document(body, meta, path=str(path))
    if not doc.paragraphs:
        raise CorpusError(path, "no paragraphs found: the document has no text to index")
    return doc


def discover(paths: Iterable[Path], root: Path) -> tuple[list[Path], list[CorpusError]]:
    """Expand folders into files; refuse links that lead outside the corpus root."""
    files: list[Path] = []
    errors: list[CorpusError] = []
    root = root.resolve()
    for given in paths:
        candidates = sorted(p for p in given.rglob("*") if p.is_file() or p.is_symlink()) \
            if given.is_dir() else [given]
        for path in candidates:
            if path.name.startswith(".") or path.name.endswith(".json"):
                continue
            if path.name.lower() in ("readme.md", "readme.txt"):
                continue
            resolved = path.resolve()
            if path.is_symlink() and not resolved.is_relative_to(root):
                errors.append(CorpusError(path, f"symlink points outside the corpus ({resolved})"))
                continue
            if not resolved.exists():
                errors.append(CorpusError(path, "file not found"))
                continue
            if path.suffix.lower() not in READERS:
                errors.append(CorpusError(path, f"unsupported file type {path.suffix!r}"))
                continue
            files.append(path)
    return files, errors


def load_documents(paths: Iterable[Path] | None = None,
                   settings: Settings | None = None) -> LoadResult:
    settings = settings or get_settings()
    root = settings.corpus_dir
    files, errors = discover(list(paths) if paths else [root], root)
    result = LoadResult(errors=errors)
    seen: dict[str, Path] = {}
    for path in files:
        try:
            doc = load_document(path, settings)
        except CorpusError as exc:
            result.errors.append(exc)
            continue
        except (OSError, ValueError, RecursionError) as exc:
            result.errors.append(CorpusError(path, f"could not read: {exc}"))
            continue
        if doc.doc_id in seen:
            result.errors.append(CorpusError(
                path, f"doc_id {doc.doc_id!r} is already used by {seen[doc.doc_id]}"))
            continue
        seen[doc.doc_id] = path
        result.documents.append(doc)
    return result
