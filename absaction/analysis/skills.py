"""Judging a skill space before any RL: reconstruction, the prior's NLL, prior rollouts, traversals.

- :func:`reconstruction` decodes held-out windows from their posterior means, closed loop on the recorded
  states (the decoder is told where the demonstrator was), in action units.
- :func:`prior_nll` is the prior's negative log-likelihood of the posterior means, nats per window.
- :func:`prior_rollouts` runs the skill loop in the environment with no learning: every H steps
  z ~ p(z | s) is drawn at the current skill observation and the closed-loop decoder acts for H steps.
  SPiRL's maintainers recommend it over reconstruction or NLL for judging a skill space. It reports the
  success rate and where the episodes ended (coverage), and :func:`plot_prior_rollouts` draws the paths.
- :func:`skill_traversal` sweeps one latent from a state and rolls out H closed-loop steps per value
  (:func:`plot_skill_traversal`: the paper's Fig. 4, for skills).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import absaction.envs  # noqa: F401 - registers the absaction/ ids for rollouts
from absaction.data import load_dataset
from absaction.data.skill_windows import SkillWindows
from absaction.errors import AbsactionError
from absaction.files import atomic_dir, atomic_write_json
from absaction.models import load, read_config
from absaction.models.skill import SkillModel
from absaction.outputs import path_in_record
from absaction.train.runs import recorded_data
from absaction.train.skill_loop import SkillTrainConfig, skill_windows_for


def reconstruction(model: SkillModel, windows: SkillWindows) -> dict[str, float]:
    """Closed-loop (or open-loop) decoding of ``windows`` from their posterior means.

    Returns ``{"mse": mean squared action error, "rmse", "max_abs": largest error}``, action units.
    """
    mean, _ = model.encode_windows(windows.observations, windows.actions)
    decoded = model.decode_window(windows.observations, mean).cpu().numpy()  # (N, H, A)
    error = decoded - windows.actions
    mse = float(np.mean(error**2))
    return {"mse": mse, "rmse": math.sqrt(mse), "max_abs": float(np.abs(error).max())}


def prior_nll(model: SkillModel, windows: SkillWindows) -> float:
    """Mean NLL (nats) of every window's posterior mean under the prior at its first skill observation."""
    mean, _ = model.encode_windows(windows.observations, windows.actions)
    # with ladders, the lower prior at the posterior's own top ladder
    prior_mean, prior_sigma = model.prior(windows.observations[:, 0], mean[:, model.z_dim - model.top_dim :])
    nll = (
        0.5 * ((mean - prior_mean) / prior_sigma) ** 2 + torch.log(prior_sigma) + 0.5 * math.log(2 * math.pi)
    )
    return float(nll.sum(dim=1).mean())


