"""OGBench's dataset files: names, the npz layout, checked reading and atomic writing.

An OGBench dataset ``NAME`` (e.g. ``pointmaze-large-stitch-v0``) is two files in one folder,
``NAME.npz`` (training) and ``NAME-val.npz`` (validation), each holding one row per step of every
episode, episodes one after another:

==================  ==================  =====================================================
key                 dtype, shape        meaning
==================  ==================  =====================================================
``observations``    float32 (N, D)      the observation before the step
``actions``         float32 (N, A)      the action taken there
``terminals``       bool (N,)           True on each episode's last row
``qpos``, ``qvel``  float32 (N, ...)    MuJoCo's state before the step (optional)
==================  ==================  =====================================================

The last row of an episode has no next observation, so an episode of ``T`` rows holds ``T - 1``
transitions (``ogbench.load_dataset`` drops that row too). OGBench reads such files from
``~/.ogbench/data`` unless told otherwise (:data:`OGBENCH_DATA_DIR`).

Reading never unpickles (``allow_pickle=False``) and refuses, in one line each, a file that is not an
npz, lacks a key, has keys of different lengths, holds NaN or infinite values, or does not end on a
terminal row.

    >>> parse_dataset_name("pointmaze-large-stitch-v0")
    DatasetName(agent='pointmaze', maze='large', dataset_type='stitch', version=0, val=False)
    >>> parse_dataset_name("pointmaze-large-stitch-v0-val").env_id
    'ogbench:pointmaze-large-v0'
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from absaction import __version__
from absaction.envs.ogbench_maze import DATASET_TYPES
from absaction.errors import AbsactionError, one_line, option
from absaction.files import atomic_write_bytes, atomic_write_json

OGBENCH_DATA_DIR = "~/.ogbench/data"
"""OGBench's own default dataset folder (``ogbench.utils.DEFAULT_DATASET_DIR``)."""

REQUIRED_KEYS: tuple[str, ...] = ("observations", "actions", "terminals")
"""Keys every OGBench dataset file holds."""
STATE_KEYS: tuple[str, ...] = ("qpos", "qvel")
"""Optional keys of OGBench's locomotion files (the simulator state before each step)."""
VAL_SUFFIX = "-val"
"""``NAME-val.npz`` is the validation file of ``NAME.npz``."""
RECORD_SUFFIX = ".json"
"""``NAME.json``: the record (command, settings, data check) that ``absaction collect`` writes beside
``NAME.npz``; it is what lets ``--force`` replace those files."""

_NAME = re.compile(
    r"^(?P<agent>[a-z]+maze)-(?P<maze>[a-z]+)-(?P<type>[a-z]+)-v(?P<version>\d+)(?P<val>-val)?$"
)


@dataclass(frozen=True)
class DatasetName:
    """The parts of an OGBench maze dataset name ``AGENT-MAZE-TYPE-vN[-val]``."""

    agent: str
    """``pointmaze``, ``antmaze``, ``humanoidmaze``."""
    maze: str
    """``medium``, ``large``, ``giant``, ``teleport``, ..."""
    dataset_type: str
    """``navigate``, ``stitch``, ``explore``, ..."""
    version: int
    val: bool = False
    """the name ends in ``-val`` (the validation file)."""

    @property
    def name(self) -> str:
        """The dataset's name without ``-val``, e.g. ``pointmaze-large-stitch-v0``."""
        return f"{self.agent}-{self.maze}-{self.dataset_type}-v{self.version}"

    @property
    def env_name(self) -> str:
        """OGBench's env id, e.g. ``pointmaze-large-v0``."""
        return f"{self.agent}-{self.maze}-v{self.version}"

    @property
    def env_id(self) -> str:
        """The env id as absaction's commands take it, e.g. ``ogbench:pointmaze-large-v0``."""
        return f"ogbench:{self.env_name}"


def parse_dataset_name(text: str) -> DatasetName | None:
    """The parts of an OGBench maze dataset name, or None when ``text`` is not one."""
    match = _NAME.match(text)
    if match is None:
        return None
    return DatasetName(
        agent=match["agent"],
        maze=match["maze"],
        dataset_type=match["type"],
        version=int(match["version"]),
        val=bool(match["val"]),
    )


def dataset_name_for(env_name: str, dataset_type: str) -> str:
    """``pointmaze-large-v0`` + ``stitch`` -> ``pointmaze-large-stitch-v0``."""
    check_dataset_type(dataset_type)
    base, _, version = env_name.rpartition("-v")
    return f"{base}-{dataset_type}-v{version}"


def check_dataset_type(dataset_type: str) -> None:
    """Refuse a dataset type the oracle cannot regenerate."""
    if dataset_type not in DATASET_TYPES:
        raise AbsactionError(
            f"unknown OGBench dataset type {dataset_type!r}",
            f"choose {' or '.join(DATASET_TYPES)} (the pointmaze datasets absaction regenerates)",
        )


def regenerate_command(name: DatasetName, folder: str | os.PathLike[str] = OGBENCH_DATA_DIR) -> str:
    """The ``absaction collect`` command that writes dataset ``name`` into ``folder``."""
    return (
        f"absaction collect --env {name.env_id} --expert oracle:{name.dataset_type} --out {os.fspath(folder)}"
    )


