"""The benchmark harness: each model variant timed in a fresh process."""
