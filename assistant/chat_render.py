"""HTML for the chat page, built from escaped text only.

Every string that comes from a document, a question, an answer or a file name
goes through :func:`esc` before it lands in markup, so a ``<script>`` or an
``onerror=`` in any of them shows up as the characters it is and never runs.
The markup itself is ours: message containers with their own ``dir``,
citation buttons, the citation panel, fact-check verdicts and the corpus view.
"""

from __future__ import annotations

import html
import re

from assistant.textnorm import detect_language, find_normalized

UI = {
    "en": {
        "title": "Migration governance assistant",
        "subtitle": "Ask about the policy documents in Arabic or English. "
                    "Every answer quotes and cites its source; click [n] to open it.",
        "tab_chat": "Chat", "tab_check": "Fact-check", "tab_corpus": "Corpus",
        "ui_language": "Interface language",
        "question": "Your question", "placeholder": "Type a question in Arabic or English…",
        "send": "Ask", "clear": "New conversation", "examples": "Example questions",
        "panel": "Cited passage",
        "panel_empty": "Click a citation marker such as [1] to see the passage it quotes.",
        "not_in_docs": "Not in the documents", "pending": "Searching the documents…",
        "error": "Could not answer", "interpreted": "Understood as",
        "sources": "Sources", "section": "Section", "paragraph": "Paragraph",
        "footnote": "Footnote", "page": "Page", "footnotes": "Footnotes of this paragraph",
        "cited_in": "cited in paragraph", "document": "Document",
        "check_label": "Draft to check",
        "check_placeholder": "Paste a paragraph in Arabic or English; each sentence is "
                             "checked against the documents.",
        "check": "Check draft", "supported": "Supported", "not_found": "Not found",
        "conflicts": "Conflicts", "summary": "{supported} supported · {not_found} not found"
                                             " · {conflicts} conflicting",
        "check_empty": "Nothing to check: paste a draft first.",
        "evidence": "Evidence", "show_passage": "Show the whole passage",
        "documents": "Documents", "refresh": "Refresh list",
        "upload": "Add a document (.md or .txt, at most {limit})",
        "upload_button": "Upload and index",
        "upload_ok": "Indexed {name}: it can be asked about now.",
        "upload_unchanged": "{name} is already in the index, unchanged.",
        "upload_failed": "{name} was not indexed:",
        "no_file": "Choose a .md or .txt file first.",
        "too_big": "The file is {size} bytes; the limit is {limit} bytes.",
        "bad_type": "Only .md and .txt files can be added (got {suffix}).",
        "taken": "The document id {doc_id!r} belongs to another document ({path}); "
                 "give the upload another name or doc_id.",
        "locked": "Another indexing run is in progress; try again in a minute.",
        "no_docs": "No documents are indexed yet.",
        "paragraphs_count": "{paragraphs} paragraphs, {footnotes} footnotes",
        "cited_by": "cited by paragraph",
    },
    "ar": {
        "title": "مساعد حوكمة الهجرة",
        "subtitle": "اسأل عن وثائق السياسات بالعربية أو الإنجليزية. كل إجابة تقتبس مصدرها "
                    "وتحيل إليه؛ انقر على [n] لفتحه.",
        "tab_chat": "المحادثة", "tab_check": "تدقيق الحقائق", "tab_corpus": "الوثائق",
        "ui_language": "لغة الواجهة",
        "question": "سؤالك", "placeholder": "اكتب سؤالاً بالعربية أو الإنجليزية…",
        "send": "اسأل", "clear": "محادثة جديدة", "examples": "أسئلة للتجربة",
        "panel": "المقطع المستشهد به",
        "panel_empty": "انقر على علامة إحالة مثل [1] لعرض المقطع الذي تقتبسه.",
        "not_in_docs": "غير موجود في الوثائق", "pending": "جارٍ البحث في الوثائق…",
        "error": "تعذرت الإجابة", "interpreted": "فُهم السؤال على أنه",
        "sources": "المصادر", "section": "القسم", "paragraph": "الفقرة",
        "footnote": "الحاشية", "page": "الصفحة", "footnotes": "حواشي هذه الفقرة",
        "cited_in": "مذكورة في الفقرة", "document": "الوثيقة",
        "check_label": "المسودة المراد تدقيقها",
        "check_placeholder": "الصق فقرة بالعربية أو الإنجليزية؛ تُدقَّق كل جملة مقابل الوثائق.",
        "check": "دقّق المسودة", "supported": "مؤيَّدة", "not_found": "غير موجودة",
        "conflicts": "متعارضة", "summary": "{supported} مؤيَّدة · {not_found} غير موجودة"
                                          " · {conflicts} متعارضة",
        "check_empty": "لا يوجد ما يُدقَّق: الصق مسودة أولاً.",
        "evidence": "الدليل", "show_passage": "عرض المقطع كاملاً",
        "documents": "الوثائق", "refresh": "تحديث القائمة",
        "upload": "أضف وثيقة (‎.md أو ‎.txt، بحد أقصى {limit})",
        "upload_button": "ارفع وفهرس",
        "upload_ok": "تمت فهرسة {name}: يمكن السؤال عنها الآن.",
        "upload_unchanged": "{name} موجودة في الفهرس دون تغيير.",
        "upload_failed": "لم تُفهرس {name}:",
        "no_file": "اختر ملف ‎.md أو ‎.txt أولاً.",
        "too_big": "حجم الملف {size} بايت؛ والحد الأقصى {limit} بايت.",
        "bad_type": "لا يمكن إضافة إلا ملفات ‎.md و‎.txt (الملف: {suffix}).",
        "taken": "المعرّف {doc_id!r} مستخدم لوثيقة أخرى ({path})؛ غيّر اسم الملف أو doc_id.",
        "locked": "تجري فهرسة أخرى الآن؛ حاول مجدداً بعد دقيقة.",
        "no_docs": "لا توجد وثائق مفهرسة بعد.",
        "paragraphs_count": "{paragraphs} فقرة، {footnotes} حاشية",
        "cited_by": "مذكورة في الفقرة",
    },
}

