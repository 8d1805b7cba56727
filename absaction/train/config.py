"""The configuration of a training run, one dataclass per model kind: :class:`TrainConfig` (the action
VAEs) and :class:`SkillTrainConfig` (skill models). Each is written to the run's ``config.json``; every
default lives once, in its field, where ``absaction train --help`` reads it (without importing torch)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from absaction.data.normalizer import NORMALIZE_MODES
from absaction.devices import check_device
from absaction.errors import AbsactionError, check_choice, flag, option, refuse_unknown_keys
from absaction.models.capacity_spec import parse_capacity

RUN_CONTROL_KEYS: frozenset[str] = frozenset(
    {"epochs", "checkpoint_every", "tensorboard", "threads", "device"}
)
"""Keys of every kind's configuration that may change when a run is resumed: they steer the run, not what
it computes (``epochs`` may grow to extend a run; another ``threads`` or ``device`` may change the last
bits of the float arithmetic, so a bit-identical resume keeps them)."""


def check_run_settings(config: Any) -> None:
    """Raise :class:`AbsactionError` on run settings no kind can use (the fields every kind's
    configuration has: epochs, batch_size, checkpoint_every, lr, val_fraction, threads, device)."""
    for key in ("epochs", "batch_size", "checkpoint_every"):
        value = getattr(config, key)
        if value < 1:
            raise AbsactionError(f"{key} must be at least 1, got {value}", f"pass {option(key, '1')} or more")
    if not config.lr > 0:
        raise AbsactionError(f"lr must be positive, got {config.lr}", f"pass a positive {flag('lr')}")
    if not 0.0 <= config.val_fraction < 1.0:
        raise AbsactionError(f"val_fraction must be in [0, 1), got {config.val_fraction}", "pass e.g. 0.1")
    check_device(config.device)
    if config.threads < 0:
        raise AbsactionError(
            f"threads must be 0 (torch's default) or more, got {config.threads}",
            f"pass e.g. {option('threads', '1')}",
        )


def changed_keys(
    config: Any, overrides: dict[str, Any], skip: frozenset[str] = frozenset()
) -> list[tuple[str, Any, Any]]:
    """``(key, the config's value, override)`` for every override of a number-deciding field that differs
    (run-control keys, :data:`RUN_CONTROL_KEYS`, and ``skip`` are left out). ``capacity`` is compared in
    its canonical spelling."""
    mine = config.to_dict()
    found = []
    for key, value in overrides.items():
        if key in RUN_CONTROL_KEYS or key in skip:
            continue
        if key == "capacity":
            value = str(parse_capacity(value))
        if key not in mine:
            raise KeyError(key)
        if mine[key] != value:
            found.append((key, mine[key], value))
    return found


@dataclasses.dataclass
class TrainConfig:
    """Everything that decides the numbers a training run produces, plus how it is run."""

    DEFAULT_WINDOW: ClassVar[int] = 32
    """the longest window ``window=None`` picks (the paper's 32-step chunks): longer windows leave an
    agent that decodes one chunk per decision only a few decisions per episode"""

    model: str = "tcvlae"
    """registered model name (absaction.models.MODELS): tcvlae | tcvae | seq2seq"""
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
    """capacity schedule spec: ``adaptive[:W][,signed|abs]``, ``linear:CMAX,STEPS[,abs|signed]`` or
    ``none``"""
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
    """window length in steps, also the chunk an agent then decodes per decision; None = the longest length
    the model can read (a multiple of 2^layers) that fits in every episode and is at most
    ``DEFAULT_WINDOW`` (32, the paper's): min(32, episode length) for the default TCVLAE, so an agent in
    its latent space makes several decisions per episode, not one (variable-length models: whole
    episodes)"""
    stride: int | None = None
    """steps between window starts; None = the window length (no overlap)"""
    val_fraction: float = 0.1
    """share of episodes held out for validation"""
    seed: int = 0
    """seed of the initial weights, the split, the shuffling and the sampling noise"""
    checkpoint_every: int = 25
    """write the run folder (weights, config, resume state) every this many epochs, and at the end"""
    device: str = "cpu"
    """torch device to train on: auto (CUDA if available) | cpu | cuda | cuda:N; the saved model loads
    on any device"""
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
        check_run_settings(self)
        for key, fvalue in {"beta": self.beta, "tc": self.tc, "sigma": self.sigma}.items():
            if not fvalue >= 0 or (key == "sigma" and fvalue == 0):
                raise AbsactionError(f"{key} must be positive, got {fvalue}", f"pass a positive --{key}")
        check_choice(self.normalize, NORMALIZE_MODES, "normalisation")
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

    def conflicts(
        self, overrides: dict[str, Any], model_config: dict[str, Any] | None = None
    ) -> list[tuple[str, Any, Any]]:
        """``(key, this run's value, override)`` for every number-deciding key an override changes.

        Run-control keys (:data:`RUN_CONTROL_KEYS`) are skipped; ``model_options`` are compared with
        ``model_config``, the run's resolved model configuration, when it is given (and skipped when not:
        the caller compares the model it builds).
        """
        found = changed_keys(self, overrides, skip=frozenset({"model_options"}))
        if model_config is not None:
            found += [
                (key, model_config.get(key), value)
                for key, value in (overrides.get("model_options") or {}).items()
                if model_config.get(key) != value
            ]
        return found


@dataclasses.dataclass
class SkillTrainConfig:
    """Everything that decides a skill run's numbers, plus how it is run."""

    horizon: int = 10
    """steps H per skill (SPiRL, OPAL and ReSkill use 10)"""
    stride: int = 2
    """steps between window starts (2: half the windows of stride 1, nearly all of their information, since
    neighbouring windows overlap in H - 1 steps)"""
    skill_obs: list[str] | None = None
    """skill-observation columns by name or index; None = x, y on Reach2D (no goal), else every column"""
    z_dim: int = 8
    """size of the skill latent (one ladder)"""
    ladder_dims: list[int] | None = None
    """latent size of every ladder, the concrete first and the top last (``encoder="ladder"``); None =
    ``[z_dim]``"""
    encoder: str = "mlp"
    """posterior network: mlp (fastest) | gru | ladder (the TCVLAE's convolutional ladder)"""
    channels: int = 16
    """ladder encoder: channels of its first convolution"""
    layers_per_ladder: int = 1
    """ladder encoder: convolutions per ladder"""
    decoder: str = "closed"
    """closed (pi(a | s, z) every step) | open (z -> H actions)"""
    frame: str = "absolute"
    """absolute: the posterior and decoder see s_t | relative: s_t - s_0, the change since the skill began
    (the same motion anywhere; the prior still sees s_0)"""
    hidden_size: int = 128
    """units per hidden layer"""
    beta: float = 0.01
    """weight of KL(q || N(0, I)) (SPiRL's 1e-2)"""
    capacity: str = "none"
    """capacity schedule of the KL term: ``adaptive[:W][,signed|abs]``, ``linear:CMAX,STEPS[,abs|signed]``
    or ``none``"""
    prior_weight: float = 1.0
    """weight of the prior's KL(sg(q) || p(z | s))"""
    sigma: float = 1.0
    """decoder std in units of the normalised actions (recon = sum (a - a_hat)^2 / (2 sigma^2))"""
    epochs: int = 40
    """passes over the training windows"""
    batch_size: int = 1024
    """windows per optimiser step"""
    lr: float = 2e-3
    """Adam learning rate"""
    val_fraction: float = 0.1
    """share of episodes held out for validation"""
    seed: int = 0
    """seed of the weights, split, shuffling and sampling noise"""
    checkpoint_every: int = 10
    """write the run folder every this many epochs, and at the end"""
    device: str = "cpu"
    """torch device to train on: auto (CUDA if available) | cpu | cuda | cuda:N; the saved model loads
    on any device"""
    tensorboard: bool = False
    """also log the metrics to RUN_DIR/tensorboard (needs `pip install absaction[tensorboard]`)"""
    threads: int = 1
    """torch intra-op threads (0 = torch's default). One: the defaults meet the two-minute budget on one
    core, and a second thread made a step 4x slower whenever the other core was busy (measured)"""

    def __post_init__(self) -> None:
        # canonical capacity text ("adaptive" -> "adaptive:50,signed") so equal runs compare equal
        self.capacity = str(parse_capacity(self.capacity))
        if self.ladder_dims is not None:
            self.ladder_dims = [int(d) for d in self.ladder_dims]

    @property
    def latent_dims(self) -> list[int]:
        """The model's ladder sizes: ``ladder_dims``, else ``[z_dim]``."""
        return list(self.ladder_dims) if self.ladder_dims is not None else [self.z_dim]

    def validate(self) -> None:
        """Raise :class:`AbsactionError` on values no run can use."""
        check_run_settings(self)
        for key in ("horizon", "stride", "z_dim", "hidden_size", "channels", "layers_per_ladder"):
            if getattr(self, key) < 1:
                raise AbsactionError(
                    f"{key} must be at least 1, got {getattr(self, key)}", f"pass --{key.replace('_', '-')} 1"
                )
        for key in ("beta", "prior_weight", "sigma"):
            value = getattr(self, key)
            if not value >= 0 or (key == "sigma" and value == 0):
                raise AbsactionError(
                    f"{key} must be positive, got {value}", f"pass a positive --{key.replace('_', '-')}"
                )
        if self.ladder_dims is not None and (not self.ladder_dims or min(self.ladder_dims) < 1):
            raise AbsactionError(f"ladder sizes must be positive, got {self.ladder_dims}", "pass e.g. 4,4")
        if len(self.latent_dims) > 1 and self.encoder != "ladder":
            raise AbsactionError(
                f"ladder sizes {self.latent_dims} need the ladder encoder, not {self.encoder}",
                "add --skill-encoder ladder, or pass one size (--z-dim)",
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SkillTrainConfig:
        cls.refuse_unknown(data)
        return cls(**data)

    @classmethod
    def refuse_unknown(cls, keys: Any) -> None:
        """One line naming the ``keys`` that are not options of a skill model."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(keys) - names)
        if unknown:
            raise AbsactionError(
                f"option(s) {', '.join('--' + u.replace('_', '-') for u in unknown)} "
                "do not apply to skill models",
                f"skill models take {', '.join('--' + n.replace('_', '-') for n in sorted(names))}",
            )

    def conflicts(
        self, overrides: dict[str, Any], model_config: dict[str, Any] | None = None
    ) -> list[tuple[str, Any, Any]]:
        """``(key, this run's value, override)`` for every number-deciding key an override changes
        (run-control keys, :data:`RUN_CONTROL_KEYS`, are skipped; every model option is a field here, so
        ``model_config`` adds nothing)."""
        self.refuse_unknown(overrides)
        return changed_keys(self, overrides)


def flag_name(key: str) -> str:
    """A configuration key as the caller names it: ``ladder_dims`` -> ``--ladder-dims`` (the
    ``absaction train`` flag) at the command line, ``ladder_dims`` in Python."""
    return flag(key)
