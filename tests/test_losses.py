"""absaction.models.losses and absaction.models.capacity: closed forms, hand-computed schedules, and the
gradient identity behind the paper's capacity shift."""

from __future__ import annotations

import math

import pytest
import torch

from absaction.errors import AbsactionError
from absaction.models import (
    build_model,
    gaussian_nll,
    kl_normal,
    ladder_kl,
    make_capacity,
    parse_capacity,
    total_correlation,
)
from absaction.models.capacity import CAPACITY_MODES, AdaptiveCapacity, LinearCapacity, NoCapacity

# ----------------------------------------------------------------------------------- gaussian_nll


def test_gaussian_nll_matches_the_hand_formula() -> None:
    x = torch.tensor([[[1.0, 2.0], [0.0, -1.0]], [[0.5, 0.5], [1.0, 1.0]]])  # (B=2, T=2, A=2)
    x_hat = torch.tensor([[[0.0, 2.0], [0.0, 0.0]], [[0.5, 0.0], [1.0, 3.0]]])
    sigma = 0.5
    # squared errors per sequence: 1 + 0 + 0 + 1 = 2 and 0 + 0.25 + 0 + 4 = 4.25
    quadratic = [2.0 / (2 * sigma**2), 4.25 / (2 * sigma**2)]
    constant = 4 * (math.log(sigma) + 0.5 * math.log(2 * math.pi))
    expected = sum(q + constant for q in quadratic) / 2
    assert gaussian_nll(x, x_hat, sigma).item() == pytest.approx(expected, rel=1e-6)
    assert gaussian_nll(x, x_hat, sigma, include_constant=False).item() == pytest.approx(sum(quadratic) / 2)


def test_gaussian_nll_equals_torch_normal_log_prob() -> None:
    gen = torch.Generator().manual_seed(0)
    x, x_hat = torch.randn(5, 7, 3, generator=gen), torch.randn(5, 7, 3, generator=gen)
    reference = -torch.distributions.Normal(x_hat, 0.3).log_prob(x).sum(dim=(1, 2)).mean()
    assert gaussian_nll(x, x_hat, 0.3).item() == pytest.approx(reference.item(), rel=1e-5)


def test_halving_sigma_quadruples_the_reconstruction_term() -> None:
    gen = torch.Generator().manual_seed(1)
    x, x_hat = torch.randn(4, 8, 2, generator=gen), torch.randn(4, 8, 2, generator=gen)
    a = gaussian_nll(x, x_hat, 0.2, include_constant=False)
    b = gaussian_nll(x, x_hat, 0.1, include_constant=False)
    assert b.item() == pytest.approx(4 * a.item(), rel=1e-6)


