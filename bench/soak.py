"""Concurrent use soak: `newsbot serve` on loopback with an empty temp data dir (it ingests seeds/
itself), rate limit off; N clients ask /api/ask in a bounded loop (each waits for its answer, or a
503, before the next question) for T seconds, and meanwhile a batch of RealTimeQA pages is ingested
into the same server through the chat page's Ingest endpoint (the embedded store admits one
process, so a second process could not write to it).

Every request must end in an answer or a fast 503 "queue full"; anything else (another status, a
timeout, a body that is not an answer) is a lost answer. Prints a Markdown section."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import RTQA, DataMissing, stop, weeks
from bench.serve_load import QUESTIONS, free_port, percentile, rss_mb, start, wait_ready

WEEK = "20260123"  # the week whose pages are ingested during the soak and whose questions are asked
WINDOW_S = 5.0
FAST_503_MS = 1000  # a 503 is the queue saying "full" at once, or it is a lost answer


@dataclass
class Request:
    start: float  # seconds since the soak began
    end: float
    status: int | str  # an HTTP status, or the name of the client-side error
    answered: bool = False  # 200 with an answer and its citations


@dataclass
class Ingest:
    pages: int
    start: float = float("nan")
    end: float = float("nan")
    summary: str = ""
    error: str = ""


@dataclass
class Soak:
    requests: list[Request] = field(default_factory=list)
    ingest: Ingest | None = None
    questions: int = 0  # in the mix


def week_folder() -> Path:
    folder = RTQA / WEEK
    return folder if (folder / "corpus.jsonl").exists() else weeks()[-1]


def asks(folder: Path, n_rtqa: int = 8) -> list[dict[str, Any]]:
    """The question mix: the seed article's, the ingested week's (unanswerable until its pages land),
    a follow-up with history, and one with an outlet filter."""
    rtqa = [json.loads(line)["question"] for line in (folder / "questions.jsonl").open(encoding="utf-8")][:n_rtqa]
    follow_up = {"question": "And what did he say about Putin?",
                 "history": [{"role": "user", "content": QUESTIONS[0]},
                             {"role": "assistant", "content": "Macron wants American backup for European troops."}]}
    filtered = {"question": QUESTIONS[1], "filters": {"source": "AFP"}}
    return [{"question": q} for q in QUESTIONS] + [{"question": q} for q in rtqa] + [follow_up, filtered]


def answered(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("answer"), str) and isinstance(body.get("citations"), list)


def client(url: str, n: int, mix: list[dict[str, Any]], origin: float, deadline: float, timeout: float,
           out: list[Request]) -> None:
    with httpx.Client(base_url=url, timeout=timeout) as http:
        i = n
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            status: int | str
            ok = False
            retry = 0.0
            try:
                response = http.post("/api/ask", json=mix[i % len(mix)])
                status = response.status_code
                ok = status == 200 and answered(response)
                if status == 503:
                    retry = min(1.0, float(response.headers.get("Retry-After", 1)))
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            out.append(Request(t0 - origin, time.monotonic() - origin, status, ok))  # list.append is atomic
            i += 1
            time.sleep(retry)  # a client told "busy" waits as Retry-After asks (at most 1 s here)


def ingest(url: str, pages: list[dict[str, Any]], folder: Path, origin: float, result: Ingest) -> None:
    """Upload a JSONL batch and run the page's Ingest event (Gradio's HTTP API), as a browser would."""
    batch = folder / "rtqa-batch.jsonl"
    batch.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pages), encoding="utf-8")
    result.start = time.monotonic() - origin
    try:
        with httpx.Client(base_url=url, timeout=600) as http:
            with batch.open("rb") as f:
                uploaded = http.post("/gradio_api/upload", files={"files": (batch.name, f, "application/jsonl")})
            uploaded.raise_for_status()
            file = {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": batch.name}
            call = http.post("/gradio_api/call/add", json={"data": ["", file]})
            call.raise_for_status()
            event = None
            with http.stream("GET", f"/gradio_api/call/add/{call.json()['event_id']}") as stream:
                for line in stream.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event in {"complete", "error"}:
                        data = json.loads(line[6:])
                        if event == "complete":
                            result.summary = data[0]
                        else:
                            result.error = str(data)
                        break
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.end = time.monotonic() - origin


def run(url: str, clients: int, seconds: float, pages: list[dict[str, Any]], ingest_at: float, timeout: float,
        folder: Path) -> Soak:
    mix = asks(week_folder())
    soak = Soak(ingest=Ingest(len(pages)), questions=len(mix))
    origin = time.monotonic()
    deadline = origin + seconds
    threads = [threading.Thread(target=client, args=(url, n, mix, origin, deadline, timeout, soak.requests))
               for n in range(clients)]
    for t in threads:
        t.start()
    time.sleep(ingest_at)
    ingesting = threading.Thread(target=ingest, args=(url, pages, folder, origin, soak.ingest))
    ingesting.start()
    for t in threads:
        t.join()
    ingesting.join()
    return soak


def windows(requests: list[Request], seconds: float) -> list[int]:
    """Answers completed in each WINDOW_S window of the soak."""
    counts = [0] * int(seconds // WINDOW_S)
    for r in requests:
        slot = int(r.end // WINDOW_S)
        if r.answered and slot < len(counts):
            counts[slot] += 1
    return counts


def longest_gap(ends: list[float], start: float, end: float) -> float:
    """The longest stretch between start and end with no answer completed, in seconds."""
    inside = sorted(e for e in ends if start <= e <= end)
    edges = [start, *inside, end]
    return max((b - a for a, b in zip(edges, edges[1:])), default=end - start)


def ms(values: list[float]) -> str:
    if not values:
        return "–"
    values = sorted(values)
    return f"{percentile(values, 0.5):.0f} / {percentile(values, 0.95):.0f} / {values[-1]:.0f} ms"


def report(soak: Soak, args: argparse.Namespace, ready_s: float, idle_mb: float, peak_mb: float, health: dict[str, Any],
           landed: str, log_errors: int) -> bool:
    reqs, ing = soak.requests, soak.ingest
    assert ing is not None
    ok = [r for r in reqs if r.answered]
    busy = [r for r in reqs if r.status == 503]
    slow_busy = [r for r in busy if (r.end - r.start) * 1000 > FAST_503_MS]
    other = [r for r in reqs if not r.answered and r.status != 503]
    lost = len(other) + len(slow_busy)
    latency = [(r.end - r.start) * 1000 for r in ok]
    counts = windows(reqs, args.seconds)
    ing_end = min(ing.end, args.seconds)
    # windows that overlap the ingest count as during it
    before = [c for i, c in enumerate(counts) if (i + 1) * WINDOW_S <= ing.start]
    during = [c for i, c in enumerate(counts) if i * WINDOW_S < ing_end and (i + 1) * WINDOW_S > ing.start]
    after = [c for i, c in enumerate(counts) if i * WINDOW_S >= ing.end]
    inside_s = max(ing_end - ing.start, 1e-9)
    rate_in = sum(1 for r in ok if ing.start <= r.end <= ing_end) / inside_s
    rate_out = sum(1 for r in ok if not ing.start <= r.end <= ing_end) / max(args.seconds - inside_s, 1e-9)
    in_ingest = [(r.end - r.start) * 1000 for r in ok if ing.start <= r.start and r.end <= ing.end]
    out_ingest = [(r.end - r.start) * 1000 for r in ok if r.end < ing.start or r.start > ing.end]
    gap = longest_gap([r.end for r in ok], ing.start, ing_end) if ing_end > ing.start else float("nan")
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(_count(r.status for r in other).items())) or "none"
    passed = lost == 0 and not ing.error and log_errors == 0 and bool(during) and min(during) > 0

    print("## Concurrent use soak\n")
    print(f"Server started by this script on loopback, empty data dir (it ingests seeds/ itself), rate limit off; "
          f"{args.clients} clients ask `/api/ask` in a bounded loop (each waits for its answer) for {args.seconds:g} s, "
          f"a mix of {soak.questions} questions (the seed article's, RealTimeQA {week_folder().name}'s, "
          f"a follow-up, a filtered one). At {args.ingest_at:g} s a batch of {ing.pages} RealTimeQA pages is uploaded "
          f"to the same server and ingested through the chat page's Ingest endpoint (extractive answers).\n")
    print("| measure | value |\n|---|---|")
    print(f"| start → /api/health ready | {ready_s:.1f} s |")
    print(f"| requests / answers | {len(reqs)} / {len(ok)} ({len(ok) / args.seconds:.1f}/s) |")
    print(f"| 503 busy (p50 / p95 / max latency) | {len(busy)} ({ms([(r.end - r.start) * 1000 for r in busy])}) |")
    print(f"| other errors or lost answers | {lost} ({kinds}; 503 slower than {FAST_503_MS} ms: {len(slow_busy)}) |")
    print(f"| answer latency p50 / p95 / max | {ms(latency)} |")
    print(f"| … outside the ingest / during it | {ms(out_ingest)} · {ms(in_ingest)} |")
    print(f"| ingest | {ing.start:.1f} s → {ing.end:.1f} s ({ing.end - ing.start:.1f} s): "
          f"{ing.error or ing.summary} |")
    print(f"| answers per {WINDOW_S:g} s: before / during / after the ingest (mean, min) | "
          f"{_mean_min(before)} · {_mean_min(during)} · {_mean_min(after)} |")
    print(f"| answers per second outside the ingest / during it | {rate_out:.1f} · {rate_in:.1f} |")
    print(f"| longest stretch without a finished answer during the ingest | {gap:.2f} s |")
    print(f"| after the soak: /api/health | {health.get('articles')} articles, {health.get('chunks')} chunks |")
    print(f"| ingested pages answerable | {landed} |")
    print(f"| server log errors (ERROR / Traceback lines) | {log_errors} |")
    print(f"| resident memory: ready / peak | {idle_mb:.0f} MB / {peak_mb:.0f} MB |")
    print(f"\nAnswers completed per {WINDOW_S:g} s window: {' '.join(map(str, counts))} "
          f"(the ingest ran from window {int(ing.start // WINDOW_S) + 1} to {int(ing_end // WINDOW_S) + 1}).\n")
    print("**pass**: every request got an answer or a fast 503, the ingest finished and answers kept coming "
          "while it ran." if passed else
          "**FAIL**: lost answers, an ingest error, server errors, or a window without answers during the ingest.")
    return passed


def _count(items: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[str(item)] = counts.get(str(item), 0) + 1
    return counts


def _mean_min(counts: list[int]) -> str:
    return f"{statistics.mean(counts):.0f}, {min(counts)}" if counts else "–"


def landed_check(url: str, folder: Path, titles: set[str]) -> str:
    """Ask the week's first question after the soak: is an ingested page cited?"""
    question = asks(folder)[len(QUESTIONS)]["question"]
    answer = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=60).json()
    cited = [c["title"] for c in answer.get("citations", []) if c["title"] in titles]
    return f"yes (“{question}” cites “{cited[0]}”)" if cited else f"no (“{question}” cites none of them)"


