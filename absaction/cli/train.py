"""``absaction train``: train an action VAE (TCVLAE or the flat TCVAE) on a dataset of expert actions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from absaction.cli._args import (
    add_force,
    fraction,
    int_list,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from absaction.errors import AbsactionError

# Shown in --help; the values themselves live in absaction.train.config.TrainConfig (imported lazily,
# it pulls in torch), and a test checks that the two agree.
DEFAULTS: dict[str, Any] = {
    "model": "tcvlae",
    "beta": 100.0,
    "tc": 0.0,
    "sigma": 0.1,
    "capacity": "adaptive:50",
    "epochs": 100,
    "batch_size": 32,
    "lr": 3e-3,
    "progressive": 0,
    "normalize": "global",
    "val_fraction": 0.1,
    "seed": 0,
    "checkpoint_every": 25,
    "threads": 1,
    "device": "cpu",
}
MODEL_OPTIONS: tuple[str, ...] = ("ladder_dims", "merge", "channels", "layers_per_ladder")
"""Flags that go to the model's own configuration (TrainConfig.model_options)."""

EPILOG = """\
models:
  tcvlae   the paper's ladder model: Conv1d(kernel 3, stride 2) layers, a latent group ("ladder")
           after each of them, sizes --ladder-dims (default 8,4,2), merged back into the decoder
  tcvae    the flat baseline: 4 convolutions each side, one latent group (default size 4)
  seq2seq  the QRNN encoder-decoder of the paper's section 3.2 (its options via --model-option)

capacity (the KL term; beta * (KL - C) "signed" or beta * |KL - C| "abs", per ladder):
  adaptive[:W][,signed|abs]        C of each ladder = its mean KL over the last W epochs (the paper;
                                   default adaptive:50 = signed, which has a plain beta-VAE gradient)
  linear:CMAX,STEPS[,abs|signed]   C of the total KL ramps 0 -> CMAX nats over STEPS steps (Burgess)
  none                             plain beta-VAE

sigma is the decoder's standard deviation in units of the (normalised) data: the reconstruction
term is sum (x - x_hat)^2 / (2 sigma^2), so doubling sigma is like multiplying beta by 4.

examples:
  absaction train --data data/reach2d --out runs/reach
  absaction train --data data/reach2d --model tcvae --beta 100 --out runs/flat
  absaction train --data data/reach2d --capacity linear:10,2000 --epochs 200 --out runs/linear
  absaction train --resume runs/reach                  # continue an interrupted run
  absaction train --resume runs/reach --epochs 200     # or extend a finished one

The run folder holds model.safetensors, config.json, metrics.csv and resume.safetensors; it is
rewritten atomically every --checkpoint-every epochs and at the end.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train an action VAE on expert action sequences",
        description="Train the time-convolutional ladder VAE (or the flat baseline) on the action sequences "
        "of a dataset written by `absaction collect`, writing a resumable run folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,  # only flags the user gives appear (a resume checks them)
    )
    d = DEFAULTS
    data = parser.add_argument_group("data and output")
    data.add_argument("--data", metavar="DIR", help="dataset folder (absaction collect --out) or Minari id")
    data.add_argument("--out", type=Path, metavar="RUN_DIR", help="run folder to create")
    add_force(data)
    data.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    data.add_argument(
        "--window", type=positive_int, metavar="L", help="window length (default: whole episodes)"
    )
    data.add_argument("--stride", type=positive_int, metavar="S", help="steps between windows (default: L)")
    data.add_argument(
        "--val-fraction",
        type=fraction,
        metavar="F",
        help=f"episodes held out (default: {d['val_fraction']})",
    )
    data.add_argument(
        "--normalize", choices=("global", "per-dim"),
        help="action scaling: per-dimension mean with one shared std (global, keeps the geometry) or "
        f"unit variance per dimension (default: {d['normalize']})",
    )  # fmt: skip

    model = parser.add_argument_group("model")
    model.add_argument("--model", metavar="NAME", help=f"tcvlae | tcvae | seq2seq (default: {d['model']})")
    model.add_argument(
        "--ladder-dims",
        type=int_list,
        metavar="D1,D2,..",
        help="latent size per ladder (default: 8,4,2; tcvae: 4)",
    )
    model.add_argument(
        "--merge",
        metavar="MODE",
        help="tcvlae: sum | gated | concat (default: sum); seq2seq: input (the paper, default) | ladder",
    )
    model.add_argument(
        "--channels", type=positive_int, metavar="C", help="first layer's channels (default: 16)"
    )
    model.add_argument(
        "--layers-per-ladder", type=positive_int, metavar="K",
        help="convolutions per ladder (default: 1; tcvae: 4)",
    )  # fmt: skip
    skill = parser.add_argument_group("skill models (--model skill; see absaction.train.skill_loop)")
    skill.add_argument("--horizon", type=positive_int, metavar="H", help="steps per skill (default: 10)")
    skill.add_argument("--z-dim", type=positive_int, metavar="Z", help="skill latent size (default: 8)")
    skill.add_argument(
        "--skill-obs", type=_name_list, metavar="A,B",
        help="skill-observation columns by name or index (default: x,y on Reach2D, else all)",
    )  # fmt: skip
    skill.add_argument(
        "--skill-encoder", choices=("mlp", "gru", "ladder"),
        help="posterior network; ladder: the TCVLAE's convolutional ladder with a factored prior "
        "p(z_top | s) p(z_lower | s, z_top), sizes --ladder-dims (default: mlp)",
    )  # fmt: skip
    skill.add_argument(
        "--skill-decoder", choices=("closed", "open"),
        help="closed: pi(a | s, z) every step; open: z -> H actions (default: closed)",
    )  # fmt: skip
    skill.add_argument(
        "--prior-weight", type=non_negative_float, metavar="W", help="weight of the prior's KL (default: 1)"
    )
    model.add_argument(
        "--model-option", action="append", type=_key_value, metavar="KEY=VALUE",
        help="any other field of the model's configuration, e.g. hidden_size=64 (seq2seq); repeatable",
    )  # fmt: skip

    loss = parser.add_argument_group("loss and optimisation")
    loss.add_argument(
        "--beta", type=non_negative_float, metavar="B", help=f"KL weight (default: {d['beta']:g})"
    )
    loss.add_argument(
        "--tc", type=non_negative_float, metavar="W",
        help="extra weight on the latents' total correlation over the data (beta-TCVAE's term, a minibatch "
        f"estimate) (default: {d['tc']:g} = the paper's loss)",
    )  # fmt: skip
    loss.add_argument(
        "--sigma",
        type=positive_float,
        metavar="S",
        help=f"decoder std, normalised units (default: {d['sigma']})",
    )
    loss.add_argument(
        "--capacity", metavar="SPEC", help=f"capacity schedule, see below (default: {d['capacity']})"
    )
    loss.add_argument("--epochs", type=positive_int, metavar="E", help=f"(default: {d['epochs']})")
    loss.add_argument("--batch-size", type=positive_int, metavar="N", help=f"(default: {d['batch_size']})")
    loss.add_argument(
        "--lr", type=positive_float, metavar="LR", help=f"Adam learning rate (default: {d['lr']:g})"
    )
    loss.add_argument(
        "--progressive", type=non_negative_int, metavar="P",
        help="progressive training (pro-VLAE): the top ladder alone first, then one lower ladder faded in "
        f"every P epochs (default: {d['progressive']} = all ladders from the start, the paper)",
    )  # fmt: skip
    loss.add_argument("--seed", type=int, metavar="S", help=f"(default: {d['seed']})")

    run_group = parser.add_argument_group("running")
    run_group.add_argument(
        "--checkpoint-every", type=positive_int, metavar="K",
        help=f"write the run folder every K epochs (default: {d['checkpoint_every']})",
    )  # fmt: skip
    run_group.add_argument(
        "--tensorboard",
        action="store_true",
        help="also log to RUN_DIR/tensorboard (pip install absaction[tensorboard])",
    )
    run_group.add_argument(
        "--threads", type=non_negative_int, metavar="N",
        help=f"torch threads; 0 = torch's default (all cores) (default: {d['threads']}, fastest for the "
        "default model's small layers)",
    )  # fmt: skip
    run_group.add_argument(
        "--device", metavar="DEV", help="torch device: cpu, cuda, cuda:1, ... (default: cpu)"
    )
    run_group.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from absaction.train import TrainConfig, fit, resume

    given = {k: v for k, v in vars(args).items() if k not in ("func", "command")}
    if given.get("model") == "skill" or _is_skill_run(given.get("resume")):
        from absaction.cli.train_skill import run_skill

        return run_skill(given)
    skill_only = [
        k
        for k in ("horizon", "z_dim", "skill_obs", "prior_weight", "skill_encoder", "skill_decoder")
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


def _print_summary(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    model, last = result.model, (result.metrics[-1] if result.metrics else {})
    table = Table(title=f"trained {model.name}", show_header=False)
    table.add_row("run folder", str(result.run_dir))
    table.add_row("epochs", str(last.get("epoch", 0)))
    table.add_row("train recon (nats)", f"{last.get('recon', float('nan')):.2f}")
    if last.get("val_rmse") is not None:
        table.add_row("val RMSE (env units)", f"{last['val_rmse']:.4g}")
    for ladder, (kls, active) in enumerate(zip(model.kl_per_dim, model.active_dims(), strict=True), start=1):
        table.add_row(f"ladder {ladder} KL (nats)", f"{sum(kls):.2f}  active dims {active}")
    table.add_row("training time", f"{result.seconds:.1f} s")
    Console(stderr=True).print(table)


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


def _key_value(text: str) -> tuple[str, Any]:
    """``hidden_size=64`` -> ``("hidden_size", 64)``; the value is read as JSON, else kept as text."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE such as hidden_size=64, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value
