"""Judging a skill space before any RL: reconstruction, the prior's NLL, prior rollouts, traversals.

- :func:`reconstruction` decodes held-out windows from their posterior means, closed loop on the recorded
  states (the decoder is told where the demonstrator was), in action units.
- :func:`prior_nll` is the prior's negative log-likelihood of the posterior means, nats per window.
- :func:`prior_rollouts` runs the skill loop in the environment with no learning: every H steps
  z ~ p(z | s) is drawn at the current skill observation and the closed-loop decoder acts for H steps.
  SPiRL's maintainers recommend it over reconstruction or NLL for judging a skill space. It reports the
  success rate and where the episodes ended (coverage), and :func:`plot_prior_rollouts` draws the paths.
- :func:`skill_traversal` sweeps one latent from a state and rolls out H closed-loop steps per value
  (:func:`skill_traversal_figure`: the paper's Fig. 4, for skills, one panel per latent).

The figures are built on a bare matplotlib ``Figure`` with the Agg canvas (never pyplot), at a fixed
size, as the action VAEs' traversal figures are (:mod:`absaction.analysis.traversal`).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch

import absaction.envs  # noqa: F401 - registers the absaction/ ids for rollouts
from absaction.analysis.skill_report import PRIOR_ROLLOUTS_PNG, TRAVERSAL_PNG, write_skill_report
from absaction.analysis.traversal import MAX_COLUMNS, latent_names
from absaction.data import load_dataset
from absaction.data.skill_windows import SkillWindows
from absaction.envs.reach2d import REACH2D_GOAL_COLUMNS, env_step_size, is_reach2d
from absaction.errors import AbsactionError
from absaction.files import atomic_dir, atomic_write_bytes
from absaction.models import load, read_config
from absaction.models.activity import ACTIVE_KL_THRESHOLD
from absaction.models.skill import SkillModel
from absaction.outputs import path_in_record
from absaction.train.runs import recorded_data
from absaction.train.skill_loop import SkillTrainConfig, skill_windows_for

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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


#: Pixels per inch of the skill figures; their sizes below are in inches, so 100 dpi makes 7 in 700 px.
FIGURE_DPI = 100


def prior_rollouts_figure(
    result: dict[str, Any], axis_names: tuple[str, str] = ("x", "y"), horizon: int | None = None
) -> Figure:
    """The rollouts' paths over the first two observation columns (the point's position in the Reach2D
    worlds), a circle where each starts and a cross where it ends, the goals as stars when the world is
    Reach2D. The axes keep equal units but fill the figure (the data limits widen instead), so a tall,
    thin spread of paths is not squashed into a strip.

    Args:
        result: :func:`prior_rollouts`' dictionary (``paths`` needed).
        axis_names: names of the two drawn columns, for the axis labels.
        horizon: steps per skill, for the title (None: not shown).
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 6.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    cmap = colormaps["tab10"]
    paths = [np.asarray(episode, dtype=np.float64) for episode in result["paths"]]
    for i, episode in enumerate(paths):
        ax.plot(episode[:, 0], episode[:, 1], lw=1.0, alpha=0.7, color=cmap(i % 10))
    starts = np.array([episode[0, :2] for episode in paths])
    ends = np.array([episode[-1, :2] for episode in paths])
    successes = np.asarray(result.get("successes") or [False] * len(paths), dtype=bool)
    ax.scatter(starts[:, 0], starts[:, 1], marker="o", s=28, facecolors="white", edgecolors="black", zorder=3,
               label="start")  # fmt: skip
    ends_by_outcome = ((successes, "tab:green", "end (success)"), (~successes, "tab:red", "end (no success)"))
    for won, colour, label in ends_by_outcome:
        ax.scatter(ends[won, 0], ends[won, 1], marker="x", s=36, color=colour, zorder=3, label=label)
    if is_reach2d(result.get("env_id")) and paths and paths[0].shape[1] > max(REACH2D_GOAL_COLUMNS):
        goals = np.unique(np.concatenate([p[:, list(REACH2D_GOAL_COLUMNS)] for p in paths]).round(9), axis=0)
        ax.scatter(goals[:, 0], goals[:, 1], marker="*", s=160, color="gold", edgecolors="black", zorder=4,
                   label="goal")  # fmt: skip
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.grid(True, lw=0.3, alpha=0.5)
    ax.legend(loc="best", fontsize=8, framealpha=0.8)
    every = f", z ~ p(z | s) every {horizon} steps" if horizon else ", z ~ p(z | s)"
    ax.set_title(
        f"prior rollouts on {result.get('env_id')}: {len(paths)} episodes{every}\n"
        f"success rate {result.get('success_rate', 0.0):.0%}, no learning",
        fontsize=10,
    )
    return fig


