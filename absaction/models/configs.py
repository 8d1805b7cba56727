"""The configuration dataclasses of the models, without torch: the CLI reads their defaults and field
docstrings for ``--help``, and a ``config.json`` can be checked, before torch is imported. The models
themselves (:mod:`.tcvlae`, :mod:`.seq2seq`) name their class here as ``config_class``."""

from __future__ import annotations

import dataclasses
from typing import Any

from absaction.errors import AbsactionError, check_choice, option, refuse_unknown_keys

POOLING_MODES: tuple[str, ...] = ("f", "fo", "ifo")
"""QRNN pooling variants: forget gate only, forget + output gates, input + forget + output gates."""

# The skill model's choices (:class:`~absaction.models.skill.SkillConfig`), here so that the CLI can offer
# them without importing torch.
SKILL_ENCODERS: tuple[str, ...] = ("gru", "mlp", "ladder")
"""posterior networks over a window"""
SKILL_DECODERS: tuple[str, ...] = ("closed", "open")
"""closed loop pi(a_t | s_t, z) | open loop z -> H actions"""
SKILL_FRAMES: tuple[str, ...] = ("absolute", "relative")
"""what the posterior and decoder see: s_t | s_t - s_0"""


@dataclasses.dataclass
class ModelConfig:
    """Fields every model configuration has; subclasses add their own (all with defaults)."""

    action_dim: int
    """size A of one action vector"""
    seq_len: int | None
    """fixed sequence length T the model was built for; None for variable-length models"""
    ladder_dims: list[int]
    """latent size of every ladder, ladder 1 (nearest the input) first"""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dictionary (``from_dict`` inverts it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Rebuild a configuration, refusing unknown keys (they mean a file from another version)."""
        names = {f.name for f in dataclasses.fields(cls)}
        refuse_unknown_keys(
            data, names, "model option(s)", context=f" for {cls.__name__}",
            fix=f"valid options are {', '.join(sorted(names))}",
        )  # fmt: skip
        try:
            config = cls(**data)
        except TypeError as err:  # a required field is missing
            raise AbsactionError(f"incomplete model configuration: {err}", "retrain the model") from None
        config.validate()
        return config

    @classmethod
    def length_multiple(cls, options: dict[str, Any] | None = None) -> int:
        """The number every sequence length must be a multiple of, for a model of this class built with
        the model ``options`` (1 here; the convolutional models halve the time axis). Options that
        cannot build a configuration give 1: building the model then names the problem."""
        return 1

    def validate(self) -> None:
        """Raise :class:`AbsactionError` if the options cannot build a model."""
        if self.action_dim < 1:
            raise AbsactionError(f"action_dim must be positive, got {self.action_dim}", "check the dataset")
        if not self.ladder_dims or any(int(d) < 1 for d in self.ladder_dims):
            raise AbsactionError(
                f"ladder sizes must be positive integers, got {self.ladder_dims}",
                f"pass e.g. {option('ladder_dims', '8,4,2', python='[8, 4, 2]')}",
            )


MERGES: tuple[str, ...] = ("sum", "gated", "concat")


@dataclasses.dataclass
class TCVLAEConfig(ModelConfig):
    """Options of the convolutional ladder VAE."""

    ladder_dims: list[int] = dataclasses.field(default_factory=lambda: [8, 4, 2])
    """latent size of every ladder, ladder 1 (nearest the input) first; the paper's [8, 4, 2]"""
    channels: int = 16
    """channels of the first convolution; every further layer doubles them"""
    layers_per_ladder: int = 1
    """convolution layers between two ladders (and before ladder 1)"""
    merge: str = "sum"
    """how a ladder's latent joins the decoder: sum (paper) | gated (VLAE) | concat"""

    @property
    def n_layers(self) -> int:
        """Number of stride-2 convolutions on each side."""
        return len(self.ladder_dims) * self.layers_per_ladder

    @classmethod
    def length_multiple(cls, options: dict[str, Any] | None = None) -> int:
        """``2 ** n_layers``: each stride-2 convolution halves the time axis."""
        try:
            config = cls(**{"action_dim": 1, "seq_len": None, **(options or {})})
            return int(2**config.n_layers)
        except (TypeError, ValueError):  # unknown or malformed options: from_dict names them later
            return 1

    def validate(self) -> None:
        super().validate()
        check_choice(self.merge, MERGES, "merge")
        if self.channels < 1 or self.layers_per_ladder < 1:
            raise AbsactionError(
                f"channels and layers_per_ladder must be positive, got {self.channels} and "
                f"{self.layers_per_ladder}",
                f"use e.g. {option('channels', '16')}",
            )
        if self.seq_len is None or self.seq_len < 1:
            raise AbsactionError(
                "the convolutional models need a fixed sequence length", f"pass {option('window', 'L')}"
            )
        factor = 2**self.n_layers
        if self.seq_len % factor:
            shorter = self.seq_len // factor * factor
            longer = shorter + factor
            fix = f"collect episodes of {longer} steps (absaction collect --max-steps {longer})"
            if shorter:
                fix = f"use windows of {shorter} steps ({option('window', str(shorter))}) or " + fix
            raise AbsactionError(
                f"sequences of length {self.seq_len} do not divide by {factor} "
                f"(the model halves the time axis {self.n_layers} times)",
                fix,
            )


@dataclasses.dataclass
class TCVAEConfig(TCVLAEConfig):
    """Options of the flat baseline: one latent group on top of 4 convolution layers (the paper's)."""

    ladder_dims: list[int] = dataclasses.field(default_factory=lambda: [4])
    """the single latent group's size (the paper's 4)"""
    layers_per_ladder: int = 4
    """convolution layers on each side"""

    def validate(self) -> None:
        if len(self.ladder_dims) != 1:
            raise AbsactionError(
                f"the flat tcvae has one latent group, got ladder sizes {self.ladder_dims}",
                f"pass a single size such as {option('ladder_dims', '4', python='[4]')}, or use "
                f"{option('model', 'tcvlae', python=repr('tcvlae'))} for ladders",
            )
        super().validate()


SEQ2SEQ_MERGES: tuple[str, ...] = ("input", "ladder")


@dataclasses.dataclass
class Seq2SeqConfig(ModelConfig):
    """Options of the QRNN seq2seq ladder VAE (``seq_len`` must be None: lengths vary)."""

    ladder_dims: list[int] = dataclasses.field(default_factory=lambda: [8, 4, 2])
    """latent size of every ladder, ladder 1 (on the first encoder layer) first; the paper's [8, 4, 2]"""
    hidden_size: int = 64
    """state features H of every QRNN layer (per direction in the encoder)"""
    layers_per_ladder: int = 1
    """encoder layers between two ladders (and before ladder 1); the decoder has as many layers"""
    window: int = 2
    """convolution window k of every QRNN layer (steps t-k+1 .. t)"""
    mode: str = "fo"
    """QRNN pooling: f | fo (the paper) | ifo"""
    merge: str = "input"
    """where the latents join the decoder: input (the paper: W z + x_{t-1}) | ladder (mirrored depths)"""
    dropout: float = 0.0
    """dropout between QRNN layers"""
    default_length: int = 32
    """steps that decode() generates when no length is given (set it to the typical episode length)"""

    @property
    def n_layers(self) -> int:
        """QRNN layers in the encoder, and in the decoder."""
        return len(self.ladder_dims) * self.layers_per_ladder

    def validate(self) -> None:
        super().validate()
        if self.seq_len is not None:
            raise AbsactionError(
                f"seq2seq reads sequences of any length, but it was given a fixed seq_len={self.seq_len}",
                "build it with seq_len=None (pass the typical episode length as default_length)",
            )
        check_choice(self.mode, POOLING_MODES, "QRNN pooling")
        check_choice(self.merge, SEQ2SEQ_MERGES, "seq2seq merge")
        sizes = {
            "hidden_size": self.hidden_size,
            "layers_per_ladder": self.layers_per_ladder,
            "window": self.window,
            "default_length": self.default_length,
        }
        for name, value in sizes.items():
            if value < 1:
                raise AbsactionError(f"{name} must be a positive integer, got {value}", f"pass e.g. {name}=1")
        if not 0.0 <= self.dropout < 1.0:
            raise AbsactionError(f"dropout must lie in [0, 1), got {self.dropout}", "pass e.g. dropout=0.1")
