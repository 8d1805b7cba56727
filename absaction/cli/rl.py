"""``absaction rl``: train one SB3 agent on primitive, latent or repeated actions."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from absaction.agents.config import ACTION_KINDS, ALGOS, FIXED_MODES, AgentConfig
from absaction.cli._args import (
    KEY_VALUE_SEMANTICS,
    add_allow_incomplete,
    add_force,
    field_default,
    field_docs,
    field_help,
    int_list,
    key_value,
    non_negative_int,
    positive_float,
    positive_int,
)
from absaction.errors import AbsactionError

if TYPE_CHECKING:  # annotations only: importing this module stays light
    from absaction.agents import TrainResult

EPILOG = """\
Budgets (--steps, --eval-every) count PRIMITIVE env steps for every kind of agent: a latent agent that
decodes 32-step chunks makes ~32x fewer decisions for the same --steps.

examples:
  absaction rl --env absaction/Reach2D-v0 --algo ppo --steps 50000 --out runs/ppo
  absaction rl --env absaction/Reach2DObstacle-v0 --actions latent --model runs/tcvlae --ladders 2,3 \\
      --steps 50000 --out runs/ppo-latent
  absaction rl --env absaction/Reach2D-v0 --actions latent --model runs/tcvlae --dims 3:0 2:1 --chunk 8 ...
  absaction rl --env absaction/Reach2DSparse-v0 --actions repeat --chunk 8 --out runs/ppo-repeat8
  absaction rl --env absaction/Reach2DNewGoals-v0 --algo sac --bc data/reach2d --out runs/sac-bc
  absaction rl --env absaction/Reach2DNewGoals-v0 --actions skill --model runs/skills --prior reparam ...
  absaction rl --env absaction/Reach2DNewGoals-v0 --algo sac --actions skill --model runs/skills \\
      --prior kl ...
  absaction rl --env Pendulum-v1 --actions latent --model runs/pendulum-vae --set learning_rate=1e-3 ...
  absaction rl --resume runs/ppo          # continue after Ctrl-C or kill -9, from the last checkpoint

