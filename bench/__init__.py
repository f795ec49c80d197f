"""Benchmarks run by `make bench`; each prints its figures next to its target."""
