"""Optional LLM synthesis through any OpenAI-compatible endpoint (vLLM, llama.cpp, Ollama…).

Only used when ASSISTANT_LLM_URL and ASSISTANT_LLM_MODEL are set. The model
writes from numbered, fenced sources; what it writes is then held to the same
standard as the extractive answer: every sentence must carry a citation to a
retrieved passage that states it, or it is marked unsupported.

Entry points: :func:`make_llm`, :func:`synthesize`, :func:`ground`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.domain import Citation, ScoredPassage
from assistant.facts import numbers
from assistant.textnorm import split_sentences

NOT_IN_SOURCES = "NOT_IN_SOURCES"
MARKERS = re.compile(r"\s*\[(\d+)\]")
END = re.compile(r"^(.*?)([.!?؟]*)$", re.S)
UNSUPPORTED = {"en": " [unsupported]", "ar": " [غير موثّق]"}


class LLMError(RuntimeError):
    pass


def make_llm(settings: Settings):
    if not (settings.llm_url and settings.llm_model):
        return None
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(model=settings.llm_model, api_base=settings.llm_url,
                      api_key=settings.llm_api_key, is_chat_model=True,
                      timeout=settings.llm_timeout_s, max_retries=0, temperature=0.0,
                      context_window=8192, max_tokens=512)


def load_prompt(prompts_dir: Path, name: str, lang: str) -> str:
    return (prompts_dir / f"{name}.{lang}.txt").read_text("utf-8")


def format_sources(hits: list[ScoredPassage]) -> str:
    # Source text is escaped so a document cannot close the fence and speak as the system.
    blocks = []
    for i, hit in enumerate(hits, start=1):
        p = hit.passage
        where = f'paragraph="{p.paragraph}"' if p.paragraph else f'footnote="{p.footnote}"'
        blocks.append(f'<source id="{i}" document="{escape(p.title)}" {where}>\n'
                      f"{escape(p.text)}\n</source>")
    return "\n".join(blocks)


def _messages(prompt: str):
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role="user", content=prompt)]


def synthesize(llm, question: str, lang: str, hits: list[ScoredPassage],
               prompts_dir: Path) -> Iterator[str]:
    """Stream the model's answer text; raises LLMError on any failure."""
    prompt = load_prompt(prompts_dir, "answer", lang).format(
        sources=format_sources(hits), question=escape(question))
    try:
        for chunk in llm.stream_chat(_messages(prompt)):
            if chunk.delta:
                yield chunk.delta
    except Exception as exc:  # network, timeout, protocol: all mean "fall back"
        raise LLMError(f"{type(exc).__name__}: {exc}") from None


def rewrite(llm, previous: str, question: str, lang: str, prompts_dir: Path) -> str:
    prompt = load_prompt(prompts_dir, "rewrite", lang).format(previous=previous,
                                                              question=question)
    try:
        text = llm.chat(_messages(prompt)).message.content or ""
    except Exception as exc:
        raise LLMError(f"{type(exc).__name__}: {exc}") from None
    return text.strip() or f"{previous} {question}"


@dataclass
class Grounded:
    text: str
    citations: list[Citation]
    unsupported: list[str]


def _supports(claim: str, evidence: str, cosine: float, concepts) -> bool:
    """The evidence states the claim: its numbers all appear, and its words (in either
    language, through the glossary) or its meaning match."""
    if set(numbers(claim)) - set(numbers(evidence)):
        return False
    return concepts(evidence) >= 0.5 or cosine >= 0.86


def ground(text: str, lang: str, hits: list[ScoredPassage], embed, vectors,
           overlap_for) -> Grounded:
    """Attach a verbatim quote to each [n] the model wrote, or mark the sentence unsupported.

    `embed(texts)` embeds the model's sentences; `vectors` holds the passages'
    precomputed sentence vectors, as given by PassageIndex.sentence_vectors;
    `overlap_for(claim)` scores evidence by the claim's concepts (Retriever.overlap_for).
    """
    out_lines, citations, unsupported = [], [], []
    spans = split_sentences(text)
    sentences = [text[s:e] for s, e in spans]
    claim_vectors = embed([MARKERS.sub("", s) for s in sentences]) if sentences else []
    for sentence, claim in zip(sentences, claim_vectors, strict=True):
        bare = MARKERS.sub("", sentence).strip()
        concepts = overlap_for(bare)
        new_markers = []
        for n in dict.fromkeys(int(m) for m in MARKERS.findall(sentence)):
            if not 1 <= n <= len(hits):
                continue
            passage = hits[n - 1].passage
            best = None
            for start, end, vec in vectors.get(passage.passage_id, []):
                cos = float(np.dot(claim, np.asarray(vec, dtype=np.float32)))
                if _supports(bare, passage.text[start:end], cos, concepts) and (
                        best is None or cos > best[0]):
                    best = (cos, start, end)
            if best is None:
                continue
            number = len(citations) + 1
            citations.append(Citation(
                number=number, passage_id=passage.passage_id, doc_id=passage.doc_id,
                title=passage.title, section=passage.section, paragraph=passage.paragraph,
                footnote=passage.footnote, quote=passage.text[best[1]:best[2]],
                text=passage.text, page=passage.page))
            new_markers.append(number)
        words, stop = END.match(bare).groups()
        if new_markers:
            out_lines.append(f"{words} {' '.join(f'[{n}]' for n in new_markers)}{stop}")
        else:
            unsupported.append(bare)
            out_lines.append(f"{words}{UNSUPPORTED[lang]}{stop}")
    return Grounded(" ".join(out_lines), citations, unsupported)
