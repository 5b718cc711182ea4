"""The tl benchmark suite: `python -m bench <measurement> [--quick]`; see BENCHMARKS.md."""
