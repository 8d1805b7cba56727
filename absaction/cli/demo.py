"""``absaction demo``: the whole pipeline on built-in defaults, into one folder.

collect (scripted Reach2D experts) -> plot the dataset -> train the TCVLAE -> latent traversals ->
evaluate (MIG/SAP/DCI) -> a short primitive-vs-latent PPO comparison on the obstacle task -> skills:
play data -> a closed-loop skill model -> prior rollouts -> PPO through the skill prior vs primitive PPO
on the goals no demonstration reached (Reach2DNewGoals-v0) -> summary.md. On defaults it takes about
1.5 minutes of wall time on 2 CPU cores (measured; README, Results).
Every stage is the same code path as its own sub-command (the demo calls them), so what the demo shows
is what a user gets. The folder is built in place and removed again if any stage fails or the run is
interrupted; an existing folder is refused without ``--force``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from absaction.cli import main
from absaction.cli._args import add_force, non_negative_int, positive_int
from absaction.envs.ids import resolve_env_id
from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes, atomic_write_json, atomic_write_text, staged_dir

DEMO_ENV = "absaction/Reach2D-v0"
"""the env the demo collects its expert data in (what the TCVLAE learns to decode)"""
PLAY_ENV = "absaction/Reach2DPlay-v0"
"""the env of the skills stage's play data"""

Kind = tuple[str, str, str]
"""one run of a comparison figure: (sub-folder and label, colour, name of its random-actions baseline)"""
LATENT_KINDS: tuple[Kind, ...] = (
    ("primitive", "tab:gray", "random actions"),
    ("latent", "tab:blue", "random z"),
)
SKILL_KINDS: tuple[Kind, ...] = (
    ("primitive", "tab:gray", "random actions"),
    ("skill", "tab:green", "random skills from the prior"),
)

DEMO_TIME = "1.5 minutes"
"""the demo's measured wall time on defaults (2 CPU cores; the README's Results give the stages)"""

LATENT_TITLE = "PPO on {env}: primitive actions vs TCVLAE latent actions"
SKILL_TITLE = "PPO on {env}: primitive actions vs skills from play data (through the prior)"

EPILOG = f"""\
outputs (in OUT):
  dataset/            Minari dataset of scripted Reach2D expert rollouts (with ground-truth factors)
  dataset.png         the dataset's paths (the paper's Fig. 3)
  model/              the trained TCVLAE run (model.safetensors, config.json, metrics.csv)
  traversal.png       latent traversals of every active latent (the paper's Fig. 4)
  evaluation/         report.md / report.json / mi_heatmap.png (MIG, SAP, DCI, active units)
  rl/                 primitive and latent PPO runs on absaction/Reach2DObstacle-v0 + rl_comparison.png
  skills/play/        Minari dataset of play episodes on absaction/Reach2DPlay-v0 (random starts and goals)
  skills/model/       the closed-loop skill model run (absaction train --model skill)
  skills/evaluation/  report.json, prior_rollouts.png (z drawn from the prior, no learning), traversal.png
  skills/rl/          skill PPO (through the prior) and primitive PPO on absaction/Reach2DNewGoals-v0
  skills_comparison.png  their success curves
  summary.md          what happened, with the key numbers

examples:
  absaction demo                       # defaults, about {DEMO_TIME} on 2 CPU cores
  absaction demo --rl-steps 0          # skip the primitive-vs-latent comparison
  absaction demo --no-skills           # skip the skills stage
  absaction demo --out my-demo --force
"""


