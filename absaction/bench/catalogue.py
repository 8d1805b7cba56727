"""What the RL benchmark (``absaction bench rl``) runs: its tasks, the agent table, the presets and
:class:`RLBenchConfig`, the configuration of one sweep.

The primitive-vs-latent comparison: stage 1 (demonstrations and action models, built once and cached
in the output folder, :class:`Stage1` records them) + many independent RL runs (agent x task x seed,
each one :func:`~absaction.agents.train_agent` call, :mod:`.runs`) + the statistics (:mod:`.stats`)
and the report (:mod:`.report`); :func:`.sweep.run_bench` ties the stages together.

Example::

    >>> from absaction.bench.catalogue import RLBenchConfig
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

from absaction.agents.config import AgentConfig, check_env_id
from absaction.data import load_dataset
from absaction.errors import AbsactionError
from absaction.models import read_config
from absaction.outputs import path_from_record, path_in_record

from .suites import MAZE_TASKS, SUITES, check_maze_data, suite_data

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
no expert visited): where issue 5 expects latent agents to need 3x fewer env steps."""


def task_name(env_id: str) -> str:
    """The short name of a task (its run folder): the :data:`TASKS` (or PointMaze suite) key, else a
    path-safe id."""
    for name, task in {**TASKS, **MAZE_TASKS}.items():
        if task == env_id:
            return name
    return env_id.replace("/", "-").replace(":", "-")


# ------------------------------------------------------------------------------------------ agents
FAMILIES: tuple[str, ...] = ("primitive", "latent", "skill", "ablation")
"""primitive: acts in env actions (with or without a BC warm start); latent: acts in the ladder
TCVLAE's latents; skill: chooses a closed-loop skill every H steps (``SkillWrapper``); ablation: the
controls (flat VAE, untrained decoder, action repeat)."""

MODEL_KINDS: tuple[str, ...] = ("tcvlae", "tcvae", "untrained", "skill", "skill-play")
"""Stage-1 action models an agent may act through (``skill``: the skill model on the demonstrations,
``skill-play``: on the play data)."""

DATA_KINDS: tuple[str, ...] = ("demos", "play")
"""Stage-1 data a BC warm start may clone: the demonstrations (goal-relabelled pairs on the PointMaze
suite) or the play data (``absaction/Reach2DPlay-v0``)."""


@dataclasses.dataclass
class Stage1:
    """The shared artefacts every run builds on (built by :func:`.runs.prepare_stage1`)."""

    data: str | None
    """the demonstrations (BC and VAE training data): an absolute folder or a Minari id"""
    models: dict[str, Path]
    """model kind (:data:`MODEL_KINDS`) -> run folder"""
    top_ladder: dict[str, int]
    """model kind -> 1-based index of its most abstract ladder with active units"""
    chunk: int | None
    """the TCVLAE's decoded length (primitive steps per latent decision, and the repeat count)"""
    bc_data: dict[str, str] = dataclasses.field(default_factory=dict)
    """data kind (:data:`DATA_KINDS`) -> what a BC warm start clones: a dataset folder, or an ``.npz``
    of goal-relabelled (observation, action) pairs"""
    skill_top_dims: dict[str, int | None] = dataclasses.field(default_factory=dict)
    """skill model kind -> latents a ``-top`` agent controls (None: the model's last ladder)"""

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "models": {k: str(v) for k, v in self.models.items()},
            "top_ladder": self.top_ladder,
            "chunk": self.chunk,
            "bc_data": self.bc_data,
            "skill_top_dims": self.skill_top_dims,
        }

    def to_record(self, folder: str | os.PathLike[str]) -> dict[str, Any]:
        """:meth:`to_dict` with its folders relative to ``folder`` (see :meth:`RLBenchConfig.to_record`)."""
        return {
            "data": record_setting(self.data, folder),
            "models": {k: path_in_record(v, folder) for k, v in self.models.items()},
            "top_ladder": self.top_ladder,
            "chunk": self.chunk,
        }


