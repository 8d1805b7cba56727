"""Training of skill models (``absaction train --model skill``): windows of (s, a) in, a resumable run out.

One epoch is one pass over the training windows in a seeded random order, in mini-batches; the loss is
:func:`absaction.models.skill.skill_loss`, its KL term shaped by a capacity schedule
(:mod:`absaction.models.capacity`, the ``--capacity`` specs of the action VAEs; ``none`` by default, the
skill-prior papers' plain beta). The defaults train on 200k transitions of play data (6250 episodes, H = 10,
stride 2) in under two minutes on two CPU cores (one torch thread): an MLP posterior, batches of 1024,
40 epochs (about 2800 optimiser steps); ``benchmarks/bench_skills.py`` measures this against the first
defaults (GRU, stride 1, batches of 256) on held-out windows. The run folder has the same files as an
action VAE's (``model.safetensors``, ``config.json``, ``metrics.csv``, ``resume.safetensors``), is created
atomically with an epoch-0 checkpoint and rewritten every ``checkpoint_every`` epochs, so ``--resume``
continues a killed run bit-identically (weights, optimiser moments, the generator, the global RNGs and the
capacity schedule's state are saved).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from absaction import __version__
from absaction.data import Normalizer, load_dataset
from absaction.data.skill_windows import SkillWindows, dataset_skill_windows
from absaction.data.windows import check_split, decisions_per_episode
from absaction.errors import AbsactionError, flag
from absaction.files import atomic_dir, check_new_output
from absaction.models import io as model_io
from absaction.models.capacity import Capacity, make_capacity
from absaction.models.registry import build_model
from absaction.models.skill import SkillModel, kl_gaussians, skill_loss
from absaction.outputs import path_in_record
from absaction.seeding import seed_everything
from absaction.threads import torch_threads
from absaction.train.checkpoint import RESUME_FILE, ResumeState, load_resume_state, save_resume_state
from absaction.train.config import SkillTrainConfig
from absaction.train.loop import FitResult, progress_bar, resume_conflict
from absaction.train.metrics import METRICS_FILE, write_metrics_csv
from absaction.train.optim import Adam
from absaction.train.runs import recorded_data

SKILL_RUN_CONTROL: frozenset[str] = frozenset({"epochs", "checkpoint_every", "threads"})
"""Keys a resume may change (they steer the run, not its numbers)."""


def skill_windows_for(dataset: Any, config: SkillTrainConfig) -> SkillWindows:
    """The run's windows of ``dataset`` (the default skill observation is Reach2D's position)."""
    skill_obs: list[str | int] | None = list(config.skill_obs) if config.skill_obs is not None else None
    if skill_obs is None and (dataset.env_id or "").startswith("absaction/"):
        skill_obs = ["x", "y"]
    return dataset_skill_windows(dataset, config.horizon, config.stride, skill_obs)


def fit_skills(
    data: str | Path,
    config: SkillTrainConfig,
    run_dir: str | Path,
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = False,
    epoch_callback: Callable[[int, dict[str, Any]], None] | None = None,
) -> FitResult:
    """Train a skill model on the dataset ``data`` (a folder or Minari id) and write ``run_dir``.

    Args:
        data: dataset written by ``absaction collect`` (observations are needed).
        config: the run's configuration.
        run_dir: the run folder; created (``force`` replaces one this command wrote), or continued with
            ``resume`` (then ``config`` may differ only in :data:`SKILL_RUN_CONTROL` keys).
        progress: show a tqdm progress bar over the epochs on stderr.
        epoch_callback: called after every epoch with ``(epoch, metric_row)`` (tests interrupt runs with it).
    """
    config.validate()
    run_dir = Path(run_dir)
    if not resume:  # before loading the data; never an output that replaces or lies inside it
        check_new_output(run_dir, force, "run folder", command="train", inputs=[data])
    dataset = load_dataset(data)
    windows = skill_windows_for(dataset, config)
    train, val = windows.split_by_episode(config.val_fraction, config.seed)
    lengths = dataset.episode_lengths()
    check_split(
        len(train), len(val), config.val_fraction,
        f"pass a shorter {flag('horizon')} (the episodes hold {lengths.min()} to {lengths.max()} steps, "
        f"{len(np.unique(windows.episodes))} of {len(lengths)} of them at least {config.horizon}) or "
        "collect more episodes",
    )  # fmt: skip
    digest = hashlib.sha256()
    for part in (train.observations, train.actions, val.observations, val.actions):
        digest.update(repr(part.shape).encode() + np.ascontiguousarray(part).tobytes())
    sha256 = digest.hexdigest()
    if not resume:
        check_new_output(run_dir, force, "run folder", command="train")
    with torch_threads(config.threads):
        seed_everything(config.seed)
        model = build_model(
            "skill",
            action_dim=train.actions.shape[2],
            seq_len=config.horizon,
            options={
                "ladder_dims": config.latent_dims,
                "obs_dim": train.observations.shape[2],
                "skill_obs": list(windows.skill_obs),
                "skill_indices": list(windows.skill_indices),
                "obs_fields": list(windows.layout.names),
                "encoder": config.encoder,
                "decoder": config.decoder,
                "frame": config.frame,
                "hidden_size": config.hidden_size,
                "channels": config.channels,
                "layers_per_ladder": config.layers_per_ladder,
            },
            normalizer=Normalizer.fit(train.actions),
            env_id=dataset.env_id,
            action_low=np.asarray(dataset.action_space.low, np.float32),
            action_high=np.asarray(dataset.action_space.high, np.float32),
        )
        assert isinstance(model, SkillModel)
        model.set_obs_normalizer(train.observations.mean(axis=(0, 1)), train.observations.std(axis=(0, 1)))
        generator = torch.Generator().manual_seed(config.seed)
        optimizer = Adam(model.parameters(), lr=config.lr)
        capacity = make_capacity(config.capacity, len(model.ladder_dims))
        obs_t, act_t = _normalized(model, train)
        val_t = _normalized(model, val) if len(val) else None
        info = {
            # relative to the run folder (absaction.outputs.path_in_record): found from any working folder
            "path": path_in_record(dataset.path, run_dir),
            "sha256": sha256,
            "n_train": len(train),
            "n_val": len(val),
            "horizon": config.horizon,
            "stride": config.stride,
            "skill_obs": list(windows.skill_obs),
            "episodes": len(lengths),
            "mean_episode_steps": float(lengths.mean()),
            # an agent choosing a skill every H steps (absaction.wrappers.SkillWrapper)
            "decisions_per_episode": decisions_per_episode(lengths, config.horizon),
        }
        columns = ["epoch", "loss", "recon", "kl", "prior_kl", "c_total"]
        for ladder in range(1, len(model.ladder_dims) + 1):
            columns += [f"kl_l{ladder}", f"c_l{ladder}"]
        columns += [f"kl_d{d}" for d in range(model.z_dim)] + [
            "val_recon",
            "val_rmse",
            "val_prior_nll",
            "seconds",
        ]
        epoch, elapsed = 0, 0.0
        metrics: list[dict[str, Any]] = []

        def checkpoint(folder: Path) -> None:
            model.kl_per_dim = _kl_per_dim(model, obs_t, act_t)
            torch_rng, numpy_rng = ResumeState.capture_global_rng()
            state = ResumeState(
                epoch, optimizer.step_count, model.state_dict(), optimizer.state_tensors(),
                generator.get_state(),
                torch_rng, numpy_rng, capacity.state_dict(), metrics, elapsed, sha256,
            )  # fmt: skip
            save_resume_state(folder / RESUME_FILE, state)
            extra = {
                "train": config.to_dict(),
                "data": info,
                "absaction_version": __version__,
                "epochs_completed": epoch,
                "complete": epoch >= config.epochs,
            }
            model_io.save(model, folder, extra=extra, force=True)
            write_metrics_csv(folder / METRICS_FILE, columns, metrics)

        if resume:
            state = _restore_state(run_dir, config, sha256)
            model.load_state_dict(state.model_state)
            optimizer.load_state(state.optimizer_state, state.step)
            generator.set_state(state.generator_state)
            state.restore_global_rng()
            capacity.load_state_dict(state.capacity_state)
            epoch, elapsed, metrics = state.epoch, state.elapsed, state.metrics
        else:
            with atomic_dir(run_dir, force, "run folder", command="train") as tmp:
                checkpoint(tmp)
        bar = progress_bar(config.epochs, epoch, progress)
        try:
            for epoch in range(epoch + 1, config.epochs + 1):  # noqa: B020 - checkpoint() reads the epoch
                started = time.perf_counter()
                row = _train_epoch(model, optimizer, capacity, obs_t, act_t, config, generator)
                row.update(_validate(model, val_t, config.sigma))
                row["epoch"], row["seconds"] = epoch, time.perf_counter() - started
                if not math.isfinite(row["loss"]):
                    raise AbsactionError(f"training diverged in epoch {epoch}", "lower --lr or raise --sigma")
                elapsed += row["seconds"]
                metrics.append(row)
                bar.update(1)
                bar.set_postfix(recon=f"{row['recon']:.2f}", kl=f"{row['kl']:.2f}", refresh=False)
                if epoch % config.checkpoint_every == 0 or epoch == config.epochs:
                    checkpoint(run_dir)
                if epoch_callback is not None:
                    epoch_callback(epoch, row)
        finally:
            bar.close()  # ends the bar's line before anything else (an error, Ctrl-C's message) is printed
        if model.kl_per_dim is None:
            model.kl_per_dim = _kl_per_dim(model, obs_t, act_t)
        return FitResult(model.eval(), run_dir, metrics, elapsed)


def resume_skills(
    run_dir: str | Path,
    overrides: dict[str, Any],
    data: str | Path | None = None,
    *,
    progress: bool = False,
) -> FitResult:
    """Continue the skill run in ``run_dir`` (``overrides``: flags given again, e.g. a larger ``epochs``)."""
    saved = model_io.read_config(Path(run_dir))
    config = SkillTrainConfig.from_dict({**saved["train"], **overrides})
    return fit_skills(
        data or recorded_data(run_dir, saved) or "", config, run_dir, resume=True, progress=progress
    )


def _restore_state(run_dir: Path, config: SkillTrainConfig, sha256: str) -> ResumeState:
    saved = model_io.read_config(run_dir)
    if saved.get("model") != "skill":
        raise AbsactionError(
            f"{run_dir} holds a {saved.get('model')} model, not skills", "resume it without --model skill"
        )
    old = SkillTrainConfig.from_dict(saved["train"]).to_dict()
    conflicts = [
        (k, old[k], v) for k, v in config.to_dict().items() if k not in SKILL_RUN_CONTROL and old[k] != v
    ]
    state = load_resume_state(run_dir / RESUME_FILE)
    if state.data_sha256 != sha256:
        conflicts.append(("data", saved["data"]["path"], "other windows"))
    if conflicts:
        raise resume_conflict(run_dir, conflicts)
    if config.epochs < state.epoch:
        raise AbsactionError(
            f"--epochs {config.epochs} is less than the run's {state.epoch}", f"pass --epochs {state.epoch}"
        )
    return state


def _normalized(model: SkillModel, windows: SkillWindows) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        obs = model.normalize_obs(windows.observations)  # (N, H, O)
    return obs, torch.from_numpy(model.normalizer.transform(windows.actions)).float()  # (N, H, A)


def _train_epoch(
    model: SkillModel,
    optimizer: Adam,
    capacity: Capacity,
    obs: torch.Tensor,
    act: torch.Tensor,
    config: SkillTrainConfig,
    generator: torch.Generator,
) -> dict[str, Any]:
    """One pass over the windows; returns the epoch's metrics and advances the capacity schedule."""
    model.train()
    n = obs.shape[0]
    order = torch.randperm(n, generator=generator)
    sums = torch.zeros(3)  # loss, recon, prior_kl (window-weighted)
    kl_sum = torch.zeros(model.z_dim)
    c_ladders, c_total = capacity.ladder_capacities(), capacity.total_capacity()  # constant this epoch
    for start in range(0, n, config.batch_size):
        index = order[start : start + config.batch_size]
        terms = skill_loss(
            model, obs[index], act[index], config.beta, config.sigma, config.prior_weight, generator, capacity
        )
        optimizer.zero_grad()
        terms.loss.backward()
        optimizer.step()
        capacity.end_step()
        with torch.no_grad():
            b = len(index)
            sums += torch.stack([terms.loss, terms.recon, terms.prior_kl]).detach() * b
            kl_sum += terms.kl_dims.detach() * b
    loss, recon, prior_kl = (sums / n).tolist()
    kl_dims = (kl_sum / n).tolist()
    kl_ladders = [float(part.sum()) for part in (kl_sum / n).split(model.ladder_dims)]
    capacity.end_epoch(kl_ladders)
    row: dict[str, Any] = {
        "loss": loss, "recon": recon, "kl": sum(kl_dims), "prior_kl": prior_kl, "c_total": c_total
    }  # fmt: skip
    for ladder, kl in enumerate(kl_ladders, start=1):
        row[f"kl_l{ladder}"] = kl
        row[f"c_l{ladder}"] = None if c_ladders is None else c_ladders[ladder - 1]
    row.update({f"kl_d{d}": value for d, value in enumerate(kl_dims)})
    return row