@dataclass
class DemoConfig:
    """The demo's settings (written to OUT/demo.json)."""

    out: Path = Path("absaction-demo")
    """the output folder"""
    episodes: int = 400
    """expert episodes to collect on absaction/Reach2D-v0"""
    noise: float = 0.05
    """std of the Gaussian noise added to the expert's actions (action units). Without it the 400
    episodes are only 20 distinct paths and the binned MIG estimate credits every factor to every latent"""
    epochs: int | None = None
    """TCVLAE training epochs (None: absaction train's default)"""
    rl_env: str = "absaction/Reach2DObstacle-v0"
    """the task of the short RL comparison"""
    rl_steps: int = 30_000
    """primitive env steps per RL agent (0 skips the comparison)"""
    skills: bool = True
    """run the skills stage (play data -> skill model -> prior rollouts -> skill vs primitive PPO)"""
    skill_episodes: int = 300
    """play episodes to collect on absaction/Reach2DPlay-v0 (32 steps each)"""
    skill_horizon: int = 4
    """steps H per skill (4: with H = 8 PPO through the prior did not learn the new goals in 40k steps)"""
    skill_z_dim: int = 4
    """size of the skill latent"""
    skill_epochs: int = 20
    """skill-model training epochs (20 on 300 episodes: about 4 s on one thread, validation RMSE 0.012)"""
    skill_env: str = "absaction/Reach2DNewGoals-v0"
    """the task of the skill-vs-primitive comparison"""
    skill_steps: int = 30_000
    """primitive env steps per agent of the skill comparison (0 skips it; the skill model and its prior
    rollouts are still made)"""
    seed: int = 0
    """one seed for every stage"""
    threads: int = 1
    """torch threads of the training stages (0: torch's default, all cores; 1 is fastest for these small
    networks, by far when other processes are busy)"""
    timings: dict[str, float] = field(default_factory=dict)
    """seconds per stage, filled in as the demo runs"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on built-in defaults (the main job)",
        description="Collect expert data, train the TCVLAE, draw traversals, evaluate disentanglement "
        "and compare primitive vs latent PPO; then learn skills from play data, roll out their prior and "
        "compare PPO in skill space with primitive PPO on new goals, all into one folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=DemoConfig.out, metavar="DIR",
                        help="output folder (default: %(default)s)")  # fmt: skip
    parser.add_argument("--episodes", type=positive_int, default=DemoConfig.episodes, metavar="N",
                        help="expert episodes to collect (default: %(default)s)")  # fmt: skip
    parser.add_argument("--noise", type=float, default=DemoConfig.noise, metavar="STD",
                        help="expert action noise std, action units (default: %(default)s)")  # fmt: skip
    parser.add_argument("--epochs", type=positive_int, default=None, metavar="E",
                        help="TCVLAE epochs (default: absaction train's default)")  # fmt: skip
    parser.add_argument("--rl-env", default=DemoConfig.rl_env, metavar="ID",
                        help="task of the RL comparison (default: %(default)s)")  # fmt: skip
    parser.add_argument("--rl-steps", type=non_negative_int, default=DemoConfig.rl_steps, metavar="N",
                        help="primitive steps per RL agent, 0 skips RL (default: %(default)s)")  # fmt: skip
    skills = parser.add_argument_group("skills stage")
    skills.add_argument("--skills", action=argparse.BooleanOptionalAction, default=DemoConfig.skills,
                        help="run the skills stage: play data, skill model, prior rollouts, skill PPO vs "
                             "primitive PPO on new goals (default: on)")  # fmt: skip
    skills.add_argument("--skill-episodes", type=positive_int, default=DemoConfig.skill_episodes, metavar="N",
                        help="play episodes to collect (default: %(default)s)")  # fmt: skip
    skills.add_argument("--skill-horizon", type=positive_int, default=DemoConfig.skill_horizon, metavar="H",
                        help="steps per skill (default: %(default)s)")  # fmt: skip
    skills.add_argument("--skill-z-dim", type=positive_int, default=DemoConfig.skill_z_dim, metavar="D",
                        help="size of the skill latent (default: %(default)s)")  # fmt: skip
    skills.add_argument("--skill-epochs", type=positive_int, default=DemoConfig.skill_epochs, metavar="E",
                        help="skill-model epochs (default: %(default)s)")  # fmt: skip
    skills.add_argument("--skill-env", default=DemoConfig.skill_env, metavar="ID",
                        help="task of the skill comparison (default: %(default)s)")  # fmt: skip
    skills.add_argument("--skill-steps", type=non_negative_int, default=DemoConfig.skill_steps, metavar="N",
                        help="primitive steps per agent of the skill comparison, 0 skips it "
                             "(default: %(default)s)")  # fmt: skip
    parser.add_argument("--seed", type=non_negative_int, default=0, metavar="S", help="seed (default: 0)")
    parser.add_argument("--threads", type=non_negative_int, default=DemoConfig.threads, metavar="N",
                        help="torch threads of the training stages, 0 = all cores "
                             "(default: %(default)s)")  # fmt: skip
    add_force(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = DemoConfig(
        out=args.out, episodes=args.episodes, noise=args.noise, epochs=args.epochs, rl_env=args.rl_env,
        rl_steps=args.rl_steps, skills=args.skills, skill_episodes=args.skill_episodes,
        skill_horizon=args.skill_horizon, skill_z_dim=args.skill_z_dim, skill_epochs=args.skill_epochs,
        skill_env=args.skill_env, skill_steps=args.skill_steps, seed=args.seed, threads=args.threads,
    )  # fmt: skip
    run_demo(config, force=args.force)
    return 0


def run_demo(config: DemoConfig, force: bool = False) -> Path:
    """Run every stage into ``config.out``; returns the folder. Raises AbsactionError on failure."""
    from rich.console import Console

    console = Console(stderr=True)
    check_tasks(config)  # a task the demo's agents cannot act in: refused before any work
    try:
        with staged_dir(config.out, force, "demo folder", command="demo") as out:
            stages = _stages(config, out)
            for number, (name, stage) in enumerate(stages, start=1):
                console.rule(f"[bold]demo {number}/{len(stages)}: {name}")
                start = time.perf_counter()
                stage()
                config.timings[name] = round(time.perf_counter() - start, 2)
            record = {k: str(v) if isinstance(v, Path) else v for k, v in vars(config).items()}
            # "out" is the folder that holds demo.json: "." keeps the record free of this machine's paths
            atomic_write_json(out / "demo.json", {**record, "out": "."})
            atomic_write_text(out / "summary.md", _summary(config, out))
    except StageFailed as err:
        # staged_dir has removed the partial folder and put back the earlier demo's, if --force replaced one
        if config.out.exists():
            kept = f"{config.out} holds the earlier demo again: rerun with --force"
        else:
            kept = "nothing was kept: rerun"
        raise AbsactionError(err.problem, f"see the message above; {kept} once it is fixed") from None
    console.rule("[bold green]demo finished")
    console.print(f"outputs in [bold]{config.out}[/]; read {config.out / 'summary.md'}")
    return config.out


def _stages(config: DemoConfig, out: Path) -> list[tuple[str, Callable[[], None]]]:
    seed = str(config.seed)
    data, model = out / "dataset", out / "model"
    train_args = ["train", "--data", str(data), "--model", "tcvlae", "--seed", seed, "--out", str(model),
                  "--threads", str(config.threads)]  # fmt: skip
    if config.epochs is not None:
        train_args += ["--epochs", str(config.epochs)]
    stages: list[tuple[str, Callable[[], None]]] = [
        ("collect", lambda: _cli(["collect", "--env", DEMO_ENV, "--expert", "scripted",
                                  "--episodes", str(config.episodes), "--noise", str(config.noise),
                                  "--seed", seed, "--out", str(data)])),
        ("plot", lambda: _cli(["plot", "--data", str(data), "--color-by", "target",
                               "--out", str(out / "dataset.png")])),
        ("train", lambda: _cli(train_args)),
        ("traverse", lambda: _cli(["traverse", "--model", str(model), "--data", str(data), "--all",
                                   "--out", str(out / "traversal.png")])),
        ("evaluate", lambda: _cli(["evaluate", "--model", str(model), "--data", str(data),
                                   "--out", str(out / "evaluation")])),
    ]  # fmt: skip
    if config.rl_steps > 0:
        stages.append(("rl", lambda: _rl_comparison(config, out, model)))
    if config.skills:
        stages += _skill_stages(config, out / "skills", out / "skills_comparison.png")
    return stages


def _skill_stages(config: DemoConfig, skills: Path, png: Path) -> list[tuple[str, Callable[[], None]]]:
    """Play data -> skill model -> its evaluation (prior rollouts) -> skill vs primitive PPO."""
    seed = str(config.seed)
    play, model = skills / "play", skills / "model"
    train = ["train", "--model", "skill", "--data", str(play), "--horizon", str(config.skill_horizon),
             "--z-dim", str(config.skill_z_dim), "--epochs", str(config.skill_epochs), "--seed", seed,
             "--threads", str(config.threads), "--out", str(model)]  # fmt: skip
    stages: list[tuple[str, Callable[[], None]]] = [
        ("play data", lambda: _cli(["collect", "--env", PLAY_ENV, "--episodes", str(config.skill_episodes),
                                    "--seed", seed, "--out", str(play)])),
        ("skill model", lambda: _cli(train)),
        ("prior rollouts", lambda: _cli(["evaluate", "--model", str(model), "--seed", seed,
                                         "--out", str(skills / "evaluation")])),
    ]  # fmt: skip
    if config.skill_steps > 0:
        stages.append(("skill rl", lambda: _skill_comparison(config, skills / "rl", model, png)))
    return stages


class StageFailed(AbsactionError):
    """A stage's sub-command failed and printed why; :func:`run_demo` says what is left on disk."""


