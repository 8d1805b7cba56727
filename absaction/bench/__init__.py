"""The measured comparisons as library code.

Each benchmark is split by stage, and each module imports only the ones above it:
catalogue -> estimate -> runs -> results -> report -> sweep. :mod:`absaction.bench.stats` serves both
benchmarks (RL: IQM and bootstrap intervals; VAE: t-intervals over seeds).
"""
