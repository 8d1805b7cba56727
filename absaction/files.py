"""Atomic file and directory writes.

Every output of absaction is written to a temporary sibling first and renamed into place when it is
complete, so an interrupted run never leaves a file or folder that looks finished, and nothing a user
already has is replaced unless they asked for it (``force=True``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from absaction.errors import AbsactionError
from absaction.outputs import check_output, write_record

check_new_output = check_output
"""Validate a new output before any work (the rules, what ``force`` may replace, live in
:func:`absaction.outputs.check_output`; every writer here calls it under this name)."""


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike[str],
    force: bool = False,
    what: str = "output folder",
    *,
    command: str | None = None,
) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; on success it replaces ``path``.

    ``command`` (``"train"``, ``"collect"``, ...) is recorded in the folder, which is what lets a later
    ``force`` of the same command replace it. On any exception (``KeyboardInterrupt`` included), in the
    block or while moving the folder into place, the temporary folder is removed and ``path`` is left
    exactly as it was.
    """
    final = check_new_output(path, force, what, command=command)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the folder the user's usual mode
    try:
        yield tmp
        if command is not None:
            write_record(tmp, command)
        replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_dir(src: Path, dst: Path) -> None:
    """Move the complete folder ``src`` to ``dst``, removing an old ``dst`` only after the move is
    certain to succeed."""
    old: Path | None = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float (at any depth of dicts, lists and tuples) replaced by
    None, so that ``json.dumps`` writes strict JSON (``null``) instead of ``NaN``/``Infinity``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_default(obj: Any) -> Any:
    # numpy scalars/arrays and paths turn up in configs and summaries
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


@contextlib.contextmanager
def staged_dir(
    path: str | os.PathLike[str],
    force: bool = False,
    what: str = "output folder",
    *,
    command: str | None = None,
) -> Iterator[Path]:
    """Build a folder *in place* at ``path`` and keep it only if the block completes.

    For multi-stage outputs whose parts record their own absolute paths (a run's ``config.json`` names
    its dataset), so they cannot be built under a temporary name and renamed. An existing ``path``
    (allowed with ``force``) is moved aside first and restored if the block fails; on failure or
    Ctrl-C the partial folder is removed.
    """
    final = check_new_output(path, force, what, command=command)
    final.parent.mkdir(parents=True, exist_ok=True)
    aside: Path | None = None
    if final.exists():
        aside = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, aside)
    final.mkdir()
    try:
        yield final
        if command is not None:
            write_record(final, command)
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)
        if aside is not None:
            os.replace(aside, final)
        raise
    if aside is not None:
        if aside.is_dir():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            aside.unlink(missing_ok=True)


def read_versioned_json(path: Path, fmt: str, version: int, what: str, fix: str) -> dict[str, Any]:
    """Parse a JSON record that absaction wrote with ``"format": fmt`` and ``"format_version": version``.

    Every way it can be wrong (unreadable, not JSON, another kind of record, another version) is one
    :class:`AbsactionError` naming ``what`` the file should be and the ``fix`` (e.g. "retrain the model").
    """
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AbsactionError(f"{path} cannot be read ({err})", f"restore it or {fix}") from None
    if not isinstance(record, dict) or record.get("format") != fmt:
        raise AbsactionError(f"{path} is not {what}", fix)
    if record.get("format_version") != version:
        raise AbsactionError(
            f"{path} has format version {record.get('format_version')}; this version reads {version}",
            f"{fix} with this version",
        )
    return record