def env_id_of(dataset_name: str) -> str | None:
    """The env id (``ogbench:ENV``) of an OGBench dataset name, by OGBench's own rule for plain
    goal-conditioned datasets (the dataset type, second to last, is dropped): ``pointmaze-large-stitch-v0``
    -> ``ogbench:pointmaze-large-v0``, ``cube-single-play-v0`` -> ``ogbench:cube-single-v0``; None for a
    name that does not end in a type and a version."""
    parts = dataset_name.removesuffix(VAL_SUFFIX).split("-")
    if len(parts) < 3 or not re.fullmatch(r"v\d+", parts[-1]) or {"singletask", "oraclerep"} & set(parts):
        return None
    return "ogbench:" + "-".join(parts[:-2] + parts[-1:])


def data_dir(folder: str | os.PathLike[str] | None = None) -> Path:
    """``folder`` (default :data:`OGBENCH_DATA_DIR`), with ``~`` expanded."""
    return Path(os.fspath(folder) if folder is not None else OGBENCH_DATA_DIR).expanduser()


def find_ogbench_file(text: str, folder: str | os.PathLike[str] | None = None) -> Path | None:
    """The file of OGBench dataset name ``text`` in ``folder`` (default :data:`OGBENCH_DATA_DIR`).

    Returns None when ``text`` is no file there and does not read as an OGBench maze dataset name (the
    caller then tries other kinds of dataset).

    Raises:
        AbsactionError: the name is an OGBench maze dataset's but its file is missing (naming the command
            that regenerates it), or its type is one the oracle cannot regenerate.
    """
    root = data_dir(folder)
    if "/" not in text and os.sep not in text and text:
        candidate = root / f"{text}.npz"
        if candidate.is_file():
            return candidate
    name = parse_dataset_name(text)
    if name is None:
        return None
    missing = f"OGBench dataset {text} not found: no file {root / (text + '.npz')}"
    if name.agent != "pointmaze":
        raise AbsactionError(
            missing,
            f"absaction regenerates pointmaze datasets only: download it with ogbench.download_datasets"
            f"([{name.name!r}]) where the network reaches OGBench, and copy it into {root}",
        )
    check_dataset_type(name.dataset_type)
    split = " (its -val file comes with it)" if name.val else ""
    command = regenerate_command(name, folder if folder is not None else OGBENCH_DATA_DIR)
    raise AbsactionError(missing, f"regenerate it with `{command}`{split}")


