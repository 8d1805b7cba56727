"""The offline agents' losses against hand-computed values on batches of three transitions.

The networks are replaced by stubs whose outputs can be worked out with pencil and paper: a value or
critic is a linear function of its inputs (``V_e(s, g) = coefs[e] . (s, g)``), an actor a fixed mean with
standard deviation 1. Observations and goals are 1-D, actions 2-D. Every expected number below is
written out from the definitions (OGBench's ``gcbc.py``, ``gcivl.py``, ``gciql.py``), not recomputed
with the code under test.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from absaction.offline.agent import TensorBatch, awr_weights, expectile_loss
from absaction.offline.configs import GCBCConfig, GCIQLConfig, GCIVLConfig
from absaction.offline.gcbc import GCBC
from absaction.offline.gciql import GCIQL
from absaction.offline.gcivl import GCIVL

LOG_2PI = math.log(2 * math.pi)  # a 2-D standard normal's log density at its mean is -log(2 pi)


class LinearStub(nn.Module):
    """``(E, B)``: member e gives ``coefs[e] . concat(inputs)``."""

    def __init__(self, coefs: list[list[float]]) -> None:
        super().__init__()
        self.coefs = nn.Parameter(torch.tensor(coefs))

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.coefs @ torch.cat(inputs, dim=-1).T


class FixedActor(nn.Module):
    """pi(a | s, g) = N(mean, I) whatever s and g are."""

    def __init__(self, mean: list[list[float]]) -> None:
        super().__init__()
        self.mean = nn.Parameter(torch.tensor(mean))

    def forward(self, observations: Tensor, goals: Tensor) -> tuple[Tensor, Tensor]:
        return self.mean, torch.zeros_like(self.mean)


def batch(**changes: list) -> TensorBatch:
    """s = (0, 1, 2), s' = (1, 2, 3), value goals (2, 2, 5), actor goals (3, 0, 1), rewards (-1, 0, -1),
    masks (1, 0, 1): the middle transition reached its goal."""
    values: dict[str, list] = {
        "observations": [[0.0], [1.0], [2.0]],
        "actions": [[0.5, 1.0], [0.0, 0.0], [1.0, -1.0]],
        "next_observations": [[1.0], [2.0], [3.0]],
        "value_goals": [[2.0], [2.0], [5.0]],
        "actor_goals": [[3.0], [0.0], [1.0]],
        "rewards": [-1.0, 0.0, -1.0],
        "masks": [1.0, 0.0, 1.0],
    }
    values.update(changes)
    return TensorBatch(*(torch.tensor(values[name]) for name in TensorBatch._fields))


def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def test_expectile_loss_and_awr_weights_by_hand() -> None:
    adv, diff = torch.tensor([1.0, -1.0, 0.0]), torch.tensor([2.0, 3.0, -1.0])
    # weight 0.9 where adv >= 0 (zero included), else 0.1; times diff^2
    assert expectile_loss(adv, diff, 0.9).tolist() == pytest.approx([3.6, 0.9, 0.9])
    weights = awr_weights(torch.tensor([0.5, -1.0, 3.0]), 2.0)
    assert weights.tolist() == pytest.approx([math.e, math.exp(-2.0), 100.0])  # exp(6) = 403 is clipped


def test_gcbc_loss_is_the_gaussian_negative_log_likelihood() -> None:
    torch.manual_seed(0)
    obs, goals, actions = torch.randn(64, 3), torch.randn(64, 3), torch.randn(64, 2)
    fixed = GCBC(GCBCConfig(actor_hidden_dims=(8, 8)), 3, 2, generator())
    b = batch(observations=obs.tolist(), actor_goals=goals.tolist(), actions=actions.tolist())
    loss, metrics = fixed.actor_loss(b)
    mean, _ = fixed.actor(obs, goals)
    # std 1: -log N(a; mu, I) = |a - mu|^2 / 2 + (A / 2) log(2 pi)
    closed = 0.5 * (actions - mean).pow(2).sum(dim=1).mean() + LOG_2PI
    assert loss.item() == pytest.approx(closed.item(), rel=1e-6)
    assert metrics[0].item() == pytest.approx(loss.item()) and metrics[3].item() == 1.0  # the std
    learned = GCBC(GCBCConfig(actor_hidden_dims=(8, 8), const_std=False), 3, 2, generator())
    assert learned.actor.log_std is not None
    with torch.no_grad():
        learned.actor.log_std.copy_(torch.tensor([0.3, -0.2]))
    loss, _ = learned.actor_loss(b)
    mean, _ = learned.actor(obs, goals)
    sigma = torch.tensor([math.exp(0.3), math.exp(-0.2)])
    closed = (0.5 * ((actions - mean) / sigma).pow(2) + torch.log(sigma)).sum(dim=1).mean() + LOG_2PI
    assert loss.item() == pytest.approx(closed.item(), rel=1e-6)
    reference = -torch.distributions.Normal(mean, sigma).log_prob(actions).sum(dim=1).mean()
    assert loss.item() == pytest.approx(reference.item(), rel=1e-6)


def test_gcivl_value_loss_by_hand() -> None:
    agent = GCIVL(GCIVLConfig(discount=0.5, expectile=0.9), 1, 2, generator())
    agent.value = LinearStub([[1.0, -1.0], [2.0, 0.0]])  # V1 = s - g, V2 = 2 s
    agent.target_value = LinearStub([[0.5, -1.0], [1.0, -0.5]])  # V1' = s/2 - g, V2' = s - g/2
    loss, metrics = agent.value_loss(batch())
    # transition 0 (s 0, s' 1, g 2, r -1, m 1): V'(s') = (-1.5, 0), q = -1 + 0.5 * -1.5 = -1.75,
    #   V'(s) = (-2, -1) -> adv = -1.75 + 1.5 = -0.25 (weight 0.1); q1 = -1.75, q2 = -1; V(s) = (-2, 0)
    #   -> 0.1 * 0.25^2 = 0.00625 and 0.1 * 1^2 = 0.1
    # transition 1 (reached: m 0, r 0): q1 = q2 = 0; V'(s) = (-1.5, 0) -> adv 0.75 (weight 0.9);
    #   V(s) = (-1, 2) -> 0.9 * 1 = 0.9 and 0.9 * 4 = 3.6
    # transition 2 (s 2, s' 3, g 5, r -1, m 1): V'(s') = (-3.5, 0.5), q = -2.75; V'(s) = (-4, -0.5)
    #   -> adv = -0.5 (weight 0.1); q1 = -2.75, q2 = -0.75; V(s) = (-3, 4) -> 0.00625 and 2.25625
    expected = (0.00625 + 0.9 + 0.00625) / 3 + (0.1 + 3.6 + 2.25625) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # v_mean, v_max, v_min of (V1 + V2) / 2 = (-1, 0.5, 0.5)
    assert metrics.tolist() == pytest.approx([expected, 0.0, 0.5, -1.0], rel=1e-6)


def test_gcivl_actor_loss_by_hand() -> None:
    agent = GCIVL(GCIVLConfig(alpha=4.0), 1, 2, generator())
    agent.value = LinearStub([[1.0, -1.0], [2.0, 0.0]])  # V = (V1 + V2) / 2 = (3 s - g) / 2
    agent.actor = FixedActor([[0.5, 0.0], [0.0, 0.0], [1.0, 0.0]])
    b = batch(next_observations=[[1.0], [1.0], [0.0]])
    loss, metrics = agent.actor_loss(b)
    # A = V(s', g) - V(s, g) = 1.5 (s' - s) = (1.5, 0, -3); weights min(exp(4 A), 100) = (100, 1, e^-12)
    # log pi(a): -|a - mu|^2 / 2 - log(2 pi) with |a - mu|^2 = (1, 0, 1)
    log_probs = (-0.5 - LOG_2PI, -LOG_2PI, -0.5 - LOG_2PI)
    expected = -(100.0 * log_probs[0] + 1.0 * log_probs[1] + math.exp(-12.0) * log_probs[2]) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert metrics[1].item() == pytest.approx(-0.5)  # the mean advantage


def test_gciql_value_and_critic_losses_by_hand() -> None:
    agent = GCIQL(GCIQLConfig(discount=0.5, expectile=0.9), 1, 2, generator())
    agent.value = LinearStub([[1.0, -1.0]])  # V = s - g
    agent.critic = LinearStub([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])  # Q1 = s + a0, Q2 = g + a1
    agent.target_critic = LinearStub([[1.0, 0.0, 2.0, 0.0], [0.0, -1.0, 0.0, 1.0]])  # s + 2 a0, -g + a1
    value_loss, _ = agent.value_loss(batch())
    # min(Q1', Q2') = (min(1, -1), min(1, -2), min(4, -6)) = (-1, -2, -6); V = (-2, -1, -3)
    # u = (1, -1, -3): 0.9 * 1 + 0.1 * 1 + 0.1 * 9
    assert value_loss.item() == pytest.approx((0.9 + 0.1 + 0.9) / 3, rel=1e-6)
    critic_loss, metrics = agent.critic_loss(batch())
    # q = r + 0.5 m V(s', g) = (-1 + 0.5 * -1, 0 (reached), -1 + 0.5 * -2) = (-1.5, 0, -2)
    # Q1 = (0.5, 1, 3), Q2 = (3, 2, 4): (2^2 + 4.5^2, 1 + 4, 5^2 + 6^2)
    assert critic_loss.item() == pytest.approx((24.25 + 5.0 + 61.0) / 3, rel=1e-6)
    assert metrics[1].item() == pytest.approx(-3.5 / 3)


def test_gciql_ddpgbc_actor_loss_by_hand_and_only_the_actor_learns_from_it() -> None:
    agent = GCIQL(GCIQLConfig(actor_loss="ddpgbc", alpha=0.5), 1, 2, generator())
    agent.critic = LinearStub([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])  # Q1 = s + a0, Q2 = g + a1
    agent.actor = FixedActor([[0.5, 0.0], [0.0, 0.0], [2.0, -1.0]])
    loss, _ = agent.actor_loss(batch(), generator())
    # a' = clip(mu) = ((0.5, 0), (0, 0), (1, -1)) at actor goals (3, 0, 1): Q1 = (0.5, 1, 3), Q2 = (3, 0, 0)
    # min = (0.5, 0, 0): -mean / mean|.| = -1 (up to the 1e-6 in the normaliser)
    q_loss = -(0.5 / 3) / (0.5 / 3 + 1e-6)
    # |a - mu|^2 = (1, 0, 1): log pi = (-0.5, 0, -0.5) - log(2 pi); bc = -0.5 * mean
    bc_loss = 0.5 * (1.0 / 3 + LOG_2PI)
    assert loss.item() == pytest.approx(q_loss + bc_loss, abs=1e-6)  # float32: -1 + 1.086
    loss.backward()
    assert agent.critic.coefs.grad is None  # the critics pass the gradient on, unchanged
    assert agent.actor.mean.grad is not None and agent.actor.mean.grad.abs().sum() > 0


def test_gciql_awr_actor_loss_by_hand() -> None:
    agent = GCIQL(GCIQLConfig(actor_loss="awr", alpha=1.0), 1, 2, generator())
    agent.value = LinearStub([[1.0, -1.0]])
    agent.critic = LinearStub([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    agent.actor = FixedActor([[0.5, 0.0], [0.0, 0.0], [2.0, -1.0]])
    loss, metrics = agent.actor_loss(batch(), generator())
    # at the dataset's actions and actor goals (3, 0, 1): Q1 = (0.5, 1, 3), Q2 = (4, 0, 0) -> (0.5, 0, 0);
    # V = s - g = (-3, 1, 1): A = (3.5, -1, -1); |a - mu|^2 = (1, 0, 1)
    weights = (math.exp(3.5), math.exp(-1.0), math.exp(-1.0))
    log_probs = (-0.5 - LOG_2PI, -LOG_2PI, -0.5 - LOG_2PI)
    expected = -sum(w * lp for w, lp in zip(weights, log_probs, strict=True)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert metrics[1].item() == pytest.approx(1.5 / 3)


@pytest.mark.parametrize("name", ["gcivl", "gciql"])
def test_an_update_moves_the_targets_by_tau(name: str) -> None:
    config = (GCIVLConfig if name == "gcivl" else GCIQLConfig)(
        actor_hidden_dims=(8,), value_hidden_dims=(8,), tau=0.25
    )
    agent = (GCIVL if name == "gcivl" else GCIQL)(config, 1, 2, generator())  # type: ignore[arg-type]
    online, target = (
        (agent.value, agent.target_value) if name == "gcivl" else (agent.critic, agent.target_critic)
    )
    before = [p.clone() for p in target.parameters()]
    optimizer = agent.make_optimizer()
    assert len(optimizer.params) == sum(1 for p in agent.parameters()) - len(before)  # targets: no Adam
    agent.update(batch(), optimizer, generator())
    for old, new, weights in zip(before, target.parameters(), online.parameters(), strict=True):
        torch.testing.assert_close(new, 0.25 * weights + 0.75 * old)
    assert any(not torch.equal(old, new) for old, new in zip(before, target.parameters(), strict=True))
