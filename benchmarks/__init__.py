"""Benchmarks for the assistant; run with ``python -m benchmarks`` (see __main__.py)."""