@dataclass(eq=False)
class OGBenchFile:
    """The checked arrays of one OGBench npz file (rows of all episodes, one after another)."""

    path: Path
    observations: np.ndarray
    """``(N, ...)`` float32 (uint8 for pixel observations)."""
    actions: np.ndarray
    """``(N, A)`` float32."""
    terminals: np.ndarray
    """``(N,)`` bool, True on each episode's last row."""
    qpos: np.ndarray | None = None
    qvel: np.ndarray | None = None

    @property
    def name(self) -> str:
        """The file's dataset name: its file name without ``.npz``."""
        return self.path.name.removesuffix(".npz")

    def episode_bounds(self) -> list[tuple[int, int]]:
        """``[(first row, one past the last row), ...]`` of every episode."""
        ends = np.flatnonzero(self.terminals) + 1
        starts = np.r_[0, ends[:-1]]
        return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def read_ogbench(path: str | os.PathLike[str]) -> OGBenchFile:
    """Read and check an OGBench npz file.

    Raises:
        AbsactionError: the file cannot be read as an npz, lacks ``observations``/``actions``/
            ``terminals``, its arrays differ in length, it holds NaN or infinite values, an episode has
            fewer than 2 rows (no transition), or its last row is no episode's end.
    """
    path = Path(path)
    fix = "point at a file in OGBench's layout (observations, actions, terminals) or regenerate it"
    name = parse_dataset_name(path.name.removesuffix(".npz"))
    if name is not None and name.agent == "pointmaze" and name.dataset_type in DATASET_TYPES:
        fix = f"regenerate it with `{regenerate_command(name, path.parent)}`"
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz archive")
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise AbsactionError(f"cannot read {path} as an npz file ({one_line(err)})", fix) from None
    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        held = ", ".join(sorted(arrays)) or "nothing"
        raise AbsactionError(
            f"{path} is not an OGBench dataset: no {', '.join(missing)} (it holds {held})", fix
        )
    lengths = {
        key: len(value) if value.ndim else 0
        for key, value in arrays.items()
        if key in (*REQUIRED_KEYS, *STATE_KEYS)
    }
    if len(set(lengths.values())) != 1:
        shown = ", ".join(f"{key} {n}" for key, n in lengths.items())
        raise AbsactionError(f"{path} has arrays of different lengths ({shown})", fix)
    if lengths["terminals"] == 0:
        raise AbsactionError(f"{path} holds no rows", fix)
    actions = arrays["actions"]
    terminals = arrays["terminals"]
    if actions.ndim != 2 or not np.issubdtype(actions.dtype, np.floating):
        raise AbsactionError(
            f"{path} has actions of shape {actions.shape} and dtype {actions.dtype}; absaction learns from "
            "continuous actions (N, A)",
            "use an OGBench dataset with continuous actions (the maze and manipulation datasets)",
        )
    if terminals.ndim != 1 or not np.isin(terminals, (0, 1)).all():
        raise AbsactionError(f"{path} has terminals that are not one 0/1 flag per row", fix)
    terminals = terminals.astype(bool)
    if not terminals[-1]:
        raise AbsactionError(f"{path} does not end on an episode's last row (terminals[-1] is false)", fix)
    for key in ("observations", "actions", *STATE_KEYS):
        value = arrays.get(key)
        if value is None or not np.issubdtype(value.dtype, np.floating):
            continue
        bad = ~np.isfinite(value.reshape(len(value), -1)).all(axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            episode = int(np.count_nonzero(terminals[:row]))
            raise AbsactionError(
                f"{path} has NaN or infinite {key} (first in row {row}, episode {episode})", fix
            )
    result = OGBenchFile(
        path=path,
        observations=arrays["observations"]
        if arrays["observations"].dtype == np.uint8
        else arrays["observations"].astype(np.float32, copy=False),
        actions=actions.astype(np.float32, copy=False),
        terminals=terminals,
        qpos=arrays.get("qpos"),
        qvel=arrays.get("qvel"),
    )
    short = [i for i, (a, b) in enumerate(result.episode_bounds()) if b - a < 2]
    if short:
        raise AbsactionError(
            f"{path} has episodes of a single row (the first: episode {short[0]}), which hold no transition",
            fix,
        )
    return result


def output_paths(folder: str | os.PathLike[str], name: str) -> tuple[Path, Path, Path]:
    """``(NAME.npz, NAME-val.npz, NAME.json)`` in ``folder``."""
    root = Path(folder).expanduser()
    return root / f"{name}.npz", root / f"{name}{VAL_SUFFIX}.npz", root / f"{name}{RECORD_SUFFIX}"


def check_ogbench_outputs(folder: str | os.PathLike[str], name: str, force: bool) -> None:
    """Refuse, before any work, to write dataset ``name`` into ``folder`` where that cannot be done.

    ``folder`` may exist and hold other datasets (OGBench keeps them all in one folder). Existing files
    of ``name`` are replaced only with ``force``, and only when the record beside them says
    ``absaction collect`` wrote them (never a file downloaded from OGBench).
    """
    root = Path(folder).expanduser()
    if root.exists() and not root.is_dir():
        raise AbsactionError(f"output folder {folder} is a file", "pass a folder to --out")
    paths = output_paths(root, name)
    existing = [p for p in paths if p.exists() or p.is_symlink()]
    if existing and not force:
        raise AbsactionError(
            f"{existing[0]} already exists",
            f"pass {option('force')} to replace it (only files absaction collect wrote) or choose another "
            "folder",
        )
    if existing and not _written_by_collect(paths[2]):
        raise AbsactionError(
            f"{existing[0]} was not written by absaction collect (no record {paths[2].name} beside it)",
            "move it away or choose another output folder; absaction never replaces a file it did not write",
        )
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise AbsactionError(
            f"cannot write into {folder}: {probe} is not writable", "choose a writable folder"
        )


def _written_by_collect(record: Path) -> bool:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("tool") == "absaction" and data.get("command") == "collect"


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``arrays`` as a compressed npz file's bytes (as OGBench saves its datasets)."""
    buffer = io.BytesIO()
    named: dict[str, Any] = dict(arrays)  # numpy's stubs type ** as its allow_pickle flag
    np.savez_compressed(buffer, **named)
    return buffer.getvalue()


def write_ogbench(
    folder: str | os.PathLike[str],
    name: str,
    train: dict[str, np.ndarray],
    val: dict[str, np.ndarray],
    record: dict[str, Any],
    force: bool = False,
) -> tuple[Path, Path, Path]:
    """Write ``NAME.npz``, ``NAME-val.npz`` and the record ``NAME.json`` into ``folder``.

    Each file goes through a temporary sibling and a rename (:func:`absaction.files.atomic_write_bytes`);
    both npz files are compressed in memory before anything is renamed, so an error while building them
    leaves ``folder`` as it was. The record goes first: files of ``name`` that a failed rename left
    behind can then be replaced with ``force``.

    Args:
        folder: the dataset folder (created when missing).
        name: the dataset's name, e.g. ``pointmaze-large-stitch-v0``.
        train, val: arrays in OGBench's layout (module docstring).
        record: what made the files (settings, data check); ``tool``/``command`` keys are added.
        force: replace files of ``name`` that ``absaction collect`` wrote before.
    """
    check_ogbench_outputs(folder, name, force)
    paths = output_paths(folder, name)
    blobs = [npz_bytes(train), npz_bytes(val)]
    full = {"tool": "absaction", "command": "collect", "absaction_version": __version__, **record}
    atomic_write_json(paths[2], full)
    for path, blob in zip(paths[:2], blobs, strict=True):
        atomic_write_bytes(path, blob)
    return paths
