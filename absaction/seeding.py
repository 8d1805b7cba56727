"""One seed for everything: Python, NumPy and (when installed and imported) torch."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed the global generators and return a fresh NumPy ``Generator`` for local use."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - seeds libraries (SB3, gymnasium spaces) that use the global state
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but keep `import absaction` light
        pass
    else:
        torch.manual_seed(seed)
    return np.random.default_rng(seed)
