"""The chat page and the widget in a real Chromium (Debian's, driven by playwright) against a
real `newsbot serve`: answers with source cards, the widget on another origin's page, a
refused origin, and an article carrying HTML that must stay text. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, SEED_TITLE
from tests.server_helpers import (
    ARTIFACTS,
    SEED_QUESTION,
    XSS_QUESTION,
    XSS_QUOTE,
    XSS_TITLE,
    RunningServer,
    newsbot_server,
    static_site,
    write_xss_article,
)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDGET_TITLE = "Ask the news"  # examples/embed.html's data-title
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver (never `playwright install`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


@pytest.fixture
def dialogs(page: Any) -> list[str]:
    """Messages of every alert/confirm/prompt the page opens (dismissed)."""
    seen: list[str] = []

    def record(dialog: Any) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return seen


@pytest.fixture
def requests(page: Any) -> list[str]:
    """Every URL the page fetches."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """An empty data dir: the server seeds itself. Loopback origins may embed (the default)."""
    with newsbot_server(tmp_path_factory.mktemp("browser") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def closed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Only an origin the test pages do not have may embed this one."""
    env = {"NEWSBOT_ALLOWED_ORIGINS": json.dumps(["https://news.example"])}
    with newsbot_server(tmp_path_factory.mktemp("browser-closed") / "data", env) as running:
        yield running


@pytest.fixture(scope="module")
def host_site() -> Iterator[str]:
    """examples/ served from another port: another origin than either newsbot server."""
    with static_site(REPO / "examples") as url:
        yield url


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def ask_on_chat_page(page: Any, question: str) -> Any:
    """Ask on the Chat tab; returns the first source card once the answer is complete."""
    page.locator("#nb-question textarea").fill(question)
    page.locator("#nb-ask").click()
    card = page.locator("#nb-sources .nb-card").first
    card.wait_for()
    return card


def open_widget(page: Any, host_site: str, server: RunningServer) -> Any:
    page.goto(f"{host_site}/embed.html?server={server.url}")
    page.get_by_role("button", name=WIDGET_TITLE).click()
    return page.frame_locator(f"iframe[title='{WIDGET_TITLE}']")


def ask_in_widget(frame: Any, question: str) -> Any:
    frame.locator("#question").fill(question)
    frame.locator("#send").click()
    answer = frame.locator(".answer").last
    answer.wait_for()
    return answer


def test_chat_page_answers_with_numbered_source_cards(page: Any, requests: list[str], server: RunningServer) -> None:
    page.goto(server.url + "/")
    card = ask_on_chat_page(page, SEED_QUESTION)
    assert SEED_TITLE in card.locator(".nb-title").inner_text()
    assert card.locator(".nb-n").first.inner_text() == "[1]"  # one card for the article, its quotes numbered
    assert "AFP · 24 Feb 2025" in card.locator(".nb-meta").inner_text()
    assert card.locator("blockquote mark").first.inner_text().strip()
    assert "[1]" in page.locator("#nb-chat").inner_text()
    assert "What is the story behind" in page.locator("#nb-examples").inner_text()  # from stored titles
    screenshot(page, "chat")
    off_loopback = [u for u in requests if not u.startswith((server.url, "data:", "blob:"))]
    assert not off_loopback, f"the page fetched from elsewhere (must work offline): {off_loopback}"


def test_thumbs_up_appends_to_the_feedback_file(page: Any, server: RunningServer) -> None:
    page.goto(server.url + "/")
    ask_on_chat_page(page, SEED_QUESTION)
    page.locator("#nb-chat").get_by_role("button", name="Like", exact=True).last.click()
    feedback = server.data_dir / "feedback.jsonl"
    page.wait_for_function("() => document.body.innerText.includes('Thanks for the feedback')")
    record = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert record["rating"] == "up" and record["question"] == SEED_QUESTION
    assert record["citations"] and record["citations"][0]["title"] == SEED_TITLE


