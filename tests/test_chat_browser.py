"""The chat app in headless Chromium: real app, real model, real Chroma.

Needs Debian's chromium (`make browser`); the browser tests are skipped without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WAIT_MS = 30_000

# Would set these if any injected markup ran.
PAYLOAD = ("<script>window.__pwned='script';document.title='pwned'</script>"
           "<img src=x onerror=\"window.__pwned='img';document.title='pwned'\">")

UPLOAD = f"""---
doc_id: velmora-note
title_en: {json.dumps("Velmora note " + PAYLOAD)}
language: en
---

# Velmora cooperation note {PAYLOAD}

## Findings

1. The Velmora Accord on seasonal mobility was signed by forty-one delegations in the
town of Quillbrook in 2031.[^1]

2. Reviewers pasted this markup into the note: {PAYLOAD} It must read as plain text.

[^1]: The Quillbrook signing ceremony took place in the Zorvath hall.
"""


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, chat_url):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (page.problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(chat_url)
    page.wait_for_selector("#qa-question textarea")
    yield page
    context.close()


def ask(page, question: str):
    """Type a question, send it, and return the finished answer's locator."""
    done = page.locator(".qa-assistant:not(.qa-pending)")
    before = done.count()
    page.fill("#qa-question textarea", question)
    page.press("#qa-question textarea", "Enter")
    page.wait_for_function(
        f"document.querySelectorAll('.qa-assistant:not(.qa-pending)').length > {before}")
    return done.nth(before)


def assert_not_pwned(page):
    assert page.evaluate("() => window.__pwned") is None
    assert page.title() != "pwned"
    assert not [p for p in page.problems if "dialog" in p]


def computed_direction(locator) -> str:
    return locator.evaluate("el => getComputedStyle(el).direction")


@pytest.mark.browser
def test_english_then_arabic_in_one_conversation(page):
    answer = ask(page, "How many national UN migration networks currently exist in the region?")
    assert answer.get_attribute("dir") == "ltr" and computed_direction(answer) == "ltr"
    assert page.locator(".qa-user").first.get_attribute("dir") == "ltr"
    assert "Paragraph 12" in answer.inner_text()
    # The panel opens on the answer's first citation: paragraph 12, quote highlighted,
    # and footnote 6, which the paragraph references.
    panel = page.locator("#qa-panel")
    assert panel.locator(".qa-panel-loc").get_attribute("data-paragraph") == "12"
    assert "ستة عشر" in panel.locator("mark").inner_text()
    assert "موريتانيا" in panel.locator("li[data-footnote='6']").inner_text()
    assert "التعاون الوطني" in panel.locator(".qa-panel-section").inner_text()

    arabic = ask(page, "متى عقد حوار أبو ظبي مشاورته الوزارية السابعة؟")
    assert arabic.get_attribute("dir") == "rtl" and computed_direction(arabic) == "rtl"
    assert page.locator(".qa-user").nth(1).get_attribute("dir") == "rtl"
    assert computed_direction(answer) == "ltr"  # the English answer keeps its direction
    assert "الفقرة 8" in arabic.inner_text()
    assert panel.locator(".qa-panel-loc").get_attribute("data-paragraph") == "8"
    assert "فبراير" in panel.locator("mark").inner_text()

    abstained = ask(page, "Who won the 2022 FIFA World Cup?")
    assert "qa-abstained" in abstained.get_attribute("class")
    assert abstained.locator(".qa-badge-abstain").inner_text() == "Not in the documents"
    assert abstained.locator(".qa-sources").count() == 0
    assert panel.locator(".qa-panel-empty").count() == 1  # nothing cited, nothing shown
    # Opening a citation of the earlier answer brings its passage back.
    answer.locator(".qa-text button.qa-cite").first.click()
    page.wait_for_function("document.querySelector('#qa-panel .qa-panel-loc')"
                           "?.dataset.paragraph === '12'")
    assert "ستة عشر" in panel.locator("mark").inner_text()

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "chat-en.png"), full_page=True)
    assert not page.problems


