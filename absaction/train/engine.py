"""The training engine: one loop, one run folder and one resume for every model kind.

A model kind plugs in with its configuration, how to build its model, the loss terms of one batch, any
schedule, its evaluation and how its model is saved. Its budget is either

- **epochs** (:class:`ModelKind`: the action VAEs in :mod:`.loop`, the skill models in :mod:`.skill_loop`):
  the engine hands the kind shuffled indices over its training items and logs one metrics row per epoch;
  or
- **gradient steps** (:class:`StepKind`: the offline agents in :mod:`absaction.offline.runs`): the kind
  draws each batch itself, the engine logs one row per ``log_every`` steps and asks the kind after every
  step whether to evaluate (an evaluation may be expensive: env rollouts).

:func:`train` does the rest, the same way for every kind, naming the command (``train``, ``offline``):

- **data fingerprint**: SHA-256 of the kind's arrays (:func:`fingerprint`), stored with the run; a resume
  on other data is refused.
- **run folder**: created atomically with a checkpoint at epoch (step) 0, so it is always resumable,
  rewritten every ``checkpoint_every`` epochs (steps) and after the last: ``resume.safetensors`` first (it
  alone decides where a resumed run continues), then the kind's weights and ``config.json`` (the run's
  configuration, its data, ``epochs_completed`` or ``steps_completed`` and ``train_seconds``, and
  ``"complete"``), then ``metrics.csv``. Each file is written atomically.
- **bit-identical resume**: the weights, the optimiser's moments, the training generator, torch's and
  NumPy's global RNGs, the kind's schedule state and the metric sums of an unfinished row are saved, so a
  resumed run ends with the same bits as one that was never interrupted.
- **metrics**: one row per epoch, the kind's terms plus ``epoch`` and ``seconds``, or per ``log_every``
  steps, the kind's terms plus ``step``, ``seconds`` and ``updates_per_s``; appended to ``metrics.csv``
  as the run goes (and to TensorBoard with ``tensorboard``).
- **running**: the progress bar (closed before anything else is printed, so a Ctrl-C message starts on
  its own line), ``threads`` and ``device`` (auto | cpu | cuda | cuda:N).

One epoch is one pass over the training items in a random order drawn from a seeded ``torch.Generator``
on the training device (the same generator draws any sampling noise of the loss), in mini-batches of
``batch_size`` indices; every logged term is summed over the epoch as a tensor, weighted by batch size,
and read once at the end of the epoch (no per-step host synchronisation). A step budget's row sums its
steps' terms the same way.
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
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, runtime_checkable

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
``absaction_version``, ``epochs_completed`` or ``steps_completed`` and ``train_seconds``, ``complete``)."""

EpochCallback = Callable[[int, dict[str, Any]], None]
"""Called after every epoch (and its checkpoint, if any) with the epoch number and its metric row; for a
step budget after every step, with the step number and the row it closed (``{}`` when none)."""

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
    """one row per epoch (per ``log_every`` steps), the rows of metrics.csv"""
    seconds: float
    """training wall time, summed over all sessions of a resumed run"""
    completed: int = 0
    """epochs (gradient steps for a step budget) the run has done"""


class RunSettings(Protocol):
    """What the engine reads of every kind's configuration dataclass."""

    lr: float
    seed: int
    checkpoint_every: int
    """epochs (gradient steps for a step budget) between checkpoints, and one after the last"""
    threads: int
    device: str
    tensorboard: bool

    def validate(self) -> None: ...

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSettings: ...

    def conflicts(
        self, overrides: dict[str, Any], model_config: dict[str, Any] | None = None
    ) -> list[Conflict]: ...


class RunConfig(RunSettings, Protocol):
    """An epoch budget's configuration (every :class:`ModelKind`'s)."""

    epochs: int
    batch_size: int


class StepRunConfig(RunSettings, Protocol):
    """A step budget's configuration (a :class:`StepKind`'s)."""

    steps: int
    log_every: int
    """gradient steps per row of metrics.csv"""


