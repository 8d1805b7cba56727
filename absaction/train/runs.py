"""Training from a dataset on disk: ``fit`` starts a run, ``resume`` continues one.

Both load the dataset (``absaction.data``), cut the windows the configuration asks for (or, for a
variable-length model without ``--window``, pad whole episodes and keep their lengths), split them by
episode into training and validation sets, and hand the arrays to
:func:`absaction.train.loop.fit_arrays`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from absaction.data import ActionWindows, load_dataset, longest_window, pad_episodes, train_val_split
from absaction.data.windows import check_split, decisions_per_episode
from absaction.errors import AbsactionError, option
from absaction.files import check_new_output
from absaction.models import io as model_io
from absaction.models.registry import model_class
from absaction.outputs import path_from_record, path_in_record, written_by
from absaction.train.config import RUN_CONTROL_KEYS, TrainConfig
from absaction.train.loop import EpochCallback, FitResult, fit_arrays, resume_conflict


def fit(
    data: str | os.PathLike[str],
    config: TrainConfig,
    run_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    progress: bool = True,
    epoch_callback: EpochCallback | None = None,
) -> FitResult:
    """Train a new model on the dataset ``data`` (a folder or a Minari id) into ``run_dir``.

    Args:
        data: dataset folder written by ``absaction collect``, or a local Minari dataset id.
        config: the run's configuration.
        run_dir: the run folder to create; an existing one is refused unless ``force``.
        force: replace an existing ``run_dir`` (only once the new run's folder is complete).
        progress: show a progress bar.
        epoch_callback: see :func:`~absaction.train.loop.fit_arrays`.
    """
    config.validate()
    # before the (slower) data loading; a run folder never replaces or lies inside its dataset
    check_new_output(run_dir, force, "run folder", command="train", inputs=[data],
                     exists_fix=resume_or_force(run_dir))  # fmt: skip
    return _fit_dataset(data, config, Path(run_dir), force=force, resume=False, progress=progress,
                        epoch_callback=epoch_callback)  # fmt: skip


def resume_or_force(run_dir: str | os.PathLike[str]) -> str:
    """The fix for an existing run folder: continue it (a run of ``train``) or replace it."""
    if written_by(run_dir, "train"):
        return (f"continue it with absaction train --resume {run_dir}, pass {option('force')} to start over, "
                "or choose another folder")  # fmt: skip
    return f"pass {option('force')} to replace it or choose another folder"


def resume(
    run_dir: str | os.PathLike[str],
    overrides: dict[str, Any] | None = None,
    data: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    epoch_callback: EpochCallback | None = None,
) -> FitResult:
    """Continue the run in ``run_dir`` from its last checkpoint.

    Args:
        run_dir: a run folder written by :func:`fit` (or ``absaction train``).
        overrides: configuration values given again (``TrainConfig`` field names; ``model_options``
            as a dict). Run-control keys (``epochs``, ``checkpoint_every``, ``tensorboard``,
            ``threads``) may change; any other value must equal the run's, else the error names it.
        data: the dataset, if given again; it must be the run's.
    """
    run_dir = Path(run_dir)
    saved = model_io.read_config(run_dir)
    if "train" not in saved or "data" not in saved:
        raise AbsactionError(
            f"{run_dir} was not written by absaction train", "start a new run in another folder"
        )
    config = TrainConfig.from_dict(saved["train"])
    overrides = dict(overrides or {})
    model_options = overrides.pop("model_options", {}) or {}
    conflicts = config.conflicts(overrides)
    conflicts += [
        (key, saved["model_config"].get(key), value)
        for key, value in model_options.items()
        if saved["model_config"].get(key) != value
    ]
    saved_path = recorded_data(run_dir, saved)
    dataset_path = data if data is not None else saved_path
    if dataset_path is None:
        raise AbsactionError(
            f"{run_dir} does not record its dataset", f"pass the dataset again ({option('data', 'DATA')})"
        )
    if data is not None and saved_path is not None and _same_path(data, saved_path) is False:
        conflicts.append(("data", saved_path, os.fspath(data)))
    if conflicts:
        raise resume_conflict(run_dir, conflicts)
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if k in RUN_CONTROL_KEYS})
    return _fit_dataset(dataset_path, config, run_dir, force=False, resume=True, progress=progress,
                        epoch_callback=epoch_callback)  # fmt: skip


def load_windows(
    data: str | os.PathLike[str], config: TrainConfig, *, verbose: bool = False
) -> tuple[ActionWindows, ActionWindows, Any]:
    """The training and validation windows of ``data`` for ``config`` (split by episode), and the dataset.

    Without ``config.window`` a fixed-length model reads the longest windows it can that fit every episode
    and are at most :attr:`TrainConfig.DEFAULT_WINDOW` steps (:func:`absaction.data.longest_window`): whole
    episodes when they are that short; ``verbose`` says on stderr which window was chosen and why.
    """
    dataset = load_dataset(data)
    window = config.window
    if window is None and model_class(config.model).fixed_length:
        multiple = model_class(config.model).config_class.length_multiple(config.model_options)
        lengths = dataset.episode_lengths()
        window = longest_window(lengths, multiple, cap=TrainConfig.DEFAULT_WINDOW)
        if window is not None and verbose:
            low, high = int(lengths.min()), int(lengths.max())
            span = f"{low}" if low == high else f"{low} to {high}"
            if window < low // multiple * multiple:
                why = (
                    f"at most {TrainConfig.DEFAULT_WINDOW} by default, so that an agent decoding one window "
                    f"per decision makes {decisions_per_episode(lengths, window):.3g} decisions per episode"
                )
            else:
                why = f"the longest a {config.model} reads: its sequences divide by {multiple}"
            print(
                f"window: episodes of {span} steps; training on windows of {window} steps ({why}; choose "
                f"with {option('window', 'L')})",
                file=sys.stderr,
            )
    windows = dataset.action_windows(window, config.stride)
    train, val = windows.split_by_episode(config.val_fraction, config.seed)
    return train, val, dataset


def _fit_dataset(
    data: str | os.PathLike[str],
    config: TrainConfig,
    run_dir: Path,
    *,
    force: bool,
    resume: bool,
    progress: bool,
    epoch_callback: EpochCallback | None,
) -> FitResult:
    lengths: dict[str, Any] = {}
    if config.window is None and not model_class(config.model).fixed_length:
        # a variable-length model on whole episodes: zero-padded to the longest, with their lengths
        dataset = load_dataset(data)
        episodes = dataset.episode_actions()
        train_idx, val_idx = train_val_split(len(episodes), config.val_fraction, config.seed)
        padded, episode_lengths = pad_episodes(episodes)  # (E, T_max, A), (E,)
        train_actions, val_actions = padded[train_idx], padded[val_idx]
        lengths = {"train_lengths": episode_lengths[train_idx], "val_lengths": episode_lengths[val_idx]}
        window, val_episodes = None, val_idx.tolist()
    else:
        train, val, dataset = load_windows(data, config, verbose=progress and not resume)
        train_actions, val_actions = train.actions, val.actions
        window, val_episodes = train.length, np.unique(val.episode_index).tolist()
    episode_steps = dataset.episode_lengths()
    shorter = "" if window is None else f" or pass a shorter {option('window', 'L')} (now {window})"
    check_split(len(train_actions), len(val_actions), config.val_fraction, f"collect more episodes{shorter}")
    space = dataset.action_space
    data_info = {
        # relative to the run folder (absaction.outputs.path_in_record): found from any working folder
        "path": path_in_record(dataset.path, run_dir),
        # a dataset named by its Minari id is found by the id again, wherever MINARI_DATASETS_PATH points
        "minari_id": None if Path(data).expanduser().exists() else os.fspath(data),
        "episodes": len(dataset),
        "window": window,  # the length trained on, also when chosen for the user (config.window None)
        "stride": config.stride,
        "factor_names": list(dataset.factor_names),
        "val_episodes": val_episodes,
        "mean_episode_steps": float(episode_steps.mean()),
        # an agent decoding one window per decision (absaction.wrappers.LatentActionWrapper); a
        # variable-length model decodes whatever chunk the agent is given
        "decisions_per_episode": None if window is None else decisions_per_episode(episode_steps, window),
    }
    return fit_arrays(
        train_actions,
        config,
        run_dir,
        val_actions=val_actions,
        **lengths,
        env_id=dataset.env_id,
        action_low=np.asarray(space.low, dtype=np.float32),
        action_high=np.asarray(space.high, dtype=np.float32),
        data_info=data_info,
        force=force,
        resume=resume,
        progress=progress,
        epoch_callback=epoch_callback,
    )


def recorded_data(run_dir: str | os.PathLike[str], saved: dict[str, Any] | None = None) -> str | None:
    """The dataset the run in ``run_dir`` was trained on, as its ``config.json`` records it: the folder
    (stored relative to the run folder) when it is there, else the Minari id it was given as, else the
    folder where it should be (loading it then names what is missing); None when nothing is recorded.

    Args:
        run_dir: the run folder.
        saved: its parsed ``config.json``, when already read.
    """
    if saved is None:
        saved = model_io.read_config(run_dir)
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