@pytest.mark.browser
def test_arabic_interface_and_follow_up(page):
    page.locator("#ui-lang label", has_text="العربية").click()
    page.wait_for_function("""() => {
        const text = (sel) => (document.querySelector(sel) || {}).innerText || '';
        return text('#tab-chat-button') === 'المحادثة' && text('#qa-send') === 'اسأل'
            && text('#tab-check-button') === 'تدقيق الحقائق';
    }""")
    assert page.locator("#tab-check-button").inner_text() == "تدقيق الحقائق"
    assert page.locator("#qa-question textarea").get_attribute("placeholder").startswith("اكتب")

    answer = ask(page, "ما الدول العربية التي تعد من البلدان الرائدة في تنفيذ الاتفاق العالمي"
                       " للهجرة؟")
    assert answer.get_attribute("dir") == "rtl" and computed_direction(answer) == "rtl"
    assert "مصر والعراق والمغرب" in answer.inner_text()
    panel = page.locator("#qa-panel")
    assert panel.locator(".qa-panel-loc").inner_text().startswith("الفقرة 5")
    follow = ask(page, "وفي أي فقرة ورد ذلك؟")
    # The follow-up was read with the conversation: the note shows the question it became.
    assert "البلدان الرائدة" in follow.locator(".qa-note").inner_text()
    assert follow.locator(".qa-sources li[data-paragraph='5']").count() >= 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "chat-ar.png"), full_page=True)

    # A new conversation forgets the old one; an example button asks its question.
    page.click("#qa-clear")
    page.wait_for_function("document.querySelectorAll('.qa-msg').length === 0")
    assert page.locator("#qa-panel .qa-panel-empty").count() == 1
    page.locator(".qa-example", has_text="champion countries").click()
    page.wait_for_selector(".qa-assistant:not(.qa-pending)")
    assert page.locator(".qa-user").count() == 1
    assert page.locator(".qa-assistant .qa-sources li[data-paragraph='5']").count() == 1
    assert page.locator(".qa-assistant .qa-note").count() == 0  # not read as a follow-up
    assert not page.problems


@pytest.mark.browser
def test_fact_check_tab(page):
    page.click("#tab-check-button")
    page.fill("#fc-draft textarea",
              "The Abu Dhabi Dialogue held its seventh ministerial consultation in February "
              "2024. The region hosts a migration museum in Cairo. There are currently "
              "seventeen national UN networks on migration in the region.")
    page.click("#fc-check")
    page.wait_for_selector(".fc-verdict")
    cards = page.locator(".fc-verdict")
    assert [cards.nth(i).get_attribute("data-status") for i in range(cards.count())] == [
        "supported", "not_found", "conflicts"]
    supported, missing, conflict = cards.nth(0), cards.nth(1), cards.nth(2)
    assert supported.locator(".fc-evidence").get_attribute("data-paragraph") == "8"
    assert "Supported" in supported.inner_text()
    assert "No passage in the documents states this." in missing.inner_text()
    assert conflict.locator(".fc-evidence").get_attribute("data-paragraph") == "12"
    assert "the draft says 17; the source says 16" in conflict.inner_text()
    assert "ستة عشر" in conflict.locator("q").inner_text()
    colours = {cards.nth(i).evaluate("el => getComputedStyle(el).borderInlineStartColor")
               for i in range(3)}
    assert len(colours) == 3  # colour-coded
    assert not page.problems


@pytest.mark.browser
def test_injected_markup_in_a_question_stays_text(page):
    long_word = "https://example.org/" + "x" * 400
    template = "${window.__pwned='template'} {{value}}"  # gr.HTML renders JS templates
    question = (f"{PAYLOAD} {template} Which Arab countries are champion countries for the "
                f"compact? {long_word}")
    answer = ask(page, question)
    user = page.locator(".qa-user").first
    assert "<script>window.__pwned='script'" in user.inner_text()
    assert long_word in user.inner_text() and template in user.inner_text()
    assert page.locator("#qa-transcript script, #qa-transcript img").count() == 0
    assert answer.inner_text()
    # A 400-character word wraps instead of widening the conversation.
    assert page.evaluate("""() => {
        const box = document.querySelector('#qa-transcript .qa-transcript');
        return box.scrollWidth <= box.clientWidth + 1;
    }""")
    assert_not_pwned(page)


