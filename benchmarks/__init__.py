"""Benchmarks against the simulator: `make bench` (or `python -m benchmarks`)."""
