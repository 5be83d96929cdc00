"""The JSON API of a real `newsbot serve` on loopback, through httpx: answers, streaming,
retrieval, feedback, limits (413/422/429/503), CORS and the embed page's CSP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import SEED_TITLE, SEEDS, ok, run_cli
from tests.server_helpers import (
    SEED_QUESTION,
    XSS_QUESTION,
    XSS_QUOTE,
    XSS_TITLE,
    RunningServer,
    newsbot_server,
    write_xss_article,
)

pytestmark = pytest.mark.slow  # starts real servers

ANSWER_KEYS = {"question", "answer", "citations", "abstained", "mode"}
CITATION_KEYS = {"n", "chunk_id", "article_id", "title", "source", "published", "url", "quote", "speaker"}
LIMITED_ORIGIN = "https://news.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Seed article plus the XSS article, ingested with the CLI before the server starts."""
    folder = tmp_path_factory.mktemp("api")
    data_dir = folder / "data"
    ok(run_cli("ingest", SEEDS, write_xss_article(folder), "-q", data_dir=data_dir))
    with newsbot_server(data_dir, {"NEWSBOT_QUEUE_SIZE": "2"}) as running:
        yield running


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """An empty store (so it seeds itself), 3 questions a minute, one allowed origin."""
    data_dir = tmp_path_factory.mktemp("api-limited") / "data"
    env = {"NEWSBOT_RATE_LIMIT_PER_MINUTE": "3", "NEWSBOT_ALLOWED_ORIGINS": json.dumps([LIMITED_ORIGIN])}
    with newsbot_server(data_dir, env) as running:
        yield running


def post(server: RunningServer, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, timeout=60, **kwargs)


def seed_citations(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in answer["citations"] if c["title"] == SEED_TITLE]


def test_health_counts_what_the_store_holds(server: RunningServer) -> None:
    health = httpx.get(f"{server.url}/api/health").json()
    assert health["status"] == "ok"
    assert health["articles"] == 2
    assert health["chunks"] >= 2


def test_first_start_with_an_empty_store_ingests_the_seeds(limited: RunningServer) -> None:
    health = httpx.get(f"{limited.url}/api/health").json()
    assert health["articles"] == 1 and health["chunks"] > 0
    assert (limited.data_dir / "chroma").is_dir()


def test_ask_answers_with_citations_naming_the_seed_article(server: RunningServer) -> None:
    response = post(server, "/api/ask", {"question": SEED_QUESTION})
    assert response.status_code == 200
    answer = response.json()
    assert ANSWER_KEYS <= set(answer) and set(answer) <= ANSWER_KEYS | {"rewritten_question", "notice"}
    assert answer["question"] == SEED_QUESTION
    assert not answer["abstained"] and answer["mode"] == "extractive"
    assert "[1]" in answer["answer"]
    cited = seed_citations(answer)
    assert cited, answer["citations"]
    assert all(set(c) == CITATION_KEYS for c in answer["citations"])
    assert cited[0]["source"] == "AFP" and cited[0]["published"] == "2025-02-24"
    assert any("troop" in c["quote"].lower() or "backup" in c["quote"].lower() for c in cited)


def test_ask_honours_filters_and_history(server: RunningServer) -> None:
    in_range = post(server, "/api/ask", {"question": SEED_QUESTION, "k": 3,
                                         "filters": {"source": "AFP", "date_from": "2025-02-01", "date_to": "2025-02-28"}})
    assert seed_citations(in_range.json())
    too_early = post(server, "/api/ask", {"question": SEED_QUESTION, "filters": {"date_to": "2020-01-01"}}).json()
    assert not seed_citations(too_early)
    follow_up = post(server, "/api/ask", {"question": "What did he say about Putin?", "history": [
        {"role": "user", "content": SEED_QUESTION}, {"role": "assistant", "content": in_range.json()["answer"]}]}).json()
    assert follow_up["rewritten_question"] == "What did Macron say about Putin?"
    assert seed_citations(follow_up)


