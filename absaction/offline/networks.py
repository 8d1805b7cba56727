"""The networks of the offline agents, as OGBench builds them (``impls/utils/networks.py``).

- :class:`MLP`: Linear layers with GELU (tanh approximation, flax's default) between them, optionally a
  LayerNorm after every hidden activation; weights drawn uniform with variance ``scale / fan_avg``
  (flax's ``variance_scaling(scale, "fan_avg", "uniform")``), biases zero.
- :class:`GaussianActor`: pi(a | s, g) = N(mean(s, g), diag(std^2)), the mean a linear layer (init scale
  0.01) on an MLP whose last hidden layer is activated too; std 1 (``const_std``) or a learned
  per-dimension log std clipped to [-5, 2]. Actions are not squashed; the evaluation takes the mean,
  clipped to [-1, 1].
- :class:`ValueEnsemble`: ``E`` independent MLPs with one output (an ensemble of two, with layer norm,
  for V(s, g) and Q(s, a, g)).

All weights are drawn from a caller's ``torch.Generator``, never from torch's global one.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
"""Bounds of a learned log standard deviation (OGBench's)."""
LAYER_NORM_EPS = 1e-6
"""flax's LayerNorm epsilon."""


def _init_linear(layer: nn.Linear, scale: float, generator: torch.Generator) -> None:
    fan_avg = (layer.in_features + layer.out_features) / 2.0
    limit = math.sqrt(3.0 * scale / fan_avg)
    with torch.no_grad():
        layer.weight.uniform_(-limit, limit, generator=generator)
        layer.bias.zero_()


class MLP(nn.Module):
    """``in_dim -> hidden_dims... -> out_dim``; ``activate_final`` also activates (and normalises) the
    output layer."""

    def __init__(
        self,
        in_dim: int,
        hidden_dims: Sequence[int],
        out_dim: int,
        generator: torch.Generator,
        layer_norm: bool = False,
        activate_final: bool = False,
    ) -> None:
        super().__init__()
        sizes = [in_dim, *hidden_dims, out_dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            linear = nn.Linear(a, b)
            _init_linear(linear, 1.0, generator)
            layers.append(linear)
            if i + 2 < len(sizes) or activate_final:
                layers.append(nn.GELU(approximate="tanh"))
                if layer_norm:
                    layers.append(nn.LayerNorm(b, eps=LAYER_NORM_EPS))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class GaussianActor(nn.Module):
    """pi(a | s, g): a diagonal Gaussian over actions, its input ``concat(s, g)``."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden_dims: Sequence[int],
        generator: torch.Generator,
        const_std: bool = True,
    ) -> None:
        super().__init__()
        self.trunk = MLP(2 * obs_dim, hidden_dims[:-1], hidden_dims[-1], generator, activate_final=True)
        self.mean = nn.Linear(hidden_dims[-1], action_dim)
        _init_linear(self.mean, 1e-2, generator)
        self.const_std = const_std
        self.log_std = None if const_std else nn.Parameter(torch.zeros(action_dim))

    def forward(self, observations: Tensor, goals: Tensor) -> tuple[Tensor, Tensor]:
        """``(mean (B, A), log std (A,) or (B, A))``."""
        mean = self.mean(self.trunk(torch.cat([observations, goals], dim=-1)))
        if self.log_std is None:
            return mean, torch.zeros_like(mean)
        return mean, self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).expand_as(mean)

    def log_prob(self, observations: Tensor, goals: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """``(log pi(actions | s, g) (B,), mean (B, A))``."""
        mean, log_std = self(observations, goals)
        return gaussian_log_prob(mean, log_std, actions), mean


def gaussian_log_prob(mean: Tensor, log_std: Tensor, actions: Tensor) -> Tensor:
    """log N(actions; mean, diag(exp(log_std)^2)), summed over the action dimensions: (B, A) -> (B,)."""
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2.0 * math.pi)).sum(dim=-1)


class ValueEnsemble(nn.Module):
    """``members`` independent MLPs from ``concat(inputs...)`` to one number each: ``(E, B)``."""

    def __init__(
        self,
        in_dim: int,
        hidden_dims: Sequence[int],
        generator: torch.Generator,
        members: int = 2,
        layer_norm: bool = True,
    ) -> None:
        super().__init__()
        self.members = nn.ModuleList(
            MLP(in_dim, hidden_dims, 1, generator, layer_norm=layer_norm) for _ in range(members)
        )

    def forward(self, *inputs: Tensor) -> Tensor:
        x = torch.cat(inputs, dim=-1)  # (B, in_dim)
        return torch.stack([member(x).squeeze(-1) for member in self.members])  # (E, B)


def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target <- tau * online + (1 - tau) * target, parameter by parameter."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), tau)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose parameters need no gradient (a target network)."""
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target
