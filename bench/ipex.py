"""Intel Extension for PyTorch: the demo's image models with and without IPEX, in its own environment.

IPEX 2.8 needs torch 2.8, so `make ipex-env` creates `.venv-ipex` beside the main environment.
Every variant runs in a fresh process of that environment: torch 2.8 without IPEX (FP32 eager,
compiled, bfloat16 compiled), then IPEX FP32, IPEX bfloat16 and IPEX static INT8 (calibrated on
training images). The main environment's FP32 compiled and Neural Compressor INT8 are measured in
the same run for reference. Full mode reads the models `make demo` built; quick mode trains a
small MobileNetV2 itself.
"""

from __future__ import annotations

from pathlib import Path

from bench import common, variants

TITLE = "Intel Extension for PyTorch: torch 2.8 with and without IPEX, and the main environment"
COLUMNS = ["partition", "environment", "variant", "latency_ms_b1", "throughput_b32", "vs_main_fp32_compiled_b32",
           "accuracy", "threads"]
IPEX_PYTHON = common.ROOT / ".venv-ipex" / "bin" / "python"
PLAN = [("main (torch 2.14)", "fp32_compiled"), ("main (torch 2.14)", "int8_compiled"),
        ("ipex env (torch 2.8)", "fp32_eager"), ("ipex env (torch 2.8)", "fp32_compiled"),
        ("ipex env (torch 2.8)", "bf16_compiled"), ("ipex env (torch 2.8)", "ipex_fp32"),
        ("ipex env (torch 2.8)", "ipex_bf16"), ("ipex env (torch 2.8)", "ipex_int8")]


def add_arguments(parser) -> None:
    parser.add_argument("--config", help="pipeline settings whose built image models are measured")
    parser.add_argument("--iterations", type=int, help="timed passes per batch size (quick: 5, full: 30)")
    parser.add_argument("--calibration-samples", type=int, default=256, help="training images for IPEX INT8")


def run(args, quick: bool) -> dict:
    from dataclasses import replace

    from tl_engine.benchmark.harness import BenchmarkSettings, run_variant

    if not IPEX_PYTHON.exists():
        raise SystemExit(f"No IPEX environment at {IPEX_PYTHON.parent.parent}: create it with `make ipex-env`.")
    iterations = args.iterations or (variants.QUICK if quick else variants.FULL)["iterations"]
    main_settings = BenchmarkSettings(batch_sizes=[1, 32], warmup=5, iterations=iterations, threads=args.threads)
    models = variants.quick_models(args) if quick else variants.demo_models(args, use_case="image_classification")
    rows = []
    for built in models:
        ipex_settings = replace(main_settings, python=str(IPEX_PYTHON),
                                calibration=built.training_images[:args.calibration_samples])
        results = []
        for environment, variant in PLAN:
            settings = main_settings if environment.startswith("main") else ipex_settings
            model_dir = built.int8_dir if variant == "int8_compiled" else built.fp32_dir
            results.append((environment, variant, run_variant(Path(model_dir), variant, settings,
                                                              built.test_samples)))
        baseline = results[0][2]["timings"][1]["throughput_per_s"]
        for environment, variant, result in results:
            b1, b32 = result["timings"]
            rows.append({"partition": built.partition, "environment": environment, "variant": variant,
                         "latency_ms_b1": b1["median_latency_ms"], "throughput_b32": b32["throughput_per_s"],
                         "vs_main_fp32_compiled_b32": round(b32["throughput_per_s"] / baseline, 2),
                         "accuracy": result.get("accuracy"), "threads": result["threads"]})
    return {"settings": {"iterations": iterations, "calibration_samples": args.calibration_samples}, "rows": rows}