@torch.no_grad()
def _validate(
    model: SkillModel, val: tuple[torch.Tensor, torch.Tensor] | None, sigma: float
) -> dict[str, Any]:
    """Reconstruction (posterior mean, closed loop on the recorded states) and the prior's NLL of it."""
    if val is None:
        return {"val_recon": None, "val_rmse": None, "val_prior_nll": None}
    model.eval()
    obs, act = val
    mean, _ = model.posterior_normalized(obs, act)
    act_hat = model.decode_window_normalized(obs, mean)
    std = torch.as_tensor(model.normalizer.std, dtype=torch.float32)
    recon = float(((act_hat - act) ** 2).sum(dim=(1, 2)).mean()) / (2 * sigma**2)
    rmse = float((((act_hat - act) * std) ** 2).mean().sqrt())
    prior_mean, prior_logvar = model.prior_normalized(obs[:, 0], mean[:, model.z_dim - model.top_dim :])
    nll = 0.5 * (((mean - prior_mean) ** 2) / prior_logvar.exp() + prior_logvar + math.log(2 * math.pi))
    return {"val_recon": recon, "val_rmse": rmse, "val_prior_nll": float(nll.sum(dim=1).mean())}


@torch.no_grad()
def _kl_per_dim(model: SkillModel, obs: torch.Tensor, act: torch.Tensor) -> list[list[float]]:
    """Mean KL(q || N(0, I)) of every latent dimension over the windows, nats, one list per ladder."""
    was = model.training
    model.eval()
    mean, logvar = model.posterior_normalized(obs, act)
    zeros = torch.zeros_like(mean)
    model.train(was)
    per_dim = kl_gaussians(mean, logvar, zeros, zeros).mean(dim=0).double()  # (z,)
    return [part.tolist() for part in per_dim.split(model.ladder_dims)]
