"""One command, one report: runs every benchmark in this process's machine and writes bench/results.md."""

from __future__ import annotations

import datetime
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench.ingest", "bench.realtimeqa", "bench.latency", "bench.lexical_engines", "bench.serve_load",
           "bench.soak", "bench.injection", "bench.stream_ttfs"]


def main() -> None:
    import argparse

    argparse.ArgumentParser(description=__doc__ + " Takes about an hour on 2 cores; the RealTimeQA "
                            "data is read from ../shared/data/realtimeqa.").parse_args()
    sections = [
        "# newsbot benchmarks\n",
        f"Measured {datetime.date.today()} on {platform.machine()}, {platform.python_version()}, "
        "2 cores, no GPU; every figure below comes from this one run.\n",
    ]
    for module in SCRIPTS:
        if not (HERE / f"{module.split('.')[-1]}.py").exists():
            continue
        print(f"running {module} …", file=sys.stderr)
        done = subprocess.run([sys.executable, "-m", module], cwd=HERE.parent, capture_output=True, text=True)
        if done.returncode == 0:
            sections.append(done.stdout)
        else:
            sections.append(f"## {module}\n\nnot measured:\n```\n{done.stderr.strip()[-2000:]}\n```\n")
    (HERE / "results.md").write_text("\n".join(sections), encoding="utf-8")
    print(f"wrote {HERE / 'results.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
