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
    """The short name of a task (its run folder): the :data:`TASKS` key, else a path-safe id."""
    for name, task in TASKS.items():
        if task == env_id:
            return name
    return env_id.replace("/", "-").replace(":", "-")


# ------------------------------------------------------------------------------------------ agents
FAMILIES: tuple[str, ...] = ("primitive", "latent", "ablation")
"""primitive: acts in env actions (with or without a BC warm start); latent: acts in the ladder
TCVLAE's latents; ablation: the controls (flat VAE, untrained decoder, action repeat)."""

MODEL_KINDS: tuple[str, ...] = ("tcvlae", "tcvae", "untrained")
"""Stage-1 action models an agent may act through."""


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "models": {k: str(v) for k, v in self.models.items()},
            "top_ladder": self.top_ladder,
            "chunk": self.chunk,
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
    ladder that has active units: ladder 3 of the paper's [8, 4, 2] TCVLAE)"""
    bc: bool = False
    """warm-start the policy by behaviour cloning on the demonstrations"""
    closed_loop: int | None = None
    """latent agents: re-decide every this many primitive steps (None: open loop, one decision per chunk)"""
    plan_phase: bool = False
    """latent closed loop along the plan (see ``LatentActionWrapper(plan_phase=...)``)"""

    def config(
        self, env_id: str, seed: int, steps: int, eval_every: int, eval_episodes: int, stage1: Stage1
    ) -> AgentConfig:
        """The :class:`AgentConfig` of this agent on ``env_id`` with stage-1 artefacts filled in."""
        model = ladders = chunk = bc_dataset = None
        if self.actions == "latent":
            assert self.model is not None
            model = str(stage1.models[self.model])
            ladders = [stage1.top_ladder[self.model]] if self.ladders == "top" else None
        if self.actions == "latent" and self.closed_loop is not None:
            chunk = self.closed_loop
        if self.actions == "repeat":
            chunk = stage1.chunk  # the latent agents' decoded length: is any gain just temporal extension?
        if self.bc:
            bc_dataset = str(stage1.data)
        return AgentConfig(
            env_id,
            algo=self.algo,
            actions=self.actions,
            model=model,
            ladders=ladders,
            chunk=chunk,
            plan_phase=self.plan_phase,
            bc_dataset=bc_dataset,
            steps=steps,
            seed=seed,
            eval_every=eval_every,
            eval_episodes=eval_episodes,
        )

    def needs(self) -> set[str]:
        """Stage-1 artefacts this agent uses (``demos`` and model kinds)."""
        needed = {"demos"} if self.bc else set()
        if self.model is not None:
            needed.add(self.model)
        if self.actions == "repeat":
            needed.add("tcvlae")  # its chunk length is the TCVLAE's sequence length
        return needed


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

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> RLBenchConfig:
        """The sizes of preset ``name`` (``default`` | ``quick`` | ``full``) with ``overrides``."""
        if name not in PRESETS:
            raise AbsactionError(f"unknown preset {name!r}", f"choose one of {', '.join(PRESETS)}")
        p = PRESETS[name]
        values: dict[str, Any] = {
            "tasks": [TASKS[t] for t in p.tasks],
            "agents": list(p.agents),
            "seeds": p.seeds,
            "steps": p.steps,
            "eval_points": p.eval_points,
            "eval_episodes": p.eval_episodes,
            "demo_episodes": p.demo_episodes,
            "vae_epochs": p.vae_epochs,
            "preset": name,
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
        if self.data is not None:
            load_dataset(Path(self.data).expanduser() if Path(self.data).expanduser().exists() else self.data)
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
    """A task's env id from its short name (:data:`TASKS`) or id; unknown ids get a one-line error."""
    if name in TASKS:
        return TASKS[name]
    try:
        check_env_id(name)
    except AbsactionError as err:
        raise AbsactionError(
            f"unknown task {name!r}", f"use a short name ({', '.join(TASKS)}) or a registered env id"
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
)
