"""Build the env an agent acts in: ``gym.make(env_id)`` -> Monitor -> macro wrapper (latent | repeat).

The Monitor sits *inside* the macro wrapper, on the primitive env, so its episode statistics (return =
undiscounted sum of primitive rewards, length = primitive steps) mean the same thing for primitive,
latent and repeat agents; SB3's ``rollout/ep_rew_mean`` is therefore comparable across them, and the
macro wrapper passes the Monitor's ``info["episode"]`` and the env's ``is_success`` through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import gymnasium as gym
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from absaction.envs.ids import resolve_env_id
from absaction.envs.pointmaze import drop_temporary_xml
from absaction.errors import AbsactionError, flag, one_line, option
from absaction.wrappers import (
    ActionDecoder,
    ActionRepeatWrapper,
    LatentActionWrapper,
    MacroActionWrapper,
    ResidualSchedule,
    ResidualSkillWrapper,
    SkillWrapper,
    load_skill_model,
)
from absaction.wrappers import latent as latent_module

from .config import AgentConfig
from .hyperparams import checked_hyperparams, normalize_kwargs

if TYPE_CHECKING:  # annotations only: importing this module stays light
    from stable_baselines3.common.vec_env import VecEnv


def load_model_for(config: AgentConfig) -> Any:
    """The action model of a latent- or skill-action config (None otherwise), loaded once per process."""
    if config.actions not in ("latent", "skill"):
        return None
    path = config.model_path()
    assert path is not None  # validate() guarantees a model for latent and skill actions
    model = latent_module.load_action_model(path, allow_incomplete=config.allow_incomplete)
    if config.actions == "latent" and getattr(model, "name", None) == "skill":
        # a skill's decoder needs the state at every step: the model's own error names Python methods
        raise AbsactionError(
            f"{path} holds a skill model, which decodes one step at a time from the state, not latent chunks",
            f"use {option('actions', 'skill', python=repr('skill'))} for it",
        )
    if config.actions == "skill":
        flags = " with --residual" if config.residual else f" with --prior {config.prior}"
        load_skill_model(model, "skill actions" + flags)  # a latent-chunk model: one line, before any env
    return model


def make_task_env(config: AgentConfig) -> gym.Env[Any, Any]:
    """The task env of ``config`` alone (``config.env_id`` with its ``env_kwargs``), without the agent's
    action wrapper: what :func:`make_env` wraps, and where a skill model's prior rollouts run.

    Raises:
        AbsactionError: the env cannot be made, or its action space is not a continuous Box.
    """
    try:
        # a "module:EnvId" id imports its module (validate() resolved it; this returns the registered id)
        env = gym.make(resolve_env_id(config.env_id), **config.env_kwargs)
    except (gym.error.Error, TypeError, ImportError) as err:
        first = one_line(err)
        raise AbsactionError(
            f"gymnasium.make({config.env_id!r}) failed ({first})",
            f"check the env id and {flag('env_kwarg', python='env_kwargs')} values",
        ) from None
    drop_temporary_xml(env)  # a gymnasium-robotics maze leaves its model file in the temporary folder
    if not isinstance(env.action_space, gym.spaces.Box):
        raise AbsactionError(
            f"{config.env_id} has a {type(env.action_space).__name__} action space",
            "absaction agents need a continuous Box action space",
        )
    return env


def make_env(
    config: AgentConfig,
    *,
    model: ActionDecoder | None = None,
    hyperparams: Mapping[str, Any] | None = None,
) -> gym.Env[Any, Any]:
    """The single env described by ``config`` (not seeded: pass ``seed`` to ``reset``).

    Args:
        config: the run configuration (validated here).
        model: an already loaded action model for ``config.model`` (saves loading it again for every
            env copy); loaded from ``config.model`` when None.
        hyperparams: resolved hyperparameters (for ``gamma``); read from the YAML when None.
    """

    config.validate()
    hp = checked_hyperparams(config) if hyperparams is None else hyperparams
    gamma = float(hp.get("gamma", 0.99))
    env: gym.Env[Any, Any] = Monitor(make_task_env(config))
    if config.actions == "latent":
        if model is None:
            model = load_model_for(config)
        wrapper = LatentActionWrapper(
            env,
            model,
            ladders=config.ladders,
            dims=config.dims,
            z_bound=config.z_bound,
            gamma=gamma,
            discount_within_chunk=config.discount_within_chunk,
            fixed=config.fixed,
            closed_loop_steps=config.chunk,
            plan_phase=config.plan_phase,
        )
        wrapper.model_run_dir = config.model_path()  # record the folder even when given the object
        return wrapper
    if config.actions == "skill":
        if model is None:
            model = load_model_for(config)
        # what both skill wrappers take from the config
        skill: dict[str, Any] = {
            "prior": config.prior,
            "ladders": config.skill_ladders,
            "top_dims": config.top_dims,
            "z_bound": config.z_bound,
            "gamma": gamma,
        }
        if config.residual:
            schedule = ResidualSchedule(
                lambda_max=float(hp.get("residual_lambda", 1.0)),
                midpoint=float(hp.get("residual_midpoint", 10_000)),
                width=float(hp.get("residual_width", 2_000)),
            )
            residual = ResidualSkillWrapper(env, model, schedule=schedule, **skill)
            residual.skills.model_run_dir = config.model_path()
            return residual
        skill_wrapper = SkillWrapper(
            env, model, steps=config.chunk, discount_within_chunk=config.discount_within_chunk, **skill
        )
        skill_wrapper.model_run_dir = config.model_path()
        return skill_wrapper
    if config.actions == "repeat":
        assert config.chunk is not None
        return ActionRepeatWrapper(
            env, repeat=config.chunk, gamma=gamma, discount_within_chunk=config.discount_within_chunk
        )
    return env


def find_macro_wrapper(env: gym.Env[Any, Any]) -> MacroActionWrapper | None:
    """The macro wrapper in ``env``'s wrapper chain, or None for a primitive env."""
    current: Any = env
    while isinstance(current, gym.Wrapper):
        if isinstance(current, MacroActionWrapper):
            return current
        current = current.env
    return None


