"""Cold start: how soon each face of newsbot answers from a fresh process, ONNX vs torch backend.

On one seed store (`newsbot ingest seeds/`), for each embedding backend in this one run:
the whole `newsbot ask` process (median of 5, after one untimed run that leaves the OS file
cache warm, as on a machine in use), the time until `newsbot mcp` lists its tools and until its
first answer (the official `mcp` stdio client), the time until `newsbot serve` answers
/api/health, and the server's resident memory after one /api/ask. Prints a Markdown section.

    python -m bench.cold_start [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import stop
from bench.serve_load import free_port, rss_mb, wait_ready

REPO = Path(__file__).resolve().parents[1]
QUESTION = "What did Macron say about troops?"
BACKENDS = ("onnx", "torch")


def newsbot() -> list[str]:
    script = Path(sys.executable).with_name("newsbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "newsbot.cli"]


def env_for(backend: str) -> dict[str, str]:
    return {**os.environ, "NEWSBOT_EMBEDDING_BACKEND": backend, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
            "GRADIO_ANALYTICS_ENABLED": "False"}


def timed_run(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds of a whole process, from spawn to exit, its CPU seconds (user + system) and peak RSS in MB."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def cold_ask(data_dir: Path, backend: str, runs: int) -> dict[str, float]:
    args = [*newsbot(), "ask", QUESTION, "--data-dir", str(data_dir)]
    timed_run(args, env_for(backend))  # untimed: the OS file cache, as on a machine in use
    results = [timed_run(args, env_for(backend)) for _ in range(runs)]
    seconds = [s for s, _, _ in results]
    return {"ask_median_s": statistics.median(seconds), "ask_min_s": min(seconds), "ask_max_s": max(seconds),
            "ask_cpu_s": statistics.median(c for _, c, _ in results), "ask_peak_rss_mb": max(r for _, _, r in results)}


async def mcp_times(data_dir: Path, backend: str) -> dict[str, float]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    command = newsbot()
    params = StdioServerParameters(command=command[0], args=[*command[1:], "mcp", "--data-dir", str(data_dir)],
                                   env=env_for(backend), cwd=str(REPO))
    start = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            listed = time.perf_counter() - start
            result = await session.call_tool("ask_news", {"question": QUESTION})
            answered = time.perf_counter() - start
    if result.isError or len(tools.tools) < 3:
        raise SystemExit(f"newsbot mcp ({backend}) did not answer: {result.content}")
    return {"mcp_tools_listed_s": listed, "mcp_first_answer_s": answered}


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_times(data_dir: Path, backend: str, port: int) -> dict[str, float]:
    url = f"http://127.0.0.1:{port}"
    log = data_dir.parent / f"serve-{backend}.log"
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen([*newsbot(), "serve", "--port", str(port), "--data-dir", str(data_dir)],
                                env=env_for(backend), cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(url, proc, timeout=300)
        health = time.perf_counter() - start
        health_cpu = cpu_s(proc.pid)
        answer = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=120)
        answered = time.perf_counter() - start
        if answer.status_code != 200 or "American backup" not in answer.text:
            raise SystemExit(f"newsbot serve ({backend}) answered {answer.status_code}: {answer.text[:500]}")
        rss, peak = rss_mb(proc.pid), rss_mb(proc.pid, "VmHWM")
    finally:
        stop(proc)
    return {"serve_health_s": health, "serve_health_cpu_s": health_cpu, "serve_first_answer_s": answered,
            "serve_rss_mb": rss, "serve_peak_rss_mb": peak}


ROWS = [  # key, label, unit
    ("ask_median_s", "`newsbot ask`, whole process, median", "s"),
    ("ask_min_s", "… fastest / slowest of the runs", "s"),
    ("ask_cpu_s", "`newsbot ask` CPU time (user + system), median", "s"),
    ("ask_peak_rss_mb", "`newsbot ask` peak RSS", "MB"),
    ("mcp_tools_listed_s", "`newsbot mcp`: tools listed (spawn → list_tools)", "s"),
    ("mcp_first_answer_s", "`newsbot mcp`: first ask_news answered", "s"),
    ("serve_health_s", "`newsbot serve`: /api/health answers", "s"),
    ("serve_health_cpu_s", "… CPU time the server used until then", "s"),
    ("serve_first_answer_s", "`newsbot serve`: first /api/ask answered", "s"),
    ("serve_rss_mb", "`newsbot serve` RSS after one answer", "MB"),
    ("serve_peak_rss_mb", "`newsbot serve` peak RSS", "MB"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed `newsbot ask` runs per backend (median)")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="nb-cold-") as tmp:
        data_dir = Path(tmp) / "store"
        done = subprocess.run([*newsbot(), "ingest", str(REPO / "seeds"), "--data-dir", str(data_dir), "-q"],
                              env=env_for("onnx"), cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"ingest failed: {done.stderr[-2000:]}")
        for backend in BACKENDS:  # the same store for both: the vectors agree (cosine >= 0.999)
            row = cold_ask(data_dir, backend, args.runs)
            row |= asyncio.run(mcp_times(data_dir, backend))
            row |= serve_times(data_dir, backend, free_port())
            results[backend] = row
    onnx, torch = results["onnx"], results["torch"]
    print("## Cold start: ONNX vs torch embedding backend\n")
    print(f"Seed store (`newsbot ingest seeds/`), every process started fresh; `ask` median of {args.runs} runs after "
          "one untimed run; `mcp` through the official stdio client; `serve` polled every 50 ms. Same machine, same run.\n")
    print("| measure | onnx (default) | torch | torch / onnx |\n|---|---|---|---|")
    for key, label, unit in ROWS:
        if key == "ask_min_s":
            print(f"| {label} | {onnx['ask_min_s']:.2f} / {onnx['ask_max_s']:.2f} s | "
                  f"{torch['ask_min_s']:.2f} / {torch['ask_max_s']:.2f} s | |")
            continue
        fmt = "{:.2f} s" if unit == "s" else "{:.0f} MB"
        print(f"| {label} | {fmt.format(onnx[key])} | {fmt.format(torch[key])} | {torch[key] / onnx[key]:.1f}× |")


if __name__ == "__main__":
    main()
