"""Run one measurement of the suite: `python -m bench <measurement> [--quick] [--threads N]`.

Each measurement prints a Markdown table and writes its figures to `bench/results/<name>.json`
(`<name>.quick.json` with `--quick`, the mode sized for a 2-core machine and used by CI as a smoke
run). BENCHMARKS.md shows the full-mode figures and the commands that produced them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

MEASUREMENTS = {
    "cached-features": "bench.cached_features",
    "engine-overhead": "bench.engine_overhead",
    "keras-overhead": "bench.keras_overhead",
    "variants": "bench.variants",
    "scale": "bench.scale",
    "orchestration": "bench.orchestration",
    "ipex": "bench.ipex",
}

# The measurements that train a model, and so take `--epochs`.
TRAINING_MEASUREMENTS = {"cached-features", "engine-overhead", "keras-overhead", "scale"}


def positive_int(text: str) -> int:
    """Parse a command-line value that must be a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: pass a whole number of at least 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {value}: pass a whole number of at least 1")
    return value


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="measurement", required=True, metavar="MEASUREMENT")
    for name, module_name in MEASUREMENTS.items():
        module = importlib.import_module(module_name)
        command = commands.add_parser(name, help=module.TITLE, description=module.__doc__)
        command.add_argument("--quick", action="store_true", help="small sizes for a 2-core machine (CI smoke run)")
        command.add_argument("--threads", type=positive_int, default=min(os.cpu_count() or 1, 2),
                             help="CPU threads for torch (default: 2, or fewer cores)")
        command.add_argument("--batch-size", type=positive_int, default=64,
                             help="batch size of training and feature extraction (default: 64); "
                                  "inference variants are timed at batches 1 and 32")
        if name in TRAINING_MEASUREMENTS:
            command.add_argument("--epochs", type=positive_int, nargs="+", help="epoch counts to measure")
        command.add_argument("--work-dir", type=Path, help="where datasets (and, where trained, models) are written "
                             "(default: a temporary folder, removed afterwards)")
        module.add_arguments(command)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("tl_engine").setLevel(logging.WARNING)
    from bench import common

    module = importlib.import_module(MEASUREMENTS[args.measurement])
    threads = common.set_threads(args.threads)
    logging.getLogger("bench").info("Measuring %s in %s mode with %d threads; the table follows when it ends",
                                    args.measurement, "quick" if args.quick else "full", threads)
    started = time.perf_counter()
    from tl_engine.errors import TLError

    with tempfile.TemporaryDirectory(prefix="tl-bench-") as scratch:
        if args.work_dir is None:
            args.work_dir = Path(scratch)
        args.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            payload = module.run(args, args.quick)
        except TLError as exc:
            # Settings, catalog and dataset errors carry their own fix; a traceback would hide it.
            logging.getLogger("bench").error("%s", exc)
            return 2
    payload = {"measurement": args.measurement, "mode": "quick" if args.quick else "full", "threads": threads,
               "machine": common.machine(), "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None
                                                                                     else argv),
               "wall_seconds": round(time.perf_counter() - started, 1), **payload}
    path = common.write_results(args.measurement.replace("-", "_"), args.quick, payload)
    common.print_table(module.TITLE, payload["rows"], module.COLUMNS)
    logging.getLogger("bench").info("Figures written to %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
