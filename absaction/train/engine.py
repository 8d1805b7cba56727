"""The training engine: one loop, one run folder and one resume for every model kind.

A model kind (the action VAEs in :mod:`.loop`, the skill models in :mod:`.skill_loop`) plugs in as a
:class:`ModelKind`: its configuration, how to build its model, the loss terms of one batch, any
per-epoch schedule, its validation and how its model is saved (and, for ``absaction train``'s table, how
a finished run is summarised: ``summary(result)``). :func:`train` does the rest, the same way for every
kind:

- **data fingerprint**: SHA-256 of the kind's arrays (:func:`fingerprint`), stored with the run; a resume
  on other data is refused.
- **run folder**: created atomically with an epoch-0 checkpoint (so it is always resumable), rewritten
  every ``checkpoint_every`` epochs and after the last: ``resume.safetensors`` first (it alone decides
  where a resumed run continues), then the kind's weights and ``config.json`` (the run's configuration,
  its data, ``epochs_completed`` and ``"complete"``), then ``metrics.csv``. Each file is written
  atomically.
- **bit-identical resume**: the weights, the optimiser's moments, the training generator, torch's and
  NumPy's global RNGs and the kind's schedule state are saved, so a resumed run ends with the same bits
  as one that was never interrupted.
- **metrics**: one row per epoch, the kind's terms plus ``epoch`` and ``seconds``, appended to
  ``metrics.csv`` as the run goes (and to TensorBoard with ``tensorboard``).
- **running**: the progress bar (closed before anything else is printed, so a Ctrl-C message starts on
  its own line), ``threads`` and ``device`` (auto | cpu | cuda | cuda:N).

One epoch is one pass over the training items in a random order drawn from a seeded ``torch.Generator``
on the training device (the same generator draws any sampling noise of the loss), in mini-batches of
``batch_size`` indices; every logged term is summed over the epoch as a tensor, weighted by batch size,
and read once at the end of the epoch (no per-step host synchronisation).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from absaction import __version__
from absaction.devices import check_device
from absaction.errors import AbsactionError, option
from absaction.files import atomic_dir, check_new_output
from absaction.outputs import path_from_record, written_by
from absaction.seeding import seed_everything
from absaction.threads import torch_threads
from absaction.train.checkpoint import RESUME_FILE, ResumeState, load_resume_state, save_resume_state
from absaction.train.config import RUN_CONTROL_KEYS, flag_name
from absaction.train.metrics import METRICS_FILE, MetricsLog, check_tensorboard, write_metrics_csv
from absaction.train.optim import Adam

RECORD_FILE = "config.json"
"""The run's record in its folder: the kind's own entries plus the engine's (``train``, ``data``,
``absaction_version``, ``epochs_completed``, ``complete``)."""

EpochCallback = Callable[[int, dict[str, Any]], None]
"""Called after every epoch (and its checkpoint, if any) with the epoch number and its metric row."""

Conflict = tuple[str, Any, Any]
"""``(key, the run's value, the new value)`` of a resume that would change what the run computes."""

M = TypeVar("M")


@dataclasses.dataclass
class FitResult(Generic[M]):
    """What a training run returns."""

    model: M
    """the trained model (eval mode, on the CPU), as saved in ``run_dir``"""
    run_dir: Path
    metrics: list[dict[str, Any]]
    """one row per epoch, the rows of metrics.csv"""
    seconds: float
    """training wall time, summed over all sessions of a resumed run"""


class RunConfig(Protocol):
    """What the engine reads of a kind's configuration dataclass (every kind's has these fields)."""

    epochs: int
    batch_size: int
    lr: float
    seed: int
    checkpoint_every: int
    threads: int
    device: str
    tensorboard: bool

    def validate(self) -> None: ...

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig: ...

    def conflicts(
        self, overrides: dict[str, Any], model_config: dict[str, Any] | None = None
    ) -> list[Conflict]: ...


class LossTerms(NamedTuple):
    """The loss of one batch and the terms logged for it."""

    loss: Tensor
    """the scalar the optimiser minimises"""
    logged: dict[str, Tensor]
    """terms (scalars or vectors) summed over the epoch, each weighted by ``size``"""
    size: int
    """items in the batch"""


class ModelKind(Protocol):
    """One model kind's part of a training run.

    The engine calls :meth:`build` once (after seeding, inside the thread limit); then, every epoch,
    :meth:`begin_epoch`, :meth:`loss` and :meth:`end_step` for every batch, :meth:`end_epoch` with the
    epoch's sums and :meth:`evaluate`; :meth:`save` at every checkpoint.
    """

    @property
    def config(self) -> RunConfig:
        """The run's configuration (written to ``config.json`` as ``train``)."""
        ...

    @property
    def progress_terms(self) -> tuple[str, ...]:
        """Metric columns the progress bar shows."""
        ...

    @property
    def divergence_fix(self) -> str:
        """What to change when the loss stops being finite."""
        ...

    def data_arrays(self) -> Sequence[np.ndarray | None]:
        """The training and validation arrays the run's numbers depend on (fingerprinted)."""
        ...

    def data_info(self) -> dict[str, Any]:
        """What ``config.json`` records of the data, as ``data`` (the engine adds ``sha256``)."""
        ...

    @property
    def n_train(self) -> int:
        """Training items: an epoch draws a permutation of ``range(n_train)``."""
        ...

    def build(self, device: torch.device) -> torch.nn.Module:
        """The model to train, on ``device`` (its initial weights drawn from torch's global RNG)."""
        ...

    def columns(self) -> list[str]:
        """The ``metrics.csv`` header."""
        ...

    def begin_epoch(self, epoch: int) -> None:
        """Set up (1-based) ``epoch``: a schedule's values that hold for the whole epoch."""
        ...

    def loss(self, index: Tensor, generator: torch.Generator) -> LossTerms:
        """The loss of the training items ``index`` (sampling noise drawn from ``generator``)."""
        ...

    def end_step(self) -> None:
        """After each optimiser step (a schedule that counts steps)."""
        ...

    def end_epoch(self, sums: dict[str, Tensor], n: int) -> dict[str, Any]:
        """The epoch's training metrics from the sums of the logged terms over its ``n`` items."""
        ...

    def evaluate(self) -> dict[str, Any]:
        """Validation metrics after an epoch."""
        ...

    def schedule_state(self) -> dict[str, Any]:
        """JSON-able state of the kind's schedule, saved in the resume state."""
        ...

    def load_schedule_state(self, state: dict[str, Any]) -> None: ...

    def read_record(self, run_dir: Path) -> dict[str, Any]:
        """The parsed ``config.json`` of ``run_dir`` (a clear error for a damaged one)."""
        ...

    def record_conflicts(self, run_dir: Path, saved: dict[str, Any]) -> list[Conflict]:
        """How the model built now differs from the run's (raise for a run of another kind)."""
        ...

    def save(self, folder: Path, extra: dict[str, Any]) -> None:
        """Write the model's weights and ``config.json`` (with ``extra``) into ``folder``, atomically."""
        ...

    def trained_model(self) -> Any:
        """The model as :class:`FitResult` returns it."""
        ...


def fingerprint(parts: Sequence[np.ndarray | None]) -> str:
    """SHA-256 of ``parts`` (each one's shape and float32 bytes; None holds its place): a resumed run
    must see the same data."""
    digest = hashlib.sha256()
    for part in parts:
        if part is not None:
            digest.update(repr(part.shape).encode())
            digest.update(np.ascontiguousarray(part, dtype=np.float32).tobytes())
        digest.update(b"|")
    return digest.hexdigest()


def train(
    kind: ModelKind,
    run_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
    epoch_callback: EpochCallback | None = None,
) -> FitResult[Any]:
    """Train ``kind``'s model and write the run folder ``run_dir``.

    Args:
        kind: the model kind, holding the run's configuration and data.
        run_dir: the run folder (created; see ``force``/``resume``).
        force: replace an existing ``run_dir`` (a new run only; only a folder that training wrote).
        resume: continue the run in ``run_dir`` from its last checkpoint; the configuration must agree
            with the saved one except for run-control keys (``epochs`` may grow), and the data must be
            the same (checked by fingerprint).
        progress: show a tqdm progress bar on stderr.
        epoch_callback: called after every epoch with ``(epoch, metric_row)``; an exception it raises
            stops the run like a crash would (used by tests to interrupt a run).
    """
    config = kind.config
    config.validate()
    run_dir = Path(run_dir)
    sha256 = fingerprint(kind.data_arrays())
    if config.tensorboard:
        check_tensorboard()
    device = torch.device(check_device(config.device))  # auto: CUDA if available
    if not resume:
        check_new_output(run_dir, force, "run folder", command="train", exists_fix=resume_or_force(run_dir))
    with torch_threads(config.threads):
        seed_everything(config.seed)  # the initial weights come from torch's global generator
        model = kind.build(device)
        generator = torch.Generator(device=device).manual_seed(config.seed)
        run = _Run(kind, run_dir, model, Adam(model.parameters(), lr=config.lr), generator, sha256)
        if resume:
            run.restore()
            if run.epoch >= config.epochs:
                print(f"{run_dir} already has {run.epoch} epochs; nothing to do", file=sys.stderr)
                return run.result()
        else:
            with atomic_dir(run_dir, force, "run folder", command="train") as tmp:
                run.checkpoint(tmp)  # epoch 0: the folder is resumable from the start
        columns = kind.columns()
        log = MetricsLog(run_dir, columns, config.tensorboard, first_epoch=run.epoch + 1)
        bar = progress_bar(config.epochs, run.epoch, progress)
        try:
            for epoch in range(run.epoch + 1, config.epochs + 1):
                started = time.perf_counter()
                row = run.train_epoch(epoch)
                row.update(kind.evaluate())
                row["epoch"] = epoch
                row["seconds"] = time.perf_counter() - started
                if not math.isfinite(row["loss"]):
                    raise AbsactionError(
                        f"training diverged: the loss is {row['loss']} in epoch {epoch}", kind.divergence_fix
                    )
                run.epoch, run.elapsed = epoch, run.elapsed + row["seconds"]
                run.metrics.append(row)
                log.append(row)
                bar.update(1)
                bar.set_postfix({k: f"{row[k]:.3g}" for k in kind.progress_terms}, refresh=False)
                if epoch % config.checkpoint_every == 0 or epoch == config.epochs:
                    run.checkpoint(run_dir)
                if epoch_callback is not None:
                    epoch_callback(epoch, row)
        finally:
            bar.close()  # ends the bar's line before anything else (an error, Ctrl-C's message) is printed
            log.close()
        return run.result()


@dataclasses.dataclass
class _Run:
    """The mutable state of one run, and how it is trained, checkpointed and restored."""

    kind: ModelKind
    run_dir: Path
    model: torch.nn.Module
    optimizer: Adam
    generator: torch.Generator
    sha256: str
    epoch: int = 0
    elapsed: float = 0.0
    metrics: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """One pass over the training items in a fresh random order; the epoch's training metrics."""
        kind, config = self.kind, self.kind.config
        kind.begin_epoch(epoch)
        self.model.train()
        n = kind.n_train
        order = torch.randperm(n, generator=self.generator, device=self.generator.device)
        sums: dict[str, Tensor] = {}
        for start in range(0, n, config.batch_size):
            terms = kind.loss(order[start : start + config.batch_size], self.generator)
            self.optimizer.zero_grad()
            terms.loss.backward()
            self.optimizer.step()
            kind.end_step()
            with torch.no_grad():  # weighted by batch size: the epoch's means are means over items
                for key, value in terms.logged.items():
                    if key not in sums:
                        sums[key] = torch.zeros_like(value)
                    sums[key] += value.detach() * terms.size
        return kind.end_epoch(sums, n)

    def checkpoint(self, folder: Path) -> None:
        """Write the resume state, the model with its record and the metrics into ``folder`` (each file
        atomically; the resume state first, as it alone decides where a resumed run continues)."""
        config = self.kind.config
        torch_rng, numpy_rng = ResumeState.capture_global_rng()
        state = ResumeState(
            epoch=self.epoch,
            step=self.optimizer.step_count,
            model_state=self.model.state_dict(),
            optimizer_state=self.optimizer.state_tensors(),
            generator_state=self.generator.get_state(),
            torch_rng_state=torch_rng,
            numpy_rng_state=numpy_rng,
            capacity_state=self.kind.schedule_state(),
            metrics=self.metrics,
            elapsed=self.elapsed,
            data_sha256=self.sha256,
        )
        save_resume_state(folder / RESUME_FILE, state)
        extra = {
            "train": config.to_dict(),
            "data": {**self.kind.data_info(), "sha256": self.sha256},
            "absaction_version": __version__,
            "epochs_completed": self.epoch,
            "complete": self.epoch >= config.epochs,
        }
        self.kind.save(folder, extra)
        write_metrics_csv(folder / METRICS_FILE, self.kind.columns(), self.metrics)

    def restore(self) -> None:
        """Load the last checkpoint of ``run_dir`` after checking that it belongs to this run."""
        config = self.kind.config
        saved = self.kind.read_record(self.run_dir)
        model_conflicts = self.kind.record_conflicts(self.run_dir, saved)
        saved_config = type(config).from_dict(saved["train"])
        conflicts: list[Conflict] = saved_config.conflicts(config.to_dict()) + model_conflicts
        state = load_resume_state(self.run_dir / RESUME_FILE)
        if state.data_sha256 != self.sha256:
            where = (saved.get("data") or {}).get("path") or "training data"
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
        self.kind.load_schedule_state(state.capacity_state)
        state.restore_global_rng()
        self.epoch, self.elapsed, self.metrics = state.epoch, state.elapsed, state.metrics
        # rows a killed session appended after its last checkpoint are dropped
        write_metrics_csv(self.run_dir / METRICS_FILE, self.kind.columns(), self.metrics)

    def result(self) -> FitResult[Any]:
        return FitResult(self.kind.trained_model(), self.run_dir, self.metrics, self.elapsed)


def resume_config(
    run_dir: str | os.PathLike[str],
    saved: dict[str, Any],
    config_class: Any,
    overrides: dict[str, Any] | None = None,
    data: str | os.PathLike[str] | None = None,
) -> tuple[Any, str | os.PathLike[str]]:
    """The configuration and dataset to continue the run in ``run_dir`` with, before its data is loaded.

    Args:
        run_dir: the run folder; ``saved`` its parsed ``config.json``.
        config_class: the kind's configuration dataclass (``from_dict``, ``conflicts``).
        overrides: configuration values given again; run-control keys (:data:`RUN_CONTROL_KEYS`) may
            change, any other value must equal the run's, else the error names it.
        data: the dataset, if given again; it must be the run's.

    Returns:
        The run's configuration with the run-control overrides applied, and the dataset to load.
    """
    if "train" not in saved or "data" not in saved:
        raise AbsactionError(
            f"{run_dir} was not written by absaction train", "start a new run in another folder"
        )
    config = config_class.from_dict(saved["train"])
    overrides = dict(overrides or {})
    conflicts = config.conflicts(overrides, saved.get("model_config"))
    saved_path = recorded_data(run_dir, saved)
    dataset = data if data is not None else saved_path
    if dataset is None:
        raise AbsactionError(
            f"{run_dir} does not record its dataset", f"pass the dataset again ({option('data', 'DATA')})"
        )
    if data is not None and saved_path is not None and _same_path(data, saved_path) is False:
        conflicts.append(("data", saved_path, os.fspath(data)))
    if conflicts:
        raise resume_conflict(Path(run_dir), conflicts)
    control = {key: value for key, value in overrides.items() if key in RUN_CONTROL_KEYS}
    return dataclasses.replace(config, **control), dataset


def resume_conflict(run_dir: Path, conflicts: list[Conflict]) -> AbsactionError:
    """The one-line error for a resume whose configuration or data differs from the run's."""
    described = "; ".join(f"{flag_name(key)} {new} vs the run's {old}" for key, old, new in conflicts)
    if any(key == "data" for key, _, _ in conflicts):
        fix = "resume with the run's own dataset (unchanged), or start a new run in another folder"
    else:
        fix = (
            f"drop {'that option' if len(conflicts) == 1 else 'those options'} to continue the run, "
            "or start a new run in another folder"
        )
    return AbsactionError(f"cannot resume {run_dir}: {described}", fix)


def resume_or_force(run_dir: str | os.PathLike[str]) -> str:
    """The fix for an existing run folder: continue it (a run of ``train``) or replace it."""
    if written_by(run_dir, "train"):
        return (f"continue it with absaction train --resume {run_dir}, pass {option('force')} to start over, "
                "or choose another folder")  # fmt: skip
    return f"pass {option('force')} to replace it or choose another folder"


def interrupted_message(run_dir: str | os.PathLike[str]) -> str:
    """What a Ctrl-C during training leaves: the last complete checkpoint, and how to go on."""
    try:
        epochs = json.loads((Path(run_dir) / RECORD_FILE).read_text()).get("epochs_completed", 0)
    except (OSError, ValueError):
        return "interrupted before the run folder was written; nothing was kept"
    return (
        f"interrupted; {run_dir} keeps the checkpoint of epoch {epochs}; "
        f"continue with: absaction train --resume {run_dir}"
    )


def recorded_data(run_dir: str | os.PathLike[str], saved: dict[str, Any]) -> str | None:
    """The dataset the run in ``run_dir`` was trained on, as its ``config.json`` (parsed: ``saved``)
    records it: the folder (stored relative to the run folder) when it is there, else the Minari id it
    was given as, else the folder where it should be (loading it then names what is missing); None when
    nothing is recorded."""
    data = saved.get("data")
    if not isinstance(data, dict):
        return None if not data else str(data)
    stored, minari_id = data.get("path") or data.get("dataset"), data.get("minari_id")
    path = None if not stored else path_from_record(stored, run_dir)
    if path is not None and path.exists():
        return str(path)
    if minari_id:
        return str(minari_id)
    return None if path is None else str(path)


def _same_path(given: str | os.PathLike[str], saved: str) -> bool | None:
    """Whether ``given`` names the dataset folder ``saved``; None when ``given`` is not a folder
    (a Minari id: the data fingerprint still catches a different dataset)."""
    given_path = Path(given)
    if not given_path.exists():
        return None
    return given_path.resolve() == Path(saved).resolve()


def progress_bar(total: int, initial: int, enabled: bool) -> Any:
    """The epochs' tqdm bar on stderr."""
    return tqdm(
        total=total, initial=initial, unit="epoch", desc="train", file=sys.stderr, disable=not enabled
    )
