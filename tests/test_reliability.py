"""Bad input, faults and confinement: nothing lost, nothing executed, clear messages."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, env_for, make_settings, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.corpus import load_documents
from assistant.domain import DocumentMeta
from assistant.index import IndexWriteError, PassageIndex, build_index, read_state
from assistant.parsing import parse_document
from assistant.pipeline import QuestionError
from assistant.textnorm import normalize

SEED = REPO / "corpus" / "gcm-arab-review-2-session-5-background-note.ar.md"


# --- bad questions ---------------------------------------------------------------------

BAD_QUESTIONS = {
    "100k characters": "What did Qatar sign in 2024? " * 3500,
    "punctuation only": "?!?.,;:!!",
    "emoji only": "🙂🌍✈️🙂",
    "control characters": "When\x07 did\x1b the\x00 Abu Dhabi Dialogue meet?",
    "invalid surrogates": "What is the Khartoum Process?\ud800\udfff\udc00",
    "mixed scripts": "When did حوار أبو ظبي hold its السابعة ministerial meeting?",
    "right-to-left override": "\u202eWhich countries are champion countries?\u202c",
    "zero-width and bidi marks": "\u200fمتى\u200b عقد حوار أبو ظبي مشاورته\u2066 السابعة؟",
}


@pytest.mark.parametrize("name", list(BAD_QUESTIONS))
def test_bad_questions_get_an_answer_or_a_message(seed_assistant, name):
    answer = seed_assistant.ask(BAD_QUESTIONS[name])
    assert answer.text and answer.language in ("ar", "en")
    assert len(answer.rewritten_question) <= seed_assistant.settings.max_question_chars
    for c in answer.citations:
        assert "\x00" not in c.quote


def test_bad_questions_through_the_cli_never_show_a_traceback(seed_settings):
    for question in ["", "\x01\x02"]:  # each run loads the model: keep them few
        result = run_cli("ask", question, settings=seed_settings)
        assert "Traceback" not in result.stderr
        assert result.returncode == 0 or "Please type a question" in result.stderr
    # NUL cannot travel in argv; through --batch it can.
    import json

    questions = ["\x00", "a\x00b?", "\ud800", "?" * 10, "🙂"]
    lines = "\n".join(json.dumps({"question": q}) for q in questions)
    result = run_cli("ask", "--batch", "-", input=lines, settings=seed_settings)
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(outputs) == 5 and "Please type a question" in outputs[0]["error"]
    assert all("answer" in out for out in outputs[3:]) and "answer" in outputs[1]
    assert "Traceback" not in result.stderr


def test_empty_question_message_names_the_problem(seed_assistant):
    with pytest.raises(QuestionError) as err:
        seed_assistant.ask(" \u200b\u202e ")
    assert "Please type a question" in str(err.value) and "يرجى كتابة سؤال" in str(err.value)


# --- bad documents ----------------------------------------------------------------------

def write_bad_corpus(corpus: Path, outside: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / "good.md").write_text("# Good\n\nThe shelter housed 75 families in 2023.\n", "utf-8")
    (corpus / "binary.md").write_bytes(bytes(range(256)) * 64)
    (corpus / "invalid-utf8.md").write_bytes(b"# Title\n\nline two\n\xc3\x28 broken\n")
    with open(corpus / "huge.md", "wb") as fh:  # 50 MB
        fh.truncate(50 * 1024 * 1024)
        fh.seek(0)
        fh.write(b"# Huge\n\n")
    (corpus / "no-paragraphs.md").write_text("# Only\n\n## Headings\n", "utf-8")
    (corpus / "footnotes.md").write_text(
        "# Notes\n\nA claim with a missing note.[^9]\n\nAnother claim.[^1]\n\n"
        "[^1]: First.\n\n[^1]: Duplicate number.\n\n[^5]: Never referenced.\n", "utf-8")
    nested = "\n".join("  " * depth + f"- level {depth} item" for depth in range(60))
    (corpus / "nested.md").write_text(f"# Nested\n\n{nested}\n", "utf-8")
    (corpus / "html.md").write_text(
        "# HTML\n\n<script>window.__pwned = 1</script> The <b>office</b> opened "
        "<img src=x onerror=alert(1)> in Tunis.\n", "utf-8")
    outside.write_text("# Outside\n\nSecret text that must not be indexed.\n", "utf-8")
    (corpus / "escape.md").symlink_to(outside)


def test_bad_documents_are_reported_and_the_rest_indexed(tmp_path):
    corpus = tmp_path / "corpus"
    write_bad_corpus(corpus, tmp_path / "outside.md")
    settings = make_settings(tmp_path)
    result = run_cli("index", settings=settings)
    assert result.returncode == 2, result.stderr
    err = result.stderr
    expected = {
        "binary.md": "binary data",
        "invalid-utf8.md:4": "invalid UTF-8",
        "huge.md": "the limit is",
        "no-paragraphs.md": "no paragraphs found",
        "escape.md": "symlink points outside the corpus",
    }
    for where, what in expected.items():
        line = next((ln for ln in err.splitlines() if where in ln), "")
        assert what in line, (where, err)
    assert "Traceback" not in err
    index = PassageIndex(settings)
    docs = {p.doc_id for p in index.passages.values()}
    assert docs == {"good", "footnotes", "nested", "html"}
    texts = " ".join(p.text for p in index.passages.values())
    assert "Secret text" not in texts
    # HTML is kept as literal text: it is content, rendered escaped by the interfaces.
    assert "<script>window.__pwned = 1</script>" in texts and "onerror=alert(1)" in texts
    nested = [p for p in index.passages.values() if p.doc_id == "nested"]
    assert len(nested) == 60


def test_footnote_problems_are_warnings_with_the_document_indexed(tmp_path):
    write_bad_corpus(tmp_path / "corpus", tmp_path / "outside.md")
    loaded = load_documents([tmp_path / "corpus" / "footnotes.md"], make_settings(tmp_path))
    doc = loaded.documents[0]
    assert set(doc.footnotes) == {"1", "1-2", "5"}
    assert doc.paragraph("2").footnotes == ["1"] and doc.paragraph("1").footnotes == []
    assert len(doc.warnings) == 4  # missing 9, duplicate 1, unreferenced 5 and 1-2


# --- faults -----------------------------------------------------------------------------

def _collections(settings) -> int:
    from assistant.index import chroma_client

    return len(chroma_client(settings).list_collections())


@pytest.mark.slow
def test_sigkill_at_random_points_never_loses_the_index(tmp_path):
    """Kill `assistant index` 20 times at random moments (fixed seed)."""
    rng = random.Random(20261129)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPO / "tests/data/numbered-resolution.en.md", corpus)
    settings = make_settings(tmp_path)
    build_index(settings=settings)
    from assistant.pipeline import Assistant

    question = "When did the regional framework on skills recognition enter into force?"
    expected = Assistant(settings, llm=False).ask(question).citations[0].passage_id
    seed_text = SEED.read_text("utf-8")
    kills = 0
    for round_ in range(20):
        # Always give the run real work: a changed copy of the seed note.
        (corpus / "seed.md").write_text(seed_text.replace("doc_id: gcm-arab-rr2-s5-note",
                                                          f"doc_id: seed-{round_}"), "utf-8")
        before = read_state(settings)
        proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "index"],
                                env=env_for(settings), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 14.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        state = read_state(settings)
        assert state is not None
        assert state == before or state["generation"] == before["generation"] + 1
        bot = Assistant(settings, llm=False)  # whatever generation is current answers
        assert bot.ask(question).citations[0].passage_id == expected
    assert kills >= 10, f"only {kills} runs were still going when killed"
    final = build_index(settings=settings)
    assert final.ok and _collections(settings) == 2  # one generation: passages, sentences
    assert {p.doc_id for p in PassageIndex(settings).passages.values()} == {
        "test-resolution", "seed-19"}


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=900k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_during_indexing_loses_nothing(tmp_path, small_disk):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPO / "tests/data/numbered-resolution.en.md", corpus)
    settings = make_settings(tmp_path).model_copy(update={"index_dir": small_disk / "index"})
    build_index(settings=settings)
    before = read_state(settings)
    for i in range(3):  # far more than the disk can take
        text = SEED.read_text("utf-8").replace("doc_id: gcm-arab-rr2-s5-note", f"doc_id: s{i}")
        (corpus / f"seed-{i}.md").write_text(text, "utf-8")
    with pytest.raises(IndexWriteError, match="previous index .* is unchanged"):
        build_index(settings=settings)
    assert read_state(settings) == before
    index = PassageIndex(settings)
    assert {p.doc_id for p in index.passages.values()} == {"test-resolution"}
    from assistant.pipeline import Assistant

    answer = Assistant(settings, llm=False).ask(
        "When did the regional framework on skills recognition enter into force?")
    assert answer.citations and answer.citations[0].doc_id == "test-resolution"
    result = run_cli("index", settings=settings)
    assert result.returncode == 1 and "MB free on the disk holding" in result.stderr
    assert "the previous index" in result.stderr and "is unchanged" in result.stderr
    assert "Traceback" not in result.stderr


# --- confinement ------------------------------------------------------------------------

def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_nothing_is_written_outside_corpus_index_and_cache(tmp_path):
    """Run index, ask and eval with HOME, TMPDIR and the working directory in watched
    folders: only the index (and the eval's own --json output) may appear."""
    home, tmp, work = tmp_path / "home", tmp_path / "tmp", tmp_path / "work"
    for d in (home, tmp, work):
        d.mkdir()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPO / "tests/data/numbered-resolution.en.md", corpus)
    settings = make_settings(tmp_path)
    env = env_for(settings)
    env.update(HOME=str(home), TMPDIR=str(tmp), XDG_CACHE_HOME=str(home / ".cache"))
    env.pop("MPLCONFIGDIR", None)
    repo_before = _snapshot(REPO / "assistant")
    cli = [sys.executable, "-m", "assistant.cli"]
    eval_set = tmp_path / "set.jsonl"
    eval_set.write_text('{"id": "x", "lang": "en", "question": "When did the regional '
                        'framework on skills recognition enter into force?", '
                        '"answerable": true, "facts": [["2024"]], '
                        '"evidence": ["regional framework"]}\n', "utf-8")
    for args in (["index"], ["ask", "When did the skills recognition framework start?"],
                 ["eval", "--set", str(eval_set), "--json", str(work / "run.json"),
                  "--report", str(work / "report.md")]):
        result = subprocess.run(cli + args, cwd=work, env=env, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr
    assert _snapshot(home) == set() and _snapshot(tmp) == set()
    assert _snapshot(work) == {"run.json", "report.md", "report.png"}
    assert _snapshot(REPO / "assistant") - repo_before <= {
        p for p in _snapshot(REPO / "assistant") if "__pycache__" in p}
    assert (settings.index_dir / "state.json").exists()


# --- fuzzing the parser and the normaliser ------------------------------------------

VOCAB = ["الهجرة", "التعاون", "مصر", "حوار", "migration", "compact", "review", "Rabat",
         "sixteen", "2024", "٢٠٢٣"]
MARKUP = ["\n", "\n\n", "\n\n", "# ", "## ", "- ", "  - ", "**", ":", ".", "؟", " ",
          "<sup>1</sup>", "[^2]", "\n\n[^2]: ", "\n\n<sup>1</sup> ", "12. ", "(a) ",
          "\n\n<!-- page: 3 -->\n\n", "<script>x</script>", "<https://example.org/a>"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(VOCAB + MARKUP), max_size=80))
