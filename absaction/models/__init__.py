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

from typing import TYPE_CHECKING

from absaction.lazy import lazy_exports

# Names are resolved on first access (PEP 562), as in absaction.analysis: the torch-free modules
# (activity, capacity_spec) can be imported by a configuration or a parser without importing torch.
_LAZY: dict[str, str] = {
    "ACTIVE_KL_THRESHOLD": "absaction.models.activity",
    "ActionVAE": "absaction.models.base",
    "ModelConfig": "absaction.models.configs",
    "reparameterize": "absaction.models.base",
    "CAPACITY_MODES": "absaction.models.capacity",
    "Capacity": "absaction.models.capacity",
    "make_capacity": "absaction.models.capacity",
    "CapacitySpec": "absaction.models.capacity_spec",
    "parse_capacity": "absaction.models.capacity_spec",
    "load": "absaction.models.io",
    "read_config": "absaction.models.io",
    "save": "absaction.models.io",
    "gaussian_nll": "absaction.models.losses",
    "kl_normal": "absaction.models.losses",
    "ladder_kl": "absaction.models.losses",
    "total_correlation": "absaction.models.losses",
    "MODELS": "absaction.models.registry",
    "build_model": "absaction.models.registry",
    "model_class": "absaction.models.registry",
    "MERGES": "absaction.models.configs",
    "QRNN": "absaction.models.qrnn",
    "TCVLAE": "absaction.models.tcvlae",
    "FlatTCVAE": "absaction.models.tcvlae",
    "TCVAEConfig": "absaction.models.configs",
    "TCVLAEConfig": "absaction.models.configs",
}

__all__ = [
    "ACTIVE_KL_THRESHOLD",
    "CAPACITY_MODES",
    "MERGES",
    "MODELS",
    "QRNN",
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

if TYPE_CHECKING:  # pragma: no cover - static names for type checkers and IDEs
    from absaction.models.activity import ACTIVE_KL_THRESHOLD
    from absaction.models.base import ActionVAE, reparameterize
    from absaction.models.capacity import CAPACITY_MODES, Capacity, make_capacity
    from absaction.models.capacity_spec import CapacitySpec, parse_capacity
    from absaction.models.configs import MERGES, ModelConfig, TCVAEConfig, TCVLAEConfig
    from absaction.models.io import load, read_config, save
    from absaction.models.losses import gaussian_nll, kl_normal, ladder_kl, total_correlation
    from absaction.models.qrnn import QRNN
    from absaction.models.registry import MODELS, build_model, model_class
    from absaction.models.tcvlae import TCVLAE, FlatTCVAE


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
