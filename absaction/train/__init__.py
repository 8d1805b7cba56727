"""Training, for every model kind: one engine (:mod:`absaction.train.engine`: the epochs, checkpoints,
``metrics.csv``, a bit-identical resume, the device) and one configuration per kind.

>>> from absaction.train import TrainConfig, fit
>>> result = fit("data/reach2d", TrainConfig(epochs=2), "runs/reach", progress=False)  # a real run: 150
>>> result.model.ladder_dims, len(result.metrics)                        # one metrics row per epoch
([8, 4, 2], 2)
>>> result.model.active_dims()                       # per ladder, the latent dims above 0.01 nats of KL
[[...], [...], [...]]
>>> sorted(path.name for path in result.run_dir.iterdir())
['.absaction-output.json', 'config.json', 'metrics.csv', 'model.safetensors', 'resume.safetensors']

The same ``fit`` trains a skill model when given a :class:`SkillTrainConfig`, and ``resume`` continues a
run of either kind. ``fit_arrays`` trains an action VAE on in-memory windows (N, T, A), for data that is
not a dataset folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from absaction.lazy import lazy_exports

# Names are resolved on first access (PEP 562), as in absaction.analysis: a sub-module that needs no
# torch (the configuration, read by the CLI's parser) can be imported without importing torch.
_LAZY: dict[str, str] = {
    "RESUME_FILE": "absaction.train.checkpoint",
    "ResumeState": "absaction.train.checkpoint",
    "load_resume_state": "absaction.train.checkpoint",
    "RUN_CONTROL_KEYS": "absaction.train.config",
    "SkillTrainConfig": "absaction.train.config",
    "TrainConfig": "absaction.train.config",
    "FitResult": "absaction.train.engine",
    "LossTerms": "absaction.train.engine",
    "ModelKind": "absaction.train.engine",
    "data_fingerprint": "absaction.train.loop",
    "fit_arrays": "absaction.train.loop",
    "METRICS_FILE": "absaction.train.metrics",
    "metric_columns": "absaction.train.metrics",
    "fit": "absaction.train.runs",
    "load_windows": "absaction.train.runs",
    "resume": "absaction.train.runs",
    "fit_skills": "absaction.train.skill_loop",
    "resume_skills": "absaction.train.skill_loop",
}

__all__ = [
    "METRICS_FILE",
    "RESUME_FILE",
    "RUN_CONTROL_KEYS",
    "FitResult",
    "LossTerms",
    "ModelKind",
    "ResumeState",
    "SkillTrainConfig",
    "TrainConfig",
    "data_fingerprint",
    "fit",
    "fit_arrays",
    "fit_skills",
    "load_resume_state",
    "load_windows",
    "metric_columns",
    "resume",
    "resume_skills",
]

if TYPE_CHECKING:  # pragma: no cover - static names for type checkers and IDEs
    from absaction.train.checkpoint import RESUME_FILE, ResumeState, load_resume_state
    from absaction.train.config import RUN_CONTROL_KEYS, SkillTrainConfig, TrainConfig
    from absaction.train.engine import FitResult, LossTerms, ModelKind
    from absaction.train.loop import data_fingerprint, fit_arrays
    from absaction.train.metrics import METRICS_FILE, metric_columns
    from absaction.train.runs import fit, load_windows, resume
    from absaction.train.skill_loop import fit_skills, resume_skills


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
