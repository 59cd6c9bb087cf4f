"""The assistant: question in, cited answer (or an honest "not in the documents") out.

    from assistant import Assistant
    answer = Assistant().ask("متى عقد حوار أبو ظبي مشاورته الوزارية السابعة؟")

Stages: clean the question → rewrite a follow-up → hybrid retrieval →
extractive composition (or LLM synthesis, grounded) → citation verification
→ abstention when the evidence is too weak.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Iterator

from assistant.compose import compose, locator
from assistant.config import Settings, get_settings
from assistant.domain import Answer, ScoredPassage
from assistant.textnorm import detect_language, normalize, tokenize
from assistant.verify import verify

# Calibrated on eval/sets/calibration.jsonl (not on the eval set); see docs/abstention.md.
# Evidence in the question's own language scores higher than across languages,
# so each case has its own threshold on the best sentence's score.
ABSTAIN_SAME_LANGUAGE = 0.89
ABSTAIN_CROSS_LANGUAGE = 0.83


def abstain_threshold(question_lang: str, evidence_lang: str) -> float:
    return ABSTAIN_SAME_LANGUAGE if question_lang == evidence_lang else ABSTAIN_CROSS_LANGUAGE

FOLLOW_UP = re.compile(
    r"^(and|also|what about|how about|what of|same for"
    r"|و|وماذا|ماذا عن|وما|وهل|وفي|وكم|ومتي|وكيف|وعن)\b", re.I)

MESSAGES = {
    "empty": {"en": "Please type a question.", "ar": "يرجى كتابة سؤال."},
    "abstain": {"en": "The documents do not answer this question.",
                "ar": "لا تتضمن الوثائق إجابة عن هذا السؤال."},
    "related": {"en": "Related passages:", "ar": "مقاطع ذات صلة:"},
    "llm_failed": {"en": "The language model did not respond ({error}); "
                         "this is the extractive answer.",
                   "ar": "لم يستجب النموذج اللغوي ({error})؛ هذه هي الإجابة المستخرجة من النص."},
}


class QuestionError(ValueError):
    """A question that cannot be asked (empty, nothing but symbols). Carries a user message."""


def clean_question(question: str, limit: int) -> str:
    """Drop what cannot be text (control and format characters, lone surrogates) and cut
    to `limit` characters, so nothing odd reaches the tokenizer or the page."""
    if not isinstance(question, str):
        raise QuestionError(MESSAGES["empty"]["en"])
    kept = []
    for ch in question[: limit * 2]:
        cat = unicodedata.category(ch)
        if ch in "\t\n":
            kept.append(" ")
        elif cat in ("Cc", "Cf", "Cs", "Co", "Cn") or ch == "\ufffd":
            continue
        else:
            kept.append(ch)
    text = re.sub(r"\s+", " ", "".join(kept)).strip()[:limit]
    if not text:
        raise QuestionError(MESSAGES["empty"]["en"] + " / " + MESSAGES["empty"]["ar"])
    return text


def previous_question(history) -> str | None:
    """The last user turn, from Gradio-style messages or (question, answer) pairs."""
    for turn in reversed(history or []):
        if isinstance(turn, dict):
            if turn.get("role") == "user" and isinstance(turn.get("content"), str):
                return turn["content"]
        elif isinstance(turn, list | tuple) and turn and isinstance(turn[0], str):
            return turn[0]
    return None


def is_follow_up(question: str) -> bool:
    return bool(FOLLOW_UP.match(normalize(question))) or len(tokenize(question)) <= 1


class Assistant:
    def __init__(self, settings: Settings | None = None, index=None, embedder=None, llm=None):
        from assistant.embedding import load_embedder
        from assistant.index import PassageIndex
        from assistant.llm import make_llm
        from assistant.retrieval import Retriever

        self.settings = settings or get_settings()
        self.embedder = embedder or load_embedder(self.settings)
        self.index = index or PassageIndex(self.settings)
        self.retriever = Retriever(self.index, self.embedder, self.settings)
        # llm=None: as configured (ASSISTANT_LLM_URL); llm=False: extractive only.
        self.llm = make_llm(self.settings) if llm is None else (llm or None)
        self._reload_lock = threading.Lock()

    def reload(self, force: bool = False) -> None:
        """Pick up a newer index generation (after an upload) without a restart;
        `force` reopens the current one (after a failed write left the store unusable)."""
        from assistant.index import PassageIndex, read_state
        from assistant.retrieval import Retriever

        state = read_state(self.settings)
        if not force and state and state.get("generation") == self.index.generation:
            return
        with self._reload_lock:
            index = PassageIndex(self.settings)
            retriever = Retriever(index, self.embedder, self.settings)
            self.index, self.retriever = index, retriever  # swapped together, readers unaffected

    def rewrite(self, question: str, history, lang: str) -> str:
        previous = previous_question(history)
        if not previous or not is_follow_up(question):
            return question
        if self.llm is not None:
            from assistant.llm import LLMError, rewrite

            try:
                return rewrite(self.llm, previous, question, lang, self.settings.prompts_dir)
            except LLMError:
                pass
        return f"{previous} {question}"

    def ask(self, question: str, history=None, k: int | None = None) -> Answer:
        *_, final = self.stream(question, history, k)
        return final

    def stream(self, question: str, history=None, k: int | None = None
               ) -> Iterator[Answer]:
        """Yield partial answers while an LLM writes, then the final verified Answer."""
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        question = clean_question(question, self.settings.max_question_chars)
        lang = detect_language(question)
        if not any(ch.isalnum() for ch in question):
            lang = detect_language(previous_question(history) or "") if history else lang
        rewritten = self.rewrite(question, history, lang)
        retriever, index = self.retriever, self.index  # one generation for the whole answer
        hits, qvec = retriever.retrieve(rewritten, k or self.settings.top_k, timings)
        vectors = index.sentence_vectors([h.passage.passage_id for h in hits])
        draft = compose(rewritten, lang, qvec, hits, vectors, retriever.overlap_for(rewritten))
        timings["compose_ms"] = (time.perf_counter() - t0) * 1e3 - sum(timings.values())
        retrieved = {h.passage.passage_id: h.passage for h in hits}

        def finish(answer: Answer) -> Answer:
            answer.question, answer.rewritten_question = question, rewritten
            answer.timings_ms = {**timings, "total_ms": (time.perf_counter() - t0) * 1e3}
            return answer

        if draft.best is None or not draft.citations or draft.best_score < abstain_threshold(
                lang, draft.best.passage.language):
            yield finish(self.abstention(lang, hits))
            return

        notice = ""
        if self.llm is not None:
            from assistant.llm import LLMError

            try:
                for partial in self._llm_answer(rewritten, lang, hits, vectors,
                                                retriever.overlap_for):
                    yield finish(partial)
                return
            except LLMError as exc:
                notice = MESSAGES["llm_failed"][lang].format(error=str(exc)[:120])

        checked = verify(draft.text, draft.citations, retrieved)
        yield finish(Answer(text=checked.text, language=lang, citations=checked.citations,
                            abstained=False, passages=hits, notice=notice))

    def _llm_answer(self, question, lang, hits, vectors, overlap_for) -> Iterator[Answer]:
        from assistant.embedding import embed_passages
        from assistant.llm import NOT_IN_SOURCES, ground, synthesize

        text = ""
        for delta in synthesize(self.llm, question, lang, hits, self.settings.prompts_dir):
            text += delta
            yield Answer(text=text, language=lang, citations=[], abstained=False, passages=[])
        if NOT_IN_SOURCES in text:
            yield self.abstention(lang, hits)
            return
        grounded = ground(text, lang, hits,
                          lambda texts: embed_passages(self.embedder, texts), vectors, overlap_for)
        retrieved = {h.passage.passage_id: h.passage for h in hits}
        checked = verify(grounded.text, grounded.citations, retrieved)
        yield Answer(text=checked.text, language=lang, citations=checked.citations,
                     abstained=not checked.citations, passages=hits,
                     unsupported=grounded.unsupported)

    def abstention(self, lang: str, hits: list[ScoredPassage]) -> Answer:
        lines = [MESSAGES["abstain"][lang], MESSAGES["related"][lang]]
        for hit in hits[:3]:
            p = hit.passage
            lines.append(f"- {locator(p, lang)} — {p.title}: {p.text[:160]}…")
        return Answer(text="\n".join(lines), language=lang, citations=[], abstained=True,
                      passages=hits)
