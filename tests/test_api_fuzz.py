"""Malformed requests against a real `newsbot serve`: whatever a client sends (wrong types, huge
or deeply nested bodies, lone surrogates and NaN spelled in JSON, missing and extra fields, bytes
that are not JSON, wrong content types), the answer is never a 5xx, and every 4xx is JSON
carrying an error message: FastAPI's `detail` under /api, OpenAI's `error` under /v1. Streams
that start never end in an in-band error.

Hypothesis generates the requests; the server has no rate limit and a queue far larger than
the one request at a time the test sends, so a 503 "busy" cannot happen either.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server_helpers import SEED_QUESTION, newsbot_server

pytestmark = [pytest.mark.slow,  # starts a real server
              pytest.mark.filterwarnings("ignore:Generating overly large repr")]  # the 64 KB bodies

EXAMPLES = 100  # per test: a few seconds each once the server is up
MAX_BODY = 64 * 1024  # the server's default max_body_bytes
API_KEY = "fuzz-key-Ω"  # /v1 wants it as a bearer token
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@dataclass
class Api:
    url: str
    client: httpx.Client


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An empty data dir: the server ingests the seed article itself on first start."""
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    env = {"NEWSBOT_RATE_LIMIT_PER_MINUTE": "0", "NEWSBOT_QUEUE_SIZE": "1000", "NEWSBOT_API_KEY": API_KEY}
    with newsbot_server(data_dir, env) as running, httpx.Client(base_url=running.url, timeout=60) as client:
        yield Api(running.url, client)


# -- what a client may send -----------------------------------------------------------------------

