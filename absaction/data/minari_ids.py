"""Minari ids and where Minari finds them.

Minari looks for dataset ``ID`` in ``$MINARI_DATASETS_PATH/ID`` (default ``~/.minari/datasets``), and lists
or loads it only when the id stored inside equals that place. ``absaction collect`` therefore gives a
dataset written there the id of its place (:func:`minari_place`), and writes everywhere else through a
staging folder it points Minari at (:func:`minari_datasets_path`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from absaction.data.dataset import minari_root
from absaction.errors import AbsactionError, option

MINARI_ENV_VAR = "MINARI_DATASETS_PATH"
"""The environment variable that names Minari's datasets folder."""


def check_dataset_id(dataset_id: str) -> None:
    """Raise a one-line :class:`AbsactionError` unless ``dataset_id`` is a Minari id
    (``[namespace/]name-vN``)."""
    from minari.dataset.minari_dataset import parse_dataset_id  # lazy: minari is slow to import

    try:
        parse_dataset_id(dataset_id)  # TypeError when the -vN suffix is missing
    except (ValueError, TypeError):
        raise AbsactionError(
            f"malformed dataset id {dataset_id!r}",
            "use the form [namespace/]name-v0, e.g. reach2d-scripted-v0",
        ) from None


def minari_id_of(path: str | os.PathLike[str]) -> str | None:
    """The Minari id a dataset folder at ``path`` is found by (``minari list local``,
    ``minari.load_dataset(id)``): its place under ``$MINARI_DATASETS_PATH`` (default
    ``~/.minari/datasets``), or None when it lies elsewhere."""
    root = minari_root().expanduser().resolve()
    try:
        return Path(path).expanduser().resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def minari_place(out: Path, dataset_id: str | None) -> str | None:
    """For an ``out`` under Minari's datasets folder, the id its place gives (which the dataset must carry
    for Minari to list and load it), else None; checked before any work starts.

    Raises:
        AbsactionError: ``dataset_id`` differs from that place, or the place is not a Minari id.
    """
    place = minari_id_of(out)
    if place is None:
        return None
    root = minari_root()
    if dataset_id is not None and dataset_id != place:
        raise AbsactionError(
            f"{out} lies in Minari's datasets folder {root} as {place!r}, but the dataset id is "
            f"{dataset_id!r}: Minari would neither list nor load it",
            f"write it to {root / dataset_id} or leave out {option('dataset_id', dataset_id)}",
        )
    try:
        check_dataset_id(place)
    except AbsactionError:
        raise AbsactionError(
            f"{out} lies in Minari's datasets folder {root}, where its place {place!r} is its Minari id, "
            "and that is not one",
            f"name the folder [namespace/]name-vN, e.g. {root / 'reach2d-scripted-v0'}",
        ) from None
    return place


@contextlib.contextmanager
def minari_datasets_path(path: Path) -> Iterator[None]:
    """Point Minari at ``path`` for the duration, restoring the caller's setting afterwards."""
    old = os.environ.get(MINARI_ENV_VAR)
    os.environ[MINARI_ENV_VAR] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(MINARI_ENV_VAR, None)
        else:
            os.environ[MINARI_ENV_VAR] = old