outputs (in --out): eval.csv (primitive_steps, decisions, success_rate, mean_return, seconds,
mean_length, mean_decisions; the first row is before learning), learning_curve.png, agent.zip +
agent.json (everything to reload the agent: absaction.agents.load_agent(DIR)), config.json,
sb3/progress.csv. While the run trains the folder also holds resume.json and a checkpoint-N/ folder
(every --checkpoint-every steps); they are removed when it finishes.
"""


def dims_spec(text: str) -> tuple[int, list[int]]:
    """``"3:0,1"`` -> ``(3, [0, 1])``: ladder 3, its latent dims 0 and 1."""
    ladder, sep, dims = text.partition(":")
    try:
        if not sep:
            raise ValueError
        parsed = (int(ladder), [int(d) for d in dims.split(",") if d.strip()])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected LADDER:DIM[,DIM...] such as 3:0,1 (0-based dims), got {text!r}"
        ) from None
    if parsed[0] < 1 or not parsed[1] or any(d < 0 for d in parsed[1]):
        raise argparse.ArgumentTypeError(f"expected a ladder >= 1 and dims >= 0 such as 3:0,1, got {text!r}")
    return parsed


def ladders_spec(text: str) -> list[int] | str:
    """``"2,3"`` -> ``[2, 3]``; ``"top"`` or ``"all"`` (skill actions) stay words."""
    return text if text in ("top", "all") else int_list(text)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "rl",
        help="train an SB3 agent on primitive, latent, skill or repeated actions",
        description=(
            "Train one stable-baselines3 agent (PPO, SAC or TD3) that acts in primitive actions, in the\n"
            "latent space of a trained action model (LatentActionWrapper), in the skills of a trained skill\n"
            "model (SkillWrapper: a skill z every H steps, optionally regularised or reparameterised by the\n"
            "skill prior, --prior), or in repeated actions (the action-repeat baseline). Hyperparameters\n"
            "come from the packaged rl_zoo3-style YAML (absaction/agents/hyperparams/<algo>.yml),\n"
            "overridable with --hyperparams and --set."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a = AgentConfig  # defaults and their text live in its fields
    parser.add_argument("--env", metavar="ID", help=field_docs(a)["env_id"] + " (required unless --resume)")
    parser.add_argument("--algo", default=field_default(a, "algo"), choices=ALGOS, help=field_help(a, "algo"))
    parser.add_argument(
        "--actions", default=field_default(a, "actions"), choices=ACTION_KINDS, help=field_help(a, "actions")
    )
    group = parser.add_argument_group("latent and repeated actions")
    group.add_argument("--model", metavar="RUN_DIR", help=field_docs(a)["model"])
    add_allow_incomplete(group)
    group.add_argument(
        "--ladders", type=ladders_spec, metavar="L[,L...]|top",
        help=field_help(
            a, "ladders", "1-based ladders the agent controls, all unless --dims names them; skill actions: "
            "all | top", "all",
        ),
    )  # fmt: skip
    group.add_argument(
        "--dims", type=dims_spec, nargs="+", metavar="L:D[,D]",
        help=field_help(
            a, "dims", "explicit 0-based latent dims per ladder, e.g. 3:0 2:0,1", "each ladder's active units"
        ),
    )  # fmt: skip
    group.add_argument("--chunk", type=positive_int, metavar="K", help=field_docs(a)["chunk"])
    group.add_argument("--plan-phase", action="store_true", help=field_help(a, "plan_phase"))
    group.add_argument(
        "--z-bound", type=positive_float, default=field_default(a, "z_bound"), help=field_help(a, "z_bound")
    )
    group.add_argument(
        "--fixed", default=field_default(a, "fixed"), choices=FIXED_MODES, help=field_help(a, "fixed")
    )
    group.add_argument(
        "--plain-sum", action="store_true",
        help="macro reward = plain sum of primitive rewards, sum_i r_i (sets discount_within_chunk=False; "
        "default: sum_i gamma**i r_i)",
    )  # fmt: skip
    skill = parser.add_argument_group("skill actions (--actions skill --model SKILL_RUN)")
    skill.add_argument(
        "--prior",
        default=field_default(a, "prior"),
        choices=("none", "reparam", "kl"),
        help=field_help(a, "prior"),
    )
    skill.add_argument("--residual", action="store_true", help=field_help(a, "residual"))
    skill.add_argument("--top-dims", type=positive_int, metavar="K", help=field_docs(a)["top_dims"])
    bc = parser.add_argument_group("behaviour-cloning warm start")
    bc.add_argument("--bc", metavar="DATASET", help=field_docs(a)["bc_dataset"])
    bc.add_argument(
        "--bc-epochs",
        type=positive_int,
        default=field_default(a, "bc_epochs"),
        help=field_help(a, "bc_epochs"),
    )
    bc.add_argument(
        "--bc-critic-warmup", type=non_negative_int, default=field_default(a, "bc_critic_warmup"),
        metavar="STEPS", help=field_docs(a)["bc_critic_warmup"],
    )  # fmt: skip
    budget = parser.add_argument_group("budget and evaluation")
    budget.add_argument("--steps", type=positive_int, help=field_docs(a)["steps"])
    budget.add_argument(
        "--seed", type=non_negative_int, default=field_default(a, "seed"), help=field_help(a, "seed")
    )
    budget.add_argument("--eval-every", type=positive_int, help=field_docs(a)["eval_every"])
    budget.add_argument(
        "--eval-episodes", type=positive_int, help=field_help(
            a, "eval_episodes", "episodes per evaluation, deterministic policy, the same episode seeds every "
            "time", "10, fewer when 11 evaluations of 10 full-length episodes would take more env steps "
            "than --steps",
        ),
    )  # fmt: skip
    hp = parser.add_argument_group("hyperparameters")
    hp.add_argument("--hyperparams", metavar="FILE", help=field_docs(a)["hyperparams_file"])
    hp.add_argument(
        "--set", type=key_value, action="append", default=[], metavar="KEY=VALUE",
        help="override one hyperparameter, e.g. --set n_steps=256 --set policy_kwargs='dict(net_arch=[32])'. "
        + KEY_VALUE_SEMANTICS,
    )  # fmt: skip
    hp.add_argument(
        "--env-kwarg", type=key_value, action="append", default=[], metavar="KEY=VALUE",
        help="gymnasium.make argument, e.g. --env-kwarg success_radius=0.02. " + KEY_VALUE_SEMANTICS,
    )  # fmt: skip
    hp.add_argument("--device", default=field_default(a, "device"), help=field_help(a, "device"))
    run_group = parser.add_argument_group("output and interruption")
    run_group.add_argument("--out", metavar="DIR", help="output folder (required unless --resume)")
    add_force(parser)
    run_group.add_argument(
        "--resume", metavar="RUN_DIR",
        help="continue the interrupted run in RUN_DIR (Ctrl-C, an error or kill -9) from its last "
        "checkpoint; it ends with the eval.csv an uninterrupted run would have (the run's own settings "
        "apply)",
    )  # fmt: skip
    run_group.add_argument(
        "--checkpoint-every", type=positive_int, metavar="N",
        help="primitive env steps between checkpoints (default: a tenth of --steps; with --resume: the "
        "run's own); a checkpoint is also written before learning",
    )  # fmt: skip
    run_group.add_argument(
        "--threads", type=non_negative_int, default=1, metavar="N",
        help="torch threads (default: 1); 0 = all cores (torch's own choice), much slower for these small "
        "networks when other processes are busy",
    )  # fmt: skip
    run_group.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run_group.add_argument(
        "--tensorboard", action="store_true",
        help="also log SB3's training metrics to OUT/tensorboard (pip install absaction[tensorboard])",
    )  # fmt: skip
    parser.set_defaults(func=run)
    # what every option is when not given: --resume refuses any other (the run's own settings apply)
    parser.set_defaults(resume_defaults={k: v for k, v in vars(parser.parse_args([])).items()})


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    dims: dict[int, list[int]] | None = None
    if args.dims:
        dims = {}
        for ladder, indices in args.dims:
            dims.setdefault(ladder, []).extend(indices)
    words = isinstance(args.ladders, str)  # --ladders top|all: skill actions
    return AgentConfig(
        env_id=args.env,
        algo=args.algo,
        actions=args.actions,
        model=args.model,
        allow_incomplete=args.allow_incomplete,
        ladders=None if words else args.ladders,
        prior=args.prior,
        residual=args.residual,
        skill_ladders=args.ladders if words else "all",
        top_dims=args.top_dims,
        dims=dims,
        chunk=args.chunk,
        plan_phase=args.plan_phase,
        z_bound=args.z_bound,
        fixed=args.fixed,
        discount_within_chunk=not args.plain_sum,
        steps=args.steps,
        seed=args.seed,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        bc_dataset=args.bc,
        bc_epochs=args.bc_epochs,
        bc_critic_warmup=args.bc_critic_warmup,
        hyperparams=dict(args.set),
        hyperparams_file=args.hyperparams,
        env_kwargs=dict(args.env_kwarg),
        device=args.device,
    )


# run control: the only options --resume takes
RESUME_OPTIONS: tuple[str, ...] = ("resume", "out", "no_progress", "checkpoint_every", "threads")


def run(args: argparse.Namespace) -> int:
    from absaction.agents import train_agent
    from absaction.agents.training import resume_agent

    if args.resume is not None:
        _check_resume_args(args)
        run_dir = Path(args.resume)
        try:
            result = resume_agent(
                run_dir, progress=not args.no_progress, checkpoint_every=args.checkpoint_every,
                threads=args.threads,
            )  # fmt: skip
        except KeyboardInterrupt:
            return _interrupted(run_dir)
    else:
        given = (("--env", args.env), ("--out", args.out))
        missing = " and ".join(flag for flag, value in given if not value)
        if missing:
            raise AbsactionError(f"missing {missing}", "pass --env ID --out DIR (or --resume RUN_DIR)")
        config = config_from_args(args)
        run_dir = Path(args.out)
        try:
            result = train_agent(
                config, run_dir, force=args.force, progress=not args.no_progress,
                checkpoint_every=args.checkpoint_every, threads=args.threads, tensorboard=args.tensorboard,
                refuse_no_update=True,
            )  # fmt: skip
        except KeyboardInterrupt:
            return _interrupted(run_dir)
    _print_summary(result)
    return 0


def _check_resume_args(args: argparse.Namespace) -> None:
    """--resume continues a run with its own settings: refuse any other option given with it."""
    defaults: dict[str, Any] = args.resume_defaults
    given = [
        "--" + key.replace("_", "-")
        for key, default in defaults.items()
        if key not in (*RESUME_OPTIONS, "func", "resume_defaults") and getattr(args, key) != default
    ]
    if args.out is not None and Path(args.out).resolve() != Path(args.resume).resolve():
        given.append("--out")
    if given:
        raise AbsactionError(
            f"{', '.join(given)} cannot change a run being resumed (its own settings apply)",
            f"pass only --resume {args.resume} (with --threads, --checkpoint-every or --no-progress)",
        )


def _interrupted(run_dir: Path) -> int:
    """Ctrl-C: say what is kept and how to go on."""
    from absaction.agents.resume import describe, has_checkpoint, resume_command

    if has_checkpoint(run_dir):
        print(
            f"absaction rl: interrupted; {run_dir} keeps the checkpoint at {describe(run_dir)}; "
            f"continue with: {resume_command(run_dir)}",
            file=sys.stderr,
        )
    else:
        print("absaction rl: interrupted before the first checkpoint; nothing was kept", file=sys.stderr)
    return 130


def _time_row(result: TrainResult) -> tuple[str, str]:
    """The summary's time row: a resumed run trained across sessions, this process ran only the last."""
    if result.resumed:
        return (
            "training time (all sessions)",
            f"{result.final.seconds:.1f} s; this session {result.wall_seconds:.1f} s wall",
        )
    return "training time", f"{result.final.seconds:.1f} s (wall {result.wall_seconds:.1f} s)"


