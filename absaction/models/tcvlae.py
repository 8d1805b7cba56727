"""TCVLAE: a variational ladder autoencoder with 1-D convolutions over time (paper section 3.1),
and the flat TCVAE baseline (one latent group after 4 convolution layers).

Encoder: ``n = len(ladder_dims) * layers_per_ladder`` layers of ``Conv1d(kernel 3, stride 2,
padding 1)``, each halving the time axis and doubling the channels (``channels``, ``2 channels``, ...).
Ladder ``l`` (1-based) branches off after layer ``l * layers_per_ladder``: its feature map is flattened
and a linear layer gives the posterior mean and log-variance. Ladder 1 is nearest the input; the last
ladder sits on top of the encoder.

Decoder: the mirror image with ``ConvTranspose1d(kernel 3, stride 2, padding 1, output_padding 1)``,
which doubles the time axis exactly. The top ladder's latent is projected (linear) to the top feature
map; every other ladder's latent is projected to the feature map at its mirrored depth and merged with
what comes down from above, by ``sum`` (the paper), ``gated`` (``h + sigmoid(g) * proj(z)`` with a learned
element-wise gate ``g``, the gated combination of VLAE) or ``concat`` (channels concatenated, then a
1x1 convolution back to the original width). The last transposed convolution outputs the actions
(linear, no activation).

Because every layer halves time and doubles channels, every feature map holds ``channels * T / 2``
numbers, so the ladder heads are all the same small size.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from absaction.errors import AbsactionError
from absaction.models.base import ActionVAE
from absaction.models.configs import TCVAEConfig, TCVLAEConfig


def conv_ladder_encoder(
    in_channels: int, length: int, channels: int, ladder_dims: list[int], layers_per_ladder: int
) -> tuple[nn.ModuleList, nn.ModuleList, list[int]]:
    """The TCVLAE's encoder: ``(convolutions, ladder heads, depth of every ladder)``.

    Args:
        in_channels: features per time step of the input (the action size; a skill's observation + action).
        length: time steps of the input; any length works (every layer maps T to ceil(T / 2)).
        channels: channels of the first convolution (every further layer doubles them).
        ladder_dims: latent size of every ladder, ladder 1 (nearest the input) first.
        layers_per_ladder: convolutions before ladder 1 and between two ladders.
    """
    n = len(ladder_dims) * layers_per_ladder
    widths = [in_channels] + [channels * 2**j for j in range(n)]
    lengths = [-(-length // 2**j) for j in range(n + 1)]  # ceil(T / 2**j)
    depths = [(ladder + 1) * layers_per_ladder for ladder in range(len(ladder_dims))]
    # layer j: (B, w[j], t[j]) -> (B, w[j+1], t[j+1])
    convs = nn.ModuleList(
        nn.Conv1d(widths[j], widths[j + 1], kernel_size=3, stride=2, padding=1) for j in range(n)
    )
    # ladder head: flattened level-depth features (B, w*t) -> (B, 2 d) = (mean, logvar)
    heads = nn.ModuleList(
        nn.Linear(widths[depth] * lengths[depth], 2 * dim)
        for depth, dim in zip(depths, ladder_dims, strict=True)
    )
    return convs, heads, depths


def conv_ladder_encode(
    convs: nn.ModuleList, heads: nn.ModuleList, depths: list[int], activation: nn.Module, x: Tensor
) -> list[tuple[Tensor, Tensor]]:
    """``[(mean, logvar) (B, d_l) per ladder]`` of inputs ``x`` (B, T, C) through
    :func:`conv_ladder_encoder`'s layers, ladder 1 first."""
    h = x.transpose(1, 2)  # (B, T, C) -> (B, C, T)
    stats: list[tuple[Tensor, Tensor]] = []
    ladder = 0
    for level, conv in enumerate(convs, start=1):
        h = activation(conv(h))  # (B, w[level], ceil(T / 2**level))
        if ladder < len(depths) and level == depths[ladder]:
            mean, logvar = heads[ladder](h.flatten(1)).chunk(2, dim=-1)  # 2 x (B, d_l)
            stats.append((mean, logvar))
            ladder += 1
    return stats


class _Merge(nn.Module):
    """Joins a ladder's projected latent ``p`` with the decoder features ``h`` (both (B, C, T'))."""

    def __init__(self, mode: str, width: int, length: int) -> None:
        super().__init__()
        self.mode = mode
        if mode == "gated":
            # one learned gate per feature; logit 0 starts the gate half open
            self.gate = nn.Parameter(torch.zeros(width, length))
        elif mode == "concat":
            self.mix = nn.Conv1d(2 * width, width, kernel_size=1)

    def forward(self, h: Tensor, p: Tensor) -> Tensor:
        if self.mode == "sum":
            return h + p
        if self.mode == "gated":
            return h + torch.sigmoid(self.gate) * p
        return self.mix(torch.cat([h, p], dim=1))  # (B, 2C, T') -> (B, C, T')


class TCVLAE(ActionVAE):
    """Time-convolutional variational ladder autoencoder over fixed-length action sequences."""

    name = "tcvlae"
    config_class = TCVLAEConfig
    config: TCVLAEConfig

    def __init__(self, config: TCVLAEConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        assert config.seq_len is not None  # validated above
        n, k = config.n_layers, config.layers_per_ladder
        # widths[j], lengths[j]: shape of the feature map after j layers (level 0 = the actions)
        self._widths = [config.action_dim] + [config.channels * 2**j for j in range(n)]
        self._lengths = [config.seq_len // 2**j for j in range(n + 1)]
        self._depths = [(ladder + 1) * k for ladder in range(len(config.ladder_dims))]  # level of each ladder
        w, t = self._widths, self._lengths

        self.encoder, self.heads, _ = conv_ladder_encoder(
            config.action_dim, config.seq_len, config.channels, config.ladder_dims, k
        )
        # decoder layer j: (B, w[j+1], t[j+1]) -> (B, w[j], t[j]) (the mirror of encoder layer j)
        self.decoder = nn.ModuleList(
            nn.ConvTranspose1d(w[j + 1], w[j], kernel_size=3, stride=2, padding=1, output_padding=1)
            for j in range(n)
        )
        # latent of each ladder -> its level's feature map (B, d) -> (B, w*t)
        self.projections = nn.ModuleList(
            nn.Linear(dim, w[depth] * t[depth])
            for depth, dim in zip(self._depths, config.ladder_dims, strict=True)
        )
        # every ladder but the top one is merged into what comes down from above
        self.merges = nn.ModuleList(_Merge(config.merge, w[depth], t[depth]) for depth in self._depths[:-1])
        self.activation = nn.ELU()

    def encode_normalized(self, x_norm: Tensor, lengths: Tensor | None = None) -> list[tuple[Tensor, Tensor]]:
        return conv_ladder_encode(self.encoder, self.heads, self._depths, self.activation, x_norm)

    def decode_normalized(self, latents: list[Tensor], length: int | None = None) -> Tensor:
        if length is not None and length != self.seq_len:
            raise AbsactionError(
                f"{self.name} decodes sequences of {self.seq_len} steps, not {length}",
                "omit the length or use a variable-length model (seq2seq)",
            )
        top = len(latents) - 1
        level = self._depths[top]
        batch = latents[top].shape[0]
        # (B, d_L) -> (B, w[n] * t[n]) -> (B, w[n], t[n])
        h = self.activation(
            self.projections[top](latents[top]).view(batch, self._widths[level], self._lengths[level])
        )
        ladder = top - 1
        for level in range(self.config.n_layers, 0, -1):
            h = self.decoder[level - 1](h)  # (B, w[level], t[level]) -> (B, w[level-1], t[level-1])
            if level == 1:
                break  # the actions: no activation
            if ladder >= 0 and level - 1 == self._depths[ladder]:
                p = self.projections[ladder](latents[ladder]).view(batch, self._widths[level - 1], -1)
                h = self.merges[ladder](h, p)
                ladder -= 1
            h = self.activation(h)
        return h.transpose(1, 2)  # (B, A, T) -> (B, T, A)


class FlatTCVAE(TCVLAE):
    """The paper's baseline without ladders: 4 convolutions each side and one 4-dimensional latent."""

    name = "tcvae"
    config_class = TCVAEConfig
