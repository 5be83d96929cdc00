"""`chromadb`, imported without the part newsbot never uses.

Chroma imports OpenTelemetry's gRPC span exporter when it is imported (grpc: ~0.1 s of every cold
start, and memory) but builds one only when an OTel collector endpoint is configured, which
newsbot never does. While chromadb is imported, that one module is a stand-in whose exporter
imports the real one when it is built; the stand-in is gone again afterwards, so anyone importing
the module later gets the real one. Every module of the store room imports chromadb from here.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTER = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"


def _real_exporter_module() -> Any:
    if getattr(sys.modules.get(_EXPORTER), "_newsbot_stand_in", False):
        del sys.modules[_EXPORTER]
    return importlib.import_module(_EXPORTER)


class _DeferredOTLPSpanExporter:
    """Builds the real `OTLPSpanExporter` (importing grpc then)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real_exporter_module().OTLPSpanExporter(*args, **kwargs)


def _real_attribute(name: str) -> Any:
    if name.startswith("__"):  # the import system asks for __path__ etc.: a stand-in has none
        raise AttributeError(name)
    return getattr(_real_exporter_module(), name)


def _import_chromadb() -> types.ModuleType:
    stand_in = None
    if "chromadb" not in sys.modules and _EXPORTER not in sys.modules:
        stand_in = types.ModuleType(_EXPORTER, "newsbot's stand-in: imports the real exporter on first use")
        stand_in.OTLPSpanExporter = _DeferredOTLPSpanExporter  # type: ignore[attr-defined]
        stand_in._newsbot_stand_in = True  # type: ignore[attr-defined]
        stand_in.__getattr__ = _real_attribute  # type: ignore[method-assign]
        sys.modules[_EXPORTER] = stand_in
    try:
        import chromadb
    finally:
        if stand_in is not None and sys.modules.get(_EXPORTER) is stand_in:
            del sys.modules[_EXPORTER]
    return chromadb


chromadb = _import_chromadb()
from chromadb.config import Settings as ChromaSettings  # noqa: E402  (after the stand-in is in place)

__all__ = ["ChromaSettings", "chromadb"]
