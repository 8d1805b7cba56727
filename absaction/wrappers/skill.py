"""SkillWrapper: an agent chooses a skill z every H steps; the closed-loop skill decoder acts in between.

One decision: the agent's action ``a`` -> a skill latent ``z`` at the current state -> for up to ``H``
primitive steps, ``pi(a_t | s_t, z)`` of the skill model on the *current* skill observation (closed loop),
clipped to the env's bounds -> one macro reward (see
:class:`~absaction.wrappers.macro.MacroActionWrapper`: ``sum_i gamma**i r_i``, the agent's discount is
``gamma**H``, and the same ``info`` entries).

How ``a`` becomes ``z`` (``prior``):

- ``"none"``: ``z = z_bound * a`` (``a`` in [-1, 1]), as the latent-chunk wrapper does;
- ``"reparam"``: Gaussian noise ``n = z_bound * a`` is mapped through the prior,
  ``z = mu(s) + sigma(s) * n``: ``a = 0`` is the prior mean, and any SB3 algorithm explores where the
  demonstrations went without a change to its loss (ReSkill's reparameterisation);
- ``"kl"``: ``z = atanh(a)`` (``|a|`` clipped to ``1 - 1e-6``, so ``|z| <= 7.25``). SAC squashes its
  Gaussian ``u`` with ``tanh``, so this makes the agent's pre-squash Gaussian *the* distribution of ``z``
  and ``KL(pi(z | s) || p(z | s))`` exact in closed form (:class:`absaction.agents.prior_sac.PriorSAC`).

``ladders="top"``: the agent controls only the abstract part of ``z``. With a ladder skill model
(``len(model.ladder_dims) > 1``, ladders concatenated ladder 1 first, ladder 1 nearest the actions, as the
TCVLAE) the top part is the last ladder, chosen through the top prior p(z_top | s), and the concrete
ladders are filled with the conditional prior's mean E[z_lower | s, z_top] (``model.complete_z``). A model
with one latent group has no ladders, so the agent then controls its first ``top_dims`` dimensions and the
rest is the prior mean.

The decoder runs as the model's NumPy :meth:`~absaction.models.skill.SkillModel.step_decoder` (the
normalisations folded into its layers), several times faster per primitive step than a torch call.

Example (an untrained model here; pass a run folder of ``absaction train --model skill`` in practice)::

    >>> from absaction.models.skill import SkillConfig, SkillModel
    >>> fields = ["x", "y", "goal_x", "goal_y", "time", "progress"]
    >>> model = SkillModel(SkillConfig(action_dim=2, seq_len=10, obs_dim=2, ladder_dims=[8],
    ...                                skill_obs=["x", "y"], skill_indices=[0, 1], obs_fields=fields))
    >>> env = SkillWrapper(gym.make("absaction/Reach2DNewGoals-v0"), model, prior="reparam")
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(np.zeros(8, np.float32))  # the prior mean
    >>> info["primitive_steps"], info["executed_actions"].shape, info["z"].shape
    (10, (10, 2), (8,))
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import torch

from absaction.data.skill_windows import box_layout
from absaction.errors import AbsactionError
from absaction.wrappers.latent import _check_model_matches_env, load_action_model
from absaction.wrappers.macro import MacroActionWrapper, require_box

PRIOR_MODES: tuple[str, ...] = ("none", "reparam", "kl")
LADDER_MODES: tuple[str, ...] = ("all", "top")
KL_ACTION_LIMIT = 1.0 - 1e-6
"""``prior="kl"``: agent actions are clipped to this magnitude before ``atanh`` (float32 keeps 1 - 1e-6)."""


def load_skill_model(model_or_run_dir: Any, what: str = "skill actions") -> Any:
    """A closed-loop skill model (``absaction.models.skill.SkillModel``), loaded from a run folder if given
    one; a latent-chunk model or an open-loop skill is refused with one line."""
    model = (
        load_action_model(model_or_run_dir)
        if isinstance(model_or_run_dir, (str, os.PathLike))
        else model_or_run_dir
    )
    name = getattr(model, "name", type(model).__name__)
    if not all(hasattr(model, attr) for attr in ("prior", "decode_step", "step_decoder", "horizon", "z_dim")):
        raise AbsactionError(
            f"{what} need a skill model with a prior p(z | s) and a per-step decoder, got a {name} model "
            "(latent chunks)",
            "train one with `absaction train --model skill` (or use --actions latent for this model)",
        )
    if getattr(getattr(model, "config", None), "decoder", "closed") != "closed":
        raise AbsactionError(
            f"{what} need a closed-loop skill decoder, the model decodes open loop",
            "train the skill model with its default decoder (--model-option decoder=closed)",
        )
    if hasattr(model, "eval"):
        model.eval()
    return model


def check_skill_layout(model: Any, env: gym.Env[Any, Any]) -> None:
    """Refuse an env whose flat observation is not the one the skill model was trained on (size or
    column names), in one line."""
    space = env.observation_space
    env_name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise AbsactionError(
            f"skill actions need a flat Box observation, {env_name} has {space}",
            "flatten Dict observations (env kwarg flatten=True or gymnasium.wrappers.FlattenObservation)",
        )
    layout = model.skill_obs_layout
    fields, indices = list(layout["obs_fields"]), list(layout["indices"])
    size = int(space.shape[0])
    trained = f"{len(fields)} columns ({', '.join(fields)})" if fields else f"columns {indices}"
    fix = "train the skill model on data from this env's world, or use the env it was trained on"
    if (fields and len(fields) != size) or max(indices) >= size:
        raise AbsactionError(
            f"{env_name} observes {size} columns, the skill model's observation layout has {trained}", fix
        )
    names = list(box_layout(size, env.spec.id if env.spec is not None else None).names)
    generic = [f"obs_{i}" for i in range(size)]
    if fields and names != generic and fields != generic and names != fields:
        raise AbsactionError(
            f"{env_name} observes ({', '.join(names)}), the skill model was trained on ({', '.join(fields)})",
            fix,
        )


def exposed_dims(model: Any, ladders: str, top_dims: int | None) -> np.ndarray:
    """0-based indices of the latents the agent controls (see the module: ``ladders="top"``)."""
    if ladders not in LADDER_MODES:
        raise AbsactionError(f"unknown ladders mode {ladders!r}", f"choose {' | '.join(LADDER_MODES)}")
    z_dim = int(model.z_dim)
    if ladders == "all":
        if top_dims is not None:
            raise AbsactionError(
                "top_dims only applies to ladders='top'", "drop top_dims or pass ladders='top'"
            )
        return np.arange(z_dim)
    groups = [int(d) for d in getattr(model, "ladder_dims", [z_dim])]
    if len(groups) > 1 and top_dims is None:
        return np.arange(z_dim - groups[-1], z_dim)  # the last ladder: the most abstract
    if top_dims is None:
        raise AbsactionError(
            f"the skill model has one latent group of {z_dim} dims, so 'top' needs a size",
            f"pass top_dims=K (CLI: --top-dims K) with 1 <= K < {z_dim}",
        )
    if not 1 <= int(top_dims) < z_dim:
        raise AbsactionError(f"top_dims must be in 1..{z_dim - 1}, got {top_dims}", "pass a smaller K")
    return np.arange(int(top_dims))


class SkillWrapper(MacroActionWrapper, gym.utils.RecordConstructorArgs):
    """Expose a skill model's latent space as the action space of an env (see the module).

    Args:
        env: inner env: a flat Box observation with the skill model's layout, the model's Box actions.
        model_or_run_dir: a trained closed-loop skill model or its run folder (``absaction train --model
            skill --out``).
        prior: how an action becomes z: ``"none"`` | ``"reparam"`` | ``"kl"`` (module docstring).
        ladders: ``"all"`` latents, or only the ``"top"`` ones (the rest from the prior mean).
        top_dims: with ``ladders="top"`` on a one-group model, how many leading latents the agent controls.
        z_bound: ``"none"``: action 1 = latent ``z_bound``; ``"reparam"``: action 1 = ``z_bound`` prior
            standard deviations. Unused with ``"kl"``.
        steps: primitive steps per decision (default: the model's horizon H; fewer re-decide sooner).
        gamma: discount per primitive step inside a skill; the agent's own should be ``gamma**steps``.
        discount_within_chunk: discounted (default) or plain sum of the primitive rewards.

    ``info`` as :class:`MacroActionWrapper`'s plus ``z`` (float32 ``(z_dim,)``): the skill executed.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        model_or_run_dir: Any,
        *,
        prior: str = "none",
        ladders: str = "all",
        top_dims: int | None = None,
        z_bound: float = 2.0,
        steps: int | None = None,
        gamma: float = 0.99,
        discount_within_chunk: bool = True,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            model_or_run_dir=model_or_run_dir,
            prior=prior,
            ladders=ladders,
            top_dims=top_dims,
            z_bound=z_bound,
            steps=steps,
            gamma=gamma,
            discount_within_chunk=discount_within_chunk,
        )
        if prior not in PRIOR_MODES:
            raise AbsactionError(f"unknown prior mode {prior!r}", f"choose {' | '.join(PRIOR_MODES)}")
        if not z_bound > 0:
            raise AbsactionError(f"z_bound must be > 0, got {z_bound}", "pass a positive bound such as 2.0")
        self.model_run_dir: Path | None = (
            Path(model_or_run_dir).expanduser().resolve()
            if isinstance(model_or_run_dir, (str, os.PathLike))
            else None
        )
        model = load_skill_model(model_or_run_dir)
        box = require_box(env, type(self).__name__)
        _check_model_matches_env(model, box, env)
        check_skill_layout(model, env)
        horizon = int(model.horizon)
        steps = horizon if steps is None else int(steps)
        if not 1 <= steps <= horizon:
            raise AbsactionError(
                f"steps per skill must be in 1..{horizon} (the model's horizon), got {steps}",
                f"pass --chunk K with K <= {horizon}, or leave it unset",
            )
        MacroActionWrapper.__init__(self, env, steps, gamma, discount_within_chunk)
        self.model = model
        self.prior_mode = prior
        self.ladders = ladders
        self.top_dims = None if top_dims is None else int(top_dims)
        self.z_bound = float(z_bound)
        self.exposed = exposed_dims(model, ladders, self.top_dims)  # (d,)
        # a ladder model's top ladder: the rest comes from the conditional prior (see the module)
        self.ladder_top = ladders == "top" and len(getattr(model, "ladder_dims", [])) > 1
        self._step = model.step_decoder(full_observation=True)  # NumPy pi(a | s, z) on the env's observation
        self.action_space = gym.spaces.Box(-1.0, 1.0, (len(self.exposed),), dtype=np.float32)
        self._obs: np.ndarray | None = None
        self.decode_seconds = 0.0
        self.decode_calls = 0

    # -- the mapping a -> z -------------------------------------------------------------------------
    def _skill_obs(self, obs: np.ndarray) -> torch.Tensor:
        return self.model.skill_observation(np.asarray(obs, dtype=np.float32)[None])  # (1, O)

    def latent(self, obs: np.ndarray, action: np.ndarray) -> np.ndarray:
        """The skill ``z`` (float32 ``(z_dim,)``) that agent action ``action`` chooses at ``obs``."""
        flat = np.asarray(action, dtype=np.float32).reshape(-1)
        if flat.shape[0] != len(self.exposed):
            raise ValueError(
                f"expected an action of {len(self.exposed)} values, got shape {np.shape(action)}"
            )
        if (
            self.ladder_top
        ):  # choose z_top through the top prior, the concrete ladders from p(z_lower | s, z_top)
            s = self._skill_obs(obs)
            top_mean_t, top_sigma_t = self.model.prior_top(s)
            top_mean, top_sigma = top_mean_t[0].cpu().numpy(), top_sigma_t[0].cpu().numpy()
            z_top = self._choose(flat, top_mean, top_sigma)
            return self.model.complete_z(s, torch.from_numpy(z_top)[None])[0].cpu().numpy().astype(np.float32)
        needs_prior = self.prior_mode == "reparam" or len(self.exposed) < int(self.model.z_dim)
        if needs_prior:
            mean_t, sigma_t = self.model.prior(self._skill_obs(obs))
            mean, sigma = mean_t[0].cpu().numpy(), sigma_t[0].cpu().numpy()
        else:
            mean = sigma = np.zeros(int(self.model.z_dim), np.float32)
        z = mean.astype(np.float32).copy()
        z[self.exposed] = self._choose(flat, mean[self.exposed], sigma[self.exposed])
        return z

    def _choose(self, flat: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """The exposed latents for agent action ``flat`` (d,), given their prior ``mean``/``sigma`` (d,)."""
        if self.prior_mode == "none":
            return (self.z_bound * np.clip(flat, -1.0, 1.0)).astype(np.float32)
        if self.prior_mode == "reparam":
            return (mean + sigma * self.z_bound * np.clip(flat, -1.0, 1.0)).astype(np.float32)
        return np.arctanh(np.clip(flat, -KL_ACTION_LIMIT, KL_ACTION_LIMIT)).astype(np.float32)

    def action_prior(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The prior of the exposed latents in the agent's pre-squash space, ``(mean, std)`` each (B, d),
        at full observations (B, D): with ``prior="kl"`` that space *is* z (``z = atanh(a) = u``)."""
        if self.prior_mode != "kl":
            raise AbsactionError(
                "the prior in action space is defined for prior='kl' only",
                "build the wrapper with prior='kl'",
            )
        mean, sigma = self.model.prior(self.model.skill_observation(observations))
        index = torch.as_tensor(self.exposed, device=mean.device)
        return mean[:, index], sigma[:, index]

    # -- gymnasium API ----------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = np.asarray(obs)
        return obs, info

    def step(self, action: np.ndarray) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        started = time.perf_counter()
        z = self.latent(self._obs, action)
        box = self.inner_action_space
        executed = np.zeros((self.chunk_steps, box.shape[0]), dtype=box.dtype)  # (k, A)
        obs: Any = self._obs
        info: dict[str, Any] = {}
        terminated = truncated = False
        n = 0
        origin = np.asarray(obs, dtype=np.float32).reshape(-1)  # where the skill begins (relative frame)
        decode_time = time.perf_counter() - started
        for n in range(1, self.chunk_steps + 1):  # n is used after the loop
            tick = time.perf_counter()
            decoded = self._step(np.asarray(obs, dtype=np.float32).reshape(-1), z, origin)  # (A,)
            np.clip(decoded, box.low, box.high, out=executed[n - 1])
            decode_time += time.perf_counter() - tick
            obs, reward, terminated, truncated, info = self.env.step(executed[n - 1])
            self._rewards[n - 1] = float(reward)
            if terminated or truncated:
                break
        self._obs = np.asarray(obs)
        self.decode_seconds += decode_time
        self.decode_calls += 1
        info = dict(info)  # never mutate the inner env's dict
        info["primitive_steps"] = n
        info["executed_actions"] = executed[:n].copy()
        info["primitive_rewards"] = self._rewards[:n].copy()
        info["discount"] = self.gamma**n
        info["z"] = z
        return obs, self.chunk_return(self._rewards[:n]), bool(terminated), bool(truncated), info

    def preview_chunk(self, action: np.ndarray) -> np.ndarray:
        raise AbsactionError(
            "a closed-loop skill's actions depend on the states it visits, so they cannot be previewed",
            "plan with latent chunks (LatentActionWrapper) or simulate the env",
        )

    @property
    def decode_overhead_ms(self) -> float:
        """Mean milliseconds per decision spent on the prior and the per-step decoder (NaN before any)."""
        return 1e3 * self.decode_seconds / self.decode_calls if self.decode_calls else float("nan")

    def macro_settings(self) -> dict[str, Any]:
        return {
            "wrapper": "skill",
            "model": None if self.model_run_dir is None else str(self.model_run_dir),
            "prior": self.prior_mode,
            "ladders": self.ladders,
            "exposed": [int(i) for i in self.exposed],
            "z_bound": self.z_bound,
            **super().macro_settings(),
        }
