"""The resource that gives assets the pipeline settings and the artifact store."""

from __future__ import annotations

import dagster as dg

from tl_engine.pipeline.config import PipelineSettings, load_settings
from tl_engine.store import ArtifactStore


class PipelineResource(dg.ConfigurableResource):
    """The pipeline settings file; empty means `$TL_PIPELINE_CONFIG`, then `configs/pipeline.yaml`."""

    config_path: str = ""

    def settings(self) -> PipelineSettings:
        return load_settings(self.config_path or None)

    def store(self) -> ArtifactStore:
        return ArtifactStore(self.settings().artifact_dir)
