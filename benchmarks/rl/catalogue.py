"""What the RL study (``python -m benchmarks.rl``) runs: its tasks, the agent table, the presets and
:class:`RLBenchConfig`, the configuration of one sweep.

The primitive-vs-latent comparison: stage 1 (demonstrations and action models, built once and cached
in the output folder, :class:`~.agents.Stage1` records them, :mod:`.stage1`) + many independent RL runs
(agent x task x seed, each one :func:`~absaction.agents.train_agent` call, run by the engine
:mod:`absaction.bench`) + the statistics and the study's report (:mod:`.report`); :func:`.sweep.run_bench`
ties the stages together. The agent table itself is :mod:`.agents`.

Example::

    >>> from benchmarks.rl.catalogue import RLBenchConfig
    >>> config = RLBenchConfig.from_preset("quick", seeds=3)
    >>> config.agents, config.seeds, config.eval_every
    (['ppo-bc', 'ppo-latent'], 3, 80)
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path
from typing import Any

from absaction.agents.config import check_env_id
from absaction.errors import AbsactionError, check_choice
from absaction.models.configs import SKILL_FRAMES
from absaction.outputs import path_from_record

from .agents import AGENTS, LADDER_SKILL_MODELS, BenchAgent, record_setting
from .suites import MAZE_TASKS, SUITE_DATA, SUITES, suite_data

# ------------------------------------------------------------------------------------------- tasks
DEMO_ENV = "absaction/Reach2D-v0"
"""The env the expert demonstrations come from (the paper world)."""

TASKS: dict[str, str] = {
    "dense": "absaction/Reach2D-v0",
    "sparse": "absaction/Reach2DSparse-v0",
    "obstacle": "absaction/Reach2DObstacle-v0",
    "chain": "absaction/Reach2DChain-v0",
    "newgoals": "absaction/Reach2DNewGoals-v0",
}
"""Short task names (also the run folder names) -> env ids. Any other registered id may be passed too."""

TARGET_TASKS: tuple[str, ...] = ("obstacle", "chain", "newgoals")
"""Tasks whose solution the demonstrations do not show (a blocked straight path, goal chains, goals
no expert visited): where the study's 3x target expects latent agents to need 3x fewer env steps."""


def task_name(env_id: str) -> str:
    """The short name of a task (its run folder): the :data:`TASKS` (or PointMaze suite) key, else a
    path-safe id."""
    for name, task in {**TASKS, **MAZE_TASKS}.items():
        if task == env_id:
            return name
    return env_id.replace("/", "-").replace(":", "-")


@dataclasses.dataclass(frozen=True)
class Preset:
    """Sizes of a sweep (``--quick``, the default, ``--full``); flags override single fields."""

    tasks: tuple[str, ...]
    agents: tuple[str, ...]
    seeds: int
    steps: int
    eval_points: int
    eval_episodes: int
    demo_episodes: int
    vae_epochs: int | None
    skill_epochs: int | None = None
    play_episodes: int = 400
    lookahead: int = 256
    """candidates per decision of the lookahead ceiling (0: none)"""


SKILL_AGENTS: tuple[str, ...] = (
    "ppo-skill-prior-play",
    "ppo-skill-prior",
    "sac-skill-prior-play",
    "ppo-skill-residual-play",
    "ppo-skill-residual",
    "sac-skill-play",
    "ppo-skill-play",
    "ppo-skill-bc-play",
    "ppo-skill-bc",
    "ppo-skill-bc-noprior-play",
    "ppo-skill-bc-noprior",
    "ppo-skill-prior-top-play",
    "ppo-skill-ladder-play",
    "ppo-skill-ladder",
    "ppo-skill-ladder-top-play",
    "ppo-skill-ladder-top",
    "ppo-bc-play",
)
"""What ``--skills`` adds to a Reach2D preset: every skill agent (on the flat skill model, and the ladder
skill model's two) on the play data and (where the paper's demonstrations make a different prior) on them
(SAC on the play data only), and the BC baseline on the play data. Not in the default preset: they take
it from 38 minutes to 4.3 hours on 2 cores (``--dry-run``)."""

QUICK_SKILL_AGENTS: tuple[str, ...] = ("ppo-skill-prior-play", "ppo-skill-bc", "sac-skill-prior-play")
"""What ``--skills`` adds to the quick preset."""

