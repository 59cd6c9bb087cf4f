"""The browser app: chat (participants), fact-check and corpus (staff).

    assistant chat [--host 127.0.0.1] [--port 7860] [--share]

Conversation history lives in per-session ``gr.State``; nothing here is
shared between sessions but the (concurrency-safe) Assistant. All dynamic
content is rendered by :mod:`assistant.chat_render`, which escapes it.

Entry points: :func:`build_app`, :func:`launch_options`, :func:`launch`.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from assistant import chat_render as R
from assistant.catalog import document_outline, list_documents, passage_with_footnotes
from assistant.corpus import CorpusError, load_document, slugify
from assistant.textnorm import detect_language

log = logging.getLogger(__name__)

EXAMPLES = [
    "Which Arab countries are champion countries for the compact?",
    "متى عقد حوار أبو ظبي مشاورته الوزارية السابعة؟",
    "How many national UN migration networks currently exist in the region?",
    "في أي مدينة وفي أي عام انطلق حوار 5+5؟",
]
UPLOAD_SUFFIXES = (".md", ".txt")
UPLOAD_DIR = "uploads"

# Citation markers are buttons inside the transcript; one listener on the
# component sends the clicked (turn, citation) to the server.
CITE_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-cite]');
  if (!button || !element.contains(button)) return;
  event.preventDefault();
  trigger('click', {turn: Number(button.dataset.turn), cite: Number(button.dataset.cite)});
});
"""


def _citation_dict(c, index) -> dict:
    """A citation as the page keeps it, with the footnotes its paragraph refers to."""
    passage = index.passages.get(c.passage_id)
    notes = passage_with_footnotes(index, passage) if passage is not None else []
    return {
        "number": c.number, "passage_id": c.passage_id, "doc_id": c.doc_id, "title": c.title,
        "section": list(c.section or []), "paragraph": c.paragraph, "footnote": c.footnote,
        "page": c.page, "quote": c.quote, "text": c.text,
        "cited_by": list(passage.cited_by) if passage is not None else [],
        "footnotes": [{"number": n.footnote, "text": n.text} for n in notes],
    }


def answer_message(answer, index, pending: bool = False) -> dict:
    msg = {"role": "assistant", "text": answer.text, "lang": answer.language,
           "abstained": answer.abstained, "notice": answer.notice, "pending": pending,
           "citations": [] if pending else [_citation_dict(c, index) for c in answer.citations]}
    if answer.rewritten_question and answer.rewritten_question != answer.question:
        msg["rewritten"] = answer.rewritten_question
    return msg


def find_citation(turns: list[dict], turn, number) -> dict | None:
    try:
        msg = turns[int(turn)]
        return next(c for c in msg.get("citations") or [] if c["number"] == int(number))
    except (IndexError, StopIteration, TypeError, ValueError, KeyError):
        return None


def _doc_choices(index) -> list[tuple[str, str]]:
    return [(f"{d['title']} ({d['doc_id']})", d["doc_id"]) for d in list_documents(index)]


def _error_line(error: CorpusError, name: str) -> str:
    where = f"{name}:{error.line}" if error.line else name
    return f"{where}: {error.message}"


def save_upload(file_path: str, settings, index) -> tuple[Path | None, list[str]]:
    """Check an uploaded file and save it under corpus/uploads with a safe name.

    Returns (saved path, []) or (None, [message key and arguments as lines])."""
    src = Path(file_path)
    suffix = src.suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        return None, ["bad_type", suffix or "—"]
    size = src.stat().st_size
    if size > settings.max_upload_bytes:
        return None, ["too_big", str(size), str(settings.max_upload_bytes)]
    stem = slugify(src.stem).replace(".", "-")[:80].strip("-") or "document"
    uploads = (settings.corpus_dir / UPLOAD_DIR).resolve()
    uploads.mkdir(parents=True, exist_ok=True)
    dest = uploads / f"{stem}{suffix}"
    if dest.parent != uploads:  # cannot happen after slugify; never write elsewhere
        return None, ["bad_type", suffix]
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    # In the cache folder, not the system's temp dir: we write nowhere else.
    with tempfile.TemporaryDirectory(dir=settings.cache_dir) as tmp:
        trial = Path(tmp) / dest.name  # parse under the final name: doc_id comes from it
        shutil.copyfile(src, trial)
        try:
            doc = load_document(trial, settings)
        except CorpusError as exc:
            return None, ["corpus", _error_line(exc, dest.name)]
    owner = index.documents().get(doc.doc_id)
    if owner and Path(owner.get("path", "")).resolve() != dest:
        return None, ["taken", doc.doc_id, Path(owner.get("path", "")).name]
    partial = uploads / f".{dest.name}.part"
    shutil.copyfile(src, partial)
    os.replace(partial, dest)
    return dest, []


