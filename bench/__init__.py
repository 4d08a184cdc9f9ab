"""Benchmarks: each ``bench_<topic>.py`` has ``run() -> dict`` that times Erreichbar against
a baseline measured in the same run and returns/prints ratios. ``make bench`` runs all."""