@dataclasses.dataclass(frozen=True)
class BenchAgent:
    """A named agent template: everything of an :class:`AgentConfig` except task, seed and budget."""

    name: str
    family: str
    """primitive | latent | ablation (see :data:`FAMILIES`)"""
    description: str
    algo: str
    actions: str
    """primitive | latent | repeat"""
    model: str | None = None
    """stage-1 action model of a latent agent: tcvlae | tcvae | untrained"""
    ladders: str = "all"
    """latent agents: ``all`` (the active units of every ladder) or ``top`` (only the most abstract
    ladder that has active units: ladder 3 of the paper's [8, 4, 2] TCVLAE); skill agents: ``top`` controls
    the skill model's last ladder (a one-group model: its first half), the rest is the prior mean"""
    bc: bool = False
    """warm-start the policy by behaviour cloning on the demonstrations"""
    closed_loop: int | None = None
    """latent agents: re-decide every this many primitive steps (None: open loop, one decision per chunk)"""
    plan_phase: bool = False
    """latent closed loop along the plan (see ``LatentActionWrapper(plan_phase=...)``)"""
    prior: str = "none"
    """skill agents: how an action becomes z (``AgentConfig.prior``: none | reparam | kl)"""
    residual: bool = False
    """skill agents: a per-step residual on the decoded action (ReSkill)"""
    data: str = "demos"
    """what the BC warm start clones (:data:`DATA_KINDS`)"""
    hyperparams: tuple[tuple[str, Any], ...] = ()
    """overrides of the packaged hyperparameters, as (key, value) pairs"""

    def config(
        self, env_id: str, seed: int, steps: int, eval_every: int, eval_episodes: int, stage1: Stage1
    ) -> AgentConfig:
        """The :class:`AgentConfig` of this agent on ``env_id`` with stage-1 artefacts filled in."""
        model = ladders = chunk = bc_dataset = None
        top_dims = None
        if self.actions == "latent":
            assert self.model is not None
            model = str(stage1.models[self.model])
            ladders = [stage1.top_ladder[self.model]] if self.ladders == "top" else None
        if self.actions == "skill":
            assert self.model is not None
            model = str(stage1.models[self.model])
            top_dims = stage1.skill_top_dims.get(self.model) if self.ladders == "top" else None
        if self.actions == "latent" and self.closed_loop is not None:
            chunk = self.closed_loop
        if self.actions == "repeat":
            chunk = stage1.chunk  # the latent agents' decoded length: is any gain just temporal extension?
        if self.bc:
            bc_dataset = stage1.bc_data.get(self.data, str(stage1.data))
        return AgentConfig(
            env_id,
            algo=self.algo,
            actions=self.actions,
            model=model,
            ladders=ladders,
            chunk=chunk,
            plan_phase=self.plan_phase,
            prior=self.prior,
            residual=self.residual,
            skill_ladders=self.ladders if self.actions == "skill" else "all",
            top_dims=top_dims,
            hyperparams=dict(self.hyperparams),
            bc_dataset=bc_dataset,
            steps=steps,
            seed=seed,
            eval_every=eval_every,
            eval_episodes=eval_episodes,
        )

    def needs(self) -> set[str]:
        """Stage-1 artefacts this agent uses (``demos`` and model kinds)."""
        needed = {self.data} if self.bc else set()
        if self.model is not None:
            needed.add(self.model)
        if self.actions == "repeat":
            needed.add("tcvlae")  # its chunk length is the TCVLAE's sequence length
        return needed