def build_app(assistant) -> gr.Blocks:
    settings = assistant.settings
    en = R.UI["en"]

    def respond(message, history, turns, lang):
        text = (message or "").strip()
        if not text:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        from assistant.pipeline import QuestionError

        history, turns = list(history or []), list(turns or [])
        qlang = detect_language(text)
        user = {"role": "user", "text": text, "lang": qlang}
        shown = [*turns, user, {"role": "assistant", "text": R.t(qlang, "pending"),
                                "lang": qlang, "pending": True}]
        yield "", R.transcript(shown), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        final = None
        try:
            for final in assistant.stream(text, history=history):
                shown[-1] = answer_message(final, assistant.index, pending=True)
                yield gr.skip(), R.transcript(shown), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except QuestionError as exc:
            shown[-1] = {"role": "assistant", "text": str(exc), "lang": qlang, "error": True}
        except Exception as exc:  # an index or model failure: say so, keep the session
            log.exception("answering failed")
            shown[-1] = {"role": "assistant", "text": f"{type(exc).__name__}: {exc}"[:500],
                         "lang": qlang, "error": True}
        if final is None or shown[-1].get("error"):
            yield gr.skip(), R.transcript(shown), gr.skip(), history, turns, gr.skip()
            return
        reply = answer_message(final, assistant.index)
        turns = [*turns, user, reply]
        history += [{"role": "user", "content": text},
                    {"role": "assistant", "content": final.text}]
        first = [len(turns) - 1, 1] if reply["citations"] else None
        panel = R.citation_panel(reply["citations"][0] if first else None, lang)
        yield gr.skip(), R.transcript(turns), panel, history, turns, first

    def show_citation(turns, lang, evt: gr.EventData):
        turn, number = getattr(evt, "turn", None), getattr(evt, "cite", None)
        citation = find_citation(turns or [], turn, number)
        if citation is None:
            return gr.skip(), gr.skip()
        return R.citation_panel(citation, lang), [int(turn), int(number)]

    def clear(lang):
        return [], [], R.transcript([]), R.citation_panel(None, lang), None, ""

    def fact_check(draft, lang):
        from assistant.factcheck import check_draft

        verdicts = check_draft(assistant, draft or "")
        return R.verdicts(verdicts, lang), verdicts

    def show_document(doc_id, lang):
        if not doc_id:
            return R.outline(None, lang)
        try:
            return R.outline(document_outline(assistant.index, doc_id), lang)
        except KeyError:
            return R.outline(None, lang)

    def refresh_documents(current, lang):
        choices = _doc_choices(assistant.index)
        ids = [c[1] for c in choices]
        value = current if current in ids else (ids[0] if ids else None)
        return gr.Dropdown(choices=choices, value=value), show_document(value, lang)

    def upload(file_path, lang, progress=gr.Progress()):  # noqa: B008 (Gradio injects it)
        from assistant.index import IndexError_, IndexLockedError, build_index

        if not file_path:
            return R.notice([R.t(lang, "no_file")], "warn", lang), gr.skip(), gr.skip()
        name = Path(file_path).name
        dest, problem = save_upload(file_path, settings, assistant.index)
        if dest is None:
            kind, *args = problem
            if kind == "corpus":
                lines = [R.t(lang, "upload_failed", name=name), *args]
            elif kind == "bad_type":
                lines = [R.t(lang, "bad_type", suffix=args[0])]
            elif kind == "too_big":
                lines = [R.t(lang, "too_big", size=args[0], limit=args[1])]
            else:
                lines = [R.t(lang, "taken", doc_id=args[0], path=args[1])]
            return R.notice(lines, "error", lang), gr.skip(), gr.skip()
        progress(0, desc="indexing")
        try:
            report = build_index([dest], settings, lock_timeout=30, on_progress=lambda d, n:
                                 progress((d, n), desc="embedding"))
        except IndexError_ as exc:  # locked, disk full, Chroma unreachable: say which
            log.warning("upload indexing failed: %s", exc)
            if not isinstance(exc, IndexLockedError):
                assistant.reload(force=True)  # a fresh store connection for everyone
            lines = [R.t(lang, "locked")] if isinstance(exc, IndexLockedError) else [str(exc)]
            return R.notice(lines, "error", lang), gr.skip(), gr.skip()
        if report.errors:
            lines = [R.t(lang, "upload_failed", name=dest.name),
                     *(_error_line(e, Path(e.path).name) for e in report.errors)]
            return R.notice(lines, "error", lang), gr.skip(), gr.skip()
        assistant.reload()
        doc_id = (report.indexed or report.unchanged or [None])[0]
        key = "upload_ok" if report.indexed else "upload_unchanged"
        dropdown, view = refresh_documents(doc_id, lang)
        return R.notice([R.t(lang, key, name=dest.name)], "ok", lang), dropdown, view

    with gr.Blocks(title=en["title"], analytics_enabled=False) as demo:
        history = gr.State([])  # [{"role", "content"}], what Assistant.stream reads
        turns = gr.State([])  # the rendered messages, with their citations
        shown_cite = gr.State(None)  # [turn, number] of the citation in the panel
        verdict_state = gr.State([])
        with gr.Row():
            header = gr.HTML(_header("en"), elem_id="qa-header")
            ui_lang = gr.Radio([("English", "en"), ("العربية", "ar")], value="en",
                               label=f"{en['ui_language']} / {R.UI['ar']['ui_language']}",
                               elem_id="ui-lang", scale=0, min_width=220)
        with gr.Tabs():
            with gr.Tab(en["tab_chat"], id="chat", elem_id="tab-chat") as tab_chat:
                with gr.Row():
                    with gr.Column(scale=3):
                        chat_view = gr.HTML(R.transcript([]), js_on_load=CITE_JS,
                                            elem_id="qa-transcript", min_height=240,
                                            max_height=620, autoscroll=True)
                        question = gr.Textbox(label=en["question"], placeholder=en["placeholder"],
                                              lines=1, max_lines=4, elem_id="qa-question",
                                              max_length=settings.max_question_chars)
                        with gr.Row():
                            send = gr.Button(en["send"], variant="primary", elem_id="qa-send")
                            reset = gr.Button(en["clear"], elem_id="qa-clear")
                        examples_label = gr.HTML(_label(en["examples"]))
                        with gr.Row():
                            example_buttons = [gr.Button(q, size="sm", elem_classes=["qa-example"])
                                               for q in EXAMPLES]
                    with gr.Column(scale=2):
                        panel = gr.HTML(R.citation_panel(None, "en"), elem_id="qa-panel")
            with gr.Tab(en["tab_check"], id="check", elem_id="tab-check") as tab_check:
                draft = gr.Textbox(label=en["check_label"], placeholder=en["check_placeholder"],
                                   lines=6, max_lines=20, elem_id="fc-draft")
                check_btn = gr.Button(en["check"], variant="primary", elem_id="fc-check")
                check_view = gr.HTML("", elem_id="fc-results")
            with gr.Tab(en["tab_corpus"], id="corpus", elem_id="tab-corpus") as tab_corpus:
                choices = _doc_choices(assistant.index)
                with gr.Row():
                    doc_select = gr.Dropdown(choices=choices, label=en["documents"],
                                             value=choices[0][1] if choices else None,
                                             elem_id="doc-select", scale=4)
                    refresh = gr.Button(en["refresh"], elem_id="doc-refresh", scale=1)
                doc_view = gr.HTML(show_document(choices[0][1] if choices else None, "en"),
                                   elem_id="doc-outline")
                limit = _size(settings.max_upload_bytes)
                upload_file = gr.File(label=en["upload"].format(limit=limit),
                                      file_types=list(UPLOAD_SUFFIXES), type="filepath",
                                      file_count="single", elem_id="doc-upload")
                upload_btn = gr.Button(en["upload_button"], elem_id="doc-upload-button")
                upload_view = gr.HTML("", elem_id="doc-upload-status")

        chat_outputs = [question, chat_view, panel, history, turns, shown_cite]
        gr.on([send.click, question.submit], respond, [question, history, turns, ui_lang],
              chat_outputs, api_name="ask", concurrency_limit=8, concurrency_id="respond",
              show_progress="hidden")
        for button, text in zip(example_buttons, EXAMPLES, strict=True):
            button.click(lambda q=text: q, None, question, api_visibility="private").then(
                respond, [question, history, turns, ui_lang], chat_outputs,
                api_visibility="private", concurrency_limit=8, concurrency_id="respond",
                show_progress="hidden")
        chat_view.click(show_citation, [turns, ui_lang], [panel, shown_cite],
                        api_visibility="private", show_progress="hidden")
        reset.click(clear, ui_lang, [history, turns, chat_view, panel, shown_cite, question],
                    api_visibility="private")
        check_btn.click(fact_check, [draft, ui_lang], [check_view, verdict_state],
                        api_name="check", concurrency_limit=4)
        doc_select.change(show_document, [doc_select, ui_lang], doc_view,
                          api_visibility="private")
        refresh.click(refresh_documents, [doc_select, ui_lang], [doc_select, doc_view],
                      api_visibility="private")
        # Documents uploaded since the app started appear in every new page.
        demo.load(refresh_documents, [doc_select, ui_lang], [doc_select, doc_view],
                  api_visibility="private", show_progress="hidden")
        upload_btn.click(upload, [upload_file, ui_lang], [upload_view, doc_select, doc_view],
                         api_name="upload", concurrency_limit=1)

        def relabel(lang, turns, shown, verdicts, doc_id):
            u = R.UI[lang]
            cite = find_citation(turns or [], *(shown or [None, None]))
            return (
                _header(lang), gr.Tab(label=u["tab_chat"]), gr.Tab(label=u["tab_check"]),
                gr.Tab(label=u["tab_corpus"]),
                gr.Textbox(label=u["question"], placeholder=u["placeholder"], rtl=lang == "ar"),
                gr.Button(value=u["send"]), gr.Button(value=u["clear"]),
                _label(u["examples"]), R.citation_panel(cite, lang),
                gr.Textbox(label=u["check_label"], placeholder=u["check_placeholder"]),
                gr.Button(value=u["check"]),
                R.verdicts(verdicts, lang) if verdicts else gr.skip(),
                gr.Dropdown(label=u["documents"]), gr.Button(value=u["refresh"]),
                gr.File(label=u["upload"].format(limit=_size(settings.max_upload_bytes))),
                gr.Button(value=u["upload_button"]), show_document(doc_id, lang),
            )

        ui_lang.change(relabel, [ui_lang, turns, shown_cite, verdict_state, doc_select],
                       [header, tab_chat, tab_check, tab_corpus, question, send, reset,
                        examples_label, panel, draft, check_btn, check_view, doc_select,
                        refresh, upload_file, upload_btn, doc_view],
                       api_visibility="private", show_progress="hidden")
    return demo


def _header(lang: str) -> str:
    return (f'<div dir="{R.dir_of(lang)}"><h2 style="margin:0">{R.esc(R.t(lang, "title"))}</h2>'
            f'<p style="margin:2px 0 0">{R.esc(R.t(lang, "subtitle"))}</p></div>')


def _label(text: str) -> str:
    return f'<div class="qa-examples-label"><b>{R.esc(text)}</b></div>'


def _size(n: int) -> str:
    return f"{n / 1_000_000:g} MB" if n >= 1_000_000 else f"{n / 1000:g} kB"


def launch_options(settings) -> dict:
    """Keyword arguments for Blocks.launch: page CSS, upload cap and basic auth."""
    options = {"css": R.CSS, "max_file_size": settings.max_upload_bytes}
    if settings.auth_user and settings.auth_password:
        options["auth"] = (settings.auth_user, settings.auth_password)
    return options


def launch(assistant, host: str = "127.0.0.1", port: int = 7860, share: bool = False):
    demo = build_app(assistant)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=host, server_port=port, share=share,
                **launch_options(assistant.settings))
    return demo
