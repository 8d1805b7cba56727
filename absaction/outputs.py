"""What an output may replace: the rules behind every ``--out`` and ``--force``.

absaction never deletes what it did not write. Every output folder carries a small record,
``.absaction-output.json``, naming the command that wrote it; ``force`` replaces a folder only when that
record names the same command. A folder without it (the user's own files, another tool's output, another
command's output) is refused even with ``force``, naming what it holds. A file output (a figure) is
replaced only when its content is a figure of a known format.

An output may not be, contain or lie inside any of the command's inputs, nor be the current folder or one
of its ancestors (``--out .`` or ``--out ..``): replacing it would delete what the command reads or the
folder the user stands in. All of this is checked before any work starts.

    >>> import tempfile, pathlib
    >>> base = pathlib.Path(tempfile.mkdtemp())
    >>> (base / "mine").mkdir(); _ = (base / "mine" / "thesis.txt").write_text("years of work")
    >>> check_output(base / "mine", force=True, what="run folder", command="train")
    Traceback (most recent call last):
    ...
    absaction.errors.AbsactionError: run folder ... holds files that absaction train did not write ...
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from absaction import __version__
from absaction.errors import AbsactionError, option

RECORD_FILE = ".absaction-output.json"
# Leading bytes of the figure formats absaction writes (matplotlib's png, pdf, svg, jpg).
FIGURE_MAGIC: dict[str, tuple[bytes, ...]] = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "pdf": (b"%PDF",),
    "svg": (b"<?xml", b"<svg"),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
}
_LISTED = 3  # names shown when a folder holds foreign files


def write_record(folder: str | os.PathLike[str], command: str) -> None:
    """Mark ``folder`` as an output of ``absaction <command>`` (written inside the temporary folder, so it
    arrives with the output, never before it)."""
    record = {"tool": "absaction", "command": command, "absaction_version": __version__}
    Path(folder, RECORD_FILE).write_text(
        json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def read_record(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The output record of ``folder``, or None where there is none or it cannot be read."""
    try:
        record = json.loads(Path(folder, RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("tool") == "absaction" else None


def written_by(folder: str | os.PathLike[str], command: str) -> bool:
    """Whether ``folder`` is an output of ``absaction <command>``."""
    record = read_record(folder)
    return record is not None and record.get("command") == command


def check_output(
    path: str | os.PathLike[str],
    force: bool,
    what: str = "output folder",
    *,
    command: str | None = None,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    figure: bool = False,
    exists_fix: str | None = None,
) -> Path:
    """Validate ``path`` as a new output before any work starts; returns it as given (a ``Path``).

    Args:
        path: the output folder (or, with ``figure``, the figure file).
        force: the user asked to replace an existing output.
        what: how the error names it ("run folder", "figure", ...).
        command: the command whose record an existing folder must carry for ``force`` to replace it
            (``"train"``, ``"collect"``, ...); None refuses every existing folder.
        inputs: paths the command reads (datasets, models, experts); the output may not be, contain or
            lie inside any of them. None entries are skipped.
        figure: the output is one figure file; ``force`` replaces only a figure file.
        exists_fix: the fix named when ``path`` exists and ``force`` is not given (default: pass force).

    Raises:
        AbsactionError: naming the problem and the fix; nothing is created or removed.
    """
    path = Path(path)
    if str(path) in ("", ".", "..") or path.name in ("", ".", ".."):
        raise AbsactionError(
            f"{what} {str(path) or '(empty)'} names a folder, not a new output",
            "give a new name, e.g. --out runs/new",
        )
    real = path.resolve()
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        raise AbsactionError(
            f"{what} {path} is the current folder or contains it", "give a new folder below it"
        )
    exists = path.exists() or path.is_symlink()
    if exists and not force:
        raise AbsactionError(
            f"{what} {path} already exists",
            exists_fix or f"pass {option('force')} to replace it or choose another path",
        )
    for source in inputs:
        if source is not None:
            _refuse_overlap(path, real, Path(source), what)
    if exists:
        _check_replaceable(path, what, command, figure)
    probe = real.parent
    while not probe.exists():  # the nearest existing ancestor decides whether we can create it
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise AbsactionError(
            f"cannot write {what} {path}: {probe} is not writable", "choose a writable location"
        )
    return path


def _refuse_overlap(path: Path, real: Path, source: Path, what: str) -> None:
    if not source.exists():
        return  # an input that is not a path (a Minari id, "scripted") cannot overlap
    src = source.resolve()
    if real == src:
        relation = "is"
    elif src in real.parents:
        relation = "lies inside"
    elif real in src.parents:
        relation = "contains"
    else:
        return
    raise AbsactionError(
        f"{what} {path} {relation} the input {source}", "write the output to a folder apart from its inputs"
    )


def _check_replaceable(path: Path, what: str, command: str | None, figure: bool) -> None:
    """``force`` was given for an existing ``path``: refuse unless it is this command's own output."""
    if figure:
        if path.is_file() and _is_figure(path):
            return
        raise AbsactionError(
            f"{what} {path} exists and is not a figure",
            f"{option('force')} replaces only a figure; choose another path",
        )
    if path.is_dir() and command is not None and written_by(path, command):
        return
    if path.is_dir() and not any(path.iterdir()):
        return  # an empty folder holds nothing to lose
    if path.is_dir():
        names = sorted(p.name for p in path.iterdir())
        record = read_record(path)
        if record is not None:
            held = f"the output of absaction {record.get('command')}"
        else:
            shown = ", ".join(names[:_LISTED]) + (
                f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
            )
            held = f"files that absaction {command or 'itself'} did not write ({shown})"
        fix = "choose another path or remove it yourself"
        raise AbsactionError(
            f"{what} {path} holds {held}; {option('force')} replaces only its own output", fix
        )
    raise AbsactionError(
        f"{what} {path} is a file, not an output folder", "choose another path or remove it yourself"
    )


def _is_figure(path: Path) -> bool:
    fmt = path.suffix.lower().lstrip(".")
    with path.open("rb") as fh:
        head = fh.read(64).lstrip()
    return any(head.startswith(magic) for magic in FIGURE_MAGIC.get(fmt, ()))


# Paths inside a record (a run's config.json, a report, a benchmark's results) are stored relative to the
# folder that holds the record: the record then resolves from any working folder, and a committed result
# names no folder of the machine it ran on. Reading joins them to that folder again.


def path_in_record(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> str:
    """How a record kept in ``folder`` stores ``path``: relative to ``folder``, with ``/`` separators
    (``../data/reach2d`` for a run in ``runs/x`` of the dataset ``data/reach2d``); absolute only where no
    relative path exists (another drive on Windows).

    >>> path_in_record("data/reach2d", "runs/x")
    '../../data/reach2d'
    """
    target, base = Path(path).expanduser().absolute(), Path(folder).expanduser().absolute()
    try:
        return Path(os.path.relpath(target, base)).as_posix()
    except ValueError:  # no relative path between two Windows drives
        return str(target)


def path_from_record(stored: str | os.PathLike[str], folder: str | os.PathLike[str]) -> Path:
    """Where a path stored by :func:`path_in_record` in a record kept in ``folder`` lies, as an absolute
    path: an absolute one as it is, a relative one joined to ``folder``. A record written before paths
    were stored this way held a path relative to the working folder of its command: where only that one
    exists, it is the answer.

    >>> str(path_from_record("../../data/reach2d", "/home/me/runs/x"))
    '/home/me/data/reach2d'
    """
    stored = Path(stored).expanduser()
    if stored.is_absolute():
        return stored
    joined = Path(os.path.normpath(Path(folder).expanduser().absolute() / stored))
    if not joined.exists() and stored.exists():
        return stored.absolute()  # an older record: relative to the working folder it was written from
    return joined
