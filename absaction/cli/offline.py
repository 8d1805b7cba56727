"""``absaction offline``: train a goal-conditioned offline agent (GCBC, GCIVL, GCIQL) on an OGBench pointmaze
dataset and evaluate it as OGBench does; resume a run; evaluate a trained agent."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from absaction.cli._args import (
    KEY_VALUE_SEMANTICS,
    add_force,
    field_docs,
    field_help,
    int_list,
    key_value,
    non_negative_int,
    positive_float,
    positive_int,
    show_default,
)
from absaction.errors import AbsactionError
from absaction.offline.configs import (
    AGENT_CONFIGS,
    AGENTS,
    PRESETS,
    AgentConfig,
    GCIQLConfig,
    GCIVLConfig,
    OfflineConfig,
    ValueAgentConfig,
)
from absaction.offline.evaluation import DEFAULT_ENVS

if TYPE_CHECKING:  # annotations only: importing this module stays light
    from absaction.offline.evaluation import EvalResult
    from absaction.offline.runs import OfflineResult

AGENT_FLAGS: dict[str, str] = {"batch_size": "batch_size", "lr": "lr", "discount": "discount"}
"""Flags that set a field of the agent's configuration (flag dest -> field)."""


def _settings(cls: type, skip: type | None = None) -> str:
    """``  name=default  doc`` lines for the fields ``cls`` declares itself (not those of ``skip``)."""
    own = field_docs(cls)
    inherited = {f.name for f in dataclasses.fields(skip)} if skip is not None else set()
    lines = []
    for item in dataclasses.fields(cls):
        if item.name in own and item.name not in inherited:
            setting = f"{item.name}={show_default(cls, item.name)}"
            lines.append(textwrap.fill(
                own[item.name], width=104, initial_indent=f"  {setting:<32} ", subsequent_indent=" " * 35
            ))  # fmt: skip
    return "\n".join(lines)


def _by_preset(key: str) -> str:
    """``the preset's: cpu V, paper W`` for agent setting ``key`` (the dataclass default where a preset
    leaves it)."""
    shown = []
    for name, preset in PRESETS.items():
        value = preset.agent.get(key, dataclasses.asdict(AgentConfig())[key])
        shown.append(f"{name} {','.join(map(str, value)) if isinstance(value, (list, tuple)) else value}")
    return "the preset's: " + ", ".join(shown)