def _cli(argv: list[str]) -> None:
    status = main(argv)
    if status != 0:
        raise StageFailed(f"the demo's `absaction {argv[0]}` stage failed (exit {status})")


def check_tasks(config: DemoConfig) -> None:
    """Refuse, in one line and before any stage runs, a comparison task the demo's agents cannot act in:
    the latent agent decodes the actions of the TCVLAE trained on :data:`DEMO_ENV`'s experts, the skill
    agent those of the skill model trained on :data:`PLAY_ENV`'s play data, observing its columns. An
    unknown id, or an env without a continuous Box action, is refused as ``absaction rl`` refuses it."""
    # lazy: the bench's checks import torch and SB3, which `absaction --help` must not wait for
    from absaction.bench.inputs import LATENT_ASPECTS, SKILL_ASPECTS, env_spaces, misfit

    comparisons = []
    if config.rl_steps > 0:
        resolve_env_id(config.rl_env)  # an unknown id or unimportable module, in its own words
        comparisons.append(("rl", config.rl_env, DemoConfig.rl_env, "TCVLAE", DEMO_ENV, LATENT_ASPECTS))
    if config.skills and config.skill_steps > 0:
        resolve_env_id(config.skill_env)
        comparisons.append(
            ("skill", config.skill_env, DemoConfig.skill_env, "skill model", PLAY_ENV, SKILL_ASPECTS)
        )
    _check_budgets(config)
    for stage, task, default, model, source_env, aspects in comparisons:
        task_spaces = env_spaces(task, task)
        source = env_spaces(source_env, source_env)
        if misfit(source, task_spaces, aspects):
            bounds = len(source.low) == len(task_spaces.low)  # same sizes: the bounds are what differs
            raise AbsactionError(
                f"--{stage}-env {task} ({task_spaces.describe(bounds)}) does not fit the demo's {model}, "
                f"which learns from {source_env}, with {source.describe(bounds)}",
                f"choose a task of that world (default: {default}), or pass --{stage}-steps 0 to skip the "
                "comparison",
            )


