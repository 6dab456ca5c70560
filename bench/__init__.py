"""Benchmarks: `make bench` and `make bench-quick` (see BENCHMARKS.md)."""
