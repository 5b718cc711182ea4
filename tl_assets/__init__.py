"""Dagster wiring of tl: partitions, resources and assets over `tl_engine`. No training code lives here."""
