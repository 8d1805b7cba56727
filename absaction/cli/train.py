"""``absaction train``: train an action VAE (TCVLAE, flat TCVAE, seq2seq) or a skill model with a prior on a
dataset of expert demonstrations.

Each model kind has its own parser, built from its configuration dataclass (``TrainConfig`` for the
action VAEs, ``SkillTrainConfig`` for skill models, :mod:`absaction.train.config`): parsing reads the
kind first (``--model``, else the kind of the run ``--resume`` continues) and hands the arguments to that
kind's parser, so ``absaction train --model skill --help`` shows the skill model's options and defaults
and ``absaction train --help`` the action VAEs'. A flag of another kind is accepted only to be refused by
name, in one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from absaction.cli import train_skill
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
from absaction.cli.train_skill import Add
from absaction.data.normalizer import NORMALIZE_MODES
from absaction.errors import AbsactionError
from absaction.models.configs import Seq2SeqConfig, TCVAEConfig, TCVLAEConfig
from absaction.train.config import SkillTrainConfig, TrainConfig

KINDS: dict[str, type] = {"vae": TrainConfig, "skill": SkillTrainConfig}
"""The model kinds ``absaction train`` trains, and each one's configuration dataclass."""

MODEL_OPTIONS: tuple[str, ...] = ("ladder_dims", "merge", "channels", "layers_per_ladder")
"""Action-VAE flags that go to the model's own configuration (TrainConfig.model_options)."""

T = TrainConfig  # the action VAEs' defaults are read from its fields (and the models' configurations)

DESCRIPTION = (
    "Train the time-convolutional ladder VAE (or the flat baseline, or the seq2seq model) on the action "
    "sequences of a dataset written by `absaction collect`, or a skill model (--model skill: closed-loop "
    "skills of H steps with a state-conditioned prior) on its (state, action) windows, writing a "
    "resumable run folder."
)


def epilog(skill_flags: Sequence[str]) -> str:
    """The help's epilog, every default read from the configuration when the parser is built
    (``skill_flags``: the skill model's own flags, named where its help is)."""
    skill = textwrap.fill(
        "closed-loop skills with a learned prior, for `absaction rl --actions skill`: its own flags ("
        + ", ".join(skill_flags)
        + "), options and defaults are listed by absaction train --model skill --help",
        width=100, initial_indent="  skill    ", subsequent_indent=" " * 11,
    )  # fmt: skip
    return f"""\
models:
  tcvlae   the paper's ladder model: Conv1d(kernel 3, stride 2) layers, a latent group ("ladder")
           after each of them, sizes --ladder-dims (default {show_default(TCVLAEConfig, "ladder_dims")}),
           merged back into the decoder
  tcvae    the flat baseline: 4 convolutions each side, one latent group
           (default size {show_default(TCVAEConfig, "ladder_dims")})
  seq2seq  the QRNN encoder-decoder of the paper's section 3.2 (its options via --model-option)
{skill}

capacity (the KL term; beta * (KL - C) "signed" or beta * |KL - C| "abs", per ladder):
  adaptive[:W][,signed|abs]        C of each ladder = its mean KL over the last W epochs (the paper;
                                   default {show_default(T, "capacity")} = signed, which has a plain
                                   beta-VAE gradient)
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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    entry = subparsers.add_parser(
        "train", help="train an action VAE or a skill model on expert demonstrations"
    )
    # the entry gives `absaction --help` its line and this command its name; the parser that runs is the
    # one that picks a model kind first (subparsers.choices maps the command's name to its parser)
    subparsers.choices["train"] = TrainParser("vae", prog=entry.prog)


class TrainParser(argparse.ArgumentParser):
    """``absaction train``'s parser for the model kind ``kind`` (a key of :data:`KINDS`).

    Parsing finds the kind the arguments ask for (:func:`kind_of`) and, when it is another one, hands
    them to that kind's parser: its flags, help and defaults are read from its configuration dataclass.
    """

    def __init__(self, kind: str, prog: str | None = None) -> None:
        skill = kind == "skill"
        super().__init__(
            prog=prog,
            description=train_skill.DESCRIPTION if skill else DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            argument_default=argparse.SUPPRESS,  # only flags the user gives appear (a resume checks them)
        )
        self.kind = kind
        _add_arguments(self, kind)
        other_flags = list(self.foreign_flags().values())
        self.epilog = train_skill.epilog(other_flags) if skill else epilog(other_flags)
        self.set_defaults(func=run, train_kind=kind)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        argv = list(sys.argv[1:] if args is None else args)
        kind = kind_of(argv)
        if kind != self.kind:
            return TrainParser(kind, prog=self.prog).parse_known_args(argv, namespace)
        return super().parse_known_args(argv, namespace)

    def foreign_flags(self) -> dict[str, str]:
        """``dest -> flag`` of the other kinds' flags this parser accepts only to refuse them."""
        return {a.dest: a.option_strings[0] for a in self._actions if a.help == argparse.SUPPRESS}

    def own_flags(self) -> dict[str, str]:
        """``dest -> flag`` of this kind's flags."""
        return {
            a.dest: a.option_strings[0]
            for a in self._actions
            if a.option_strings and a.help != argparse.SUPPRESS
        }


