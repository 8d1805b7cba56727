"""The skill models' kind on the training engine (``absaction train --model skill``): windows of (s, a) in,
a resumable run out.

The loss of a batch of windows is :func:`absaction.models.skill.skill_loss`: the closed-loop (or open-loop)
decoder's reconstruction, the KL of the posterior to N(0, I) shaped by a capacity schedule
(:mod:`absaction.models.capacity`, the ``--capacity`` specs of the action VAEs; ``none`` by default, the
skill-prior papers' plain beta) and the learned prior's KL to the (stopped) posterior. The engine
(:mod:`absaction.train.engine`) does the rest, as for every kind: the run folder has the same files as an
action VAE's (``model.safetensors``, ``config.json``, ``metrics.csv``, ``resume.safetensors``) and
``--resume`` continues a killed run bit-identically.

The defaults train on 200k transitions of play data (6250 episodes, H = 10, stride 2) in under two
minutes on two CPU cores (one torch thread): an MLP posterior, batches of 1024, 40 epochs (about 2800
optimiser steps); ``benchmarks/bench_skills.py`` measures this against the first defaults (GRU, stride 1,
batches of 256) on held-out windows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from absaction.data import Normalizer, load_dataset
from absaction.data.skill_windows import SkillWindows, dataset_skill_windows
from absaction.data.windows import check_split, decisions_per_episode
from absaction.errors import flag
from absaction.files import check_new_output
from absaction.models import io as model_io
from absaction.models.capacity import make_capacity
from absaction.models.registry import build_model
from absaction.models.skill import SkillModel, kl_gaussians, skill_loss
from absaction.outputs import path_in_record
from absaction.train.config import SkillTrainConfig
from absaction.train.engine import (
    EpochCallback,
    FitResult,
    LossTerms,
    resume_config,
    resume_or_force,
    train,
)
from absaction.train.model_kind import ActionModelKind


def skill_windows_for(dataset: Any, config: SkillTrainConfig) -> SkillWindows:
    """The run's windows of ``dataset`` (the default skill observation is Reach2D's position)."""
    skill_obs: list[str | int] | None = list(config.skill_obs) if config.skill_obs is not None else None
    if skill_obs is None and (dataset.env_id or "").startswith("absaction/"):
        skill_obs = ["x", "y"]
    return dataset_skill_windows(dataset, config.horizon, config.stride, skill_obs)


def fit_skills(
    data: str | os.PathLike[str],
    config: SkillTrainConfig,
    run_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = False,
    epoch_callback: EpochCallback | None = None,
) -> FitResult[SkillModel]:
    """Train a skill model on the dataset ``data`` (a folder or Minari id) and write ``run_dir``.

    Args:
        data: dataset written by ``absaction collect`` (observations are needed).
        config: the run's configuration.
        run_dir: the run folder; created (``force`` replaces one this command wrote), or continued with
            ``resume`` (then ``config`` may differ only in :data:`~absaction.train.config.RUN_CONTROL_KEYS`).
        progress: show a tqdm progress bar over the epochs on stderr.
        epoch_callback: called after every epoch with ``(epoch, metric_row)`` (tests interrupt runs with it).
    """
    config.validate()
    if not resume:  # before loading the data; never an output that replaces or lies inside it
        check_new_output(run_dir, force, "run folder", command="train", inputs=[data],
                         exists_fix=resume_or_force(run_dir))  # fmt: skip
    dataset = load_dataset(data)
    windows = skill_windows_for(dataset, config)
    train_windows, val_windows = windows.split_by_episode(config.val_fraction, config.seed)
    lengths = dataset.episode_lengths()
    check_split(
        len(train_windows), len(val_windows), config.val_fraction,
        f"pass a shorter {flag('horizon')} (the episodes hold {lengths.min()} to {lengths.max()} steps, "
        f"{len(np.unique(windows.episodes))} of {len(lengths)} of them at least {config.horizon}) or "
        "collect more episodes",
    )  # fmt: skip
    info = {
        # relative to the run folder (absaction.outputs.path_in_record): found from any working folder
        "path": path_in_record(dataset.path, run_dir),
        "n_train": len(train_windows),
        "n_val": len(val_windows),
        "horizon": config.horizon,
        "stride": config.stride,
        "skill_obs": list(windows.skill_obs),
        "episodes": len(lengths),
        "mean_episode_steps": float(lengths.mean()),
        # an agent choosing a skill every H steps (absaction.wrappers.SkillWrapper)
        "decisions_per_episode": decisions_per_episode(lengths, config.horizon),
    }
    space = dataset.action_space
    kind = SkillKind(
        config, train_windows, val_windows, info, env_id=dataset.env_id,
        action_low=np.asarray(space.low, np.float32), action_high=np.asarray(space.high, np.float32),
    )  # fmt: skip
    return train(kind, run_dir, force=force, resume=resume, progress=progress, epoch_callback=epoch_callback)


def resume_skills(
    run_dir: str | os.PathLike[str],
    overrides: dict[str, Any] | None = None,
    data: str | os.PathLike[str] | None = None,
    *,
    progress: bool = False,
    epoch_callback: EpochCallback | None = None,
) -> FitResult[SkillModel]:
    """Continue the skill run in ``run_dir`` (``overrides``: flags given again, e.g. a larger ``epochs``;
    ``data``: the dataset, if given again)."""
    saved = model_io.read_config(Path(run_dir))
    config, dataset = resume_config(run_dir, saved, SkillTrainConfig, overrides, data)
    return fit_skills(dataset, config, run_dir, resume=True, progress=progress, epoch_callback=epoch_callback)


class SkillKind(ActionModelKind):
    """Skill models with a prior as a :class:`~absaction.train.engine.ModelKind`: windows of H steps of
    (skill observation, action) in; a posterior, a decoder pi(a | s, z) and a prior p(z | s) out."""

    skill = True

    def __init__(
        self,
        config: SkillTrainConfig,
        train_windows: SkillWindows,
        val_windows: SkillWindows,
        info: dict[str, Any],
        *,
        env_id: str | None,
        action_low: np.ndarray,
        action_high: np.ndarray,
    ) -> None:
        self.config = config
        self.train_windows, self.val_windows = train_windows, val_windows
        self.info = info
        self.env = {"env_id": env_id, "action_low": action_low, "action_high": action_high}

    def data_arrays(self) -> Sequence[np.ndarray | None]:
        train, val = self.train_windows, self.val_windows
        return [train.observations, train.actions, val.observations, val.actions]

    def data_info(self) -> dict[str, Any]:
        return self.info

    @property
    def n_train(self) -> int:
        return len(self.train_windows)

    def build(self, device: torch.device) -> SkillModel:
        config, train = self.config, self.train_windows
        model = build_model(
            "skill",
            action_dim=train.actions.shape[2],
            seq_len=config.horizon,
            options={
                "ladder_dims": config.latent_dims,
                "obs_dim": train.observations.shape[2],
                "skill_obs": list(train.skill_obs),
                "skill_indices": list(train.skill_indices),
                "obs_fields": list(train.layout.names),
                "encoder": config.encoder,
                "decoder": config.decoder,
                "frame": config.frame,
                "hidden_size": config.hidden_size,
                "channels": config.channels,
                "layers_per_ladder": config.layers_per_ladder,
            },
            normalizer=Normalizer.fit(train.actions),
            **self.env,
        )
        assert isinstance(model, SkillModel)
        model.set_obs_normalizer(train.observations.mean(axis=(0, 1)), train.observations.std(axis=(0, 1)))
        self.model: SkillModel = model.to(device)
        self.capacity = make_capacity(config.capacity, len(model.ladder_dims))
        self.obs, self.act = _normalized(model, train, device)  # (N, H, O), (N, H, A)
        self.val = _normalized(model, self.val_windows, device) if len(self.val_windows) else None
        return model

    def columns(self) -> list[str]:
        ladders = range(1, len(self.model.ladder_dims) + 1)
        return [
            "epoch", "loss", "recon", "kl", "prior_kl", "c_total",
            *(name for ladder in ladders for name in (f"kl_l{ladder}", f"c_l{ladder}")),
            *(f"kl_d{d}" for d in range(self.model.z_dim)),
            "val_recon", "val_rmse", "val_prior_nll", "seconds",
        ]  # fmt: skip

    def loss(self, index: Tensor, generator: torch.Generator) -> LossTerms:
        config = self.config
        terms = skill_loss(
            self.model, self.obs[index], self.act[index], config.beta, config.sigma, config.prior_weight,
            generator, self.capacity,
        )  # fmt: skip
        logged = {
            "loss": terms.loss,
            "recon": terms.recon,
            "prior_kl": terms.prior_kl,
            "kl_dims": terms.kl_dims,
        }
        return LossTerms(terms.loss, logged, len(index))

    def end_epoch(self, sums: dict[str, Tensor], n: int) -> dict[str, Any]:
        kl_means = sums["kl_dims"] / n  # (z,)
        kl_dims = kl_means.tolist()
        kl_ladders = [float(part.sum()) for part in kl_means.split(self.model.ladder_dims)]
        row: dict[str, Any] = {
            "loss": (sums["loss"] / n).item(),
            "recon": (sums["recon"] / n).item(),
            "kl": sum(kl_dims),
            "prior_kl": (sums["prior_kl"] / n).item(),
        }
        self.capacity_columns(row, kl_ladders)
        row.update({f"kl_d{d}": value for d, value in enumerate(kl_dims)})
        return row

    def evaluate(self) -> dict[str, Any]:
        return _validate(self.model, self.val, self.config.sigma)

    def kl_per_dim(self) -> list[list[float]]:
        return _kl_per_dim(self.model, self.obs, self.act)

    @staticmethod
    def summary(result: FitResult[SkillModel]) -> tuple[str, list[tuple[str, str]]]:
        """The title and ``(label, value)`` rows of a finished run's summary table: the loss terms of the
        last epoch (training and validation), the validation error in env units, the data it saw and
        what an agent gets from it."""
        saved = model_io.read_config(result.run_dir)
        train, data = saved.get("train", {}), saved.get("data", {})
        last = result.metrics[-1] if result.metrics else {}
        dims = list(result.model.ladder_dims)
        horizon = data.get("horizon", train.get("horizon"))
        rows = [
            ("run folder", str(result.run_dir)),
            ("epochs", str(last.get("epoch", 0))),
            ("windows", f"{data.get('n_train', 0)} trained, {data.get('n_val', 0)} held out "
                        f"(stride {data.get('stride', train.get('stride'))})"),
            ("horizon H", f"{horizon} steps"),
            ("latent size", f"{sum(dims)}" + (f" (ladders {dims})" if len(dims) > 1 else "")
                            + f", {train.get('encoder')} encoder, {train.get('decoder')}-loop decoder"),
            ("train recon / KL / prior KL (nats)",
             f"{_number(last.get('recon'))} / {_number(last.get('kl'))} / {_number(last.get('prior_kl'))}"),
        ]  # fmt: skip
        if last.get("val_recon") is not None:
            rows.append((
                "val recon / prior NLL (nats)",
                f"{_number(last.get('val_recon'))} / {_number(last.get('val_prior_nll'))}",
            ))  # fmt: skip
        if last.get("val_rmse") is not None:
            rows.append(("val RMSE (env units)", f"{last['val_rmse']:.4g}"))
        decisions = data.get("decisions_per_episode")
        if decisions is not None:
            rows.append((
                "skill decisions per episode",
                f"{decisions:.3g} (episodes of {data.get('mean_episode_steps', 0):.3g} steps on average, "
                f"a skill every {horizon} steps)",
            ))  # fmt: skip
        rows.append(("training time", f"{result.seconds:.1f} s"))
        return "trained skill model", rows


def _normalized(model: SkillModel, windows: SkillWindows, device: torch.device) -> tuple[Tensor, Tensor]:
    """Normalised windows on ``device``: skill observations (N, H, O) and actions (N, H, A)."""
    with torch.no_grad():
        obs = model.normalize_obs(windows.observations).to(device)  # (N, H, O)
    act = torch.from_numpy(model.normalizer.transform(windows.actions)).float().to(device)  # (N, H, A)
    return obs, act


@torch.no_grad()
def _validate(model: SkillModel, val: tuple[Tensor, Tensor] | None, sigma: float) -> dict[str, Any]:
    """Reconstruction (posterior mean, closed loop on the recorded states) and the prior's NLL of it."""
    if val is None:
        return {"val_recon": None, "val_rmse": None, "val_prior_nll": None}
    model.eval()
    obs, act = val
    mean, _ = model.posterior_normalized(obs, act)
    act_hat = model.decode_window_normalized(obs, mean)
    std = torch.as_tensor(model.normalizer.std, dtype=torch.float32, device=act.device)  # (A,) to env units
    recon = float(((act_hat - act) ** 2).sum(dim=(1, 2)).mean()) / (2 * sigma**2)
    rmse = float((((act_hat - act) * std) ** 2).mean().sqrt())
    prior_mean, prior_logvar = model.prior_normalized(obs[:, 0], mean[:, model.z_dim - model.top_dim :])
    nll = 0.5 * (((mean - prior_mean) ** 2) / prior_logvar.exp() + prior_logvar + math.log(2 * math.pi))
    return {"val_recon": recon, "val_rmse": rmse, "val_prior_nll": float(nll.sum(dim=1).mean())}


@torch.no_grad()
def _kl_per_dim(model: SkillModel, obs: Tensor, act: Tensor) -> list[list[float]]:
    """Mean KL(q || N(0, I)) of every latent dimension over the windows, nats, one list per ladder."""
    was = model.training
    model.eval()
    mean, logvar = model.posterior_normalized(obs, act)
    zeros = torch.zeros_like(mean)
    model.train(was)
    per_dim = kl_gaussians(mean, logvar, zeros, zeros).mean(dim=0).double()  # (z,)
    return [part.tolist() for part in per_dim.split(model.ladder_dims)]


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3g}"
