"""Prior-regularised SAC in skill space (SPiRL): the entropy bonus becomes a KL to the skill prior.

SAC maximises ``Q - alpha * log pi``; SPiRL maximises ``Q - alpha * KL(pi(z | s) || p(z | s))``, so the
agent explores where the demonstrations went instead of uniformly, and ``alpha`` is tuned so that the
divergence stays near a target (``target_divergence``, nats) instead of an entropy target:

- critic target: ``r + gamma (1 - done) (min Q'(s', a') - alpha * KL(pi(. | s') || p(. | s')))``;
- actor loss: ``mean(alpha * KL(pi(. | s) || p(. | s)) - min Q(s, a~pi))``;
- alpha loss: ``mean(log_alpha * (target_divergence - KL))`` (alpha grows while the KL is above target).

Squashing. SB3's SAC samples ``u ~ N(mu(s), sigma(s))`` and acts ``a = tanh(u)``. The skill wrapper's
``prior="kl"`` maps ``a`` back with ``z = atanh(a)``, so ``z = u``: the policy over z *is* the pre-tanh
Gaussian, and the KL above is the exact closed form between two diagonal Gaussians (no sampled estimate,
no tanh Jacobian). The prior is read from the wrapper (:meth:`SkillWrapper.action_prior`).

The actor starts as the prior (:func:`init_actor_from_prior`: its mean and std are fitted to the prior's
on observations the prior itself visits), and the warm-up before ``learning_starts`` acts with that actor,
not uniformly (a uniform ``a`` would be a heavy-tailed z after ``atanh``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from stable_baselines3 import SAC
from stable_baselines3.common.utils import polyak_update
from torch import Tensor

from absaction.errors import AbsactionError

ActionPrior = Callable[[Tensor], tuple[Tensor, Tensor]]
"""observations (B, D) -> prior (mean, std), each (B, d), in the agent's pre-squash action space"""


def gaussian_kl(mean_q: Tensor, log_std_q: Tensor, mean_p: Tensor, std_p: Tensor) -> Tensor:
    """``KL(N(mean_q, e^log_std_q) || N(mean_p, std_p))`` summed over the last dim, nats: (B, d) -> (B,).

    Per dimension ``log(std_p / std_q) + (std_q^2 + (mean_q - mean_p)^2) / (2 std_p^2) - 1/2``.
    """
    var_q = torch.exp(2.0 * log_std_q)
    per_dim = torch.log(std_p) - log_std_q + (var_q + (mean_q - mean_p) ** 2) / (2.0 * std_p**2) - 0.5
    return per_dim.sum(dim=-1)


def actor_loss(kl: Tensor, min_q: Tensor, alpha: Tensor | float) -> Tensor:
    """``mean(alpha * KL - min Q)`` over the batch (``kl``, ``min_q``: (B,))."""
    return (alpha * kl - min_q).mean()


def alpha_loss(log_alpha: Tensor, kl: Tensor, target_divergence: float) -> Tensor:
    """``mean(log_alpha * (target - KL))``, the KL detached: its gradient raises alpha while KL > target."""
    return (log_alpha * (target_divergence - kl.detach())).mean()


def critic_target(
    rewards: Tensor,
    dones: Tensor,
    discount: Tensor | float,
    next_min_q: Tensor,
    next_kl: Tensor,
    alpha: Tensor | float,
) -> Tensor:
    """``r + discount (1 - done) (min Q'(s', a') - alpha KL(s'))`` (all (B,) or (B, 1))."""
    return rewards + (1.0 - dones) * discount * (next_min_q - alpha * next_kl)


