"""Behaviour-cloning warm start (the fair baseline for latent agents, and the same start for them).

A latent agent's decoder has seen the demonstrations, so a primitive agent may see them too: before RL,
its policy is fitted to the expert's (observation, action) pairs. A latent agent can be warm-started the
same way on (observation, encoded z) pairs: :func:`latent_demonstration_pairs`, and a skill agent on
(observation, agent action of the encoded skill) pairs: :func:`skill_demonstration_pairs`. Pairs made
elsewhere (e.g. goal-relabelled ones) are read from an ``.npz`` file: :func:`load_demonstrations`.

- PPO (``ActorCriticPolicy``): maximise the log-likelihood of the expert actions under the Gaussian
  policy (mean *and* log-std are fitted: maximum likelihood).
- SAC: the same for the actor's tanh-squashed Gaussian, on actions rescaled to [-1, 1].
- TD3: mean squared error of the deterministic actor (no likelihood); the target actor is synced.

The critics are left untouched (they have no targets to fit without rewards).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy

from absaction.data import load_dataset
from absaction.errors import AbsactionError, flag

if TYPE_CHECKING:  # annotations only: importing this module stays light
    from stable_baselines3.common.base_class import BaseAlgorithm

    from absaction.data import ActionDataset
    from absaction.wrappers import LatentActionWrapper, SkillWrapper

# SAC's tanh cannot reach +-1; expert actions on the bounds are pulled inside by this much.
_SQUASH_MARGIN = 1e-3


Demonstrations: TypeAlias = "ActionDataset | tuple[np.ndarray, np.ndarray]"
"""What behaviour cloning reads: a dataset with observations, or ``(observations, actions)`` arrays."""


@dataclasses.dataclass(frozen=True)
class BCResult:
    """What a warm start did."""

    n_samples: int
    """(observation, action) pairs used"""
    epochs: int
    losses: tuple[float, ...]
    """mean training loss of every epoch"""
    action_error_before: float
    """mean absolute difference (env units, per action dim) between the deterministic policy and the
    expert on the demonstrations, before cloning"""
    action_error_after: float
    """the same after cloning"""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def demonstration_pairs(dataset: Demonstrations) -> tuple[np.ndarray, np.ndarray]:
    """``(observations (N, obs_dim), actions (N, A))`` from an ``ActionDataset`` (its episodes'
    ``observations[:-1]`` and ``actions``) or from a tuple of two arrays."""
    if isinstance(dataset, tuple):
        obs, actions = (np.asarray(x, dtype=np.float32) for x in dataset)
    else:
        episodes = getattr(dataset, "episodes", None)
        if episodes is None:
            raise AbsactionError(
                f"cannot read demonstrations from {type(dataset).__name__}",
                "pass an absaction.data dataset or (observations, actions) arrays",
            )
        if any(ep.observations is None for ep in episodes):
            raise AbsactionError(
                "the dataset has no observations, so a policy cannot be cloned from it",
                "collect it with observations (absaction collect records them by default)",
            )
        source = f" of {dataset.path}" if getattr(dataset, "path", None) else ""
        for index, ep in enumerate(episodes):  # a NaN would reach torch's Normal as a tensor dump
            where = f"episode {index}{source}"
            _check_finite(np.asarray(ep.observations[: len(ep.actions)], np.float32), "observations", where)
            _check_finite(np.asarray(ep.actions, np.float32), "actions", where)
        obs = np.concatenate([np.asarray(ep.observations[: len(ep.actions)], np.float32) for ep in episodes])
        actions = np.concatenate([np.asarray(ep.actions, np.float32) for ep in episodes])
    if obs.ndim != 2 or actions.ndim != 2 or len(obs) != len(actions) or len(obs) == 0:
        raise AbsactionError(
            f"demonstrations must be (N, obs_dim) observations and (N, A) actions, got {obs.shape} and "
            f"{actions.shape}",
            "pass matching non-empty arrays",
        )
    _check_finite(obs, "observations")
    _check_finite(actions, "actions")
    return obs, actions


def _check_finite(values: np.ndarray, what: str, episode: str | None = None) -> None:
    """Refuse NaN or infinite demonstration ``what`` (observations or actions), naming the first bad
    step of ``episode`` (e.g. ``"episode 3 of data/reach2d"``), or the first bad row of bare arrays."""
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if not bad.any():
        return
    first = int(np.flatnonzero(bad)[0])
    if episode is None:
        raise AbsactionError(
            f"the demonstration pairs have NaN or infinite {what} (first in row {first})",
            "remove those rows from the arrays",
        )
    raise AbsactionError(
        f"{episode} has NaN or infinite {what} (first at step {first})",
        "remove that episode or re-collect the dataset",
    )


def latent_demonstration_pairs(
    dataset: ActionDataset, wrapper: LatentActionWrapper
) -> tuple[np.ndarray, np.ndarray]:
    """``(observations (N, obs_dim), agent actions (N, d))`` for a latent-action agent: at every point
    where the agent would decide (each episode's start, then every ``wrapper.chunk_steps`` steps, as
    long as a whole decoded chunk of demonstration follows), the observation and the latent action that
    encodes the next chunk (:meth:`absaction.wrappers.LatentActionWrapper.encode_actions`).

    The latent agent then starts from the demonstrated choices of z, like a BC-warm-started primitive
    agent starts from the demonstrated actions.
    """
    if getattr(wrapper, "plan_phase", False):
        raise AbsactionError(
            "behaviour cloning in latent space does not support plan_phase (mid-plan decisions have no "
            "demonstrated z)",
            f"drop {flag('plan_phase')} or {flag('bc', python='bc_dataset')}",
        )
    obs, actions = demonstration_pairs(dataset)
    episodes = getattr(dataset, "episodes", None)
    lengths = [len(actions)] if episodes is None else [len(ep.actions) for ep in episodes]
    window, stride = int(wrapper.decode_length), int(wrapper.chunk_steps)
    starts: list[int] = []
    offset = 0
    for length in lengths:
        starts.extend(offset + t for t in range(0, length - window + 1, stride))
        offset += length
    if not starts:
        raise AbsactionError(
            f"no demonstration episode is as long as one decoded chunk ({window} steps)",
            "collect longer episodes or use a model with a shorter chunk",
        )
    index = np.asarray(starts)
    chunks = actions[index[:, None] + np.arange(window)[None, :]]  # (N, T, A)
    return obs[index], wrapper.encode_actions(chunks)


def skill_demonstration_pairs(dataset: ActionDataset, wrapper: SkillWrapper) -> tuple[np.ndarray, np.ndarray]:
    """``(observations (N, obs_dim), agent actions (N, d))`` for a skill agent: at every point where it
    would decide (each episode's start, then every ``wrapper.chunk_steps`` steps, while a whole window of
    the model's horizon H follows), the observation and the agent action whose skill is the posterior
    mean of the demonstrated window (``model.encode_windows``), mapped back through the wrapper's mapping:

    - ``prior="none"``: ``a = z / z_bound``;
    - ``prior="reparam"``: ``a = (z - mu(s)) / (sigma(s) z_bound)`` (the prior at the window's start);
    - ``prior="kl"``: ``a = tanh(z)``;

    on the latents the agent controls (``wrapper.exposed``), clipped to [-1, 1].
    """
    episodes = getattr(dataset, "episodes", None)
    if episodes is None:
        raise AbsactionError(
            "behaviour cloning in skill space needs whole demonstrated episodes (windows of H steps), "
            "not (observation, action) pairs",
            "pass a dataset folder written by `absaction collect` as the BC data",
        )
    obs, actions = demonstration_pairs(dataset)
    model = wrapper.model
    window, stride = int(model.horizon), int(wrapper.chunk_steps)
    starts: list[int] = []
    offset = 0
    for ep in episodes:
        starts.extend(offset + t for t in range(0, len(ep.actions) - window + 1, stride))
        offset += len(ep.actions)
    if not starts:
        raise AbsactionError(
            f"no demonstration episode is as long as one skill ({window} steps)",
            "collect longer episodes or use a skill model with a shorter horizon",
        )
    index = np.asarray(starts)
    steps = index[:, None] + np.arange(window)[None, :]  # (N, H)
    skill_obs = model.skill_observation(obs[steps])  # (N, H, O)
    z, _ = model.encode_windows(skill_obs, actions[steps])  # (N, z)
    z_np = z.cpu().numpy()
    e = np.asarray(wrapper.exposed)
    if wrapper.prior_mode == "none":
        agent_actions = z_np[:, e] / wrapper.z_bound
    elif wrapper.prior_mode == "reparam":
        mean, sigma = (t.cpu().numpy() for t in model.prior(skill_obs[:, 0]))  # (N, z) each
        agent_actions = (z_np[:, e] - mean[:, e]) / (sigma[:, e] * wrapper.z_bound)
    else:  # "kl": z = atanh(a)
        agent_actions = np.tanh(z_np[:, e])
    return obs[index], np.clip(agent_actions, -1.0, 1.0).astype(np.float32)


def load_demonstrations(path: str | Path) -> Demonstrations:
    """The BC data at ``path``: an ``.npz`` file of ``observations`` (N, obs_dim) and ``actions`` (N, A)
    pairs (e.g. the goal-relabelled ones of the PointMaze benchmark's stage 1), else a dataset folder
    or Minari id (:func:`absaction.data.load_dataset`)."""
    if str(path).endswith(".npz"):
        try:
            with np.load(Path(path).expanduser()) as data:
                return np.asarray(data["observations"], np.float32), np.asarray(data["actions"], np.float32)
        except (OSError, KeyError, ValueError) as err:
            raise AbsactionError(
                f"cannot read demonstration pairs from {path} ({err})",
                "pass an .npz with 'observations' and 'actions' arrays, or a dataset folder",
            ) from None
    return load_dataset(path)


def _policy_of(agent: BaseAlgorithm) -> Any:
    return getattr(agent, "policy", agent)


def action_error(agent: BaseAlgorithm, obs: np.ndarray, actions: np.ndarray) -> float:
    """Mean absolute error (env units) of the deterministic policy's actions on ``obs``."""
    predicted, _ = _policy_of(agent).predict(obs, deterministic=True)
    return float(np.mean(np.abs(np.asarray(predicted, dtype=np.float64) - actions)))


def bc_pretrain(
    agent: BaseAlgorithm,
    dataset: Demonstrations,
    epochs: int = 20,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    seed: int = 0,
    obs_transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> BCResult:
    """Fit ``agent``'s policy to demonstrations before RL (in place).

    Args:
        agent: an SB3 PPO, SAC or TD3 model (or its policy) acting in PRIMITIVE actions.
        dataset: an ``absaction.data`` dataset with observations, or ``(observations, actions)`` arrays;
            actions in the env's units.
        epochs: passes over the demonstrations.
        batch_size: pairs per gradient step.
        learning_rate: Adam step size (a separate optimiser: the agent's own keeps its state).
        seed: seed of the shuffling.
        obs_transform: applied to observations first (e.g. a VecNormalize's ``normalize_obs``).
    """

    obs, actions = demonstration_pairs(dataset)
    if obs_transform is not None:
        obs = np.asarray(obs_transform(obs), dtype=np.float32)
    policy = _policy_of(agent)
    obs_shape, action_shape = policy.observation_space.shape, policy.action_space.shape
    if obs.shape[1:] != obs_shape or actions.shape[1:] != action_shape:
        raise AbsactionError(
            f"demonstrations have observations {obs.shape[1:]} and actions {actions.shape[1:]}, the agent "
            f"expects {obs_shape} and {action_shape}",
            "clone from a dataset collected in the same env with primitive actions",
        )
    if epochs < 1:
        raise AbsactionError(f"epochs must be >= 1, got {epochs}", "pass epochs >= 1")

    if isinstance(policy, ActorCriticPolicy):
        targets = policy.scale_action(actions) if policy.squash_output else actions
        params = list(policy.parameters())

        def loss_fn(o: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            _, log_prob, _ = policy.evaluate_actions(o, a)
            return -log_prob.mean()

    elif isinstance(policy, SACPolicy):
        actor = policy.actor
        targets = np.clip(policy.scale_action(actions), -1 + _SQUASH_MARGIN, 1 - _SQUASH_MARGIN)
        params = list(actor.parameters())

        def loss_fn(o: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            mean, log_std, extra = actor.get_action_dist_params(o)
            return -actor.action_dist.proba_distribution(mean, log_std, **extra).log_prob(a).mean()

    elif isinstance(policy, TD3Policy):
        td3_actor = policy.actor
        targets = np.clip(policy.scale_action(actions), -1.0, 1.0)
        params = list(td3_actor.parameters())

        def loss_fn(o: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.mse_loss(td3_actor(o), a)

    else:
        raise AbsactionError(
            f"behaviour cloning does not support {type(policy).__name__}", "use a PPO, SAC or TD3 agent"
        )

    error_before = action_error(policy, obs, actions)
    device = policy.device
    obs_t = torch.as_tensor(obs, device=device)
    targets_t = torch.as_tensor(np.asarray(targets, dtype=np.float32), device=device)
    optimiser = torch.optim.Adam(params, lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    policy.set_training_mode(True)
    for _ in range(epochs):
        order = torch.randperm(len(obs_t), generator=generator).to(device)
        total, batches = 0.0, 0
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            loss = loss_fn(obs_t[index], targets_t[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach())
            batches += 1
        losses.append(total / batches)
    policy.set_training_mode(False)
    if isinstance(policy, TD3Policy):
        policy.actor_target.load_state_dict(policy.actor.state_dict())
    return BCResult(
        n_samples=len(obs),
        epochs=epochs,
        losses=tuple(losses),
        action_error_before=error_before,
        action_error_after=action_error(policy, obs, actions),
    )