def log_error_lines(log: Path) -> int:
    """ERROR and Traceback lines in the server's log; the first few go to stderr."""
    lines = log.read_text(errors="replace").splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith(("ERROR", "Traceback"))]
    if errors:
        print("\n".join(lines[errors[0]:errors[0] + 40]), file=sys.stderr)
    return len(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--pages", type=int, default=30, help="RealTimeQA pages ingested during the soak")
    parser.add_argument("--ingest-at", type=float, default=10, help="seconds into the soak the ingest starts")
    parser.add_argument("--timeout", type=float, default=60, help="a request unanswered this long is lost")
    args = parser.parse_args()
    try:
        corpus = week_folder() / "corpus.jsonl"
    except DataMissing as exc:
        raise SystemExit(str(exc)) from None
    pages = [json.loads(line) for line in corpus.open(encoding="utf-8") if line.strip()][: args.pages]
    folder = Path(tempfile.mkdtemp(prefix="newsbot-soak-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    process = start(folder / "data", port, log)
    try:
        ready_s = wait_ready(url, process)
        idle_mb = rss_mb(process.pid)
        soak = run(url, args.clients, args.seconds, pages, args.ingest_at, args.timeout, folder)
        health = httpx.get(f"{url}/api/health", timeout=10).json()
        landed = landed_check(url, week_folder(), {p["title"] for p in pages})
        report(soak, args, ready_s, idle_mb, rss_mb(process.pid, "VmHWM"), health, landed, log_error_lines(log))
    finally:
        stop(process, timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
