"""AgentConfig: everything that defines one RL run (one agent, one task, one seed)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from absaction.envs.ids import resolve_env_id
from absaction.errors import AbsactionError, flag, option, refuse_unknown_keys
from absaction.outputs import path_from_record, path_in_record

ALGOS: tuple[str, ...] = ("ppo", "sac", "td3")
ACTION_KINDS: tuple[str, ...] = ("primitive", "latent", "repeat", "skill")
FIXED_MODES: tuple[str, ...] = ("zero", "sample")
PRIOR_MODES: tuple[str, ...] = ("none", "reparam", "kl")
SKILL_LADDERS: tuple[str, ...] = ("all", "top")


@dataclasses.dataclass
class AgentConfig:
    """One RL run. Budgets count PRIMITIVE env steps for every kind of agent, so that agents acting in
    macro steps (latent, repeat) and primitive agents are compared on the same x axis."""

    env_id: str
    """gymnasium id of the task; any registered env with a 1-D Box action space"""
    algo: str = "ppo"
    """stable-baselines3 algorithm: ppo | sac | td3"""
    actions: str = "primitive"
    """what the agent chooses: primitive actions, latents of an action model, or repeated actions"""
    model: str | None = None
    """run folder of the trained action model (``absaction train --out``); needed for latent and skill
    actions (a skill model for skill actions)"""
    allow_incomplete: bool = False
    """use an action model whose training has not finished (its last checkpoint; refused by default)"""
    ladders: list[int] | None = None
    """1-based ladders the latent agent controls (default: all, or those named in ``dims``)"""
    dims: dict[int, list[int]] | None = None
    """explicit 0-based latent dims per ladder; a chosen ladder not listed exposes its active units"""
    chunk: int | None = None
    """primitive steps per decision: the repeat count (repeat, required), or the number of decoded actions
    executed before deciding again (latent; default: the model's whole sequence, fewer = closed loop)"""
    plan_phase: bool = False
    """latent, closed loop (``chunk`` < T, dividing T): decisions continue the decoded plan at its current
    phase instead of restarting it (see ``LatentActionWrapper(plan_phase=...)``)"""
    z_bound: float = 2.0
    """agent action [-1, 1] maps to latent z in [-z_bound, z_bound]"""
    fixed: str = "zero"
    """latents the agent does not control: zero (prior mean) or sample (N(0, 1) at every decision)"""
    prior: str = "none"
    """skill actions: how the agent's action becomes z: none (z = z_bound * a) | reparam (noise through the
    prior, z = mu(s) + sigma(s) z_bound a) | kl (SAC regularised by KL(pi || prior), SPiRL)"""
    residual: bool = False
    """skill actions: add a per-step residual, a = a_dec + lambda(t) a_res (ReSkill; schedule in the YAML)"""
    skill_ladders: str = "all"
    """skill actions: the agent controls all latents, or only the top ones (the rest: the prior mean)"""
    top_dims: int | None = None
    """skill_ladders=top on a one-group skill model: how many leading latents the agent controls"""
    discount_within_chunk: bool = True
    """macro reward = sum_i gamma**i r_i (True) or sum_i r_i (False); the agent's discount is gamma**chunk"""
    steps: int | None = None
    """training budget in primitive env steps (None: ``n_timesteps`` of the hyperparameter file)"""
    seed: int = 0
    """seed of everything (agent, train env; evaluation episodes use seed + 1_000_000 + i)"""
    eval_every: int | None = None
    """primitive env steps between evaluations (None: a tenth of ``steps``)"""
    eval_episodes: int | None = None
    """episodes per evaluation, deterministic policy, the same episode seeds every time (None: 10, fewer
    when 11 evaluations of 10 full-length episodes would take more env steps than ``steps``)"""
    bc_dataset: str | None = None
    """dataset (folder or Minari id, or an ``.npz`` of observation/action pairs) for a behaviour-cloning
    warm start: of the actions (primitive agents), of the z that encodes each demonstrated chunk (latent
    agents), or of the action choosing the skill encoded from each demonstrated window (skill agents)"""
    bc_epochs: int = 20
    """epochs of behaviour cloning over the dataset's (observation, action) pairs"""
    bc_critic_warmup: int | None = None
    """after a BC warm start, primitive env steps during which the cloned actor stays frozen and only
    the critic learns (None: one PPO rollout, ``n_steps * n_envs``; SAC/TD3: ``learning_starts`` + 5000;
    0: no warm-up). See :class:`~absaction.agents.callbacks.CriticWarmupCallback`."""
    hyperparams: dict[str, Any] = dataclasses.field(default_factory=dict)
    """overrides on top of the hyperparameter file (same keys, e.g. ``{"learning_rate": 1e-3}``)"""
    hyperparams_file: str | None = None
    """a YAML file to use instead of the packaged ``hyperparams/<algo>.yml``"""
    env_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    """keyword arguments for ``gymnasium.make``"""
    device: str = "cpu"
    """torch device of the agent: auto (CUDA if available) | cpu | cuda | cuda:N (small MLPs: cpu is
    usually fastest)"""

    # ------------------------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise :class:`AbsactionError` (one line: problem and fix) for an inconsistent config."""
        _choice(self.algo, ALGOS, "algorithm", "algo")
        _choice(self.actions, ACTION_KINDS, "action kind", "actions")
        _choice(self.fixed, FIXED_MODES, "fixed mode", "fixed")
        check_env_id(self.env_id)
        latent = _text("actions", "latent")
        if self.actions == "latent" and not self.model:
            raise AbsactionError(
                "latent actions need an action model",
                f"pass {option('model', 'RUN_DIR')} (the run folder that `absaction train` wrote)",
            )
        if self.actions == "skill":
            _check_skill(self)
        else:
            skill_options: tuple[tuple[str, str | None, object, object], ...] = (
                ("prior", None, self.prior, "none"),
                ("residual", None, self.residual, False),
                ("ladders", "skill_ladders", self.skill_ladders, "all"),
                ("top_dims", None, self.top_dims, None),
            )
            skill = _text("actions", "skill")
            for name, python, setting, default in skill_options:
                if setting == default:
                    continue
                actions = _text("actions", self.actions)
                if name == "ladders":  # the words; a latent agent's --ladders takes ladder numbers
                    numbers = option("ladders", "2,3", python="[2, 3]")
                    raise AbsactionError(
                        f"the words top and all of {flag(name, python)} choose skill latents and only apply "
                        f"to {skill}, got {actions}",
                        f"pass ladder numbers such as {numbers} or use {skill}"
                        if self.actions == "latent"
                        else f"drop {flag(name, python)} or use {skill}",
                    )
                raise AbsactionError(
                    f"{flag(name, python)} only applies to {skill}, got {actions}",
                    f"drop {flag(name, python)} or use {skill}",
                )
        if self.actions not in ("latent", "skill"):
            either = f"{latent} or {_text('actions', 'skill')}"
            options: tuple[tuple[str, object, str], ...] = (
                ("model", self.model, either),
                ("allow_incomplete", self.allow_incomplete, either),
                ("ladders", self.ladders, either),
                ("dims", self.dims, latent),
            )
            for name, value, kinds in options:
                if value:
                    raise AbsactionError(
                        f"{flag(name)} only applies to {kinds}, got {_text('actions', self.actions)}",
                        f"drop {flag(name)} or use {kinds}",
                    )
        if self.plan_phase and (self.actions != "latent" or self.chunk is None):
            raise AbsactionError(
                f"{flag('plan_phase')} needs latent actions and a closed-loop {option('chunk', 'K')}",
                f"pass {latent} {option('chunk', 'K')} (K dividing the model's length) or drop "
                f"{flag('plan_phase')}",
            )
        if self.actions == "repeat" and self.chunk is None:
            raise AbsactionError(
                "action repeat needs a repeat count", f"pass {option('chunk', 'K')} (e.g. the model's length)"
            )
        if self.actions == "primitive" and self.chunk is not None:
            raise AbsactionError(
                f"{flag('chunk')} only applies to latent or repeat actions",
                f"drop {flag('chunk')} or choose {latent} or {_text('actions', 'repeat')}",
            )
        counts: tuple[tuple[str, int | None], ...] = (
            ("chunk", self.chunk),
            ("steps", self.steps),
            ("eval_every", self.eval_every),
        )
        for name, count in counts:
            if count is not None and int(count) < 1:
                raise AbsactionError(
                    f"{name} must be a positive integer, got {count}", f"pass {flag(name)} >= 1"
                )
        if self.eval_episodes is not None and self.eval_episodes < 1:
            raise AbsactionError(
                f"eval_episodes must be >= 1, got {self.eval_episodes}",
                f"pass {option('eval_episodes', '10')}",
            )
        if not self.z_bound > 0:
            raise AbsactionError(
                f"z_bound must be > 0, got {self.z_bound}", f"pass e.g. {option('z_bound', '2')}"
            )
        if self.bc_dataset is not None:
            if self.actions == "repeat":
                raise AbsactionError(
                    "behaviour cloning warm-starts primitive- and latent-action agents, not action repeat",
                    f"drop {flag('bc', python='bc_dataset')} or use {_text('actions', 'primitive')} or "
                    f"{latent}",
                )
            if self.bc_epochs < 1:
                raise AbsactionError(
                    f"bc_epochs must be >= 1, got {self.bc_epochs}", f"pass {option('bc_epochs', '20')}"
                )
        if self.bc_critic_warmup is not None and int(self.bc_critic_warmup) < 0:
            raise AbsactionError(
                f"bc_critic_warmup must be >= 0, got {self.bc_critic_warmup}",
                f"pass {option('bc_critic_warmup', '0')} or more",
            )

    # ------------------------------------------------------------------------------ (de)serialise
    def to_dict(self) -> dict[str, Any]:
        """JSON-able dictionary (``dims`` keys become strings; :meth:`from_dict` restores them)."""
        data = dataclasses.asdict(self)
        if self.dims is not None:
            data["dims"] = {str(k): list(v) for k, v in self.dims.items()}
        return data

    def to_record(self, folder: str | os.PathLike[str]) -> dict[str, Any]:
        """:meth:`to_dict` for a record kept in ``folder``: the model folder, the BC dataset and the
        hyperparameter file stored relative to ``folder`` (a Minari id stays an id), so that the record
        resolves from any working folder; :meth:`from_record` reads it back."""
        data = self.to_dict()
        for key in PATH_FIELDS:
            if data[key] is not None and Path(data[key]).expanduser().exists():
                data[key] = path_in_record(data[key], folder)
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any], folder: str | os.PathLike[str]) -> AgentConfig:
        """Inverse of :meth:`to_record` for a record kept in ``folder``: its paths made absolute."""
        data = dict(data)
        for key in PATH_FIELDS:
            if data.get(key) is not None:
                path = path_from_record(data[key], folder)
                # the BC dataset may be a Minari id: kept as written when no such folder exists
                data[key] = str(path) if key == "model" or path.exists() else data[key]
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentConfig:
        """Inverse of :meth:`to_dict`; refuses unknown keys (a file from another version)."""
        names = {f.name for f in dataclasses.fields(cls)}
        refuse_unknown_keys(data, names, "agent config key(s)", fix=f"valid keys: {', '.join(sorted(names))}")
        data = dict(data)
        if data.get("dims") is not None:
            data["dims"] = {int(k): [int(i) for i in v] for k, v in data["dims"].items()}
        try:
            return cls(**data)
        except TypeError as err:
            raise AbsactionError(f"incomplete agent config ({err})", "pass at least env_id") from None

    def replace(self, **changes: Any) -> AgentConfig:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def model_path(self) -> Path | None:
        """The action model's run folder as an absolute path, or None."""
        return None if self.model is None else Path(self.model).expanduser().resolve()


