"""GCIVL, goal-conditioned implicit V-learning (OGBench's ``impls/agents/gcivl.py``): IQL's expectile
regression on a value V(s, g) alone, no Q, and an actor trained by advantage-weighted regression.

Two value networks V1, V2 and their targets V1', V2' (Polyak averages, rate ``tau``). For a batch with
value goals g, rewards r and masks m (:class:`absaction.data.goals.GoalSampler`)::

    q_i   = r + discount * m * V_i'(s', g)                      target of V_i
    q     = r + discount * m * min(V1'(s', g), V2'(s', g))
    adv   = q - (V1'(s, g) + V2'(s, g)) / 2                     picks each sample's expectile weight
    value_loss = sum_i mean_batch |expectile - 1(adv < 0)| * (q_i - V_i(s, g))^2

The weight comes from the target networks and the error from the online ones, as double DQN separates
them. The actor, for actor goals g' (:class:`absaction.offline.configs.GCIVLConfig`)::

    A = V(s', g') - V(s, g')        V = (V1 + V2) / 2 of the online networks, no gradient
    actor_loss = -mean_batch min(exp(alpha * A), 100) * log pi(a | s, g')

One Adam step on ``value_loss + actor_loss``, then the targets move toward the online networks.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from absaction.offline.agent import OfflineAgent, TensorBatch, awr_weights, expectile_loss
from absaction.offline.configs import GCIVLConfig
from absaction.offline.networks import (
    GaussianActor,
    ValueEnsemble,
    frozen_copy,
    gaussian_log_prob,
    soft_update,
)


class GCIVL(OfflineAgent):
    """Goal-conditioned implicit V-learning."""

    name: ClassVar[str] = "gcivl"
    metric_names: ClassVar[tuple[str, ...]] = (
        "value_loss", "v_mean", "v_max", "v_min", "actor_loss", "adv", "bc_log_prob", "mse",
    )  # fmt: skip
    config: GCIVLConfig

    def __init__(
        self, config: GCIVLConfig, obs_dim: int, action_dim: int, generator: torch.Generator
    ) -> None:
        super().__init__(config, obs_dim, action_dim, generator)
        self.value = ValueEnsemble(2 * obs_dim, config.value_hidden_dims, generator, 2, config.layer_norm)
        self.target_value = frozen_copy(self.value)
        self.actor = GaussianActor(obs_dim, action_dim, config.actor_hidden_dims, generator, config.const_std)

    def value_loss(self, batch: TensorBatch) -> tuple[Tensor, Tensor]:
        """``(loss, [value_loss, v_mean, v_max, v_min])``."""
        c = self.config
        b = batch.observations.shape[0]
        with torch.no_grad():
            states = torch.cat([batch.next_observations, batch.observations])  # (2B, D): s' then s
            goals = torch.cat([batch.value_goals, batch.value_goals])
            target = self.target_value(states, goals)  # (2, 2B)
            next_v, v_t = target[:, :b], target[:, b:]  # (2, B) each
            q_each = batch.rewards + c.discount * batch.masks * next_v  # (2, B)
            q = batch.rewards + c.discount * batch.masks * next_v.min(dim=0).values  # (B,)
            adv = q - v_t.mean(dim=0)
        v = self.value(batch.observations, batch.value_goals)  # (2, B)
        loss = expectile_loss(adv, q_each - v, c.expectile).mean(dim=1).sum()
        with torch.no_grad():
            v_avg = v.mean(dim=0)
            metrics = torch.stack([loss, v_avg.mean(), v_avg.max(), v_avg.min()])
        return loss, metrics

    def actor_loss(self, batch: TensorBatch) -> tuple[Tensor, Tensor]:
        """``(loss, [actor_loss, adv, bc_log_prob, mse])``."""
        b = batch.observations.shape[0]
        with torch.no_grad():
            states = torch.cat([batch.observations, batch.next_observations])  # (2B, D): s then s'
            goals = torch.cat([batch.actor_goals, batch.actor_goals])
            v = self.value(states, goals).mean(dim=0)  # (2B,)
            adv = v[b:] - v[:b]  # V(s', g) - V(s, g)
            weights = awr_weights(adv, self.config.alpha)
        mean, log_std = self.actor(batch.observations, batch.actor_goals)
        log_prob = gaussian_log_prob(mean, log_std, batch.actions)  # (B,)
        loss = -(weights * log_prob).mean()
        with torch.no_grad():
            mse = (mean - batch.actions).pow(2).mean()
            metrics = torch.stack([loss, adv.mean(), log_prob.mean(), mse])
        return loss, metrics

    def losses(self, batch: TensorBatch, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        # the actor's advantages use the value networks before this step, as OGBench's single loss does
        actor_loss, actor_metrics = self.actor_loss(batch)
        value_loss, value_metrics = self.value_loss(batch)
        return value_loss + actor_loss, torch.cat([value_metrics, actor_metrics])

    def after_step(self) -> None:
        soft_update(self.target_value, self.value, self.config.tau)
