"""Settings, read from ASSISTANT_* environment variables (and a .env file)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=".env", extra="ignore")

    corpus_dir: Path = REPO_ROOT / "corpus"
    index_dir: Path = REPO_ROOT / "index"
    cache_dir: Path = REPO_ROOT / ".cache"
    prompts_dir: Path = REPO_ROOT / "prompts"

    # Any sentence-transformers id or path; empty means the bundled E5 model.
    embed_model: str = ""
    embed_batch_size: int = 16

    chroma_url: str = ""  # e.g. http://127.0.0.1:8000 ; empty = embedded
    collection_prefix: str = "passages"

    llm_url: str = ""
    llm_model: str = ""
    llm_api_key: str = "not-needed"
    llm_timeout_s: float = 30.0

    # Passages longer than this many characters are split into sentence windows.
    max_passage_chars: int = 1200
    # Questions are cut to this many characters before embedding.
    max_question_chars: int = 2000
    max_upload_bytes: int = 2_000_000
    max_document_bytes: int = 10_000_000

    top_k: int = 5
    auth_user: str = ""
    auth_password: str = ""


def confine_writes(settings: Settings) -> None:
    """Point the libraries' own caches and temp files into our cache folder, so that
    nothing is written outside corpus/, index/ and the cache directory."""
    cache = settings.cache_dir.resolve()
    for var, sub in (("MPLCONFIGDIR", "matplotlib"), ("GRADIO_TEMP_DIR", "gradio"),
                     ("HF_HOME", "huggingface"), ("TORCHINDUCTOR_CACHE_DIR", "torch"),
                     ("XDG_CACHE_HOME", "xdg")):
        os.environ.setdefault(var, str(cache / sub))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = Settings()
    confine_writes(settings)
    return settings