def kind_of(argv: Sequence[str]) -> str:
    """The model kind ``argv`` trains: ``skill`` for ``--model skill``, or for ``--resume RUN_DIR`` of a skill
    run without ``--model``; else ``vae`` (whose parser names any mistake in ``--model``)."""
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    pre.add_argument("--model")
    pre.add_argument("--resume", type=Path)
    try:
        known, _ = pre.parse_known_args(argv)
    except argparse.ArgumentError:  # e.g. --model without a value: the kind's parser says so
        return "vae"
    if known.model is not None:
        return "skill" if known.model == "skill" else "vae"
    return "skill" if _is_skill_run(known.resume) else "vae"


def _add_arguments(parser: argparse.ArgumentParser, kind: str) -> None:
    """The flags of ``kind``'s parser: the ones every kind has (help and defaults from its configuration),
    its own, and the other kinds' own hidden."""
    cls = KINDS[kind]
    skill = kind == "skill"

    def hidden(*names: str, **kwargs: Any) -> Any:
        return parser.add_argument(*names, **{**kwargs, "help": argparse.SUPPRESS})

    data = parser.add_argument_group("data and output")
    data.add_argument("--data", metavar="DIR", help="dataset folder (absaction collect --out) or Minari id")
    data.add_argument("--out", type=Path, metavar="RUN_DIR", help="run folder to create")
    add_force(data)
    data.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    stride = (
        field_help(cls, "stride")
        if skill
        else field_help(T, "stride", "steps between window starts", "L, no overlap")
    )
    data.add_argument("--stride", type=positive_int, metavar="S", help=stride)
    data.add_argument("--val-fraction", type=fraction, metavar="F", help=field_help(cls, "val_fraction"))
    _own(skill, data.add_argument, hidden, train_skill.add_data_flags, _vae_data_flags)

    model = parser.add_argument_group("model")
    if skill:
        model.add_argument("--model", metavar="NAME", help="skill (the action VAEs: absaction train --help)")
    else:
        model.add_argument(
            "--model", metavar="NAME", help=field_help(T, "model", "tcvlae | tcvae | seq2seq | skill")
        )
    _own(skill, model.add_argument, hidden, train_skill.add_model_flags, _vae_model_flags)
    if skill:
        ladders = field_help(
            cls, "ladder_dims", "latent size per ladder (with --skill-encoder ladder)", "--z-dim"
        )
        channels, layers = field_help(cls, "channels"), field_help(cls, "layers_per_ladder")
        other = "any other field of the skill configuration, e.g. hidden_size=64; repeatable. "
    else:
        ladders = field_help(TCVLAEConfig, "ladder_dims", "latent size per ladder")
        ladders += f"; tcvae: {show_default(TCVAEConfig, 'ladder_dims')}"
        channels = field_help(TCVLAEConfig, "channels")
        layers = field_help(TCVLAEConfig, "layers_per_ladder")
        layers += f"; tcvae: {show_default(TCVAEConfig, 'layers_per_ladder')}"
        other = "any other field of the model's configuration, e.g. hidden_size=64 (seq2seq); repeatable. "
    model.add_argument("--ladder-dims", type=int_list, metavar="D1,D2,..", help=ladders)
    model.add_argument("--channels", type=positive_int, metavar="C", help=channels)
    model.add_argument("--layers-per-ladder", type=positive_int, metavar="K", help=layers)
    model.add_argument(
        "--model-option",
        action="append",
        type=key_value,
        metavar="KEY=VALUE",
        help=other + KEY_VALUE_SEMANTICS,
    )

    loss = parser.add_argument_group("loss and optimisation")
    loss.add_argument("--beta", type=non_negative_float, metavar="B", help=field_help(cls, "beta"))
    loss.add_argument("--sigma", type=positive_float, metavar="S", help=field_help(cls, "sigma"))
    loss.add_argument(
        "--capacity",
        metavar="SPEC",
        help=field_help(cls, "capacity", "capacity schedule, see below"),
    )
    _own(skill, loss.add_argument, hidden, train_skill.add_loss_flags, _vae_loss_flags)
    loss.add_argument("--epochs", type=positive_int, metavar="E", help=field_help(cls, "epochs"))
    loss.add_argument("--batch-size", type=positive_int, metavar="N", help=field_help(cls, "batch_size"))
    loss.add_argument("--lr", type=positive_float, metavar="LR", help=field_help(cls, "lr"))
    loss.add_argument("--seed", type=int, metavar="S", help=field_help(cls, "seed"))

    running = parser.add_argument_group("running")
    running.add_argument(
        "--checkpoint-every", type=positive_int, metavar="K", help=field_help(cls, "checkpoint_every")
    )
    running.add_argument("--tensorboard", action="store_true", help=field_help(cls, "tensorboard"))
    running.add_argument(
        "--threads", type=non_negative_int, metavar="N",
        help=field_help(cls, "threads", "torch threads; 0 = torch's default (all cores); one is fastest for "
                        "these small models"),
    )  # fmt: skip
    running.add_argument("--device", metavar="DEV", help=field_help(cls, "device"))
    running.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def _own(skill: bool, add: Add, hidden: Add, skill_flags: Any, vae_flags: Any) -> None:
    """A group's kind-specific flags: this kind's shown, the other kind's hidden."""
    (skill_flags if skill else vae_flags)(add)
    (vae_flags if skill else skill_flags)(hidden)


