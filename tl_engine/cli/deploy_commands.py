"""`tl quantize`, `tl benchmark` and `tl export`: a trained model made ready to deploy."""

from __future__ import annotations

from pathlib import Path

import click

from tl_engine.cli.app import config_option, main, output_options, show_progress
from tl_engine.cli.model_commands import existing_dir, new_dir, open_dataset, text_file_options
from tl_engine.cli.tables import echo_rows


@main.command("quantize")
@click.option("--model-dir", required=True, type=existing_dir, help="Folder written by `tl train`.")
@click.option("--dataset-dir", type=existing_dir, default=None,
              help="Image models: folder with the model's classes; calibration reads its train/ folder, or every "
                   "image. Text models use dynamic quantization and need no data.")
@click.option("--output-dir", required=True, type=new_dir, help="New folder for the INT8 model.")
@click.option("--calibration-samples", type=click.IntRange(min=1), default=256, show_default=True,
              help="Training images run through the model to calibrate the INT8 ranges.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Batch size of calibration.")
@text_file_options
@config_option
@output_options
def quantize(model_dir: Path, dataset_dir: Path, output_dir: Path, calibration_samples: int, batch_size: int,
             **reader_options) -> None:
    """Quantize a trained model to INT8 with Intel Neural Compressor (static, calibrated on real images)."""
    from tl_engine.model_factory import load_model
    from tl_engine.quantization import quantize as quantize_model
    from tl_engine.store import check_output_dir, read_metadata

    check_output_dir(output_dir)
    model = load_model(model_dir)
    dataset = None
    if model.use_case == "image_classification":
        if dataset_dir is None:
            raise click.UsageError("Missing option '--dataset-dir': image models calibrate on real images.")
        dataset = open_dataset(dataset_dir, model, reader_options)
        dataset.preprocess(model.preprocessing, batch_size)
    quantize_model(model, dataset, output_dir, calibration_samples, progress=show_progress())
    recipe = read_metadata(output_dir)["quantization"]
    summary = f"calibrated on {recipe['calibration_samples']} images" if dataset else f"{recipe['approach']}, no calibration"
    click.echo(f"INT8 model written to {output_dir} ({summary}).")


@main.command("benchmark")
@click.option("--model-dir", required=True, type=existing_dir, help="FP32 folder written by `tl train`.")
@click.option("--int8-model-dir", type=existing_dir, default=None, help="INT8 folder written by `tl quantize`.")
@click.option("--batch-size", "batch_sizes", type=click.IntRange(min=1), multiple=True, default=(1, 32),
              show_default=True, help="Batch size to time (repeat the option for several).")
@click.option("--iterations", type=click.IntRange(min=1), default=20, show_default=True,
              help="Timed forward passes per batch size; the median is reported.")
@click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True, help="Untimed passes first.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads (default: every core).")
@click.option("--eager", is_flag=True, help="Also time the FP32 model uncompiled (PyTorch eager, or the Keras model "
              "called directly).")
@click.option("--bf16", is_flag=True, help="Also time the FP32 model in bfloat16, compiled (bfloat16 weights in "
              "PyTorch, oneDNN's bfloat16 rewrite in TensorFlow).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@output_options
def benchmark(model_dir: Path, int8_model_dir: Path | None, batch_sizes: tuple[int, ...], iterations: int,
              warmup: int, threads: int | None, eager: bool, bf16: bool, as_json: bool) -> None:
    """Time the FP32 model (and the INT8 model) in fresh processes: latency and throughput per batch size."""
    from tqdm.auto import tqdm

    from tl_engine.benchmark import benchmark_model
    from tl_engine.store import FP32_FORMATS, INT8_FORMATS, describe_format, read_metadata

    for directory, option, expected, accepted in (
            (model_dir, "--model-dir", FP32_FORMATS, "an FP32 model folder written by `tl train`"),
            (int8_model_dir, "--int8-model-dir", INT8_FORMATS, "an INT8 model folder written by `tl quantize`")):
        found = read_metadata(directory).get("format") if directory is not None else expected[0]
        if found not in expected:
            raise click.BadParameter(f"{directory} contains {describe_format(found)}; {option} takes {accepted}.",
                                     param_hint=option)
    # (folder, compiled, bfloat16) per variant
    runs = [(model_dir, False, False)] if eager else []
    runs.append((model_dir, True, False))
    if bf16:
        runs.append((model_dir, True, True))
    if int8_model_dir is not None:
        runs.append((int8_model_dir, True, False))
    results, baseline_variant = {}, None
    for directory, compiled, bfloat16 in tqdm(runs, desc="benchmark (compiling first)", unit="variant",
                                              disable=not show_progress()):
        result = benchmark_model(directory, batch_sizes, iterations, warmup, threads, compiled, bfloat16)
        results[result["variant"]] = result
        if directory == model_dir and compiled and not bfloat16:
            # fp32_compiled, or ipex_fp32 where Intel Extension for PyTorch is installed
            baseline_variant = result["variant"]
    rows = []
    for variant, result in results.items():
        for timing in result["timings"]:
            baseline = next(t for t in results[baseline_variant]["timings"]
                            if t["batch_size"] == timing["batch_size"])
            rows.append({"variant": variant, "batch_size": timing["batch_size"], "threads": result["threads"],
                         "latency_ms": timing["median_latency_ms"], "throughput_per_s": timing["throughput_per_s"],
                         "vs_fp32_compiled": round(timing["throughput_per_s"] / baseline["throughput_per_s"], 2)})
    echo_rows(rows, ["variant", "batch_size", "threads", "latency_ms", "throughput_per_s", "vs_fp32_compiled"],
              as_json)


@main.command("export")
@click.option("--model-dir", required=True, type=existing_dir, help="FP32 folder written by `tl train`.")
@click.option("--format", "export_format", type=click.Choice(["onnx"]), default="onnx", show_default=True,
              help="Export format.")
@click.option("--output-dir", type=new_dir, default=None, help="New folder for the export (default: MODEL_DIR-onnx).")
@config_option
@output_options
def export(model_dir: Path, export_format: str, output_dir: Path | None) -> None:
    """Export a trained model to ONNX, checked by running it in onnxruntime against the original."""
    from tl_engine.onnx_export import ONNX_FILE, export_onnx
    from tl_engine.store import check_output_dir

    output_dir = output_dir or model_dir.with_name(f"{model_dir.name}-{export_format}")
    check_output_dir(output_dir)
    metadata = export_onnx(model_dir, output_dir)
    click.echo(f"ONNX model written to {output_dir / ONNX_FILE}; onnxruntime's outputs match the original "
               f"within {metadata['onnx']['max_relative_difference']:.1e} of the largest logit.")
