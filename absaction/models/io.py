"""Model folders: ``model.safetensors`` (weights) + ``config.json`` (everything to rebuild the model).

Loading never unpickles: weights go through safetensors, the rest is JSON. ``config.json`` keys
written here:

``format`` ("absaction-model"), ``format_version`` (1), ``model`` (registry name), ``model_config``
(the model's configuration dataclass), ``normalizer`` (``Normalizer.to_dict()``), ``env_id``,
``action_low`` / ``action_high`` (lists or null), ``kl_per_dim`` (per ladder, the mean KL of every
dimension over the training set, or null), ``active_kl_threshold``; training adds its own keys
(``train``, ``data``, ``epochs_completed``, ``complete``, ...) through ``extra``.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from absaction.data.normalizer import Normalizer
from absaction.errors import AbsactionError, option
from absaction.files import atomic_write_bytes, atomic_write_json, read_versioned_json
from absaction.models.base import ACTIVE_KL_THRESHOLD, ActionVAE
from absaction.models.registry import MODELS, model_class

FORMAT = "absaction-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def model_record(model: ActionVAE) -> dict[str, Any]:
    """The ``config.json`` entries that describe ``model`` itself."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model.name,
        "model_config": model.config.to_dict(),
        "normalizer": model.normalizer.to_dict(),
        "env_id": model.env_id,
        "action_low": None if model.action_low is None else model.action_low.tolist(),
        "action_high": None if model.action_high is None else model.action_high.tolist(),
        "kl_per_dim": model.kl_per_dim,
        "active_kl_threshold": ACTIVE_KL_THRESHOLD,
    }


def weights_bytes(model: ActionVAE) -> bytes:
    """The model's state dict as safetensors bytes (tagged with the format and model name)."""

    tensors = {key: value.detach().cpu().contiguous().clone() for key, value in model.state_dict().items()}
    return safetensors_bytes(tensors, {"format": FORMAT, "model": model.name})


def safetensors_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """``safetensors.torch.save(tensors, metadata)`` with the metadata's keys in sorted order, so that
    the same tensors always give the same bytes (safetensors writes them in a hash map's order, which
    changes from one process to the next). The file reads back as any safetensors file."""
    blob = safetensors.torch.save(tensors, metadata=metadata)
    (size,) = struct.unpack("<Q", blob[:8])  # little-endian header length, then the JSON header
    header = json.loads(blob[8 : 8 + size])
    header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # the data stays 8-byte aligned, as safetensors pads it
    return struct.pack("<Q", len(text)) + text + blob[8 + size :]