class LossTerms(NamedTuple):
    """The loss of one batch and the terms logged for it."""

    loss: Tensor
    """the scalar the optimiser minimises"""
    logged: dict[str, Tensor]
    """terms (scalars or vectors) summed over the epoch (the row), each weighted by ``size``"""
    size: int
    """items in the batch"""


class RunKind(Protocol):
    """What every model kind gives the engine, whatever its budget (:class:`ModelKind`: epochs,
    :class:`StepKind`: gradient steps)."""

    @property
    def progress_terms(self) -> tuple[str, ...]:
        """Metric columns the progress bar shows."""

    @property
    def divergence_fix(self) -> str:
        """What to change when the loss stops being finite."""

    def data_arrays(self) -> Sequence[np.ndarray | None]:
        """The training and validation arrays the run's numbers depend on (fingerprinted)."""

    def data_info(self) -> dict[str, Any]:
        """What ``config.json`` records of the data, as ``data`` (the engine adds ``sha256``)."""

    def build(self, device: torch.device) -> torch.nn.Module:
        """The model to train, on ``device`` (its initial weights drawn from torch's global RNG or the
        kind's own seeded generator); the engine's Adam updates its parameters that require a gradient."""

    def columns(self) -> list[str]:
        """The ``metrics.csv`` header."""

    def end_step(self) -> None:
        """After each optimiser step (a schedule that counts steps, a target network's update)."""

    def schedule_state(self) -> dict[str, Any]:
        """JSON-able state of the kind's schedule (and its own generators), saved in the resume state."""

    def load_schedule_state(self, state: dict[str, Any]) -> None: ...

    def read_record(self, run_dir: Path) -> dict[str, Any]:
        """The parsed ``config.json`` of ``run_dir`` (a clear error for a damaged one)."""

    def record_conflicts(self, run_dir: Path, saved: dict[str, Any]) -> list[Conflict]:
        """How the model built now differs from the run's (raise for a run of another kind)."""

    def save(self, folder: Path, extra: dict[str, Any]) -> None:
        """Write the model's weights and ``config.json`` (with ``extra``) into ``folder``, atomically."""

    def trained_model(self) -> Any:
        """The model as :class:`FitResult` returns it."""


class ModelKind(RunKind, Protocol):
    """A kind trained for a number of epochs.

    The engine calls :meth:`~RunKind.build` once (after seeding, inside the thread limit); then, every
    epoch, :meth:`begin_epoch`, :meth:`loss` and :meth:`~RunKind.end_step` for every batch, :meth:`end_epoch`
    with the epoch's sums and :meth:`evaluate`; :meth:`~RunKind.save` at every checkpoint.
    """

    @property
    def config(self) -> RunConfig:
        """The run's configuration (written to ``config.json`` as ``train``)."""

    @property
    def n_train(self) -> int:
        """Training items: an epoch draws a permutation of ``range(n_train)``."""

    def begin_epoch(self, epoch: int) -> None:
        """Set up (1-based) ``epoch``: a schedule's values that hold for the whole epoch."""

    def loss(self, index: Tensor, generator: torch.Generator) -> LossTerms:
        """The loss of the training items ``index`` (sampling noise drawn from ``generator``)."""

    def end_epoch(self, sums: dict[str, Tensor], n: int) -> dict[str, Any]:
        """The epoch's training metrics from the sums of the logged terms over its ``n`` items."""

    def evaluate(self) -> dict[str, Any]:
        """Validation metrics after an epoch (merged into its row)."""


