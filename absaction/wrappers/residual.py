"""Residual skill actions (ReSkill): ``a_t = a_dec(s_t, z) + lambda(t) * a_res_t`` at every primitive step.

The skill decoder alone can only do what the demonstrations did; a residual lets the agent move where
they never went (faster, farther, more precisely). Its weight ``lambda`` ramps up over training by a
logistic schedule (:class:`ResidualSchedule`), so early on the agent acts almost purely through skills and
the residual takes over only as the policy has learnt something.

How it is trained with stable-baselines3 (one PPO, no second level): :class:`ResidualSkillWrapper` is a
per-step env whose action is ``(a_skill, a_res)``, ``d + A`` values in [-1, 1]. At a skill boundary
(every ``H`` steps) ``a_skill`` chooses ``z`` exactly as :class:`~absaction.wrappers.skill.SkillWrapper`
maps it (``prior="reparam"``: ``z = mu(s) + sigma(s) * z_bound * a_skill``); in between ``a_skill`` is
ignored. Every step ``a_res`` corrects the decoded action (``a_res = 1`` is the action bound's half range).
The observation is the env's, then ``z`` of the running skill, the decoded action ``a_dec`` (both clipped
to +-100) and a one-hot phase inside the skill (``H`` values), so the policy knows when its skill choice
counts. At a boundary,
where the new ``z`` is not chosen yet, ``z`` and ``a_dec`` show the default skill (``a_skill = 0``: the
prior mean with ``"reparam"``). The ignored ``a_skill`` between boundaries adds variance to PPO's gradient
but no bias (it does not change the return); the price of keeping one standard SB3 algorithm.

``lambda(t)`` reads a :class:`StepClock`: the primitive steps of training. ``absaction.agents`` shares one
clock between the training envs and the evaluation env (:func:`share_clock`), so evaluations use the
current ``lambda``, and sets a loaded agent's clock to its trained steps.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import torch

from absaction.errors import AbsactionError
from absaction.wrappers.macro import MacroActionWrapper
from absaction.wrappers.skill import SkillWrapper

OBS_LIMIT = 100.0


@dataclasses.dataclass(frozen=True)
class ResidualSchedule:
    """``lambda(t) = lambda_max / (1 + exp(-(t - midpoint) / width))``, t in primitive steps of training.

    Defaults: ``lambda(0) = 1 / (1 + e^5) = 0.0067``, ``lambda(midpoint) = 0.5``, ``lambda(20k) = 0.993``.
    """

    lambda_max: float = 1.0
    """the weight the residual ramps to"""
    midpoint: float = 10_000.0
    """primitive steps at which lambda is half of lambda_max"""
    width: float = 2_000.0
    """primitive steps of the logistic's scale (10 %->90 % takes 4.4 widths)"""

    def __post_init__(self) -> None:
        if not (self.lambda_max > 0 and self.width > 0 and self.midpoint >= 0):
            raise AbsactionError(
                f"residual schedule needs lambda_max > 0, width > 0, midpoint >= 0, got {self}",
                "pass e.g. residual_lambda=1.0, residual_midpoint=10000, residual_width=2000",
            )

    def __call__(self, steps: float) -> float:
        x = -(float(steps) - self.midpoint) / self.width
        return self.lambda_max / (1.0 + math.exp(min(x, 700.0)))  # exp(700) is still finite


@dataclasses.dataclass
class StepClock:
    """Primitive steps of training so far (shared by the envs of one run)."""

    steps: int = 0


def share_clock(envs: Iterable[gym.Env[Any, Any]], evaluation: gym.Env[Any, Any] | None = None) -> None:
    """Give every :class:`ResidualSkillWrapper` in ``envs`` one clock that they all advance, and let the
    ``evaluation`` env read it without advancing it. Envs without the wrapper are left alone."""
    clock = StepClock()
    for env in envs:
        wrapper = find_residual(env)
        if wrapper is not None:
            wrapper.clock, wrapper.advances_clock = clock, True
    wrapper = None if evaluation is None else find_residual(evaluation)
    if wrapper is not None:
        wrapper.clock, wrapper.advances_clock = clock, False


def find_residual(env: gym.Env[Any, Any]) -> ResidualSkillWrapper | None:
    current: Any = env
    while isinstance(current, gym.Wrapper):
        if isinstance(current, ResidualSkillWrapper):
            return current
        current = current.env
    return None