def save(
    model: ActionVAE,
    run_dir: str | os.PathLike[str],
    extra: dict[str, Any] | None = None,
    force: bool = False,
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``run_dir`` (created if needed), each atomically.

    Args:
        model: the model to save.
        run_dir: the model folder.
        extra: further ``config.json`` entries (training configuration, data description, ...); they
            may not replace the model's own keys.
        force: replace a model already saved in ``run_dir`` (otherwise that is an error).
    """
    run_dir = Path(run_dir)
    if (run_dir / WEIGHTS_FILE).exists() and not force:
        raise AbsactionError(f"{run_dir} already holds a model", "pass force=True or choose another folder")
    record = model_record(model)
    clash = sorted(set(record) & set(extra or {}))
    if clash:
        raise ValueError(f"extra config keys {clash} would replace the model's own")
    run_dir.mkdir(parents=True, exist_ok=True)
    # weights first: a config.json always describes weights that are already complete on disk
    atomic_write_bytes(run_dir / WEIGHTS_FILE, weights_bytes(model))
    atomic_write_json(run_dir / CONFIG_FILE, {**record, **(extra or {})})
    return run_dir


def read_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``config.json`` of a model folder, with a clear error for every way it can be wrong."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise AbsactionError(
            f"model folder {run_dir} does not exist", "pass the run folder that absaction train wrote"
        )
    if not run_dir.is_dir():
        raise AbsactionError(f"{run_dir} is not a folder", "pass the run folder that absaction train wrote")
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise AbsactionError(
            f"{run_dir} has no {CONFIG_FILE}, so it is not a trained model",
            "pass the folder of an absaction train run (absaction train --data DATA --out RUN writes one)",
        )
    what = "an absaction model configuration"
    config = read_versioned_json(path, FORMAT, FORMAT_VERSION, what, "retrain the model")
    if config.get("model") not in MODELS:
        raise AbsactionError(
            f"{path} names an unknown model {config.get('model')!r}",
            f"known models: {', '.join(MODELS)}; retrain or upgrade absaction",
        )
    return config


def model_from_config(config: dict[str, Any]) -> ActionVAE:
    """Build an untrained model exactly as described by a ``config.json`` dictionary."""
    cls = model_class(config["model"])
    try:
        model_config = cls.config_class.from_dict(dict(config["model_config"]))
        normalizer = Normalizer.from_dict(config["normalizer"])
        low, high = config.get("action_low"), config.get("action_high")
        return cls(
            model_config,
            normalizer=normalizer,
            env_id=config.get("env_id"),
            action_low=None if low is None else np.asarray(low, dtype=np.float32),
            action_high=None if high is None else np.asarray(high, dtype=np.float32),
            kl_per_dim=config.get("kl_per_dim"),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise AbsactionError(
            f"config.json is incomplete or inconsistent ({err})", "retrain the model"
        ) from None


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file (no pickle) with a clear error for a missing, truncated or corrupt one."""

    if not path.is_file():
        raise AbsactionError(
            f"{path} is missing",
            f"resume the run (absaction train --resume {path.parent}) or retrain the model",
        )
    try:
        return safetensors.torch.load(path.read_bytes())
    except Exception as err:  # safetensors raises its own error type (and others) for damaged files
        raise AbsactionError(
            f"{path} is corrupt or truncated ({describe_error(err)})",
            f"resume the run (absaction train --resume {path.parent}) or retrain the model",
        ) from None


def describe_error(err: BaseException) -> str:
    """``Type: first line of the message``, to fit a library's error into a one-line message."""
    lines = str(err).splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def check_complete(run_dir: str | os.PathLike[str], config: dict[str, Any] | None = None) -> None:
    """Refuse the model of a training run that stopped before its last epoch (``config.json`` says
    ``"complete": false``: interrupted, killed, or stopped by a time budget), with the command that
    finishes it. A folder without the key (a model saved by :func:`save` alone) counts as complete.

    Args:
        run_dir: the model folder.
        config: its parsed ``config.json`` when already read (:func:`read_config`).
    """
    config = read_config(run_dir) if config is None else config
    if config.get("complete", True) is not False:
        return
    done = config.get("epochs_completed")
    planned = (config.get("train") or {}).get("epochs")
    progress = f" (epoch {done} of {planned})" if done is not None and planned is not None else ""
    shown = Path(run_dir)
    if shown.is_absolute() and shown.is_relative_to(Path.cwd()):  # as typed, when a caller resolved it
        shown = shown.relative_to(Path.cwd())
    raise AbsactionError(
        f"{shown} holds an unfinished training run{progress}",
        f"finish it with `absaction train --resume {shown}`, or pass {option('allow_incomplete')} to "
        "use its last checkpoint as it is",
    )


def load(
    run_dir: str | os.PathLike[str], device: str | torch.device = "cpu", *, allow_incomplete: bool = False
) -> ActionVAE:
    """Load a trained model from its folder (``absaction train --out``), in eval mode on ``device``.

    Args:
        run_dir: the model folder.
        device: where the weights go.
        allow_incomplete: also load the last checkpoint of a run whose training has not finished
            (refused by default: see :func:`check_complete`).

    Raises:
        AbsactionError: the folder or one of its files is missing, unreadable, corrupt or truncated,
            the weights do not match the configuration, or the run is unfinished (unless
            ``allow_incomplete``).
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    if not allow_incomplete:
        check_complete(run_dir, config)
    model = model_from_config(config)
    state = load_weights(run_dir / WEIGHTS_FILE)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        details = "; ".join(
            f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if keys
        )
        raise AbsactionError(
            f"{run_dir / WEIGHTS_FILE} does not match {CONFIG_FILE} ({details})",
            "the two files come from different runs; retrain or restore both",
        )
    model.load_state_dict(state)
    return model.to(device).eval()
