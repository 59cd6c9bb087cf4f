"""Twenty chat sessions at once, through the app's public API (gradio_client).

Each session asks its own question and then a follow-up that only makes sense with
that session's history; every answer must quote its own evidence, and nothing of
another session may appear in it.
"""

from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

from assistant.textnorm import normalize

FOLLOW_UP = {"en": "And where is that stated?", "ar": "وفي أي فقرة ورد ذلك؟"}

# (question, a span of the source that answers it, where that span is)
SESSIONS = [
    ("Which Arab countries are champion countries for the migration compact?",
     "وهي مصر والعراق والمغرب", "p5"),
    ("In which city did champion countries from the Middle East, Africa and Europe hold an "
     "informal dialogue in January 2023?", "وذلك في الرباط، المغرب، في يناير 2023", "p6"),
    ("Where and in what year was the 5+5 Dialogue on the Western Mediterranean launched?",
     "في روما في عام 1990", "fn4"),
    ("When did the Abu Dhabi Dialogue hold its seventh ministerial consultation?",
     "عقد حوار أبو ظبي مشاورته الوزارية السابعة في فبراير/شباط 2024", "p8"),
    ("Which Asian labour destination countries take part in the Abu Dhabi Dialogue?",
     "تشارك فيها سبع دول آسيوية من دول المقصد العمالية", "fn3"),
    ("With which country did Lebanon and Jordan conclude bilateral labour agreements in 2023?",
     "أبرم كل من لبنان والأردن اتفاقيات عمل ثنائية مع إثيوبيا", "p11"),
    ("How many national UN migration networks currently exist in the region?",
     "ستة عشر شبكة وطنية للأمم المتحدة معنية بالهجرة", "p12"),
    ("Which countries already have a national migration strategy?",
     "لدى العراق والمغرب وتونس استراتيجيات وطنية للهجرة", "p13"),
    ("When did the UN migration network in the Arab region set up its regional stakeholder "
     "advisory group?", "أطلقت الشبكة مجموعة استشارية إقليمية لأصحاب المصلحة في مايو/أيار 2023",
     "p9"),
    ("Since what year has the Rabat Process offered a framework for consultation between "
     "origin, transit and destination countries?", "ومنذ عام 2006، وفر الحوار إطاراً للتشاور",
     "fn5"),
    ("Which objective of the Global Compact deals with cooperation and partnerships?",
     "ركز الهدف 23 من الاتفاق على التعاون والشراكات", "p1"),
    ("مع أي دولة وقّعت قطر اتفاقية لإدارة استخدام العمالة في 2024؟",
     "إدارة استخدام العمالة من جمهورية أوغندا", "p11"),
    ("في أي شهر وسنة وقّعت ليبيا مذكرة التفاهم مع النيجر؟",
     "وقّعت ليبيا مذكرة تفاهم مع النيجر في نوفمبر 2021", "p11"),
    ("ما الجهة التي ترأس مجموعة العمل الفنية المعنية بالهجرة في العراق؟",
     "برئاسة وزارة الهجرة والمهجرين", "p13"),
    ("أين انعقد المنتدى الإقليمي للبلدان الرائدة في سبتمبر 2023؟",
     "منتدى إقليمي للبلدان الرائدة في بنما", "p6"),
    ("ما هي عملية الخرطوم؟", "عملية الخرطوم هي منصة للتعاون السياسي", "fn2"),
    ("كم عدد دول المنشأ المشاركة في حوار أبو ظبي؟", "وإحدى عشرة دولة منشأ", "fn3"),
    ("ما نسبة المهاجرين من المنطقة العربية الذين يبقون داخل المنطقة؟",
     "نصف المهاجرين من المنطقة العربية تقريباً يبقون أيضاً في المنطقة", "p7"),
    ("أي وزارة في جزر القمر شكّلت لجنة لمتابعة تنفيذ الاتفاق العالمي؟",
     "أنشأت وزارة الداخلية في جزر القمر لجنة متعددة القطاعات", "p13"),
    ("ما الإطار المشترك للسياسات الذي تذكره المذكرة مثالاً لتعزيز التعاون الإقليمي؟",
     "إطار سياسة الهجرة لأفريقيا (2018 - 2030)", "p14"),
]


