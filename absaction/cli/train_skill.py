"""``absaction train --model skill``: the skill model's branch of ``absaction train``."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from absaction.errors import AbsactionError

if TYPE_CHECKING:  # annotations only: importing this module stays light
    from absaction.train import FitResult

# the skill group's own names of config fields
_RENAMES = {
    "skill_encoder": "encoder",
    "skill_decoder": "decoder",
    "skill_frame": "frame",
}


def run_skill(given: dict[str, Any]) -> int:
    """Train (or resume) a skill model from the flags the user gave (``absaction train``'s namespace)."""
    from absaction.train.skill_loop import SkillTrainConfig, fit_skills, resume_skills

    given = dict(given)
    given.pop("model", None)
    if "window" in given:  # the action VAEs' window; a skill's length is its own flag
        raise AbsactionError(
            "--window does not apply to skill models: a skill lasts --horizon steps",
            f"pass --horizon {given['window']} instead of --window {given['window']}",
        )
    progress = not given.pop("quiet", False)
    resume_dir: Path | None = given.pop("resume", None)
    out: Path | None = given.pop("out", None)
    force: bool = given.pop("force", False)
    data = given.pop("data", None)
    options = dict(given.pop("model_option", []))
    given.update(options)
    given = {_RENAMES.get(k, k): v for k, v in given.items()}
    _refuse_other_options(given, {f.name for f in dataclasses.fields(SkillTrainConfig)})
    if resume_dir is not None:
        if force:
            raise AbsactionError("--force does not apply to --resume", "drop --force")
        result = resume_skills(resume_dir, given, data=data, progress=progress)
    else:
        if data is None or out is None:
            raise AbsactionError(
                "missing --data or --out", "pass --data DIR --out RUN_DIR (or --resume RUN_DIR)"
            )
        result = fit_skills(data, SkillTrainConfig.from_dict(given), out, force=force, progress=progress)
    if progress:
        print_skill_summary(result)
    return 0


def _refuse_other_options(given: dict[str, Any], fields: set[str]) -> None:
    """One line for an option of the action VAEs that skill models do not take (``--progressive``),
    listing the skill's options as they are typed: a flag of ``absaction train``, else
    ``--model-option NAME=VALUE``."""
    unknown = sorted(set(given) - fields)
    if not unknown:
        return
    from absaction.cli import build_parser  # the train parser's own flags, only to word this error

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    dests = {action.dest for action in commands.choices["train"]._actions}
    renamed = {field: dest for dest, field in _RENAMES.items()}

    def typed(name: str) -> str:
        dest = renamed.get(name, name)
        return "--" + dest.replace("_", "-") if dest in dests else f"--model-option {name}=VALUE"

    raise AbsactionError(
        f"{', '.join(typed(name) for name in unknown)} {'does' if len(unknown) == 1 else 'do'} not apply "
        "to skill models",
        f"drop it; skill models take {', '.join(sorted(typed(name) for name in fields))}",
    )


def print_skill_summary(result: FitResult) -> None:
    """The skill run's table on stdout: the loss terms of the last epoch (training and validation), the
    validation error in env units, the data it saw and what an agent gets from it."""
    from rich.console import Console
    from rich.table import Table

    from absaction.models import read_config

    saved = read_config(result.run_dir)
    train, data = saved.get("train", {}), saved.get("data", {})
    last = result.metrics[-1] if result.metrics else {}
    model = result.model
    table = Table(title="trained skill model", show_header=False)
    table.add_row("run folder", str(result.run_dir))
    table.add_row("epochs", str(last.get("epoch", 0)))
    table.add_row(
        "windows",
        f"{data.get('n_train', 0)} trained, {data.get('n_val', 0)} held out "
        f"(stride {data.get('stride', train.get('stride'))})",
    )
    table.add_row("horizon H", f"{data.get('horizon', train.get('horizon'))} steps")
    table.add_row(
        "latent size",
        f"{sum(model.ladder_dims)}"
        + (f" (ladders {list(model.ladder_dims)})" if len(model.ladder_dims) > 1 else "")
        + f", {train.get('encoder')} encoder, {train.get('decoder')}-loop decoder",
    )  # fmt: skip
    table.add_row(
        "train recon / KL / prior KL (nats)",
        f"{_number(last.get('recon'))} / {_number(last.get('kl'))} / {_number(last.get('prior_kl'))}",
    )
    if last.get("val_recon") is not None:
        table.add_row(
            "val recon / prior NLL (nats)",
            f"{_number(last.get('val_recon'))} / {_number(last.get('val_prior_nll'))}",
        )
    if last.get("val_rmse") is not None:
        table.add_row("val RMSE (env units)", f"{last['val_rmse']:.4g}")
    decisions = data.get("decisions_per_episode")
    if decisions is not None:
        table.add_row(
            "skill decisions per episode",
            f"{decisions:.3g} (episodes of {data.get('mean_episode_steps', 0):.3g} steps on average, "
            f"a skill every {data.get('horizon')} steps)",
        )
    table.add_row("training time", f"{result.seconds:.1f} s")
    Console().print(table)  # stdout, as every other command prints its summary


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3g}"
