"""The OpenAI-compatible API through OpenAI's own Python client and LangChain's ChatOpenAI,
against a real `newsbot serve` on loopback (the server seeds itself on first start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from tests.server_helpers import RunningServer, newsbot_server

QUESTION = "What did Macron say about troops?"
KEY = "test-key-123"


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
    assert caught.value.status_code == 401
    body = httpx.post(f"{server.url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}).json()
    assert body["error"]["code"] == "invalid_api_key"


def test_unknown_model_and_bad_messages_are_client_errors(server: RunningServer) -> None:
    with pytest.raises(openai.NotFoundError):
        client(server).chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.BadRequestError):
        client(server).chat.completions.create(model="newsbot", messages=[{"role": "assistant", "content": "hi"}])


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
    assert "American backup" in namespace["reply"].choices[0].message.content
