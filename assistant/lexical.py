"""BM25 lexical search over passages, with bm25s doing the indexing and scoring.

bm25s only ever sees token lists made by :func:`assistant.textnorm.tokenize`;
its own tokenizer (regex ``\\b\\w\\w+\\b``) would cut Arabic words at every
haraka. The tokenizer's settings and fingerprint are saved next to the index,
because an index queried with a different tokenizer than it was built with
does not fail, it just quietly stops matching (llama-index's BM25Retriever
loses a custom stemmer on reload exactly this way).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from assistant.textnorm import tokenize, tokenizer_fingerprint

_FORMAT = 1
_META = "lexical.json"
_BM25_DIR = "bm25s"


class StaleIndexError(ValueError):
    """A saved index was built by a tokenizer that differs from the current one: rebuild it."""


class LexicalIndex:
    """An immutable BM25 index from passage ids to their texts.

    Nothing is mutated after construction and each thread tokenizes with its
    own stemmers, so :meth:`search` may be called from many threads at once.
    """

    def __init__(self, ids: Sequence[str], retriever: bm25s.BM25 | None, normalise: bool):
        self.ids = list(ids)
        self.normalise = normalise
        # None when there is nothing to score: no passages, or only stopwords.
        # bm25s cannot index that (it takes max() of an empty vocabulary).
        self._retriever = retriever

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(
        cls, ids: Sequence[str], texts: Sequence[str], normalise: bool = True
    ) -> LexicalIndex:
        """Index texts[i] under ids[i]. normalise=False builds the naive baseline."""
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids but {len(texts)} texts")
        tokens = [tokenize(text, normalise=normalise) for text in texts]
        return cls.from_tokens(ids, tokens, normalise)

    @classmethod
    def from_tokens(
        cls, ids: Sequence[str], corpus_tokens: Sequence[list[str]], normalise: bool = True
    ) -> LexicalIndex:
        """Index texts already put through ``tokenize(text, normalise)``, for a caller
        that needs the tokens too and should not stem the corpus twice."""
        if len(ids) != len(corpus_tokens):
            raise ValueError(f"{len(ids)} ids but {len(corpus_tokens)} token lists")
        retriever = None
        if any(corpus_tokens):
            retriever = bm25s.BM25()  # Lucene BM25, k1=1.5, b=0.75
            retriever.index(corpus_tokens, show_progress=False)
        return cls([str(i) for i in ids], retriever, normalise)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Up to k (id, score) pairs with a positive BM25 score, best first.

        Ties are broken by corpus order, so results are reproducible.
        """
        if k <= 0 or self._retriever is None:
            return []
        # Terms the corpus never saw are dropped here: they cannot score.
        token_ids = self._retriever.get_tokens_ids(tokenize(query, normalise=self.normalise))
        if not token_ids:
            return []
        # Scores for all documents rather than bm25s' retrieve(): retrieve raises
        # when k exceeds the corpus size, pads the top k with zero-score documents,
        # and orders ties arbitrarily.
        scores = self._retriever.get_scores_from_ids(token_ids)
        hits = np.flatnonzero(scores > 0)
        order = np.lexsort((hits, -scores[hits]))[:k]
        return [(self.ids[i], float(scores[i])) for i in hits[order]]

    def save(self, directory: Path) -> None:
        """Write the index to directory (created if needed), replacing any earlier one."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        bm25_dir = directory / _BM25_DIR
        if bm25_dir.exists():
            shutil.rmtree(bm25_dir)
        if self._retriever is not None:
            self._retriever.save(bm25_dir, show_progress=False)
        meta = {
            "format": _FORMAT,
            "normalise": self.normalise,
            "tokenizer": tokenizer_fingerprint(self.normalise),
            "bm25s_version": bm25s.__version__,
            "has_bm25": self._retriever is not None,
            "ids": self.ids,
        }
        # The metadata goes last and atomically, so a save that died halfway
        # leaves no loadable-looking index behind.
        tmp = directory / (_META + ".tmp")
        tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, directory / _META)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Read an index written by :meth:`save`.

        Raises StaleIndexError if the current tokenizer would tokenize queries
        differently from the one the index was built with.
        """
        directory = Path(directory)
        meta = json.loads((directory / _META).read_text(encoding="utf-8"))
        if meta.get("format") != _FORMAT:
            raise StaleIndexError(f"lexical index format {meta.get('format')!r}, not {_FORMAT}")
        normalise = bool(meta["normalise"])
        if meta.get("tokenizer") != tokenizer_fingerprint(normalise):
            raise StaleIndexError(
                f"{directory} was built with another tokenizer "
                f"({meta.get('tokenizer')} != {tokenizer_fingerprint(normalise)}); rebuild it"
            )
        ids = [str(i) for i in meta["ids"]]
        retriever = None
        if meta["has_bm25"]:
            retriever = bm25s.BM25.load(directory / _BM25_DIR)
            if retriever.scores["num_docs"] != len(ids):
                raise StaleIndexError(
                    f"{directory}: {retriever.scores['num_docs']} indexed documents "
                    f"but {len(ids)} ids"
                )
        return cls(ids, retriever, normalise)