PRESETS: dict[str, Preset] = {
    # 2 CPU cores, well under an hour (estimate printed before the start): the PPO family, where primitive
    # and latent agents (each also BC-warm-started; latent on both ladder settings, open and closed loop)
    # and every ablation share one algorithm. SAC is in --full only: primitive SAC costs ~7 ms per env step
    # on one core, latent SAC ~1.3 ms (8 gradient steps per decision); add it with --agents ... sac-latent.
    "default": Preset(
        tasks=tuple(TASKS),
        agents=(
            "ppo",
            "ppo-bc",
            "ppo-latent",
            "ppo-latent-bc",
            "ppo-latent-top",
            "ppo-latent-phase8",
            "ppo-flat",
            "ppo-untrained",
            "ppo-repeat",
        ),
        seeds=5,
        steps=50_000,
        eval_points=20,
        eval_episodes=20,
        demo_episodes=400,
        vae_epochs=None,
    ),
    "quick": Preset(  # a smoke test of every stage: demonstrations, BC, a TCVLAE, both families
        tasks=("dense",),
        agents=("ppo-bc", "ppo-latent"),
        seeds=2,
        steps=320,
        eval_points=4,
        eval_episodes=4,
        demo_episodes=40,
        vae_epochs=3,
    ),
    "full": Preset(
        tasks=tuple(TASKS),
        agents=tuple(AGENTS),
        seeds=5,
        steps=200_000,
        eval_points=20,
        eval_episodes=20,
        demo_episodes=400,
        vae_epochs=None,
    ),
}

MAZE_AGENTS: tuple[str, ...] = (
    "ppo",
    "ppo-bc",
    "sac-u8",
    "sac-bc-u8",
    "ppo-latent",
    "ppo-repeat",
    "sac-skill-prior",
    "ppo-skill-prior",
    "ppo-skill-bc",
    "ppo-skill-residual",
    "ppo-skill-ladder-top",
)
"""The PointMaze default's agents: the primitive baselines (BC on hindsight-relabelled pairs), the latent
chunks, action repeat, the skill agents on the flat skill model (SPiRL, through the prior, BC in skill space,
residual) and the ladder variant ``ppo-skill-ladder-top`` (the agent controls the abstract ladder of a
two-ladder skill model only). ``--full`` adds primitive SAC at one gradient step per env step, the skill
space without a prior and the flat model's first-half variant ``ppo-skill-prior-top``."""

MAZE_PRESETS: dict[str, Preset] = {
    # 2.5 h on 2 cores (--dry-run: 2.54 h; 2.42 h before ppo-skill-ladder-top and its ladder skill model):
    # 5 Medium tasks x 11 agents x 5 seeds x 36k primitive steps, the stitch data ~100k transitions (1,600
    # segments); primitive SAC updates every 8 env steps (sac-u8)
    "default": Preset(
        tasks=tuple(t for t in MAZE_TASKS if t.startswith("medium")),
        agents=MAZE_AGENTS,
        seeds=5,
        steps=36_000,
        eval_points=9,
        eval_episodes=8,
        demo_episodes=1600,
        vae_epochs=None,
        skill_epochs=20,
        # no lookahead ceiling: it deep-copies the env per candidate, ~80 ms for a MuJoCo maze, so 256
        # candidates per decision would take ~50 min per task and macro agent
        lookahead=0,
    ),
    "quick": Preset(  # a smoke test: one task, the relabelled BC and a skill agent, a few hundred steps
        tasks=("medium-1",),
        agents=("ppo-bc", "ppo-skill-prior"),
        seeds=1,
        steps=300,
        eval_points=2,
        eval_episodes=2,
        demo_episodes=20,
        vae_epochs=2,
        skill_epochs=2,
        lookahead=0,
    ),
    "full": Preset(  # meant for a Ray cluster (--executor ray)
        tasks=tuple(t for t in MAZE_TASKS if t.startswith("large")),
        agents=(*MAZE_AGENTS, "sac", "sac-bc", "sac-skill", "ppo-skill-prior-top"),
        seeds=5,
        steps=200_000,
        eval_points=20,
        eval_episodes=20,
        demo_episodes=3200,
        vae_epochs=None,
        lookahead=0,
    ),
}


def presets_of(suite: str) -> dict[str, Preset]:
    """The presets (``default`` | ``quick`` | ``full``) of ``suite``."""
    if suite not in SUITES:
        raise AbsactionError(f"unknown suite {suite!r}", f"choose one of {', '.join(SUITES)} (--suite)")
    return MAZE_PRESETS if suite == "pointmaze" else PRESETS