def _print_summary(result: TrainResult) -> None:
    from rich.console import Console
    from rich.table import Table

    def pct(value: float) -> str:
        return "n/a (env reports no is_success)" if math.isnan(value) else f"{100 * value:.0f}%"

    config = result.config
    table = Table(title=f"absaction rl: {config.algo.upper()} / {config.actions} actions on {config.env_id}")
    table.add_column("", style="bold")
    table.add_column("value")
    table.add_row("success before learning", pct(result.before_learning.success_rate))
    if result.random_actions is not None:
        table.add_row("success of random actions", pct(result.random_actions.success_rate))
    if result.prior_rollouts is not None:
        table.add_row("success of prior rollouts (z ~ p(z | s))", pct(result.prior_rollouts.success_rate))
    table.add_row("final success rate", pct(result.final.success_rate))
    # the returns beside the success rates: on an env without is_success they are what compares
    table.add_row("mean return before learning", f"{result.before_learning.mean_return:.4g}")
    if result.random_actions is not None:
        table.add_row("mean return of random actions", f"{result.random_actions.mean_return:.4g}")
    if result.prior_rollouts is not None:
        table.add_row("mean return of prior rollouts", f"{result.prior_rollouts.mean_return:.4g}")
    table.add_row("final mean return", f"{result.final.mean_return:.4g} (primitive rewards, undiscounted)")
    table.add_row("primitive env steps", f"{result.primitive_steps:,}")
    table.add_row("decisions", f"{result.decisions:,}")
    table.add_row(*_time_row(result))
    if result.bc is not None:
        table.add_row(
            "BC action error", f"{result.bc.action_error_before:.3f} -> {result.bc.action_error_after:.3f}"
        )
    table.add_row("output", str(result.out_dir))
    Console().print(table)