def plot_prior_rollouts(
    result: dict[str, Any],
    path: str | Path,
    axis_names: tuple[str, str] = ("x", "y"),
    horizon: int | None = None,
) -> Path:
    """Write :func:`prior_rollouts_figure` to ``path`` (PNG, 700 x 600 px)."""
    return _save_png(prior_rollouts_figure(result, axis_names, horizon), path)


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


def skill_traversal_figure(
    model: SkillModel,
    skill_obs: np.ndarray,
    values: np.ndarray,
    step_size: float = 0.1,
    active_threshold: float = ACTIVE_KL_THRESHOLD,
) -> Figure:
    """One panel per latent of the skill model (the TCVLAE's traversal grid, for skills): the H-step
    paths of :func:`skill_traversal` from ``skill_obs`` with that latent swept over ``values`` (in prior
    standard deviations around the prior mean), coloured by the value, over the first two skill-observation
    columns. Panel titles name the latent (``L1.z0``: ladder 1, dimension 0) and its mean KL; a latent
    at or below ``active_threshold`` nats is marked inactive. Two rows of panels, more once a row holds
    :data:`MAX_COLUMNS`.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    values = np.asarray(values, dtype=np.float64).reshape(-1)
    names = latent_names(model.ladder_dims)
    kls = [kl for ladder in (model.kl_per_dim or []) for kl in ladder]
    # about two rows of panels (a square-ish grid, never a strip), at most MAX_COLUMNS a row
    n_cols = min(MAX_COLUMNS, max(1, -(-len(names) // 2)))
    n_rows = -(-len(names) // n_cols)
    fig = Figure(figsize=(max(7.0, 3.2 * n_cols + 1.2), 3.0 * n_rows + 1.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    cmap, norm = colormaps["coolwarm"], Normalize(vmin=float(values.min()), vmax=float(values.max()))
    columns = [*model.skill_obs_layout["names"], "", ""]
    start = np.asarray(skill_obs, dtype=np.float64)
    for index, ax in enumerate(axes.flat):
        if index >= len(names):
            ax.set_axis_off()
            continue
        paths = skill_traversal(model, skill_obs, index, values, step_size)[..., :2]  # (V, H + 1, 2)
        lines = LineCollection(list(paths), cmap=cmap, norm=norm, linewidths=1.4)
        lines.set_array(values)
        ax.add_collection(lines)
        ax.plot(*start[:2], marker="o", color="black", ms=5, label="start")
        ax.autoscale_view()
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(True, lw=0.3, alpha=0.5)
        ax.set_xlabel(columns[0] or "column 0", fontsize=8)
        ax.set_ylabel(columns[1] or "column 1", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(_few_ticks())
        ax.yaxis.set_major_locator(_few_ticks())
        if kls:
            state = "" if kls[index] > active_threshold else ", inactive"
            ax.set_title(f"{names[index]}: KL {kls[index]:.3g} nats{state}", fontsize=9)
        else:
            ax.set_title(names[index], fontsize=9)
    axes.flat[0].legend(loc="best", fontsize=7, frameon=False)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.9 if n_rows == 1 else 0.6)
    bar.set_label("traversed latent (prior std from the prior mean)")
    where = ", ".join(f"{name} = {value:.3g}" for name, value in zip(columns, start, strict=False) if name)
    fig.suptitle(
        f"skill traversals: one latent swept, the others at the prior mean; {model.horizon} closed-loop "
        f"steps from ({where})",
        fontsize=10,
    )
    return fig


def plot_skill_traversal(
    model: SkillModel,
    skill_obs: np.ndarray,
    values: np.ndarray,
    path: str | Path,
    step_size: float = 0.1,
    active_threshold: float = ACTIVE_KL_THRESHOLD,
) -> Path:
    """Write :func:`skill_traversal_figure` to ``path`` (PNG)."""
    return _save_png(skill_traversal_figure(model, skill_obs, values, step_size, active_threshold), path)


def _few_ticks() -> Any:
    """At most five ticks per axis: the narrow axis of an equal-aspect panel never crowds its labels."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=4)