def test_gaussian_nll_mask_ignores_padding() -> None:
    x = torch.zeros(2, 3, 1)
    x_hat = torch.tensor([[[1.0], [1.0], [100.0]], [[2.0], [0.0], [0.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    # sequence 1: (1 + 1) / 2 over 2 real steps; sequence 2: 4 / 2 over 3 steps (sigma = 1)
    c = 0.5 * math.log(2 * math.pi)
    expected = ((1.0 + 2 * c) + (2.0 + 3 * c)) / 2
    assert gaussian_nll(x, x_hat, 1.0, mask=mask).item() == pytest.approx(expected, rel=1e-6)


def test_gaussian_nll_rejects_non_positive_sigma() -> None:
    with pytest.raises(ValueError, match="sigma"):
        gaussian_nll(torch.zeros(1, 1, 1), torch.zeros(1, 1, 1), 0.0)


# ------------------------------------------------------------------------------------------- KL


def test_kl_normal_matches_a_monte_carlo_estimate() -> None:
    mean = torch.tensor([[0.0, 1.5, -0.7]])
    logvar = torch.tensor([[0.0, -1.0, 0.8]])
    closed = kl_normal(mean, logvar)[0]  # (d,)
    gen = torch.Generator().manual_seed(0)
    n = 400_000
    std = torch.exp(0.5 * logvar)
    z = mean + std * torch.randn(n, 3, generator=gen)  # samples of q
    log_q = torch.distributions.Normal(mean, std).log_prob(z)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z)
    estimate = (log_q - log_p).mean(dim=0).double()
    assert closed[0].item() == 0.0  # q = p exactly
    assert torch.allclose(closed.double(), estimate, atol=0.01)
    # hand value for dimension 1: 0.5 * (1.5^2 + e^-1 - 1 + 1)
    assert closed[1].item() == pytest.approx(0.5 * (2.25 + math.exp(-1.0)), rel=1e-6)


def test_ladder_kl_sums_dimensions_and_averages_the_batch() -> None:
    stats = [
        (torch.tensor([[1.0, 0.0], [3.0, 0.0]]), torch.zeros(2, 2)),  # KL per dim: mean^2 / 2
        (torch.tensor([[2.0], [0.0]]), torch.zeros(2, 1)),
    ]
    kl_ladders, kl_dims = ladder_kl(stats)
    assert kl_dims[0].tolist() == pytest.approx([(0.5 + 4.5) / 2, 0.0])
    assert kl_dims[1].tolist() == pytest.approx([1.0])
    assert kl_ladders.tolist() == pytest.approx([2.5, 1.0])


def _correlated_posteriors(rho: float, n: int, std: float, seed: int) -> tuple[torch.Tensor, ...]:
    """Posterior means drawn from N(0, [[1, rho], [rho, 1]]), every posterior N(mean, std^2 I), and one
    draw from each: the aggregate posterior is then N(0, [[1 + std^2, rho], [rho, 1 + std^2]])."""
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(n, generator=g, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64)
    mean = torch.stack([a, rho * a + math.sqrt(1 - rho * rho) * b], dim=1)
    logvar = torch.full_like(mean, 2 * math.log(std))
    z = mean + std * torch.randn(mean.shape, generator=g, dtype=torch.float64)
    return z, mean, logvar


@pytest.mark.parametrize("rho", [0.0, 0.6, 0.9])
def test_total_correlation_of_a_gaussian_aggregate_matches_its_closed_form(rho: float) -> None:
    # TC of a 2-D Gaussian = -0.5 log(1 - r^2), r its correlation coefficient (here rho / (1 + std^2))
    std, n = 0.5, 3000
    z, mean, logvar = _correlated_posteriors(rho, n, std, seed=0)
    r = rho / (1 + std * std)
    expected = -0.5 * math.log(1 - r * r)
    assert total_correlation(z, mean, logvar, n).item() == pytest.approx(expected, abs=0.03)


def test_total_correlation_of_a_minibatch_is_unbiased_on_average() -> None:
    # batches of 64 from a data set of 3000: the mean of the batch estimates approaches the full one
    std, n, rho = 0.5, 3000, 0.9
    z, mean, logvar = _correlated_posteriors(rho, n, std, seed=1)
    full = total_correlation(z, mean, logvar, n).item()
    order = torch.randperm(n, generator=torch.Generator().manual_seed(2))
    batches = [order[i : i + 64] for i in range(0, n - 63, 64)]
    estimates = [total_correlation(z[idx], mean[idx], logvar[idx], n).item() for idx in batches]
    assert sum(estimates) / len(estimates) == pytest.approx(full, abs=0.1)
    assert full > 0.3  # the correlation is there to be found (closed form 0.36)


def test_total_correlation_rejects_a_batch_larger_than_the_data() -> None:
    z = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="batch size"):
        total_correlation(z, z, z, dataset_size=3)


# ------------------------------------------------------------------------------------ capacity


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("adaptive", "adaptive:50,signed"),
        ("adaptive:20", "adaptive:20,signed"),
        ("adaptive:20,abs", "adaptive:20,abs"),
        ("adaptive:abs", "adaptive:50,abs"),
        ("linear:25,1000", "linear:25,1000,abs"),
        ("linear:2.5,10,signed", "linear:2.5,10,signed"),
        ("none", "none"),
    ],
)
def test_capacity_specs_parse_to_a_canonical_text(text: str, canonical: str) -> None:
    assert str(parse_capacity(text)) == canonical
    assert str(parse_capacity(canonical)) == canonical


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("cyclic:3", "unknown capacity mode 'cyclic'"),
        ("adaptive:0", "at least 1 epoch"),
        ("adaptive:ten", "cannot read the adaptive window"),
        ("adaptive:5,6", "one argument"),
        ("linear:25", "CMAX,STEPS"),
        ("linear:-1,10", "CMAX >= 0"),
        ("none:3", "takes no arguments"),
        ("none,abs", "unknown capacity mode"),
    ],
)
def test_bad_capacity_specs_name_the_problem(text: str, match: str) -> None:
    with pytest.raises(AbsactionError, match=match):
        parse_capacity(text)


def test_the_mode_table_is_the_single_source_of_names() -> None:
    assert set(CAPACITY_MODES) == {"adaptive", "linear", "none"}
    for name, cls in CAPACITY_MODES.items():
        assert cls.name == name


def test_adaptive_capacity_is_the_mean_of_the_last_w_epochs() -> None:
    cap = make_capacity("adaptive:3", n_ladders=2)
    assert isinstance(cap, AdaptiveCapacity)
    assert cap.ladder_capacities() == [0.0, 0.0]  # nothing measured yet
    history = [[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0], [8.0, 0.0]]
    expected = [[1.0, 10.0], [1.5, 15.0], [2.0, 20.0], [3.0, 30.0], [5.0, 70.0 / 3]]  # by hand
    for kl, c in zip(history, expected, strict=True):
        cap.end_epoch(kl)
        assert cap.ladder_capacities() == pytest.approx(c)
        assert cap.total_capacity() == pytest.approx(sum(c))


