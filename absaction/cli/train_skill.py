"""``absaction train --model skill``: the skill model's branch of ``absaction train``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from absaction.errors import AbsactionError

# flags of the action VAEs that mean the same here, and the skill group's own names of config fields
_RENAMES = {
    "window": "horizon",
    "skill_encoder": "encoder",
    "skill_decoder": "decoder",
    "skill_frame": "frame",
}


def run_skill(given: dict[str, Any]) -> int:
    """Train (or resume) a skill model from the flags the user gave (``absaction train``'s namespace)."""
    from absaction.train.skill_loop import SkillTrainConfig, fit_skills, resume_skills

    given = dict(given)
    given.pop("model", None)
    quiet = given.pop("quiet", False)
    resume_dir: Path | None = given.pop("resume", None)
    out: Path | None = given.pop("out", None)
    force: bool = given.pop("force", False)
    data = given.pop("data", None)
    options = dict(given.pop("model_option", []))
    given.update(options)
    given = {_RENAMES.get(k, k): v for k, v in given.items()}
    if resume_dir is not None:
        if force:
            raise AbsactionError("--force does not apply to --resume", "drop --force")
        result = resume_skills(resume_dir, given, data=data)
    else:
        if data is None or out is None:
            raise AbsactionError(
                "missing --data or --out", "pass --data DIR --out RUN_DIR (or --resume RUN_DIR)"
            )
        result = fit_skills(data, SkillTrainConfig.from_dict(given), out, force=force)
    if not quiet:
        last = result.metrics[-1] if result.metrics else {}
        print(
            f"trained skill model in {result.run_dir}: {last.get('epoch', 0)} epochs, "
            f"recon {last.get('recon', 0):.3f}, "
            f"KL {last.get('kl', 0):.2f}, prior KL {last.get('prior_kl', 0):.2f}, "
            f"val RMSE {last.get('val_rmse')}, "
            f"{result.seconds:.1f} s",
            file=sys.stderr,
        )
    return 0
