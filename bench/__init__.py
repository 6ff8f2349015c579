"""Benchmarks (not tests): ``python -m bench.run validate --n 500``."""