def sample_prior(model: SkillModel, skill_obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One draw z (B, z_dim) from the prior at skill observations (B, O): the top ladder from
    ``p(z_top | s)``, then (ladder skills) the lower ladders from ``p(z_lower | s, z_top)`` at that draw."""
    mean, sigma = model.prior_top(skill_obs)
    z_top = mean + sigma * torch.randn(mean.shape, generator=generator)
    lower_mean, lower_sigma = model.prior_lower(skill_obs, z_top)
    if lower_mean.shape[-1] == 0:  # a flat model: the top is all of z
        return z_top
    z_lower = lower_mean + lower_sigma * torch.randn(lower_mean.shape, generator=generator)
    return torch.cat([z_lower, z_top], dim=-1)


def prior_rollouts(
    model: SkillModel,
    env_id: str | None = None,
    episodes: int = 20,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    env: gym.Env[Any, Any] | None = None,
) -> dict[str, Any]:
    """Run ``episodes`` episodes of the skill loop with z ~ p(z | s) re-drawn every H steps, no learning.

    Args:
        model: a closed-loop skill model.
        env_id: gymnasium id (default: the model's own env).
        episodes: episodes to run; episode i resets with seed ``seed + i``.
        seed: also seeds the z draws (a torch generator), so equal seeds give equal numbers.
        env_kwargs: ``gymnasium.make`` arguments.
        env: an env to run in instead of making one (left open; ``env_id``/``env_kwargs`` unused): an
            agent's task env, so that the rollouts see its evaluation episodes.

    Returns:
        ``{"success_rate", "successes" (list), "returns" (list), "lengths" (primitive steps, list),
        "final_positions" (E, 2 or O) list, "paths" (list of (T + 1, D) observation lists), "coverage":
        {"std": per-column std of the final skill observations, "cells": occupied cells of a 0.1-unit grid
        over the final positions}}``.
    """

    own_env = env is None
    if env is None:
        env_id = env_id or model.env_id
        if env_id is None:
            raise AbsactionError("the skill model does not record its environment", "pass env_id")
        env = gym.make(env_id, **(env_kwargs or {}))
    else:
        env_id = env.spec.id if env.spec is not None else env_id
    generator = torch.Generator().manual_seed(seed)
    successes, returns, finals, paths = [], [], [], []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        path, total, done, step = [np.asarray(obs, np.float64)], 0.0, False, 0
        z = torch.zeros(1, model.z_dim)
        origin: torch.Tensor | None = None  # the current skill's first skill observation
        while not done:
            skill_obs = model.skill_observation(np.asarray(obs, np.float32)[None])  # (1, O)
            if step % model.horizon == 0:  # a new skill from the prior at the current state
                z = sample_prior(model, skill_obs, generator)
                origin = skill_obs
            action = model.decode_step(skill_obs, z, origin)[0].numpy()
            action = np.clip(action, env.action_space.low, env.action_space.high)  # type: ignore[attr-defined]
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            path.append(np.asarray(obs, np.float64))
            done, step = terminated or truncated, step + 1
        successes.append(bool(info.get("is_success", False)))
        returns.append(total)
        finals.append(model.skill_observation(np.asarray(obs, np.float32)).numpy().astype(float))
        paths.append(np.stack(path))
    if own_env:
        env.close()
    final = np.stack(finals)  # (E, O)
    cells = {tuple(np.floor(p[:2] / 0.1).astype(int).tolist()) for p in final}
    return {
        "env_id": env_id,
        "episodes": episodes,
        "seed": seed,
        "success_rate": float(np.mean(successes)),
        "successes": successes,
        "returns": returns,
        "lengths": [len(p) - 1 for p in paths],
        "final_positions": final.tolist(),
        "paths": [p.tolist() for p in paths],
        "coverage": {"std": final.std(axis=0).tolist(), "cells": len(cells)},
    }


def plot_prior_rollouts(result: dict[str, Any], path: str | Path) -> Path:
    """Draw the rollouts' paths (x, y: the first two observation columns) and end points over the map."""
    import matplotlib  # plotting only here

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    for episode in result["paths"]:
        xy = np.asarray(episode)[:, :2]
        ax.plot(xy[:, 0], xy[:, 1], lw=0.8, alpha=0.6)
        ax.plot(xy[0, 0], xy[0, 1], "k.", ms=4)
        ax.plot(xy[-1, 0], xy[-1, 1], "rx", ms=5)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"prior rollouts on {result['env_id']}: success {result['success_rate']:.0%}")
    path = Path(path)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def skill_traversal(
    model: SkillModel, skill_obs: np.ndarray, dim: int, values: np.ndarray, step_size: float = 0.1
) -> np.ndarray:
    """Closed-loop H-step rollouts from ``skill_obs`` (O,) with latent ``dim`` swept over ``values``
    (the others at the prior mean), on a point that moves by ``step_size * action`` (Reach2D's rule
    on the first two columns). Returns (V, H + 1, O) skill observations."""
    if not 0 <= dim < model.z_dim:
        raise AbsactionError(f"latent {dim} does not exist", f"pick 0..{model.z_dim - 1}")
    obs = np.repeat(np.asarray(skill_obs, np.float32)[None], len(values), axis=0)  # (V, O)
    mean, sigma = model.prior(obs)
    z = mean.clone()
    z[:, dim] = mean[:, dim] + torch.as_tensor(values, dtype=torch.float32) * sigma[:, dim]
    states = [obs.copy()]
    origin = obs.copy()
    for _ in range(model.horizon):
        action = np.clip(model.decode_step(obs, z, origin).numpy(), -1.0, 1.0)
        obs = obs.copy()
        obs[:, :2] += step_size * action[:, :2]
        states.append(obs.copy())
    return np.stack(states, axis=1)


def plot_skill_traversal(paths: np.ndarray, values: np.ndarray, path: str | Path) -> Path:
    """Draw :func:`skill_traversal`'s paths, coloured by the swept value."""
    import matplotlib  # plotting only here

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    colors = plt.get_cmap("viridis")(np.linspace(0, 1, len(values)))
    for xy, color, value in zip(paths, colors, values, strict=True):
        ax.plot(xy[:, 0], xy[:, 1], color=color, label=f"{value:+.1f} sigma")
    ax.set_aspect("equal")
    ax.legend(fontsize=6)
    path = Path(path)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def evaluate_skill_run(
    run_dir: str | Path, data: str | None, out: Path, force: bool = False, episodes: int = 20, seed: int = 0
) -> dict[str, Any]:
    """``absaction evaluate`` for a skill model: reconstruction and prior NLL of the run's validation
    episodes (all windows of ``data`` when given), prior rollouts; writes report.json,
    prior_rollouts.png and traversal.png into ``out`` atomically."""

    config = read_config(run_dir)
    model = load(run_dir)
    assert isinstance(model, SkillModel)
    train = SkillTrainConfig.from_dict(config["train"])
    windows = skill_windows_for(load_dataset(data or recorded_data(run_dir, config) or ""), train)
    if data is None:  # the run's held-out episodes
        _, windows = windows.split_by_episode(train.val_fraction, train.seed)
    # relative to the report folder, as every record's paths (absaction.outputs.path_in_record)
    model_record = {"run_dir": path_in_record(run_dir, out), "name": "skill", **model.skill_obs_layout}
    report: dict[str, Any] = {"model": model_record}
    if len(windows):
        report["reconstruction"] = reconstruction(model, windows)
        report["prior_nll"] = prior_nll(model, windows)
    report["kl_per_dim"] = model.kl_per_dim
    rollouts = (
        prior_rollouts(model, episodes=episodes, seed=seed) if model.config.decoder == "closed" else None
    )
    if rollouts is not None:
        report["prior_rollouts"] = {k: v for k, v in rollouts.items() if k != "paths"}
    with atomic_dir(out, force, "report folder", command="evaluate") as tmp:
        atomic_write_json(tmp / "report.json", report)
        if rollouts is not None:
            plot_prior_rollouts(rollouts, tmp / "prior_rollouts.png")
            start = np.asarray(rollouts["paths"][0][0], np.float32)
            values = np.linspace(-2.0, 2.0, 5)
            paths = skill_traversal(model, model.skill_observation(start).numpy(), 0, values)
            plot_skill_traversal(paths, values, tmp / "traversal.png")
    return report
