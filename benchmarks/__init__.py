"""The project's own studies, each a folder run from a checkout of the repository: its suites and presets,
its entry point (``python -m benchmarks.NAME``), its README (what it measures, the command behind each
committed result). They use the library (``absaction``, its sweep engine :mod:`absaction.bench`
included); the library never imports them.

- :mod:`benchmarks.rl`: primitive vs latent-chunk vs skill agents (Reach2D family, PointMaze);
- :mod:`benchmarks.vae`: the TCVLAE against its ablations (disentanglement, reconstruction, speed);
- :mod:`benchmarks.skills`: how fast a skill model trains and decodes.

The smaller measurements (env, QRNN and start-up speed, where a decoder's paths end) are the scripts
``benchmarks/bench_*.py``; every committed result lives under ``benchmarks/results/``.
"""
