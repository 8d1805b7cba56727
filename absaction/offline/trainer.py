"""The step loop of an offline run and everything about it that is not the agent: checkpoints, a
bit-identical resume, metrics.csv, the progress bar, and when to evaluate.

The parts a generic training engine owns sit behind one small interface here, so that the loop can move
onto such an engine unchanged:

- :class:`Trainable`: what the loop trains. One gradient step at a time (:meth:`Trainable.train_step`
  returns that step's metrics as a tensor), its whole state as tensors plus JSON
  (:meth:`Trainable.state` / :meth:`Trainable.load_state`), and its model written into a folder
  (:meth:`Trainable.save`).
- :class:`RunStore`: the run folder's bookkeeping files. ``resume.safetensors`` (one file, written
  atomically: the trainable's tensors, and in its metadata the loop's counters, the metric rows, the
  evaluation rows and the data's fingerprint) and ``metrics.csv``.
- :func:`run_loop`: the loop. Every ``log_every`` steps a metrics row (each metric's mean over those
  steps); every ``eval_every`` steps and at the end an evaluation (a callback); every
  ``checkpoint_every`` steps and at the end a checkpoint. A run resumed from any checkpoint continues
  exactly as the uninterrupted run would (same seed, machine and thread count): the batch generator,
  the optimiser's moments and the partial metric sums are part of the state.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import safetensors.torch
import torch
from torch import Tensor
from tqdm.auto import tqdm

from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes
from absaction.models.io import describe_error, safetensors_bytes
from absaction.train.metrics import write_metrics_csv

RESUME_FILE = "resume.safetensors"
METRICS_FILE = "metrics.csv"
FORMAT = "absaction-offline-resume"
FORMAT_VERSION = 1


class Trainable(Protocol):
    """What :func:`run_loop` trains."""

    metric_names: tuple[str, ...]

    def train_step(self) -> Tensor:
        """One gradient step; its metrics, a detached ``(len(metric_names),)`` tensor."""
        ...

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Everything that decides the next steps: tensors, and JSON-able values."""
        ...

    def load_state(self, tensors: dict[str, Tensor], values: dict[str, Any]) -> None: ...

    def save(self, folder: Path, progress: LoopState) -> None:
        """Write the model (weights and config.json) into ``folder``."""
        ...


@dataclass
class LoopState:
    """The loop's own counters and records (stored in the resume file's metadata)."""

    step: int = 0
    """completed gradient steps"""
    steps: int = 0
    """gradient steps the run is to make"""
    elapsed: float = 0.0
    """seconds spent in gradient steps so far, over all sessions"""
    metrics: list[dict[str, Any]] = field(default_factory=list)
    """the rows of metrics.csv so far"""
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    """the rows of eval.csv so far"""
    metric_sum: list[float] = field(default_factory=list)
    """sums of each metric over the steps since the last metrics row"""
    metric_count: int = 0
    """steps since the last metrics row"""
    data_sha256: str = ""

    @property
    def complete(self) -> bool:
        return self.step >= self.steps


