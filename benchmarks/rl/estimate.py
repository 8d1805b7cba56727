"""How long a sweep of the RL study takes: the engine's cost model of one run
(:mod:`absaction.bench.estimate`) with what the study knows of its agents and worlds, one lookahead
ceiling, and stage 1, so that ``python -m benchmarks.rl`` prints its estimate before it starts (and
``--dry-run`` prints only that).

Example::

    >>> from benchmarks.rl.agents import AGENTS
    >>> from benchmarks.rl.catalogue import RLBenchConfig
    >>> config = RLBenchConfig.from_preset("default", steps=10_000)
    >>> round(estimate_run_seconds(AGENTS["ppo"], "absaction/Reach2D-v0", config), 1)  # train + evaluate
    15.1
    >>> skills = RLBenchConfig.from_preset("default", agents=["ppo-skill-prior", "ppo-skill-ladder-top"])
    >>> skills.skill_epochs = 20
    >>> # stage 1: collect 400 demonstrations (2 s), then the TCVLAE, the flat and the ladder skill model in
    >>> # parallel; the longest decides: the ladder one (400 episodes x 20 epochs x 6 ms x 1.1)
    >>> round(estimate_seconds(skills, [0.0], False) - estimate_seconds(skills, [0.0], True), 1)
    54.8
"""

from __future__ import annotations

from collections.abc import Sequence

from absaction.bench.estimate import episode_horizon, run_seconds, spread_seconds
from absaction.train import TrainConfig
from absaction.train.skill_loop import SkillTrainConfig

from .agents import AGENTS, LADDER_SKILL_MODELS, SKILL_MODEL_DATA, BenchAgent, lookahead_applies
from .catalogue import RLBenchConfig

MAZE_ENV_MS_PER_STEP = 0.2
"""A PointMaze step (MuJoCo, ~5,000 steps/s) beyond a Reach2D step, per primitive step."""
COLLECT_SECONDS_PER_EPISODE = 0.005
"""Collecting one scripted demonstration."""
SKILL_SECONDS_PER_EPISODE_EPOCH = 0.006
"""Training a stage-1 skill model, per episode and epoch (measured: 2-3 s per epoch of 400 play episodes)."""
LADDER_SKILL_SCALE = 1.1
"""A ladder skill model (the convolutional ladder encoder, two ladders) against the flat MLP one (measured:
1.06x on 100 Reach2D play episodes, H = 4, z = [2, 2] against 4, one thread)."""
MAZE_COLLECT_SECONDS_PER_EPISODE = 0.06
"""Collecting one PointMaze stitch segment with the waypoint expert (~60 MuJoCo steps and the planner)."""
MAZE_EPISODE_SCALE = 2.0
"""A PointMaze stitch segment (~60 steps, a MuJoCo env) against a Reach2D demonstration (~40 steps)."""
VAE_SECONDS_PER_EPISODE_EPOCH = 0.0008
"""Training a stage-1 VAE, per demonstration and epoch (the two VAEs train in parallel)."""
LOOKAHEAD_MS_PER_CANDIDATE_STEP = 0.0125
"""The lookahead ceiling, per candidate and primitive step of an evaluation episode (copy the env, run
the candidate's chunk): 0.4 ms per candidate of a 32-step decision, measured on the Reach2D tasks."""
MAZE_LOOKAHEAD_MS_PER_CANDIDATE_STEP = 2.7
"""The same on PointMaze: a deep copy of the MuJoCo maze env takes ~82 ms (measured), ~2.6 ms per step of a
32-step chunk, plus the step itself (0.11 ms)."""


def estimate_run_seconds(agent: BenchAgent, env_id: str, config: RLBenchConfig) -> float:
    """Predicted seconds (one core) of one run: set-up + training + all evaluations (+ BC on the
    demonstrations), PointMaze's MuJoCo steps included."""
    return run_seconds(
        agent.algo,
        agent.actions,
        env_id,
        config.steps,
        config.eval_points,
        config.eval_episodes,
        residual=agent.residual,
        train_freq=int(dict(agent.hyperparams).get("train_freq", 1)),
        skill_horizon=config.skill_model_settings[0],
        env_ms=MAZE_ENV_MS_PER_STEP if config.suite == "pointmaze" else 0.0,
        bc_episodes=config.demo_episodes if agent.bc else 0,
    )


def estimate_lookahead_seconds(agent: BenchAgent, env_id: str, config: RLBenchConfig) -> float:
    """Predicted seconds of one (task, agent) lookahead ceiling (0 for agents that get none)."""
    if config.lookahead < 1 or not lookahead_applies(agent.actions, agent.plan_phase):
        return 0.0
    steps = config.eval_episodes * episode_horizon(env_id)
    maze = config.suite == "pointmaze"
    per_step = MAZE_LOOKAHEAD_MS_PER_CANDIDATE_STEP if maze else LOOKAHEAD_MS_PER_CANDIDATE_STEP
    return steps * config.lookahead * per_step / 1000


def estimate_seconds(
    config: RLBenchConfig, costs: Sequence[float], stage1_cached: bool, report_seconds: float = 0.0
) -> float:
    """Predicted wall-clock seconds: stage 1 + the runs spread over the workers (at least the longest)
    + ``report_seconds`` (the lookahead ceilings, computed one after another)."""
    stage1 = 0.0
    if not stage1_cached:
        # collections one after another, then the models in parallel (one worker each; the VAE cost
        # already counts the two VAEs in parallel): the longest model decides
        maze = config.suite == "pointmaze"
        scale = MAZE_EPISODE_SCALE if maze else 1.0
        collect_each = MAZE_COLLECT_SECONDS_PER_EPISODE if maze else COLLECT_SECONDS_PER_EPISODE
        epochs = config.vae_epochs or TrainConfig().epochs
        skill_epochs = config.skill_epochs or SkillTrainConfig().epochs
        collecting = config.demo_episodes * collect_each
        models = [config.demo_episodes * epochs * VAE_SECONDS_PER_EPISODE_EPOCH * scale]
        needed = set().union(*(AGENTS[a].needs() for a in config.agents))
        if needed & {"play", *(k for k, d in SKILL_MODEL_DATA.items() if d == "play")}:
            collecting += config.play_episodes * COLLECT_SECONDS_PER_EPISODE
        for kind in needed & set(SKILL_MODEL_DATA):  # every skill model trains beside the others
            episodes = (
                config.demo_episodes * scale if SKILL_MODEL_DATA[kind] == "demos" else config.play_episodes
            )
            ladder = LADDER_SKILL_SCALE if kind in LADDER_SKILL_MODELS else 1.0
            models.append(episodes * skill_epochs * SKILL_SECONDS_PER_EPISODE_EPOCH * ladder)
        stage1 = collecting + max(models)
    return stage1 + spread_seconds(list(costs), config.workers) + report_seconds
