"""Checkpoints of an ``absaction rl`` run in progress, and how a run continues from one.

While a run trains, its folder holds (besides the ``eval.csv`` and ``sb3/`` of a finished run):

- ``resume.json``: what marks the run as incomplete; names the newest complete checkpoint folder and
  holds the run's configuration, the evaluation rows so far and the training callback's counters;
- ``checkpoint-<primitive steps>/``: ``agent.zip`` (SB3: policy, optimisers, step counters, the last
  observation), ``replay_buffer.pkl`` (SAC/TD3), ``state.pkl`` (the vector env with every env's
  internal state and random generator, VecNormalize statistics, the global random states of torch,
  NumPy and ``random``, the action space's generator, SB3's pending log values, the warm start's
  results) and ``progress.csv`` (SB3's log so far).

A checkpoint folder is written under a temporary name and renamed when complete; ``resume.json`` is
then replaced atomically to point at it, and older checkpoints are removed. A run killed at any moment
therefore resumes from the newest checkpoint ``resume.json`` names. When the run finishes,
``resume.json`` and the checkpoints are removed, leaving the layout of a run that was never interrupted.

Checkpoints are taken at the start of a rollout (``on_rollout_start``): for PPO that is an update
boundary (the rollout buffer is empty), for SAC/TD3 the moment between a gradient step and the next env
step. The envs are pickled mid-episode, so nothing has to wait for an episode to end. Restoring the
whole state there makes the continued run draw the same random numbers as an uninterrupted one: its
evaluation rows are equal (except ``seconds``, wall-clock time). Two SB3 options are outside this
promise, as neither's state is reachable from a callback: gSDE exploration (``use_sde``: its noise matrix
is drawn before the rollout-start hook and is not part of the saved policy) and Ornstein-Uhlenbeck
action noise (``noise_type: ornstein-uhlenbeck``, which ``learn`` resets); a resumed run with either
continues correctly but draws other exploration noise. On a GPU, nondeterministic kernels can differ too.

``state.pkl`` and ``agent.zip`` are pickles, like every SB3 file: resume only run folders you wrote.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import cloudpickle  # SB3's own dependency: pickles envs defined in any module
import numpy as np
import torch
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.vec_env import VecNormalize

from absaction.errors import AbsactionError, option
from absaction.files import atomic_write_json, read_versioned_json

RESUME_JSON = "resume.json"
FORMAT = "absaction-rl-resume"
FORMAT_VERSION = 1
CHECKPOINT_PREFIX = "checkpoint-"
# What SB3's agent.zip restores into an agent built afresh from the run's configuration: the counters
# and the last observation. Everything else in the zip (spaces, schedules, hyperparameters) is rebuilt
# from the configuration, so that the schedules read this process's primitive-step clock.
AGENT_STATE_KEYS: tuple[str, ...] = (
    "num_timesteps",
    "_n_updates",
    "_n_calls",
    "_episode_num",
    "_last_obs",
    "_last_episode_starts",
    "_last_original_obs",
    "ep_info_buffer",
    "ep_success_buffer",
    "_current_progress_remaining",
    "action_noise",
)


def has_checkpoint(run_dir: str | os.PathLike[str]) -> bool:
    """Whether ``run_dir`` is an incomplete ``absaction rl`` run that can be resumed."""
    return Path(run_dir, RESUME_JSON).is_file()


def read_resume_record(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``resume.json`` of ``run_dir`` (one-line errors for a missing or damaged one)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise AbsactionError(
            f"run folder {run_dir} does not exist", "pass the --out folder of `absaction rl`"
        )
    if not has_checkpoint(run_dir):
        held = "is a finished run" if (run_dir / "agent.json").is_file() else "holds no checkpoint"
        raise AbsactionError(
            f"{run_dir} {held}, so it cannot be resumed",
            f"start a new run with --out (or replace this one with {option('force')})",
        )
    return read_versioned_json(
        run_dir / RESUME_JSON, FORMAT, FORMAT_VERSION, "an absaction rl resume record",
        f"start the run again with {option('force')}",
    )  # fmt: skip


def save_checkpoint(
    run_dir: Path,
    agent: Any,
    venv: Any,
    record: dict[str, Any],
    extra: dict[str, Any],
    progress_csv: bytes | None = None,
) -> None:
    """Write a checkpoint of the running ``agent`` and ``venv`` into ``run_dir``.

    Args:
        run_dir: the run folder (training writes ``eval.csv`` and ``sb3/`` into it).
        agent: the SB3 algorithm, at the start of a rollout.
        venv: the vector env it trains in (VecNormalize included).
        record: JSON-able state for ``resume.json`` (configuration, evaluation rows, callback counters);
            must hold ``primitive_steps``.
        extra: picklable state that JSON cannot hold (warm-start results, ...), returned by
            :func:`load_checkpoint` under ``"extra"``.
        progress_csv: SB3's log so far (its rows from before a resume included), or None.
    """

    name = f"{CHECKPOINT_PREFIX}{int(record['primitive_steps']):09d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=run_dir))
    try:
        agent.save(tmp / "agent.zip")
        if hasattr(agent, "replay_buffer") and agent.replay_buffer is not None:
            agent.save_replay_buffer(tmp / "replay_buffer.pkl")
        normalize = venv if isinstance(venv, VecNormalize) else None
        state = {
            # VecNormalize pickles without its inner env and running returns: both stored beside it
            "env": venv.venv if normalize is not None else venv,
            "vec_normalize": normalize,
            "vec_normalize_returns": None if normalize is None else normalize.returns,
            "rng": capture_rng(agent),
            "logger": {
                name: dict(getattr(agent.logger, name))
                for name in ("name_to_value", "name_to_count", "name_to_excluded")
            },
            "extra": extra,
        }
        (tmp / "state.pkl").write_bytes(cloudpickle.dumps(state))
        if progress_csv is not None:
            (tmp / "progress.csv").write_bytes(progress_csv)
        for path in tmp.iterdir():  # durable before resume.json points at it
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        final = run_dir / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_json(
        run_dir / RESUME_JSON,
        {"format": FORMAT, "format_version": FORMAT_VERSION, "checkpoint": name, **record},
    )
    remove_checkpoints(run_dir, keep=name)


def remove_checkpoints(run_dir: Path, keep: str | None = None) -> None:
    """Remove every checkpoint folder (finished or half-written) of ``run_dir`` except ``keep``."""
    for path in run_dir.iterdir():
        stem = path.name.lstrip(".")
        if path.is_dir() and stem.startswith(CHECKPOINT_PREFIX) and path.name != keep:
            shutil.rmtree(path, ignore_errors=True)


def finish(run_dir: Path) -> None:
    """Mark the run complete: ``resume.json`` first (the marker), then the checkpoints."""
    Path(run_dir, RESUME_JSON).unlink(missing_ok=True)
    remove_checkpoints(run_dir)


def load_checkpoint(run_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    """The pickled state of the checkpoint ``record`` (``resume.json``) names, with the vector env
    reassembled (``"venv"``) and the folder (``"folder"``)."""

    folder = run_dir / str(record.get("checkpoint"))
    try:
        state = pickle.loads((folder / "state.pkl").read_bytes())
    except Exception as err:  # a missing file, a truncated pickle, an env class that moved
        raise AbsactionError(
            f"the checkpoint {folder} cannot be read ({type(err).__name__}: {str(err)[:120]})",
            f"start the run again with {option('force')}",
        ) from None
    venv = state["env"]
    normalize = state["vec_normalize"]
    if normalize is not None:
        normalize.set_venv(venv)
        normalize.returns = state["vec_normalize_returns"]
        venv = normalize
    state["venv"] = venv
    state["folder"] = folder
    return state


def restore_agent(agent: Any, state: dict[str, Any]) -> None:
    """Load the checkpoint's policy, optimisers, counters and replay buffer into ``agent`` (built afresh
    from the run's configuration with the checkpoint's ``venv``)."""

    folder: Path = state["folder"]
    data, params, variables = load_from_zip_file(folder / "agent.zip", device=agent.device)
    assert data is not None
    for key in AGENT_STATE_KEYS:
        if key in data:
            setattr(agent, key, data[key])
    agent.set_parameters(params, exact_match=True, device=agent.device)
    for name, value in (variables or {}).items():
        if value is not None:  # e.g. SAC's log_ent_coef, whose optimiser holds this very tensor
            _get_attr(agent, name).data.copy_(value.data)
    if (folder / "replay_buffer.pkl").is_file():
        agent.load_replay_buffer(folder / "replay_buffer.pkl")
    for name, values in state["logger"].items():
        getattr(agent.logger, name).update(values)


def capture_rng(agent: Any) -> dict[str, Any]:
    """Every random state a run draws from: torch's, NumPy's and Python's global generators and the
    agent's action space (SAC/TD3 sample it before ``learning_starts``). The envs carry their own."""
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),  # noqa: NPY002 - SB3 draws minibatches from the global state
        "python": random.getstate(),
        "action_space": agent.action_space.np_random.bit_generator.state,
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(agent: Any, states: dict[str, Any]) -> None:
    """Undo every draw since :func:`capture_rng` (and SB3's reseeding when the agent was built)."""
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])  # noqa: NPY002
    random.setstate(states["python"])
    agent.action_space.np_random.bit_generator.state = states["action_space"]
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def merged_progress_csv(before: bytes | None, path: Path) -> bytes | None:
    """SB3's log of a resumed run: the rows logged before the resume (``before``, a CSV file's bytes)
    followed by this session's ``path`` (columns united). None when there is neither."""
    tables = []
    sources = [before] + ([path.read_bytes()] if path.is_file() else [])
    for source in sources:
        if source:
            reader = csv.DictReader(io.StringIO(source.decode("utf-8")))
            tables.append((list(reader.fieldnames or []), list(reader)))
    if not tables:
        return None
    columns: list[str] = []
    for names, _ in tables:
        columns += [name for name in names if name not in columns]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, restval="")
    writer.writeheader()
    for _, rows in tables:
        writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def _get_attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def resume_or_force(run_dir: str | os.PathLike[str]) -> str:
    """The fix for an existing ``--out`` folder: continue an incomplete run, or replace it."""
    if has_checkpoint(run_dir):
        return (
            f"continue it with {resume_command(run_dir)}, pass {option('force')} to start over, "
            "or choose another folder"
        )
    return f"pass {option('force')} to replace it or choose another path"


def resume_command(run_dir: str | os.PathLike[str]) -> str:
    """How the caller continues ``run_dir``: the command line, or the Python call."""
    if option("force").startswith("--"):
        return f"absaction rl --resume {run_dir}"
    return f"resume_agent({os.fspath(run_dir)!r})"


def describe(run_dir: Path) -> str:
    """``"N of M primitive steps"`` of an incomplete run, for messages."""
    try:
        record = json.loads((run_dir / RESUME_JSON).read_text(encoding="utf-8"))
        return f"{int(record['primitive_steps']):,} of {int(record['config']['steps']):,} primitive steps"
    except (OSError, ValueError, KeyError, TypeError):
        return "its last checkpoint"