def test_fuzz_parser_never_crashes_and_never_loses_words(pieces):
    source = "".join(p if p in MARKUP else f" {p} " for p in pieces)
    doc = parse_document(source, DocumentMeta(doc_id="fuzz"))
    out = " ".join([p.text for p in doc.paragraphs] + [f.text for f in doc.footnotes.values()]
                   + [h[0] for h in doc.headings])
    for word in set(VOCAB):
        assert out.count(word) >= source.count(word), word


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_normaliser_never_crashes_and_keeps_letters(text):
    norm = normalize(text)
    assert normalize(norm) == norm
    letters = [c for c in text if c.isascii() and c.isalnum()]
    assert all(c.lower() in norm for c in letters)


def test_chat_stays_up_when_the_chroma_server_goes_down(tmp_path, chroma_server):
    import urllib.request

    from conftest import free_port
    from gradio_client import Client
    from test_chat_concurrency import Transcript

    from assistant.chat import build_app
    from assistant.pipeline import Assistant

    url, proc = chroma_server
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPO / "tests/data/numbered-resolution.en.md", corpus)
    settings = make_settings(tmp_path, chroma_url=url)
    build_index(settings=settings)
    demo = build_app(Assistant(settings, llm=False))
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    app = f"http://127.0.0.1:{port}/"
    question = "When did the regional framework on skills recognition enter into force?"
    try:
        client = Client(app, verbose=False)
        _, chat, _ = client.predict(question, api_name="/ask")
        assert "March 2024" in Transcript(chat).messages[-1]["text"]
        proc.terminate()
        proc.wait(timeout=10)
        _, chat, _ = client.predict(question, api_name="/ask")
        last = Transcript(chat).messages[-1]
        assert "ChromaUnavailableError" in last["text"] and "vector search failed" in last["text"]
        assert 'class="qa-msg qa-assistant qa-error"' in chat or "qa-error" in chat
        # The app itself is still serving pages and answering requests.
        assert urllib.request.urlopen(app, timeout=10).status == 200
        _, again, _ = client.predict("anything else?", api_name="/ask")
        messages = Transcript(again).messages
        assert messages[-2]["text"] == "anything else?" and "qa-error" in again
        client.close()
    finally:
        demo.close()
