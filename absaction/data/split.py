"""Deterministic train/validation splits of item indices."""

from __future__ import annotations

import numpy as np

from absaction.errors import AbsactionError


def train_val_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into disjoint, sorted train and validation index arrays.

    Args:
        n: number of items (episodes or windows), at least 1.
        val_fraction: share of items held out for validation, in ``[0, 1)``. The validation set has
            ``round(n * val_fraction)`` items, but at least one and at most ``n - 1`` whenever
            ``val_fraction > 0`` and ``n >= 2``, so neither side is ever empty by rounding.
        seed: the permutation's seed; the same ``(n, val_fraction, seed)`` always gives the same split.

    Returns:
        ``(train_idx, val_idx)``, int64 arrays, each sorted ascending; together they cover ``range(n)``.
    """
    if n < 1:
        raise AbsactionError(
            f"cannot split {n} items into train and validation sets", "provide at least one item"
        )
    if not 0.0 <= val_fraction < 1.0:
        raise AbsactionError(
            f"validation fraction must be in [0, 1), got {val_fraction}", "pass a value such as 0.1"
        )
    n_val = round(n * val_fraction)
    if val_fraction > 0.0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    val_idx = np.sort(order[:n_val]).astype(np.int64)
    train_idx = np.sort(order[n_val:]).astype(np.int64)
    return train_idx, val_idx
