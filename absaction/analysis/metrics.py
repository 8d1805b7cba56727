"""Disentanglement metrics on plain NumPy arrays: MI matrix, MIG, SAP, DCI, active units.

Every function takes ``codes`` of shape (N, D) — one row per sequence, usually the encoder's posterior
*means* — and ``factors`` of shape (N, K) — the ground-truth generative factors of the same sequences.
Factors are treated as **discrete labels** (as in disentanglement_lib): each column is mapped to
``0..C-1`` by its distinct values. Bin a continuous factor first if it has many distinct values.

Two labellings of one factor (e.g. the bulge as outward/inward *and* as absolute left/right) are simply two
columns; every metric scores each column on its own, so both can be reported side by side. Note that the
overall MIG/SAP/DCI average over the columns you pass: a code cannot carry two deterministic relabellings
of one factor in one latent each, so pick the columns that enter an overall score on purpose.

Nothing here imports torch, scikit-learn or SciPy; the estimators are written out below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np

from absaction.models.activity import ACTIVE_KL_THRESHOLD

#: Default number of equal-width histogram bins per latent (disentanglement_lib's MIG setting).
DEFAULT_BINS = 20


class MIGResult(TypedDict):
    """What `mig` returns (a plain ``dict`` at run time)."""

    mig: float
    """Mean of ``per_factor`` over factors with non-zero entropy (NaN when there are none)."""
    per_factor: np.ndarray
    """(K,) ``(MI(top latent) - MI(runner-up)) / H(factor)``, NaN for a constant factor."""
    top_latent: np.ndarray
    """(K,) int: column of ``codes`` with the largest MI with each factor (-1 when no latent is scored)."""
    runner_up_latent: np.ndarray
    """(K,) int: column with the second largest MI (-1 when fewer than two latents are scored)."""
    mutual_info: np.ndarray
    """(D, K) MI in nats between every latent (all of them, not only the scored ones) and every factor."""
    entropy: np.ndarray
    """(K,) factor entropies in nats."""
    latents: np.ndarray
    """(D',) int: the columns of ``codes`` that were scored (all, or the active ones)."""


class SAPResult(TypedDict):
    """What `sap` returns."""

    sap: float
    """Mean over factors of ``per_factor``."""
    per_factor: np.ndarray
    """(K,) held-out accuracy of the best single latent minus that of the second best."""
    score: np.ndarray
    """(D, K) held-out accuracy of a 1-D nearest-class-mean classifier on each latent for each factor."""
    top_latent: np.ndarray
    """(K,) int: the latent with the best score for each factor."""


class DCIResult(TypedDict):
    """What `dci` returns."""

    disentanglement: float
    """Importance-weighted mean of ``per_latent_disentanglement`` (1 = each latent serves one factor)."""
    completeness: float
    """Importance-weighted mean of ``per_factor_completeness`` (1 = each factor lives in one latent)."""
    informativeness: float
    """Mean over factors of the held-out accuracy of the importance model."""
    importance: np.ndarray
    """(D, K) non-negative importance of latent d for predicting factor k."""
    per_latent_disentanglement: np.ndarray
    """(D,) ``1 - H_K(importance row)``; 0 for a latent with no importance at all."""
    per_factor_completeness: np.ndarray
    """(K,) ``1 - H_D(importance column)``."""
    per_factor_informativeness: np.ndarray
    """(K,) held-out accuracy of the importance model for each factor."""


# --------------------------------------------------------------------------------------------------
# input checks and discretisation


def _check_codes_factors(codes: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2:
        raise ValueError(
            f"codes and factors must be 2-D (N, D) and (N, K), got {codes.shape} and {factors.shape}"
        )
    if codes.shape[0] != factors.shape[0]:
        raise ValueError(f"codes has {codes.shape[0]} rows but factors has {factors.shape[0]}")
    if codes.shape[0] < 2:
        raise ValueError(f"need at least 2 samples, got {codes.shape[0]}")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes contain NaN or infinite values")
    return codes, factors


def discretize(codes: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Histogram-discretise every column of ``codes`` (N, D) into ``n_bins`` equal-width bins.

    The bins of a column span its own [min, max] (disentanglement_lib's ``_histogram_discretize``), so the
    result is invariant to any increasing affine map of a latent and, as a partition, to a sign flip. The
    flip side: a latent that barely moves (range 1e-6) is stretched over all bins just like one that
    spans [-3, 3] — see `mig` for why that matters. A constant column falls into a single bin.

    Returns int64 (N, D) bin indices in ``1..n_bins``.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(f"codes must be 2-D (N, D), got shape {codes.shape}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    out = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, j], bins=n_bins)
        # digitize against the left edges: the maximum lands in the last bin instead of a bin of its own
        out[:, j] = np.digitize(codes[:, j], edges[:-1])
    return out


def _labels(column: np.ndarray) -> np.ndarray:
    """Map any discrete column to int labels 0..C-1."""
    return np.unique(column, return_inverse=True)[1].reshape(-1)


def _mutual_info_labels(x: np.ndarray, y: np.ndarray) -> float:
    """MI in nats between two label vectors from their contingency table (plug-in estimator)."""
    xl, yl = _labels(x), _labels(y)
    nx, ny = int(xl.max()) + 1, int(yl.max()) + 1
    joint = np.bincount(xl * ny + yl, minlength=nx * ny).reshape(nx, ny).astype(np.float64)
    joint /= joint.sum()
    px = joint.sum(axis=1, keepdims=True)  # (nx, 1)
    py = joint.sum(axis=0, keepdims=True)  # (1, ny)
    nz = joint > 0
    mi = float(np.sum(joint[nz] * np.log(joint[nz] / (px @ py)[nz])))
    return max(mi, 0.0)  # rounding can give -1e-17 for independent labels


def _entropy_labels(x: np.ndarray) -> float:
    counts = np.bincount(_labels(x)).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-np.sum(p * np.log(p)))


# --------------------------------------------------------------------------------------------------
# mutual information and MIG


def factor_entropies(factors: np.ndarray) -> np.ndarray:
    """Entropy in nats of each discrete factor column: (N, K) -> (K,)."""
    factors = np.asarray(factors)
    if factors.ndim != 2:
        raise ValueError(f"factors must be 2-D (N, K), got shape {factors.shape}")
    return np.array([_entropy_labels(factors[:, k]) for k in range(factors.shape[1])], dtype=np.float64)


def mutual_information_matrix(
    codes: np.ndarray, factors: np.ndarray, n_bins: int = DEFAULT_BINS
) -> np.ndarray:
    """MI in nats between every latent and every factor, disentanglement_lib's estimator.

    Each latent column is discretised into ``n_bins`` equal-width bins over its own range (`discretize`);
    each factor is taken as discrete labels; the MI is the plug-in estimate from the (bins x classes)
    contingency table, ``sum p(b, c) log(p(b, c) / (p(b) p(c)))``.

    Args:
        codes: (N, D) latent codes (usually posterior means).
        factors: (N, K) discrete ground-truth factors.
        n_bins: histogram bins per latent.

    Returns:
        (D, K) float64 matrix of MI in nats.
    """
    codes, factors = _check_codes_factors(codes, factors)
    binned = discretize(codes, n_bins)
    d, k = codes.shape[1], factors.shape[1]
    mi = np.zeros((d, k), dtype=np.float64)
    for i in range(d):
        for j in range(k):
            mi[i, j] = _mutual_info_labels(binned[:, i], factors[:, j])
    return mi


def _latent_indices(active: np.ndarray | Sequence[int] | Sequence[bool] | None, d: int) -> np.ndarray:
    if active is None:
        return np.arange(d)
    arr = np.asarray(active)
    if arr.dtype == bool:
        if arr.shape != (d,):
            raise ValueError(f"a boolean active mask must have shape ({d},), got {arr.shape}")
        return np.flatnonzero(arr)
    idx = arr.astype(np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= d):
        raise ValueError(f"active indices must lie in [0, {d}), got {idx.tolist()}")
    return np.unique(idx)


def mig(
    codes: np.ndarray,
    factors: np.ndarray,
    n_bins: int = DEFAULT_BINS,
    active: np.ndarray | Sequence[int] | Sequence[bool] | None = None,
) -> MIGResult:
    """Mutual Information Gap (Chen et al. 2018) with disentanglement_lib's histogram estimator.

    For factor k with entropy H_k, sort the MI between it and the scored latents:
    ``MIG_k = (MI_(1) - MI_(2)) / H_k``, and MIG is the mean over factors. 1 means one latent holds all of
    the factor and no other latent holds any; 0 means the two best latents hold the same amount.

    **Why report MIG both over all latents and over the active ones (``active=...``).** The estimator
    bins each latent over its *own* range, so it ignores scale: a collapsed (inactive) latent whose mean
    only wiggles by 1e-4 — noise the decoder cannot even see next to a posterior standard deviation of
    ~1 — is spread over the same 20 bins as a latent spanning [-3, 3]. If those wiggles happen to follow a
    factor (they often do: the encoder's mean is still a deterministic function of the input), the
    inactive latent "holds" that factor as fully as a real one. Plain MIG then either credits the factor
    to a latent that carries no information the decoder uses, or, when a real latent also carries it,
    collapses the gap to ~0 and reports a perfectly good code as entangled. Restricting the candidates to
    active units (KL above a threshold, `active_units`) removes that artefact; reporting both shows
    whether it was present.

    Args:
        codes: (N, D) latent codes (posterior means).
        factors: (N, K) discrete factors.
        n_bins: histogram bins per latent.
        active: optional boolean mask (D,) or integer indices of the latents that may compete for each
            factor. With one candidate the runner-up MI is 0; with none, every factor scores 0.

    Returns:
        A `MIGResult` dict; latent indices refer to the columns of ``codes`` (ties go to the lower index).
    """
    codes, factors = _check_codes_factors(codes, factors)
    mi = mutual_information_matrix(codes, factors, n_bins)  # (D, K)
    entropy = factor_entropies(factors)  # (K,)
    latents = _latent_indices(active, codes.shape[1])
    k = factors.shape[1]
    per_factor = np.full(k, np.nan)
    top = np.full(k, -1, dtype=np.int64)
    runner_up = np.full(k, -1, dtype=np.int64)
    for j in range(k):
        candidates = mi[latents, j]
        order = np.argsort(-candidates, kind="stable")
        best = candidates[order[0]] if latents.size >= 1 else 0.0
        second = candidates[order[1]] if latents.size >= 2 else 0.0
        if latents.size >= 1:
            top[j] = latents[order[0]]
        if latents.size >= 2:
            runner_up[j] = latents[order[1]]
        if entropy[j] > 0:
            per_factor[j] = (best - second) / entropy[j]
    finite = per_factor[np.isfinite(per_factor)]
    return MIGResult(
        mig=float(finite.mean()) if finite.size else float("nan"),
        per_factor=per_factor,
        top_latent=top,
        runner_up_latent=runner_up,
        mutual_info=mi,
        entropy=entropy,
        latents=latents,
    )


# --------------------------------------------------------------------------------------------------
# active units


def active_units(kl_per_dim: np.ndarray, threshold: float = ACTIVE_KL_THRESHOLD) -> np.ndarray:
    """Boolean mask of the latent dimensions whose average KL exceeds ``threshold`` nats.

    ``kl_per_dim`` is the KL(q(z_d | x) || N(0, 1)) of each dimension averaged over the data, shape (D,),
    or per sample (N, D), which is averaged here. A dimension whose posterior equals the prior for every
    input has KL 0 and transmits nothing to the decoder. The default of **0.01 nats** per sequence
    (~0.014 bits) sits far below the KL of a latent that carries a binary factor (up to ln 2 = 0.69 nats
    once it is fully encoded, and typically several nats) and above the ~1e-4 nats that collapsed units
    keep in practice. It matches the usual activity test of Burda et al. (2016), variance of the
    posterior mean > 0.01, in order of magnitude: a unit with posterior std 1 and mean variance v has
    KL = v / 2.
    """
    kl = np.asarray(kl_per_dim, dtype=np.float64)
    if kl.ndim == 2:
        kl = kl.mean(axis=0)
    if kl.ndim != 1:
        raise ValueError(f"kl_per_dim must have shape (D,) or (N, D), got {np.shape(kl_per_dim)}")
    return kl > threshold


# --------------------------------------------------------------------------------------------------
# held-out split shared by SAP and DCI


def _split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = min(max(round(n * test_fraction), 1), n - 1)
    return perm[n_test:], perm[:n_test]


# --------------------------------------------------------------------------------------------------
# SAP


def _nearest_mean_accuracy(
    z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray
) -> float:
    """Held-out accuracy of a 1-D nearest-class-mean classifier (labels are ints)."""
    classes = np.unique(y_train)
    means = np.array([z_train[y_train == c].mean() for c in classes])  # (C,)
    pred = classes[np.argmin(np.abs(z_test[:, None] - means[None, :]), axis=1)]
    return float(np.mean(pred == y_test))


def sap(codes: np.ndarray, factors: np.ndarray, test_fraction: float = 0.5, seed: int = 0) -> SAPResult:
    """Separated Attribute Predictability (Kumar et al. 2018) for discrete factors.

    Score matrix S (D, K): how well latent d *alone* predicts factor k, as the held-out accuracy of a
    1-D **nearest-class-mean** classifier (each class is represented by the mean of the latent over its
    training samples; a test sample takes the class whose mean is nearest). In one dimension this is a
    linear classifier with class boundaries at the midpoints between sorted class means — the same family
    as the 1-D linear SVM of disentanglement_lib, with a closed-form fit and no hyper-parameters. SAP_k is
    the best score minus the second best; SAP is their mean. As in the original, scores are raw
    accuracies, so the gap of a perfect code is 1 minus the runner-up's accuracy (at least chance level,
    e.g. ~0.5 for a balanced binary factor), not 1. With a single latent, SAP_k is its accuracy. The split
    is a seeded random ``test_fraction`` of the rows.
    """
    codes, factors = _check_codes_factors(codes, factors)
    train, test = _split(codes.shape[0], test_fraction, seed)
    d, k = codes.shape[1], factors.shape[1]
    score = np.zeros((d, k), dtype=np.float64)
    for j in range(k):
        y = _labels(factors[:, j])
        for i in range(d):
            score[i, j] = _nearest_mean_accuracy(codes[train, i], y[train], codes[test, i], y[test])
    ordered = -np.sort(-score, axis=0)  # (D, K) descending per factor
    per_factor = ordered[0] - ordered[1] if d >= 2 else ordered[0]
    return SAPResult(
        sap=float(per_factor.mean()),
        per_factor=per_factor,
        score=score,
        top_latent=np.argmax(score, axis=0).astype(np.int64),
    )


# --------------------------------------------------------------------------------------------------
# DCI


def _entropy_rows(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy with log base ``base`` of each row of a row-stochastic matrix (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=1) / np.log(base)


def _features(z: np.ndarray, degree: int) -> np.ndarray:
    """Per-latent polynomial basis: (N, D) -> (N, D, degree) with z, z^2, ... (z standardised)."""
    return np.stack([z**p for p in range(1, degree + 1)], axis=-1)


def dci(
    codes: np.ndarray,
    factors: np.ndarray,
    test_fraction: float = 0.5,
    seed: int = 0,
    degree: int = 3,
    ridge: float = 1e-3,
) -> DCIResult:
    """Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018).

    Importance model (written here in NumPy; the paper used lasso and random forests, disentanglement_lib
    gradient boosting): the codes are standardised on the training split and each latent is expanded into
    an additive polynomial basis ``z_d, z_d^2, z_d^3`` (``degree``), so one latent can single out a middle
    class of an ordinal factor, which a purely linear model cannot. For each factor, the one-hot class
    indicators are regressed on these features by ridge-regularised least squares (a linear probability
    model, ``ridge`` times N on the diagonal). The importance of latent d for factor k is the variance,
    over the training samples, of latent d's additive contribution to the class scores, summed over the
    classes: the share of the factor's Gini impurity (``1 - sum_c p_c^2``, the total variance of the
    one-hot vector) that latent d explains — the analogue of a random forest's impurity decrease. Being a
    variance, it keeps the sampling noise of the coefficients of irrelevant latents (~1/N) far below the
    importance of a relevant one.

    - Disentanglement: ``D_d = 1 - H_K(P_d)`` with ``P_d`` the importance row normalised to sum 1 and
      entropy in base K; the total weights each latent by its share of the total importance.
    - Completeness: ``C_k = 1 - H_D(P~_k)`` over the normalised importance column (base D); the total
      weights each factor by its share of importance (as disentanglement_lib does).
    - Informativeness: held-out accuracy of the same model (argmax of the class scores), mean over factors.

    Standardisation, like MIG's binning, ignores scale; pass only active latents' columns to score those.
    """
    codes, factors = _check_codes_factors(codes, factors)
    if degree < 1:
        raise ValueError(f"degree must be >= 1, got {degree}")
    train, test = _split(codes.shape[0], test_fraction, seed)
    mean = codes[train].mean(axis=0)
    std = codes[train].std(axis=0)
    safe = np.where(std > 0, std, 1.0)
    z = np.where(std > 0, (codes - mean) / safe, 0.0)  # (N, D), a constant latent becomes all zeros
    d, k = codes.shape[1], factors.shape[1]
    basis = _features(z, degree)  # (N, D, P)
    x_all = basis.reshape(len(z), d * degree)  # (N, D*P)
    x_mean = x_all[train].mean(axis=0)
    x = x_all - x_mean  # centred on the training split so no intercept column is needed
    xtr = x[train]
    gram = xtr.T @ xtr + ridge * len(train) * np.eye(d * degree)  # (D*P, D*P)

    importance = np.zeros((d, k), dtype=np.float64)
    informativeness = np.zeros(k, dtype=np.float64)
    for j in range(k):
        y = _labels(factors[:, j])
        n_classes = int(y.max()) + 1
        onehot = np.eye(n_classes)[y]  # (N, C)
        y_mean = onehot[train].mean(axis=0)
        w = np.linalg.solve(gram, xtr.T @ (onehot[train] - y_mean))  # (D*P, C)
        # additive contribution of each latent to each class score: (N_train, D, C)
        contrib = np.einsum("ndp,dpc->ndc", basis[train], w.reshape(d, degree, n_classes))
        importance[:, j] = contrib.var(axis=0).sum(axis=1)
        pred = np.argmax(x[test] @ w + y_mean, axis=1)
        informativeness[j] = float(np.mean(pred == y[test]))

    total = importance.sum()
    if total <= 0:  # no latent predicts anything (e.g. all constant): nothing is disentangled
        zeros_d, zeros_k = np.zeros(d), np.zeros(k)
        return DCIResult(
            disentanglement=0.0,
            completeness=0.0,
            informativeness=float(informativeness.mean()),
            importance=importance,
            per_latent_disentanglement=zeros_d,
            per_factor_completeness=zeros_k,
            per_factor_informativeness=informativeness,
        )
    row_sum = importance.sum(axis=1)  # (D,)
    col_sum = importance.sum(axis=0)  # (K,)
    if k > 1:
        p_rows = importance / np.where(row_sum > 0, row_sum, 1.0)[:, None]
        per_latent = np.where(row_sum > 0, 1.0 - _entropy_rows(p_rows, k), 0.0)
    else:  # one factor: every latent trivially serves a single factor
        per_latent = np.where(row_sum > 0, 1.0, 0.0)
    if d > 1:
        p_cols = (importance / np.where(col_sum > 0, col_sum, 1.0)[None, :]).T  # (K, D)
        per_factor = np.where(col_sum > 0, 1.0 - _entropy_rows(p_cols, d), 0.0)
    else:
        per_factor = np.where(col_sum > 0, 1.0, 0.0)
    return DCIResult(
        disentanglement=float(np.sum(per_latent * row_sum / total)),
        completeness=float(np.sum(per_factor * col_sum / total)),
        informativeness=float(informativeness.mean()),
        importance=importance,
        per_latent_disentanglement=per_latent,
        per_factor_completeness=per_factor,
        per_factor_informativeness=informativeness,
    )
