"""The torch device a network trains on: one check for every command that takes ``--device``.

``auto`` (CUDA when available, else the CPU), ``cpu``, ``cuda`` and ``cuda:N`` are accepted; anything
else, or a CUDA device this machine does not have, is refused with one line before anything is built
(torch would raise a ``RuntimeError`` deep inside the first ``.to(device)``; SB3 would fall back to the
CPU without a word).
"""

from __future__ import annotations

import re

from absaction.errors import AbsactionError, option

DEVICES = "auto, cpu, cuda, cuda:N"
"""The device names accepted, as a help text lists them."""

_CUDA = re.compile(r"cuda(?::(\d+))?")


def check_device(device: str) -> str:
    """Refuse a device this machine cannot train on; return the one to use (``auto`` resolved).

    >>> check_device("cpu")
    'cpu'
    >>> check_device("mps")
    Traceback (most recent call last):
    absaction.errors.AbsactionError: unknown device 'mps'; use device='cpu' (or one of auto, cpu, ...)
    """
    cpu = option("device", "cpu", python=repr("cpu"))
    if device == "cpu":
        return device
    match = _CUDA.fullmatch(device)
    if device != "auto" and match is None:
        raise AbsactionError(f"unknown device {device!r}", f"use {cpu} (or one of {DEVICES})")
    import torch  # noqa: PLC0415 - torch only on use: a configuration that validates stays light

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    given = option("device", device, python=repr(device))
    if not torch.cuda.is_available():
        raise AbsactionError(f"{given} needs CUDA, which is not available", f"use {cpu}")
    assert match is not None
    count = torch.cuda.device_count()
    if match.group(1) is not None and int(match.group(1)) >= count:
        raise AbsactionError(
            f"{given} does not exist: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}",
            f"use {option('device', 'cuda', python=repr('cuda'))} or {cpu}",
        )
    return device