DEMO_CHUNK = 32
"""Primitive steps of one latent decision: the TCVLAE's window on the demo's 32-step Reach2D episodes."""


def _check_budgets(config: DemoConfig) -> None:
    """Refuse a comparison budget that ends before one of its PPO agents' first update (``absaction rl``
    would refuse it after the data and models were built)."""
    from absaction.agents.hyperparams import first_update_steps, load_hyperparams  # lazy: imports SB3

    budgets = []
    if config.rl_steps > 0:
        budgets.append(("rl", config.rl_steps, config.rl_env, (("primitive", 1), ("latent", DEMO_CHUNK))))
    if config.skills and config.skill_steps > 0:
        kinds = (("primitive", 1), ("skill", config.skill_horizon))
        budgets.append(("skill", config.skill_steps, config.skill_env, kinds))
    for stage, steps, env_id, kinds in budgets:
        needed = max(
            first_update_steps("ppo", load_hyperparams(env_id, "ppo", kind), k) or 0 for kind, k in kinds
        )
        if steps < needed:
            raise AbsactionError(
                f"--{stage}-steps {steps} ends before the first PPO update of the comparison's agents on "
                f"{env_id}, which comes after {needed} primitive steps",
                f"pass --{stage}-steps {needed} or more, or 0 to skip the comparison",
            )


