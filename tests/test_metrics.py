"""Disentanglement metrics on codes whose answer is known in advance."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from absaction.analysis import metrics

N = 2000


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    """(N, 3): two balanced binary factors and a 5-level ordinal one (like target, bulge, curvature)."""
    rng = np.random.default_rng(1)
    return np.stack([rng.integers(0, 2, N), rng.integers(0, 2, N), rng.integers(0, 5, N)], axis=1)


@pytest.fixture(scope="module")
def perfect(factors: np.ndarray) -> np.ndarray:
    """(N, 7): each factor copied (plus small noise) into its own latent, then four pure-noise latents."""
    rng = np.random.default_rng(2)
    copies = factors + 0.05 * rng.normal(size=factors.shape)
    return np.concatenate([copies, rng.normal(size=(N, 4))], axis=1)


@pytest.fixture(scope="module")
def random_code() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(N, 7))


# --------------------------------------------------------------------------------------------------
# estimator on hand-computed cases


def test_discretize_uses_equal_width_bins_over_each_columns_range() -> None:
    x = np.linspace(0.0, 1.0, 21)[:, None]  # points on the 21 edges of 20 bins over [0, 1]
    bins = metrics.discretize(np.concatenate([x, 5.0 + 3.0 * x], axis=1), n_bins=20)
    expected = np.minimum(np.arange(1, 22), 20)  # the maximum joins the last bin (disentanglement_lib)
    np.testing.assert_array_equal(bins[:, 0], expected)
    np.testing.assert_array_equal(bins[:, 1], expected)  # affine map: same bins
    assert np.all(metrics.discretize(np.ones((4, 1))) == metrics.discretize(np.ones((4, 1)))[0, 0])


def test_mi_matrix_matches_hand_computation() -> None:
    # column 0 falls into 2 bins as [1, 1, 2, 2]; column 1 is constant
    codes = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    factors = np.array([[0, 0], [1, 0], [1, 1], [1, 1]])
    mi = metrics.mutual_information_matrix(codes, factors, n_bins=2)
    h = metrics.factor_entropies(factors)
    # factor 0 = (0, 1, 1, 1): H = H(1/4, 3/4); given the bin, H(f | bin 1) = ln 2, H(f | bin 2) = 0
    h_quarter = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert h[0] == pytest.approx(h_quarter)
    assert mi[0, 0] == pytest.approx(h_quarter - 0.5 * math.log(2))
    assert mi[0, 0] == pytest.approx(0.21576155433883568)
    # factor 1 = (0, 0, 1, 1) is the bin itself: MI = H = ln 2
    assert mi[0, 1] == pytest.approx(math.log(2))
    assert h[1] == pytest.approx(math.log(2))
    # a constant latent shares nothing with anything
    np.testing.assert_array_equal(mi[1], [0.0, 0.0])


def test_mi_is_in_nats_and_bounded_by_the_factor_entropy(factors: np.ndarray, perfect: np.ndarray) -> None:
    mi = metrics.mutual_information_matrix(perfect, factors)
    h = metrics.factor_entropies(factors)
    assert h[:2] == pytest.approx([math.log(2)] * 2, abs=2e-3)
    assert h[2] == pytest.approx(math.log(5), abs=5e-3)
    assert np.all(mi <= h[None, :] + 1e-12)
    np.testing.assert_allclose(np.diag(mi[:3]), h, rtol=1e-9)  # copied factors: MI = H exactly (noise < bin)


# --------------------------------------------------------------------------------------------------
# MIG


def test_mig_perfect_code_is_near_one(factors: np.ndarray, perfect: np.ndarray) -> None:
    result = metrics.mig(perfect, factors)
    assert result["mig"] > 0.97
    assert np.all(result["per_factor"] > 0.95)
    np.testing.assert_array_equal(result["top_latent"], [0, 1, 2])
    assert result["mutual_info"].shape == (7, 3)
    active = metrics.mig(perfect, factors, active=[0, 1, 2])
    # only the three copies compete: the runner-up is another factor's copy, independent of this one
    assert active["mig"] > 0.97
    np.testing.assert_array_equal(active["latents"], [0, 1, 2])


def test_mig_random_code_is_near_zero(factors: np.ndarray, random_code: np.ndarray) -> None:
    result = metrics.mig(random_code, factors)
    # finite-sample bias of the plug-in MI is ~ (bins - 1)(classes - 1) / (2N) nats, equal for all latents
    assert 0.0 <= result["mig"] < 0.02


def test_mig_is_invariant_to_permuting_scaling_shifting_and_flipping(
    factors: np.ndarray, perfect: np.ndarray
) -> None:
    base = metrics.mig(perfect, factors)
    perm = np.array([5, 2, 0, 6, 1, 4, 3])
    transformed = perfect[:, perm] * np.array([1e3, -2.0, 1e-4, 7.0, 0.5, -1.0, 3.0]) + 11.0
    result = metrics.mig(transformed, factors)
    assert result["mig"] == pytest.approx(base["mig"], abs=1e-12)
    np.testing.assert_allclose(result["per_factor"], base["per_factor"], atol=1e-12)
    np.testing.assert_allclose(result["mutual_info"], base["mutual_info"][perm], atol=1e-12)
    # the latent that holds each factor moves with the permutation
    np.testing.assert_array_equal(perm[result["top_latent"]], base["top_latent"])


def test_inactive_near_constant_latent_fakes_information_only_under_plain_mig() -> None:
    rng = np.random.default_rng(4)
    target = rng.integers(0, 2, N)
    bulge = rng.integers(0, 2, N)
    factors = np.stack([target, bulge], axis=1)
    codes = np.stack(
        [
            target + 0.1 * rng.normal(size=N),  # 0: active, carries the target
            bulge + 0.1 * rng.normal(size=N),  # 1: active, carries the bulge
            1e-5 * target + 1e-6 * rng.normal(size=N),  # 2: collapsed; its mean wiggles with the target
            1e-6 * rng.normal(size=N),  # 3: collapsed, pure noise
        ],
        axis=1,
    )
    # the collapsed units have a posterior equal to the prior up to ~1e-10 nats
    kl = np.array([2.3, 1.9, 1e-10, 1e-10])
    active = metrics.active_units(kl)
    np.testing.assert_array_equal(active, [True, True, False, False])

    mi = metrics.mutual_information_matrix(codes, factors)
    assert mi[2, 0] == pytest.approx(mi[0, 0], rel=1e-6)  # binning stretched 1e-5 into a full-size signal

    plain = metrics.mig(codes, factors)
    restricted = metrics.mig(codes, factors, active=active)
    # plain MIG: two latents "hold" the target equally, so the target's gap collapses
    assert plain["per_factor"][0] < 0.05
    assert plain["mig"] < 0.55
    # active-unit MIG ignores the collapsed unit and sees the clean code
    assert restricted["per_factor"] == pytest.approx([1.0, 1.0], abs=0.02)
    assert restricted["mig"] > 0.98
    np.testing.assert_array_equal(restricted["top_latent"], [0, 1])


def test_inactive_latent_alone_is_credited_by_plain_mig_but_not_active_mig() -> None:
    rng = np.random.default_rng(5)
    factor = rng.integers(0, 2, N)[:, None]
    codes = np.stack([rng.normal(size=N), 1e-5 * factor[:, 0] + 1e-6 * rng.normal(size=N)], axis=1)
    plain = metrics.mig(codes, factor)
    restricted = metrics.mig(codes, factor, active=np.array([True, False]))
    assert plain["mig"] > 0.95 and plain["top_latent"][0] == 1
    assert restricted["mig"] < 0.01 and restricted["top_latent"][0] == 0
    assert restricted["runner_up_latent"][0] == -1  # one candidate: runner-up MI counts as 0


def test_mig_edge_cases() -> None:
    codes = np.random.default_rng(6).normal(size=(50, 3))
    constant_factor = np.zeros((50, 1), dtype=int)
    assert math.isnan(metrics.mig(codes, constant_factor)["mig"])  # zero entropy: undefined, not 0 or inf
    none_active = metrics.mig(codes, np.arange(50)[:, None] % 2, active=np.zeros(3, dtype=bool))
    assert none_active["mig"] == 0.0
    assert none_active["top_latent"][0] == -1
    with pytest.raises(ValueError, match="rows"):
        metrics.mig(codes, np.zeros((49, 1)))
    with pytest.raises(ValueError, match="NaN"):
        metrics.mig(np.full((4, 1), np.nan), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="active"):
        metrics.mig(codes, constant_factor, active=[0, 3])


# --------------------------------------------------------------------------------------------------
# active units


def test_active_units_threshold_and_per_sample_input() -> None:
    assert metrics.ACTIVE_KL_THRESHOLD == 0.01
    np.testing.assert_array_equal(metrics.active_units(np.array([0.0, 0.009, 0.011, 3.0])), [0, 0, 1, 1])
    per_sample = np.array([[0.0, 0.5], [0.03, 0.5]])  # means 0.015 and 0.5
    np.testing.assert_array_equal(metrics.active_units(per_sample), [True, True])
    np.testing.assert_array_equal(metrics.active_units(per_sample, threshold=0.02), [False, True])


# --------------------------------------------------------------------------------------------------
# SAP and DCI


def test_sap_perfect_vs_random(factors: np.ndarray, perfect: np.ndarray, random_code: np.ndarray) -> None:
    good = metrics.sap(perfect, factors)
    bad = metrics.sap(random_code, factors)
    np.testing.assert_array_equal(good["top_latent"], [0, 1, 2])
    np.testing.assert_allclose(np.diag(good["score"][:3]), 1.0)  # each copy predicts its factor exactly
    # raw accuracies: the runner-up of a balanced binary factor sits near chance (0.5), of a 5-level one 0.2
    assert good["per_factor"][:2] == pytest.approx([0.5, 0.5], abs=0.05)
    assert good["per_factor"][2] == pytest.approx(0.8, abs=0.06)
    assert bad["sap"] < 0.03
    # invariant to permutation and (positive or negative) scaling of latents
    moved = metrics.sap(perfect[:, ::-1] * -3.0, factors)
    assert moved["sap"] == pytest.approx(good["sap"])


def test_dci_perfect_vs_random(factors: np.ndarray, perfect: np.ndarray, random_code: np.ndarray) -> None:
    good = metrics.dci(perfect, factors)
    bad = metrics.dci(random_code, factors)
    assert good["disentanglement"] > 0.98
    assert good["completeness"] > 0.98
    assert good["informativeness"] > 0.98  # the cubic basis separates the middle levels of the ordinal factor
    np.testing.assert_array_equal(np.argmax(good["importance"], axis=0), [0, 1, 2])
    assert bad["disentanglement"] < 0.3
    assert bad["completeness"] < 0.3
    # chance: ~0.5 for the binary factors, ~0.2 for the 5-level one
    np.testing.assert_allclose(bad["per_factor_informativeness"], [0.5, 0.5, 0.2], atol=0.06)
    assert np.all(good["importance"] >= 0)


def test_dci_one_latent_per_pair_of_factors_is_complete_but_not_disentangled() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 2, N), rng.integers(0, 2, N)
    codes = np.stack([a + 2 * b + 0.05 * rng.normal(size=N)], axis=1)  # one latent holds both factors
    result = metrics.dci(codes, np.stack([a, b], axis=1))
    assert result["completeness"] == pytest.approx(1.0)  # D = 1: every factor lives in the single latent
    assert result["disentanglement"] < 0.25  # ... which serves both factors
    assert result["informativeness"] > 0.98


def test_metrics_module_does_not_import_torch_or_matplotlib() -> None:

    code = (
        "import sys, absaction.analysis as a, absaction.analysis.metrics; "
        "a.mig; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