class ResidualSkillWrapper(MacroActionWrapper, gym.utils.RecordConstructorArgs):
    """Per-step skill + residual actions (see the module). A macro wrapper of one primitive step, so the
    ``info`` entries and saved settings are those of every absaction wrapper.

    Args:
        env, model_or_run_dir, prior, ladders, top_dims, z_bound: as :class:`SkillWrapper` (``prior`` is
            ``"none"`` or ``"reparam"``).
        schedule: the ``lambda`` ramp.
        gamma: discount per primitive step (recorded; one step per decision).
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        model_or_run_dir: Any,
        *,
        prior: str = "reparam",
        ladders: str = "all",
        top_dims: int | None = None,
        z_bound: float = 2.0,
        schedule: ResidualSchedule | None = None,
        gamma: float = 0.99,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            model_or_run_dir=model_or_run_dir,
            prior=prior,
            ladders=ladders,
            top_dims=top_dims,
            z_bound=z_bound,
            schedule=schedule,
            gamma=gamma,
        )
        if prior == "kl":
            raise AbsactionError(
                "residual actions are trained by one per-step policy, which has no skill prior to regularise",
                "use prior='reparam' (CLI: --prior reparam) with --residual",
            )
        # the skill side (loading, layout checks, a -> z) is exactly the skill wrapper's
        self.skills = SkillWrapper(
            env,
            model_or_run_dir,
            prior=prior,
            ladders=ladders,
            top_dims=top_dims,
            z_bound=z_bound,
            gamma=gamma,
        )
        MacroActionWrapper.__init__(self, env, 1, gamma, True)
        self.schedule = schedule or ResidualSchedule()
        self.clock = StepClock()
        self.advances_clock = True
        model = self.skills.model
        self.horizon = int(model.horizon)
        box = self.inner_action_space
        self._half_range = ((box.high - box.low) / 2.0).astype(np.float32)
        d, a, z_dim = len(self.skills.exposed), int(box.shape[0]), int(model.z_dim)
        self.skill_action_dim = d
        self.action_space = gym.spaces.Box(-1.0, 1.0, (d + a,), dtype=np.float32)
        inner = env.observation_space
        assert isinstance(inner, gym.spaces.Box)  # checked by the skill wrapper
        # z and a_dec are shown clipped to +-OBS_LIMIT (finite bounds, as the env checkers ask)
        low = [inner.low, np.full(z_dim + a, -OBS_LIMIT), np.zeros(self.horizon)]
        high = [inner.high, np.full(z_dim + a, OBS_LIMIT), np.ones(self.horizon)]
        self.observation_space = gym.spaces.Box(
            np.concatenate(low).astype(np.float32), np.concatenate(high).astype(np.float32), dtype=np.float32
        )
        self._phase = 0
        self._z = np.zeros(z_dim, np.float32)
        self._obs: np.ndarray | None = None
        self._a_dec = np.zeros(a, np.float32)
        self._origin: torch.Tensor | None = None  # the current skill's first skill observation (1, O)

    @property
    def residual_weight(self) -> float:
        """``lambda`` now."""
        return self.schedule(self.clock.steps)

    def _decode(self, skill_obs: torch.Tensor, z: np.ndarray) -> np.ndarray:
        """The decoder's action (A,) at skill observation ``skill_obs`` (1, O) for skill ``z`` (z,), the
        current skill having begun at ``self._origin``."""
        action = self.skills.model.decode_step(skill_obs, torch.from_numpy(z)[None], self._origin)  # (1, A)
        return action[0].cpu().numpy()

    def _observe(self, obs: np.ndarray) -> np.ndarray:
        """The agent's observation (env obs, z, a_dec, phase one-hot); sets the step's z and a_dec."""
        self._obs = np.asarray(obs, dtype=np.float32)
        z = self.skills.latent(self._obs, np.zeros(self.skill_action_dim)) if self._phase == 0 else self._z
        skill_obs = self.skills._skill_obs(self._obs)
        if self._phase == 0:  # a new skill begins here (a relative-frame decoder acts on the change since)
            self._origin = skill_obs
        self._a_dec = self._decode(skill_obs, z)
        phase = np.zeros(self.horizon, np.float32)
        phase[self._phase] = 1.0
        shown = np.clip(np.concatenate([z, self._a_dec]), -OBS_LIMIT, OBS_LIMIT)
        return np.concatenate([self._obs, shown, phase]).astype(np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._phase = 0
        return self._observe(obs), info

    def step(self, action: np.ndarray) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        flat = np.clip(np.asarray(action, dtype=np.float32).reshape(-1), -1.0, 1.0)
        d = self.skill_action_dim
        if self._phase == 0:  # a new skill: the decoded action of this step changes with it
            self._z = self.skills.latent(self._obs, flat[:d])
            assert self._origin is not None  # _observe set it at this phase-0 observation
            self._a_dec = self._decode(self._origin, self._z)
        weight = self.residual_weight
        box = self.inner_action_space
        executed = np.clip(self._a_dec + weight * self._half_range * flat[d:], box.low, box.high)[None]
        executed = executed.astype(box.dtype)
        obs, reward, terminated, truncated, info = self.env.step(executed[0])
        if self.advances_clock:
            self.clock.steps += 1
        self._rewards[0] = float(reward)
        info = dict(info)
        info["primitive_steps"] = 1
        info["executed_actions"] = executed
        info["primitive_rewards"] = self._rewards[:1].copy()
        info["discount"] = self.gamma
        info["z"] = self._z.copy()
        info["decoded_action"] = self._a_dec.copy()
        info["residual_weight"] = weight
        self._phase = (self._phase + 1) % self.horizon
        return self._observe(obs), float(reward), bool(terminated), bool(truncated), info

    def macro_settings(self) -> dict[str, Any]:
        skills = self.skills.macro_settings()
        return {
            **{k: v for k, v in skills.items() if k not in ("chunk_steps", "gamma", "discount_within_chunk")},
            "wrapper": "skill-residual",
            "residual": dataclasses.asdict(self.schedule),
            **super().macro_settings(),
        }