class Transcript(HTMLParser):
    """The messages of the chat transcript: role, dir, text, note, cited places."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.messages: list[dict] = []
        self._depth = 0  # div depth inside the current message
        self._in_note = 0
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "div" and "qa-msg" in classes:
            self.messages.append({"role": "user" if "qa-user" in classes else "assistant",
                                  "dir": a.get("dir"), "text": "", "note": "", "cites": set(),
                                  "abstained": "qa-abstained" in classes})
            self._depth = 1
            return
        if not self._depth:
            return
        if tag == "div":
            self._depth += 1
            if "qa-note" in classes or self._in_note:
                self._in_note += 1
        if tag == "li":
            msg = self.messages[-1]
            if a.get("data-paragraph"):
                msg["cites"].add(f"p{a['data-paragraph']}")
            if a.get("data-footnote"):
                msg["cites"].add(f"fn{a['data-footnote']}")

    def handle_endtag(self, tag):
        if tag == "div" and self._depth:
            self._depth -= 1
            if self._in_note:
                self._in_note -= 1

    def handle_data(self, data):
        if self._depth:
            self.messages[-1]["note" if self._in_note else "text"] += data


def run_session(url: str, question: str) -> tuple[str, str, str]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    try:
        _, first, _ = client.predict(question, api_name="/ask")
        lang = "ar" if any("\u0600" <= ch <= "\u06ff" for ch in question) else "en"
        _, second, panel = client.predict(FOLLOW_UP[lang], api_name="/ask")
        return first, second, panel
    finally:
        client.close()


def test_twenty_concurrent_sessions_keep_their_own_history(chat_url):
    with ThreadPoolExecutor(max_workers=len(SESSIONS)) as pool:
        futures = [pool.submit(run_session, chat_url, q) for q, _, _ in SESSIONS]
        results = [f.result(timeout=300) for f in futures]

    for (question, evidence, where), (first, second, panel) in zip(SESSIONS, results,
                                                                    strict=True):
        lang = "ar" if any("\u0600" <= ch <= "\u06ff" for ch in question) else "en"
        messages = Transcript(second).messages
        assert [m["role"] for m in messages] == ["user", "assistant"] * 2, question
        assert [m["text"] for m in messages[::2]] == [question, FOLLOW_UP[lang]]
        answer, follow = messages[1], messages[3]
        for m in (answer, follow):
            assert m["dir"] == ("rtl" if lang == "ar" else "ltr"), question
            assert not m["abstained"], (question, m["text"])
            assert normalize(evidence) in normalize(m["text"]), (question, m["text"])
            assert where in m["cites"], (question, m["cites"])
        # The follow-up was read with this session's question, and no one else's.
        assert normalize(question) in normalize(follow["note"]), follow["note"]
        others = [q for q, _, _ in SESSIONS if q != question]
        assert not [q for q in others if normalize(q) in normalize(html.unescape(second))]
        assert Transcript(first).messages[1]["text"] == answer["text"]
        assert 'class="qa-panel"' in panel and "<mark>" in panel


def test_an_llm_answer_streams_into_the_page(app_assistant):
    """With an LLM configured, the chat yields the answer as it is written, then the
    grounded one (the model is a local stand-in speaking the chat-completions protocol)."""
    from conftest import free_port
    from fake_llm import FakeLLM, half_true_reply
    from gradio_client import Client

    from assistant.chat import build_app
    from assistant.pipeline import Assistant

    with FakeLLM(half_true_reply) as llm:
        settings = app_assistant.settings.model_copy(update={"llm_url": llm.url,
                                                             "llm_model": "m"})
        bot = Assistant(settings, index=app_assistant.index, embedder=app_assistant.embedder)
        demo = build_app(bot)
        demo.queue()
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                    quiet=True)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        try:
            job = client.submit("Which Arab countries are champion countries?",
                                api_name="/ask")
            _, final, panel = job.result(timeout=120)
            outputs = job.outputs()
        finally:
            client.close()
            demo.close()
    partial = [Transcript(o[1]).messages[-1] for o in outputs if o[1]]
    growing = [m["text"] for m in partial if "Egypt" in m["text"] and "1999" not in m["text"]]
    assert growing, "no partial answer reached the page before the final one"
    answer = Transcript(final).messages[-1]
    assert "Egypt, Iraq and Morocco" in answer["text"] and "p5" in answer["cites"]
    assert '<span class="qa-unsupported">[unsupported]</span>' in final
    assert "مصر والعراق والمغرب" in panel
