"""Seq2seq ladder VAE with QRNNs for variable-length action sequences (paper section 3.2).

Encoder: a bidirectional :class:`~absaction.models.qrnn.QRNN` of ``len(ladder_dims) * layers_per_ladder``
layers. Ladder ``l`` (1-based) reads the final states of encoder layer ``l * layers_per_ladder``, both
directions concatenated ``(B, 2H)`` (each sequence's own last step forwards, its first step backwards, so
padding is never read), and a linear head gives its posterior mean and log-variance. Ladder 1 sits on
the first layer, nearest the input; the last ladder on top.

Decoder: a unidirectional QRNN stack of as many layers, then a linear head to the actions. It models
``p(x_t | z, x_{t-1})``: with ``merge="input"`` (the paper) the input at step t is the sum
``W z + x_{t-1}``, where ``z`` is every ladder's latent concatenated and ``W`` projects it to the action
size, and ``x_{-1} = 0``. With ``merge="ladder"`` every ladder is projected and added at its mirrored depth
instead, as in a VLAE: the deepest ladder joins the input of the first decoder layer, ladder 1 the input
of the decoder layer nearest the output.

- Training (:meth:`Seq2SeqVAE.forward_normalized`) uses teacher forcing: ``x_{t-1}`` is the true previous
  action.
- Generation (:meth:`Seq2SeqVAE.decode_normalized`) feeds back the decoder's own previous output, one step
  at a time (:meth:`absaction.models.qrnn.QRNNLayer.step`), for as many steps as asked.

Variable-length batches are padded at the end and described by ``lengths``: the encoder's final states
are taken at each sequence's own ends, the decoder is causal, so padding never changes a real step; the
reconstruction is 0 at padded steps. Train with a masked loss (``gaussian_nll(..., mask=...)`` with
:func:`length_mask`).

>>> import torch
>>> from absaction.models.seq2seq import Seq2SeqConfig, Seq2SeqVAE
>>> model = Seq2SeqVAE(Seq2SeqConfig(action_dim=2, seq_len=None, hidden_size=16))
>>> x = torch.randn(3, 40, 2)
>>> x_hat, stats, latents = model.forward_normalized(x, lengths=torch.tensor([40, 25, 7]))
>>> tuple(x_hat.shape), [tuple(mean.shape) for mean, _ in stats]
((3, 40, 2), [(3, 8), (3, 4), (3, 2)])
>>> tuple(model.decode([mean for mean, _ in stats], length=60).shape)   # generation, any length
(3, 60, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from absaction.errors import AbsactionError
from absaction.models.base import ActionVAE
from absaction.models.configs import Seq2SeqConfig
from absaction.models.qrnn import QRNN, QRNNLayer, padding_mask


def length_mask(
    lengths: Tensor | None, batch: int, length: int, device: torch.device | str | None = None
) -> Tensor:
    """``(B, T)`` float mask, 1 at real steps and 0 at padding (all ones when ``lengths`` is None);
    the ``mask`` of :func:`absaction.models.losses.gaussian_nll` for a padded batch. It lives on
    ``device``, by default that of ``lengths`` (the CPU when there are none)."""
    if lengths is None:
        return torch.ones(batch, length, device=device)
    lengths = lengths.to(device) if device is not None else lengths
    steps = torch.arange(length, device=lengths.device)
    return (steps[None, :] < lengths[:, None]).float()


class Seq2SeqVAE(ActionVAE):
    """QRNN encoder with ladders at several depths, QRNN decoder fed ``z + x_{t-1}`` (see the module)."""

    name = "seq2seq"
    config_class = Seq2SeqConfig
    fixed_length = False  # whole variable-length episodes, padded, with their lengths
    config: Seq2SeqConfig

    def __init__(self, config: Seq2SeqConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        hidden, n_ladders = config.hidden_size, len(config.ladder_dims)
        action_dim = config.action_dim
        self.encoder = QRNN(
            action_dim,
            hidden,
            num_layers=config.n_layers,
            window=config.window,
            mode=config.mode,  # type: ignore[arg-type]
            bidirectional=True,
            dropout=config.dropout,
        )
        # ladder l reads the final states of encoder layer depth_l (1-based), both directions
        self._depths = [(ladder + 1) * config.layers_per_ladder for ladder in range(n_ladders)]
        self.heads = nn.ModuleList(nn.Linear(2 * hidden, 2 * dim) for dim in config.ladder_dims)
        sizes = [action_dim] + [hidden] * (config.n_layers - 1)  # input size of every decoder layer
        self.decoder = nn.ModuleList(
            QRNNLayer(size, hidden, config.window, config.mode)  # type: ignore[arg-type]
            for size in sizes
        )
        # decoder layer that each projection feeds, and the projections themselves
        if config.merge == "input":
            self._joins = [0]
            self.projections = nn.ModuleList([nn.Linear(sum(config.ladder_dims), action_dim)])
        else:  # ladder l joins decoder layer (L - l) * k: the deepest ladder the first layer
            self._joins = [(n_ladders - 1 - ladder) * config.layers_per_ladder for ladder in range(n_ladders)]
            self.projections = nn.ModuleList(
                nn.Linear(dim, sizes[join]) for dim, join in zip(config.ladder_dims, self._joins, strict=True)
            )
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(hidden, action_dim)

    # ----------------------------------------------------------------------------------- encoder
    def encode_normalized(self, x_norm: Tensor, lengths: Tensor | None = None) -> list[tuple[Tensor, Tensor]]:
        lengths = self._check_lengths(x_norm, lengths)
        _, finals = self.encoder(x_norm, lengths=lengths)  # (n_layers * 2, B, H), layer by layer
        stats = []
        for depth, head in zip(self._depths, self.heads, strict=True):
            both = torch.cat([finals[2 * depth - 2], finals[2 * depth - 1]], dim=-1)  # (B, 2H)
            mean, logvar = head(both).chunk(2, dim=-1)  # 2 x (B, d_l)
            stats.append((mean, logvar))
        return stats

    # ----------------------------------------------------------------------------------- decoder
    def _injections(self, latents: list[Tensor]) -> dict[int, Tensor]:
        """Decoder layer index -> what is added to its input at every step, (B, input size)."""
        if self.config.merge == "input":
            return {0: self.projections[0](torch.cat(latents, dim=-1))}
        injections: dict[int, Tensor] = {}
        for join, projection, z in zip(self._joins, self.projections, latents, strict=True):
            term = projection(z)
            injections[join] = injections[join] + term if join in injections else term
        return injections

    def decode_teacher_forced(
        self, latents: list[Tensor], x_norm: Tensor, lengths: Tensor | None = None
    ) -> Tensor:
        """Predict every step from the true previous one: ``x_hat_t = f(z, x_0 .. x_{t-1})``, (B, T, A).

        Causal in ``x_norm``: step t of the output does not depend on steps >= t of the input. The
        output is 0 at padded steps.
        """
        lengths = self._check_lengths(x_norm, lengths)
        batch, length, _ = x_norm.shape
        pad = None if lengths is None else padding_mask(lengths, length)
        h = torch.cat([x_norm.new_zeros(batch, 1, x_norm.shape[2]), x_norm[:, :-1]], dim=1)  # x_{t-1}
        injections = self._injections(latents)
        for index, layer in enumerate(self.decoder):
            if index > 0:
                h = self.dropout(h)
            if index in injections:
                h = h + injections[index][:, None, :]  # the same latent term at every step
            h, _ = layer(h, None, pad)
        x_hat = self.output(h)
        return x_hat if pad is None else x_hat.masked_fill(pad, 0.0)

    def decode_normalized(self, latents: list[Tensor], length: int | None = None) -> Tensor:
        """Generate ``length`` steps (default ``config.default_length``), feeding back each output."""
        length = self.config.default_length if length is None else length
        if length < 1:
            raise AbsactionError(f"cannot generate {length} steps", "pass length >= 1")
        batch = latents[0].shape[0]
        injections = self._injections(latents)
        layers: list[QRNNLayer] = list(self.decoder)  # type: ignore[arg-type]
        weight = layers[0].weight
        states = [weight.new_zeros(batch, layer.hidden_size) for layer in layers]
        previous = [weight.new_zeros(batch, layer.window - 1, layer.input_size) for layer in layers]
        x_prev = weight.new_zeros(batch, self.config.action_dim)
        outputs = []
        for _ in range(length):
            h = x_prev
            for index, layer in enumerate(layers):
                if index > 0:
                    h = self.dropout(h)
                if index in injections:
                    h = h + injections[index]
                h, states[index], previous[index] = layer.step(h, states[index], previous[index])
            x_prev = self.output(h)  # (B, A): this step's action, and the next step's input
            outputs.append(x_prev)
        return torch.stack(outputs, dim=1)

    def forward_normalized(
        self,
        x_norm: Tensor,
        lengths: Tensor | None = None,
        generator: torch.Generator | None = None,
        ladder_scales: Sequence[float] | None = None,
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor]], list[Tensor]]:
        """Encode, sample every ladder (scaled by ``ladder_scales``, see the base class), decode with
        teacher forcing (0 at padded steps)."""
        stats = self.encode_normalized(x_norm, lengths)
        latents = self.sample_latents(stats, generator, ladder_scales)
        return self.decode_teacher_forced(latents, x_norm, lengths), stats, latents

    # ------------------------------------------------------------------------------------ checks
    def _check_lengths(self, x_norm: Tensor, lengths: Tensor | None) -> Tensor | None:
        if x_norm.ndim != 3 or x_norm.shape[2] != self.config.action_dim or x_norm.shape[1] < 1:
            raise AbsactionError(
                f"seq2seq expects actions of shape (B, T >= 1, {self.config.action_dim}), "
                f"got {tuple(x_norm.shape)}",
                "pass a batch of action sequences (batch, time, action_dim)",
            )
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths, device=x_norm.device)
        if lengths.shape != (x_norm.shape[0],):
            raise AbsactionError(
                f"got {lengths.numel()} lengths for a batch of {x_norm.shape[0]} sequences",
                "pass one length per sequence",
            )
        return lengths
