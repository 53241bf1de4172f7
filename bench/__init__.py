"""Benchmarks of Vitrina against the study's pipeline (see docs/performance.md)."""
