"""Benchmarks of certmodel (not part of the test suite; see docs/benchmarks.md)."""