@dataclasses.dataclass
class RLBenchConfig:
    """One sweep (written to ``OUT/bench.json``)."""

    tasks: list[str]
    """env ids of the tasks"""
    agents: list[str]
    """names from :data:`AGENTS`"""
    seeds: int = 5
    """independent runs per agent and task (seeds 0 .. seeds - 1; agents share seeds, hence evaluation
    episodes)"""
    steps: int = 50_000
    """training budget of every run, in PRIMITIVE env steps (the x axis)"""
    eval_points: int = 20
    """evaluations after the one before learning (every steps // eval_points primitive steps)"""
    eval_episodes: int = 20
    """episodes per evaluation (deterministic policy)"""
    workers: int = 2
    """parallel worker processes (``threads`` torch threads each); 1 runs everything in this process"""
    threads: int = 1
    """torch threads per worker (1: with ``workers`` workers the sweep keeps ``workers`` cores busy;
    more threads per small network mostly wait on each other)"""
    data: str | None = None
    """demonstrations (dataset folder or Minari id); None: collect scripted Reach2D-v0 experts"""
    model: str | None = None
    """the ladder TCVLAE run folder; None: train one on the demonstrations"""
    demo_episodes: int = 400
    """expert episodes to collect when ``data`` is None (``absaction demo``'s default)"""
    vae_epochs: int | None = None
    """epochs of the stage-1 VAEs (None: ``absaction train``'s default)"""
    vae_progressive: int = 20
    """progressive training of the stage-1 TCVLAE (``absaction train --progressive``; 0 = the paper's
    training). With 20 the target landed in ladder 3 in 5/5 seeds against 3/5 without, so the ``-top``
    agents control the abstract factors instead of depending on the seed"""
    bootstrap_reps: int = 2000
    """bootstrap replicates per confidence interval"""
    lookahead: int = 256
    """candidate actions per decision of the lookahead ceiling of every macro agent (what its action
    space can express, see :func:`.lookahead.lookahead_ceilings`); 0 skips it"""
    preset: str = "default"
    """the preset the sizes came from (a record; flags may have overridden fields)"""
    suite: str = "reach2d"
    """the world (:data:`~.suites.SUITES`): what stage 1 collects and trains"""
    skill_epochs: int | None = None
    """epochs of the stage-1 skill models (None: ``absaction train --model skill``'s default)"""
    play_episodes: int = 400
    """play episodes to collect for the ``-play`` agents (Reach2D suite)"""
    skill_horizon: int | None = None
    """H of the stage-1 skill models (None: the suite's, 4 on Reach2D, 10 on PointMaze)"""
    skill_z_dim: int | None = None
    """latent size of the stage-1 skill models (None: the suite's, 4 on Reach2D, 8 on PointMaze)"""
    skill_frame: str | None = None
    """frame of the stage-1 skill models, ``absolute`` | ``relative`` (None: the suite's, absolute)"""

    @classmethod
    def from_preset(
        cls, name: str, suite: str = "reach2d", skills: bool = False, **overrides: Any
    ) -> RLBenchConfig:
        """The sizes of preset ``name`` (``default`` | ``quick`` | ``full``) of ``suite`` with
        ``overrides``; ``skills`` adds the skill agents (:data:`SKILL_AGENTS`) to a Reach2D preset."""
        presets = presets_of(suite)
        check_choice(name, presets, "preset")
        p = presets[name]
        agents = list(p.agents)
        if skills and suite == "reach2d" and name != "full":  # full holds every agent already
            agents += [
                a for a in (QUICK_SKILL_AGENTS if name == "quick" else SKILL_AGENTS) if a not in agents
            ]
        values: dict[str, Any] = {
            "tasks": [{**TASKS, **MAZE_TASKS}[t] for t in p.tasks],
            "agents": agents,
            "seeds": p.seeds,
            "steps": p.steps,
            "eval_points": p.eval_points,
            "eval_episodes": p.eval_episodes,
            "demo_episodes": p.demo_episodes,
            "vae_epochs": p.vae_epochs,
            "skill_epochs": p.skill_epochs,
            "play_episodes": p.play_episodes,
            "lookahead": p.lookahead,
            "preset": name,
            "suite": suite,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def eval_every(self) -> int:
        """Primitive env steps between evaluations."""
        return max(1, self.steps // self.eval_points)

    @property
    def skill_model_settings(self) -> tuple[int, int, str]:
        """``(H, latent size, frame)`` of the stage-1 skill models: the sweep's values, else its suite's."""
        suite = SUITE_DATA[self.suite]
        return (
            int(self.skill_horizon or suite.skill_horizon),
            int(self.skill_z_dim or suite.skill_z_dim),
            self.skill_frame or suite.skill_frame,
        )

    def validate(self) -> None:
        """Raise a one-line :class:`AbsactionError` for names or sizes no sweep can use. Whether the
        ``data`` and ``model`` folders and the agents fit the tasks is :func:`.inputs.check_inputs`'s
        part (it reads them)."""
        self.tasks = [resolve_task(t) for t in self.tasks]
        for name in self.agents:
            if name not in AGENTS:
                close = difflib.get_close_matches(name, list(AGENTS), n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise AbsactionError(f"unknown agent {name!r}", f"{hint}choose from {', '.join(AGENTS)}")
        for label, values in (("task", self.tasks), ("agent", self.agents)):
            if not values:
                raise AbsactionError(f"no {label}s selected", f"pass at least one --{label}s value")
            if len(set(values)) != len(values):
                raise AbsactionError(f"a {label} is listed twice: {values}", f"list every {label} once")
        counts = {
            "seeds": self.seeds,
            "steps": self.steps,
            "eval_points": self.eval_points,
            "eval_episodes": self.eval_episodes,
            "workers": self.workers,
            "threads": self.threads,
            "demo_episodes": self.demo_episodes,
            "bootstrap_reps": self.bootstrap_reps,
        }
        for key, value in counts.items():
            if int(value) < 1:
                raise AbsactionError(
                    f"{key} must be >= 1, got {value}", f"pass --{key.replace('_', '-')} 1 or more"
                )
        if self.lookahead < 0:
            raise AbsactionError(
                f"lookahead must be >= 0, got {self.lookahead}", "pass --lookahead 256, or 0 to skip it"
            )
        if self.steps < self.eval_points:
            raise AbsactionError(
                f"{self.steps} steps cannot hold {self.eval_points} evaluation points",
                f"pass --steps {self.eval_points} or more",
            )
        suite_data(self.suite, self.tasks)  # the maze extra, one maze
        if self.skill_frame is not None:
            check_choice(self.skill_frame, SKILL_FRAMES, "skill frame")
        for key in ("skill_epochs", "skill_horizon", "skill_z_dim"):
            if getattr(self, key) is not None and int(getattr(self, key)) < 1:
                raise AbsactionError(f"{key} must be >= 1", f"pass --{key.replace('_', '-')} 1 or more")
        ladder_agents = [a for a in self.agents if AGENTS[a].model in LADDER_SKILL_MODELS]
        if ladder_agents and self.skill_z_dim is not None and int(self.skill_z_dim) < 2:
            raise AbsactionError(
                f"{ladder_agents[0]} needs a skill latent of 2 or more to split into two ladders, "
                f"got {self.skill_z_dim}",
                "pass --skill-z-dim 2 or more, or drop the ppo-skill-ladder agents (--agents)",
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_record(self, folder: str | os.PathLike[str]) -> dict[str, Any]:
        """:meth:`to_dict` for a record kept in ``folder`` (``bench.json``, ``summary.json``): the
        ``data`` and ``model`` folders relative to it (a Minari id stays an id), so that a committed
        result names no folder of the machine it ran on."""
        return {
            **self.to_dict(),
            **{key: record_setting(value, folder) for key, value in self.paths().items()},
        }

    def paths(self) -> dict[str, str | None]:
        """The settings that name a folder (or a Minari id): ``data`` and ``model``."""
        return {"data": self.data, "model": self.model}

    def agent_table(self) -> list[BenchAgent]:
        return [AGENTS[name] for name in self.agents]


def resolve_task(name: str) -> str:
    """A task's env id from its short name (:data:`TASKS`, ``medium-1`` ...) or id; unknown ids get a
    one-line error."""
    if name in TASKS:
        return TASKS[name]
    if name in MAZE_TASKS:
        return MAZE_TASKS[name]
    try:
        check_env_id(name)
    except AbsactionError as err:
        raise AbsactionError(
            f"unknown task {name!r}",
            f"use a short name ({', '.join([*TASKS, *MAZE_TASKS])}) or a registered env id",
        ) from err
    return name


def same_setting(saved: Any, current: Any, folder: str | os.PathLike[str]) -> bool:
    """Whether a ``data``/``model`` value saved in a record in ``folder`` (relative, or absolute in an
    older one) names the same folder or Minari id as ``current``."""
    if saved == current or not isinstance(saved, str) or not isinstance(current, str):
        return bool(saved == current)
    if not Path(current).expanduser().exists():
        return False  # a Minari id: the same only when spelt the same
    return path_from_record(saved, folder).resolve() == Path(current).expanduser().resolve()


# Keys whose change makes finished runs and stage-1 artefacts incomparable: --resume refuses them.
RESUME_KEYS: tuple[str, ...] = (
    "steps",
    "eval_points",
    "eval_episodes",
    "data",
    "model",
    "demo_episodes",
    "vae_epochs",
    "vae_progressive",
    "suite",
    "skill_epochs",
    "play_episodes",
    "skill_horizon",
    "skill_z_dim",
    "skill_frame",
)