@runtime_checkable
class StepKind(RunKind, Protocol):
    """A kind trained for a number of gradient steps on batches it draws itself.

    The engine calls :meth:`~RunKind.build` once; then, every step, :meth:`batch_loss`, the optimiser step,
    :meth:`~RunKind.end_step` and :meth:`evaluate`; :meth:`row_metrics` every ``log_every`` steps and after
    the last; :meth:`~RunKind.save` every ``checkpoint_every`` steps and after the last.
    """

    @property
    def config(self) -> StepRunConfig:
        """The run's configuration (written to ``config.json`` as ``train``)."""

    def batch_loss(self, generator: torch.Generator) -> LossTerms:
        """The loss of the next batch, which the kind draws itself (any sampling noise from ``generator``,
        the engine's seeded training generator)."""

    def row_metrics(self, sums: dict[str, Tensor], n: int) -> dict[str, Any]:
        """A metrics row from the sums of the logged terms over the row's ``n`` items; a value that is
        not finite stops the run."""

    def evaluate(self, step: int, final: bool) -> dict[str, Any]:
        """After every step (``final``: the run's last): the kind decides whether it is time to evaluate
        and returns ``{}`` when it is not. It keeps its evaluations itself (in its schedule state and
        its own files); what it returns is shown on the progress bar."""


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
    kind: ModelKind | StepKind,
    run_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
    epoch_callback: EpochCallback | None = None,
    command: str = "train",
) -> FitResult[Any]:
    """Train ``kind``'s model and write the run folder ``run_dir``.

    Args:
        kind: the model kind, holding the run's configuration and data; a :class:`StepKind` trains for a
            number of gradient steps, any other (a :class:`ModelKind`) for a number of epochs.
        run_dir: the run folder (created; see ``force``/``resume``).
        force: replace an existing ``run_dir`` (a new run only; only a folder that ``command`` wrote).
        resume: continue the run in ``run_dir`` from its last checkpoint; the configuration must agree
            with the saved one except for run-control keys (``epochs`` or ``steps`` may grow), and the
            data must be the same (checked by fingerprint).
        progress: show a tqdm progress bar on stderr.
        epoch_callback: called after every epoch with ``(epoch, metric_row)`` (a step budget: after every
            step with ``(step, the row it closed or {})``); an exception it raises stops the run like a
            crash would (used by tests to interrupt a run).
        command: the ``absaction`` command that trains this kind (``train``, ``offline``): the run folder
            records it (what ``force`` may replace) and the messages name it.
    """
    config = kind.config
    config.validate()
    run_dir = Path(run_dir)
    sha256 = fingerprint(kind.data_arrays())
    if config.tensorboard:
        check_tensorboard()
    device = torch.device(check_device(config.device))  # auto: CUDA if available
    if not resume:
        check_new_output(
            run_dir, force, "run folder", command=command, exists_fix=resume_or_force(run_dir, command)
        )
    budget = (
        _Budget("step", kind.config.steps)
        if isinstance(kind, StepKind)
        else _Budget("epoch", kind.config.epochs)
    )
    with torch_threads(config.threads):
        seed_everything(config.seed)  # the initial weights come from torch's global generator
        model = kind.build(device)
        generator = torch.Generator(device=device).manual_seed(config.seed)
        run = _Run(kind, run_dir, model, Adam(model.parameters(), lr=config.lr), generator, sha256, budget)
        if resume:
            run.restore()
            if run.epoch >= budget.total:
                print(f"{run_dir} already has {run.epoch} {budget.unit}s; nothing to do", file=sys.stderr)
                return run.result()
        else:
            with atomic_dir(run_dir, force, "run folder", command=command) as tmp:
                run.checkpoint(tmp)  # epoch (step) 0: the folder is resumable from the start
        log = MetricsLog(run_dir, kind.columns(), config.tensorboard, first_epoch=run.epoch + 1)
        bar = progress_bar(budget.total, run.epoch, progress, unit=budget.unit, desc=command)
        try:
            if isinstance(kind, StepKind):
                _train_steps(run, kind, log, bar, epoch_callback)
            else:
                _train_epochs(run, kind, log, bar, epoch_callback)
        finally:
            bar.close()  # ends the bar's line before anything else (an error, Ctrl-C's message) is printed
            log.close()
        return run.result()


def _train_epochs(
    run: _Run, kind: ModelKind, log: MetricsLog, bar: Any, epoch_callback: EpochCallback | None
) -> None:
    """The epochs left of an epoch budget: one metrics row each, then its checkpoint when due."""
    config = kind.config
    for epoch in range(run.epoch + 1, config.epochs + 1):
        started = time.perf_counter()
        row = run.train_epoch(kind, epoch)
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
            run.checkpoint(run.run_dir)
        if epoch_callback is not None:
            epoch_callback(epoch, row)


