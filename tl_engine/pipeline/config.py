"""The pipeline settings file: tasks, their landing folders, models and training settings.

Unknown keys and wrong types are rejected with the key's path, so a typo never falls back to a default.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tl_engine.catalog import FRAMEWORKS, USE_CASES
from tl_engine.errors import ConfigError

DEFAULT_CONFIG = Path("configs/pipeline.yaml")
CONFIG_ENV = "TL_PIPELINE_CONFIG"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitSettings(Strict):
    train: float = 0.7
    validation: float = 0.15
    test: float = 0.15
    seed: int = 0


class TrainingSettings(Strict):
    image_size: int = Field(128, ge=16)
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    seed: int = 0
    fine_tune: bool = False
    head_hidden_units: int = Field(256, ge=0)
    dropout: float = Field(0.2, ge=0, lt=1)
    max_length: int = Field(128, ge=8, description="text models: tokens per text; longer texts are truncated")


class QuantizationSettings(Strict):
    approach: Literal["static", "dynamic"] = Field(
        "static", description="static (image tasks, calibrated) or dynamic (text tasks, no calibration)")
    calibration_samples: int = Field(512, ge=1)


VARIANTS = ("fp32_eager", "fp32_compiled", "bf16_eager", "bf16_compiled", "int8_compiled", "int8_dynamic")
# INT8 as each use case builds it: static and compiled for images, dynamic for text.
INT8_BY_USE_CASE = {"image_classification": ("static", "int8_compiled"),
                    "text_classification": ("dynamic", "int8_dynamic")}


class BenchmarkSettings(Strict):
    variants: list[Literal[VARIANTS]] = ["fp32_eager", "fp32_compiled", "bf16_compiled", "int8_compiled"]
    batch_sizes: list[int] = [1, 32]
    warmup: int = Field(5, ge=0)
    iterations: int = Field(20, ge=1)
    threads: int | None = Field(None, ge=1, description="CPU threads; empty means every core")


class QualitySettings(Strict):
    min_test_accuracy: float = Field(0.8, ge=0, le=1, description="below it, quantization is blocked")
    max_int8_accuracy_drop: float = Field(0.01, ge=0, le=1, description="above it, the benchmark is blocked")
    min_daily_accuracy: float = Field(0.8, ge=0, le=1, description="below it, daily evaluation asks to retrain")
    max_daily_accuracy_drop: float = Field(
        0.05, ge=0, le=1, description="daily accuracy this far below test accuracy asks to retrain")


class ModelSettings(Strict):
    framework: str
    model: str
    training: dict = Field(default_factory=dict, description="overrides of the task's training settings")

    @property
    def partition_key(self) -> str:
        # Dagster orders multi-partition dimensions by name, so framework comes first.
        return f"{self.framework}|{self.model}"


class TaskSettings(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    use_case: str
    landing_dir: Path
    start_date: date
    on_bad_file: Literal["skip", "error"] = "skip"
    split: SplitSettings = SplitSettings()
    training: TrainingSettings = TrainingSettings()
    quantization: QuantizationSettings = QuantizationSettings()
    benchmark: BenchmarkSettings = BenchmarkSettings()
    quality: QualitySettings = QualitySettings()
    models: list[ModelSettings]

    @model_validator(mode="after")
    def _check(self) -> "TaskSettings":
        if self.use_case not in USE_CASES:
            raise ValueError(f"unknown use_case {self.use_case!r}; valid: {', '.join(USE_CASES)}")
        keys = [m.partition_key for m in self.models]
        if len(set(keys)) != len(keys):
            raise ValueError(f"models lists a framework and model twice: {keys}")
        for entry in self.models:
            if entry.framework not in FRAMEWORKS:
                raise ValueError(f"unknown framework {entry.framework!r}; valid: {', '.join(FRAMEWORKS)}")
            TrainingSettings(**{**self.training.model_dump(), **entry.training})
        approach, variant = INT8_BY_USE_CASE[self.use_case]
        if self.quantization.approach != approach:
            raise ValueError(f"{self.use_case} tasks quantize with approach {approach!r}; set quantization.approach: "
                             f"{approach}")
        wrong = [name for name in self.benchmark.variants if name.startswith("int8") and name != variant]
        if wrong:
            raise ValueError(f"benchmark variant {wrong[0]!r} does not apply to {self.use_case} tasks; use {variant!r}")
        return self

    @property
    def int8_variant(self) -> str:
        """The benchmark variant of this task's INT8 models: int8_compiled for images, int8_dynamic for text."""
        return INT8_BY_USE_CASE[self.use_case][1]

    def training_for(self, framework: str, model: str) -> TrainingSettings:
        """Return the task's training settings with the model's overrides applied."""
        overrides = self.model_settings(framework, model).training
        return TrainingSettings(**{**self.training.model_dump(), **overrides})

    def model_settings(self, framework: str, model: str) -> ModelSettings:
        for entry in self.models:
            if entry.framework == framework and entry.model == model:
                return entry
        listed = ", ".join(m.partition_key for m in self.models)
        raise ConfigError(f"Task {self.name!r} has no model {framework}|{model}. Configured: {listed}.")


class PipelineSettings(Strict):
    project_root: Path = Path("..")
    artifact_dir: Path = Path(".tl/artifacts")
    tasks: list[TaskSettings]

    def task(self, name: str) -> TaskSettings:
        for task in self.tasks:
            if task.name == name:
                return task
        raise ConfigError(f"Unknown task {name!r}. Tasks: {', '.join(t.name for t in self.tasks)}.")


def _format_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def load_settings(path: str | Path | None = None) -> PipelineSettings:
    """Read and validate the pipeline settings; relative paths resolve against `project_root`.

    The file is `path`, else `$TL_PIPELINE_CONFIG`, else `configs/pipeline.yaml`.
    """
    if path:
        fix = "Check the path"
    elif os.environ.get(CONFIG_ENV):
        fix = f"Check ${CONFIG_ENV}"
    else:
        fix = f"Pass --config or set ${CONFIG_ENV}"
    path = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).resolve()
    if not path.is_file():
        raise ConfigError(f"Pipeline settings file not found: {path}. {fix}.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        settings = PipelineSettings(**raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"Invalid settings in {path}:\n{_format_errors(exc)}") from exc
    except TypeError as exc:
        raise ConfigError(f"Invalid settings in {path}: {exc}") from exc
    root = (path.parent / settings.project_root).resolve()
    tasks = [task.model_copy(update={"landing_dir": root / task.landing_dir}) for task in settings.tasks]
    return settings.model_copy(update={"project_root": root, "artifact_dir": root / settings.artifact_dir,
                                       "tasks": tasks})
