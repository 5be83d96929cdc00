"""`newsbot serve` under load: start it on a free loopback port with an empty temp data dir (so it
ingests seeds/ itself), then N clients ask /api/ask back to back for T seconds.

Prints time to ready, resident memory and /api/ask p50/p95 (extractive mode)."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.common import stop

QUESTIONS = [
    "What did Macron say about troops?",
    "What did Macron say about Putin?",
    "Who wants American backup for European troops?",
    "What happened in 2014 according to Macron?",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["NEWSBOT_RATE_LIMIT_PER_MINUTE"] = "0"  # one client address here: the limit would measure itself
    cmd = [sys.executable, "-m", "newsbot.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    with log.open("w") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout and process.poll() is None:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"server not ready (exit code {process.poll()})")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(url: str, clients: int, seconds: float) -> tuple[list[float], int]:
    """Latencies (ms) of successful asks, and the count of failed ones."""
    latencies: list[float] = []
    failures: list[str] = []  # list.append is atomic: no lock needed across the client threads
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            i = n
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                status: int | str
                try:
                    status = http.post("/api/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]}).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                if status == 200:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    failures.append(str(status))
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, len(failures)


def percentile(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))] if sorted_ms else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="newsbot-serve-load-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start(folder / "data", port, folder / "server.log")
    try:
        ready_s = wait_ready(url, process)
        idle_mb = rss_mb(process.pid)
        latencies, errors = load(url, args.clients, args.seconds)
        report(ready_s, idle_mb, rss_mb(process.pid, "VmHWM"), sorted(latencies), errors, args)
    finally:
        stop(process, timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def report(ready_s: float, idle_mb: float, peak_mb: float, ms: list[float], errors: int,
           args: argparse.Namespace) -> None:
    print("## `newsbot serve` under load\n")
    print(f"Server started by this script on loopback, empty data dir (it ingests seeds/ itself), rate limit off; "
          f"{args.clients} clients asking `/api/ask` back to back for {args.seconds:g} s (extractive).\n")
    print("| measure | value | target |\n|---|---|---|")
    print(f"| start → /api/health ready | {ready_s:.1f} s | < 15 s |")
    print(f"| resident memory: ready / peak under load | {idle_mb:.0f} MB / {peak_mb:.0f} MB | < 1.5 GB |")
    print(f"| /api/ask p50 / p95 | {percentile(ms, 0.5):.0f} ms / {percentile(ms, 0.95):.0f} ms | p95 < 250 ms |")
    print(f"| requests answered / errors | {len(ms)} ({len(ms) / args.seconds:.1f}/s) / {errors} | |")
    if ms:
        print(f"\nmean {statistics.mean(ms):.0f} ms, max {ms[-1]:.0f} ms.")


if __name__ == "__main__":
    main()
