"""Embed passages and keep them in Chroma, through llama-index's ChromaVectorStore.

Every build writes a new *generation*: fresh Chroma collections (one for
passages, one for their sentences) that get the unchanged documents' vectors
copied over and the changed documents embedded anew. Only when it is complete
does ``index/state.json`` (replaced atomically) point to it. A crash or kill
mid-build therefore leaves the previous generation in place and answering; the
half-written collections are swept away by the next build. A file lock keeps
two builds from running at once.

Sentences live in their own collection so that passage search needs no
metadata filter: a filtered HNSW query in Chroma grows with the collection
(16x from 1x to 1000x the seed, in benchmarks/), an unfiltered one barely does.

Entry points: :func:`build_index` (write) and :class:`PassageIndex` (read).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from filelock import FileLock, Timeout
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.chroma import ChromaVectorStore

from assistant.chunking import document_passages, embedding_text
from assistant.config import Settings, get_settings
from assistant.corpus import CorpusError, load_documents
from assistant.domain import Passage
from assistant.textnorm import split_sentences

STATE_FILE = "state.json"
PARSER_VERSION = "3"  # bump to force re-indexing when parsing or chunking changes
INDEX_FORMAT = 2  # the layout of state.json and the collections; older ones are rebuilt
COPY_BATCH = 1000
SENTENCE = "sentence"


class IndexError_(RuntimeError):
    """Base for index problems that deserve a plain message, not a traceback."""


class IndexMissingError(IndexError_):
    pass


class IndexLockedError(IndexError_):
    pass


class ChromaUnavailableError(IndexError_):
    pass


class IndexWriteError(IndexError_):
    """Writing a new generation failed (disk full, server gone); the previous one stands."""


@dataclass
class IndexReport:
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[CorpusError] = field(default_factory=list)
    passages_embedded: int = 0
    sentences_embedded: int = 0
    passages_total: int = 0
    generation: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


def chroma_client(settings: Settings):
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        try:
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception as exc:  # chromadb raises several unrelated types here
            raise ChromaUnavailableError(
                f"cannot reach the Chroma server at {settings.chroma_url}: {exc}") from None
        return client
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.index_dir / "chroma"),
                                     settings=chroma_settings)


def read_state(settings: Settings) -> dict | None:
    path = settings.index_dir / STATE_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except ValueError:
        return None


def _write_state(settings: Settings, state: dict) -> None:
    path = settings.index_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), "utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _doc_hash(doc, model_name: str, max_chars: int) -> str:
    blob = json.dumps([doc.source, doc.meta.__dict__, model_name, max_chars, PARSER_VERSION],
                      ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def passage_node(passage: Passage, embedding: list[float]) -> TextNode:
    node = TextNode(
        id_=passage.passage_id,
        text=passage.text,
        embedding=embedding,
        metadata={
            "document": passage.doc_id,
            "kind": passage.kind,
            "paragraph": passage.paragraph or "",
            "footnote": passage.footnote or "",
            "content_hash": passage.content_hash,
            "passage_json": json.dumps(passage.to_dict(), ensure_ascii=False),
        },
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=passage.doc_id)
    return node


@dataclass
class Sentence:
    """A sentence of a passage, embedded on its own so answers can pick sentences
    across languages without embedding anything but the question at query time."""

    passage_id: str
    doc_id: str
    index: int
    start: int  # offsets in the passage text
    end: int
    text: str

    def node(self, embedding: list[float]) -> TextNode:
        node = TextNode(id_=f"{self.passage_id}~s{self.index}", text=self.text,
                        embedding=embedding,
                        metadata={"document": self.doc_id, "kind": SENTENCE,
                                  "passage": self.passage_id, "start": self.start,
                                  "end": self.end})
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=self.doc_id)
        return node


def passage_sentences(passages: list[Passage]) -> list[Sentence]:
    out = []
    for p in passages:
        spans = split_sentences(p.text)
        if len(spans) < 2:
            continue  # the passage vector already stands for its only sentence
        for i, (start, end) in enumerate(spans):
            out.append(Sentence(p.passage_id, p.doc_id, i, start, end, p.text[start:end]))
    return out


def passage_from_metadata(meta: dict) -> Passage:
    data = json.loads(meta["passage_json"])
    return Passage(**data)


def model_name(settings: Settings) -> str:
    from assistant.embedding import E5_MODEL_NAME

    return settings.embed_model or E5_MODEL_NAME


def build_index(
    paths: Iterable[Path] | None = None,
    settings: Settings | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    lock_timeout: float = 0,
) -> IndexReport:
    """Bring the index up to date with the corpus (or with the given files)."""
    settings = settings or get_settings()
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.index_dir / "index.lock"))
    try:
        lock.acquire(timeout=lock_timeout)
    except Timeout:
        raise IndexLockedError(
            f"another 'assistant index' is running on {settings.index_dir}; "
            "wait for it to finish (or pass --wait SECONDS)") from None
    try:
        return _build(paths, settings, on_progress)
    except IndexWriteError:
        _forget_engine(settings)
        raise
    except IndexError_:
        raise
    except Exception as exc:  # Chroma or the disk failed outside the generation write
        _forget_engine(settings)
        raise IndexWriteError(f"indexing failed ({type(exc).__name__}: {exc}"
                              f"{_free_space(settings)}); the previous index is unchanged"
                              ) from exc
    finally:
        lock.release()


def _free_space(settings: Settings) -> str:
    """Chroma's errors seldom say "disk full"; the free space tells the user."""
    if settings.chroma_url:
        return ""
    try:
        free = shutil.disk_usage(settings.index_dir).free
    except OSError:
        return ""
    return f"; {free / 1e6:.1f} MB free on the disk holding {settings.index_dir}"


