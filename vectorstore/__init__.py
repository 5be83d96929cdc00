"""The store room: Chroma, the derived lexical and quote indexes, and their LangChain faces."""

from typing import Any

__all__ = ["NewsVectorStore", "NewsRetriever"]


def __getattr__(name: str) -> Any:  # lazy: importing records must not pull in LangChain
    if name in __all__:
        from vectorstore import langchain

        return getattr(langchain, name)
    raise AttributeError(name)
