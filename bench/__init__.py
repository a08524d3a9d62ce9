"""Benchmarks on a synthetic national data set (see bench/README.md)."""
