"""Seamline's benchmarks: one script per speed goal, each run by `make bench` (see docs/benchmarks.md).

Modules whose name starts with an underscore are shared helpers, not benchmarks.
"""