def _forget_engine(settings: Settings) -> None:
    """Drop this process's embedded Chroma engine for the index folder.

    After a failed write (a full disk, say) the engine in this process can block
    forever on its next read, while the files on disk still hold the previous
    generation intact: a new engine reads them fine. Chroma keeps one engine per
    folder per process, so the next client we open must not get the old one.
    """
    if settings.chroma_url:
        return
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(settings.index_dir / "chroma"), None)
    SharedSystemClient._identifier_to_refcount.pop(str(settings.index_dir / "chroma"), None)


def _build(paths, settings: Settings, on_progress) -> IndexReport:
    started = time.perf_counter()
    whole_corpus = not paths
    loaded = load_documents(paths, settings)
    report = IndexReport(errors=loaded.errors)
    state = read_state(settings) or {}
    if state.get("format") != INDEX_FORMAT:  # none yet, or an older layout: start afresh
        state = {"generation": state.get("generation", 0), "documents": {}}
    name = model_name(settings)
    max_chars = settings.max_passage_chars
    client = chroma_client(settings)
    old = Generation.open(client, state)
    _sweep(client, settings, keep=old.names if old else ())

    documents = dict(state["documents"])
    changed = []
    for doc in loaded.documents:
        digest = _doc_hash(doc, name, max_chars)
        prior = documents.get(doc.doc_id)
        if old is not None and prior and prior["hash"] == digest:
            report.unchanged.append(doc.doc_id)
        else:
            changed.append((doc, digest))
    if whole_corpus:
        # The corpus is what loaded now: a document whose file is gone, or whose
        # file now holds another doc_id, leaves the index. One whose file failed
        # to parse keeps its previous version, so a bad edit loses nothing.
        failed = {str(Path(e.path).resolve()) for e in loaded.errors}
        present = {d.doc_id for d in loaded.documents}
        for doc_id, info in state["documents"].items():
            path = Path(info.get("path", ""))
            if doc_id not in present and str(path.resolve()) not in failed:
                report.removed.append(doc_id)
                documents.pop(doc_id)

    if not changed and not report.removed:
        report.generation = state["generation"]
        report.passages_total = old.passages.count() if old is not None else 0
        report.seconds = time.perf_counter() - started
        return report

    generation = state["generation"] + 1
    new = None
    try:
        new = Generation.create(client, settings, generation, name)
        _write_generation(old, new, changed, documents, report, settings, on_progress)
        write_state(settings, new, name, documents)
    except (Exception, KeyboardInterrupt) as exc:
        try:  # leave no half generation behind; if this fails too, the next run sweeps it
            _sweep(client, settings, keep=old.names if old else ())
        except Exception:
            pass
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise IndexWriteError(
            f"writing the index failed ({type(exc).__name__}: {exc}{_free_space(settings)}); "
            f"the previous index (generation {state['generation']}) is unchanged") from exc
    report.generation = generation
    _sweep(client, settings, keep=new.names)
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class Generation:
    """One complete index: a passage collection and its sentence collection."""

    number: int
    passages: object  # chromadb Collection
    sentences: object

    @property
    def names(self) -> tuple[str, str]:
        return self.passages.name, self.sentences.name

    @staticmethod
    def names_for(settings: Settings, number: int) -> tuple[str, str]:
        base = f"{settings.collection_prefix}_g{number:06d}"
        return base, f"{base}_sentences"

    @classmethod
    def create(cls, client, settings: Settings, number: int, model: str) -> Generation:
        made = [client.create_collection(n, configuration={"hnsw": {"space": "cosine"}},
                                         metadata={"model": model}, embedding_function=None)
                for n in cls.names_for(settings, number)]
        return cls(number, *made)

    @classmethod
    def open(cls, client, state: dict) -> Generation | None:
        """The generation state.json names, or None if it is missing or incomplete."""
        passages = _get_collection(client, state.get("collection"))
        sentences = _get_collection(client, state.get("sentences"))
        if passages is None or sentences is None:
            return None
        return cls(int(state["generation"]), passages, sentences)


