"""The action VAEs' kind on the training engine (:mod:`absaction.train.engine`): ``fit_arrays`` trains a
TCVLAE, flat TCVAE or QRNN seq2seq model on windows of actions held in memory.

The loss of a batch of windows is::

    loss = sum_{t,a} (x - x_hat)^2 / (2 sigma^2)   (mean over the batch)
         + capacity.penalty(KL per ladder, beta)   (e.g. beta * sum_l (KL_l - C_l))
         + tc * TC(z)                              (only with TrainConfig.tc > 0: beta-TCVAE's term)

Its per-epoch schedules are the capacity schedule (:mod:`absaction.models.capacity`) and progressive
training's ladder fade-in (:func:`ladder_scales`). The engine does the rest: the epochs, checkpoints,
``metrics.csv`` (columns in :mod:`absaction.train.metrics`), resume and device.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from absaction.data import Normalizer
from absaction.data.normalizer import fit_normalizer
from absaction.errors import AbsactionError
from absaction.models import io as model_io
from absaction.models.base import ActionVAE
from absaction.models.capacity import make_capacity
from absaction.models.losses import gaussian_nll, kl_normal, ladder_kl, total_correlation
from absaction.models.registry import build_model
from absaction.train.config import TrainConfig
from absaction.train.engine import EpochCallback, FitResult, LossTerms, fingerprint, train
from absaction.train.metrics import metric_columns
from absaction.train.model_kind import ActionModelKind

__all__ = ["EpochCallback", "FitResult", "VAEKind", "data_fingerprint", "fit_arrays", "ladder_scales"]

_EVAL_CHUNK = 4096  # windows per forward pass when evaluating (bounds memory on large datasets)


def fit_arrays(
    train_actions: np.ndarray,
    config: TrainConfig,
    run_dir: str | os.PathLike[str],
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
) -> FitResult[ActionVAE]:
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
    train_actions = _checked_actions(train_actions, "training")
    train_lengths = _checked_lengths(train_lengths, train_actions, "training")
    if val_actions is not None:
        val_actions = _checked_actions(val_actions, "validation", train_actions.shape[1:])
        val_lengths = _checked_lengths(val_lengths, val_actions, "validation")
        if len(val_actions) == 0:
            val_actions = val_lengths = None
    kind = VAEKind(
        config, train_actions, val_actions, train_lengths, val_lengths,
        env_id=env_id, action_low=action_low, action_high=action_high, data_info=data_info,
    )  # fmt: skip
    return train(kind, run_dir, force=force, resume=resume, progress=progress, epoch_callback=epoch_callback)


class VAEKind(ActionModelKind):
    """The action VAEs (``TrainConfig.model``: tcvlae | tcvae | seq2seq) as a
    :class:`~absaction.train.engine.ModelKind`: windows of actions in, reconstructions out."""

    def __init__(
        self,
        config: TrainConfig,
        train_actions: np.ndarray,
        val_actions: np.ndarray | None,
        train_lengths: np.ndarray | None = None,
        val_lengths: np.ndarray | None = None,
        *,
        env_id: str | None = None,
        action_low: np.ndarray | None = None,
        action_high: np.ndarray | None = None,
        data_info: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.train_actions, self.val_actions = train_actions, val_actions  # (N, T, A), (M, T, A)
        self.train_lengths, self.val_lengths = train_lengths, val_lengths  # (N,), (M,) or None
        self.env = {"env_id": env_id, "action_low": action_low, "action_high": action_high}
        self.info = dict(data_info or {})
        self.scales: list[float] | None = None

    def data_arrays(self) -> Sequence[np.ndarray | None]:
        return data_parts(self.train_actions, self.val_actions, self.train_lengths, self.val_lengths)

    def data_info(self) -> dict[str, Any]:
        return {
            **self.info,
            "n_train": len(self.train_actions),
            "n_val": 0 if self.val_actions is None else len(self.val_actions),
            "seq_len": int(self.train_actions.shape[1]) if self.train_lengths is None else None,
        }

    @property
    def n_train(self) -> int:
        return len(self.train_actions)

    def build(self, device: torch.device) -> ActionVAE:
        config = self.config
        normalizer = fit_normalizer(_real_steps(self.train_actions, self.train_lengths), config.normalize)
        self.normalizer = normalizer
        self.model = build_model(
            config.model,
            action_dim=self.train_actions.shape[2],
            seq_len=self.train_actions.shape[1] if self.train_lengths is None else None,
            options=config.model_options,
            normalizer=normalizer,
            **self.env,
        )
        self.capacity = make_capacity(config.capacity, len(self.model.ladder_dims))
        self.model.to(device)
        self.train_windows = _Windows.make(self.train_actions, self.train_lengths, normalizer, device)
        self.val_windows = (
            None
            if self.val_actions is None
            else _Windows.make(self.val_actions, self.val_lengths, normalizer, device)
        )
        return self.model

    def columns(self) -> list[str]:
        return metric_columns(self.model.ladder_dims, tc=self.config.tc > 0)

    def begin_epoch(self, epoch: int) -> None:
        super().begin_epoch(epoch)
        self.scales = ladder_scales(epoch, len(self.model.ladder_dims), self.config.progressive)

    def loss(self, index: Tensor, generator: torch.Generator) -> LossTerms:
        config = self.config
        batch, lengths, mask = self.train_windows.take(index)  # (b, T, A), (b,), (b, T)
        x_hat, stats, latents = self.model.forward_normalized(
            batch, lengths, generator=generator, ladder_scales=self.scales
        )
        recon = gaussian_nll(batch, x_hat, config.sigma, mask=mask, include_constant=False)
        kl_ladders, kl_dims = ladder_kl(stats)  # (L,), [(d_l,)]
        loss = recon + self.capacity.penalty(kl_ladders, config.beta)
        logged = {"loss": loss, "recon": recon}
        if config.tc > 0:
            tc = _batch_tc(stats, latents, self.scales, self.n_train)
            loss = loss + config.tc * tc
            logged.update(loss=loss, tc=tc)
        logged.update({f"kl_l{ladder}_dims": kl for ladder, kl in enumerate(kl_dims, start=1)})
        return LossTerms(loss, logged, batch.shape[0])

    def end_epoch(self, sums: dict[str, Tensor], n: int) -> dict[str, Any]:
        ladders = range(1, len(self.model.ladder_dims) + 1)
        kl_dim_means = [(sums[f"kl_l{ladder}_dims"] / n).tolist() for ladder in ladders]
        kl_ladder_means = [sum(dims) for dims in kl_dim_means]
        row: dict[str, Any] = {
            "loss": sums["loss"].item() / n,
            "recon": sums["recon"].item() / n,
            "kl": sum(kl_ladder_means),
        }
        if self.config.tc > 0:
            row["tc"] = sums["tc"].item() / n
        self.capacity_columns(row, kl_ladder_means)
        for ladder, dims in zip(ladders, kl_dim_means, strict=True):
            row.update({f"kl_l{ladder}_d{d}": value for d, value in enumerate(dims)})
        return row

    def evaluate(self) -> dict[str, Any]:
        return _validate(self.model, self.val_windows, self.config.sigma, self.normalizer)

    def kl_per_dim(self) -> list[list[float]]:
        return _kl_per_dim(self.model, self.train_windows)

    @staticmethod
    def summary(result: FitResult[ActionVAE]) -> tuple[str, list[tuple[str, str]]]:
        """The title and ``(label, value)`` rows of a finished run's summary table: its data, what an
        agent decoding one window per decision gets, the last epoch's reconstruction and each ladder's
        KL and active dimensions."""
        model, last = result.model, (result.metrics[-1] if result.metrics else {})
        data = model_io.read_config(result.run_dir).get("data", {})
        rows = [
            ("run folder", str(result.run_dir)),
            ("epochs", str(last.get("epoch", 0))),
            ("windows", f"{data.get('n_train', 0)} trained, {data.get('n_val', 0)} held out"),
        ]
        if data.get("window") is not None:
            rows.append(("window (steps)", str(data["window"])))
        if data.get("decisions_per_episode") is not None:
            rows.append((
                "agent decisions per episode",
                f"{data['decisions_per_episode']:.3g} (episodes of {data.get('mean_episode_steps', 0):.3g} "
                f"steps on average, one {data['window']}-step chunk per decision)",
            ))  # fmt: skip
        rows.append(("train recon (nats)", f"{last.get('recon', float('nan')):.2f}"))
        if last.get("val_rmse") is not None:
            rows.append(("val RMSE (env units)", f"{last['val_rmse']:.4g}"))
        for ladder, (kls, active) in enumerate(
            zip(model.kl_per_dim or [], model.active_dims(), strict=True), start=1
        ):
            rows.append((f"ladder {ladder} KL (nats)", f"{sum(kls):.2f}  active dims {active}"))
        rows.append(("training time", f"{result.seconds:.1f} s"))
        return f"trained {model.name}", rows


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


def data_parts(
    train_actions: np.ndarray,
    val_actions: np.ndarray | None,
    train_lengths: np.ndarray | None = None,
    val_lengths: np.ndarray | None = None,
) -> list[np.ndarray | None]:
    """The arrays a run's data fingerprint covers: the training and validation windows, and the lengths
    of padded sequences."""
    lengths = [part.astype(np.float32) for part in (train_lengths, val_lengths) if part is not None]
    return [train_actions, val_actions, *lengths]


def data_fingerprint(
    train_actions: np.ndarray,
    val_actions: np.ndarray | None,
    train_lengths: np.ndarray | None = None,
    val_lengths: np.ndarray | None = None,
) -> str:
    """SHA-256 of the training and validation windows (shapes and bytes, and the lengths of padded
    sequences): a resumed run must see the same data."""
    return fingerprint(data_parts(train_actions, val_actions, train_lengths, val_lengths))


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
