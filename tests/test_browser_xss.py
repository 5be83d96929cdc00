"""An XSS corpus through the whole output path: articles whose titles, quotes, outlets and URLs
carry script, event-handler, javascript:/data: and markdown payloads are ingested with the CLI,
then asked about through the JSON API, on the chat page and in the widget on another origin's
page (a real `newsbot serve`, a real Chromium).

Every payload would set `window.__xss` or fetch from a loopback listener if it ever ran or
loaded; the tests assert neither happens, no dialog opens, the payloads read as text, and the
only links are the cited articles' own http(s) URLs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bench.common import Listener
from newsbot.web.cards import safe_url
from tests import test_browser
from tests.conftest import ok, run_cli, write_jsonl
from tests.server_helpers import XSS_QUESTION, XSS_QUOTE, XSS_TITLE, RunningServer, newsbot_server, write_xss_article

pytestmark = pytest.mark.slow

# The browser fixtures are test_browser's own (one Chromium per module).
browser = test_browser.browser
page = test_browser.page
dialogs = test_browser.dialogs
host_site = test_browser.host_site
screenshot = test_browser.screenshot
open_widget = test_browser.open_widget

RAN = "window.__xss=1"


# -- the loopback listener every payload would reach --------------------------------------------

@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running


# -- the corpus ---------------------------------------------------------------------------------

@dataclass
class Case:
    question: str
    payloads: list[str]  # must reach the answer text as they are: the case exercises them
    link: str | None  # the one link the cited article may have; None: its URL is not http(s)


def payloads(hit: str) -> dict[str, str]:
    """Each one sets window.__xss or fetches from the listener (`hit`) if it is ever markup."""
    return {
        "script": f"<script>{RAN};fetch('{hit}/script')</script>",
        "img": f"<img src=x onerror=\"{RAN};fetch('{hit}/img')\">",
        "img_src": f"<img src={hit}/img-src>",
        "svg": f"<svg onload=\"{RAN};fetch('{hit}/svg')\">",
        "svg_script": f"<svg><script>{RAN};fetch('{hit}/svg-script')</script></svg>",
        "iframe": f"<iframe srcdoc=\"<script>parent.__xss=1;fetch('{hit}/srcdoc')</script>\"></iframe>",
        "details": f"<details open ontoggle=\"{RAN};fetch('{hit}/details')\">",
        "input": f"<input autofocus onfocus=\"{RAN};fetch('{hit}/input')\">",
        "style": f"<style>@import '{hit}/style';</style>",
        "a_js": f"<a href=\"javascript:{RAN}\">the plan</a>",
        "attr": f"\" onmouseover=\"{RAN};fetch('{hit}/attr')\" x=\"",
        "md_link": f"[the plan](javascript:{RAN})",
        "md_image": f"![map]({hit}/md-image)",
        "js_text": f"javascript:{RAN}",
        "data_text": "data:text/html,<script>window.__xss=1</script>",
        "bare_url": f"{hit}/bare-url",
    }


def corpus(hit: str) -> tuple[list[dict[str, Any]], list[Case]]:
    """JSON records (one ingest file) and the question that retrieves each, with its payloads."""
    p = payloads(hit)
    # Markdown in a body is removed at ingest (a rendered page shows no image, and a link's words only):
    # markdown payloads reach the answers through the headline each answer names.
    records = [
        {"title": f"Quarry town opens a new library {p['script']}", "url": "javascript:alert(1)",
         "source": "Valley Post", "published": "2025-03-01",
         "body": "The quarry town of Brennick opened its new public library on Saturday.\n\n"
                 f"\"Every child in Brennick will have a library card {p['script']} {p['img_src']} by spring,\" "
                 "librarian Odile Varga said at the opening.\n\n"
                 "The library holds twelve thousand books and a small cinema."},
        {"title": f"Ferry line to Skarra island resumes {p['img']}", "url": "data:text/html,<script>alert(1)</script>",
         "source": f"<img src={hit}/source onerror={RAN}>", "published": "2025-03-02",
         "body": "The ferry line to Skarra island resumed service on Monday after a winter pause.\n\n"
                 f"\"The ferry will run {p['img']} {p['details']} twice a day until October,\" "
                 "harbour master Piet Ramos said.\n\n"
                 "Islanders had relied on a fishing boat for supplies for three months."},
        {"title": f"Orchard festival in Lindavale draws record crowds {p['svg']}",
         "url": f"https://news.example/orchard{p['attr']}", "source": "Lindavale Herald", "published": "2025-03-03",
         "body": "The orchard festival in Lindavale drew a record crowd of forty thousand visitors.\n\n"
                 f"\"The apple harvest {p['svg_script']} {p['svg']} was the best in a decade,\" "
                 "festival director Mira Osei said.\n\n"
                 "The festival will return next September."},
        {"title": f"Tram depot in Corvel to get a solar roof {p['md_link']} {p['md_image']}", "url": "https://news.example/tram-depot",
         "source": "Corvel Daily", "published": "2025-03-04",
         "body": "The tram depot in Corvel will get a solar roof next year.\n\n"
                 f"\"The solar roof {p['md_link']} {p['md_image']} {p['a_js']} will power a third of the trams,\" "
                 "transport chief Ilse Brandt said.\n\n"
                 "Engineers showed the design to the council on Wednesday."},
        {"title": f"Marsh reserve near Tollund reopens {p['iframe']}", "url": f"{hit}/cited-article",
         "source": p["attr"], "published": "2025-03-05",
         "body": "The marsh reserve near Tollund reopened to walkers after a bird flu closure.\n\n"
                 f"\"The boardwalk {p['iframe']} {p['attr']} is safe again for visitors,\" ranger Kofi Adjei said.\n\n"
                 "The reserve covers six hundred hectares."},
        {"title": f"Harlow bridge repairs finish early {p['js_text']}", "url": "http:javascript:alert(1)",
         "source": "Harlow Courier", "published": "2025-03-06",
         "body": "Repairs to the Harlow bridge finished two weeks early.\n\n"
                 f"\"The bridge {p['js_text']} {p['data_text']} {p['bare_url']} {p['input']} {p['style']} "
                 "reopens to lorries on Friday,\" site engineer Tomas Lind said.\n\n"
                 "The repairs cost nine hundred thousand euros."},
        {"title": f"Kestrel Bay lifeboat gets a new crew {p['md_link']}", "url": "http://javascript:alert(1)",
         "source": "Bay Weekly", "published": "2025-02-20",
         "body": "The Kestrel Bay lifeboat station trained a new volunteer crew this winter.\n\n"
                 f"\"The lifeboat {p['md_link']} {p['script']} can launch in six minutes,\" coxswain Ines Harrow said.\n\n"
                 "The station answered forty calls last year."},
        # markup escaped inside an HTML body: after extraction it is article text, and must stay text
        {"title": "Glassworks in Ostrava Nova hires apprentices", "url": "https://news.example/glassworks",
         "source": "Nova Gazette", "published": "2025-03-07",
         "body": "<html><body><article><p>The glassworks in Ostrava Nova hired forty apprentices this spring.</p>"
                 f"<p>&quot;The furnace &lt;img src=x onerror=&quot;{RAN}&quot;&gt; runs all night now,&quot; "
                 "foreman Rafael Duda said.</p><p>The works make bottles for local breweries.</p>"
                 "</article></body></html>"},
    ]
    cases = [
        Case("What did librarian Odile Varga say about the library?", [p["script"], p["img_src"]], None),
        Case("What did harbour master Piet Ramos say about the ferry?",
             [p["img"], p["details"], f"<img src={hit}/source onerror={RAN}>"], None),
        Case("What did festival director Mira Osei say about the apple harvest?", [p["svg_script"], p["svg"]],
             f"https://news.example/orchard{p['attr']}"),
        Case("What did transport chief Ilse Brandt say about the solar roof?", [p["a_js"], p["md_link"], p["md_image"]],
             "https://news.example/tram-depot"),
        Case("What did ranger Kofi Adjei say about the boardwalk?", [p["iframe"], p["attr"]], f"{hit}/cited-article"),
        Case("What did site engineer Tomas Lind say about the bridge?",
             [p["js_text"], p["data_text"], p["bare_url"], p["input"], p["style"]], None),
        Case("What did foreman Rafael Duda say about the furnace?", [f"<img src=x onerror=\"{RAN}\">"],
             "https://news.example/glassworks"),
        Case("What did coxswain Ines Harrow say about the lifeboat?", [p["script"], p["md_link"]], None),  # port "alert(1)"
        Case(XSS_QUESTION, [XSS_QUOTE], None),  # tests/server_helpers.py's article, a .txt upload
    ]
    return records, cases


@dataclass
class XssServer:
    server: RunningServer
    listener: Listener
    records: list[dict[str, Any]]
    cases: list[Case]


@pytest.fixture(scope="module")
def xss(tmp_path_factory: pytest.TempPathFactory, listener: Listener) -> Iterator[XssServer]:
    """The corpus ingested by the CLI (the server holds the store once it runs), then served."""
    folder = tmp_path_factory.mktemp("xss")
    records, cases = corpus(listener.url)
    data_dir = folder / "data"
    summary = ok(run_cli("ingest", write_jsonl(folder / "xss.jsonl", records), write_xss_article(folder), "--json",
                         data_dir=data_dir))
    added = json.loads(summary.stdout.strip().splitlines()[-1])
    assert added["added"] == len(records) + 1 and added["failed"] == 0, added
    with newsbot_server(data_dir) as running:
        yield XssServer(running, listener, records, cases)


# -- what the browser may and may not show ------------------------------------------------------

# Elements, attributes and links inside `roots` that article text must never become. Gradio's
# own buttons carry <svg> icons, so an element counts when it is of a kind that runs or loads
# something, or when one of its attributes carries a payload marker.
SCAN_JS = """([selectors, marker]) => {
  const found = [];
  const risky = new Set(["SCRIPT", "IFRAME", "FRAME", "OBJECT", "EMBED", "DETAILS", "STYLE", "LINK", "META",
                         "BASE", "FORM", "IMG", "VIDEO", "AUDIO", "SOURCE"]);
  const links = [];
  const textAttributes = new Set(["aria-label", "title", "value", "placeholder"]);
  for (const selector of selectors) {
    for (const root of document.querySelectorAll(selector)) {
      for (const el of root.querySelectorAll("*")) {
        if (risky.has(el.tagName)) found.push(el.outerHTML.slice(0, 200));
        for (const attr of el.attributes) {
          const isLink = el.tagName === "A" && attr.name === "href";
          if (textAttributes.has(attr.name)) continue;  // text for assistive tech: never run or loaded
          if (attr.name.startsWith("on") || attr.name === "srcdoc" || attr.name === "formaction" ||
              (!isLink && new RegExp(marker).test(attr.value)) || /^\\s*(javascript|data|vbscript):/i.test(attr.value)) {
            found.push(el.tagName + " " + attr.name + "=" + attr.value.slice(0, 120));
          }
        }
        if (el.hasAttribute("href") || el.hasAttribute("xlink:href")) {
          links.push(el.tagName === "A" ? el.href : el.getAttribute("href") || el.getAttribute("xlink:href"));
        }
      }
    }
  }
  return {found, links, ran: window.__xss === undefined ? null : String(window.__xss)};
}"""


def scan(frame: Any, selectors: list[str], xss: XssServer) -> dict[str, Any]:
    marker = r"__xss|" + re.escape(xss.listener.url.removeprefix("http://"))
    return frame.evaluate(SCAN_JS, [selectors, marker])


# A link is allowed when the browser reads it as an http(s) URL with a host, spelled out as such.
PROPER_URL_JS = """(u) => {
  if (!/^https?:\\/\\/[^\\/\\\\]/i.test(u)) return null;
  try {
    const parsed = new URL(u);
    return (parsed.protocol === "http:" || parsed.protocol === "https:") && parsed.hostname ? parsed.href : null;
  } catch (e) {
    return null;
  }
}"""


def browser_href(frame: Any, url: str | None) -> str | None:
    return frame.evaluate(PROPER_URL_JS, url) if url else None


def cited_links(frame: Any, answer: dict[str, Any]) -> set[str]:
    """The links an answer may show: its citations' http(s) URLs, as the browser spells them."""
    return {href for c in answer["citations"] if (href := browser_href(frame, c["url"]))}


