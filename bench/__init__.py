"""Benchmarks: run with `python -m bench.<name>`; each prints its numbers and writes them
to bench/results/<name>.json. Timings are measured here, never asserted in tests."""
