"""Per-dimension standardisation of actions, for numpy arrays and torch tensors alike.

Models train on standardised actions and report results in the environment's units, so the statistics
travel with the model (``to_dict`` / ``from_dict`` into its ``config.json``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from absaction.errors import AbsactionError, check_choice

ArrayOrTensor = TypeVar("ArrayOrTensor")

#: standard deviations below this are treated as zero (a constant action dimension).
MIN_STD = 1e-6

NORMALIZE_MODES: tuple[str, ...] = ("global", "per-dim")
"""How actions are standardised for training (see :func:`fit_normalizer`)."""


class Normalizer:
    """``x_norm = (x - mean) / std`` per action dimension; ``inverse`` undoes it exactly.

    A dimension whose standard deviation is (nearly) zero, e.g. an action the expert never varies, gets
    ``std = 1``: it is then only centred, instead of being divided by zero and blown up to inf/NaN.

    Args:
        mean: per-dimension mean, shape ``(A,)``, in environment action units.
        std: per-dimension standard deviation, shape ``(A,)``, same units; values ``<= MIN_STD`` become 1.

    Example:
        >>> norm = Normalizer.fit(np.array([[[0.0, 1.0], [2.0, 1.0]]]))  # (N=1, T=2, A=2)
        >>> norm.mean.tolist(), norm.std.tolist()
        ([1.0, 1.0], [1.0, 1.0])
        >>> norm.inverse(norm.transform(np.array([3.0, 5.0]))).tolist()
        [3.0, 5.0]
    """

    def __init__(self, mean: Sequence[float] | np.ndarray, std: Sequence[float] | np.ndarray) -> None:
        mean_arr = np.asarray(mean, dtype=np.float64).reshape(-1)
        std_arr = np.asarray(std, dtype=np.float64).reshape(-1)
        if mean_arr.shape != std_arr.shape or mean_arr.size == 0:
            raise AbsactionError(
                f"normaliser mean {mean_arr.shape} and std {std_arr.shape} must be non-empty, of one shape",
                "pass one mean and one std per action dimension",
            )
        if not (np.isfinite(mean_arr).all() and np.isfinite(std_arr).all()) or (std_arr < 0).any():
            raise AbsactionError(
                "normaliser statistics must be finite and std >= 0", "re-fit them on data without NaN/inf"
            )
        self.mean: np.ndarray = mean_arr  # (A,) float64
        self.std: np.ndarray = np.where(std_arr > MIN_STD, std_arr, 1.0)  # (A,) float64, never 0

    @classmethod
    def fit(cls, actions: np.ndarray | Sequence[np.ndarray]) -> Normalizer:
        """Statistics over every step of ``actions``: an array ``(..., A)`` (e.g. windows ``(N, T, A)``)
        or a list of variable-length episodes ``[(T_i, A), ...]``. The std is the population one (ddof=0)."""
        if isinstance(actions, np.ndarray):
            flat = actions.reshape(-1, actions.shape[-1]) if actions.ndim >= 1 else actions.reshape(-1, 1)
        else:
            parts = [np.asarray(a) for a in actions]
            if not parts:
                raise AbsactionError("cannot fit a normaliser on no actions", "pass at least one episode")
            flat = np.concatenate([p.reshape(-1, p.shape[-1]) for p in parts], axis=0)
        if flat.shape[0] == 0:
            raise AbsactionError("cannot fit a normaliser on no actions", "pass at least one step")
        flat = flat.astype(np.float64)  # accumulate in float64: float32 sums drift on long datasets
        return cls(flat.mean(axis=0), flat.std(axis=0))

    @property
    def action_dim(self) -> int:
        return int(self.mean.shape[0])

    def transform(self, x: ArrayOrTensor) -> ArrayOrTensor:
        """Environment units -> standardised. ``x``: numpy array or torch tensor ``(..., A)``; the result
        has the same type, dtype (float inputs) and device."""
        mean, std = self._like(x)
        return (x - mean) / std

    def inverse(self, x: ArrayOrTensor) -> ArrayOrTensor:
        """Standardised -> environment units (the exact inverse of :meth:`transform`)."""
        mean, std = self._like(x)
        return x * std + mean

    def _like(self, x: Any) -> tuple[Any, Any]:
        """The statistics as arrays/tensors matching ``x``'s kind, dtype and device."""
        last = x.shape[-1] if getattr(x, "ndim", 0) >= 1 else None
        if last != self.action_dim:
            raise AbsactionError(
                f"the normaliser has {self.action_dim} action dimensions but the data has shape "
                f"{tuple(getattr(x, 'shape', ()))}",
                "use data from the environment the model was trained on",
            )
        torch = sys.modules.get("torch")  # only present if the caller already works with torch
        if torch is not None and isinstance(x, torch.Tensor):
            dtype = x.dtype if x.is_floating_point() else torch.float32
            return (
                torch.as_tensor(self.mean, dtype=dtype, device=x.device),
                torch.as_tensor(self.std, dtype=dtype, device=x.device),
            )
        if not isinstance(x, np.ndarray):
            raise TypeError(f"expected a numpy array or torch tensor, got {type(x).__name__}")
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)
        return self.mean.astype(dtype), self.std.astype(dtype)

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-able statistics; ``Normalizer.from_dict(n.to_dict())`` reproduces ``n`` exactly."""
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Normalizer:
        try:
            return cls(data["mean"], data["std"])
        except (KeyError, TypeError, ValueError) as err:
            raise AbsactionError(
                f"malformed normaliser statistics ({type(err).__name__}: {err})",
                "expected {'mean': [...], 'std': [...]}; re-create the file that holds them",
            ) from None

    def __repr__(self) -> str:
        return f"Normalizer(mean={np.round(self.mean, 4).tolist()}, std={np.round(self.std, 4).tolist()})"


def fit_normalizer(actions: np.ndarray, mode: str) -> Normalizer:
    """Standardisation statistics of ``actions`` (N, T, A).

    ``per-dim``: every action dimension gets zero mean and unit variance. ``global``: every dimension
    is centred, and all share one scale, the root-mean-square of the per-dimension standard
    deviations (so the total variance is still A per step). ``global`` keeps the environment's
    geometry: a dimension the expert hardly varies stays small instead of being blown up to the size of
    the others. On Reach2D the forward speed varies by 1 % of the sideways motion; ``per-dim`` makes that
    variation half of the data's variance and the VAE then mixes target and bulge in its latents.
    """
    check_choice(mode, NORMALIZE_MODES, "normalisation")
    per_dim = Normalizer.fit(actions)
    if mode == "per-dim":
        return per_dim
    shared = float(np.sqrt(np.mean(np.square(per_dim.std))))
    return Normalizer(per_dim.mean, np.full_like(per_dim.std, shared))