class RunStore:
    """The bookkeeping files of a run folder.

    Args:
        run_dir: the run folder.
        metric_names: the trainable's metrics (the columns of metrics.csv after ``step``).
    """

    def __init__(self, run_dir: Path, metric_names: tuple[str, ...]) -> None:
        self.run_dir = run_dir
        self.columns = ["step", *metric_names, "seconds", "updates_per_s"]

    def checkpoint(self, folder: Path, trainable: Trainable, loop: LoopState) -> None:
        """Write the resume state, then the model, then metrics.csv into ``folder`` (each atomically; the
        resume state first, as it alone decides where a resumed run continues)."""
        tensors, values = trainable.state()
        meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
        meta["loop"] = json.dumps(loop.__dict__, sort_keys=True)
        meta["trainable"] = json.dumps(values, sort_keys=True)
        blob = safetensors_bytes({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, meta)
        atomic_write_bytes(folder / RESUME_FILE, blob)
        trainable.save(folder, loop)
        write_metrics_csv(folder / METRICS_FILE, self.columns, loop.metrics)

    def restore(self, trainable: Trainable) -> LoopState:
        """Load the last checkpoint into ``trainable``; the loop's state."""
        path = self.run_dir / RESUME_FILE
        fix = f"start a new run; {self.run_dir} cannot be resumed"
        try:
            blob = path.read_bytes()
            tensors = safetensors.torch.load(blob)
            with safetensors.safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
            if meta.get("format") != FORMAT or meta.get("format_version") != str(FORMAT_VERSION):
                raise ValueError(f"not an offline run's resume state (format {meta.get('format')})")
            loop = LoopState(**json.loads(meta["loop"]))
            values = json.loads(meta["trainable"])
        except AbsactionError:
            raise
        except Exception as err:  # missing, truncated, another run kind's: safetensors' and json's errors
            raise AbsactionError(f"cannot read {path} ({describe_error(err)})", fix) from None
        trainable.load_state(tensors, values)
        # rows a killed session appended after its last checkpoint are dropped
        write_metrics_csv(self.run_dir / METRICS_FILE, self.columns, loop.metrics)
        return loop


Evaluate = Callable[[LoopState], dict[str, Any]]
"""Runs an evaluation at ``loop.step``; returns its row (``step`` and the scores)."""

StepCallback = Callable[[int], None]
"""Called after every gradient step with the number of completed steps; an exception it raises stops
the run like a crash would (tests interrupt runs this way)."""


def run_loop(
    trainable: Trainable,
    store: RunStore,
    loop: LoopState,
    *,
    log_every: int,
    eval_every: int,
    checkpoint_every: int,
    evaluate: Evaluate | None = None,
    progress: bool = True,
    step_callback: StepCallback | None = None,
    description: str = "offline",
) -> LoopState:
    """Train ``trainable`` from ``loop.step`` to ``loop.steps`` (see the module docstring)."""
    names = trainable.metric_names
    # summed on the metrics' own device (no host synchronisation per step); read at each metrics row
    metric_sum: Tensor | None = None
    bar = tqdm(
        total=loop.steps, initial=loop.step, unit="step", desc=description, file=sys.stderr,
        disable=not progress, smoothing=0.1, mininterval=0.5,
    )  # fmt: skip
    if loop.evaluations:
        bar.set_postfix(success=f"{loop.evaluations[-1]['overall']:.2f}", refresh=False)
    window_elapsed = 0.0
    try:
        while loop.step < loop.steps:
            started = time.perf_counter()
            metrics = trainable.train_step()
            if metric_sum is None:
                start = loop.metric_sum or [0.0] * len(names)
                metric_sum = torch.tensor(start, dtype=torch.float64, device=metrics.device)
            metric_sum += metrics.to(torch.float64)
            loop.metric_count += 1
            loop.step += 1
            seconds = time.perf_counter() - started
            loop.elapsed += seconds
            window_elapsed += seconds
            bar.update(1)
            last = loop.step == loop.steps
            if loop.step % log_every == 0 or last:
                means = (metric_sum / loop.metric_count).tolist()
                if not all(math.isfinite(v) for v in means):
                    bad = next(n for n, v in zip(names, means, strict=True) if not math.isfinite(v))
                    raise AbsactionError(
                        f"training diverged: {bad} is not finite by step {loop.step}",
                        "lower lr (--lr) or check the dataset",
                    )
                row = {"step": loop.step, **dict(zip(names, means, strict=True)), "seconds": loop.elapsed}
                row["updates_per_s"] = loop.metric_count / max(window_elapsed, 1e-9)
                loop.metrics.append(row)
                metric_sum.zero_()
                loop.metric_count = 0
                window_elapsed = 0.0
            if evaluate is not None and (loop.step % eval_every == 0 or last):
                loop.evaluations.append(evaluate(loop))
                bar.set_postfix(success=f"{loop.evaluations[-1]['overall']:.2f}", refresh=False)
            if loop.step % checkpoint_every == 0 or last:
                loop.metric_sum = metric_sum.tolist() if loop.metric_count else []
                store.checkpoint(store.run_dir, trainable, loop)
            if step_callback is not None:
                step_callback(loop.step)
    finally:
        bar.close()
    return loop
