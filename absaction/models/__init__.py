"""Action-sequence VAEs: the convolutional ladder model (TCVLAE), the flat baseline, their losses.

>>> from absaction.data import load_dataset
>>> from absaction.models import load
>>> model = load("runs/tcvlae")
>>> actions = load_dataset("data/reach2d").action_windows().actions[:4]   # (B, T, A) in env units
>>> stats = model.encode(actions)                       # [(mean, logvar) per ladder]
>>> [tuple(mean.shape) for mean, _ in stats]            # (B, d_l)
[(4, 8), (4, 4), (4, 2)]
>>> paths = model.decode([mean for mean, _ in stats])   # (B, T, A) in env units
>>> tuple(paths.shape)
(4, 32, 2)
"""

from __future__ import annotations

from absaction.models.base import ACTIVE_KL_THRESHOLD, ActionVAE, ModelConfig, reparameterize
from absaction.models.capacity import CAPACITY_MODES, Capacity, CapacitySpec, make_capacity, parse_capacity
from absaction.models.io import load, read_config, save
from absaction.models.losses import gaussian_nll, kl_normal, ladder_kl, total_correlation
from absaction.models.registry import MODELS, build_model, model_class
from absaction.models.tcvlae import MERGES, TCVLAE, FlatTCVAE, TCVAEConfig, TCVLAEConfig

__all__ = [
    "ACTIVE_KL_THRESHOLD",
    "CAPACITY_MODES",
    "MERGES",
    "MODELS",
    "TCVLAE",
    "ActionVAE",
    "Capacity",
    "CapacitySpec",
    "FlatTCVAE",
    "ModelConfig",
    "TCVAEConfig",
    "TCVLAEConfig",
    "build_model",
    "gaussian_nll",
    "kl_normal",
    "ladder_kl",
    "load",
    "make_capacity",
    "model_class",
    "parse_capacity",
    "read_config",
    "reparameterize",
    "save",
    "total_correlation",
]