def _vae_data_flags(add: Add) -> None:
    add(
        "--window", type=positive_int, metavar="L",
        help=field_help(
            T, "window", "window length in steps, also the chunk a latent agent decodes per decision",
            f"the longest the model reads that fits every episode, at most {TrainConfig.DEFAULT_WINDOW}",
        ),
    )  # fmt: skip
    add("--normalize", choices=NORMALIZE_MODES, help=field_help(T, "normalize"))


def _vae_model_flags(add: Add) -> None:
    add(
        "--merge", metavar="MODE",
        help="tcvlae: " + field_help(TCVLAEConfig, "merge", "sum | gated | concat")
        + "; seq2seq: " + field_help(Seq2SeqConfig, "merge", "input (the paper) | ladder"),
    )  # fmt: skip


def _vae_loss_flags(add: Add) -> None:
    add("--tc", type=non_negative_float, metavar="W", help=field_help(T, "tc"))
    add(
        "--progressive", type=non_negative_int, metavar="P",
        help=field_help(
            T, "progressive",
            "progressive training (pro-VLAE): the top ladder alone first, then one lower ladder faded in "
            "every P epochs; 0 = all ladders from the start, the paper",
        ),
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    given = {k: v for k, v in vars(args).items() if k not in ("func", "command")}
    kind: str = given.pop("train_kind")
    progress = not given.pop("quiet", False)
    resume_dir: Path | None = given.pop("resume", None)
    out: Path | None = given.pop("out", None)
    force: bool = given.pop("force", False)
    data = given.pop("data", None)
    parser = TrainParser(kind)
    if kind == "skill":
        given.pop("model", None)
        given.update(dict(given.pop("model_option", [])))  # every skill option is a field of its config
        _refuse_other_skill_options(given, parser)
    else:
        _refuse_skill_flags(given, parser)
    if resume_dir is not None:
        if out is not None and out.resolve() != resume_dir.resolve():
            raise AbsactionError("--out and --resume name different folders", "pass only --resume RUN_DIR")
        if force:
            raise AbsactionError(
                "--force does not apply to --resume", "drop --force (a resume never replaces the run)"
            )
    elif data is None or out is None:
        missing = " and ".join(flag for flag, value in (("--data", data), ("--out", out)) if value is None)
        raise AbsactionError(f"missing {missing}", "pass --data DIR --out RUN_DIR (or --resume RUN_DIR)")
    run_dir = resume_dir if resume_dir is not None else out
    assert run_dir is not None
    try:
        if kind == "skill":
            result = train_skill.run_skill(given, data, out, resume_dir, force, progress)
        else:
            result = _run_vae(given, data, out, resume_dir, force, progress)
    except KeyboardInterrupt:
        from absaction.train.engine import interrupted_message

        # the engine closed its progress bar first, so this starts on a line of its own
        print(f"absaction train: {interrupted_message(run_dir)}", file=sys.stderr)
        return 130
    if progress:
        _print_summary(kind, result)
    return 0


def _run_vae(
    given: dict[str, Any],
    data: str | None,
    out: Path | None,
    resume_dir: Path | None,
    force: bool,
    progress: bool,
) -> Any:
    from absaction.train import fit, resume

    options = {key: given.pop(key) for key in MODEL_OPTIONS if key in given}
    options.update(dict(given.pop("model_option", [])))
    if resume_dir is not None:
        return resume(resume_dir, {**given, "model_options": options}, data=data, progress=progress)
    assert data is not None and out is not None
    return fit(data, TrainConfig(**given, model_options=options), out, force=force, progress=progress)


def _refuse_skill_flags(given: dict[str, Any], parser: TrainParser) -> None:
    """One line for the skill model's flags given to an action VAE."""
    foreign = parser.foreign_flags()
    names = [foreign[key] for key in given if key in foreign]
    if names:
        raise AbsactionError(
            f"{', '.join(names)} apply only to skill models", "add --model skill or drop them"
        )


def _refuse_other_skill_options(given: dict[str, Any], parser: TrainParser) -> None:
    """One line for options that are no field of the skill configuration (an action VAE's flag, or a
    ``--model-option`` of an unknown name), listing the skill model's options as they are typed: its
    flag, else ``--model-option NAME=VALUE``."""
    if "window" in given:  # the action VAEs' window; a skill's length is its own flag
        raise AbsactionError(
            "--window does not apply to skill models: a skill lasts --horizon steps",
            f"pass --horizon {given['window']} instead of --window {given['window']}",
        )
    fields = {field.name for field in dataclasses.fields(SkillTrainConfig)}
    unknown = sorted(set(given) - fields)
    if not unknown:
        return
    flags = {**parser.own_flags(), **parser.foreign_flags()}

    def typed(name: str) -> str:
        return flags.get(name, f"--model-option {name}=VALUE")

    raise AbsactionError(
        f"{', '.join(typed(name) for name in unknown)} {'does' if len(unknown) == 1 else 'do'} not apply "
        "to skill models",
        f"drop it; skill models take {', '.join(sorted(typed(name) for name in fields))}",
    )


def _print_summary(kind: str, result: Any) -> None:
    """The run's summary table on stdout, as every command prints its summary (its kind's rows)."""
    from rich.console import Console
    from rich.table import Table

    from absaction.train.loop import VAEKind
    from absaction.train.skill_loop import SkillKind

    title, rows = SkillKind.summary(result) if kind == "skill" else VAEKind.summary(result)
    table = Table(title=title, show_header=False)
    for label, value in rows:
        table.add_row(label, value)
    Console().print(table)


def _is_skill_run(run_dir: Path | None) -> bool:
    """Whether ``run_dir`` holds a skill model's run."""
    if run_dir is None or not (run_dir / "config.json").is_file():
        return False
    try:
        return json.loads((run_dir / "config.json").read_text()).get("model") == "skill"
    except (OSError, ValueError):
        return False  # the run's resume reports the damaged file