def steps_per_decision(env: gym.Env[Any, Any]) -> int:
    """Primitive steps one decision lasts (1 for a primitive env)."""
    wrapper = find_macro_wrapper(env)
    return 1 if wrapper is None else wrapper.chunk_steps


def wrapper_settings(env: gym.Env[Any, Any]) -> dict[str, Any]:
    """JSON-able settings of ``env``'s macro wrapper (``{"wrapper": "none"}`` for primitive envs)."""
    wrapper = find_macro_wrapper(env)
    return {"wrapper": "none"} if wrapper is None else wrapper.macro_settings()


def make_vec_env(
    config: AgentConfig,
    *,
    model: ActionDecoder | None = None,
    hyperparams: Mapping[str, Any] | None = None,
    n_envs: int | None = None,
) -> VecEnv:
    """``n_envs`` (default: the ``n_envs`` hyperparameter) copies in a DummyVecEnv, seeded with
    ``config.seed + i`` on their first reset; wrapped in VecNormalize when ``normalize`` is on."""

    hp = checked_hyperparams(config) if hyperparams is None else hyperparams
    if model is None:
        model = load_model_for(config)
    count = int(n_envs if n_envs is not None else hp.get("n_envs", 1))
    if count < 1:
        raise AbsactionError(f"n_envs must be >= 1, got {count}", "set n_envs: 1 in the hyperparameters")
    dummy = DummyVecEnv([lambda: make_env(config, model=model, hyperparams=hp) for _ in range(count)])
    dummy.seed(config.seed)
    norm = normalize_kwargs(hp.get("normalize"))
    if norm is None:
        return dummy
    # reward normalisation tracks the discounted return per decision
    gamma = float(hp.get("gamma", 0.99)) ** steps_per_decision(dummy.envs[0])
    return VecNormalize(dummy, gamma=gamma, **norm)