def test_stream_sends_text_pieces_then_the_full_answer(server: RunningServer) -> None:
    with httpx.stream("POST", f"{server.url}/api/ask/stream", json={"question": SEED_QUESTION}, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse("".join(response.iter_text()))
    names = [name for name, _ in events]
    assert len(events) >= 2 and names[-1] == "answer" and set(names[:-1]) == {"delta"}, names
    final = events[-1][1]
    assert "".join(data["text"] for _, data in events[:-1]) == final["answer"]
    assert seed_citations(final)


def parse_sse(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_retrieve_returns_ranked_passages(server: RunningServer) -> None:
    body = post(server, "/api/retrieve", {"question": SEED_QUESTION, "k": 3}).json()
    results = body["results"]
    assert body["question"] == SEED_QUESTION and 1 <= len(results) <= 3
    assert results[0]["title"] == SEED_TITLE and results[0]["text"]
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)


def test_feedback_is_appended_to_the_jsonl_file(server: RunningServer) -> None:
    answer = post(server, "/api/ask", {"question": SEED_QUESTION}).json()
    body = {"question": SEED_QUESTION, "answer": answer["answer"], "citations": answer["citations"], "rating": "down"}
    assert post(server, "/api/feedback", body).status_code == 200
    lines = (server.data_dir / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    assert record["rating"] == "down" and record["question"] == SEED_QUESTION
    assert record["citations"] == answer["citations"] and record["time"]


def test_xss_article_comes_back_as_plain_text(server: RunningServer) -> None:
    response = post(server, "/api/ask", {"question": XSS_QUESTION})
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert XSS_QUOTE in answer["answer"]
    assert any(c["title"] == XSS_TITLE and XSS_QUOTE in c["quote"] for c in answer["citations"])


def test_body_over_the_limit_is_413(server: RunningServer) -> None:
    big = {"question": "x" * 70_000}
    assert post(server, "/api/ask", big).status_code == 413
    chunked = (piece for piece in [json.dumps(big).encode()])  # a generator: sent without Content-Length
    response = httpx.post(f"{server.url}/api/ask", content=chunked, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def one_line_error(response: httpx.Response, status: int = 422) -> str:
    """The API's one error shape, as for every other error: {"detail": "one line"}."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str), body
    assert body["detail"] and "\n" not in body["detail"], body
    return body["detail"]


@pytest.mark.parametrize(("body", "says"), [
    ({"question": ""}, "question: String should have at least 1 character"),
    ({"question": "   "}, "question: String should have at least 1 character"),
    ({"question": "x" * 1001}, "question: String should have at most 1000 characters"),
    ({"question": 5}, "question: Input should be a valid string"),
    ({}, "question: Field required"),
    ({"question": "ok?", "k": 0}, "k: Input should be greater than or equal to 1"),
    ({"question": "ok?", "history": "not a list"}, "history: Input should be a valid list"),
    ({"question": "ok?", "history": [{"role": "robot", "content": "hi"}]}, "history[0].role: Input should be 'user' or"),
    ({"question": "ok?", "filters": {"date_from": "last tuesday"}}, "filters.date_from: Input should be a valid date"),
    ({"question": "ok?", "unknown": 1}, "unknown: Extra inputs are not permitted"),
    ([1, 2], "body: Input should be a valid dictionary"),
], ids=["empty", "blank", "too-long", "number", "missing", "k0", "history-type", "role", "date", "extra", "array"])
def test_bad_questions_are_422_in_one_line(server: RunningServer, body: Any, says: str) -> None:
    """Not FastAPI's list of errors echoing the input: one line naming the field and the reason."""
    assert one_line_error(post(server, "/api/ask", body)).startswith(says)


def test_bad_bodies_elsewhere_are_422_not_500(server: RunningServer) -> None:
    not_json = httpx.post(f"{server.url}/api/ask", content=b"{nope", headers={"Content-Type": "application/json"})
    assert one_line_error(not_json).startswith("body: not valid JSON")
    empty = post(server, "/api/ask/stream", {"question": ""})
    assert one_line_error(empty) == "question: String should have at least 1 character"
    assert one_line_error(post(server, "/api/retrieve", {"question": "x", "k": 500})).startswith("k: Input should be less")
    assert one_line_error(post(server, "/api/feedback", {"question": "q", "answer": "a", "rating": "meh"})) == (
        "rating: Input should be 'up' or 'down'")
    several = one_line_error(post(server, "/api/ask", {"question": 5, "k": "x", "history": "no", "unknown": 1}))
    assert several.startswith("question: ") and "; k: " in several and several.endswith("(and 1 more)")


def test_rate_limit_answers_429_with_retry_after(limited: RunningServer) -> None:
    responses = [post(limited, "/api/ask", {"question": SEED_QUESTION}) for _ in range(5)]
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429} and statuses.count(200) <= 3 and 429 in statuses, statuses
    refused = responses[statuses.index(429)]
    assert int(refused.headers["Retry-After"]) >= 1


def test_full_queue_answers_503_at_once(server: RunningServer) -> None:
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            asks = [client.post("/api/ask", json={"question": SEED_QUESTION, "k": 50}) for _ in range(8)]
            return await asyncio.gather(*asks)

    responses = asyncio.run(burst())
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 503} and 503 in statuses and 200 in statuses, statuses
    assert responses[statuses.index(503)].headers["Retry-After"]


def preflight(server: RunningServer, origin: str) -> httpx.Response:
    return httpx.options(f"{server.url}/api/ask", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})


