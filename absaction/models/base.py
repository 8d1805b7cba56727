"""The interface every action VAE implements, and the base of every model configuration.

An :class:`ActionVAE` maps whole action sequences (B, T, A), in the environment's own units, to one
Gaussian posterior per *ladder* (latent group), and latents back to action sequences. Internally it
works on normalised actions (per-dimension zero mean, unit variance over the training set); the
:class:`~absaction.data.Normalizer` it carries converts at the boundary, so callers never see
normalised numbers. Training code uses :meth:`ActionVAE.forward_normalized` directly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from absaction.data.normalizer import Normalizer
from absaction.errors import AbsactionError
from absaction.models.activity import ACTIVE_KL_THRESHOLD
from absaction.models.configs import ModelConfig


class ActionVAE(nn.Module, ABC):
    """Base class of every action-sequence VAE (TCVLAE, flat TCVAE, QRNN seq2seq).

    Subclasses set ``name`` (the key in :data:`absaction.models.registry.MODELS`) and
    ``config_class``, and implement :meth:`encode_normalized` and :meth:`decode_normalized`; a model
    that decodes differently while training (teacher forcing) also overrides
    :meth:`forward_normalized`.

    Attributes:
        config: the model's configuration dataclass.
        normalizer: per-dimension action statistics of the training set.
        env_id: gymnasium id of the environment the actions came from, if known.
        action_low, action_high: (A,) bounds of that environment's action space, if known.
        kl_per_dim: per ladder, the mean KL (nats) of every latent dimension over the training set,
            recorded at the end of training (None for an untrained model).
    """

    name: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]]
    fixed_length: ClassVar[bool] = True
    """True when the model is built for one sequence length (``config.seq_len``); a variable-length
    model (seq2seq) sets False and is built with ``seq_len=None``."""

    def __init__(
        self,
        config: ModelConfig,
        normalizer: Normalizer | None = None,
        env_id: str | None = None,
        action_low: np.ndarray | None = None,
        action_high: np.ndarray | None = None,
        kl_per_dim: list[list[float]] | None = None,
    ) -> None:
        super().__init__()
        config.validate()
        self.config = config
        if normalizer is None:  # identity: the model sees actions as they are
            normalizer = Normalizer(
                np.zeros(config.action_dim, np.float32), np.ones(config.action_dim, np.float32)
            )
        self.normalizer = normalizer
        self.env_id = env_id
        self.action_low = None if action_low is None else np.asarray(action_low, dtype=np.float32)
        self.action_high = None if action_high is None else np.asarray(action_high, dtype=np.float32)
        self.kl_per_dim = kl_per_dim

    # ----------------------------------------------------------------------------- properties
    @property
    def ladder_dims(self) -> list[int]:
        """Latent size of every ladder, ladder 1 (nearest the input) first."""
        return list(self.config.ladder_dims)

    @property
    def action_dim(self) -> int:
        return self.config.action_dim

    @property
    def seq_len(self) -> int | None:
        """The fixed sequence length, or None for a variable-length model."""
        return self.config.seq_len

    @property
    def latent_dim(self) -> int:
        """Total number of latent dimensions over all ladders."""
        return sum(self.ladder_dims)

    # ------------------------------------------------------------------ the part subclasses write
    @abstractmethod
    def encode_normalized(self, x_norm: Tensor, lengths: Tensor | None = None) -> list[tuple[Tensor, Tensor]]:
        """Posterior of every ladder for normalised actions (B, T, A): ``[(mean, logvar), ...]``,
        each (B, d_l), ladder 1 first."""

    @abstractmethod
    def decode_normalized(self, latents: list[Tensor], length: int | None = None) -> Tensor:
        """Normalised actions (B, T, A) from one latent (B, d_l) per ladder."""

    def forward_normalized(
        self,
        x_norm: Tensor,
        lengths: Tensor | None = None,
        generator: torch.Generator | None = None,
        ladder_scales: Sequence[float] | None = None,
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor]], list[Tensor]]:
        """One training pass: encode, sample every ladder with the reparameterisation trick, decode.

        Args:
            x_norm: normalised actions (B, T, A).
            lengths: (B,) true lengths for variable-length models (ignored by fixed-length ones).
            generator: source of the sampling noise (training passes a seeded one for determinism).
            ladder_scales: one factor per ladder that multiplies its sampled z before decoding (progressive
                training: 0 holds a ladder at the prior mean, values in (0, 1) fade it in); None = all 1.

        Returns:
            ``(x_hat_norm (B, T, A), [(mean, logvar) per ladder], [z (B, d_l) per ladder])``; the z are
            the decoded (scaled) ones.
        """
        stats = self.encode_normalized(x_norm, lengths)
        latents = self.sample_latents(stats, generator, ladder_scales)
        return self.decode_normalized(latents, x_norm.shape[1]), stats, latents

    @staticmethod
    def sample_latents(
        stats: list[tuple[Tensor, Tensor]],
        generator: torch.Generator | None = None,
        ladder_scales: Sequence[float] | None = None,
    ) -> list[Tensor]:
        """One reparameterised draw per ladder from its ``(mean, logvar)``, scaled by ``ladder_scales``
        (see :meth:`forward_normalized`): the z every training pass decodes."""
        return scale_ladders(
            [reparameterize(mean, logvar, generator) for mean, logvar in stats], ladder_scales
        )

    # ------------------------------------------------------------------ the public interface
    def encode(
        self, actions: Tensor | np.ndarray, lengths: Tensor | None = None
    ) -> list[tuple[Tensor, Tensor]]:
        """Posterior ``(mean, logvar)`` of every ladder, each (B, d_l), for actions (B, T, A) in
        environment units."""
        x = self._check_actions(actions)
        return self.encode_normalized(self.normalizer.transform(x), lengths)

    def posterior(
        self, actions: np.ndarray, lengths: np.ndarray | None = None, batch_size: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means and log-variances of many sequences as numpy: ``(N, D)`` float32 each, the
        ladders concatenated in order (ladder 1 first, D = ``sum(ladder_dims)``).

        Args:
            actions: (N, T, A) in environment units.
            lengths: (N,) true lengths for a variable-length model, else None.
            batch_size: sequences per forward pass (no gradients; the model's own device).
        """
        device = next(self.parameters()).device
        means: list[np.ndarray] = []
        logvars: list[np.ndarray] = []
        with torch.no_grad():
            for start in range(0, len(actions), batch_size):
                x = torch.as_tensor(actions[start : start + batch_size], dtype=torch.float32, device=device)
                lens = None
                if lengths is not None:
                    lens = torch.as_tensor(lengths[start : start + batch_size], device=device)
                stats = self.encode(x, lens)  # [((B, d_l), (B, d_l)) per ladder]
                means.append(torch.cat([m for m, _ in stats], dim=1).float().cpu().numpy())
                logvars.append(torch.cat([lv for _, lv in stats], dim=1).float().cpu().numpy())
        return np.concatenate(means), np.concatenate(logvars)

    def split_ladders(self, flat: np.ndarray | Tensor) -> list[Tensor]:
        """``(N, D)`` latents with the ladders concatenated -> one float32 tensor ``(N, d_l)`` per ladder
        (the model's device), the input of :meth:`decode`."""
        device = next(self.parameters()).device
        tensor = torch.as_tensor(flat, dtype=torch.float32, device=device)
        return list(torch.split(tensor, self.ladder_dims, dim=1))

    def decode(self, latents: list[Tensor], length: int | None = None) -> Tensor:
        """Action sequences (B, T, A) in environment units from one latent (B, d_l) per ladder.

        The output is not clipped to the action bounds; callers that execute it in an environment
        clip to ``action_low``/``action_high`` (the environment or wrapper does this).
        """
        if len(latents) != len(self.ladder_dims):
            raise AbsactionError(
                f"decode got {len(latents)} latent tensors, the model has {len(self.ladder_dims)} ladders",
                f"pass one (B, d) tensor per ladder with sizes {self.ladder_dims}",
            )
        for index, (z, dim) in enumerate(zip(latents, self.ladder_dims, strict=True)):
            if z.ndim != 2 or z.shape[1] != dim:
                raise AbsactionError(
                    f"latent of ladder {index + 1} has shape {tuple(z.shape)}, expected (B, {dim})",
                    f"pass one (B, d) tensor per ladder with sizes {self.ladder_dims}",
                )
        return self.normalizer.inverse(self.decode_normalized(latents, length))

    def reconstruct(self, actions: Tensor | np.ndarray, lengths: Tensor | None = None) -> Tensor:
        """Decode the posterior means of ``actions`` (B, T, A); environment units in and out."""
        x = self._check_actions(actions)
        stats = self.encode(x, lengths)
        return self.decode([mean for mean, _ in stats], x.shape[1])

    def sample(self, n: int, generator: torch.Generator | None = None, length: int | None = None) -> Tensor:
        """Decode ``n`` draws from the prior N(0, I) of every ladder: (n, T, A) in environment units."""
        device = next(self.parameters()).device
        latents = [torch.randn(n, d, generator=generator, device=device) for d in self.ladder_dims]
        return self.decode(latents, length)

    def active_dims(self, threshold: float = ACTIVE_KL_THRESHOLD) -> list[list[int]]:
        """Indices of the latent dimensions of every ladder whose mean KL exceeds ``threshold`` nats.

        Uses :attr:`kl_per_dim`, recorded over the training set at the end of training (see
        :data:`ACTIVE_KL_THRESHOLD` for why 0.01 nats).
        """
        if self.kl_per_dim is None:
            raise AbsactionError(
                "this model has no per-dimension KL record", "train it with absaction train, which saves one"
            )
        return [[d for d, kl in enumerate(ladder) if kl > threshold] for ladder in self.kl_per_dim]

    def _check_actions(self, actions: Tensor | np.ndarray) -> Tensor:
        x = torch.as_tensor(actions, dtype=torch.float32, device=next(self.parameters()).device)
        if (
            x.ndim != 3
            or x.shape[2] != self.action_dim
            or (self.seq_len is not None and x.shape[1] != self.seq_len)
        ):
            expected = f"(B, {self.seq_len if self.seq_len is not None else 'T'}, {self.action_dim})"
            raise AbsactionError(
                f"{self.name} expects actions of shape {expected}, got {tuple(x.shape)}",
                "pass a batch of action sequences (batch, time, action_dim) in environment units",
            )
        return x


def reparameterize(mean: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """z = mean + exp(logvar / 2) * eps with eps ~ N(0, I), drawn from ``generator``."""
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + torch.exp(0.5 * logvar) * eps


def scale_ladders(latents: list[Tensor], scales: Sequence[float] | None) -> list[Tensor]:
    """``[z_l * scales[l]]`` (progressive training's fade-in). The same tensors when ``scales`` is None
    or a scale is exactly 1, so a run without progressive training stays bit-identical."""
    if scales is None:
        return latents
    if len(scales) != len(latents):
        raise ValueError(f"got {len(scales)} ladder scales for {len(latents)} ladders")
    return [z if s == 1.0 else z * s for z, s in zip(latents, scales, strict=True)]
