"""``absaction demo``: the whole pipeline on built-in defaults, into one folder.

collect (scripted Reach2D experts) -> plot the dataset -> train the TCVLAE -> latent traversals ->
evaluate (MIG/SAP/DCI) -> a short primitive-vs-latent PPO comparison on the obstacle task -> summary.md.
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

EPILOG = """\
outputs (in OUT):
  dataset/            Minari dataset of scripted Reach2D expert rollouts (with ground-truth factors)
  dataset.png         the dataset's paths (the paper's Fig. 3)
  model/              the trained TCVLAE run (model.safetensors, config.json, metrics.csv)
  traversal.png       latent traversals of every active latent (the paper's Fig. 4)
  evaluation/         report.md / report.json / mi_heatmap.png (MIG, SAP, DCI, active units)
  rl/                 primitive and latent PPO runs on absaction/Reach2DObstacle-v0 + rl_comparison.png
  summary.md          what happened, with the key numbers

examples:
  absaction demo                       # defaults, about 3-5 minutes on 2 CPU cores
  absaction demo --rl-steps 0          # skip the RL comparison
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
        "and compare primitive vs latent PPO, all into one folder.",
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
    parser.add_argument("--seed", type=non_negative_int, default=0, metavar="S", help="seed (default: 0)")
    parser.add_argument("--threads", type=non_negative_int, default=DemoConfig.threads, metavar="N",
                        help="torch threads of the training stages, 0 = all cores "
                             "(default: %(default)s)")  # fmt: skip
    add_force(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = DemoConfig(
        out=args.out, episodes=args.episodes, noise=args.noise, epochs=args.epochs, rl_env=args.rl_env,
        rl_steps=args.rl_steps, seed=args.seed, threads=args.threads,
    )  # fmt: skip
    run_demo(config, force=args.force)
    return 0


def run_demo(config: DemoConfig, force: bool = False) -> Path:
    """Run every stage into ``config.out``; returns the folder. Raises AbsactionError on failure."""
    from rich.console import Console

    console = Console(stderr=True)
    if config.rl_steps > 0:
        resolve_env_id(config.rl_env)  # an unknown id or unimportable module: refused before any work
    with staged_dir(config.out, force, "demo folder", command="demo") as out:
        stages = _stages(config, out)
        for number, (name, stage) in enumerate(stages, start=1):
            console.rule(f"[bold]demo {number}/{len(stages)}: {name}")
            start = time.perf_counter()
            stage()
            config.timings[name] = round(time.perf_counter() - start, 2)
        # "out" is the folder that holds demo.json: "." keeps the record free of this machine's paths
        atomic_write_json(out / "demo.json", {**{k: str(v) if isinstance(v, Path) else v
                                                 for k, v in vars(config).items()}, "out": "."})  # fmt: skip
        atomic_write_text(out / "summary.md", _summary(config, out))
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
        ("collect", lambda: _cli(["collect", "--env", "absaction/Reach2D-v0", "--expert", "scripted",
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
    return stages


def _cli(argv: list[str]) -> None:

    status = main(argv)
    if status != 0:
        raise AbsactionError(f"the demo's `absaction {argv[0]}` stage failed (exit {status})",
                             "see the message above; rerun with --force once it is fixed")  # fmt: skip


def _rl_comparison(config: DemoConfig, out: Path, model: Path) -> None:
    """Primitive PPO vs latent PPO (abstract ladder TCVLAE latents) for the same primitive budget."""
    common = ["--env", config.rl_env, "--algo", "ppo", "--steps", str(config.rl_steps),
              "--seed", str(config.seed), "--threads", str(config.threads)]  # fmt: skip
    evaluate_every = str(max(config.rl_steps // 6, 1))
    common += ["--eval-every", evaluate_every, "--eval-episodes", "20"]
    _cli(["rl", *common, "--actions", "primitive", "--out", str(out / "rl" / "primitive")])
    _cli(["rl", *common, "--actions", "latent", "--model", str(model), "--out", str(out / "rl" / "latent")])
    _plot_rl(out / "rl", out / "rl_comparison.png", config.rl_env)


def _read_curve(run_dir: Path) -> dict[str, list[float]]:
    with open(run_dir / "eval.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keys = ("primitive_steps", "success_rate", "mean_return", "mean_length")
    return {key: [float(r[key]) for r in rows] for key in keys}


def _rl_figure(rl_dir: Path, env_id: str) -> Any:
    """Success rate and a second curve of the primitive and latent runs in ``rl_dir``, with the success of
    uniformly random actions (random z for the latent agent) as dashed baselines.

    The second panel is the mean return, or, where every return equals the success rate (a sparse 0/1
    reward such as Reach2DObstacle-v0's: the panel would repeat the first), the mean episode length.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from absaction.agents.persistence import read_agent_json

    fig = Figure(figsize=(9, 3.6))
    FigureCanvasAgg(fig)
    ax_success, ax_other = fig.subplots(1, 2)
    kinds = (("primitive", "tab:gray"), ("latent", "tab:blue"))
    curves = {kind: _read_curve(rl_dir / kind) for kind, _ in kinds}
    sparse = all(c["mean_return"] == c["success_rate"] for c in curves.values())
    other, other_label = (
        ("mean_length", "mean episode length (steps)") if sparse else ("mean_return", "mean return")
    )
    for kind, colour in kinds:
        curve = curves[kind]
        ax_success.plot(curve["primitive_steps"], curve["success_rate"], "o-", color=colour, label=kind)
        ax_other.plot(curve["primitive_steps"], curve[other], "o-", color=colour, label=kind)
        random_success = (read_agent_json(rl_dir / kind).get("random_actions") or {}).get("success_rate")
        if random_success is not None:
            name = "random z" if kind == "latent" else "random actions"
            ax_success.axhline(
                random_success, color=colour, linestyle="--", linewidth=1, label=f"{kind}: {name}"
            )
    ax_success.set(xlabel="primitive env steps", ylabel="success rate", ylim=(-0.05, 1.05))
    ax_other.set(xlabel="primitive env steps", ylabel=other_label)
    ax_success.legend(fontsize="small")
    fig.suptitle(f"PPO on {env_id}: primitive actions vs TCVLAE latent actions")
    fig.tight_layout()
    return fig


def _plot_rl(rl_dir: Path, png: Path, env_id: str) -> None:
    buffer = io.BytesIO()
    _rl_figure(rl_dir, env_id).savefig(buffer, format="png", dpi=120)
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
        lines += ["", "## 3. Primitive vs latent PPO", _rl_table(out / "rl", config), "",
                  "Learning curves: `rl_comparison.png`. One seed and a short budget: a demonstration, not "
                  "a benchmark (see `absaction bench rl`)."]  # fmt: skip
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


def _rl_table(rl_dir: Path, config: DemoConfig) -> str:
    from absaction.agents.persistence import read_agent_json

    rows = ["| agent | success before learning | success of random actions | success after "
            f"{config.rl_steps} steps | final mean return |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for kind in ("primitive", "latent"):
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