def _skill_agents(suffix: str, model: str, data: str, on: str) -> tuple[BenchAgent, ...]:
    """The skill agents on one skill model (``model``, trained on ``on``; BC clones ``data``)."""

    def agent(name: str, description: str, algo: str, **fields: Any) -> BenchAgent:
        return BenchAgent(
            name + suffix,
            "skill",
            f"{description}, skills of {on}",
            algo,
            "skill",
            model,
            data=data,
            **fields,
        )

    return (
        agent("sac-skill-prior", "SAC regularised by KL to the skill prior (SPiRL)", "sac", prior="kl"),
        agent(
            "ppo-skill-prior", "PPO acting through the skill prior (reparameterised)", "ppo", prior="reparam"
        ),
        agent(
            "ppo-skill-residual",
            "PPO through the prior plus a per-step residual (ReSkill)",
            "ppo",
            prior="reparam",
            residual=True,
        ),
        agent("sac-skill", "SAC in skill space, no prior (SPiRL's ablation)", "sac"),
        agent("ppo-skill", "PPO in skill space, no prior", "ppo"),
        agent(
            "ppo-skill-bc",
            "PPO through the prior, BC warm start in skill space",
            "ppo",
            prior="reparam",
            bc=True,
        ),
        agent(
            "ppo-skill-prior-top",
            "PPO through the prior on the top latents only (rest: prior mean)",
            "ppo",
            prior="reparam",
            ladders="top",
        ),
    )


AGENTS: dict[str, BenchAgent] = {
    agent.name: agent
    for agent in (
        BenchAgent("ppo", "primitive", "PPO on primitive actions", "ppo", "primitive"),
        BenchAgent(
            "ppo-bc", "primitive", "PPO, BC warm start on the demonstrations", "ppo", "primitive", bc=True
        ),
        BenchAgent("sac", "primitive", "SAC on primitive actions", "sac", "primitive"),
        BenchAgent(
            "sac-bc", "primitive", "SAC, BC warm start on the demonstrations", "sac", "primitive", bc=True
        ),
        BenchAgent("ppo-latent", "latent", "PPO on TCVLAE latents, all ladders", "ppo", "latent", "tcvlae"),
        BenchAgent(
            "ppo-latent-top",
            "latent",
            "PPO on TCVLAE latents, top ladder only",
            "ppo",
            "latent",
            "tcvlae",
            ladders="top",
        ),
        BenchAgent(
            "ppo-latent-phase8",
            "latent",
            "PPO on TCVLAE latents, re-deciding every 8 steps along the plan",
            "ppo",
            "latent",
            "tcvlae",
            closed_loop=8,
            plan_phase=True,
        ),
        BenchAgent(
            "ppo-latent-bc",
            "latent",
            "PPO on TCVLAE latents, BC warm start on the encoded demonstrations",
            "ppo",
            "latent",
            "tcvlae",
            bc=True,
        ),
        BenchAgent("sac-latent", "latent", "SAC on TCVLAE latents, all ladders", "sac", "latent", "tcvlae"),
        BenchAgent(
            "sac-latent-top",
            "latent",
            "SAC on TCVLAE latents, top ladder only",
            "sac",
            "latent",
            "tcvlae",
            ladders="top",
        ),
        BenchAgent("ppo-flat", "ablation", "PPO on flat TCVAE latents", "ppo", "latent", "tcvae"),
        BenchAgent(
            "ppo-untrained", "ablation", "PPO on an untrained TCVLAE decoder", "ppo", "latent", "untrained"
        ),
        BenchAgent("ppo-repeat", "ablation", "PPO, each action repeated for one chunk", "ppo", "repeat"),
        # primitive SAC with one gradient step per 8 env steps: the PointMaze default's affordable SAC
        # (one step per env step costs ~16 ms on one core there); --full runs `sac`/`sac-bc`
        BenchAgent(
            "sac-u8",
            "primitive",
            "SAC, one gradient step per 8 env steps",
            "sac",
            "primitive",
            hyperparams=(("train_freq", 8),),
        ),
        BenchAgent(
            "sac-bc-u8",
            "primitive",
            "SAC, BC warm start, one gradient step per 8 env steps",
            "sac",
            "primitive",
            bc=True,
            hyperparams=(("train_freq", 8),),
        ),
        BenchAgent(
            "ppo-bc-play",
            "primitive",
            "PPO, BC warm start on the play data",
            "ppo",
            "primitive",
            bc=True,
            data="play",
        ),
        *_skill_agents("", "skill", "demos", "the demonstrations"),
        *_skill_agents("-play", "skill-play", "play", "the play data"),
    )
}
"""The agent table: every agent the benchmark knows, by name (``--agents``)."""