def test_cors_allows_loopback_origins_by_default_and_refuses_others(server: RunningServer) -> None:
    local = "http://localhost:3000"
    assert preflight(server, local).headers.get("access-control-allow-origin") == local
    asked = httpx.get(f"{server.url}/api/health", headers={"Origin": local})
    assert asked.headers.get("access-control-allow-origin") == local
    foreign = "https://evil.example"
    refused = preflight(server, foreign)
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-origin" not in httpx.get(f"{server.url}/api/health", headers={"Origin": foreign}).headers


def test_cors_with_configured_origins_allows_only_those(limited: RunningServer) -> None:
    assert preflight(limited, LIMITED_ORIGIN).headers.get("access-control-allow-origin") == LIMITED_ORIGIN
    assert preflight(limited, "http://localhost:3000").status_code == 400


def test_embed_page_may_be_framed_only_by_allowed_origins(server: RunningServer, limited: RunningServer) -> None:
    default = httpx.get(f"{server.url}/embed").headers["content-security-policy"]
    assert "frame-ancestors 'self' http://localhost:* http://127.0.0.1:*" in default
    configured = httpx.get(f"{limited.url}/embed").headers["content-security-policy"]
    assert f"frame-ancestors 'self' {LIMITED_ORIGIN}" in configured and "localhost" not in configured
    assert "script-src 'self'" in configured


def test_the_widget_can_ask_whether_its_site_may_embed_the_chat(server: RunningServer, limited: RunningServer) -> None:
    """/embed/allowed is empty; its CORS headers grant exactly the origins frame-ancestors lets frame /embed."""
    def grant(running: RunningServer, origin: str) -> str | None:
        response = httpx.get(f"{running.url}/embed/allowed", headers={"Origin": origin})
        assert response.status_code == 204 and response.content == b""
        return response.headers.get("access-control-allow-origin")

    assert grant(limited, LIMITED_ORIGIN) == LIMITED_ORIGIN
    assert grant(limited, "http://localhost:3000") is None
    assert grant(server, "http://localhost:3000") == "http://localhost:3000"
    assert grant(server, "https://evil.example") is None


def test_widget_script_and_docs_are_served(server: RunningServer) -> None:
    widget = httpx.get(f"{server.url}/widget.js")
    assert widget.status_code == 200 and "javascript" in widget.headers["content-type"]
    assert "embed" in widget.text
    assert httpx.get(f"{server.url}/docs").status_code == 200
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/ask/stream", "/api/retrieve", "/api/health", "/api/feedback"} <= set(paths)


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/api/ask", "POST"),
    ("HEAD", "/api/ask", "POST"),
    ("GET", "/api/ask/stream", "POST"),
    ("DELETE", "/api/retrieve", "POST"),
    ("PUT", "/api/feedback", "POST"),
    ("POST", "/api/health", "GET"),
])
def test_wrong_method_on_the_api_is_405_with_allow(server: RunningServer, method: str, path: str, allow: str) -> None:
    """Not the 404 of the page mounted at "/": the path exists, the method does not."""
    response = httpx.request(method, f"{server.url}{path}")
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow and response.headers["content-type"] == "application/json"
    if method != "HEAD":
        detail = response.json()["detail"]
        assert set(response.json()) == {"detail"} and method in detail and allow in detail


def test_unknown_api_path_is_a_json_404_naming_the_endpoints(server: RunningServer) -> None:
    response = httpx.get(f"{server.url}/api/asks")
    assert response.status_code == 404 and "allow" not in response.headers
    assert "/api/ask" in response.json()["detail"]


def test_the_page_and_widget_files_still_answer_beside_the_api(server: RunningServer) -> None:
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    config = httpx.get(f"{server.url}/config").json()
    assert config["api_prefix"] == "/gradio_api"
    assert httpx.get(f"{server.url}/gradio_api/info").json()["named_endpoints"]
    for asset in ("/widget.js", "/embed.js", "/embed.css", "/embed"):
        assert httpx.get(f"{server.url}{asset}").status_code == 200, asset


def test_v1_rate_limit_is_an_openai_rate_limit_error(limited: RunningServer) -> None:
    """HTTP errors raised inside /v1 (here the limiter's 429) keep their status and headers but
    take OpenAI's shape, so the OpenAI client raises RateLimitError with our message."""
    client = openai.OpenAI(base_url=f"{limited.url}/v1", api_key="none", max_retries=0)
    ask = {"role": "user", "content": SEED_QUESTION}
    with pytest.raises(openai.RateLimitError) as caught:
        for _ in range(5):  # 3 a minute
            client.chat.completions.create(model="newsbot", messages=[ask])
    error = caught.value
    assert error.type == "rate_limit_error" and error.code == "rate_limit_exceeded"
    assert error.body["message"] == "too many questions; try again later"
    assert int(error.response.headers["retry-after"]) >= 1