@pytest.mark.browser
def test_upload_a_document_and_ask_about_it(page, tmp_path, app_index):
    page.click("#tab-corpus-button")
    # The seed document as it is cited: numbered paragraphs, footnotes with their citers.
    seed = page.locator("#doc-outline")
    assert seed.locator(".doc-para[data-paragraph='12'] .doc-fnrefs").inner_text().endswith("6")
    assert "¶12" in seed.locator(".doc-footnote[data-footnote='6']").inner_text()
    assert seed.locator(".doc-section", has_text="المحرز › التعاون الوطني").count() == 1
    bad = tmp_path / "broken.md"
    bad.write_bytes(b"# Title\n\nSome text \xff\xfe that is not UTF-8.\n")
    page.set_input_files("#doc-upload input[type=file]", str(bad))
    page.click("#doc-upload-button")
    page.wait_for_selector("#doc-upload-status .qa-status-error")
    error = page.locator("#doc-upload-status").inner_text()
    assert "broken.md" in error and "invalid UTF-8" in error
    assert not (app_index.corpus_dir / "uploads" / "broken.md").exists()

    good = tmp_path / "Velmora note (v1).md"
    good.write_text(UPLOAD, "utf-8")
    page.locator("#doc-upload button[aria-label='Clear']").first.click()
    page.set_input_files("#doc-upload input[type=file]", str(good))
    page.click("#doc-upload-button")
    page.wait_for_function("(document.querySelector('#doc-upload-status .qa-status') || {})"
                           ".innerText?.toLowerCase().includes('velmora')", timeout=120_000)
    status = page.locator("#doc-upload-status .qa-status")
    assert "qa-status-ok" in status.get_attribute("class"), status.inner_text()
    assert (app_index.corpus_dir / "uploads" / "velmora-note-v1.md").exists()
    outline = page.locator("#doc-outline")
    assert "forty-one delegations" in outline.inner_text()
    assert "<script>window.__pwned='script'" in outline.inner_text()  # shown, not run
    assert outline.locator("script, img").count() == 0
    assert "velmora-note" in page.locator("#doc-select input").input_value()
    page.click("#doc-select input")  # the open list shows every title, as text
    page.wait_for_selector("ul.option-list li:has-text('Velmora note')")
    assert "<script>" in page.locator("ul.option-list li:has-text('Velmora note')").inner_text()
    page.keyboard.press("Escape")
    assert_not_pwned(page)

    page.click("#tab-chat-button")
    answer = ask(page, "How many delegations signed the Velmora Accord on seasonal mobility?")
    assert "qa-abstained" not in answer.get_attribute("class")
    assert "forty-one delegations" in answer.inner_text()
    panel = page.locator("#qa-panel")
    assert "Velmora note <script>" in panel.locator(".qa-panel-title").inner_text()
    assert "forty-one" in panel.locator("mark").inner_text()
    assert "Zorvath" in panel.locator("li[data-footnote='1']").inner_text()
    markup = ask(page, "What markup did reviewers paste into the Velmora note?")
    assert "<img src=x onerror=" in markup.inner_text()
    assert page.locator("#qa-transcript img, #qa-panel img, #qa-panel script").count() == 0
    assert_not_pwned(page)


def test_save_upload_refuses_bad_files(app_assistant, tmp_path):
    from assistant.chat import save_upload

    settings = app_assistant.settings.model_copy(update={"max_upload_bytes": 100})
    pdf = tmp_path / "report.pdf"
    pdf.write_text("not a text document")
    assert save_upload(str(pdf), settings, app_assistant.index) == (None, ["bad_type", ".pdf"])
    big = tmp_path / "big.md"
    big.write_text("# Big\n\n" + "word " * 100)
    assert save_upload(str(big), settings, app_assistant.index)[1][0] == "too_big"
    # A name made of dots and slashes cannot leave corpus/uploads.
    odd = tmp_path / "..%2f..%2fetc%2fpasswd .md"
    odd.write_text("# Note\n\nA short paragraph about nothing in particular here.\n")
    path, problem = save_upload(str(odd), app_assistant.settings, app_assistant.index)
    assert not problem
    assert path.parent == (app_assistant.settings.corpus_dir / "uploads").resolve()
    assert path.suffix == ".md" and ".." not in path.name and not path.name.startswith(".")
    path.unlink()
    # A document may not take over the id of one already indexed from elsewhere.
    clash = tmp_path / "clash.md"
    clash.write_text("---\ndoc_id: gcm-arab-rr2-s5-note\n---\n# Clash\n\nA paragraph of text.\n")
    path, problem = save_upload(str(clash), app_assistant.settings, app_assistant.index)
    assert path is None and problem[0] == "taken"



def test_launch_options_turn_on_auth_only_when_configured(app_index):
    from assistant.chat import launch_options

    assert "auth" not in launch_options(app_index)
    secured = app_index.model_copy(update={"auth_user": "staff", "auth_password": "s3cret"})
    options = launch_options(secured)
    assert options["auth"] == ("staff", "s3cret")
    assert options["max_file_size"] == app_index.max_upload_bytes
