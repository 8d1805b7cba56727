"""How many CPU threads torch uses while a stage trains.

These networks are small: one thread is the fastest setting on a shared machine (measured in the
README), and torch's default of one thread per core is much slower when other processes are busy. Every
stage that trains (``train``, ``rl``, the benchmarks) runs inside :func:`torch_threads`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from absaction.errors import AbsactionError, option


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch uses ``threads`` threads inside the block, and what it used before afterwards (0: leave
    torch's default, one per core)."""
    if threads < 0:
        raise AbsactionError(
            f"threads must be >= 0, got {threads}", f"pass {option('threads', '1')} (or 0: all cores)"
        )
    if threads == 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
