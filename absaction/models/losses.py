"""Loss terms of the action VAEs: Gaussian reconstruction likelihood and closed-form KL.

Both are written for the *normalised* action space the models train in (each action dimension has zero
mean and unit variance over the training set), so ``sigma`` is measured in training-set standard
deviations, and every number a loss returns is in nats.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def gaussian_nll(
    x: Tensor, x_hat: Tensor, sigma: float, mask: Tensor | None = None, include_constant: bool = True
) -> Tensor:
    """Negative log-likelihood of ``x`` under N(x_hat, sigma^2 I), in nats per sequence.

    Summed over time and action dimensions, averaged over the batch::

        NLL = sum_{t,a} (x - x_hat)^2 / (2 sigma^2) + T A log(sigma sqrt(2 pi))

    Why sigma decides what beta means: the objective is ``NLL + beta * KL``. Only the first term of the
    NLL depends on the model, and it scales as ``1 / sigma^2``, so multiplying sigma by ``k`` is the same
    as multiplying beta by ``k^2`` (halving sigma is like dividing beta by 4). A beta quoted without its
    sigma (or with an unnormalised, "mean squared error" reconstruction) is therefore meaningless; here
    beta is in nats of KL per nat of likelihood, with sigma in units of the data's standard deviation.
    The sum over time and action dimensions also matters: a longer window has more likelihood terms,
    so the same beta is a weaker bottleneck on a longer sequence.

    Args:
        x: targets, (B, T, A).
        x_hat: predicted means, (B, T, A).
        sigma: the decoder's fixed standard deviation (> 0), in the units of ``x``.
        mask: optional (B, T) weights (1 = real step, 0 = padding) for variable-length batches.
        include_constant: add the ``log(sigma sqrt(2 pi))`` term, which has no gradient; with it the
            value is a true NLL (and may be negative when sigma is small).

    Returns:
        A scalar tensor: the batch mean of the per-sequence NLL (nats).
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    sq = (x - x_hat).pow(2)  # (B, T, A)
    if mask is not None:
        mask = mask.to(sq.dtype).unsqueeze(-1)  # (B, T) -> (B, T, 1)
        sq = sq * mask
        n_terms = mask.sum(dim=(1, 2)) * x.shape[-1]  # (B,) real elements per sequence
    else:
        n_terms = torch.full((x.shape[0],), float(x.shape[1] * x.shape[2]), dtype=sq.dtype, device=sq.device)
    per_seq = sq.sum(dim=(1, 2)) / (2.0 * sigma * sigma)  # (B,)
    if include_constant:
        per_seq = per_seq + n_terms * (math.log(sigma) + 0.5 * math.log(2.0 * math.pi))
    return per_seq.mean()


def kl_normal(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL( N(mean, exp(logvar)) || N(0, 1) ) per sample and per latent dimension, in nats.

    Closed form: ``0.5 * (mean^2 + exp(logvar) - 1 - logvar)``.

    Args:
        mean, logvar: (B, d) posterior parameters.

    Returns:
        (B, d) KL of every dimension of every sample; sum over ``d`` for a ladder's KL, then average
        over ``B`` for the batch estimate.
    """
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)


def ladder_kl(stats: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, list[Tensor]]:
    """Batch-mean KL of every ladder and of every dimension.

    Args:
        stats: per ladder ``(mean, logvar)``, each (B, d_l).

    Returns:
        ``(kl_ladders, kl_dims)``: ``kl_ladders`` is (L,) with the batch-mean KL of each ladder (nats,
        summed over that ladder's dimensions); ``kl_dims[l]`` is (d_l,) with the batch-mean KL of each
        dimension of ladder ``l``.
    """
    kl_dims = [kl_normal(mean, logvar).mean(dim=0) for mean, logvar in stats]  # [(d_l,)]
    kl_ladders = torch.stack([k.sum() for k in kl_dims])  # (L,)
    return kl_ladders, kl_dims


def total_correlation(z: Tensor, mean: Tensor, logvar: Tensor, dataset_size: int) -> Tensor:
    """Minibatch estimate of the total correlation of the aggregate posterior, in nats.

    ``TC = KL( q(z) || prod_d q(z_d) )`` with ``q(z) = mean over the data of q(z | x)``: zero when
    the latent dimensions are independent over the data set, positive when one dimension's value tells
    something about another's (the term beta-TCVAE weighs, Chen et al. 2018). The aggregate density at
    each draw ``z_i`` (drawn from sequence ``i`` of the batch) is estimated from the batch's ``M``
    posteriors with importance weights for a batch drawn uniformly from ``N`` sequences::

        q(z_i) ~ q(z_i | x_i) / N + (N - 1) / (N (M - 1)) * sum_{j != i} q(z_i | x_j)

    (unbiased for ``q(z_i)``; with ``M = N`` it is the mean over the whole data set), and likewise for
    every dimension alone.

    Args:
        z: (M, D) one posterior draw per sequence (all ladders concatenated), M >= 2.
        mean, logvar: (M, D) the posteriors the draws came from.
        dataset_size: ``N``, the number of training sequences (>= M).

    Returns:
        A scalar tensor: the batch mean of ``log q(z_i) - sum_d log q(z_id)``.
    """
    m = z.shape[0]
    if m < 2 or dataset_size < m:
        raise ValueError(f"need 2 <= batch size <= dataset size, got {m} and {dataset_size}")
    # log N(z_i,d ; mean_j,d, var_j,d) for every pair (i, j) and dimension d: (M, M, D)
    diff = z.unsqueeze(1) - mean.unsqueeze(0)
    log_q = -0.5 * (
        diff.pow(2) * torch.exp(-logvar).unsqueeze(0) + logvar.unsqueeze(0) + math.log(2 * math.pi)
    )
    log_w = torch.full(
        (m, m), math.log((dataset_size - 1) / (dataset_size * (m - 1))), dtype=z.dtype, device=z.device
    )
    log_w.fill_diagonal_(-math.log(dataset_size))
    log_qz = torch.logsumexp(log_q.sum(dim=2) + log_w, dim=1)  # (M,)
    log_qz_dims = torch.logsumexp(log_q + log_w.unsqueeze(-1), dim=1).sum(dim=1)  # (M,)
    return (log_qz - log_qz_dims).mean()
