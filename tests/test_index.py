"""Indexing: real Chroma, the real converted model, incremental runs, bad input, recovery."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, env_for, make_settings, run_cli
from filelock import FileLock

from assistant.corpus import load_documents
from assistant.index import (
    ChromaUnavailableError,
    IndexLockedError,
    IndexMissingError,
    PassageIndex,
    build_index,
    read_state,
)

DATA = Path(__file__).parent / "data"


def small_corpus(root: Path) -> Path:
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    shutil.copy(DATA / "numbered-resolution.en.md", corpus)
    (corpus / "note.md").write_text(
        "# Note\n\nThe pilot programme trained 240 labour inspectors in 2022.\n\n"
        "A second phase is planned in two more provinces.\n", "utf-8")
    return corpus


def test_seed_index_structure(seed_settings):
    index = PassageIndex(seed_settings)
    paragraphs = {p.paragraph for p in index.passages.values() if p.kind != "footnote"}
    assert paragraphs == {str(i) for i in range(1, 19)}
    notes = {p.footnote: p for p in index.passages.values() if p.kind == "footnote"}
    assert set(notes) == {"1", "2", "3", "4", "5", "6"}
    assert notes["6"].cited_by == ["12"]
    p8 = next(p for p in index.passages.values() if p.paragraph == "8")
    assert p8.footnotes == ["1", "2", "3", "4", "5"]
    for p in index.passages.values():
        assert p.doc_id == "gcm-arab-rr2-s5-note" and p.language == "ar" and p.title
        assert p.section and p.content_hash and p.end > p.start


def test_dense_search_finds_the_paragraph(seed_settings, embedder):
    from assistant.embedding import embed_query

    index = PassageIndex(seed_settings)
    vector = embed_query(embedder, "عدد الشبكات الوطنية للأمم المتحدة المعنية بالهجرة").tolist()
    hits = index.dense_search(vector, 3)
    assert hits[0][0].paragraph == "12"
    assert 0.5 < hits[0][1] <= 1.0  # a cosine, not llama-index's exp(-distance)


def test_corpus_show_json(seed_settings):
    result = run_cli("corpus", "show", "gcm-arab-rr2-s5-note", "--json", settings=seed_settings)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    numbers = [p["number"] for p in doc["paragraphs"]]
    assert numbers == [str(i) for i in range(1, 19)]
    by_number = {p["number"]: p for p in doc["paragraphs"]}
    assert by_number["8"]["footnotes"] == ["1", "2", "3", "4", "5"]
    assert by_number["12"]["footnotes"] == ["6"]
    assert "وإدارة استخدام العمالة من جمهورية أوغندا" in by_number["11"]["text"]
    assert all(p["section"] for p in doc["paragraphs"])
    notes = {f["number"]: f for f in doc["footnotes"]}
    assert notes["3"]["cited_by"] == ["8"] and "abudhabidialogue.org" in notes["3"]["text"]
    one = json.loads(run_cli("corpus", "show", "gcm-arab-rr2-s5-note", "--paragraph", "12",
                             "--json", settings=seed_settings).stdout)
    assert [p["number"] for p in one["paragraphs"]] == ["12"]
    assert [f["number"] for f in one["footnotes"]] == ["6"]
    listing = json.loads(run_cli("corpus", "list", "--json", settings=seed_settings).stdout)
    assert listing[0]["doc_id"] == "gcm-arab-rr2-s5-note" and listing[0]["footnotes"] == 6


def test_incremental_reindex(tmp_path):
    corpus = small_corpus(tmp_path)
    settings = make_settings(tmp_path)
    first = build_index(settings=settings)
    assert sorted(first.indexed) == ["note", "test-resolution"] and first.passages_embedded > 0

    again = build_index(settings=settings)
    assert again.passages_embedded == 0 and again.indexed == []
    assert sorted(again.unchanged) == ["note", "test-resolution"]
    assert again.generation == first.generation

    note = corpus / "note.md"
    note.write_text(note.read_text("utf-8").replace("240", "310"), "utf-8")
    changed = build_index(settings=settings)
    assert changed.indexed == ["note"] and changed.unchanged == ["test-resolution"]
    index = PassageIndex(settings)
    texts = [p.text for p in index.passages.values()]
    assert any("310 labour inspectors" in t for t in texts)
    assert not any("240 labour inspectors" in t for t in texts)

    # Same file, new doc_id: the old document leaves, the new one comes in.
    note.write_text("---\ndoc_id: renamed\n---\n" + note.read_text("utf-8"), "utf-8")
    renamed = build_index(settings=settings)
    assert renamed.indexed == ["renamed"] and renamed.removed == ["note"]
    note.unlink()
    removed = build_index(settings=settings)
    assert removed.removed == ["renamed"]
    assert {p.doc_id for p in PassageIndex(settings).passages.values()} == {"test-resolution"}
    # Old generations are swept: only the current collection is left.
    from assistant.index import chroma_client

    names = sorted(c if isinstance(c, str) else c.name
                   for c in chroma_client(settings).list_collections())
    state = read_state(settings)
    assert names == sorted([state["collection"], state["sentences"]])


def test_malformed_documents_do_not_stop_the_rest(tmp_path):
    corpus = small_corpus(tmp_path)
    (corpus / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    (corpus / "latin1.md").write_bytes("# Titre\n\nCaf\xe9 cr\xe8me.\n".encode("latin-1"))
    (corpus / "empty.md").write_text("---\ndoc_id: empty\n---\n\n", "utf-8")
    (corpus / "bad-front.md").write_text("---\ndoc_id: [unclosed\n---\n\nText.\n", "utf-8")
    (corpus / "notes.pages").write_text("unsupported", "utf-8")
    outside = tmp_path / "secret.md"
    outside.write_text("# Secret\n\nNot part of the corpus.\n", "utf-8")
    (corpus / "link.md").symlink_to(outside)
    settings = make_settings(tmp_path)

    result = run_cli("index", settings=settings)
    assert result.returncode == 2
    err = result.stderr
    assert "binary.md" in err and "binary data" in err
    assert "latin1.md:3" in err and "invalid UTF-8" in err
    assert "empty.md" in err and "no paragraphs" in err
    assert "bad-front.md:2" in err and "front matter" in err
    assert "notes.pages" in err and "unsupported file type" in err
    assert "link.md" in err and "outside the corpus" in err
    assert "indexed 2" in result.stdout and "failed 6" in result.stdout
    assert {p.doc_id for p in PassageIndex(settings).passages.values()} == {
        "note", "test-resolution"}
    assert not any("Secret" in p.text for p in PassageIndex(settings).passages.values())


def test_a_document_broken_by_an_edit_keeps_its_previous_version(tmp_path):
    corpus = small_corpus(tmp_path)
    settings = make_settings(tmp_path)
    build_index(settings=settings)
    (corpus / "note.md").write_bytes(b"\xff\xfe broken \x00")
    report = build_index(settings=settings)
    assert report.errors and report.removed == []
    assert any(p.doc_id == "note" for p in PassageIndex(settings).passages.values())


def test_second_index_run_refuses_while_locked(tmp_path):
    small_corpus(tmp_path)
    settings = make_settings(tmp_path)
    settings.index_dir.mkdir(parents=True)
    with FileLock(str(settings.index_dir / "index.lock")):
        with pytest.raises(IndexLockedError, match="another 'assistant index' is running"):
            build_index(settings=settings)
        result = run_cli("index", settings=settings)
        assert result.returncode == 1 and "another 'assistant index' is running" in result.stderr


def test_missing_index_gives_a_clear_message(tmp_path):
    settings = make_settings(tmp_path)
    with pytest.raises(IndexMissingError, match="run 'assistant index' first"):
        PassageIndex(settings)
    result = run_cli("ask", "anything", settings=settings)
    assert result.returncode == 1 and "run 'assistant index' first" in result.stderr
    assert "Traceback" not in result.stderr


def test_killed_index_run_leaves_previous_index_usable(tmp_path):
    corpus = small_corpus(tmp_path)
    settings = make_settings(tmp_path)
    build_index(settings=settings)
    before = read_state(settings)
    # A big change so the second run is still embedding when it is killed.
    shutil.copy(REPO / "corpus" / "gcm-arab-review-2-session-5-background-note.ar.md", corpus)
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "index"],
                            env=env_for(settings), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    from assistant.index import chroma_client

    # Kill once the new generation's collections exist, i.e. mid-build.
    while time.monotonic() < deadline and proc.poll() is None:
        names = [c if isinstance(c, str) else c.name
                 for c in chroma_client(settings).list_collections()]
        if len(names) > 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert read_state(settings) == before
    index = PassageIndex(settings)
    assert {p.doc_id for p in index.passages.values()} == {"note", "test-resolution"}
    report = build_index(settings=settings)
    assert "gcm-arab-rr2-s5-note" in report.indexed
    assert len({p.doc_id for p in PassageIndex(settings).passages.values()}) == 3


def test_chroma_server_mode(tmp_path, chroma_server):
    url, proc = chroma_server
    small_corpus(tmp_path)
    settings = make_settings(tmp_path, chroma_url=url)
    report = build_index(settings=settings)
    assert sorted(report.indexed) == ["note", "test-resolution"]
    assert not (settings.index_dir / "chroma").exists()  # vectors live in the server
    from assistant.pipeline import Assistant

    bot = Assistant(settings, llm=False)
    answer = bot.ask("How many labour inspectors did the pilot programme train?")
    assert not answer.abstained and answer.citations[0].doc_id == "note"
    assert build_index(settings=settings).passages_embedded == 0
    proc.terminate()
    proc.wait(timeout=10)
    with pytest.raises(ChromaUnavailableError):
        bot.ask("How many labour inspectors did the pilot programme train?")
    result = run_cli("ask", "labour inspectors?", settings=settings)
    assert result.returncode == 1 and "Chroma server" in result.stderr


def test_corpus_loader_reports_parse_warnings(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "w.md").write_text("Cites a ghost.[^7]\n\n[^2]: Orphan note.\n", "utf-8")
    loaded = load_documents(settings=make_settings(tmp_path))
    assert not loaded.errors
    warnings = " ".join(loaded.documents[0].warnings)
    assert "marker 7 has no definition" in warnings and "never referenced" in warnings
