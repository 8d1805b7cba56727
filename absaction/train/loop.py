"""The training loop: ``fit_arrays`` trains an action VAE on windows held in memory.

One epoch is one pass over the training windows in a random order (a seeded ``torch.Generator``,
which also draws the reparameterisation noise), in mini-batches indexed straight out of one tensor: no
DataLoader, no per-step host synchronisation; per-epoch numbers are accumulated as tensors and read
once per epoch. The loss of a batch is::

    loss = sum_{t,a} (x - x_hat)^2 / (2 sigma^2)   (mean over the batch)
         + capacity.penalty(KL per ladder, beta)   (e.g. beta * sum_l (KL_l - C_l))
         + tc * TC(z)                              (only with TrainConfig.tc > 0: beta-TCVAE's term)

The run folder is created atomically with an epoch-0 checkpoint, so it is always resumable, and
rewritten (weights, config, resume state, metrics) every ``checkpoint_every`` epochs and at the end.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from absaction import __version__
from absaction.data import Normalizer
from absaction.data.normalizer import fit_normalizer
from absaction.devices import check_device
from absaction.errors import AbsactionError, flag, option
from absaction.files import atomic_dir, check_new_output
from absaction.models import io as model_io
from absaction.models.base import ActionVAE
from absaction.models.capacity import Capacity, make_capacity
from absaction.models.losses import gaussian_nll, kl_normal, ladder_kl, total_correlation
from absaction.models.registry import build_model
from absaction.seeding import seed_everything
from absaction.threads import torch_threads
from absaction.train.checkpoint import RESUME_FILE, ResumeState, load_resume_state, save_resume_state
from absaction.train.config import TrainConfig, flag_name
from absaction.train.metrics import (
    METRICS_FILE,
    MetricsLog,
    check_tensorboard,
    metric_columns,
    write_metrics_csv,
)
from absaction.train.optim import Adam

EpochCallback = Callable[[int, dict[str, Any]], None]
"""Called after every epoch (and its checkpoint, if any) with the epoch number and its metric row."""

_EVAL_CHUNK = 4096  # windows per forward pass when evaluating (bounds memory on large datasets)


@dataclasses.dataclass
class FitResult:
    """What a training run returns."""

    model: ActionVAE
    """the trained model (eval mode), as saved in ``run_dir``"""
    run_dir: Path
    metrics: list[dict[str, Any]]
    """one row per epoch, the rows of metrics.csv"""
    seconds: float
    """training wall time, summed over all sessions of a resumed run"""


def fit_arrays(
    train_actions: np.ndarray,
    config: TrainConfig,
    run_dir: str | Path,
    *,
    val_actions: np.ndarray | None = None,
    train_lengths: np.ndarray | None = None,
    val_lengths: np.ndarray | None = None,
    env_id: str | None = None,
    action_low: np.ndarray | None = None,
    action_high: np.ndarray | None = None,
    data_info: dict[str, Any] | None = None,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
    epoch_callback: EpochCallback | None = None,
) -> FitResult:
    """Train ``config.model`` on action windows and write the run folder.

    Args:
        train_actions: (N, T, A) training windows in environment units.
        config: the run's configuration.
        run_dir: the run folder (created; see ``force``/``resume``).
        val_actions: (M, T, A) validation windows, or None.
        train_lengths, val_lengths: (N,) / (M,) true lengths of zero-padded variable-length sequences
            (for a variable-length model such as seq2seq; steps past a length are ignored by the
            normaliser, the loss and the metrics), or None when every window is T steps long.
        env_id, action_low, action_high: the environment the actions come from, stored with the model.
        data_info: JSON-able description of the data (path, window, ...), stored in config.json["data"].
        force: replace an existing ``run_dir`` (a new run only).
        resume: continue the run in ``run_dir`` from its last checkpoint; ``config`` must agree with
            the saved one except for run-control keys (``epochs`` may grow), and the data must be the
            same (checked by fingerprint).
        progress: show a tqdm progress bar on stderr.
        epoch_callback: called after every epoch with ``(epoch, metric_row)``; an exception it raises
            stops the run like a crash would (used by tests to interrupt a run).

    Returns:
        The trained model, the run folder, the metric rows and the training time.
    """
    config.validate()
    run_dir = Path(run_dir)
    train_actions = _checked_actions(train_actions, "training")
    train_lengths = _checked_lengths(train_lengths, train_actions, "training")
    if val_actions is not None:
        val_actions = _checked_actions(val_actions, "validation", train_actions.shape[1:])
        val_lengths = _checked_lengths(val_lengths, val_actions, "validation")
        if len(val_actions) == 0:
            val_actions = val_lengths = None
    sha256 = data_fingerprint(train_actions, val_actions, train_lengths, val_lengths)
    if config.tensorboard:
        check_tensorboard()
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise AbsactionError(
            f"{option('device', config.device, python=repr(config.device))} needs CUDA, which is not "
            "available",
            f"use {option('device', 'cpu', python=repr('cpu'))}",
        )
    if not resume:
        check_new_output(run_dir, force, "run folder", command="train")

    with torch_threads(config.threads):
        seed_everything(config.seed)  # the initial weights come from torch's global generator
        normalizer = fit_normalizer(_real_steps(train_actions, train_lengths), config.normalize)
        model = build_model(
            config.model,
            action_dim=train_actions.shape[2],
            seq_len=train_actions.shape[1] if train_lengths is None else None,
            options=config.model_options,
            normalizer=normalizer,
            env_id=env_id,
            action_low=action_low,
            action_high=action_high,
        )
        capacity = make_capacity(config.capacity, len(model.ladder_dims))
        device = torch.device(check_device(config.device))  # auto: CUDA if available
        model.to(device)
        generator = torch.Generator(device=device).manual_seed(config.seed)
        optimizer = Adam(model.parameters(), lr=config.lr)
        columns = metric_columns(model.ladder_dims, tc=config.tc > 0)
        train = _Windows.make(train_actions, train_lengths, normalizer, device)
        val = None if val_actions is None else _Windows.make(val_actions, val_lengths, normalizer, device)
        info = {
            **(data_info or {}),
            "sha256": sha256,
            "n_train": len(train_actions),
            "n_val": 0 if val_actions is None else len(val_actions),
            "seq_len": int(train_actions.shape[1]) if train_lengths is None else None,
        }
        extra = {"train": config.to_dict(), "data": info, "absaction_version": __version__}
        run = _Run(run_dir, model, optimizer, capacity, generator, train, columns, extra, sha256)

        if resume:
            run.restore(config)
            if run.epoch >= config.epochs:
                print(f"{run_dir} already has {run.epoch} epochs; nothing to do", file=sys.stderr)
                return run.result()
        else:
            with atomic_dir(run_dir, force, "run folder", command="train") as tmp:
                run.checkpoint(tmp, config)  # epoch 0: the folder is resumable from the start

        log = MetricsLog(run_dir, columns, config.tensorboard, first_epoch=run.epoch + 1)
        bar = progress_bar(config.epochs, run.epoch, progress)
        try:
            for epoch in range(run.epoch + 1, config.epochs + 1):
                started = time.perf_counter()
                scales = ladder_scales(epoch, len(model.ladder_dims), config.progressive)
                row = _train_epoch(model, optimizer, capacity, train, config, generator, scales)
                row.update(_validate(model, val, config.sigma, normalizer))
                row["epoch"] = epoch
                row["seconds"] = time.perf_counter() - started
                if not math.isfinite(row["loss"]):
                    raise AbsactionError(
                        f"training diverged: the loss is {row['loss']} in epoch {epoch}",
                        f"lower {flag('lr')} or raise {flag('sigma')}",
                    )
                run.epoch, run.elapsed = epoch, run.elapsed + row["seconds"]
                run.metrics.append(row)
                log.append(row)
                bar.update(1)
                bar.set_postfix(recon=f"{row['recon']:.1f}", kl=f"{row['kl']:.2f}", refresh=False)
                if epoch % config.checkpoint_every == 0 or epoch == config.epochs:
                    run.checkpoint(run_dir, config)
                if epoch_callback is not None:
                    epoch_callback(epoch, row)
        finally:
            bar.close()
            log.close()
        return run.result()


def ladder_scales(epoch: int, n_ladders: int, progressive: int) -> list[float] | None:
    """Per-ladder factors on z in (1-based) ``epoch`` of progressive training, ladder 1 first.

    The top ladder (the most abstract) always has 1. Ladder ``l`` (``k = n_ladders - l`` stages below the
    top) starts at epoch ``k * progressive + 1`` and ramps linearly to 1 over ``max(1, progressive // 2)``
    epochs; before that it is 0 (decoded at the prior mean, so the decoder cannot use it and its KL term
    pulls its posterior to the prior). None when ``progressive`` is 0 or every factor is 1.
    """
    if progressive <= 0:
        return None
    fade = max(1, progressive // 2)
    scales = []
    for ladder in range(1, n_ladders + 1):
        start = (n_ladders - ladder) * progressive  # epochs before this ladder begins to fade in
        scales.append(1.0 if start == 0 else min(1.0, max(0.0, (epoch - start) / fade)))
    return None if all(s == 1.0 for s in scales) else scales


def data_fingerprint(
    train_actions: np.ndarray,
    val_actions: np.ndarray | None,
    train_lengths: np.ndarray | None = None,
    val_lengths: np.ndarray | None = None,
) -> str:
    """SHA-256 of the training and validation windows (shapes and bytes, and the lengths of padded
    sequences): a resumed run must see the same data."""
    digest = hashlib.sha256()
    parts = [train_actions, val_actions]
    parts += [lengths.astype(np.float32) for lengths in (train_lengths, val_lengths) if lengths is not None]
    for part in parts:
        if part is not None:
            digest.update(repr(part.shape).encode())
            digest.update(np.ascontiguousarray(part, dtype=np.float32).tobytes())
        digest.update(b"|")
    return digest.hexdigest()


@dataclasses.dataclass
class _Run:
    """The mutable state of one run, and how it is checkpointed and restored."""

    run_dir: Path
    model: ActionVAE
    optimizer: Adam
    capacity: Capacity
    generator: torch.Generator
    train: _Windows
    columns: list[str]
    extra: dict[str, Any]
    sha256: str
    epoch: int = 0
    elapsed: float = 0.0
    metrics: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def checkpoint(self, folder: Path, config: TrainConfig) -> None:
        """Write the resume state, the model and the metrics into ``folder`` (each file atomically;
        the resume state first, as it alone decides where a resumed run continues)."""
        self.model.kl_per_dim = _kl_per_dim(self.model, self.train)
        torch_rng, numpy_rng = ResumeState.capture_global_rng()
        state = ResumeState(
            epoch=self.epoch,
            step=self.optimizer.step_count,
            model_state=self.model.state_dict(),
            optimizer_state=self.optimizer.state_tensors(),
            generator_state=self.generator.get_state(),
            torch_rng_state=torch_rng,
            numpy_rng_state=numpy_rng,
            capacity_state=self.capacity.state_dict(),
            metrics=self.metrics,
            elapsed=self.elapsed,
            data_sha256=self.sha256,
        )
        save_resume_state(folder / RESUME_FILE, state)
        extra = {
            **self.extra,
            "train": config.to_dict(),
            "epochs_completed": self.epoch,
            "complete": self.epoch >= config.epochs,
        }
        model_io.save(self.model, folder, extra=extra, force=True)
        write_metrics_csv(folder / METRICS_FILE, self.columns, self.metrics)

    def restore(self, config: TrainConfig) -> None:
        """Load the last checkpoint of ``run_dir`` after checking that it belongs to this run."""
        saved = model_io.read_config(self.run_dir)
        saved_config = TrainConfig.from_dict(saved["train"])
        conflicts = saved_config.conflicts(config.to_dict())
        current = self.model.config.to_dict()
        for key in sorted((set(saved["model_config"]) | set(current)) - {"action_dim", "seq_len"}):
            if saved["model_config"].get(key) != current.get(key):  # the data check covers the shapes
                conflicts.append((key, saved["model_config"].get(key), current.get(key)))
        state = load_resume_state(self.run_dir / RESUME_FILE)
        if state.data_sha256 != self.sha256:
            where = saved.get("data", {}).get("path") or "training data"
            conflicts.append(
                (
                    "data",
                    f"{where} (fingerprint {state.data_sha256[:8]})",
                    f"windows of fingerprint {self.sha256[:8]}",
                )
            )
        if conflicts:
            raise resume_conflict(self.run_dir, conflicts)
        if config.epochs < state.epoch:
            raise AbsactionError(
                f"{option('epochs', str(config.epochs))} is less than the {state.epoch} epochs "
                f"{self.run_dir} has done",
                f"pass {option('epochs', str(state.epoch))} or more",
            )
        self.model.load_state_dict(state.model_state)
        self.optimizer.load_state(state.optimizer_state, state.step)
        self.generator.set_state(state.generator_state)
        self.capacity.load_state_dict(state.capacity_state)
        state.restore_global_rng()
        self.epoch, self.elapsed, self.metrics = state.epoch, state.elapsed, state.metrics
        # rows a killed session appended after its last checkpoint are dropped
        write_metrics_csv(self.run_dir / METRICS_FILE, self.columns, self.metrics)

    def result(self) -> FitResult:
        if self.model.kl_per_dim is None:
            self.model.kl_per_dim = _kl_per_dim(self.model, self.train)
        return FitResult(self.model.cpu().eval(), self.run_dir, self.metrics, self.elapsed)


def resume_conflict(run_dir: Path, conflicts: list[tuple[str, Any, Any]]) -> AbsactionError:
    """The one-line error for a ``--resume`` whose configuration or data differs from the run's."""
    described = "; ".join(f"{flag_name(key)} {new} vs the run's {old}" for key, old, new in conflicts)
    if any(key == "data" for key, _, _ in conflicts):
        fix = "resume with the run's own dataset (unchanged), or start a new run in another folder"
    else:
        fix = (
            f"drop {'that option' if len(conflicts) == 1 else 'those options'} to continue the run, "
            "or start a new run in another folder"
        )
    return AbsactionError(f"cannot resume {run_dir}: {described}", fix)


def _train_epoch(
    model: ActionVAE,
    optimizer: Adam,
    capacity: Capacity,
    data: _Windows,
    config: TrainConfig,
    generator: torch.Generator,
    scales: list[float] | None = None,
) -> dict[str, Any]:
    """One pass over ``data``; returns the epoch's training metrics and advances the capacity.
    ``scales``: per-ladder factors on the sampled z (progressive training, :func:`ladder_scales`)."""
    model.train()
    n = data.x.shape[0]
    device = data.x.device
    order = torch.randperm(n, generator=generator, device=device)
    loss_sum = torch.zeros((), device=device)
    recon_sum = torch.zeros((), device=device)
    tc_sum = torch.zeros((), device=device)
    kl_dim_sums = [torch.zeros(d, device=device) for d in model.ladder_dims]
    c_ladders, c_total = capacity.ladder_capacities(), capacity.total_capacity()  # constant this epoch
    for start in range(0, n, config.batch_size):
        batch, lengths, mask = data.take(order[start : start + config.batch_size])  # (b, T, A), (b,), (b, T)
        x_hat, stats, latents = model.forward_normalized(
            batch, lengths, generator=generator, ladder_scales=scales
        )
        recon = gaussian_nll(batch, x_hat, config.sigma, mask=mask, include_constant=False)
        kl_ladders, kl_dims = ladder_kl(stats)  # (L,), [(d_l,)]
        loss = recon + capacity.penalty(kl_ladders, config.beta)
        tc = _batch_tc(stats, latents, scales, n) if config.tc > 0 else None
        if tc is not None:
            loss = loss + config.tc * tc
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        capacity.end_step()
        with torch.no_grad():  # weighted by batch size: the epoch means are means over windows
            b = batch.shape[0]
            loss_sum += loss.detach() * b
            recon_sum += recon.detach() * b
            if tc is not None:
                tc_sum += tc.detach() * b
            for total, kl in zip(kl_dim_sums, kl_dims, strict=True):
                total += kl.detach() * b
    kl_dim_means = [(total / n).tolist() for total in kl_dim_sums]
    kl_ladder_means = [sum(dims) for dims in kl_dim_means]
    capacity.end_epoch(kl_ladder_means)
    row: dict[str, Any] = {
        "loss": loss_sum.item() / n,
        "recon": recon_sum.item() / n,
        "kl": sum(kl_ladder_means),
        "c_total": c_total,
    }
    if config.tc > 0:
        row["tc"] = tc_sum.item() / n
    for ladder, dims in enumerate(kl_dim_means, start=1):
        row[f"kl_l{ladder}"] = kl_ladder_means[ladder - 1]
        row[f"c_l{ladder}"] = None if c_ladders is None else c_ladders[ladder - 1]
        row.update({f"kl_l{ladder}_d{d}": value for d, value in enumerate(dims)})
    return row


def _batch_tc(
    stats: list[tuple[Tensor, Tensor]], latents: list[Tensor], scales: list[float] | None, n: int
) -> Tensor:
    """Total correlation (:func:`total_correlation`) of the ladders being trained: a ladder that
    progressive training still holds at the prior mean (scale 0) is left out, a fading one is
    unscaled back to its posterior draw."""
    if stats[0][0].shape[0] < 2:  # a last batch of one sequence has no pairs to compare
        return torch.zeros((), device=stats[0][0].device)
    keep = [i for i in range(len(stats)) if scales is None or scales[i] > 0]
    z = torch.cat([latents[i] / (1.0 if scales is None else scales[i]) for i in keep], dim=1)
    mean = torch.cat([stats[i][0] for i in keep], dim=1)
    logvar = torch.cat([stats[i][1] for i in keep], dim=1)
    return total_correlation(z, mean, logvar, n)


@torch.no_grad()
def _validate(model: ActionVAE, val: _Windows | None, sigma: float, normalizer: Normalizer) -> dict[str, Any]:
    """Reconstruction of the validation windows from their posterior means (no sampling)."""
    if val is None:
        return {"val_recon": None, "val_rmse": None}
    model.eval()
    recon = 0.0
    squared = 0.0
    std = torch.as_tensor(normalizer.std, dtype=val.x.dtype, device=val.x.device)  # (A,) to env units
    for chunk, lengths, mask in val.chunks():
        stats = model.encode_normalized(chunk, lengths)
        x_hat = model.decode_normalized([mean for mean, _ in stats], chunk.shape[1])
        recon += gaussian_nll(chunk, x_hat, sigma, mask=mask, include_constant=False).item() * len(chunk)
        error = (x_hat - chunk) * std  # (b, T, A), environment units
        if mask is not None:
            error = error * mask.unsqueeze(-1)
        squared += error.pow(2).sum().item()
    return {"val_recon": recon / len(val.x), "val_rmse": math.sqrt(squared / val.n_elements)}


@torch.no_grad()
def _kl_per_dim(model: ActionVAE, data: _Windows) -> list[list[float]]:
    """Mean KL (nats) of every latent dimension over the windows of ``data``, per ladder."""
    was_training = model.training
    model.eval()
    sums = [torch.zeros(d, dtype=torch.float64, device=data.x.device) for d in model.ladder_dims]
    for chunk, lengths, _ in data.chunks():
        for total, (mean, logvar) in zip(sums, model.encode_normalized(chunk, lengths), strict=True):
            total += kl_normal(mean, logvar).sum(dim=0).double()
    model.train(was_training)
    return [(total / len(data.x)).tolist() for total in sums]


@dataclasses.dataclass
class _Windows:
    """Normalised sequences on the training device; steps past a sequence's length are zero."""

    x: Tensor
    """(N, T, A) normalised actions"""
    lengths: Tensor | None
    """(N,) int64 true lengths, or None when every sequence has all T steps"""

    @classmethod
    def make(
        cls, actions: np.ndarray, lengths: np.ndarray | None, normalizer: Normalizer, device: torch.device
    ) -> _Windows:
        x = torch.from_numpy(normalizer.transform(actions)).to(device)  # (N, T, A)
        if lengths is None:
            return cls(x, None)
        length_t = torch.from_numpy(lengths).to(device)
        mask = torch.arange(x.shape[1], device=device) < length_t[:, None]  # (N, T)
        return cls(x * mask.unsqueeze(-1), length_t)

    @property
    def n_elements(self) -> int:
        """Real (unpadded) action elements."""
        steps = self.x.shape[0] * self.x.shape[1] if self.lengths is None else int(self.lengths.sum())
        return steps * self.x.shape[2]

    def take(self, index: Tensor | slice) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """``(x (b, T, A), lengths (b,) or None, mask (b, T) or None)`` of the sequences at ``index``."""
        x = self.x[index]
        if self.lengths is None:
            return x, None, None
        lengths = self.lengths[index]
        return x, lengths, torch.arange(x.shape[1], device=x.device) < lengths[:, None]

    def chunks(self) -> Iterator[tuple[Tensor, Tensor | None, Tensor | None]]:
        """The sequences in order, a bounded number at a time (for evaluation)."""
        for start in range(0, self.x.shape[0], _EVAL_CHUNK):
            yield self.take(slice(start, start + _EVAL_CHUNK))


def _real_steps(actions: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """(N, T, A) -> the steps that are not padding, (S, A) (all of them when ``lengths`` is None)."""
    if lengths is None:
        return actions
    mask = np.arange(actions.shape[1])[None, :] < lengths[:, None]  # (N, T)
    return actions[mask]


def _checked_lengths(lengths: Any, actions: np.ndarray, what: str) -> np.ndarray | None:
    if lengths is None:
        return None
    array = np.asarray(lengths)
    if array.shape != (len(actions),) or not np.issubdtype(array.dtype, np.integer):
        raise AbsactionError(
            f"{what} lengths have shape {array.shape}, expected ({len(actions)},) integers",
            "pass one length per sequence",
        )
    if len(array) and (array.min() < 1 or array.max() > actions.shape[1]):
        raise AbsactionError(
            f"{what} lengths must lie in 1..{actions.shape[1]}, got {array.min()}..{array.max()}",
            "pad every sequence to the longest one and pass its true length",
        )
    return array.astype(np.int64)


def _checked_actions(actions: Any, what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    array = np.asarray(actions, dtype=np.float32)
    if array.ndim != 3 or (shape is not None and array.shape[1:] != shape):
        expected = "(N, T, A)" if shape is None else f"(N, {shape[0]}, {shape[1]})"
        raise AbsactionError(
            f"{what} actions have shape {array.shape}, expected {expected}", "pass action windows"
        )
    if what == "training" and len(array) == 0:
        raise AbsactionError("there are no training windows", "use a dataset with more episodes")
    if not np.isfinite(array).all():
        raise AbsactionError(
            f"{what} actions contain NaN or infinite values", "clean or re-collect the dataset"
        )
    return np.ascontiguousarray(array)


def progress_bar(total: int, initial: int, enabled: bool) -> Any:
    """The epochs' tqdm bar on stderr (every model kind's training shows the same one)."""
    return tqdm(
        total=total, initial=initial, unit="epoch", desc="train", file=sys.stderr, disable=not enabled
    )