def write_state(settings: Settings, generation: Generation, model: str,
                documents: dict) -> None:
    """Make `generation` the current index (atomically)."""
    passages, sentences = generation.names
    _write_state(settings, {"format": INDEX_FORMAT, "generation": generation.number,
                            "collection": passages, "sentences": sentences, "model": model,
                            "documents": documents,
                            "updated": time.strftime("%Y-%m-%dT%H:%M:%S")})


def _write_generation(old: Generation | None, new: Generation, changed, documents, report,
                      settings, on_progress) -> None:
    store = ChromaVectorStore(chroma_collection=new.passages)
    sentence_store = ChromaVectorStore(chroma_collection=new.sentences)
    replaced = {doc.doc_id for doc, _ in changed} | set(report.removed)
    if old is not None:
        _copy_unchanged(old.passages, new.passages, skip=replaced)
        _copy_unchanged(old.sentences, new.sentences, skip=replaced)

    from assistant.embedding import embed_passages, load_embedder

    max_chars = settings.max_passage_chars

    to_embed = [(doc, digest, document_passages(doc, max_chars)) for doc, digest in changed]
    total = sum(len(p) + len(passage_sentences(p)) for _, _, p in to_embed)
    done = 0
    model = load_embedder(settings) if total else None
    for doc, digest, passages in to_embed:
        sentences = passage_sentences(passages)
        texts = [embedding_text(p) for p in passages] + [s.text for s in sentences]
        vectors = embed_passages(
            model, texts, settings.embed_batch_size,
            on_batch=(lambda n, base=done: on_progress and on_progress(base + n, total)),
        )
        store.add([passage_node(p, v.tolist()) for p, v in zip(passages, vectors, strict=False)])
        sentence_store.add([s.node(v.tolist()) for s, v in
                            zip(sentences, vectors[len(passages):], strict=True)])
        done += len(texts)
        report.passages_embedded += len(passages)
        report.sentences_embedded += len(sentences)
        documents[doc.doc_id] = {"hash": digest, "path": doc.path, "passages": len(passages),
                                 "title": doc.meta.title(), "language": doc.meta.language}
        report.indexed.append(doc.doc_id)
    report.passages_total = new.passages.count()


def _get_collection(client, name: str | None):
    if not name:
        return None
    try:
        return client.get_collection(name, embedding_function=None)
    except Exception:  # missing collection: treat the index as empty
        return None


def _copy_unchanged(old, new, skip: set[str]) -> None:
    offset = 0
    while True:
        batch = old.get(include=["embeddings", "documents", "metadatas"],
                        limit=COPY_BATCH, offset=offset)
        if not batch["ids"]:
            return
        keep = [i for i, meta in enumerate(batch["metadatas"]) if meta.get("document") not in skip]
        if keep:
            new.add(ids=[batch["ids"][i] for i in keep],
                    embeddings=[batch["embeddings"][i] for i in keep],
                    documents=[batch["documents"][i] for i in keep],
                    metadatas=[batch["metadatas"][i] for i in keep])
        offset += len(batch["ids"])


