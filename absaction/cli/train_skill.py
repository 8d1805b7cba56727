"""``absaction train --model skill``: the skill model's flags, help and run (every default read from
:class:`~absaction.train.config.SkillTrainConfig`). Importing this module stays light: no torch."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from absaction.cli._args import field_default, field_help, non_negative_float, positive_int, show_default
from absaction.models.configs import SKILL_DECODERS, SKILL_ENCODERS, SKILL_FRAMES
from absaction.train.config import SkillTrainConfig

Add = Callable[..., Any]
"""``add_argument`` of a help group (the flag is shown) or of a parser with ``help=SUPPRESS`` (the flag is
another kind's: accepted, then refused by name)."""

S = SkillTrainConfig  # every default below is read from its fields

DESCRIPTION = (
    "Train a skill model with a learned prior on the (state, action) windows of a dataset written by "
    "`absaction collect`: a posterior over H-step windows, a closed-loop decoder pi(a | s, z) and a prior "
    "p(z | s), for `absaction rl --actions skill`, writing a resumable run folder. The action VAEs' "
    "options: absaction train --help."
)


def epilog(vae_flags: Sequence[str]) -> str:
    """The help's epilog, every default read from the configuration when the parser is built
    (``vae_flags``: the action VAEs' own flags, named where their help is)."""
    vaes = textwrap.fill(
        "the action VAEs (--model tcvlae | tcvae | seq2seq) have flags of their own ("
        + ", ".join(vae_flags)
        + ") and other defaults: absaction train --help",
        width=100, initial_indent="  ", subsequent_indent="  ",
    )  # fmt: skip
    return f"""\
skill models:
  windows of H = --horizon (default {show_default(S, "horizon")}) steps of (skill observation, action),
  one every --stride (default {show_default(S, "stride")}) steps; the loss is
    recon + beta * KL(q || N(0, I)) + prior-weight * KL(sg(q) || p(z | s))
  with the KL term shaped by --capacity (default {show_default(S, "capacity")}: plain beta)

{vaes}

capacity (the KL term; beta * (KL - C) "signed" or beta * |KL - C| "abs", per ladder):
  adaptive[:W][,signed|abs]        C of each ladder = its mean KL over the last W epochs
  linear:CMAX,STEPS[,abs|signed]   C of the total KL ramps 0 -> CMAX nats over STEPS steps (Burgess)
  none                             plain beta-VAE

examples:
  absaction train --model skill --data data/play --out runs/skills
  absaction train --model skill --data data/play --horizon 4 --z-dim 4 --out runs/skills
  absaction train --model skill --data data/play --skill-encoder ladder --ladder-dims 4,4 --out runs/ladder
  absaction train --resume runs/skills                 # continue a run (its kind is recorded)
  absaction train --resume runs/skills --epochs {2 * field_default(S, "epochs")}     # or extend it

The run folder holds model.safetensors, config.json, metrics.csv and resume.safetensors; it is
rewritten atomically every --checkpoint-every epochs and at the end.
"""


def add_data_flags(add: Add) -> None:
    """The skill model's own flags of the "data and output" group."""
    add(
        "--skill-obs", type=name_list, metavar="A,B", dest="skill_obs",
        help=field_help(
            S, "skill_obs", "skill-observation columns by name or index", "x,y on Reach2D, else all"
        ),
    )  # fmt: skip


def add_model_flags(add: Add) -> None:
    """The skill model's own flags of the "model" group."""
    add("--horizon", type=positive_int, metavar="H", help=field_help(S, "horizon", "steps per skill"))
    add("--z-dim", type=positive_int, metavar="Z", help=field_help(S, "z_dim", "skill latent size"))
    add(
        "--skill-encoder", choices=SKILL_ENCODERS, dest="encoder",
        help=field_help(
            S, "encoder", "posterior network; ladder: the TCVLAE's convolutional ladder with a factored "
            "prior p(z_top | s) p(z_lower | s, z_top), sizes --ladder-dims",
        ),
    )  # fmt: skip
    add(
        "--skill-decoder", choices=SKILL_DECODERS, dest="decoder",
        help=field_help(S, "decoder", "closed: pi(a | s, z) every step; open: z -> H actions"),
    )  # fmt: skip
    add(
        "--skill-frame", choices=SKILL_FRAMES, dest="frame",
        help=field_help(
            S, "frame", "what the posterior and decoder see: absolute s_t, or relative s_t - s_0 (the change "
            "since the skill began: the same motion anywhere, e.g. past the data's workspace); the prior "
            "sees s_0",
        ),
    )  # fmt: skip


def add_loss_flags(add: Add) -> None:
    """The skill model's own flags of the "loss and optimisation" group."""
    add(
        "--prior-weight", type=non_negative_float, metavar="W",
        help=field_help(S, "prior_weight", "weight of the prior's KL"),
    )  # fmt: skip


def name_list(text: str) -> list[str]:
    """``x,y`` -> ``["x", "y"]``."""
    return [item.strip() for item in text.split(",") if item.strip()]


def run_skill(
    given: dict[str, Any],
    data: str | None,
    out: Path | None,
    resume_dir: Path | None,
    force: bool,
    progress: bool,
) -> Any:
    """Train (or resume) a skill model from the flags the user gave (the config's field names); returns the
    :class:`~absaction.train.engine.FitResult`."""
    from absaction.train.skill_loop import fit_skills, resume_skills  # torch: only when a run starts

    if resume_dir is not None:
        return resume_skills(resume_dir, given, data=data, progress=progress)
    assert data is not None and out is not None
    return fit_skills(data, SkillTrainConfig.from_dict(given), out, force=force, progress=progress)
