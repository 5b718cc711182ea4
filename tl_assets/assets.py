"""The asset factory: one group of assets per task of `configs/pipeline.yaml`.

Each asset parses its partition key, calls one engine step and returns the step's fingerprint as
its data version. The engine decides whether anything needs building.
"""


import dagster as dg

from tl_assets.metadata import materialize_result
from tl_assets.partitions import daily_partitions, framework_and_model, model_partitions
from tl_assets.resources import PipelineResource
from tl_assets.checks import int8_drop_check, int8_drop_spec, test_accuracy_check, test_accuracy_spec
from tl_engine.pipeline import daily_steps, data_steps, model_steps, report_steps
from tl_engine.pipeline.config import TaskSettings
from tl_engine.pipeline.outcome import CODE_VERSIONS
from tl_engine.pipeline.report_steps import LEADERBOARD_COLUMNS, markdown_table
from tl_engine.store import ArtifactStore

TRAINING_POOL = "tl_training"


def build_task_assets(task: TaskSettings) -> list[dg.AssetsDefinition]:
    """Build the assets of one task: data, then per-model training, INT8 and benchmark, then the leaderboard."""
    name = task.name
    days = daily_partitions(task)
    models = model_partitions(task)

    def key(asset: str) -> dg.AssetKey:
        return dg.AssetKey([name, asset])

    def engine(pipeline: PipelineResource) -> tuple[TaskSettings, ArtifactStore]:
        return pipeline.settings().task(name), pipeline.store()

    common = {"key_prefix": [name], "group_name": name}

    @dg.asset(name="raw_drop", partitions_def=days, code_version=CODE_VERSIONS["raw_drop"], kinds={"file"},
              description="The samples (images or CSV rows) that landed in <landing_dir>/<day>/, validated and "
                          "hashed.", **common)
    def raw_drop(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
        settings, store = engine(pipeline)
        outcome = data_steps.build_raw_drop(settings, store, context.partition_key)
        meta = outcome.metadata
        return materialize_result(context, outcome, {"samples": meta["samples"],
                                                     "skipped_files": meta["skipped_files"]})

    @dg.asset(name="dataset", deps=[raw_drop], code_version=CODE_VERSIONS["dataset"], kinds={"file"},
              description="Every recorded day combined; its data version is a hash of the contents.", **common)
    def dataset(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
        settings, store = engine(pipeline)
        outcome = data_steps.build_dataset(settings, store)
        meta = outcome.metadata
        return materialize_result(context, outcome, {"samples": meta["samples"], "days": ", ".join(meta["days"]),
                                                     "classes": len(meta["class_names"])})

    @dg.asset(name="splits", deps=[dataset], code_version=CODE_VERSIONS["splits"], kinds={"file"},
              description="Train, validation and test membership, assigned by a hash of each sample id.", **common)
    def splits(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
        settings, store = engine(pipeline)
        outcome = data_steps.build_splits(settings, store)
        return materialize_result(context, outcome, {f"{k}_samples": v for k, v in outcome.metadata["sizes"].items()})

    @dg.asset(name="features", deps=[splits], partitions_def=models, code_version=CODE_VERSIONS["features"],
              kinds={"pytorch", "tensorflow"}, pool=TRAINING_POOL,
              description="The frozen pretrained backbone's outputs for every split, cached for head training.",
              **common)
    def features(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
        settings, store = engine(pipeline)
        outcome = model_steps.build_features(settings, store, *framework_and_model(context))
        return materialize_result(context, outcome, {"hub_id": outcome.metadata["hub_id"]})

    @dg.asset(name="finetuned_model", deps=[features], partitions_def=models,
              code_version=CODE_VERSIONS["finetuned_model"], kinds={"pytorch", "tensorflow"}, pool=TRAINING_POOL,
              description="The pretrained model with a new head trained for the task's classes.", **common)
    def finetuned_model(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
        settings, store = engine(pipeline)
        outcome = model_steps.build_finetuned_model(settings, store, *framework_and_model(context))
        meta = outcome.metadata
        return materialize_result(context, outcome, {"validation_accuracy": meta.get("validation_accuracy"),
                                                     "hub_id": meta["hub_id"], "parameters": meta["parameters"],
                                                     "training_seconds": meta["training"]["seconds"]})

    @dg.asset(name="evaluation", deps=[finetuned_model], partitions_def=models,
              code_version=CODE_VERSIONS["evaluation"], kinds={"pytorch", "tensorflow"},
              check_specs=[test_accuracy_spec(key("evaluation"))],
              description="Accuracy, per-class precision and recall, and the confusion matrix on the test split.",
              **common)
    def evaluation(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
        settings, store = engine(pipeline)
        outcome = model_steps.build_evaluation(settings, store, *framework_and_model(context))
        report = outcome.metadata["report"]
        per_class = [{"class": k, **v} for k, v in report["per_class"].items()]
        check = test_accuracy_check(outcome.metadata["test_accuracy"], settings.quality.min_test_accuracy)
        return materialize_result(context, outcome, {
            "test_accuracy": outcome.metadata["test_accuracy"], "test_samples": outcome.metadata["test_samples"],
            "per_class": dg.MetadataValue.md(markdown_table(per_class, ["class", "precision", "recall", "f1",
                                                                        "support"]))}, [check])

    @dg.asset(name="quantized_model", deps=[finetuned_model, evaluation], partitions_def=models,
              code_version=CODE_VERSIONS["quantized_model"], kinds={"pytorch", "tensorflow"}, pool=TRAINING_POOL,
              check_specs=[int8_drop_spec(key("quantized_model"))],
              description="The fine-tuned model quantized to INT8 with Intel Neural Compressor.", **common)
    def quantized_model(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
        settings, store = engine(pipeline)
        outcome = model_steps.build_quantized_model(settings, store, *framework_and_model(context))
        meta = outcome.metadata
        check = int8_drop_check(meta["accuracy_drop"], settings.quality.max_int8_accuracy_drop)
        return materialize_result(context, outcome, {"int8_test_accuracy": meta["int8_test_accuracy"],
                                                     "fp32_test_accuracy": meta["fp32_test_accuracy"],
                                                     "accuracy_drop": meta["accuracy_drop"]}, [check])

    @dg.asset(name="benchmark_report", deps=[quantized_model], partitions_def=models,
              code_version=CODE_VERSIONS["benchmark_report"], kinds={"pytorch", "tensorflow"}, pool=TRAINING_POOL,
              description="FP32 eager, FP32 compiled and INT8: latency, throughput, accuracy and size.", **common)
    def benchmark_report(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
        settings, store = engine(pipeline)
        outcome = report_steps.build_benchmark_report(settings, store, *framework_and_model(context))
        row = outcome.metadata["row"]
        return materialize_result(context, outcome, {
            **{k: v for k, v in row.items() if k != "partition" and v is not None},
            "table": dg.MetadataValue.md(markdown_table([row], LEADERBOARD_COLUMNS))})

    @dg.asset(name="leaderboard", deps=[benchmark_report], code_version=CODE_VERSIONS["leaderboard"],
              kinds={"file"}, description="Every model of the task side by side: accuracy, speed and size.",
              **common)
    def leaderboard(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
        settings, store = engine(pipeline)
        outcome = report_steps.build_leaderboard(settings, store)
        rows = outcome.metadata["rows"]
        return materialize_result(context, outcome, {"models": len(rows),
                                                     "leaderboard": dg.MetadataValue.md(
                                                         markdown_table(rows, LEADERBOARD_COLUMNS))})

    @dg.asset(name="daily_evaluation", partitions_def=days, code_version=CODE_VERSIONS["daily_evaluation"],
              deps=[raw_drop, dg.AssetDep(finetuned_model, partition_mapping=dg.AllPartitionMapping()),
                    dg.AssetDep(quantized_model, partition_mapping=dg.AllPartitionMapping())],
              kinds={"pytorch", "tensorflow"}, pool=TRAINING_POOL,
              description="Every current model, FP32 and INT8, evaluated on the day's new samples only; models "
                          "that fell behind are flagged for retraining.", **common)
    def daily_evaluation(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
        settings, store = engine(pipeline)
        outcome = daily_steps.build_daily_evaluation(settings, store, context.partition_key)
        meta = outcome.metadata
        for row in meta["rows"]:
            if row["retrain"]:
                context.log.warning(f"{row['model']} fell behind on {context.partition_key}: {row['reason']}")
        return materialize_result(context, outcome, {
            "retrain": ", ".join(meta["retrain"]) or "none",
            "results": dg.MetadataValue.md(markdown_table(meta["rows"], daily_steps.DAILY_COLUMNS))})

    return [raw_drop, dataset, splits, features, finetuned_model, evaluation, quantized_model, benchmark_report,
            leaderboard, daily_evaluation]