def _sweep(client, settings: Settings, keep: Iterable[str]) -> None:
    """Drop generations that no state points to (left by a crashed or finished build)."""
    prefix = f"{settings.collection_prefix}_g"
    keep = set(keep)
    for coll in client.list_collections():
        cname = coll if isinstance(coll, str) else coll.name
        if cname.startswith(prefix) and cname not in keep:
            try:
                client.delete_collection(cname)
            except Exception:  # another reader may hold it; next build retries
                pass


class PassageIndex:
    """Read side: the current generation's passages and its dense search."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.state = read_state(self.settings)
        if not self.state or not self.state.get("collection"):
            raise IndexMissingError(
                f"no index in {self.settings.index_dir}; run 'assistant index' first")
        if self.state.get("format") != INDEX_FORMAT:
            raise IndexMissingError(
                f"the index in {self.settings.index_dir} was built by an older version; "
                "run 'assistant index' to rebuild it")
        self.client = chroma_client(self.settings)
        current = Generation.open(self.client, self.state)
        if current is None:
            raise IndexMissingError(
                f"the collections of index generation {self.state['generation']} are "
                "missing; run 'assistant index' to rebuild it")
        self.collection, self.sentences = current.passages, current.sentences
        self.store = ChromaVectorStore(chroma_collection=self.collection)
        self.passages: dict[str, Passage] = self._load_passages()
        self.by_paragraph: dict[tuple[str, str], list[str]] = {}
        for pid, passage in self.passages.items():
            if passage.paragraph:
                self.by_paragraph.setdefault((passage.doc_id, passage.paragraph), []).append(pid)

    def _load_passages(self) -> dict[str, Passage]:
        passages: dict[str, Passage] = {}
        offset = 0
        while True:
            batch = self.collection.get(include=["metadatas"], limit=COPY_BATCH,
                                        offset=offset)
            if not batch["ids"]:
                break
            for meta in batch["metadatas"]:
                passage = passage_from_metadata(meta)
                passages[passage.passage_id] = passage
            offset += len(batch["ids"])
        return passages

    @property
    def generation(self) -> int:
        return int(self.state["generation"])

    def dense_search(self, embedding: list[float], k: int) -> list[tuple[Passage, float]]:
        k = min(k, len(self.passages))
        if k <= 0:
            return []
        try:
            result = self.store.query(VectorStoreQuery(query_embedding=embedding,
                                                       similarity_top_k=k))
        except Exception as exc:  # server down mid-query and the like
            raise ChromaUnavailableError(f"vector search failed: {exc}") from None
        hits = []
        for node_id, sim in zip(result.ids or [], result.similarities or [], strict=False):
            passage = self.passages.get(node_id)
            if passage is not None:
                # llama-index reports exp(-distance); with cosine space, distance = 1 - cos.
                hits.append((passage, 1.0 + math.log(max(sim, 1e-12))))
        return hits

    def sentence_vectors(self, passage_ids: list[str]) -> dict[str, list[tuple[int, int, list]]]:
        """Precomputed sentence vectors of the given passages: id -> [(start, end, vector)]."""
        if not passage_ids:
            return {}
        passage_ids = list(dict.fromkeys(passage_ids))
        try:
            got = self.sentences.get(where={"passage": {"$in": list(passage_ids)}},
                                     include=["embeddings", "metadatas"])
        except Exception as exc:
            raise ChromaUnavailableError(f"vector store failed: {exc}") from None
        out: dict[str, list[tuple[int, int, list]]] = {}
        for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
            out.setdefault(meta["passage"], []).append((meta["start"], meta["end"], vector))
        # A one-sentence passage has no sentence records: its own vector stands in.
        missing = [pid for pid in passage_ids if pid not in out and pid in self.passages]
        if missing:
            whole = self.collection.get(ids=missing, include=["embeddings"])
            for pid, vector in zip(whole["ids"], whole["embeddings"], strict=True):
                out[pid] = [(0, len(self.passages[pid].text), vector)]
        for spans in out.values():
            spans.sort(key=lambda t: t[0])
        return out

    def documents(self) -> dict[str, dict]:
        return self.state.get("documents", {})

    def document_passages(self, doc_id: str) -> list[Passage]:
        return [p for p in self.passages.values() if p.doc_id == doc_id]