def test_adaptive_penalty_signed_and_abs_forms() -> None:
    kl = torch.tensor([1.0, 5.0])
    signed, absolute = make_capacity("adaptive:2", 2), make_capacity("adaptive:2,abs", 2)
    for cap in (signed, absolute):
        cap.end_epoch([2.0, 3.0])  # C = [2, 3]
    assert signed.penalty(kl, beta=10.0).item() == pytest.approx(10 * ((1 - 2) + (5 - 3)))
    assert absolute.penalty(kl, beta=10.0).item() == pytest.approx(10 * (1 + 2))


def test_linear_capacity_ramps_per_step_on_the_total_kl() -> None:
    cap = make_capacity("linear:10,4", n_ladders=3)
    assert isinstance(cap, LinearCapacity)
    assert cap.ladder_capacities() is None
    seen = []
    for _ in range(6):
        seen.append(cap.total_capacity())
        cap.end_step()
    assert seen == pytest.approx([0.0, 2.5, 5.0, 7.5, 10.0, 10.0])
    kl = torch.tensor([1.0, 2.0, 3.0])  # total 6 < C = 10
    assert cap.penalty(kl, beta=2.0).item() == pytest.approx(2 * abs(6 - 10))
    signed = make_capacity("linear:10,4,signed", 3)
    signed.load_state_dict({"step": 2})  # C = 5
    assert signed.penalty(kl, beta=2.0).item() == pytest.approx(2 * (6 - 5))


def test_no_capacity_is_a_plain_beta_vae() -> None:
    cap = make_capacity("none", 2)
    assert isinstance(cap, NoCapacity)
    cap.end_epoch([4.0, 4.0])
    assert cap.ladder_capacities() == [0.0, 0.0]
    assert cap.penalty(torch.tensor([1.0, 2.0]), beta=100.0).item() == pytest.approx(300.0)


@pytest.mark.parametrize("spec", ["adaptive:2,abs", "linear:3,7"])
def test_capacity_state_round_trips(spec: str) -> None:
    cap = make_capacity(spec, 2)
    for epoch_kl in ([1.0, 2.0], [3.0, 1.0], [5.0, 5.0]):
        cap.end_step()
        cap.end_epoch(epoch_kl)
    copy = make_capacity(spec, 2)
    copy.load_state_dict(cap.state_dict())
    assert copy.total_capacity() == cap.total_capacity()
    assert copy.ladder_capacities() == cap.ladder_capacities()
    kl = torch.tensor([0.5, 4.0])
    assert copy.penalty(kl, 3.0).item() == cap.penalty(kl, 3.0).item()


def _gradients(spec: str, history: list[list[float]]) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = build_model("tcvlae", 2, 16, {"ladder_dims": [3, 2], "channels": 4})
    cap = make_capacity(spec, 2)
    for kl in history:
        cap.end_epoch(kl)
    x = torch.randn(6, 16, 2, generator=torch.Generator().manual_seed(1))
    x_hat, stats, _ = model.forward_normalized(x, generator=torch.Generator().manual_seed(2))
    kl_ladders, _ = ladder_kl(stats)
    loss = gaussian_nll(x, x_hat, 0.1) + cap.penalty(kl_ladders, beta=100.0)
    loss.backward()
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


def test_signed_shift_with_constant_c_has_exactly_the_plain_beta_vae_gradient() -> None:
    # beta * (KL - C) with C fixed within the epoch: C only moves the loss value, never its gradient
    plain = _gradients("none", [])
    shifted = _gradients("adaptive:50", [[3.0, 1.0], [5.0, 2.0]])  # C = [4, 1.5], far from zero
    assert len(plain) == len(shifted) > 0
    assert all(torch.equal(a, b) for a, b in zip(plain, shifted, strict=True))


def test_abs_shift_below_capacity_pushes_the_kl_up() -> None:
    # |KL - C| with KL < C: the KL term's gradient is -beta dKL, the opposite of a beta-VAE's
    beta_vae = _gradients("none", [])  # R + beta K, with R the reconstruction gradient, K the KL's
    below = _gradients("adaptive:50,abs", [[1e6, 1e6]])  # C far above any KL: R - beta K = 2 R - (R + beta K)
    torch.manual_seed(0)
    model = build_model("tcvlae", 2, 16, {"ladder_dims": [3, 2], "channels": 4})
    x = torch.randn(6, 16, 2, generator=torch.Generator().manual_seed(1))
    x_hat, _, _ = model.forward_normalized(x, generator=torch.Generator().manual_seed(2))
    gaussian_nll(x, x_hat, 0.1).backward()
    recon_only = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    for r, b, a in zip(recon_only, beta_vae, below, strict=True):
        assert torch.allclose(a, 2 * r - b, rtol=1e-4, atol=1e-3)
