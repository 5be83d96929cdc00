"""The OpenAI-compatible API through OpenAI's own Python client and LangChain's ChatOpenAI,
against a real `newsbot serve` on loopback (the server seeds itself on first start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from tests.server_helpers import RunningServer, newsbot_server

QUESTION = "What did Macron say about troops?"
KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with newsbot_server(tmp_path_factory.mktemp("openai") / "data", env={"NEWSBOT_API_KEY": KEY}) as running:
        yield running


def client(server: RunningServer, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def test_models_lists_newsbot(server: RunningServer) -> None:
    assert [m.id for m in client(server).models.list()] == ["newsbot"]  # no LLM configured here


def test_plain_completion_has_cited_answer_and_sources(server: RunningServer) -> None:
    reply = client(server).chat.completions.create(model="newsbot", messages=[{"role": "user", "content": QUESTION}])
    message = reply.choices[0].message
    assert "American backup" in message.content and "[1]" in message.content
    assert "Sources:" in message.content and "Macron backs Trump" in message.content
    citations = message.model_extra["citations"]
    assert citations[0]["n"] == 1 and citations[0]["quote"] in message.content


def test_streaming_arrives_in_chunks_and_ends_with_sources(server: RunningServer) -> None:
    stream = client(server).chat.completions.create(model="newsbot", stream=True,
                                                    messages=[{"role": "user", "content": QUESTION}])
    pieces = [c.choices[0].delta.content or "" for c in stream]
    assert len(pieces) >= 3
    text = "".join(pieces)
    assert "American backup" in text and "Sources:" in text


def tokens(text: str) -> int:
    """Tokens as the settings' tokenizer counts them (cl100k_base, bundled offline)."""
    from ingest.chunk import get_encoding
    from newsbot.settings import load_settings

    return len(get_encoding(load_settings().tokenizer).encode(text))


def test_usage_counts_the_prompt_and_the_reply_in_tokens(server: RunningServer) -> None:
    messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": QUESTION}]
    reply = client(server).chat.completions.create(model="newsbot", messages=messages)
    usage = reply.usage
    assert usage.prompt_tokens == tokens("Answer briefly.") + tokens(QUESTION) > 0
    assert usage.completion_tokens == tokens(reply.choices[0].message.content) > 50
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_a_stream_reports_usage_when_asked_and_ends_with_the_sources_only(server: RunningServer) -> None:
    plain = client(server).chat.completions.create(model="newsbot", messages=[{"role": "user", "content": QUESTION}])
    stream = client(server).chat.completions.create(model="newsbot", stream=True, stream_options={"include_usage": True},
                                                    messages=[{"role": "user", "content": QUESTION}])
    chunks = list(stream)
    *answer, last = chunks
    assert last.choices == [] and last.usage is not None  # OpenAI's usage chunk, after the finish
    text = "".join(c.choices[0].delta.content or "" for c in answer)
    assert text == plain.choices[0].message.content  # the streamed pieces, then the sources: nothing replaced
    assert last.usage.prompt_tokens == tokens(QUESTION)
    assert last.usage.completion_tokens == tokens(text) == plain.usage.completion_tokens
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    no_usage = list(client(server).chat.completions.create(model="newsbot", stream=True,
                                                           messages=[{"role": "user", "content": QUESTION}]))
    assert all(c.choices for c in no_usage) and all(c.usage is None for c in no_usage)


def test_history_makes_a_follow_up_standalone(server: RunningServer) -> None:
    reply = client(server).chat.completions.create(model="newsbot", messages=[
        {"role": "user", "content": "Who is Vassily Nebenzia?"},
        {"role": "assistant", "content": "Russia's ambassador to the UN."},
        {"role": "user", "content": "What did he call the US text?"},
    ])
    assert "step in the right direction" in reply.choices[0].message.content


