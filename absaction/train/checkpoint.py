"""Resume state of a training run: one safetensors file, no pickle.

``resume.safetensors`` holds, as tensors, the model weights (``model/<name>``), the optimiser's
moment estimates (``optimizer/exp_avg/<i>``, ``optimizer/exp_avg_sq/<i>``), the training generator's
state (``rng/generator``), torch's global RNG state (``rng/torch``) and, for a step budget checkpointed
inside a metrics row, that row's metric sums (``row/<name>``); its metadata entry ``state`` is JSON with
the rest: completed epochs (steps for a step budget) and optimiser steps, NumPy's global
RNG state, the capacity schedule's state, the metric rows so far, the elapsed training time and the
fingerprint of the training data. Being a single file written atomically, it is always complete and
self-consistent: a run killed at any moment resumes from the last checkpoint it wrote.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from safetensors import safe_open

from absaction.errors import AbsactionError, option
from absaction.files import atomic_write_bytes
from absaction.models.io import describe_error

RESUME_FILE = "resume.safetensors"
FORMAT = "absaction-resume"
FORMAT_VERSION = 1


@dataclasses.dataclass
class ResumeState:
    """Everything needed to continue a run exactly where a checkpoint left it."""

    epoch: int
    """completed epochs (gradient steps for a step budget)"""
    step: int
    """completed optimiser steps"""
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, torch.Tensor]
    """:meth:`absaction.train.optim.Adam.state_tensors` (its step count is ``step``)"""
    generator_state: torch.Tensor
    """state of the training generator (shuffling and sampling noise)"""
    torch_rng_state: torch.Tensor
    numpy_rng_state: list[Any]
    capacity_state: dict[str, Any]
    metrics: list[dict[str, Any]]
    """one row per completed epoch (the rows of metrics.csv)"""
    elapsed: float
    """seconds spent training so far"""
    data_sha256: str
    row_sums: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    """a step budget's metric sums of the row a checkpoint fell inside (empty at a row's end)"""
    row: dict[str, Any] = dataclasses.field(default_factory=dict)
    """that row's counters (items, steps, seconds); empty at a row's end"""

    @staticmethod
    def capture_global_rng() -> tuple[torch.Tensor, list[Any]]:
        """torch's and NumPy's global RNG states (a model or hook drawing from them resumes exactly)."""
        # the legacy global generator on purpose: it is what third-party code draws from
        name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
        return torch.get_rng_state(), [
            name,
            np.asarray(keys).tolist(),
            int(pos),
            int(has_gauss),
            float(cached),
        ]

    def restore_global_rng(self) -> None:
        torch.set_rng_state(self.torch_rng_state)
        name, keys, pos, has_gauss, cached = self.numpy_rng_state
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))  # noqa: NPY002


def save_resume_state(path: Path, state: ResumeState) -> None:
    """Write ``state`` to ``path`` atomically."""

    tensors = {f"model/{k}": _plain(v) for k, v in state.model_state.items()}
    tensors.update({f"optimizer/{k}": _plain(v) for k, v in state.optimizer_state.items()})
    tensors["rng/generator"] = _plain(state.generator_state)
    tensors["rng/torch"] = _plain(state.torch_rng_state)
    tensors.update({f"row/{k}": _plain(v) for k, v in state.row_sums.items()})
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "epoch": state.epoch,
        "step": state.step,
        "numpy_rng": state.numpy_rng_state,
        "capacity": state.capacity_state,
        "metrics": state.metrics,
        "elapsed": state.elapsed,
        "data_sha256": state.data_sha256,
    }
    if state.row:  # only a step budget's checkpoint inside a metrics row has one
        meta["row"] = state.row
    atomic_write_bytes(
        path, safetensors.torch.save(tensors, metadata={"format": FORMAT, "state": json.dumps(meta)})
    )


def load_resume_state(path: Path) -> ResumeState:
    """Read a resume state, with a clear error for a missing or damaged file."""

    run_dir = path.parent
    if not path.is_file():
        raise AbsactionError(
            f"{run_dir} has no {RESUME_FILE}, so it cannot be resumed",
            f"start a new run in another folder (or replace this one with {option('force')})",
        )
    try:
        tensors: dict[str, torch.Tensor] = {}
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            for key in handle.keys():
                tensors[key] = handle.get_tensor(key)
        if metadata.get("format") != FORMAT:
            raise ValueError("not an absaction resume file")
        meta = json.loads(metadata["state"])
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format version {meta.get('format_version')}")
        return ResumeState(
            epoch=int(meta["epoch"]),
            step=int(meta["step"]),
            model_state={k.split("/", 1)[1]: v for k, v in tensors.items() if k.startswith("model/")},
            optimizer_state={k.split("/", 1)[1]: v for k, v in tensors.items() if k.startswith("optimizer/")},
            generator_state=tensors["rng/generator"],
            torch_rng_state=tensors["rng/torch"],
            numpy_rng_state=meta["numpy_rng"],
            capacity_state=meta["capacity"],
            metrics=meta["metrics"],
            elapsed=float(meta["elapsed"]),
            data_sha256=str(meta["data_sha256"]),
            row_sums={k.split("/", 1)[1]: v for k, v in tensors.items() if k.startswith("row/")},
            row=meta.get("row", {}),
        )
    except Exception as err:  # safetensors, JSON and key errors all mean the same to the user
        raise AbsactionError(
            f"{path} is corrupt or truncated ({describe_error(err)})",
            f"start a new run in another folder (or replace this one with {option('force')})",
        ) from None


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    """A contiguous CPU copy that shares no memory (safetensors refuses shared or strided tensors)."""
    return tensor.detach().cpu().contiguous().clone()
