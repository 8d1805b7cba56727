"""How long a sweep of the RL benchmark takes: a cost model of one run, of one lookahead ceiling and
of stage 1, measured on the development machine, so that ``absaction bench rl`` prints its estimate
before it starts (and ``--dry-run`` prints only that).

Example::

    >>> from absaction.bench.agents import AGENTS
    >>> from absaction.bench.catalogue import RLBenchConfig
    >>> config = RLBenchConfig.from_preset("default", steps=10_000)
    >>> round(estimate_run_seconds(AGENTS["ppo"], "absaction/Reach2D-v0", config), 1)  # train + evaluate
    15.1
    >>> skills = RLBenchConfig.from_preset("default", agents=["ppo-skill-prior", "ppo-skill-ladder-top"])
    >>> skills.skill_epochs = 20
    >>> # stage 1: collect 400 demonstrations (2 s), then the TCVLAE, the flat and the ladder skill model in
    >>> # parallel; the longest decides: the ladder one (400 episodes x 20 epochs x 6 ms x 1.1)
    >>> round(estimate_seconds(skills, [0.0], False) - estimate_seconds(skills, [0.0], True), 1)
    54.8
    >>> duration(5400.0)
    '1.5 h'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import gymnasium as gym

from absaction.envs.ids import resolve_env_id
from absaction.errors import AbsactionError
from absaction.train import TrainConfig
from absaction.train.skill_loop import SkillTrainConfig

from .agents import AGENTS, LADDER_SKILL_MODELS, SKILL_MODEL_DATA, BenchAgent, lookahead_applies
from .catalogue import RLBenchConfig

# Measured with train_agent on one core of the 2-core development machine (other jobs running):
# milliseconds of training per PRIMITIVE env step. Macro agents (latent, repeat) decide every ~32 steps,
# so their networks see ~32x fewer samples per env step.
TRAIN_MS_PER_STEP: dict[tuple[str, str], float] = {
    ("ppo", "primitive"): 0.9,
    ("ppo", "macro"): 0.12,
    ("sac", "primitive"): 6.6,
    ("sac", "macro"): 1.3,
    ("td3", "primitive"): 5.0,
    ("td3", "macro"): 0.15,
}
SKILL_DECODE_MS_PER_STEP = 0.08
"""A skill agent's closed-loop decoder, per primitive step (one small MLP call; the prior per decision)."""
MAZE_ENV_MS_PER_STEP = 0.2
"""A PointMaze step (MuJoCo, ~5,000 steps/s) beyond a Reach2D step, per primitive step."""
SAC_MS_PER_UPDATE = 6.6
"""One SAC gradient step of the packaged agents (64x64 nets, batch 256): primitive SAC's cost per step."""
SKILL_SAC_GRADIENT_STEPS = 4
"""Gradient steps per decision of a skill SAC agent (``gradient_steps`` of ``sac.yml``'s ``skill:``)."""
EVAL_MS_PER_STEP: dict[str, float] = {"primitive": 0.4, "macro": 0.03}
"""Milliseconds per primitive env step of evaluation (a deterministic policy, one observation at a time)."""
RUN_SETUP_SECONDS = 0.5
"""Building the env, the agent and the output folder of one run."""
BC_SECONDS_PER_EPISODE = 0.0075
"""A behaviour-cloning warm start (20 epochs), per demonstration episode (3 s for 400)."""
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


def _horizon(env_id: str) -> int:
    """The env's time limit in primitive steps (200 when it has none or is unknown)."""
    try:
        return int(gym.spec(resolve_env_id(env_id)).max_episode_steps or 200)
    except (gym.error.Error, AbsactionError):
        return 200


def train_ms_per_step(agent: BenchAgent, config: RLBenchConfig) -> float:
    """Milliseconds of training per primitive env step (one core), without the env beyond Reach2D's.

    Skill agents decide every H steps: the algorithm's per-decision cost divided by H (a residual agent
    decides every step), plus the decoder at every step. Primitive SAC is dominated by its gradient steps
    (one per ``train_freq`` env steps)."""
    hyper = dict(agent.hyperparams)
    if agent.actions == "skill":
        per_decision = TRAIN_MS_PER_STEP[(agent.algo, "primitive")]
        if agent.algo == "sac":
            per_decision = SAC_MS_PER_UPDATE * SKILL_SAC_GRADIENT_STEPS
        steps = 1 if agent.residual else config.skill_model_settings[0]
        return per_decision / steps + SKILL_DECODE_MS_PER_STEP
    kind = "primitive" if agent.actions == "primitive" else "macro"
    every = int(hyper.get("train_freq", 1))
    if every > 1:  # fewer gradient steps; acting (~0.5 ms) still happens at every step
        return (TRAIN_MS_PER_STEP[(agent.algo, kind)] - 0.5) / every + 0.5
    return TRAIN_MS_PER_STEP[(agent.algo, kind)]


def estimate_run_seconds(agent: BenchAgent, env_id: str, config: RLBenchConfig) -> float:
    """Predicted seconds (one core) of one run: set-up + training + all evaluations (+ BC)."""
    kind = "primitive" if agent.actions == "primitive" or agent.residual else "macro"
    horizon = _horizon(env_id)
    evaluations = config.eval_points + 1
    env_ms = MAZE_ENV_MS_PER_STEP if config.suite == "pointmaze" else 0.0
    eval_ms = EVAL_MS_PER_STEP[kind] + env_ms + (SKILL_DECODE_MS_PER_STEP if agent.actions == "skill" else 0)
    eval_seconds = evaluations * config.eval_episodes * horizon * eval_ms / 1000
    train_seconds = config.steps * (train_ms_per_step(agent, config) + env_ms) / 1000
    random_seconds = config.eval_episodes * horizon * eval_ms / 1000  # the random-action evaluation
    bc_seconds = config.demo_episodes * BC_SECONDS_PER_EPISODE if agent.bc else 0.0
    return RUN_SETUP_SECONDS + train_seconds + eval_seconds + random_seconds + bc_seconds


def estimate_lookahead_seconds(agent: BenchAgent, env_id: str, config: RLBenchConfig) -> float:
    """Predicted seconds of one (task, agent) lookahead ceiling (0 for agents that get none)."""
    if config.lookahead < 1 or not lookahead_applies(agent.actions, agent.plan_phase):
        return 0.0
    steps = config.eval_episodes * _horizon(env_id)
    maze = config.suite == "pointmaze"
    per_step = MAZE_LOOKAHEAD_MS_PER_CANDIDATE_STEP if maze else LOOKAHEAD_MS_PER_CANDIDATE_STEP
    return steps * config.lookahead * per_step / 1000


WORKER_START_SECONDS = 6.0
"""Starting a worker process (a fresh interpreter importing torch and SB3); the workers start together."""


def estimate_seconds(
    config: RLBenchConfig, costs: Sequence[float], stage1_cached: bool, report_seconds: float = 0.0
) -> float:
    """Predicted wall-clock seconds: stage 1 + the runs spread over the workers (at least the longest)
    + ``report_seconds`` (the lookahead ceilings, computed one after another)."""
    runs = max(sum(costs) / config.workers, max(costs, default=0.0)) + report_seconds
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
    return stage1 + runs + (WORKER_START_SECONDS if config.workers > 1 else 0.0)


def duration(seconds: float) -> str:
    """Seconds as a short human duration: ``45 s``, ``30 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{math.ceil(seconds)} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
