"""GCIQL, goal-conditioned implicit Q-learning (OGBench's ``impls/agents/gciql.py``).

A value V(s, g), two critics Q1, Q2 (s, a, g) and their targets Q1', Q2' (Polyak averages, rate ``tau``).
For value goals g, rewards r and masks m (:class:`absaction.data.goals.GoalSampler`)::

    value_loss  = mean_batch |expectile - 1(u < 0)| * u^2,   u = min(Q1', Q2')(s, a, g) - V(s, g)
    q           = r + discount * m * V(s', g)                  (no gradient)
    critic_loss = mean_batch (Q1(s, a, g) - q)^2 + (Q2(s, a, g) - q)^2

The actor, for actor goals g' (:class:`absaction.offline.configs.GCIQLConfig`), either

- ``awr``: ``-mean min(exp(alpha * (min(Q1, Q2)(s, a, g') - V(s, g'))), 100) * log pi(a | s, g')``, or
- ``ddpgbc`` (OGBench's choice on pointmaze, alpha 0.003): with ``a' = clip(mu(s, g'), -1, 1)`` (a
  sample instead of the mean when the std is learned)
  ``-mean min(Q1, Q2)(s, a', g') / mean |min(Q1, Q2)(s, a', g')| - alpha * mean log pi(a | s, g')``;
  the critics pass the gradient to the actor but are not changed by it, and the normaliser carries none.

One Adam step on the sum of the three losses (every term computed with the networks before the step),
then the critics' targets move toward the critics.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor
from torch.func import functional_call

from absaction.offline.agent import OfflineAgent, TensorBatch, awr_weights, expectile_loss
from absaction.offline.configs import GCIQLConfig
from absaction.offline.networks import (
    GaussianActor,
    ValueEnsemble,
    frozen_copy,
    gaussian_log_prob,
    soft_update,
)


class GCIQL(OfflineAgent):
    """Goal-conditioned implicit Q-learning."""

    name: ClassVar[str] = "gciql"
    metric_names: ClassVar[tuple[str, ...]] = (
        "value_loss", "v_mean", "critic_loss", "q_mean", "actor_loss", "q_loss", "bc_log_prob", "mse",
    )  # fmt: skip
    config: GCIQLConfig

    def __init__(
        self, config: GCIQLConfig, obs_dim: int, action_dim: int, generator: torch.Generator
    ) -> None:
        super().__init__(config, obs_dim, action_dim, generator)
        hidden, norm = config.value_hidden_dims, config.layer_norm
        self.value = ValueEnsemble(2 * obs_dim, hidden, generator, 1, norm)
        self.critic = ValueEnsemble(2 * obs_dim + action_dim, hidden, generator, 2, norm)
        self.target_critic = frozen_copy(self.critic)
        self.actor = GaussianActor(obs_dim, action_dim, config.actor_hidden_dims, generator, config.const_std)

    def value_loss(self, batch: TensorBatch) -> tuple[Tensor, Tensor]:
        """``(loss, [value_loss, v_mean])``."""
        with torch.no_grad():
            q = self.target_critic(batch.observations, batch.value_goals, batch.actions).min(dim=0).values
        v = self.value(batch.observations, batch.value_goals)[0]  # (B,)
        loss = expectile_loss(q - v, q - v, self.config.expectile).mean()
        return loss, torch.stack([loss.detach(), v.detach().mean()])

    def critic_loss(self, batch: TensorBatch) -> tuple[Tensor, Tensor]:
        """``(loss, [critic_loss, q_mean])``."""
        with torch.no_grad():
            next_v = self.value(batch.next_observations, batch.value_goals)[0]
            q = batch.rewards + self.config.discount * batch.masks * next_v  # (B,)
        q_each = self.critic(batch.observations, batch.value_goals, batch.actions)  # (2, B)
        loss = (q_each - q).pow(2).sum(dim=0).mean()
        return loss, torch.stack([loss.detach(), q.mean()])

    def actor_loss(self, batch: TensorBatch, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``(loss, [actor_loss, q_loss, bc_log_prob, mse])`` (``q_loss`` is the advantage's mean for awr)."""
        c = self.config
        obs, goals = batch.observations, batch.actor_goals
        mean, log_std = self.actor(obs, goals)
        log_prob = gaussian_log_prob(mean, log_std, batch.actions)  # (B,)
        if c.actor_loss == "awr":
            with torch.no_grad():
                adv = self.critic(obs, goals, batch.actions).min(dim=0).values - self.value(obs, goals)[0]
            loss = -(awr_weights(adv, c.alpha) * log_prob).mean()
            first = adv.mean()
        else:
            if c.const_std:
                q_actions = mean.clamp(-1.0, 1.0)
            else:
                noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
                q_actions = (mean + log_std.exp() * noise).clamp(-1.0, 1.0)
            # the critics' current weights as constants: the gradient reaches the actor only
            weights = {name: p.detach() for name, p in self.critic.named_parameters()}
            q = functional_call(self.critic, weights, (obs, goals, q_actions)).min(dim=0).values  # (B,)
            q_loss = -q.mean() / (q.abs().mean().detach() + 1e-6)
            loss = q_loss - (c.alpha * log_prob).mean()
            first = q_loss.detach()
        with torch.no_grad():
            mse = (mean - batch.actions).pow(2).mean()
            metrics = torch.stack([loss.detach(), first, log_prob.mean(), mse])
        return loss, metrics

    def losses(self, batch: TensorBatch, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        value_loss, value_metrics = self.value_loss(batch)
        critic_loss, critic_metrics = self.critic_loss(batch)
        actor_loss, actor_metrics = self.actor_loss(batch, generator)
        metrics = torch.cat([value_metrics, critic_metrics, actor_metrics])
        return value_loss + critic_loss + actor_loss, metrics

    def after_step(self) -> None:
        soft_update(self.target_critic, self.critic, self.config.tau)
