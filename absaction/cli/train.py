"""``absaction train``: train an action VAE (TCVLAE, flat TCVAE, seq2seq) or a skill model with a prior on a
dataset of expert demonstrations."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from absaction.cli._args import (
    KEY_VALUE_SEMANTICS,
    add_force,
    field_help,
    fraction,
    int_list,
    key_value,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    show_default,
)
from absaction.data.normalizer import NORMALIZE_MODES
from absaction.errors import AbsactionError
from absaction.models.configs import (
    SKILL_DECODERS,
    SKILL_ENCODERS,
    SKILL_FRAMES,
    Seq2SeqConfig,
    TCVAEConfig,
    TCVLAEConfig,
)
from absaction.train.config import SkillTrainConfig, TrainConfig

if TYPE_CHECKING:  # annotations only: importing this module stays light
    from absaction.train import FitResult

MODEL_OPTIONS: tuple[str, ...] = ("ladder_dims", "merge", "channels", "layers_per_ladder")
"""Flags that go to the model's own configuration (TrainConfig.model_options)."""

_H, _SKILL_EPOCHS = show_default(SkillTrainConfig, "horizon"), show_default(SkillTrainConfig, "epochs")

EPILOG = f"""\
models:
  tcvlae   the paper's ladder model: Conv1d(kernel 3, stride 2) layers, a latent group ("ladder")
           after each of them, sizes --ladder-dims (default {show_default(TCVLAEConfig, "ladder_dims")}),
           merged back into the decoder
  tcvae    the flat baseline: 4 convolutions each side, one latent group
           (default size {show_default(TCVAEConfig, "ladder_dims")})
  seq2seq  the QRNN encoder-decoder of the paper's section 3.2 (its options via --model-option)
  skill    closed-loop skills: windows of H steps of (state, action), H = --horizon (default {_H});
           a decoder pi(a | s, z) and a learned prior p(z | s), for `absaction rl --actions skill`; its
           flags are the group "skill models" above; the loss flags below then default to the skill
           model's own values (SkillTrainConfig, e.g. --epochs {_SKILL_EPOCHS})

capacity (the KL term; beta * (KL - C) "signed" or beta * |KL - C| "abs", per ladder):
  adaptive[:W][,signed|abs]        C of each ladder = its mean KL over the last W epochs (the paper;
                                   default {show_default(TrainConfig, "capacity")} = signed, which has a plain
                                   beta-VAE gradient)
  linear:CMAX,STEPS[,abs|signed]   C of the total KL ramps 0 -> CMAX nats over STEPS steps (Burgess)
  none                             plain beta-VAE

sigma is the decoder's standard deviation in units of the (normalised) data: the reconstruction
term is sum (x - x_hat)^2 / (2 sigma^2), so doubling sigma is like multiplying beta by 4.

examples:
  absaction train --data data/reach2d --out runs/reach
  absaction train --data data/reach2d --model tcvae --beta 100 --out runs/flat
  absaction train --data data/reach2d --capacity linear:10,2000 --epochs 200 --out runs/linear
  absaction train --data data/play --model skill --horizon 10 --out runs/skills
  absaction train --resume runs/reach                  # continue an interrupted run
  absaction train --resume runs/reach --epochs 200     # or extend a finished one

The run folder holds model.safetensors, config.json, metrics.csv and resume.safetensors; it is
rewritten atomically every --checkpoint-every epochs and at the end.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train an action VAE or a skill model on expert demonstrations",
        description="Train the time-convolutional ladder VAE (or the flat baseline, or the seq2seq model) on "
        "the action sequences of a dataset written by `absaction collect`, or a skill model (--model skill: "
        "closed-loop skills of H steps with a state-conditioned prior) on its (state, action) windows, "
        "writing a resumable run folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,  # only flags the user gives appear (a resume checks them)
    )
    t = TrainConfig  # every default below is read from its fields (one place, see absaction.train.config)
    data = parser.add_argument_group("data and output")
    data.add_argument("--data", metavar="DIR", help="dataset folder (absaction collect --out) or Minari id")
    data.add_argument("--out", type=Path, metavar="RUN_DIR", help="run folder to create")
    add_force(data)
    data.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    data.add_argument(
        "--window",
        type=positive_int,
        metavar="L",
        help=field_help(
            t,
            "window",
            "window length in steps, also the chunk a latent agent decodes per decision (skill models: "
            "--horizon)",
            f"the longest the model reads that fits every episode, at most {TrainConfig.DEFAULT_WINDOW}",
        ),
    )
    data.add_argument(
        "--stride",
        type=positive_int,
        metavar="S",
        help=field_help(t, "stride", "steps between window starts", "L, no overlap"),
    )
    data.add_argument("--val-fraction", type=fraction, metavar="F", help=field_help(t, "val_fraction"))
    data.add_argument("--normalize", choices=NORMALIZE_MODES, help=field_help(t, "normalize"))

    model = parser.add_argument_group("model")
    model.add_argument(
        "--model", metavar="NAME", help=field_help(t, "model", "tcvlae | tcvae | seq2seq | skill")
    )
    model.add_argument(
        "--ladder-dims", type=int_list, metavar="D1,D2,..",
        help=field_help(TCVLAEConfig, "ladder_dims", "latent size per ladder")
        + f"; tcvae: {show_default(TCVAEConfig, 'ladder_dims')}",
    )  # fmt: skip
    model.add_argument(
        "--merge", metavar="MODE",
        help="tcvlae: " + field_help(TCVLAEConfig, "merge", "sum | gated | concat")
        + "; seq2seq: " + field_help(Seq2SeqConfig, "merge", "input (the paper) | ladder"),
    )  # fmt: skip
    model.add_argument(
        "--channels", type=positive_int, metavar="C", help=field_help(TCVLAEConfig, "channels")
    )
    model.add_argument(
        "--layers-per-ladder", type=positive_int, metavar="K",
        help=field_help(TCVLAEConfig, "layers_per_ladder")
        + f"; tcvae: {show_default(TCVAEConfig, 'layers_per_ladder')}",
    )  # fmt: skip
    skill = parser.add_argument_group("skill models (--model skill; see absaction.train.skill_loop)")
    s = SkillTrainConfig  # the skill model's defaults (one place, see absaction.train.config)
    skill.add_argument(
        "--horizon", type=positive_int, metavar="H", help=field_help(s, "horizon", "steps per skill")
    )
    skill.add_argument(
        "--z-dim", type=positive_int, metavar="Z", help=field_help(s, "z_dim", "skill latent size")
    )
    skill.add_argument(
        "--skill-obs", type=_name_list, metavar="A,B",
        help=field_help(
            s, "skill_obs", "skill-observation columns by name or index", "x,y on Reach2D, else all"
        ),
    )  # fmt: skip
    skill.add_argument(
        "--skill-encoder", choices=SKILL_ENCODERS,
        help=field_help(
            s, "encoder", "posterior network; ladder: the TCVLAE's convolutional ladder with a factored "
            "prior p(z_top | s) p(z_lower | s, z_top), sizes --ladder-dims",
        ),
    )  # fmt: skip
    skill.add_argument(
        "--skill-decoder", choices=SKILL_DECODERS,
        help=field_help(s, "decoder", "closed: pi(a | s, z) every step; open: z -> H actions"),
    )  # fmt: skip
    skill.add_argument(
        "--skill-frame", choices=SKILL_FRAMES,
        help=field_help(
            s, "frame", "what the posterior and decoder see: absolute s_t, or relative s_t - s_0 (the change "
            "since the skill began: the same motion anywhere, e.g. past the data's workspace); the prior "
            "sees s_0",
        ),
    )  # fmt: skip
    skill.add_argument(
        "--prior-weight", type=non_negative_float, metavar="W",
        help=field_help(s, "prior_weight", "weight of the prior's KL"),
    )  # fmt: skip
    model.add_argument(
        "--model-option", action="append", type=key_value, metavar="KEY=VALUE",
        help="any other field of the model's configuration, e.g. hidden_size=64 (seq2seq); repeatable. "
        + KEY_VALUE_SEMANTICS,
    )  # fmt: skip

    loss = parser.add_argument_group("loss and optimisation")
    loss.add_argument("--beta", type=non_negative_float, metavar="B", help=field_help(t, "beta"))
    loss.add_argument("--tc", type=non_negative_float, metavar="W", help=field_help(t, "tc"))
    loss.add_argument("--sigma", type=positive_float, metavar="S", help=field_help(t, "sigma"))
    loss.add_argument(
        "--capacity", metavar="SPEC", help=field_help(t, "capacity", "capacity schedule, see below")
    )
    loss.add_argument("--epochs", type=positive_int, metavar="E", help=field_help(t, "epochs"))
    loss.add_argument("--batch-size", type=positive_int, metavar="N", help=field_help(t, "batch_size"))
    loss.add_argument("--lr", type=positive_float, metavar="LR", help=field_help(t, "lr"))
    loss.add_argument(
        "--progressive", type=non_negative_int, metavar="P",
        help=field_help(
            t, "progressive",
            "progressive training (pro-VLAE): the top ladder alone first, then one lower ladder faded in "
            "every P epochs; 0 = all ladders from the start, the paper",
        ),
    )  # fmt: skip
    loss.add_argument("--seed", type=int, metavar="S", help=field_help(t, "seed"))

    run_group = parser.add_argument_group("running")
    run_group.add_argument(
        "--checkpoint-every", type=positive_int, metavar="K", help=field_help(t, "checkpoint_every")
    )
    run_group.add_argument("--tensorboard", action="store_true", help=field_help(t, "tensorboard"))
    run_group.add_argument(
        "--threads", type=non_negative_int, metavar="N",
        help=field_help(
            t, "threads", "torch threads; 0 = torch's default (all cores); one is fastest for the default "
            "model's small layers",
        ),
    )  # fmt: skip
    run_group.add_argument("--device", metavar="DEV", help=field_help(t, "device"))
    run_group.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from absaction.train import fit, resume  # torch: only when a run starts

    given = {k: v for k, v in vars(args).items() if k not in ("func", "command")}
    if given.get("model") == "skill" or _is_skill_run(given.get("resume")):
        from absaction.cli.train_skill import run_skill

        skill_dir: Path | None = given.get("resume") or given.get("out")
        try:
            return run_skill(given)
        except KeyboardInterrupt:
            if skill_dir is None:
                raise
            return _interrupted(skill_dir)
    skill_only = [
        k
        for k in (
            "horizon",
            "z_dim",
            "skill_obs",
            "prior_weight",
            "skill_encoder",
            "skill_decoder",
            "skill_frame",
        )
        if k in given
    ]
    if skill_only:
        flags = ", ".join("--" + k.replace("_", "-") for k in skill_only)
        raise AbsactionError(f"{flags} apply only to skill models", "add --model skill or drop them")
    progress = not given.pop("quiet", False)
    resume_dir: Path | None = given.pop("resume", None)
    out: Path | None = given.pop("out", None)
    force: bool = given.pop("force", False)
    data = given.pop("data", None)
    options = {key: given.pop(key) for key in MODEL_OPTIONS if key in given}
    options.update(dict(given.pop("model_option", [])))
    if resume_dir is not None:
        if out is not None and out.resolve() != resume_dir.resolve():
            raise AbsactionError("--out and --resume name different folders", "pass only --resume RUN_DIR")
        if force:
            raise AbsactionError(
                "--force does not apply to --resume", "drop --force (a resume never replaces the run)"
            )
        run_dir = resume_dir
        try:
            result = resume(resume_dir, {**given, "model_options": options}, data=data, progress=progress)
        except KeyboardInterrupt:
            return _interrupted(run_dir)
    else:
        if data is None or out is None:
            missing = " and ".join(
                flag for flag, value in (("--data", data), ("--out", out)) if value is None
            )
            raise AbsactionError(f"missing {missing}", "pass --data DIR --out RUN_DIR (or --resume RUN_DIR)")
        run_dir = out
        config = TrainConfig(**given, model_options=options)
        try:
            result = fit(data, config, out, force=force, progress=progress)
        except KeyboardInterrupt:
            return _interrupted(run_dir)
    if progress:
        _print_summary(result)
    return 0


def _interrupted(run_dir: Path) -> int:
    """Ctrl-C: say what is kept and how to go on (the run folder holds the last complete checkpoint)."""
    from absaction.models import read_config

    try:
        epochs = read_config(run_dir).get("epochs_completed", 0)
    except AbsactionError:
        print(
            "absaction train: interrupted before the run folder was written; nothing was kept",
            file=sys.stderr,
        )
    else:
        print(
            f"absaction train: interrupted; {run_dir} keeps the checkpoint of epoch {epochs}; "
            f"continue with: absaction train --resume {run_dir}",
            file=sys.stderr,
        )
    return 130


def _print_summary(result: FitResult) -> None:
    from rich.console import Console
    from rich.table import Table

    from absaction.models import read_config

    model, last = result.model, (result.metrics[-1] if result.metrics else {})
    table = Table(title=f"trained {model.name}", show_header=False)
    table.add_row("run folder", str(result.run_dir))
    table.add_row("epochs", str(last.get("epoch", 0)))
    data = read_config(result.run_dir).get("data", {})
    table.add_row("windows", f"{data.get('n_train', 0)} trained, {data.get('n_val', 0)} held out")
    if data.get("window") is not None:
        table.add_row("window (steps)", str(data["window"]))
    if data.get("decisions_per_episode") is not None:
        table.add_row(
            "agent decisions per episode",
            f"{data['decisions_per_episode']:.3g} (episodes of {data.get('mean_episode_steps', 0):.3g} "
            f"steps on average, one {data['window']}-step chunk per decision)",
        )
    table.add_row("train recon (nats)", f"{last.get('recon', float('nan')):.2f}")
    if last.get("val_rmse") is not None:
        table.add_row("val RMSE (env units)", f"{last['val_rmse']:.4g}")
    for ladder, (kls, active) in enumerate(
        zip(model.kl_per_dim or [], model.active_dims(), strict=True), start=1
    ):
        table.add_row(f"ladder {ladder} KL (nats)", f"{sum(kls):.2f}  active dims {active}")
    table.add_row("training time", f"{result.seconds:.1f} s")
    Console().print(table)  # stdout, as every other command prints its summary


def _name_list(text: str) -> list[str]:
    """``x,y`` -> ``["x", "y"]``."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _is_skill_run(run_dir: Path | None) -> bool:
    """Whether ``run_dir`` holds a skill model's run (its own resume path)."""
    if run_dir is None or not (run_dir / "config.json").is_file():
        return False
    try:
        return json.loads((run_dir / "config.json").read_text()).get("model") == "skill"
    except (OSError, ValueError):
        return False  # the ordinary resume path reports the damaged file