def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` five times in six, else `odd`: enough well-formed requests reach the bot."""
    return st.integers(0, 5).flatmap(lambda n: odd if n == 0 else usual)


LONE_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
TEXT = mostly(st.text(max_size=40), st.text(st.one_of(st.characters(), LONE_SURROGATES), min_size=1, max_size=40))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**20),
                    st.floats(allow_nan=True, allow_infinity=True), TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=12)
QUESTIONS = mostly(st.sampled_from([SEED_QUESTION, "troops", "Who is Macron?", "What did Macron say about Trump?"]),
                   st.one_of(st.sampled_from(["", "   ", "?" * 1001]), TEXT))
EXTRA = mostly(st.just({}), st.dictionaries(st.sampled_from(["extra", "temperature", "__proto__", "question2", "k"]),
                                            JSON, min_size=1, max_size=2))


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right type, sometimes anything at all."""
    return mostly(valid, JSON)


def shaped(required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A record shaped like the endpoint's schema, with fields missing, mistyped or added."""
    base = st.fixed_dictionaries({k: maybe(v) for k, v in required.items()},
                                 optional={k: maybe(v) for k, v in optional.items()})
    partial = st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in {**required, **optional}.items()})
    return st.tuples(mostly(base, partial), EXTRA).map(lambda t: {**t[0], **t[1]})


FILTERS = st.fixed_dictionaries({}, optional={
    "source": maybe(TEXT), "date_from": maybe(st.sampled_from(["2025-02-01", "2025-13-45", ""])),
    "date_to": maybe(st.dates().map(str)), "article_id": maybe(TEXT)})
TURN = st.fixed_dictionaries({"role": maybe(st.sampled_from(["user", "assistant", "system"])), "content": maybe(TEXT)})
ASK = shaped({"question": QUESTIONS}, {"filters": FILTERS, "k": st.integers(-5, 60), "history": st.lists(TURN, max_size=3),
                                       "llm": TEXT})
RETRIEVE = shaped({"question": QUESTIONS}, {"filters": FILTERS, "k": st.integers(-5, 60)})
CITATION = st.dictionaries(st.sampled_from(["n", "chunk_id", "title", "quote"]), JSON, max_size=3)
FEEDBACK = shaped({"question": QUESTIONS, "answer": TEXT, "rating": st.sampled_from(["up", "down", "meh"])},
                  {"citations": st.lists(CITATION, max_size=3), "comment": TEXT})
PART = st.fixed_dictionaries({"type": maybe(st.sampled_from(["text", "image_url"])), "text": maybe(TEXT)})
MESSAGE = st.fixed_dictionaries({"role": maybe(st.sampled_from(["user", "assistant", "system", "tool", "developer", "robot"]))},
                                optional={"content": maybe(st.one_of(QUESTIONS, st.lists(PART, max_size=3))), "name": TEXT})
QUESTION_MESSAGE = st.fixed_dictionaries({"role": st.just("user"), "content": QUESTIONS})
CHAT = shaped({"messages": mostly(st.tuples(st.lists(MESSAGE, max_size=3), QUESTION_MESSAGE).map(lambda t: [*t[0], t[1]]),
                                  st.lists(MESSAGE, max_size=4))},
              {"model": mostly(st.just("newsbot"), st.sampled_from(["newsbot-llm", "gpt-4o", ""])), "stream": st.booleans(),
               "temperature": st.floats(allow_nan=True), "max_tokens": st.integers()})

ENDPOINTS = {"/api/ask": ASK, "/api/ask/stream": ASK, "/api/retrieve": RETRIEVE, "/api/feedback": FEEDBACK,
             "/v1/chat/completions": CHAT}
CONTENT_TYPES = st.sampled_from(["application/json", "application/json", "application/json; charset=utf-8",
                                 "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                 "application/xml", None])


def encode(value: Any, how: str) -> bytes:
    """JSON text of any value: NaN and Infinity as Python writes them, lone surrogates escaped
    ("\\ud800") or written as the bytes UTF-8 forbids."""
    if how == "escaped":
        return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


JSON_BODIES = st.builds(encode, st.one_of(JSON, *ENDPOINTS.values()), st.sampled_from(["escaped", "raw"]))
DEEP = st.builds(lambda n, k, wrap: (f'{{"{k}": ' if wrap else "") + "[" * n + "]" * n + ("}" if wrap else ""),
                 st.integers(1, 40_000), st.sampled_from(["question", "messages", "filters"]), st.booleans()).map(str.encode)
HUGE = st.builds(lambda n, k: json.dumps({k: "x" * n}).encode(), st.integers(MAX_BODY - 100, MAX_BODY + 20_000),
                 st.sampled_from(["question", "answer", "messages"]))
NOT_JSON = st.one_of(st.binary(max_size=200), st.sampled_from([b"", b"{", b"question=hi", b"\xef\xbb\xbf{}", b"null",
                                                               b'{"question": "hi"}{"question": "again"}']))


# -- what the server must answer ------------------------------------------------------------------

def auth(path: str) -> dict[str, bytes]:
    return {"authorization": f"Bearer {API_KEY}".encode()} if path.startswith("/v1/") else {}


def send(api: Api, path: str, body: bytes, content_type: str | None) -> httpx.Response:
    headers: dict[str, Any] = {"content-type": content_type} if content_type else {}
    with api.client.stream("POST", path, content=body, headers={**headers, **auth(path)}) as response:
        response.read()
    return response


def check(response: httpx.Response, sent: bytes) -> None:
    where = f"{response.request.method} {response.request.url.path} with {sent[:300]!r}"
    assert response.status_code < 500, f"{where} → {response.status_code}: {response.text[:500]}"
    kind = response.headers.get("content-type", "")
    if response.status_code >= 400:
        assert kind.startswith("application/json"), f"{where} → {response.status_code} as {kind!r}: {response.text[:300]}"
        message = error_message(response.json(), openai=response.request.url.path.startswith("/v1/"))
        assert message, f"{where} → {response.status_code} without a message in its API's shape: {response.text[:300]}"
    elif kind.startswith("text/event-stream"):
        assert "event: error" not in response.text, f"{where} → the stream failed: {response.text[-500:]}"
        assert "event: answer" in response.text or "data: [DONE]" in response.text, f"{where} → {response.text[-300:]}"
    else:
        assert kind.startswith("application/json"), f"{where} → {kind!r}"
        response.json()


def error_message(body: Any, openai: bool) -> str:
    """The message of FastAPI's {"detail": "…" or [{"msg": "…"}]} (the /api shape) or, for /v1,
    of OpenAI's {"error": {"message": "…", "type": "…", "param", "code"}}; "" when the body is
    not in the shape its API promises."""
    if not isinstance(body, dict):
        return ""
    if openai:
        error = body.get("error")
        if set(body) != {"error"} or not isinstance(error, dict) or set(error) != {"message", "type", "param", "code"}:
            return ""
        return error["message"] if isinstance(error["message"], str) and error["type"] else ""
    detail = body.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and all(isinstance(d, dict) and d.get("msg") for d in detail):
        return "; ".join(d["msg"] for d in detail)
    return ""


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_records_shaped_like_the_schema_never_get_a_5xx(api: Api, path: str) -> None:
    @FUZZ
    @given(record=ENDPOINTS[path], how=st.sampled_from(["escaped", "raw"]))
    def run(record: Any, how: str) -> None:
        body = encode(record, how)
        check(send(api, path, body, "application/json"), body)

    run()


@FUZZ
@given(path=st.sampled_from(list(ENDPOINTS)), body=st.one_of(JSON_BODIES, DEEP, HUGE, NOT_JSON), content_type=CONTENT_TYPES)
def test_any_body_with_any_content_type_never_gets_a_5xx(api: Api, path: str, body: bytes, content_type: str | None) -> None:
    check(send(api, path, body, content_type), body)


@FUZZ
@given(path=st.sampled_from(["/api/ask", "/v1/chat/completions"]), body=HUGE)
def test_bodies_over_the_limit_are_a_json_413_even_when_chunked(api: Api, path: str, body: bytes) -> None:
    chunks = iter([body[: len(body) // 2], body[len(body) // 2:]])  # a generator: no Content-Length
    for content in (body, chunks):
        headers = {"content-type": "application/json", **auth(path)}
        with api.client.stream("POST", path, content=content, headers=headers) as response:
            response.read()
        if len(body) > MAX_BODY:
            assert response.status_code == 413, response.text[:200]
            assert "limit" in error_message(response.json(), openai=path.startswith("/v1/")), response.text[:200]
        else:
            check(response, body)


@FUZZ
@given(path=st.sampled_from(["/api/health", "/v1/models"]), query=st.dictionaries(TEXT, TEXT, max_size=3),
       key=st.one_of(st.none(), st.just(f"Bearer {API_KEY}"),
                      st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),  # HTTP's
                              max_size=60).map(lambda t: f"Bearer {t}")))
def test_reads_with_odd_queries_and_headers_never_get_a_5xx(api: Api, path: str, query: dict[str, str],
                                                            key: str | None) -> None:
    params = {k.encode("utf-8", "surrogatepass").decode("utf-8", "replace"): v.encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace") for k, v in query.items()}
    headers = {"authorization": key.strip().encode()} if key is not None else {}  # UTF-8 bytes, as clients send
    response = api.client.get(path, params=params, headers=headers)
    if path == "/v1/models":
        assert response.status_code == (200 if key and key.strip() == f"Bearer {API_KEY}" else 401), response.text
    check(response, f"{params} {headers}".encode("utf-8", "replace"))


def test_lone_surrogates_and_nan_are_refused_with_a_message_not_echoed_into_a_500(api: Api) -> None:
    """The cases the fuzzing found first, kept as plain examples."""
    bodies = {"/api/ask": [b'{"question": "\\ud800 troops?"}', b'{"question": "troops", "k": NaN}',
                           b'{"question": "troops", "k": 1e400}'],
              "/api/feedback": [b'{"question": "q", "answer": "a \\udc00", "rating": "up"}',
                                b'{"question": "q", "answer": "a", "rating": "up", "citations": [{"n": Infinity}]}'],
              "/v1/chat/completions": [b'{"messages": [{"role": "user", "content": "troops \\ud800"}], "stream": true}',
                                       b'{"messages": [{"role": "user", "content": "troops"}], "temperature": NaN}']}
    for path, cases in bodies.items():
        for body in cases:
            response = send(api, path, body, "application/json")
            # OpenAI answers a malformed request with 400 (its clients' BadRequestError), FastAPI with 422
            assert response.status_code == (400 if path.startswith("/v1/") else 422), (path, body, response.text[:300])
            message = json.dumps(response.json())
            assert "surrogate" in message or "finite" in message, message[:300]


def test_a_good_question_still_gets_a_cited_answer(api: Api) -> None:
    """The checks above must not refuse what is fine: emoji (a surrogate pair in JSON) included."""
    answer = api.client.post("/api/ask", content=json.dumps({"question": f"{SEED_QUESTION} 🙂"}).encode(),
                             headers={"content-type": "application/json"})
    assert answer.status_code == 200 and "[1]" in answer.json()["answer"]