def settled(page: Any) -> None:
    """Wait until the Chat tab's outputs show no progress: each status overlay is hidden, or shows
    Gradio's error state (an "Error" label; the class names do not tell it from pending)."""
    page.wait_for_function("""() => [...document.querySelectorAll('#nb-chat, #nb-question, #nb-sources')]
        .every(el => [...el.querySelectorAll('[data-testid=status-tracker]')]
            .every(t => t.classList.contains('hide') || t.innerText.includes('Error')))""")


def error_labels(page: Any) -> list[str]:
    """Every visible "Error" label on the page: Gradio's error state on a component, or an error toast."""
    labels = page.get_by_text("Error", exact=True)
    return [labels.nth(i).evaluate("el => el.outerHTML") for i in range(labels.count()) if labels.nth(i).is_visible()]


@pytest.mark.parametrize("bad_date", ["yesterday", "2025/02/01"])
def test_a_bad_filter_date_is_named_and_the_conversation_stays(page: Any, server: RunningServer, bad_date: str) -> None:
    """A date the filter cannot read is one warning naming the box and what was typed; the chat, the
    sources and the typed question stay as they were, and once the date is fixed the question is answered."""
    page.goto(server.url + "/")
    ask_on_chat_page(page, SEED_QUESTION)
    chat, sources = page.locator("#nb-chat"), page.locator("#nb-sources")
    page.get_by_text("Filters", exact=True).click()
    page.locator("#nb-from textarea").fill(bad_date)
    follow_up = "Who is Vassily Nebenzia?"
    page.locator("#nb-question textarea").fill(follow_up)
    page.locator("#nb-ask").click()

    toast = page.get_by_test_id("toast-text").filter(has_text=bad_date)
    toast.wait_for()
    settled(page)
    screenshot(page, f"chat-bad-date-{bad_date.replace('/', '-')}")
    assert error_labels(page) == []
    assert chat.get_by_text("American backup").first.is_visible()  # the earlier answer
    assert sources.locator(".nb-card").first.is_visible()
    assert page.locator("#nb-question textarea").input_value() == follow_up  # not lost
    assert follow_up not in chat.inner_text()  # not asked
    message = toast.inner_text().strip()
    assert message.startswith(f"Filters › From: '{bad_date}' is not a date; use YYYY-MM-DD") and "\n" not in message

    page.locator("#nb-from textarea").fill("2025-02-01")
    page.locator("#nb-ask").click()
    chat.get_by_text("step in the right direction").first.wait_for()
    settled(page)
    assert error_labels(page) == []
    assert follow_up in chat.inner_text() and "American backup" in chat.inner_text()
    sources.locator(".nb-card", has_text="Nebenzia").first.wait_for()


def test_asking_nothing_is_a_warning_and_changes_nothing(page: Any, server: RunningServer) -> None:
    page.goto(server.url + "/")
    ask_on_chat_page(page, SEED_QUESTION)
    page.locator("#nb-question textarea").fill("   ")
    page.locator("#nb-ask").click()
    page.get_by_test_id("toast-text").filter(has_text="Type a question first.").wait_for()
    settled(page)
    assert error_labels(page) == []
    assert "American backup" in page.locator("#nb-chat").inner_text()
    assert page.locator("#nb-sources .nb-card").first.is_visible()


def test_adding_nothing_is_a_warning_and_leaves_the_chat_tab_alone(page: Any, server: RunningServer) -> None:
    page.goto(server.url + "/")
    page.get_by_role("tab", name="Ingest").click()
    page.locator("#nb-add").click()
    page.get_by_test_id("toast-text").filter(has_text="Give a URL or choose a file.").wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('#nb-summary [data-testid=status-tracker]')]"
                           ".every(t => t.classList.contains('hide') || t.innerText.includes('Error'))")
    assert error_labels(page) == []
    page.get_by_role("tab", name="Chat").click()
    page.get_by_text("Filters", exact=True).click()
    page.locator("#nb-outlet input").wait_for()  # the outlet filter, not an "Error" label over it
    assert "What is the story behind" in page.locator("#nb-examples").inner_text()
    assert error_labels(page) == []


