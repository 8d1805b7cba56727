"""The measured comparisons as library code.

Each benchmark is split by stage, and each module imports only the ones above it. The RL benchmark
(``absaction bench rl``, primitive vs latent actions):

- :mod:`.catalogue`: tasks, the agent table, presets, :class:`~.catalogue.RLBenchConfig`;
- :mod:`.estimate`: how long runs, lookahead ceilings and stage 1 take;
- :mod:`.runs`: stage 1, the plan of runs, one run, the worker processes;
- :mod:`.lookahead`: what each macro action space can express (and its cache);
- :mod:`.results`: finished runs read back, ``results.csv``, statistics per agent and task;
- :mod:`.report`: the target check, verdicts, ``summary.md``, figures, ``summary.json``;
- :mod:`.sweep`: :func:`~.sweep.run_bench`, the whole sweep.

The VAE benchmark (``absaction bench vae``, the TCVLAE against its ablations) is the package
:mod:`absaction.bench.vae`, split the same way: catalogue -> cells -> scoring -> figures -> runs ->
findings -> tables -> sweep.

:mod:`absaction.bench.stats` serves both benchmarks (RL: IQM and bootstrap intervals; VAE: t-intervals
over seeds).
"""