def flat(text: str) -> str:
    return " ".join(text.split())


def api_answer(xss: XssServer, question: str) -> dict[str, Any]:
    response = httpx.post(f"{xss.server.url}/api/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def assert_clean(result: dict[str, Any], allowed_links: set[str], where: str) -> None:
    assert result["ran"] is None, f"{where}: a payload ran (window.__xss = {result['ran']})"
    assert result["found"] == [], f"{where}: article text became markup: {result['found']}"
    stray = [u for u in result["links"] if u not in allowed_links]
    assert not stray, f"{where}: links other than the cited articles' http(s) URLs: {stray}"


def hover_all(locator: Any) -> None:
    """Pass the mouse over each element (an injected onmouseover would fire)."""
    assert locator.count(), f"nothing to hover: {locator}"
    for i in range(locator.count()):
        locator.nth(i).hover()


# -- the JSON API -------------------------------------------------------------------------------

def test_the_corpus_is_stored_and_each_question_retrieves_its_payloads(xss: XssServer) -> None:
    for case in xss.cases:
        answer = api_answer(xss, case.question)
        assert not answer["abstained"] and answer["citations"], (case.question, answer)
        for payload in case.payloads:
            assert payload in answer["answer"], f"the corpus no longer exercises {payload!r}: {answer['answer']!r}"


def test_api_consumers_get_the_raw_text_with_nothing_added(xss: XssServer) -> None:
    stored = {r["title"]: r for r in xss.records}
    for case in xss.cases:
        response = httpx.post(f"{xss.server.url}/api/ask", json={"question": case.question}, timeout=60)
        assert response.headers["content-type"] == "application/json"
        assert "&lt;" not in response.text and "&quot;" not in response.text and "&#" not in response.text
        answer = response.json()
        top = answer["citations"][0]
        if top["title"] in stored:  # the JSON records keep their exact title, outlet and (http) URL
            record = stored[top["title"]]
            assert top["source"] == record["source"]
            assert safe_url(top["url"]) == case.link  # javascript: and data: URLs are not even stored
        else:
            assert top["title"] == XSS_TITLE and top["url"] is None
        assert all(c["url"] is None or c["url"].startswith(("http://", "https://")) for c in answer["citations"])

        with httpx.stream("POST", f"{xss.server.url}/api/ask/stream", json={"question": case.question},
                          timeout=60) as stream:
            events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
        deltas = "".join(e["text"] for e in events[:-1])
        assert events[-1] == answer and deltas.strip() == answer["answer"].strip()

        found = httpx.post(f"{xss.server.url}/api/retrieve", json={"question": case.question}, timeout=60).json()
        assert any(case.payloads[0] in r["text"] for r in found["results"]), case.question
        assert "&lt;" not in json.dumps(found, ensure_ascii=False)


# -- the chat page ------------------------------------------------------------------------------

def ask_and_wait(page: Any, question: str, title: str) -> None:
    """Ask on the Chat tab and wait until the cards show the answer's first source."""
    page.locator("#nb-question textarea").fill(question)
    page.locator("#nb-ask").click()
    page.wait_for_function("(t) => (document.querySelector('#nb-sources .nb-card .nb-title') || {}).innerText"
                           " === t", arg=title)


def test_chat_page_shows_every_payload_as_text_and_runs_none(page: Any, dialogs: list[str], xss: XssServer) -> None:
    page.goto(xss.server.url + "/")
    # The example questions quote the newest titles: click the one whose title carries a frame.
    marsh = next(r for r in xss.records if r["title"].startswith("Marsh reserve"))
    page.locator("#nb-examples").get_by_text("Marsh reserve", exact=False).click()
    page.wait_for_function("() => !document.querySelector('#nb-sources').innerText.includes('appear here')")
    example = f"What is the story behind “{marsh['title']}”?"
    assert flat(example) in flat(page.locator("#nb-chat").inner_text())
    allowed = cited_links(page, api_answer(xss, example))
    page.get_by_role("button", name="Filters").click()
    page.locator("#nb-outlet input").click()  # the outlet list: sources carrying payloads
    options = page.get_by_role("option")
    options.first.wait_for()
    outlets = options.all_inner_texts()
    assert payloads(xss.listener.url)["attr"] in outlets and f"<img src={xss.listener.url}/source onerror={RAN}>" in outlets
    page.keyboard.press("Escape")
    assert_clean(scan(page, ["gradio-app"], xss), allowed, "page with examples and outlets")

    for case in xss.cases:
        answer = api_answer(xss, case.question)
        top = answer["citations"][0]
        ask_and_wait(page, case.question, top["title"])
        assert flat(answer["answer"]) in flat(page.locator("#nb-chat").inner_text())
        cards = page.locator("#nb-sources .nb-answer-sources").first.locator(".nb-card")  # this answer's, newest first
        assert cards.count() == len({c["article_id"] for c in answer["citations"]})  # one card per article
        assert flat(top["quote"]) in flat(cards.first.locator("blockquote").inner_text())
        if top["source"]:
            assert flat(top["source"]) in flat(cards.first.locator(".nb-meta").inner_text())
        hover_all(cards.locator(".nb-title, blockquote"))
        hover_all(page.locator("#nb-chat .message"))
        links = cited_links(page, answer)
        if case.link:
            assert browser_href(page, case.link) in links
            assert cards.first.locator("a").evaluate("a => a.href") == browser_href(page, case.link)
        else:
            assert cards.first.locator("a").count() == 0
        allowed |= links
        assert_clean(scan(page, ["#nb-sources .nb-answer-sources:first-of-type"], xss), links, f"cards for {case.question!r}")
        assert_clean(scan(page, ["#nb-sources"], xss), allowed, f"every answer's cards after {case.question!r}")
        assert_clean(scan(page, ["#nb-chat"], xss), set(), f"chat for {case.question!r}")

    # The copy button gives the answer as it reads: quotes stay quotes, only "<" and "&x" stay escaped.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=xss.server.url)
    page.locator("#nb-chat").get_by_role("button", name="Copy message").last.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert '"' in answer["answer"] and "&quot;" not in copied and "&#x27;" not in copied
    assert copied.replace("&lt;", "<").replace("&amp;", "&") == answer["answer"]

    screenshot(page, "xss-corpus-chat")
    assert_clean(scan(page, ["gradio-app"], xss), allowed, "the whole chat page")
    assert dialogs == [], f"article text opened dialogs: {dialogs}"
    assert xss.listener.hits == [], f"article text loaded or ran something: {xss.listener.hits}"


# -- the widget on another origin's page --------------------------------------------------------

def test_widget_on_a_host_page_shows_every_payload_as_text_and_runs_none(page: Any, dialogs: list[str], xss: XssServer,
                                                                         host_site: str) -> None:
    frame_locator = open_widget(page, host_site, xss.server)
    frame_locator.locator("#question").wait_for()
    embed = next(f for f in page.frames if f.url.startswith(xss.server.url + "/embed"))

    allowed: set[str] = set()
    for i, case in enumerate(xss.cases):
        answer = api_answer(xss, case.question)
        frame_locator.locator("#question").fill(case.question)
        frame_locator.locator("#send").click()
        box = frame_locator.locator(".answer").nth(i)
        box.wait_for()
        shown = flat(box.inner_text())
        assert flat(answer["answer"]) in shown
        for c in answer["citations"]:
            assert flat(c["title"]) in shown and flat(c["quote"]) in shown
        hover_all(box.locator(".sources li"))
        links = cited_links(embed, answer)
        shown_links = box.locator(".sources a").evaluate_all("links => links.map(a => a.href)")
        if case.link:
            assert shown_links[0] == browser_href(embed, case.link)
        else:
            assert box.locator(".sources li").first.locator("a").count() == 0
        allowed |= links
        assert_clean(scan(embed, ["#log"], xss), allowed, f"widget after {case.question!r}")

    screenshot(page, "xss-corpus-widget")
    assert_clean(scan(page.main_frame, [], xss), set(), "the host page")  # its own scripts are not scanned
    assert dialogs == [], f"article text opened dialogs: {dialogs}"
    assert xss.listener.hits == [], f"article text loaded or ran something: {xss.listener.hits}"