def test_widget_on_a_host_page_answers(page: Any, server: RunningServer, host_site: str) -> None:
    frame = open_widget(page, host_site, server)
    answer = ask_in_widget(frame, SEED_QUESTION)
    assert "Macron" in answer.locator(".text").inner_text()
    assert SEED_TITLE in answer.locator(".sources .title").first.inner_text()
    assert "AFP · 24 Feb 2025" in answer.locator(".sources .meta").first.inner_text()
    screenshot(page, "widget")


def test_an_origin_not_allowed_is_told_so_instead_of_a_refused_frame(page: Any, closed_server: RunningServer,
                                                                   host_site: str) -> None:
    """The widget asks before framing: on a site the server does not allow, its panel says so (not the
    browser's "refused to connect" page), and no frame is made."""
    page.goto(f"{host_site}/embed.html?server={closed_server.url}")
    page.get_by_role("button", name=WIDGET_TITLE).click()
    notice = page.locator(".newsbot-notice")
    notice.wait_for()
    assert notice.get_attribute("role") == "status"
    text = notice.inner_text()
    assert "This site is not allowed to embed the newsroom's chat." in text and host_site in text
    assert page.locator("iframe").count() == 0 and len(page.frames) == 1
    screenshot(page, "widget-refused")
    page.get_by_role("button", name=WIDGET_TITLE).click()  # closes the note
    assert not notice.is_visible()


def test_an_origin_not_allowed_cannot_frame_the_chat_even_without_the_widget(page: Any, closed_server: RunningServer,
                                                                             host_site: str) -> None:
    page.goto(f"{host_site}/embed.html?server=none")  # no widget: the page frames /embed itself
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text) as refused:
        page.evaluate("(src) => { const f = document.createElement('iframe'); f.src = src; document.body.append(f); }",
                      f"{closed_server.url}/embed")
    assert "https://news.example" in refused.value.text
    embed = next(f for f in page.frames if f != page.main_frame)
    assert not embed.url.startswith(closed_server.url)  # an error page stands in for the chat
    assert page.frame_locator("iframe").locator("#question").count() == 0


def test_an_article_with_html_shows_as_text_and_runs_nothing(page: Any, dialogs: list[str], server: RunningServer,
                                                             host_site: str, tmp_path: Path) -> None:
    page.goto(server.url + "/")
    page.get_by_role("tab", name="Ingest").click()
    page.locator("#nb-upload input[type=file]").set_input_files(str(write_xss_article(tmp_path)))
    page.locator("#nb-upload a[download='harbour.txt']").wait_for()  # uploaded
    page.locator("#nb-add").click()
    page.wait_for_function("() => document.querySelector('#nb-summary textarea').value.includes('added')")
    assert page.locator("#nb-summary textarea").input_value().startswith("1 added")
    page.get_by_role("tab", name="Chat").click()
    card = ask_on_chat_page(page, XSS_QUESTION)
    assert XSS_TITLE in card.locator(".nb-title").inner_text()
    assert XSS_QUOTE in card.locator("blockquote").inner_text()
    assert XSS_QUOTE in page.locator("#nb-chat").inner_text()
    assert page.locator("#nb-chat img, #nb-sources img, #nb-sources script").count() == 0
    screenshot(page, "xss-chat")

    answer = ask_in_widget(open_widget(page, host_site, server), XSS_QUESTION)
    assert XSS_QUOTE in answer.inner_text() and XSS_TITLE in answer.inner_text()
    assert answer.locator("img, script").count() == 0
    screenshot(page, "xss-widget")
    assert dialogs == [], f"article text ran as code: {dialogs}"


def test_api_docs_render_without_a_cdn(page: Any, requests: list[str], server: RunningServer) -> None:
    page.goto(server.url + "/docs")
    page.get_by_text("/api/ask/stream").wait_for()
    assert [u for u in requests if not u.startswith((server.url, "data:"))] == []