def _train_steps(
    run: _Run, kind: StepKind, log: MetricsLog, bar: Any, step_callback: EpochCallback | None
) -> None:
    """The steps left of a step budget: a metrics row every ``log_every`` steps, the kind's evaluation
    when it says so, a checkpoint every ``checkpoint_every`` steps (and after the last of each)."""
    config = kind.config
    shown: dict[str, str] = {}
    run.model.train()
    while run.epoch < config.steps:
        started = time.perf_counter()
        run.train_step(kind)
        seconds = time.perf_counter() - started
        step = run.epoch = run.epoch + 1
        run.elapsed += seconds
        run.row_steps, run.row_seconds = run.row_steps + 1, run.row_seconds + seconds
        final = step == config.steps
        row: dict[str, Any] = {}
        if step % config.log_every == 0 or final:
            row = run.close_row(kind, step)
            log.append(row)
            shown.update({k: f"{row[k]:.3g}" for k in kind.progress_terms if k in row})
        evaluation = kind.evaluate(step, final)
        shown.update({k: f"{v:.3g}" for k, v in evaluation.items()})
        bar.update(1)
        if row or evaluation:
            bar.set_postfix(shown, refresh=False)
        if step % config.checkpoint_every == 0 or final:
            run.checkpoint(run.run_dir)
        if step_callback is not None:
            step_callback(step, row)


class _Budget(NamedTuple):
    """How long a run trains."""

    unit: str  # epoch | step
    total: int  # epochs or gradient steps


