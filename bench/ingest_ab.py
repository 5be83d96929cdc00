"""Ingest time of this checkout against another one (the base of a change), on the same pages, in one run.

Each ingest (newsbot's ONNX default, as `bench.ingest` times it) runs in a process of its own started in
that checkout, so its imports are that checkout's code; the two take turns (base, this, base, this …),
so that a busy spell on a shared machine falls on both, and each side reports its fastest run.

    python -m bench.ingest_ab --base ../wt24-base [--limit 240] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
_CHILD = """
import json, sys
from pathlib import Path
from bench.common import corpus_records
from bench.ingest import run_newsbot
import ingest.pipeline
wall, cpu, summary, _ = run_newsbot(corpus_records(int(sys.argv[1]) or None), Path(sys.argv[2]))
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "chunks": summary["chunks"], "code": ingest.pipeline.__file__}))
"""


def ingest_in(tree: Path, limit: int, data_dir: Path) -> dict:
    """One timed ingest by the code of `tree` (its own folder comes first on the import path)."""
    done = subprocess.run([sys.executable, "-c", _CHILD, str(limit), str(data_dir)], cwd=tree, check=True,
                          capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["code"].startswith(str(tree.resolve())):
        raise SystemExit(f"{tree}: the child imported {result['code']}, not that checkout's code")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (e.g. a worktree of the base)")
    parser.add_argument("--limit", type=int, default=240, help="the first N RealTimeQA pages (default 240)")
    parser.add_argument("--repeat", type=int, default=2, help="ingests per side, in turn; the fastest is reported")
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"base": [], "this": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeat):
            for side, tree in (("base", args.base), ("this", HERE)):
                runs[side].append(ingest_in(tree, args.limit, Path(tmp) / f"{side}{n}"))
                print(f"{side} run {n + 1}: {runs[side][-1]['wall_s']:.1f} s, {runs[side][-1]['cpu_s']:.1f} s CPU",
                      file=sys.stderr)
    base, this = (min(runs[s], key=lambda r: r["wall_s"]) for s in ("base", "this"))
    base_cpu, this_cpu = (min(r["cpu_s"] for r in runs[s]) for s in ("base", "this"))
    print(f"## Ingest time against {args.base} ({args.limit} RealTimeQA pages, fastest of {args.repeat} in turn)\n")
    print("| measure | base | this | this / base |\n|---|---|---|---|")
    print(f"| wall s | {base['wall_s']:.1f} | {this['wall_s']:.1f} | {this['wall_s'] / base['wall_s']:.3f} |")
    print(f"| CPU s (every thread) | {base_cpu:.1f} | {this_cpu:.1f} | {this_cpu / base_cpu:.3f} |")
    print(f"| chunks | {base['chunks']} | {this['chunks']} | |")


if __name__ == "__main__":
    main()
