"""GCBC, goal-conditioned behaviour cloning (OGBench's ``impls/agents/gcbc.py``).

The actor pi(a | s, g) maximises the log-likelihood of the dataset's action for a hindsight goal g drawn
by :attr:`~absaction.offline.configs.GCBCConfig` (by default a future state of the same trajectory,
uniform up to its end)::

    loss = -mean_batch log pi(a | s, g)

With the fixed standard deviation of 1 (``const_std``) this is ``0.5 * mean |a - mu(s, g)|^2 +
(A / 2) log(2 pi)``. Configuration: :class:`absaction.offline.configs.GCBCConfig`.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from absaction.offline.agent import OfflineAgent, TensorBatch
from absaction.offline.configs import GCBCConfig
from absaction.offline.networks import GaussianActor, gaussian_log_prob


class GCBC(OfflineAgent):
    """Goal-conditioned behaviour cloning."""

    name: ClassVar[str] = "gcbc"
    metric_names: ClassVar[tuple[str, ...]] = ("actor_loss", "bc_log_prob", "mse", "std")
    config: GCBCConfig

    def __init__(self, config: GCBCConfig, obs_dim: int, action_dim: int, generator: torch.Generator) -> None:
        super().__init__(config, obs_dim, action_dim, generator)
        self.actor = GaussianActor(obs_dim, action_dim, config.actor_hidden_dims, generator, config.const_std)

    def actor_loss(self, batch: TensorBatch) -> tuple[Tensor, Tensor]:
        """``(loss, metrics)``: the negative mean log-likelihood, and the metrics of :attr:`metric_names`."""
        mean, log_std = self.actor(batch.observations, batch.actor_goals)
        log_prob = gaussian_log_prob(mean, log_std, batch.actions)  # (B,)
        loss = -log_prob.mean()
        with torch.no_grad():
            mse = (mean - batch.actions).pow(2).mean()
            metrics = torch.stack([loss, log_prob.mean(), mse, log_std.exp().mean()])
        return loss, metrics

    def losses(self, batch: TensorBatch, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return self.actor_loss(batch)