class PriorSAC(SAC):
    """SB3 SAC with the entropy bonus replaced by ``alpha * KL(pi || prior)`` (see the module).

    Args:
        policy, env, ...: as :class:`stable_baselines3.SAC` (``ent_coef="auto"`` / ``"auto_0.1"`` tunes
            alpha from that start; a number fixes it).
        action_prior: the prior in the agent's pre-squash action space; not saved with the agent (pass it
            again with ``PriorSAC.load(path, action_prior=...)`` to continue training; acting needs none).
        target_divergence: the KL (nats per decision, summed over latent dims) that alpha steers toward.
    """

    def __init__(
        self,
        *args: Any,
        action_prior: ActionPrior | None = None,
        target_divergence: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.action_prior = action_prior
        self.target_divergence = float(target_divergence)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "action_prior"]

    def _sample_action(self, learning_starts: int, action_noise: Any = None, n_envs: int = 1) -> Any:
        # warm-up acts with the actor (initialised from the prior), never uniformly
        return super()._sample_action(0, action_noise, n_envs)

    def policy_kl(self, observations: Tensor) -> tuple[Tensor, Tensor]:
        """``(KL(pi(. | s) || p(. | s)) (B,), a = tanh(u) (B, d) with u ~ pi, reparameterised)``."""
        if self.action_prior is None:
            raise AbsactionError(
                "PriorSAC has no prior to regularise toward",
                "pass action_prior (SkillWrapper(prior='kl').action_prior) when building or loading it",
            )
        mean, log_std, _ = self.actor.get_action_dist_params(observations)
        prior_mean, prior_std = self.action_prior(observations)
        u = mean + torch.exp(log_std) * torch.randn_like(mean)
        return gaussian_kl(mean, log_std, prior_mean, prior_std), torch.tanh(u)

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        self.policy.set_training_mode(True)
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers.append(self.ent_coef_optimizer)
        self._update_learning_rate(optimizers)
        alphas, alpha_losses, actor_losses, critic_losses, kls = [], [], [], [], []
        for gradient_step in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            discounts = data.discounts if data.discounts is not None else self.gamma
            kl, actions_pi = self.policy_kl(data.observations)  # (B,), (B, d)
            if self.ent_coef_optimizer is not None and self.log_ent_coef is not None:
                alpha = torch.exp(self.log_ent_coef.detach())
                loss_alpha = alpha_loss(self.log_ent_coef, kl, self.target_divergence)
                self.ent_coef_optimizer.zero_grad()
                loss_alpha.backward()
                self.ent_coef_optimizer.step()
                alpha_losses.append(loss_alpha.item())
            else:
                alpha = self.ent_coef_tensor
            alphas.append(alpha.item())
            kls.append(kl.mean().item())

            with torch.no_grad():
                next_kl, next_actions = self.policy_kl(data.next_observations)
                next_q = torch.cat(self.critic_target(data.next_observations, next_actions), dim=1)
                next_min_q, _ = torch.min(next_q, dim=1, keepdim=True)  # (B, 1)
                target = critic_target(
                    data.rewards, data.dones, discounts, next_min_q, next_kl[:, None], alpha
                )
            current = self.critic(data.observations, data.actions)
            loss_critic = 0.5 * sum(F.mse_loss(q, target) for q in current)
            assert isinstance(loss_critic, Tensor)
            self.critic.optimizer.zero_grad()
            loss_critic.backward()
            self.critic.optimizer.step()
            critic_losses.append(loss_critic.item())

            q_pi = torch.cat(self.critic(data.observations, actions_pi), dim=1)
            min_q_pi, _ = torch.min(q_pi, dim=1)  # (B,)
            loss_actor = actor_loss(kl, min_q_pi, alpha)
            self.actor.optimizer.zero_grad()
            loss_actor.backward()
            self.actor.optimizer.step()
            actor_losses.append(loss_actor.item())

            if gradient_step % self.target_update_interval == 0:
                polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
                polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/ent_coef", np.mean(alphas))
        self.logger.record("train/prior_kl", np.mean(kls))
        self.logger.record("train/actor_loss", np.mean(actor_losses))
        self.logger.record("train/critic_loss", np.mean(critic_losses))
        if alpha_losses:
            self.logger.record("train/ent_coef_loss", np.mean(alpha_losses))


def prior_observations(env: Any, decisions: int, seed: int) -> np.ndarray:
    """Observations ``(decisions, D)`` at the decision points of the prior's own rollouts in a
    ``SkillWrapper(prior="kl")`` env (z ~ p(z | s), acted as ``a = tanh(z)``), episodes seeded from
    ``seed``."""
    rng = torch.Generator().manual_seed(seed)
    observations: list[np.ndarray] = []
    episode = 0
    obs, _ = env.reset(seed=seed)
    while len(observations) < decisions:
        observations.append(np.asarray(obs, np.float32))
        mean, std = env.action_prior(torch.as_tensor(obs, dtype=torch.float32)[None])
        z = mean + std * torch.randn(mean.shape, generator=rng)
        obs, _, terminated, truncated, _ = env.step(torch.tanh(z)[0].numpy())
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset(seed=seed + episode)
    return np.stack(observations)


def init_actor_from_prior(
    agent: PriorSAC, observations: np.ndarray, epochs: int = 200, lr: float = 3e-3, seed: int = 0
) -> tuple[float, float]:
    """Fit the actor's Gaussian to the prior on ``observations`` (full-batch Adam on the mean KL).

    Returns ``(KL before, KL after)``, nats per observation.
    """
    torch.manual_seed(seed)
    obs = torch.as_tensor(observations, dtype=torch.float32, device=agent.device)
    assert agent.action_prior is not None
    prior_mean, prior_std = agent.action_prior(obs)
    optimizer = torch.optim.Adam(agent.actor.parameters(), lr=lr)

    def mean_kl() -> Tensor:
        mean, log_std, _ = agent.actor.get_action_dist_params(obs)
        return gaussian_kl(mean, log_std, prior_mean, prior_std).mean()

    with torch.no_grad():
        before = float(mean_kl())
    for _ in range(epochs):
        loss = mean_kl()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = float(mean_kl())
    return before, after