def _epilog() -> str:
    default = OfflineConfig.preset
    presets = "\n".join(
        f"  {name:<6} {preset.summary}{' (the default)' if name == default else ''}"
        for name, preset in sorted(PRESETS.items(), key=lambda item: item[0] != default)
    )
    return f"""\
agents (OGBench's definitions, impls/agents/*.py):
  gcbc   behaviour cloning: maximise log pi(a | s, g) for hindsight goals g (a future state)
  gcivl  implicit V-learning: V(s, g) by expectile regression on r + discount * V'(s', g) (two value
         nets, target nets), the actor by advantage-weighted regression on V(s', g) - V(s, g)
  gciql  implicit Q-learning: V(s, g) by expectile regression on Q'(s, a, g), Q by TD on V, the actor
         by DDPG+BC (OGBench's pointmaze choice) or AWR (--set actor_loss=awr)
The actor is a Gaussian (std 1) MLP; the evaluation takes its mean, clipped to [-1, 1]. Rewards are
0 at the goal and -1 elsewhere; a goal equal to the current state ends the episode (mask 0).

agent settings (KEY=default, OGBench's; change any with --set KEY=VALUE):
{_settings(AgentConfig)}
 gcivl and gciql also:
{_settings(ValueAgentConfig, AgentConfig)}
 gcivl also:
{_settings(GCIVLConfig, ValueAgentConfig)}
 gciql also:
{_settings(GCIQLConfig, ValueAgentConfig)}

OGBench's per-dataset settings (impls/hyperparameters.sh), applied before the preset and your flags:
  gciql on every pointmaze dataset: alpha=0.003; gcivl and gciql on stitch datasets:
  actor_p_trajgoal=0.5 actor_p_randomgoal=0.5; gcivl and gciql on the giant maze: discount=0.995.

presets (--preset; flags override them):
{presets}
  Measured on one core: a paper-size step (batch 1024, 512x3) takes ~45 ms (gcbc) to ~280 ms (gcivl),
  so 1M of them take 12 to 80 hours (use --device cuda); a cpu-size step ~5 ms and 20-30 ms.

evaluation (OGBench's): each of the env's 5 tasks (reset with task_id 1..5), --eval-episodes episodes
each, deterministic actions, until the goal (success, from the env's info) or the time limit (1000
steps); a task's score is its share of successes, the overall score the mean over tasks. Episodes run
batched ({DEFAULT_ENVS} envs in lockstep, one policy forward per step), each seeded by (seed, task, index).

outputs (in --out): config.json + model.safetensors (the agent), resume.safetensors, metrics.csv (the
mean of every loss term per --log-every steps), eval.csv (step, each task's success, overall),
learning_curve.png, rollouts.png (10 episodes per task over the maze), report.md.

examples:
  absaction offline --dataset pointmaze-medium-stitch-v0 --agent gcivl --out runs/gcivl-medium
  absaction offline --dataset pointmaze-large-stitch-v0 --agent gciql --preset paper --out runs/gciql-large
  absaction offline --dataset pointmaze-medium-stitch-v0 --agent gcbc --steps 5000 --set lr=1e-3 --out runs/bc
  absaction offline --resume runs/gcivl-medium                 # after Ctrl-C or a crash
  absaction offline --resume runs/gcivl-medium --steps 40000   # or to train further
  absaction offline --evaluate runs/gcivl-medium --eval-episodes 100 --out runs/gcivl-medium-eval
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "offline",
        help="train a goal-conditioned offline agent (GCBC, GCIVL, GCIQL) on an OGBench dataset",
        description="Train GCBC, GCIVL or GCIQL (as OGBench defines them) on an OGBench pointmaze dataset "
        "(absaction collect regenerates them) and evaluate it on the maze's five tasks as OGBench does, "
        "writing a resumable run folder; or resume a run; or evaluate a trained agent.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,  # only flags the user gives appear (a resume checks them)
    )
    r = OfflineConfig  # every default below is read from its fields
    data = parser.add_argument_group("data and output")
    data.add_argument(
        "--dataset", metavar="NAME|FILE",
        help="OGBench dataset name (looked up in --ogbench-dir) or its .npz file, e.g. "
        "pointmaze-medium-stitch-v0",
    )  # fmt: skip
    data.add_argument(
        "--env", dest="env_id", metavar="ENV",
        help=field_help(
            r, "env_id", "OGBench env the agent is evaluated on",
            "the dataset's maze: ogbench:pointmaze-medium-v0 for pointmaze-medium-stitch-v0",
        ),
    )  # fmt: skip
    data.add_argument(
        "--ogbench-dir", metavar="DIR",
        help=field_help(r, "ogbench_dir", "where dataset names are looked up", "~/.ogbench/data"),
    )  # fmt: skip
    data.add_argument(
        "--out", type=Path, metavar="DIR", help="run folder to create (with --evaluate: where to write)"
    )
    add_force(data)
    data.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    data.add_argument(
        "--evaluate", type=Path, metavar="RUN_DIR",
        help="evaluate the agent in RUN_DIR (on --env, default its own maze) into --out; no training",
    )  # fmt: skip

    agent = parser.add_argument_group("agent")
    # names checked by the run itself: one line naming the known ones, as every other bad input
    agent.add_argument("--agent", metavar="|".join(AGENTS), help=field_help(r, "agent", "the agent"))
    agent.add_argument(
        "--preset", metavar="|".join(PRESETS), help=field_help(r, "preset", "run size, see presets below")
    )
    a = AgentConfig
    agent.add_argument(
        "--batch-size", type=positive_int, metavar="N",
        help=field_help(a, "batch_size", default=_by_preset("batch_size")),
    )  # fmt: skip
    agent.add_argument(
        "--hidden-dims", type=int_list, metavar="H1,H2,..",
        help="hidden layer sizes of every MLP (actor, value, critic) "
        f"(default: {_by_preset('actor_hidden_dims')})",
    )  # fmt: skip
    agent.add_argument("--lr", type=positive_float, metavar="LR", help=field_help(a, "lr"))
    agent.add_argument("--discount", type=positive_float, metavar="G", help=field_help(a, "discount"))
    agent.add_argument(
        "--set", type=key_value, action="append", metavar="KEY=VALUE",
        help="any agent setting (listed below), e.g. --set alpha=3 --set actor_p_randomgoal=0.3; repeatable. "
        + KEY_VALUE_SEMANTICS,
    )  # fmt: skip

    budget = parser.add_argument_group("budget and evaluation")
    budget.add_argument(
        "--steps",
        type=positive_int,
        metavar="N",
        help=field_help(r, "steps", "gradient steps", "the preset's"),
    )
    budget.add_argument("--seed", type=int, metavar="S", help=field_help(r, "seed"))
    budget.add_argument(
        "--eval-every",
        type=positive_int,
        metavar="N",
        help=field_help(
            r, "eval_every", "gradient steps between evaluations (and one at the end)", "the preset's"
        ),
    )
    budget.add_argument(
        "--eval-episodes", type=positive_int, metavar="N", help=field_help(r, "eval_episodes")
    )
    budget.add_argument(
        "--eval-tasks", type=positive_int, metavar="N",
        help=field_help(r, "eval_tasks", "evaluate only the first N tasks (OGBench's eval_tasks)", "all"),
    )  # fmt: skip
    budget.add_argument(
        "--log-every",
        type=positive_int,
        metavar="N",
        help=field_help(
            r,
            "log_every",
            "gradient steps per row of metrics.csv (the mean of each metric over them)",
            "the preset's",
        ),
    )
    budget.add_argument(
        "--checkpoint-every", type=positive_int, metavar="N",
        help=field_help(
            r, "checkpoint_every", "gradient steps between checkpoints (and one at the end)", "the preset's"
        ),
    )  # fmt: skip

    running = parser.add_argument_group("running")
    running.add_argument("--device", metavar="DEV", help=field_help(r, "device"))
    running.add_argument("--threads", type=non_negative_int, metavar="N", help=field_help(r, "threads"))
    running.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    given = {k: v for k, v in vars(args).items() if k not in ("func", "command")}
    progress = not given.pop("quiet", False)
    force = bool(given.pop("force", False))
    out: Path | None = given.pop("out", None)
    resume_dir: Path | None = given.pop("resume", None)
    evaluate_dir: Path | None = given.pop("evaluate", None)
    if resume_dir is not None and evaluate_dir is not None:
        raise AbsactionError("--resume and --evaluate exclude each other", "pass one of them")
    if evaluate_dir is not None:
        return _evaluate(evaluate_dir, out, force, given, progress)
    options = _agent_options(given, _run_agent(resume_dir) if resume_dir is not None else None)
    if resume_dir is not None:
        if out is not None and out.resolve() != resume_dir.resolve():
            raise AbsactionError("--out and --resume name different folders", "pass only --resume RUN_DIR")
        if force:
            raise AbsactionError(
                "--force does not apply to --resume", "drop --force (a resume never replaces the run)"
            )
        return _resume(resume_dir, given, options, progress)
    if "dataset" not in given or out is None:
        missing = " and ".join(
            f for f, ok in (("--dataset", "dataset" in given), ("--out", out is not None)) if not ok
        )
        raise AbsactionError(f"missing {missing}", "pass --dataset NAME --out DIR (or --resume RUN_DIR)")
    config = OfflineConfig(**given, agent_options=options)
    from absaction.offline.runs import train_offline  # torch: only when a run starts

    try:
        result = train_offline(config, out, force=force, progress=progress)
    except KeyboardInterrupt:
        return _interrupted(out)
    if progress:
        _print_summary(result)
    return 0


def _run_agent(run_dir: Path) -> str | None:
    """The agent of the run in ``run_dir`` as its config.json names it (None where it cannot be read:
    the resume itself then says why)."""
    try:
        agent = json.loads((run_dir / "config.json").read_text(encoding="utf-8")).get("agent")
    except (OSError, ValueError, AttributeError):
        return None
    return agent if isinstance(agent, str) else None


def _agent_options(given: dict[str, Any], run_agent: str | None = None) -> dict[str, Any]:
    """The agent settings among the flags (removed from ``given``): --batch-size, --lr, --discount,
    --hidden-dims (every MLP of the agent: ``run_agent``'s on a resume) and --set."""
    options = {field: given.pop(flag) for flag, field in AGENT_FLAGS.items() if flag in given}
    hidden = given.pop("hidden_dims", None)
    agent = run_agent or given.get("agent", OfflineConfig.agent)
    if hidden is not None:
        options["actor_hidden_dims"] = hidden
        if issubclass(AGENT_CONFIGS.get(agent, AgentConfig), ValueAgentConfig):
            options["value_hidden_dims"] = hidden
    options.update(dict(given.pop("set", [])))
    return options


def _resume(run_dir: Path, given: dict[str, Any], options: dict[str, Any], progress: bool) -> int:
    from absaction.offline.runs import resume_offline  # torch: only when a run starts

    changes = {**given, **({"agent_options": options} if options else {})}
    try:
        result = resume_offline(run_dir, changes, progress=progress)
    except KeyboardInterrupt:
        return _interrupted(run_dir)
    if progress:
        _print_summary(result)
    return 0


def _evaluate(run_dir: Path, out: Path | None, force: bool, given: dict[str, Any], progress: bool) -> int:
    allowed = {"env_id", "eval_episodes", "eval_tasks", "seed", "device", "threads", "ogbench_dir"}
    extra = sorted(set(given) - allowed)
    if extra:
        flags = ", ".join("--" + k.replace("_", "-").replace("env-id", "env") for k in extra)
        raise AbsactionError(
            f"{flags} do not apply to --evaluate",
            "pass only --env, --eval-episodes, --seed, --device, --threads",
        )
    if out is None:
        raise AbsactionError(
            "--evaluate needs --out", "pass --out DIR for the evaluation's eval.csv and figure"
        )
    from absaction.offline.runs import evaluate_to_folder  # torch: only when an evaluation starts

    result = evaluate_to_folder(
        run_dir,
        out,
        env_id=given.get("env_id"),
        episodes=given.get("eval_episodes", OfflineConfig.eval_episodes),
        tasks=given.get("eval_tasks", OfflineConfig.eval_tasks),
        seed=given.get("seed", OfflineConfig.seed),
        device=given.get("device", OfflineConfig.device),
        threads=given.get("threads", OfflineConfig.threads),
        force=force,
    )
    if progress:
        _print_eval(result, f"evaluation of {run_dir}", out)
    return 0


def _interrupted(run_dir: Path) -> int:
    """Ctrl-C: say what is kept and how to go on (the run folder holds the last complete checkpoint)."""
    from absaction.train.engine import interrupted_message  # torch: the run has loaded it already

    # the engine closed its progress bar first, so this starts on a line of its own
    print(f"absaction offline: {interrupted_message(run_dir, 'offline')}", file=sys.stderr)
    return 130


def _print_summary(result: OfflineResult) -> None:
    from rich.console import Console
    from rich.table import Table

    loop = result.loop
    table = Table(title=f"trained {result.agent.name}", show_header=False)
    table.add_row("run folder", str(result.run_dir))
    table.add_row("gradient steps", f"{loop.step:,}")
    table.add_row(
        "training time", f"{loop.elapsed:.1f} s ({loop.step / max(loop.elapsed, 1e-9):.0f} updates/s)"
    )
    if loop.evaluations:
        last = loop.evaluations[-1]
        for key, value in last.items():
            if key not in ("step", "seconds"):
                table.add_row(f"success {key}", f"{value:.2f}")
    Console().print(table)


def _print_eval(result: EvalResult, title: str, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_row("written to", str(out))
    for key, value in result.row().items():
        table.add_row(f"success {key}", f"{value:.2f}")
    table.add_row("seconds", f"{result.seconds:.1f}")
    Console().print(table)