def _check_skill(config: AgentConfig) -> None:
    """The skill-action settings that cannot work together, one line each."""
    _choice(config.prior, PRIOR_MODES, "prior mode", "prior")
    _choice(config.skill_ladders, SKILL_LADDERS, "ladders mode for skills", "ladders", python="skill_ladders")
    if not config.model:
        raise AbsactionError(
            "skill actions need a skill model",
            "pass --model RUN_DIR (the --out of `absaction train --model skill`)",
        )
    if config.ladders or config.dims:
        raise AbsactionError(
            "skill actions take --ladders all|top, not ladder numbers or --dims",
            "pass --ladders top or drop it",
        )
    if config.prior == "kl" and config.algo != "sac":
        raise AbsactionError(
            f"--prior kl is prior-regularised SAC, got --algo {config.algo}",
            "pass --algo sac, or --prior reparam for PPO/TD3",
        )
    if config.residual and config.prior == "kl":
        raise AbsactionError(
            "--residual trains one per-step policy, which has no skill prior to regularise with --prior kl",
            "pass --prior reparam (or none) with --residual",
        )
    if config.top_dims is not None and config.skill_ladders != "top":
        raise AbsactionError("--top-dims needs --ladders top", "add --ladders top or drop --top-dims")
    if config.residual and config.chunk is not None:
        raise AbsactionError("--chunk does not apply to --residual (it acts every step)", "drop --chunk")
    if config.plan_phase or config.fixed != "zero":
        raise AbsactionError(
            "--plan-phase and --fixed apply to latent chunks, not skills", "drop them with --actions skill"
        )
    if config.bc_dataset is not None and config.residual:
        raise AbsactionError(
            "behaviour cloning in skill space clones one skill per decision, a residual agent acts every "
            "step",
            "drop --bc or --residual",
        )


PATH_FIELDS: tuple[str, ...] = ("model", "bc_dataset", "hyperparams_file")
"""The :class:`AgentConfig` fields that hold a path (stored relative to a record's folder)."""


def _choice(value: str, options: tuple[str, ...], what: str, name: str, python: str | None = None) -> None:
    if value not in options:
        raise AbsactionError(
            f"unknown {what} {value!r}", f"choose one of {', '.join(options)} ({flag(name, python)})"
        )


def _text(name: str, value: str) -> str:
    """A text-valued option as the caller writes it: ``--actions latent`` / ``actions='latent'``."""
    return option(name, value, python=repr(value))


def check_env_id(env_id: str) -> None:
    """Raise a one-line :class:`AbsactionError` for an id gymnasium cannot make (with close matches);
    ``module:EnvId`` imports the module first (:func:`absaction.envs.resolve_env_id`)."""
    resolve_env_id(env_id)
