"""The ``--capacity`` text and its parsed form, without torch: a configuration can be read, checked and
printed (``absaction train --help``, ``TrainConfig``) before torch is imported.

The schedules themselves, which need torch, are in :mod:`absaction.models.capacity`; its module
docstring describes what every mode does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from absaction.errors import AbsactionError, option

FORMS: tuple[str, ...] = ("signed", "abs")
"""``signed``: beta (KL - C) (the paper's Eq. 7); ``abs``: beta |KL - C| (Burgess)."""


@dataclass(frozen=True)
class CapacitySpec:
    """A parsed ``--capacity`` value."""

    mode: str
    """one of :data:`CAPACITY_MODE_NAMES`"""
    form: str = "signed"
    """``signed``: beta (KL - C); ``abs``: beta |KL - C|"""
    window: int = 50
    """adaptive: number of past epochs averaged into C"""
    c_max: float = 0.0
    """linear: final capacity in nats (total over all ladders)"""
    steps: int = 1
    """linear: optimiser steps of the ramp from 0 to c_max"""

    def __str__(self) -> str:
        if self.mode == "adaptive":
            return f"adaptive:{self.window},{self.form}"
        if self.mode == "linear":
            return f"linear:{self.c_max:g},{self.steps},{self.form}"
        return self.mode


def _parse_adaptive(args: list[str], form: str | None) -> CapacitySpec:
    if len(args) > 1:
        raise AbsactionError(
            f"capacity mode 'adaptive' takes one argument (the window in epochs), got {len(args)}",
            f"write e.g. {option('capacity', 'adaptive:50', python=repr('adaptive:50'))} or adaptive:50,abs",
        )
    window = _parse_number(args[0], int, "the adaptive window (epochs)") if args else 50
    if window < 1:
        raise AbsactionError(
            f"adaptive window must be at least 1 epoch, got {window}", "use e.g. adaptive:50"
        )
    return CapacitySpec("adaptive", form or "signed", window=window)


def _parse_linear(args: list[str], form: str | None) -> CapacitySpec:
    if len(args) != 2:
        raise AbsactionError(
            "capacity mode 'linear' needs CMAX,STEPS (nats, optimiser steps)",
            f"write e.g. {option('capacity', 'linear:25,2000', python=repr('linear:25,2000'))}",
        )
    c_max = _parse_number(args[0], float, "CMAX (nats)")
    steps = _parse_number(args[1], int, "STEPS (optimiser steps)")
    if c_max < 0 or steps < 1:
        raise AbsactionError(
            f"linear capacity needs CMAX >= 0 and STEPS >= 1, got {c_max:g},{steps}",
            f"write e.g. {option('capacity', 'linear:25,2000', python=repr('linear:25,2000'))}",
        )
    return CapacitySpec("linear", form or "abs", c_max=c_max, steps=steps)  # Burgess's form by default


def _parse_none(args: list[str], form: str | None) -> CapacitySpec:
    if form is not None:
        raise AbsactionError(
            "capacity mode 'none' has no form", f"write {option('capacity', 'none', python=repr('none'))}"
        )
    if args:
        raise AbsactionError(
            "capacity mode 'none' takes no arguments",
            f"write {option('capacity', 'none', python=repr('none'))}",
        )
    return CapacitySpec("none", "signed")


_PARSERS: dict[str, Callable[[list[str], str | None], CapacitySpec]] = {
    "adaptive": _parse_adaptive,
    "linear": _parse_linear,
    "none": _parse_none,
}

CAPACITY_MODE_NAMES: tuple[str, ...] = tuple(_PARSERS)
"""The names a ``--capacity`` spec may start with (the schedules of :data:`~absaction.models.capacity.
CAPACITY_MODES`, which checks that it has one for each)."""


def parse_capacity(text: str) -> CapacitySpec:
    """Parse ``MODE[:ARG,...][,signed|abs]``, e.g. ``adaptive:50``, ``linear:25,2000,abs``, ``none``."""
    mode, _, rest = text.strip().partition(":")
    if mode not in _PARSERS:
        raise AbsactionError(
            f"unknown capacity mode {mode!r}",
            f"choose one of {', '.join(CAPACITY_MODE_NAMES)} (e.g. adaptive:50, linear:25,2000, none)",
        )
    args = [a.strip() for a in rest.split(",")] if rest.strip() else []
    form = None
    if args and args[-1] in FORMS:
        form = args.pop()
    return _PARSERS[mode](args, form)


def _parse_number(text: str, kind: type[int] | type[float], what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise AbsactionError(f"cannot read {what} from {text!r}", "see absaction train --help") from None
