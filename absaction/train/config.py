"""The configuration of one training run (``absaction train``), written to the run's ``config.json``."""

from __future__ import annotations

import dataclasses
from typing import Any

from absaction.data.normalizer import NORMALIZE_MODES
from absaction.errors import AbsactionError, check_choice, flag, option, refuse_unknown_keys
from absaction.models.capacity_spec import parse_capacity

RUN_CONTROL_KEYS: frozenset[str] = frozenset(
    {"epochs", "checkpoint_every", "tensorboard", "threads", "device"}
)
"""Keys that may change when a run is resumed: they steer the run, not what it computes (``epochs``
may grow to extend a run; another ``threads`` or ``device`` may change the last bits of the float
arithmetic, so a bit-identical resume keeps them)."""


@dataclasses.dataclass
class TrainConfig:
    """Everything that decides the numbers a training run produces, plus how it is run."""

    model: str = "tcvlae"
    """registered model name (absaction.models.MODELS): tcvlae | tcvae"""
    model_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """the model's own options (ladder_dims, merge, channels, ...); omitted ones take its defaults"""
    beta: float = 100.0
    """weight of the KL term, in nats of likelihood per nat of KL (the paper's 100)"""
    sigma: float = 0.1
    """decoder standard deviation, in units of the training set's per-dimension std (sets beta's scale)"""
    tc: float = 0.0
    """extra weight on the total correlation of the latents over the data (beta-TCVAE's term, estimated
    per batch: :func:`absaction.models.losses.total_correlation`); 0 = the paper's loss"""
    capacity: str = "adaptive:50"
    """capacity schedule spec: adaptive[:W][,signed|abs] | linear:CMAX,STEPS[,abs|signed] | none"""
    epochs: int = 100
    """passes over the training windows"""
    batch_size: int = 32
    """windows per optimiser step"""
    lr: float = 3e-3
    """Adam learning rate"""
    progressive: int = 0
    """epochs per ladder of progressive training (pro-VLAE, Li et al. 2020): the top ladder trains alone
    first, then every ``progressive`` epochs the next lower ladder fades in (its z is multiplied by a
    factor that ramps 0 -> 1 over half a stage; until then it is held at the prior mean). 0 = every
    ladder from the start (the paper)"""
    normalize: str = "global"
    """action scaling: global (per-dimension mean, one shared std: keeps the env's geometry) | per-dim"""
    window: int | None = None
    """window length in steps; None = whole episodes when they share one length the model can read, else
    the longest length the model can read (a multiple of 2^layers) that fits in every episode"""
    stride: int | None = None
    """steps between window starts; None = the window length (no overlap)"""
    val_fraction: float = 0.1
    """share of episodes held out for validation"""
    seed: int = 0
    """seed of the initial weights, the split, the shuffling and the sampling noise"""
    checkpoint_every: int = 25
    """write the run folder (weights, config, resume state) every this many epochs, and at the end"""
    device: str = "cpu"
    """torch device to train on (cpu, cuda, cuda:1, ...); the saved model loads on any device"""
    tensorboard: bool = False
    """also log the metrics to RUN_DIR/tensorboard (needs `pip install absaction[tensorboard]`)"""
    threads: int = 1
    """torch intra-op threads (0 = torch's default, all cores). One by default: the default model's
    layers are too small to split across cores, so a second thread never made a step faster in our
    measurements and made training 4-10x slower whenever the other core was busy"""

    def __post_init__(self) -> None:
        # canonical capacity text ("adaptive" -> "adaptive:50,signed") so equal runs compare equal
        self.capacity = str(parse_capacity(self.capacity))
        self.model_options = dict(self.model_options)

    def validate(self) -> None:
        """Raise :class:`AbsactionError` on values no run can use."""
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "checkpoint_every": self.checkpoint_every,
        }
        for key, value in positive.items():
            if value < 1:
                raise AbsactionError(
                    f"{key} must be at least 1, got {value}", f"pass --{key.replace('_', '-')} 1 or more"
                )
        for key, fvalue in {"beta": self.beta, "tc": self.tc, "sigma": self.sigma, "lr": self.lr}.items():
            if not fvalue >= 0 or (key not in ("beta", "tc") and fvalue == 0):
                raise AbsactionError(f"{key} must be positive, got {fvalue}", f"pass a positive --{key}")
        check_choice(self.normalize, NORMALIZE_MODES, "normalisation")
        if not 0.0 <= self.val_fraction < 1.0:
            raise AbsactionError(f"val_fraction must be in [0, 1), got {self.val_fraction}", "pass e.g. 0.1")
        if not self.device.startswith(("cpu", "cuda", "mps")):
            raise AbsactionError(
                f"unknown device {self.device!r}",
                f"pass {option('device', 'cpu', python=repr('cpu'))} or "
                f"{option('device', 'cuda', python=repr('cuda'))}",
            )
        if self.threads < 0:
            raise AbsactionError(
                f"threads must be 0 (torch's default) or more, got {self.threads}",
                f"pass e.g. {option('threads', '1')}",
            )
        if self.progressive < 0:
            raise AbsactionError(
                f"progressive must be 0 (off) or a number of epochs, got {self.progressive}",
                f"pass e.g. {option('progressive', '20')}",
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        refuse_unknown_keys(
            data, names, "training option(s)", fix="the run was written by another absaction version"
        )
        return cls(**data)

    def conflicts(self, overrides: dict[str, Any]) -> list[tuple[str, Any, Any]]:
        """``(key, this run's value, override)`` for every number-deciding key an override changes.

        Run-control keys (:data:`RUN_CONTROL_KEYS`) and ``model_options`` (compared against the
        resolved model configuration by the caller) are skipped.
        """
        mine = self.to_dict()
        found = []
        for key, value in overrides.items():
            if key in RUN_CONTROL_KEYS or key == "model_options":
                continue
            if key == "capacity":
                value = str(parse_capacity(value))
            if key not in mine:
                raise KeyError(key)
            if mine[key] != value:
                found.append((key, mine[key], value))
        return found


def flag_name(key: str) -> str:
    """A configuration key as the caller names it: ``ladder_dims`` -> ``--ladder-dims`` (the
    ``absaction train`` flag) at the command line, ``ladder_dims`` in Python."""
    return flag(key)
