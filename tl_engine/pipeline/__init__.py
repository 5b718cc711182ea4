"""The pipeline: tasks from `configs/pipeline.yaml` and the fingerprinted steps that build each result.

This package does not import Dagster: `tl_assets` calls these steps from its assets.
"""
