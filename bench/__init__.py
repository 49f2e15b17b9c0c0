"""Benchmarks: one command per scenario (`python -m bench.<name>`)."""