# Quoted runs are isolated (<bdi>) so an Arabic quote inside an English line (or
# the reverse) keeps its own direction without reordering the words around it.
TOKEN = re.compile(r'\[(\d+)\]|"([^"\n]+)"|«([^»\n]+)»|(\[unsupported\])')


def t(lang: str, key: str, **kw) -> str:
    text = UI.get(lang, UI["en"])[key]
    return text.format(**kw) if kw else text


def esc(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def dir_of(lang: str) -> str:
    return "rtl" if lang == "ar" else "ltr"


def text_dir(text: str) -> str:
    return dir_of(detect_language(text or ""))


def highlighted(text: str, quote: str) -> str:
    """The passage, escaped, with the quoted span wrapped in <mark>."""
    span = find_normalized(text, quote) if quote else None
    if span is None:
        return esc(text)
    start, end = span
    return f"{esc(text[:start])}<mark>{esc(text[start:end])}</mark>{esc(text[end:])}"


def location(c: dict, lang: str) -> str:
    parts = []
    if c.get("footnote"):
        part = f"{t(lang, 'footnote')} {c['footnote']}"
        if c.get("cited_by"):
            part += f" ({t(lang, 'cited_in')} {', '.join(map(str, c['cited_by']))})"
        parts.append(part)
    elif c.get("paragraph"):
        parts.append(f"{t(lang, 'paragraph')} {c['paragraph']}")
    if c.get("page") is not None:
        parts.append(f"{t(lang, 'page')} {c['page']}")
    return "، ".join(parts) if lang == "ar" else ", ".join(parts)


def cite_button(turn: int, number: int) -> str:
    return (f'<button type="button" class="qa-cite" data-turn="{turn}" data-cite="{number}" '
            f'aria-label="citation {number}">[{number}]</button>')


def _with_markers(text: str, turn: int, numbers: set[int]) -> str:
    """Escape the text; turn the [n] markers of real citations into buttons and
    isolate quoted runs."""
    out, last = [], 0
    for m in TOKEN.finditer(text):
        if m.group(4):  # a sentence of an LLM answer that no source supports
            piece = f'<span class="qa-unsupported">{esc(m.group(4))}</span>'
        elif m.group(1) is not None:
            if int(m.group(1)) not in numbers:
                continue
            piece = cite_button(turn, int(m.group(1)))
        else:
            inner = m.group(2) if m.group(2) is not None else m.group(3)
            opening, closing = ('"', '"') if m.group(2) is not None else ("«", "»")
            piece = f"{opening}<bdi>{_with_markers(inner, turn, numbers)}</bdi>{closing}"
        out.append(esc(text[last:m.start()]))
        out.append(piece)
        last = m.end()
    out.append(esc(text[last:]))
    return "".join(out)


def message(turn: int, msg: dict) -> str:
    """One chat message; its direction follows its own language."""
    lang = msg.get("lang") or detect_language(msg.get("text", ""))
    classes = ["qa-msg", f"qa-{msg['role']}"]
    head = ""
    if msg.get("abstained"):
        classes.append("qa-abstained")
        head = f'<div class="qa-badge qa-badge-abstain">{esc(t(lang, "not_in_docs"))}</div>'
    elif msg.get("error"):
        classes.append("qa-error")
        head = f'<div class="qa-badge qa-badge-error">{esc(t(lang, "error"))}</div>'
    elif msg.get("pending"):
        classes.append("qa-pending")
    citations = msg.get("citations") or []
    body = _with_markers(msg.get("text", ""), turn, {c["number"] for c in citations})
    parts = [head, f'<div class="qa-text">{body}</div>']
    if msg.get("rewritten"):
        parts.append(f'<div class="qa-note">{esc(t(lang, "interpreted"))}: '
                     f'<bdi>{esc(msg["rewritten"])}</bdi></div>')
    if msg.get("notice"):
        parts.append(f'<div class="qa-note">{esc(msg["notice"])}</div>')
    if citations:
        items = "".join(
            f'<li data-paragraph="{esc(c.get("paragraph") or "")}" '
            f'data-footnote="{esc(c.get("footnote") or "")}">{cite_button(turn, c["number"])} '
            f'{esc(location(c, lang))} — <bdi>{esc(c.get("title", ""))}</bdi></li>'
            for c in citations)
        parts.append(f'<div class="qa-sources"><span>{esc(t(lang, "sources"))}</span>'
                     f'<ul>{items}</ul></div>')
    return (f'<div class="{" ".join(classes)}" dir="{dir_of(lang)}" lang="{lang}" '
            f'data-turn="{turn}">{"".join(parts)}</div>')


def transcript(turns: list[dict]) -> str:
    if not turns:
        return '<div class="qa-transcript qa-empty"></div>'
    return ('<div class="qa-transcript">'
            + "".join(message(i, m) for i, m in enumerate(turns)) + "</div>")


def citation_panel(c: dict | None, lang: str) -> str:
    """The cited passage: document, section path, paragraph, page, highlighted quote,
    and the footnotes the paragraph refers to."""
    ui_dir = dir_of(lang)
    if not c:
        return (f'<div class="qa-panel qa-panel-empty" dir="{ui_dir}">'
                f'{esc(t(lang, "panel_empty"))}</div>')
    text = c.get("text", "")
    rows = [f'<div class="qa-panel-head">{esc(t(lang, "panel"))} '
            f'<span class="qa-panel-num">[{c["number"]}]</span></div>',
            f'<div class="qa-panel-title" dir="{text_dir(c.get("title", ""))}">'
            f'{esc(c.get("title", ""))}</div>']
    if c.get("section"):
        rows.append(f'<div class="qa-panel-section">{esc(t(lang, "section"))}: '
                    f'<bdi>{esc(" › ".join(c["section"]))}</bdi></div>')
    rows.append(f'<div class="qa-panel-loc" data-paragraph="{esc(c.get("paragraph") or "")}" '
                f'data-footnote="{esc(c.get("footnote") or "")}">{esc(location(c, lang))}</div>')
    rows.append(f'<blockquote class="qa-passage" dir="{text_dir(text)}">'
                f'{highlighted(text, c.get("quote", ""))}</blockquote>')
    notes = c.get("footnotes") or []
    if notes:
        items = "".join(f'<li data-footnote="{esc(n["number"])}"><b>{esc(n["number"])}</b> '
                        f'<span dir="{text_dir(n["text"])}">{esc(n["text"])}</span></li>'
                        for n in notes)
        rows.append(f'<div class="qa-panel-footnotes"><div>{esc(t(lang, "footnotes"))}</div>'
                    f'<ul>{items}</ul></div>')
    return f'<div class="qa-panel" dir="{ui_dir}">{"".join(rows)}</div>'


def verdicts(items: list, lang: str) -> str:
    """Fact-check verdicts, one colour-coded card per sentence."""
    if not items:
        return f'<div class="fc-results fc-empty" dir="{dir_of(lang)}">' \
               f'{esc(t(lang, "check_empty"))}</div>'
    counts = {s: sum(1 for v in items if v.status == s)
              for s in ("supported", "not_found", "conflicts")}
    cards = [f'<div class="fc-summary">{esc(t(lang, "summary", **counts))}</div>']
    for v in items:
        lines = "".join(f"<li>{esc(line)}</li>" for line in v.reasons(lang))
        evidence = ""
        for c in v.citations if v.status != "not_found" else []:
            evidence += (
                f'<div class="fc-evidence" data-paragraph="{esc(c.paragraph or "")}" '
                f'data-footnote="{esc(c.footnote or "")}"><div class="fc-where">'
                f'{esc(t(lang, "evidence"))}: <bdi>{esc(c.title)}</bdi> — '
                f'{esc(location(c.__dict__, lang))}</div>'
                f'<q dir="{text_dir(c.quote)}">{esc(c.quote)}</q>'
                f'<details><summary>{esc(t(lang, "show_passage"))}</summary>'
                f'<blockquote dir="{text_dir(c.text)}">{highlighted(c.text, c.quote)}'
                f'</blockquote></details></div>')
        cards.append(
            f'<div class="fc-verdict fc-{v.status}" data-status="{v.status}" '
            f'dir="{dir_of(lang)}"><span class="fc-badge">{esc(t(lang, v.status))}</span>'
            f'<div class="fc-sentence" dir="{text_dir(v.sentence)}">{esc(v.sentence)}</div>'
            + (f'<ul class="fc-lines">{lines}</ul>' if lines else "") + evidence + "</div>")
    return f'<div class="fc-results" dir="{dir_of(lang)}">{"".join(cards)}</div>'


def outline(doc: dict | None, lang: str) -> str:
    """A document as the assistant cites it: sections, numbered paragraphs, footnotes."""
    if not doc:
        return f'<div class="doc-outline" dir="{dir_of(lang)}">{esc(t(lang, "no_docs"))}</div>'
    doc_dir = dir_of(doc.get("language") or "en")
    rows = [f'<h3 class="doc-title"><bdi>{esc(doc["title"])}</bdi> '
            f'<small>({esc(doc["doc_id"])})</small></h3>']
    section = None
    for p in doc["paragraphs"]:
        if p["section"] != section:
            section = p["section"]
            rows.append(f'<h4 class="doc-section">{esc(" › ".join(section))}</h4>')
        notes = ""
        if p.get("footnotes"):
            notes = (f' <sup class="doc-fnrefs">{esc(t(lang, "footnotes"))}: '
                     f'{esc(", ".join(p["footnotes"]))}</sup>')
        page = f' <small>({esc(t(lang, "page"))} {esc(p["page"])})</small>' \
            if p.get("page") is not None else ""
        rows.append(f'<div class="doc-para" data-paragraph="{esc(p["number"])}">'
                    f'<span class="doc-num">¶{esc(p["number"])}</span>{page} '
                    f'{esc(p["text"])}{notes}</div>')
    if doc.get("footnotes"):
        rows.append(f'<h4 class="doc-section">{esc(t(lang, "footnote"))}</h4>')
        for f in doc["footnotes"]:
            cited = ", ".join(f.get("cited_by") or []) or "—"
            rows.append(f'<div class="doc-footnote" data-footnote="{esc(f["number"])}">'
                        f'<span class="doc-num">{esc(f["number"])}</span> {esc(f["text"])} '
                        f'<small>({esc(t(lang, "cited_by"))} ¶{esc(cited)})</small></div>')
    return f'<div class="doc-outline" dir="{doc_dir}">{"".join(rows)}</div>'


def notice(lines: list[str], kind: str, lang: str) -> str:
    """A status box (upload results and the like): ok, warn or error."""
    items = "".join(f"<li>{esc(line)}</li>" for line in lines[1:])
    return (f'<div class="qa-status qa-status-{kind}" dir="{dir_of(lang)}">'
            f'<div>{esc(lines[0] if lines else "")}</div>'
            + (f"<ul>{items}</ul>" if items else "") + "</div>")


CSS = """
.qa-transcript { display: flex; flex-direction: column; gap: 10px; padding: 6px; }
.qa-msg { max-width: 92%; padding: 10px 14px; border-radius: 12px; line-height: 1.6;
  overflow-wrap: anywhere; word-break: break-word; text-align: start;
  border: 1px solid var(--border-color-primary); }
.qa-user { align-self: flex-end; background: var(--color-accent-soft); }
.qa-assistant { align-self: flex-start; background: var(--background-fill-secondary); }
.qa-text { white-space: pre-wrap; }
.qa-pending .qa-text { opacity: .7; font-style: italic; }
.qa-abstained { background: rgba(245, 158, 11, .12); border: 2px dashed #d97706; }
.qa-error { background: rgba(220, 38, 38, .08); border: 2px solid #dc2626; }
.qa-badge { display: inline-block; font-weight: 600; font-size: .85em; padding: 1px 8px;
  border-radius: 999px; margin-bottom: 6px; }
.qa-badge-abstain { background: #d97706; color: #fff; }
.qa-badge-error { background: #dc2626; color: #fff; }
.qa-unsupported { color: #b91c1c; font-weight: 600; font-size: .85em; }
.qa-note { font-size: .85em; opacity: .8; margin-top: 6px; }
.qa-sources { font-size: .85em; margin-top: 8px; border-top: 1px solid var(--border-color-primary);
  padding-top: 4px; }
.qa-sources ul { margin: 2px 0; padding-inline-start: 18px; }
button.qa-cite { display: inline; border: none; background: var(--color-accent-soft);
  color: var(--color-accent); font-weight: 700; cursor: pointer; padding: 0 3px;
  border-radius: 4px; font-size: .9em; unicode-bidi: isolate; }
button.qa-cite:hover { text-decoration: underline; }
.qa-panel { max-height: 520px; overflow-y: auto; overflow-wrap: anywhere; padding: 6px; }
.qa-panel-empty { opacity: .7; }
.qa-panel-head { font-size: .85em; opacity: .8; }
.qa-panel-title { font-weight: 700; margin-bottom: 4px; }
.qa-panel-section, .qa-panel-loc { font-size: .9em; margin-bottom: 2px; }
.qa-panel-loc { font-weight: 600; }
blockquote.qa-passage, .fc-evidence blockquote { white-space: pre-wrap; line-height: 1.7;
  margin: 8px 0; padding: 8px 12px; border-inline-start: 4px solid var(--color-accent);
  background: var(--background-fill-secondary); max-height: 320px; overflow-y: auto; }
mark { background: #fde68a; color: #111; padding: 0 2px; border-radius: 3px; }
.qa-panel-footnotes { font-size: .9em; }
.qa-panel-footnotes ul { padding-inline-start: 18px; }
.fc-summary { font-weight: 600; margin-bottom: 8px; }
.fc-verdict { border-radius: 10px; padding: 8px 12px; margin-bottom: 8px;
  border-inline-start: 6px solid; overflow-wrap: anywhere; }
.fc-supported { border-color: #16a34a; background: rgba(22, 163, 74, .08); }
.fc-not_found { border-color: #9ca3af; background: rgba(156, 163, 175, .12); }
.fc-conflicts { border-color: #dc2626; background: rgba(220, 38, 38, .08); }
.fc-badge { font-weight: 700; font-size: .85em; }
.fc-supported .fc-badge { color: #15803d; }
.fc-conflicts .fc-badge { color: #b91c1c; }
.fc-sentence { margin: 4px 0; }
.fc-lines { margin: 2px 0; padding-inline-start: 18px; font-size: .9em; }
.fc-evidence { font-size: .9em; }
.doc-outline { max-height: 640px; overflow-y: auto; overflow-wrap: anywhere; line-height: 1.7; }
.doc-para, .doc-footnote { margin: 6px 0; }
.doc-num { font-weight: 700; margin-inline-end: 6px; }
.qa-status { padding: 8px 12px; border-radius: 8px; overflow-wrap: anywhere; }
.qa-status-ok { background: rgba(22, 163, 74, .1); }
.qa-status-warn { background: rgba(245, 158, 11, .12); }
.qa-status-error { background: rgba(220, 38, 38, .1); }
"""
