"""The table of model names (``--model``) and how to build one.

Entries are ``"module:Class"`` strings, imported only when that model is asked for, so adding a model
is one line here plus its module (e.g. ``"seq2seq": "absaction.models.seq2seq:Seq2SeqVAE"``). The class
must subclass :class:`~absaction.models.base.ActionVAE` and name its configuration dataclass in
``config_class``; training, checkpoints and :func:`absaction.models.load` need nothing else.
"""

from __future__ import annotations

import importlib
from typing import Any

from absaction.errors import check_choice
from absaction.models.base import ActionVAE

MODELS: dict[str, str] = {
    "tcvlae": "absaction.models.tcvlae:TCVLAE",
    "tcvae": "absaction.models.tcvlae:FlatTCVAE",
    "seq2seq": "absaction.models.seq2seq:Seq2SeqVAE",
    "skill": "absaction.models.skill:SkillModel",
}


def model_class(name: str) -> type[ActionVAE]:
    """The class registered as ``name``."""
    check_choice(name, MODELS, "model")
    module_name, _, class_name = MODELS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, ActionVAE)):  # pragma: no cover - a broken entry
        raise TypeError(f"{MODELS[name]} is not an ActionVAE subclass")
    return cls


def build_model(
    name: str, action_dim: int, seq_len: int | None, options: dict[str, Any] | None = None, **attributes: Any
) -> ActionVAE:
    """Build model ``name`` for actions of size ``action_dim`` and sequences of ``seq_len`` steps.

    Args:
        name: a key of :data:`MODELS`.
        action_dim, seq_len: the data's action size and sequence length (ignored by a variable-length
            model, whose class sets ``fixed_length = False``).
        options: the model's own options (fields of its config dataclass, e.g. ``ladder_dims``,
            ``merge``); omitted ones take the model's defaults.
        attributes: passed to the model (``normalizer``, ``env_id``, ``action_low``, ...).
    """
    cls = model_class(name)
    if not cls.fixed_length:
        seq_len = None  # the model reads any length
    config = cls.config_class.from_dict({"action_dim": action_dim, "seq_len": seq_len, **(options or {})})
    return cls(config, **attributes)
