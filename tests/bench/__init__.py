"""Smoke tests of the benchmark harness (the benchmarks themselves run only with `make bench`)."""
