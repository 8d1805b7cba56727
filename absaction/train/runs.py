"""Training from a dataset on disk, for every model kind: ``fit`` starts a run, ``resume`` continues one.

An action VAE's run (:class:`TrainConfig`) loads the dataset (``absaction.data``), cuts the windows the
configuration asks for (or, for a variable-length model without ``--window``, pads whole episodes and
keeps their lengths), splits them by episode into training and validation sets, and hands the arrays to
:func:`absaction.train.loop.fit_arrays`; a skill model's run (:class:`SkillTrainConfig`) is
:func:`absaction.train.skill_loop.fit_skills`. Both train on the one engine, :mod:`absaction.train.engine`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from absaction.data import ActionWindows, load_dataset, longest_window, pad_episodes, train_val_split
from absaction.data.windows import check_split, decisions_per_episode
from absaction.errors import option
from absaction.files import check_new_output
from absaction.models import io as model_io
from absaction.models.base import ActionVAE
from absaction.models.registry import model_class
from absaction.outputs import path_in_record
from absaction.train import engine
from absaction.train.config import SkillTrainConfig, TrainConfig
from absaction.train.engine import EpochCallback, FitResult, resume_config, resume_or_force
from absaction.train.loop import fit_arrays
from absaction.train.skill_loop import fit_skills, resume_skills

__all__ = ["fit", "load_windows", "recorded_data", "resume", "resume_or_force"]


def fit(
    data: str | os.PathLike[str],
    config: TrainConfig | SkillTrainConfig,
    run_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    progress: bool = True,
    epoch_callback: EpochCallback | None = None,
) -> FitResult[Any]:
    """Train a new model on the dataset ``data`` (a folder or a Minari id) into ``run_dir``.

    Args:
        data: dataset folder written by ``absaction collect``, or a local Minari dataset id.
        config: the run's configuration: :class:`TrainConfig` trains an action VAE,
            :class:`SkillTrainConfig` a skill model.
        run_dir: the run folder to create; an existing one is refused unless ``force``.
        force: replace an existing ``run_dir`` (only once the new run's folder is complete).
        progress: show a progress bar.
        epoch_callback: see :func:`~absaction.train.loop.fit_arrays`.
    """
    if isinstance(config, SkillTrainConfig):
        return fit_skills(
            data, config, run_dir, force=force, progress=progress, epoch_callback=epoch_callback
        )
    config.validate()
    # before the (slower) data loading; a run folder never replaces or lies inside its dataset
    check_new_output(run_dir, force, "run folder", command="train", inputs=[data],
                     exists_fix=resume_or_force(run_dir))  # fmt: skip
    return _fit_dataset(data, config, Path(run_dir), force=force, resume=False, progress=progress,
                        epoch_callback=epoch_callback)  # fmt: skip


def resume(
    run_dir: str | os.PathLike[str],
    overrides: dict[str, Any] | None = None,
    data: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    epoch_callback: EpochCallback | None = None,
) -> FitResult[Any]:
    """Continue the run in ``run_dir`` from its last checkpoint (an action VAE's or a skill model's).

    Args:
        run_dir: a run folder written by :func:`fit` (or ``absaction train``).
        overrides: configuration values given again (field names of the run's configuration; an action
            VAE's ``model_options`` as a dict). Run-control keys (``epochs``, ``checkpoint_every``,
            ``tensorboard``, ``threads``, ``device``) may change; any other value must equal the run's,
            else the error names it.
        data: the dataset, if given again; it must be the run's.
    """
    saved = model_io.read_config(run_dir)
    if saved.get("model") == "skill":
        return resume_skills(run_dir, overrides, data, progress=progress, epoch_callback=epoch_callback)
    config, dataset = resume_config(run_dir, saved, TrainConfig, overrides, data)
    return _fit_dataset(dataset, config, Path(run_dir), force=False, resume=True, progress=progress,
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
) -> FitResult[ActionVAE]:
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
    return engine.recorded_data(run_dir, model_io.read_config(run_dir) if saved is None else saved)
