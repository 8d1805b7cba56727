"""Gymnasium wrappers that turn one agent decision into a chunk of primitive actions.

- :class:`LatentActionWrapper`: the agent picks a latent ``z`` of a trained action VAE; the decoder
  turns it into an action sequence (the point of absaction: a policy p(z | s) instead of p(a | s)).
- :class:`SkillWrapper`: the agent picks a skill ``z`` every H steps (optionally through the skill
  prior); the closed-loop skill decoder acts on the current state in between.
- :class:`ResidualSkillWrapper`: skills plus a per-step residual correction, ramped by a schedule.
- :class:`ActionRepeatWrapper`: the agent's action is repeated ``k`` times (the temporal-extension
  baseline with the same decision frequency and reward semantics).

Both share :class:`MacroActionWrapper`, the single place where a chunk is executed and its rewards are
summed (``sum_i gamma**i r_i`` by default; the agent's own discount should then be ``gamma**k``).
"""

from __future__ import annotations

from absaction.wrappers.latent import ActionDecoder, LatentActionWrapper, load_action_model, model_active_dims
from absaction.wrappers.macro import ActionRepeatWrapper, MacroActionWrapper
from absaction.wrappers.residual import ResidualSchedule, ResidualSkillWrapper, StepClock, share_clock
from absaction.wrappers.skill import SkillWrapper, load_skill_model

__all__ = [
    "ActionDecoder",
    "ActionRepeatWrapper",
    "LatentActionWrapper",
    "MacroActionWrapper",
    "ResidualSchedule",
    "ResidualSkillWrapper",
    "SkillWrapper",
    "StepClock",
    "load_action_model",
    "load_skill_model",
    "model_active_dims",
    "share_clock",
]
