"""The agents of the RL study (``python -m benchmarks.rl``): the families, what stage 1 builds for them
(:class:`Stage1`) and the table :data:`AGENTS` of every agent a sweep can run, each an
:class:`~absaction.agents.AgentConfig` template plus the stage-1 model and data it acts through
(:meth:`BenchAgent.sweep_agent` makes it the engine's :class:`~absaction.bench.SweepAgent` once stage 1
is built). :mod:`.catalogue` builds the presets and the sweep's configuration on top of it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from absaction.agents.config import AgentConfig
from absaction.bench.definition import SweepAgent
from absaction.outputs import path_in_record

# ------------------------------------------------------------------------------------------ agents
FAMILIES: tuple[str, ...] = ("primitive", "latent", "skill", "ablation")
"""primitive: acts in env actions (with or without a BC warm start); latent: acts in the ladder
TCVLAE's latents; skill: chooses a closed-loop skill every H steps (``SkillWrapper``); ablation: the
controls (flat VAE, untrained decoder, action repeat)."""

MODEL_KINDS: tuple[str, ...] = (
    "tcvlae",
    "tcvae",
    "untrained",
    "skill",
    "skill-play",
    "skill-ladder",
    "skill-ladder-play",
)
"""Stage-1 action models an agent may act through (``skill``: the flat skill model on the demonstrations,
``skill-play``: on the play data; ``skill-ladder`` and ``skill-ladder-play``: the ladder skill models on
the same data, two ladders splitting the flat model's latent size in halves)."""

SKILL_MODEL_DATA: dict[str, str] = {
    "skill": "demos",
    "skill-play": "play",
    "skill-ladder": "demos",
    "skill-ladder-play": "play",
}
"""Skill model kind -> the data it is trained on (:data:`DATA_KINDS`)."""

LADDER_SKILL_MODELS: frozenset[str] = frozenset({"skill-ladder", "skill-ladder-play"})
"""The skill model kinds with a ladder encoder (``SkillTrainConfig(encoder="ladder")``)."""

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
    """primitive | latent | skill | ablation (see :data:`FAMILIES`)"""
    description: str
    algo: str
    actions: str
    """primitive | latent | skill | repeat"""
    model: str | None = None
    """stage-1 action model of a latent or skill agent (:data:`MODEL_KINDS`)"""
    ladders: str = "all"
    """latent agents: ``all`` (the active units of every ladder) or ``top`` (only the most abstract
    ladder that has active units: ladder 3 of the paper's [8, 4, 2] TCVLAE); skill agents: ``top`` on a
    ladder skill model controls its top ladder (through the top prior) and takes the concrete ladders from
    p(z_lower | s, z_top); on a flat skill model it controls the first half of the latent, the rest is the
    prior mean"""
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
        if self.bc and self.actions == "skill" and self.data == "demos":
            # BC in skill space encodes H-step windows of the recorded episodes (each segment with its own
            # goal); bc_data["demos"] may be relabelled (observation, action) pairs, which hold no windows
            bc_dataset = str(stage1.data)
        elif self.bc:
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

    def sweep_agent(
        self, env_id: str, steps: int, eval_every: int, eval_episodes: int, stage1: Stage1
    ) -> SweepAgent:
        """The engine's agent: :meth:`config` (on ``env_id``, seed 0; the sweep sets task and seed of
        every run), this agent's family and description."""
        config = self.config(env_id, 0, steps, eval_every, eval_episodes, stage1)
        return SweepAgent(config, self.family, self.description)

    def needs(self) -> set[str]:
        """Stage-1 artefacts this agent uses (``demos`` and model kinds)."""
        needed = {self.data} if self.bc else set()
        if self.model is not None:
            needed.add(self.model)
        if self.actions == "repeat":
            needed.add("tcvlae")  # its chunk length is the TCVLAE's sequence length
        return needed


def _skill_agent(name: str, description: str, algo: str, model: str, data: str, **fields: Any) -> BenchAgent:
    """One skill-family agent acting through stage-1 skill model ``model`` (BC clones ``data``)."""
    return BenchAgent(name, "skill", description, algo, "skill", model, data=data, **fields)


def _skill_agents(suffix: str, model: str, data: str, on: str) -> tuple[BenchAgent, ...]:
    """The agents on the flat skill model ``model`` (one latent group, trained on ``on``; BC clones
    ``data``)."""

    def agent(name: str, description: str, algo: str, **fields: Any) -> BenchAgent:
        return _skill_agent(
            name + suffix, f"{description}, flat skill model of {on}", algo, model, data, **fields
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
        # the same warm start without the prior: z = z_bound a, so the cloned policy chooses z itself where
        # the prior, conditioned on the state alone, has seen no data (Reach2D's chain past y = 1)
        agent(
            "ppo-skill-bc-noprior",
            "PPO in skill space, no prior, BC warm start in skill space",
            "ppo",
            bc=True,
        ),
        agent(
            "ppo-skill-prior-top",
            "PPO through the prior on the first half of the latent only (the rest: the prior mean)",
            "ppo",
            prior="reparam",
            ladders="top",
        ),
    )


def _ladder_skill_agents(suffix: str, model: str, data: str, on: str) -> tuple[BenchAgent, ...]:
    """The agents on the ladder skill model ``model`` (two ladders, trained on ``on``; BC clones
    ``data``): the same reparameterised PPO on every ladder, and on the abstract ladder only."""
    return (
        _skill_agent(
            "ppo-skill-ladder" + suffix,
            f"PPO through the skill prior on all ladders (reparameterised), ladder skill model of {on}",
            "ppo",
            model,
            data,
            prior="reparam",
        ),
        _skill_agent(
            "ppo-skill-ladder-top" + suffix,
            "PPO through the top prior on the top ladder only (the concrete ladder: the mean of "
            f"p(z_lower | s, z_top)), ladder skill model of {on}",
            "ppo",
            model,
            data,
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
        *_ladder_skill_agents("", "skill-ladder", "demos", "the demonstrations"),
        *_ladder_skill_agents("-play", "skill-ladder-play", "play", "the play data"),
    )
}
"""The agent table: every agent the benchmark knows, by name (``--agents``)."""


def lookahead_applies(actions: str, plan_phase: bool = False, fixed: str = "zero") -> bool:
    """Whether an agent acting in ``actions`` gets a lookahead ceiling: macro agents whose chunk is a
    function of the action alone (no sampled latents, no plan phase: what ``preview_chunk`` of their
    wrapper accepts)."""
    return actions == "repeat" or (actions == "latent" and fixed == "zero" and not plan_phase)


# ----------------------------------------------------------------------------------------- presets


def record_setting(value: str | None, folder: str | os.PathLike[str]) -> str | None:
    """A setting that names a folder or a Minari id, as a record in ``folder`` keeps it: an existing
    folder relative to ``folder`` (:func:`absaction.outputs.path_in_record`), anything else as it is."""
    if value is None or not Path(value).expanduser().exists():
        return value
    return path_in_record(value, folder)
