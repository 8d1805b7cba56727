"""The RL study: do agents that act in abstract actions (latent chunks of a TCVLAE, closed-loop skills)
learn faster than agents that act in primitive actions? On the Reach2D family and PointMaze, with
``python -m benchmarks.rl`` (see ``README.md`` beside this file).

The study adds to the sweep engine (:mod:`absaction.bench`) what is its own, each module importing only
those above it:

- :mod:`.suites`: the worlds (Reach2D, PointMaze's tasks) and what stage 1 collects in each;
- :mod:`.agents`: the agent table, each agent an ``AgentConfig`` template on the stage-1 models;
- :mod:`.catalogue`: tasks, presets, :class:`~.catalogue.RLBenchConfig`;
- :mod:`.estimate`: how long a sweep takes (stage 1, runs, lookahead ceilings);
- :mod:`.inputs`: what the study refuses before it writes anything;
- :mod:`.stage1`: demonstrations, play data, the action models;
- :mod:`.lookahead`: what each macro action space can express; :mod:`.maze_figure`: rollouts over a maze;
- :mod:`.verdicts`: the study's target check and verdicts; :mod:`.ingredients`: where each gain comes from;
- :mod:`.report`: ``summary.md`` and ``summary.json``; :mod:`.sweep`: :func:`~.sweep.run_bench`;
- :mod:`.cli`: the command line.
"""