def _save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG of its own size (no tight cropping), atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def evaluate_skill_run(
    run_dir: str | Path,
    data: str | None,
    out: Path,
    force: bool = False,
    episodes: int = 20,
    seed: int = 0,
    active_threshold: float = ACTIVE_KL_THRESHOLD,
    allow_incomplete: bool = False,
) -> dict[str, Any]:
    """``absaction evaluate`` for a skill model: reconstruction and prior NLL of the run's validation
    episodes (all windows of ``data`` when given), prior rollouts; writes report.json, report.md,
    prior_rollouts.png and traversal.png into ``out`` atomically. ``allow_incomplete``: also evaluate the
    last checkpoint of a run whose training has not finished (see :func:`absaction.models.load`)."""

    config = read_config(run_dir)
    model = load(run_dir, allow_incomplete=allow_incomplete)
    assert isinstance(model, SkillModel)
    train = SkillTrainConfig.from_dict(config["train"])
    dataset = load_dataset(data or recorded_data(run_dir, config) or "")
    windows = skill_windows_for(dataset, train)
    if data is None:  # the run's held-out episodes
        _, windows = windows.split_by_episode(train.val_fraction, train.seed)
    # relative to the report folder, as every record's paths (absaction.outputs.path_in_record)
    model_record = {
        "run_dir": path_in_record(run_dir, out),
        "name": "skill",
        "env_id": model.env_id,
        "horizon": model.horizon,
        "ladder_dims": list(model.ladder_dims),
        "encoder": model.config.encoder,
        "decoder": model.config.decoder,
        "frame": model.config.frame,
        **model.skill_obs_layout,
    }
    notes: list[str] = []
    report: dict[str, Any] = {
        "model": model_record,
        "data": {
            "path": path_in_record(dataset.path, out),
            "env_id": dataset.env_id,
            "windows": len(windows),
            "episodes": len(np.unique(windows.episodes)),
            "held_out": data is None,
        },
        "notes": notes,
    }
    if len(windows):
        report["reconstruction"] = reconstruction(model, windows)
        report["prior_nll"] = prior_nll(model, windows)
    else:
        notes.append("no windows to measure reconstruction and the prior's NLL on")
    report["kl_per_dim"] = model.kl_per_dim
    report["latents"] = latent_names(model.ladder_dims)
    report["active_threshold"] = active_threshold
    rollouts = None
    if model.config.decoder == "closed":
        rollouts = prior_rollouts(model, episodes=episodes, seed=seed)
        report["prior_rollouts"] = {k: v for k, v in rollouts.items() if k != "paths"}
    else:
        notes.append("an open-loop decoder: no prior rollouts or traversals (they need pi(a | s, z))")
    step_size = env_step_size(model.env_id)
    if rollouts is not None and step_size is None:
        notes.append(
            f"no traversal figure: {model.env_id} declares no step size, so a skill's path cannot be drawn "
            "without running the env"
        )
    files: dict[str, str] = {}
    with atomic_dir(out, force, "report folder", command="evaluate") as tmp:
        if rollouts is not None:
            names = model.skill_obs_layout["names"]
            axes = (names[0], names[1]) if len(names) >= 2 else ("column 0", "column 1")
            plot_prior_rollouts(rollouts, tmp / PRIOR_ROLLOUTS_PNG, axes, model.horizon)
            files["prior_rollouts"] = PRIOR_ROLLOUTS_PNG
            if step_size is not None:
                start = np.asarray(rollouts["paths"][0][0], np.float32)
                values = np.linspace(-2.0, 2.0, 5)
                plot_skill_traversal(
                    model, model.skill_observation(start).numpy(), values, tmp / TRAVERSAL_PNG, step_size,
                    active_threshold,
                )  # fmt: skip
                files["traversal"] = TRAVERSAL_PNG
        report["files"] = files
        write_skill_report(report, tmp)
    return report
