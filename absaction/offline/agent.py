"""What every offline agent is to the trainer, the evaluation and the run folder: a module holding its
networks, an ``update`` that takes one batch, and a deterministic ``act``.

An agent's ``state_dict`` holds every network (target networks included), so the weights file restores
it whole; :meth:`OfflineAgent.trained_parameters` lists those the optimiser updates (not the targets).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from absaction.data.goals import GoalBatch
from absaction.offline.configs import AgentConfig
from absaction.train.optim import Adam


class TensorBatch(NamedTuple):
    """A :class:`~absaction.data.goals.GoalBatch` as tensors on the training device."""

    observations: Tensor
    """(B, D)"""
    actions: Tensor
    """(B, A)"""
    next_observations: Tensor
    """(B, D)"""
    value_goals: Tensor
    """(B, D)"""
    actor_goals: Tensor
    """(B, D)"""
    rewards: Tensor
    """(B,)"""
    masks: Tensor
    """(B,)"""

    @classmethod
    def from_numpy(cls, batch: GoalBatch, device: torch.device) -> TensorBatch:
        return cls(
            *(torch.from_numpy(getattr(batch, name)).to(device, non_blocking=True) for name in cls._fields)
        )


def expectile_loss(adv: Tensor, diff: Tensor, expectile: float) -> Tensor:
    """IQL's asymmetric square, element-wise: ``w * diff^2`` with ``w = expectile`` where ``adv >= 0``,
    else ``1 - expectile``. ``adv`` only picks the weight (OGBench computes it from the target network
    in GCIVL, from ``diff`` itself in GCIQL)."""
    weight = torch.where(adv >= 0, expectile, 1.0 - expectile)
    return weight * diff.pow(2)


def awr_weights(advantage: Tensor, alpha: float) -> Tensor:
    """Advantage-weighted regression's weights ``min(exp(alpha * advantage), 100)``."""
    return torch.exp(advantage * alpha).clamp(max=100.0)


class OfflineAgent(nn.Module):
    """Base class of GCBC, GCIVL and GCIQL.

    Args:
        config: the agent's configuration.
        obs_dim: size of an observation (a goal is an observation).
        action_dim: size of an action.
        generator: draws the initial weights.
    """

    name: ClassVar[str] = ""
    metric_names: ClassVar[tuple[str, ...]] = ()
    """What :meth:`update` returns, in order (the columns of metrics.csv)."""

    actor: nn.Module

    def __init__(
        self, config: AgentConfig, obs_dim: int, action_dim: int, generator: torch.Generator
    ) -> None:
        super().__init__()
        self.config = config
        self.obs_dim = obs_dim
        self.action_dim = action_dim

    def trained_parameters(self) -> list[nn.Parameter]:
        """The parameters the optimiser updates (every network but the targets), in a fixed order."""
        return [p for p in self.parameters() if p.requires_grad]

    def make_optimizer(self) -> Adam:
        return Adam(self.trained_parameters(), lr=self.config.lr)

    def losses(self, batch: TensorBatch, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """The loss one gradient step on ``batch`` minimises (every term computed with the networks before
        the step; sampling noise from ``generator``) and the step's metrics, a detached
        ``(len(metric_names),)`` tensor."""
        raise NotImplementedError

    def after_step(self) -> None:
        """After the optimiser's step: the target networks move toward the online ones (none in GCBC)."""

    def update(self, batch: TensorBatch, optimizer: Adam, generator: torch.Generator) -> Tensor:
        """One gradient step on ``batch`` and the target networks' update, as the training engine makes it
        (:meth:`losses`, the optimiser's step, :meth:`after_step`); returns the step's metrics."""
        loss, metrics = self.losses(batch, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        self.after_step()
        return metrics

    @torch.no_grad()
    def act(self, observations: Tensor, goals: Tensor) -> Tensor:
        """The deterministic action (the actor's mean, clipped to [-1, 1]): (B, D), (B, D) -> (B, A)."""
        mean, _ = self.actor(observations, goals)
        return mean.clamp(-1.0, 1.0)

    def policy(self, device: torch.device | str = "cpu") -> PolicyFn:
        """``act`` on numpy arrays, for the evaluation (float32 in, float64 out)."""
        return PolicyFn(self, torch.device(device))


class PolicyFn:
    """An agent's deterministic policy on numpy arrays: ``(B, D), (B, D) -> (B, A)``."""

    def __init__(self, agent: OfflineAgent, device: torch.device) -> None:
        self.agent = agent
        self.device = device

    def __call__(self, observations: np.ndarray, goals: np.ndarray) -> np.ndarray:
        obs = torch.as_tensor(np.asarray(observations, dtype=np.float32), device=self.device)
        goal = torch.as_tensor(np.asarray(goals, dtype=np.float32), device=self.device)
        # no layer here behaves differently in training and evaluation (no dropout, no batch norm), so
        # the agent's mode is left alone: switching it costs more than a small forward pass
        return self.agent.act(obs, goal).cpu().numpy().astype(np.float64)