def _rl_comparison(config: DemoConfig, out: Path, model: Path) -> None:
    """Primitive PPO vs latent PPO (abstract ladder TCVLAE latents) for the same primitive budget."""
    common = ["--env", config.rl_env, "--algo", "ppo", "--steps", str(config.rl_steps),
              "--seed", str(config.seed), "--threads", str(config.threads)]  # fmt: skip
    evaluate_every = str(max(config.rl_steps // 6, 1))
    common += ["--eval-every", evaluate_every, "--eval-episodes", "20"]
    _cli(["rl", *common, "--actions", "primitive", "--out", str(out / "rl" / "primitive")])
    _cli(["rl", *common, "--actions", "latent", "--model", str(model), "--out", str(out / "rl" / "latent")])
    _plot_rl(out / "rl", out / "rl_comparison.png", config.rl_env, LATENT_KINDS, LATENT_TITLE)


def _skill_comparison(config: DemoConfig, rl_dir: Path, model: Path, png: Path) -> None:
    """Primitive PPO vs PPO choosing skills through the prior (``--prior reparam``), same primitive budget."""
    common = ["--env", config.skill_env, "--algo", "ppo", "--steps", str(config.skill_steps),
              "--seed", str(config.seed), "--threads", str(config.threads),
              "--eval-every", str(max(config.skill_steps // 6, 1)), "--eval-episodes", "20"]  # fmt: skip
    _cli(["rl", *common, "--actions", "primitive", "--out", str(rl_dir / "primitive")])
    _cli(["rl", *common, "--actions", "skill", "--model", str(model), "--prior", "reparam",
          "--out", str(rl_dir / "skill")])  # fmt: skip
    _plot_rl(rl_dir, png, config.skill_env, SKILL_KINDS, SKILL_TITLE)


def _read_curve(run_dir: Path) -> dict[str, list[float]]:
    with open(run_dir / "eval.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keys = ("primitive_steps", "success_rate", "mean_return", "mean_length")
    return {key: [float(r[key]) for r in rows] for key in keys}


def _rl_figure(
    rl_dir: Path, env_id: str, kinds: tuple[Kind, ...] = LATENT_KINDS, title: str = LATENT_TITLE
) -> Any:
    """Success rate and a second curve of the runs ``rl_dir/<kind>``, with the success of uniformly random
    agent actions (random z, or random noise through the skill prior) as dashed baselines.

    Args:
        rl_dir: folder of the runs, one sub-folder per kind.
        env_id: the task, for the title.
        kinds: (sub-folder, colour, name of the random baseline) per run.
        title: the figure title; ``{env}`` is replaced by ``env_id``.

    The second panel is the mean return, or, where every return equals the success rate (a sparse 0/1
    reward such as Reach2DObstacle-v0's: the panel would repeat the first), the mean episode length.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from absaction.agents.persistence import read_agent_json

    fig = Figure(figsize=(9, 3.6))
    FigureCanvasAgg(fig)
    ax_success, ax_other = fig.subplots(1, 2)
    curves = {kind: _read_curve(rl_dir / kind) for kind, _, _ in kinds}
    sparse = all(c["mean_return"] == c["success_rate"] for c in curves.values())
    other, other_label = (
        ("mean_length", "mean episode length (steps)") if sparse else ("mean_return", "mean return")
    )
    for kind, colour, random_name in kinds:
        curve = curves[kind]
        ax_success.plot(curve["primitive_steps"], curve["success_rate"], "o-", color=colour, label=kind)
        ax_other.plot(curve["primitive_steps"], curve[other], "o-", color=colour, label=kind)
        random_success = (read_agent_json(rl_dir / kind).get("random_actions") or {}).get("success_rate")
        if random_success is not None:
            ax_success.axhline(
                random_success, color=colour, linestyle="--", linewidth=1, label=f"{kind}: {random_name}"
            )
    ax_success.set(xlabel="primitive env steps", ylabel="success rate", ylim=(-0.05, 1.05))
    ax_other.set(xlabel="primitive env steps", ylabel=other_label)
    ax_success.legend(fontsize="small")
    fig.suptitle(title.format(env=env_id))
    fig.tight_layout()
    return fig


def _plot_rl(
    rl_dir: Path, png: Path, env_id: str, kinds: tuple[Kind, ...] = LATENT_KINDS, title: str = LATENT_TITLE
) -> None:
    buffer = io.BytesIO()
    _rl_figure(rl_dir, env_id, kinds, title).savefig(buffer, format="png", dpi=120)
    atomic_write_bytes(png, buffer.getvalue())


def _summary(config: DemoConfig, out: Path) -> str:
    collect = json.loads((out / "dataset" / "collect.json").read_text())
    report = json.loads((out / "evaluation" / "report.json").read_text())
    summary = collect.get("summary", collect)
    lines = [
        "# absaction demo",
        "",
        f"Seed {config.seed}. Stage times (s): "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in config.timings.items())
        + f"; total {sum(config.timings.values()):.1f}.",
        "",
        "## 1. Expert data",
        f"{summary.get('episodes')} scripted episodes on absaction/Reach2D-v0 "
        f"(action noise std {config.noise}), {summary.get('steps')} steps, "
        f"success rate {_pct(summary.get('success_rate'))}. Paths: `dataset.png`.",
        "",
        "## 2. TCVLAE and what its latents hold",
        "Traversals: `traversal.png`; full report: `evaluation/report.md`.",
        "",
        _factor_table(report),
    ]
    if config.rl_steps > 0:
        table = _rl_table(out / "rl", config.rl_steps, LATENT_KINDS)
        lines += ["", "## 3. Primitive vs latent PPO", table, "",
                  "Learning curves: `rl_comparison.png`. One seed and a short budget: a demonstration, not "
                  "a benchmark (see `absaction bench`)."]  # fmt: skip
    if config.skills:
        lines += ["", *_skills_summary(config, out / "skills")]
    return "\n".join(lines) + "\n"


def _factor_table(report: dict[str, Any]) -> str:
    per_factor = (report.get("metrics") or {}).get("per_factor") or []
    if not per_factor:
        return "(no factor metrics in the report)"
    rows = ["| factor | active-unit MIG | carried by latent | ladder |", "| --- | --- | --- | --- |"]
    for entry in per_factor:
        latent, ladder = entry.get("latent_active") or "-", entry.get("ladder_active") or "-"
        rows.append(f"| {entry['factor']} | {_num(entry.get('mig_active'))} | {latent} | {ladder} |")
    return "\n".join(rows)


def _skills_summary(config: DemoConfig, skills: Path) -> list[str]:
    """Section 4 of summary.md: the play data, the skill model, its prior rollouts and the comparison."""
    play = json.loads((skills / "play" / "collect.json").read_text())
    play = play.get("summary", play)
    report = json.loads((skills / "evaluation" / "report.json").read_text())
    rollouts = report.get("prior_rollouts") or {}
    rmse = (report.get("reconstruction") or {}).get("rmse")
    lines = [
        "## 4. Skills from play data",
        f"{play.get('episodes')} play episodes on {PLAY_ENV} ({play.get('steps')} steps, random starts and "
        f"goals); a closed-loop skill model, H = {config.skill_horizon}, z of size {config.skill_z_dim}, "
        f"{config.skill_epochs} epochs (held-out action RMSE {_num3(rmse)}, prior NLL "
        f"{_num(report.get('prior_nll'))}). Prior rollouts (z drawn from p(z | s) every H steps, no "
        f"learning, {rollouts.get('episodes')} episodes on {rollouts.get('env_id')}, whose goals the "
        f"prior does not see): success {_pct(rollouts.get('success_rate'))}, end points in "
        f"{(rollouts.get('coverage') or {}).get('cells')} distinct cells of 0.1 units. Paths: "
        "`skills/evaluation/prior_rollouts.png`.",
    ]
    if config.skill_steps > 0:
        table = _rl_table(skills / "rl", config.skill_steps, SKILL_KINDS)
        lines += ["", f"PPO on {config.skill_env} (goals no expert demonstration reached):", "", table, "",
                  "Learning curves: `skills_comparison.png`. One seed, short budget, as above."]  # fmt: skip
    return lines


def _rl_table(rl_dir: Path, steps: int, kinds: tuple[Kind, ...]) -> str:
    from absaction.agents.persistence import read_agent_json

    rows = ["| agent | success before learning | success of random actions | success after "
            f"{steps} steps | final mean return |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for kind, _, _ in kinds:
        curve = _read_curve(rl_dir / kind)
        random_actions = read_agent_json(rl_dir / kind).get("random_actions") or {}
        rows.append(f"| PPO, {kind} actions | {_pct(curve['success_rate'][0])} | "
                    f"{_pct(random_actions.get('success_rate'))} | "
                    f"{_pct(curve['success_rate'][-1])} | {curve['mean_return'][-1]:.2f} |")  # fmt: skip
    return "\n".join(rows)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.0f}%"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"


def _num3(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"
