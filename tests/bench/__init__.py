"""Benchmarks: each module has main() printing its figures beside a baseline measured in the same run."""