def test_wrong_key_gets_401_in_openai_shape(server: RunningServer) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client(server, "wrong").chat.completions.create(model="newsbot", messages=[{"role": "user", "content": QUESTION}])
    assert caught.value.status_code == 401 and caught.value.type == "authentication_error"
    body = httpx.post(f"{server.url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}).json()
    assert body["error"]["code"] == "invalid_api_key"


def test_unknown_model_and_bad_messages_are_client_errors(server: RunningServer) -> None:
    with pytest.raises(openai.NotFoundError) as unknown:
        client(server).chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": QUESTION}])
    assert unknown.value.param == "model" and unknown.value.code == "model_not_found"
    assert "'gpt-9' does not exist" in unknown.value.body["message"]
    with pytest.raises(openai.BadRequestError) as last:
        client(server).chat.completions.create(model="newsbot", messages=[{"role": "assistant", "content": "hi"}])
    assert last.value.param == "messages" and "last message must be a user message" in last.value.body["message"]


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The body's error, checked to be exactly OpenAI's shape (no FastAPI `detail` beside it)."""
    assert response.headers["content-type"] == "application/json", response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body["error"]


@pytest.mark.parametrize(("call", "param", "says"), [
    ({"model": "newsbot"}, "messages", "messages: Field required"),
    ({"messages": []}, "messages", "messages: List should have at least 1 item"),
    ({"messages": "hi"}, "messages", "messages: Input should be a valid list"),
    ({"messages": [{"content": "hi"}]}, "messages[0].role", "messages[0].role: Field required"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role", "messages[0].role: Input should be 'system'"),
    ({"messages": [{"role": "user", "content": [{"type": 5}]}]}, "messages[0].content", "messages[0].content[0].type:"),
    ({"messages": [{"role": "user", "content": "hi"}], "stream": "maybe"}, "stream", "stream: Input should be a valid boolean"),
    ({"messages": [{"role": "user", "content": "x" * 1001}]}, "messages[0].content", "at most 1000 characters, not 1001"),
], ids=["missing", "empty", "not-a-list", "no-role", "bad-role", "bad-part", "stream", "too-long"])
def test_malformed_requests_raise_bad_request_with_the_field_and_reason(server: RunningServer, call: dict[str, Any],
                                                                         param: str, says: str) -> None:
    """The OpenAI client parses our error: BadRequestError, with our message and the field in `param`."""
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).post("/chat/completions", body=call, cast_to=object)
    error = caught.value
    assert error.status_code == 400 and error.param == param and error.type == "invalid_request_error"
    assert says in error.body["message"] and "\n" not in error.body["message"], error.body
    raw = httpx.post(f"{server.url}/v1/chat/completions", json=call, headers=AUTH)
    assert raw.status_code == 400 and error_of(raw) == error.body


def test_bodies_that_are_not_json_or_too_big_get_openai_errors(server: RunningServer) -> None:
    not_json = httpx.post(f"{server.url}/v1/chat/completions", content=b'{"messages": [', headers={
        **AUTH, "content-type": "application/json"})
    assert not_json.status_code == 400 and error_of(not_json)["message"].startswith("body: not valid JSON")
    big = httpx.post(f"{server.url}/v1/chat/completions", headers=AUTH,
                     json={"messages": [{"role": "user", "content": "x" * 70_000}]})
    assert big.status_code == 413 and "byte limit" in error_of(big)["message"]


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/v1/chat/completions", "POST"),
    ("GET", "/v1/chat/completions", "POST"),
    ("DELETE", "/v1/models", "GET"),
    ("POST", "/v1/models", "GET"),
])
def test_wrong_method_is_405_with_allow_in_openai_shape(server: RunningServer, method: str, path: str, allow: str) -> None:
    response = httpx.request(method, f"{server.url}{path}", headers=AUTH, json={})
    assert response.status_code == 405 and response.headers["allow"] == allow
    error = error_of(response)
    assert error["type"] == "invalid_request_error" and method in error["message"] and allow in error["message"]


def test_unknown_v1_path_is_404_in_openai_shape(server: RunningServer) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client(server).get("/embeddings", cast_to=object)
    assert caught.value.type == "not_found_error" and "/v1/embeddings" in caught.value.body["message"]
    assert error_of(httpx.get(f"{server.url}/v1", headers=AUTH))["type"] == "not_found_error"


def test_langchain_chat_openai_plain_and_streaming(server: RunningServer) -> None:
    chat = ChatOpenAI(base_url=f"{server.url}/v1", api_key=KEY, model="newsbot", max_retries=0)
    assert "American backup" in chat.invoke(QUESTION).content
    streamed = "".join(chunk.content for chunk in chat.stream(QUESTION))
    assert "American backup" in streamed and "Sources:" in streamed


def test_readme_openai_example_runs(server: RunningServer, tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("<!-- openai-example -->")[1].split("```python")[1].split("```")[0]
    namespace: dict = {}
    exec(example.replace("http://127.0.0.1:7860", server.url).replace('"sk-anything"', f'"{KEY}"'), namespace)
    content = namespace["reply"].choices[0].message.content
    assert "American backup" in content
    assert "““" not in content and "””" not in content


# Seed sentences whose quote opens a quotation (“A lot of my European colleagues …,” he said.) and
# closes one (… would “not be able to support in its current form.”).
QUOTING_QUESTIONS = [QUESTION, "Which country put forward amendments to the US text at the UN?"]


def source_quotes(content: str) -> list[str]:
    """What follows ' — ' on each line after 'Sources:': the quote as the reply shows it."""
    sources = content.split("\nSources:\n", 1)[1].splitlines()
    assert sources and all(" — " in line for line in sources), sources
    return [line.split(" — ", 1)[1] for line in sources]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streaming"])
def test_each_source_quote_is_inside_exactly_one_pair_of_quote_marks(server: RunningServer, stream: bool) -> None:
    seen = ""
    for question in QUOTING_QUESTIONS:
        messages = [{"role": "user", "content": question}]
        if stream:
            chunks = list(client(server).chat.completions.create(model="newsbot", stream=True, messages=messages))
            content = "".join(c.choices[0].delta.content or "" for c in chunks)
            citations = chunks[-1].choices[0].delta.model_extra["citations"]
        else:
            message = client(server).chat.completions.create(model="newsbot", messages=messages).choices[0].message
            content, citations = message.content, message.model_extra["citations"]
        assert "““" not in content and "””" not in content, content
        shown = source_quotes(content)
        assert len(shown) == len(citations)
        for quote, citation in zip(shown, citations, strict=True):
            bare = citation["quote"].removeprefix("“").removesuffix("”")
            assert quote == f"“{bare}”", (quote, citation["quote"])
            assert citation["quote"] in quote  # verbatim
        seen += "".join(c["quote"][0] + c["quote"][-1] for c in citations)
    assert "“" in seen and "”" in seen, "the questions no longer cite a quote that opens or closes a quotation"
