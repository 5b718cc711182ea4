"""Measure how long `import tl_engine` and `tl --help` take, each in fresh processes.

Usage: `.venv/bin/python bench/startup.py [--runs 10] [--output FILE]`. Prints a table and writes
`bench/results/startup.json`. Target: both under 2 seconds, with no framework imported.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "startup.json"
FRAMEWORKS = ("torch", "tensorflow", "transformers", "dagster", "neural_compressor")
MARKER = "frameworks imported:"
COMMANDS = {
    "import tl_engine": "import tl_engine",
    "tl --help": "from tl_engine.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
    "import tl_engine.model_factory, dataset_factory": "from tl_engine import dataset_factory, model_factory",
}


def measure(statement: str, runs: int) -> dict:
    """Run `statement` in `runs` new interpreters; return the median wall time and the frameworks imported."""
    code = (f"{statement}\nimport sys\n"
            f"print({MARKER!r}, ','.join(m for m in {FRAMEWORKS!r} if m in sys.modules) or 'none')")
    timings, imported = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        timings.append(time.perf_counter() - started)
        imported = completed.stdout.rsplit(MARKER, 1)[-1].strip()
    return {"median_seconds": round(statistics.median(timings), 3), "max_seconds": round(max(timings), 3),
            "runs": runs, "frameworks_imported": imported}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per command")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON results go")
    args = parser.parse_args()
    baseline = measure("pass", args.runs)["median_seconds"]
    rows = []
    for label, statement in COMMANDS.items():
        rows.append({"command": label, **measure(statement, args.runs)})
    sys.stdout.write(f"Python interpreter alone: {baseline:.3f} s (median of {args.runs})\n")
    sys.stdout.write(f"{'command':<48} {'median s':>9} {'max s':>7}  frameworks imported\n")
    for row in rows:
        sys.stdout.write(f"{row['command']:<48} {row['median_seconds']:>9.3f} {row['max_seconds']:>7.3f}  "
                         f"{row['frameworks_imported']}\n")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"python": platform.python_version(), "interpreter_seconds": baseline,
                                       "results": rows}, indent=2) + "\n")
    return 0 if all(row["median_seconds"] < 2 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