def lookahead_applies(actions: str, plan_phase: bool = False, fixed: str = "zero") -> bool:
    """Whether an agent acting in ``actions`` gets a lookahead ceiling: macro agents whose chunk is a
    function of the action alone (no sampled latents, no plan phase: what ``preview_chunk`` of their
    wrapper accepts)."""
    return actions == "repeat" or (actions == "latent" and fixed == "zero" and not plan_phase)


# ----------------------------------------------------------------------------------------- presets
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
    "ppo-skill-prior-top-play",
    "ppo-bc-play",
)
"""What ``--skills`` adds to a Reach2D preset: every skill agent on the play data and (where the paper's
demonstrations make a different prior) on them (SAC on the play data only), and the BC baseline on the
play data. Not in the default preset: they take it from 38 minutes to 4.1 hours on 2 cores (``--dry-run``)."""

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
    "ppo-skill-residual",
    "ppo-skill-prior-top",
)
"""The PointMaze default's agents (``--full`` adds primitive SAC at one gradient step per env step and the
skill space without a prior)."""

MAZE_PRESETS: dict[str, Preset] = {
    # 2.5 h on 2 cores (--dry-run): 5 Medium tasks x 10 agents x 5 seeds x 36k primitive steps, the stitch
    # data ~100k transitions (1,600 segments); primitive SAC updates every 8 env steps (sac-u8)
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
    ),
    "full": Preset(  # meant for a Ray cluster (--executor ray)
        tasks=tuple(t for t in MAZE_TASKS if t.startswith("large")),
        agents=(*MAZE_AGENTS, "sac", "sac-bc", "sac-skill"),
        seeds=5,
        steps=200_000,
        eval_points=20,
        eval_episodes=20,
        demo_episodes=3200,
        vae_epochs=None,
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

    @classmethod
    def from_preset(
        cls, name: str, suite: str = "reach2d", skills: bool = False, **overrides: Any
    ) -> RLBenchConfig:
        """The sizes of preset ``name`` (``default`` | ``quick`` | ``full``) of ``suite`` with
        ``overrides``; ``skills`` adds the skill agents (:data:`SKILL_AGENTS`) to a Reach2D preset."""
        presets = presets_of(suite)
        if name not in presets:
            raise AbsactionError(f"unknown preset {name!r}", f"choose one of {', '.join(presets)}")
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
            "preset": name,
            "suite": suite,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def eval_every(self) -> int:
        """Primitive env steps between evaluations."""
        return max(1, self.steps // self.eval_points)

    def validate(self) -> None:
        """Raise a one-line :class:`AbsactionError` for names or sizes no sweep can use."""
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
        data = suite_data(self.suite, self.tasks)  # the maze extra, one maze
        for key in ("skill_epochs", "skill_horizon", "skill_z_dim"):
            if getattr(self, key) is not None and int(getattr(self, key)) < 1:
                raise AbsactionError(f"{key} must be >= 1", f"pass --{key.replace('_', '-')} 1 or more")
        if self.data is not None:
            given = Path(self.data).expanduser() if Path(self.data).expanduser().exists() else self.data
            dataset = load_dataset(given)
            if self.suite == "pointmaze":
                check_maze_data(dataset.env_id, data.demo_env, self.data)
        if self.model is not None:
            read_config(Path(self.model).expanduser())  # one-line errors for a missing/broken run folder

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


def record_setting(value: str | None, folder: str | os.PathLike[str]) -> str | None:
    """A setting that names a folder or a Minari id, as a record in ``folder`` keeps it: an existing
    folder relative to ``folder`` (:func:`absaction.outputs.path_in_record`), anything else as it is."""
    if value is None or not Path(value).expanduser().exists():
        return value
    return path_in_record(value, folder)


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
)
