"""Helpers shared by the benchmark scripts (not part of the product)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SHARED = Path(os.environ.get("NEWSBOT_SHARED", Path(__file__).resolve().parents[2] / "shared"))
RTQA = SHARED / "data" / "realtimeqa"


class DataMissing(SystemExit):
    pass


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate a background process, killing it when it does not exit in time."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def weeks() -> list[Path]:
    """The RealTimeQA week folders; NEWSBOT_SHARED points elsewhere when shared/ is not beside the repo."""
    found = sorted(p for p in RTQA.iterdir() if (p / "corpus.jsonl").exists()) if RTQA.is_dir() else []
    if not found:
        raise DataMissing(f"skipped: no RealTimeQA weeks under {RTQA} (set NEWSBOT_SHARED to the shared/ folder)")
    return found


def corpus_records(limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for w in weeks() for line in (w / "corpus.jsonl").open(encoding="utf-8") if line.strip()]
    return rows[:limit] if limit else rows


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_asks(bot, questions: list[str]) -> list[float]:  # noqa: ANN001 - a chatbot.service.NewsBot
    """Milliseconds per `bot.ask`, sorted."""
    import time

    times = []
    for question in questions:
        start = time.perf_counter()
        bot.ask(question)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)


def p50_p95(sorted_ms: list[float]) -> tuple[float, float]:
    return round(sorted_ms[len(sorted_ms) // 2], 1), round(sorted_ms[int(0.95 * (len(sorted_ms) - 1))], 1)


class Listener:
    """A loopback HTTP server that records every request it gets (it should get none). It answers
    `body` (an empty 204 by default), so that what a fetch would have brought in can be recognised."""

    def __init__(self, body: bytes = b"") -> None:
        hits: list[str] = []
        self.hits = hits

        class Record(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
                hits.append(f"{self.command} {self.path}")
                self.send_response(200 if body else 204)
                if body:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body and self.command != "HEAD":
                    self.wfile.write(body)

            do_POST = do_HEAD = do_GET  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