@dataclasses.dataclass
class _Run:
    """The mutable state of one run, and how it is trained, checkpointed and restored."""

    kind: ModelKind | StepKind
    run_dir: Path
    model: torch.nn.Module
    optimizer: Adam
    generator: torch.Generator
    sha256: str
    budget: _Budget
    epoch: int = 0
    """completed epochs (gradient steps for a step budget)"""
    elapsed: float = 0.0
    metrics: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # a step budget's unfinished metrics row: its sums, items, steps and training seconds
    row_sums: dict[str, Tensor] = dataclasses.field(default_factory=dict)
    row_items: int = 0
    row_steps: int = 0
    row_seconds: float = 0.0

    def train_epoch(self, kind: ModelKind, epoch: int) -> dict[str, Any]:
        """One pass over the training items in a fresh random order; the epoch's training metrics."""
        config = kind.config
        kind.begin_epoch(epoch)
        self.model.train()
        n = kind.n_train
        order = torch.randperm(n, generator=self.generator, device=self.generator.device)
        sums: dict[str, Tensor] = {}
        for start in range(0, n, config.batch_size):
            self.update(kind, kind.loss(order[start : start + config.batch_size], self.generator), sums)
        return kind.end_epoch(sums, n)

    def train_step(self, kind: StepKind) -> None:
        """One gradient step on the batch the kind draws, its terms added to the row's sums."""
        terms = kind.batch_loss(self.generator)
        self.update(kind, terms, self.row_sums)
        self.row_items += terms.size

    def update(self, kind: ModelKind | StepKind, terms: LossTerms, sums: dict[str, Tensor]) -> None:
        """The optimiser step on ``terms.loss``; the logged terms added to ``sums``."""
        self.optimizer.zero_grad()
        terms.loss.backward()
        self.optimizer.step()
        kind.end_step()
        with torch.no_grad():  # weighted by batch size: the row's means are means over items
            for key, value in terms.logged.items():
                if key not in sums:
                    sums[key] = torch.zeros_like(value)
                sums[key] += value.detach() * terms.size

    def close_row(self, kind: StepKind, step: int) -> dict[str, Any]:
        """The metrics row of the steps since the last one (read once: one host synchronisation)."""
        metrics = kind.row_metrics(self.row_sums, self.row_items)
        bad = next((k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v)), None)
        if bad is not None:
            raise AbsactionError(
                f"training diverged: {bad} is {metrics[bad]} by step {step}", kind.divergence_fix
            )
        row = {"step": step, **metrics, "seconds": self.row_seconds}
        row["updates_per_s"] = self.row_steps / max(self.row_seconds, 1e-9)
        self.metrics.append(row)
        self.row_sums, self.row_items, self.row_steps, self.row_seconds = {}, 0, 0, 0.0
        return row

    def checkpoint(self, folder: Path) -> None:
        """Write the resume state, the model with its record and the metrics into ``folder`` (each file
        atomically; the resume state first, as it alone decides where a resumed run continues)."""
        config, unit, total = self.kind.config, self.budget.unit, self.budget.total
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
            row_sums=self.row_sums if self.row_steps else {},
            row={"items": self.row_items, "steps": self.row_steps, "seconds": self.row_seconds}
            if self.row_steps
            else {},
        )
        save_resume_state(folder / RESUME_FILE, state)
        extra: dict[str, Any] = {
            "train": config.to_dict(),
            "data": {**self.kind.data_info(), "sha256": self.sha256},
            "absaction_version": __version__,
            f"{unit}s_completed": self.epoch,
        }
        if unit == "step":
            extra["train_seconds"] = self.elapsed
        extra["complete"] = self.epoch >= total
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
        unit, total = self.budget
        if total < state.epoch:
            raise AbsactionError(
                f"{option(unit + 's', str(total))} is less than the {state.epoch} {unit}s "
                f"{self.run_dir} has done",
                f"pass {option(unit + 's', str(state.epoch))} or more",
            )
        self.model.load_state_dict(state.model_state)
        self.optimizer.load_state(state.optimizer_state, state.step)
        self.generator.set_state(state.generator_state)
        self.kind.load_schedule_state(state.capacity_state)
        state.restore_global_rng()
        self.epoch, self.elapsed, self.metrics = state.epoch, state.elapsed, state.metrics
        self.row_sums = {k: v.to(self.generator.device) for k, v in state.row_sums.items()}
        row = state.row
        self.row_items, self.row_steps, self.row_seconds = (
            row.get("items", 0),
            row.get("steps", 0),
            row.get("seconds", 0.0),
        )
        # rows a killed session appended after its last checkpoint are dropped
        write_metrics_csv(self.run_dir / METRICS_FILE, self.kind.columns(), self.metrics)

    def result(self) -> FitResult[Any]:
        return FitResult(self.kind.trained_model(), self.run_dir, self.metrics, self.elapsed, self.epoch)


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


def resume_or_force(run_dir: str | os.PathLike[str], command: str = "train") -> str:
    """The fix for an existing run folder: continue it (a run of ``absaction <command>``) or replace it."""
    if written_by(run_dir, command):
        return (f"continue it with absaction {command} --resume {run_dir}, pass {option('force')} to start "
                "over, or choose another folder")  # fmt: skip
    return f"pass {option('force')} to replace it or choose another folder"


def interrupted_message(run_dir: str | os.PathLike[str], command: str = "train") -> str:
    """What a Ctrl-C during ``absaction <command>`` leaves: the last complete checkpoint, and how to go
    on."""
    try:
        record = json.loads((Path(run_dir) / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return "interrupted before the run folder was written; nothing was kept"
    unit = "step" if "steps_completed" in record else "epoch"
    return (
        f"interrupted; {run_dir} keeps the checkpoint of {unit} {record.get(unit + 's_completed', 0)}; "
        f"continue with: absaction {command} --resume {run_dir}"
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


def progress_bar(total: int, initial: int, enabled: bool, unit: str = "epoch", desc: str = "train") -> Any:
    """The tqdm bar of a run's epochs (or steps) on stderr."""
    return tqdm(
        total=total, initial=initial, unit=unit, desc=desc, file=sys.stderr, disable=not enabled,
        **({"mininterval": 0.5, "smoothing": 0.1} if unit == "step" else {}),
    )  # fmt: skip
