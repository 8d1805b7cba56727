"""Capacity schedules: how the KL term of the loss is shifted by a capacity C (Burgess et al. 2017).

The KL part of the loss is ``beta * sum_l (KL_l - C_l)`` ("signed", the paper's Eq. 7) or
``beta * sum_l |KL_l - C_l|`` ("abs", Burgess), with KL_l the batch-mean KL of ladder ``l`` in nats.
Modes are chosen by name from :data:`CAPACITY_MODES` with a spec string (the ``--capacity`` flag):

``adaptive[:W][,signed|abs]``  (the paper, default ``adaptive:50``)
    C_l is the mean of ladder ``l``'s epoch-mean KL over the last ``W`` completed epochs (fewer at the
    start; 0 before the first epoch ends), one C per ladder. The paper writes the shift as
    ``beta (KL - C)`` (Eq. 7) and never mentions an absolute value, so its wording implies the
    *signed* form, which is the default. Because C is held constant within an epoch, the signed form
    has exactly the gradient of a plain beta-VAE (C only shifts the reported loss); the ``abs`` form
    pushes KL_l *up* whenever it is below its own running mean, so it can ratchet the KL upward.
``linear:CMAX,STEPS[,abs|signed]``  (Burgess; default form ``abs``)
    one C for the *total* KL, ramped from 0 to ``CMAX`` nats over ``STEPS`` optimiser steps, then held.
``none``
    a plain beta-VAE: ``beta * sum_l KL_l``.

Every schedule keeps its state as JSON-able numbers (``state_dict``) so a resumed run continues it
exactly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from typing import Any, ClassVar

import torch
from torch import Tensor

from absaction.models.capacity_spec import CAPACITY_MODE_NAMES, FORMS, CapacitySpec, parse_capacity


class Capacity(ABC):
    """The KL penalty of one training run, with the capacity state it carries across steps/epochs."""

    name: ClassVar[str]

    def __init__(self, spec: CapacitySpec, n_ladders: int) -> None:
        self.spec = spec
        self.n_ladders = n_ladders

    @abstractmethod
    def penalty(self, kl_ladders: Tensor, beta: float) -> Tensor:
        """The KL term of the loss (scalar) from the batch-mean KL of every ladder, (L,) in nats."""

    @abstractmethod
    def ladder_capacities(self) -> list[float] | None:
        """The current C of every ladder in nats, or None when C applies to the total KL only."""

    @abstractmethod
    def total_capacity(self) -> float:
        """The current capacity of the whole code in nats (the sum of per-ladder C where those exist)."""

    def end_step(self) -> None:  # noqa: B027 - an optional hook, most schedules ignore it
        """Called after every optimiser step."""

    def end_epoch(self, kl_ladders: list[float]) -> None:  # noqa: B027 - an optional hook
        """Called after every epoch with the epoch-mean KL of every ladder (nats)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """JSON-able state, enough to continue the schedule exactly."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def _shifted(self, kl: Tensor, c: Tensor | float, beta: float) -> Tensor:
        diff = kl - c
        return beta * (diff.abs() if self.spec.form == "abs" else diff).sum()


class AdaptiveCapacity(Capacity):
    """The paper's schedule: C_l = mean epoch KL of ladder l over the last ``window`` epochs."""

    name = "adaptive"

    def __init__(self, spec: CapacitySpec, n_ladders: int) -> None:
        super().__init__(spec, n_ladders)
        self.history: deque[list[float]] = deque(maxlen=spec.window)  # epoch-mean KL per ladder
        self._c = torch.zeros(n_ladders)  # (L,) held constant within an epoch

    def penalty(self, kl_ladders: Tensor, beta: float) -> Tensor:
        return self._shifted(kl_ladders, self._c.to(kl_ladders), beta)

    def ladder_capacities(self) -> list[float]:
        return [float(c) for c in self._c]

    def total_capacity(self) -> float:
        return float(self._c.sum())

    def end_epoch(self, kl_ladders: list[float]) -> None:
        if len(kl_ladders) != self.n_ladders:
            raise ValueError(f"expected {self.n_ladders} ladder KLs, got {len(kl_ladders)}")
        self.history.append([float(k) for k in kl_ladders])
        self._c = torch.tensor(self.history, dtype=torch.float64).mean(dim=0).float()

    def state_dict(self) -> dict[str, Any]:
        return {"history": [list(h) for h in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history.clear()
        self._c = torch.zeros(self.n_ladders)
        for kl in state["history"]:
            self.end_epoch(kl)


class LinearCapacity(Capacity):
    """Burgess et al.: one capacity for the total KL, ramped linearly from 0 to ``c_max`` nats."""

    name = "linear"

    def __init__(self, spec: CapacitySpec, n_ladders: int) -> None:
        super().__init__(spec, n_ladders)
        self.step = 0

    def total_capacity(self) -> float:
        return self.spec.c_max * min(1.0, self.step / self.spec.steps)

    def penalty(self, kl_ladders: Tensor, beta: float) -> Tensor:
        return self._shifted(kl_ladders.sum(), self.total_capacity(), beta)

    def ladder_capacities(self) -> list[float] | None:
        return None  # one C for the total KL

    def end_step(self) -> None:
        self.step += 1

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])


class NoCapacity(Capacity):
    """A plain beta-VAE: ``beta * sum_l KL_l``."""

    name = "none"

    def penalty(self, kl_ladders: Tensor, beta: float) -> Tensor:
        return beta * kl_ladders.sum()

    def ladder_capacities(self) -> list[float]:
        return [0.0] * self.n_ladders

    def total_capacity(self) -> float:
        return 0.0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


CAPACITY_MODES: dict[str, type[Capacity]] = {
    "adaptive": AdaptiveCapacity,
    "linear": LinearCapacity,
    "none": NoCapacity,
}
"""The one table of capacity schedules, by the name used in ``--capacity`` (parsed torch-free by
:mod:`absaction.models.capacity_spec`)."""
if tuple(CAPACITY_MODES) != CAPACITY_MODE_NAMES:  # pragma: no cover - a mode added to one table only
    raise ImportError(f"capacity schedules {tuple(CAPACITY_MODES)} != parsed modes {CAPACITY_MODE_NAMES}")

__all__ = [
    "CAPACITY_MODES",
    "FORMS",
    "AdaptiveCapacity",
    "Capacity",
    "CapacitySpec",
    "LinearCapacity",
    "NoCapacity",
    "make_capacity",
    "parse_capacity",
]


def make_capacity(spec: CapacitySpec | str, n_ladders: int) -> Capacity:
    """The schedule for ``spec`` (a :class:`CapacitySpec` or its text) over ``n_ladders`` ladders."""
    if isinstance(spec, str):
        spec = parse_capacity(spec)
    return CAPACITY_MODES[spec.mode](spec, n_ladders)
