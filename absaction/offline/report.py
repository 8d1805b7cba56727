"""What an offline run writes for a reader: eval.csv, the figures, and report.md (the run, its final
success per task beside OGBench's published number, and the agent's settings)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from absaction.files import atomic_write_text
from absaction.train.metrics import write_metrics_csv

EVAL_FILE = "eval.csv"
REPORT_FILE = "report.md"
LEARNING_CURVE_FILE = "learning_curve.png"
ROLLOUTS_FILE = "rollouts.png"

PUBLISHED: dict[str, dict[str, tuple[float, float]]] = {
    "pointmaze-medium-navigate-v0": {"gcbc": (0.09, 0.06), "gcivl": (0.63, 0.06), "gciql": (0.53, 0.08)},
    "pointmaze-large-navigate-v0": {"gcbc": (0.29, 0.06), "gcivl": (0.45, 0.05), "gciql": (0.34, 0.03)},
    "pointmaze-giant-navigate-v0": {"gcbc": (0.01, 0.02), "gcivl": (0.00, 0.00), "gciql": (0.00, 0.00)},
    "pointmaze-medium-stitch-v0": {"gcbc": (0.23, 0.18), "gcivl": (0.70, 0.14), "gciql": (0.21, 0.09)},
    "pointmaze-large-stitch-v0": {"gcbc": (0.07, 0.05), "gcivl": (0.12, 0.06), "gciql": (0.31, 0.02)},
    "pointmaze-giant-stitch-v0": {"gcbc": (0.00, 0.00), "gcivl": (0.00, 0.00), "gciql": (0.00, 0.00)},
}
"""OGBench's published overall success (mean, std over 8 seeds; Park et al. 2024, the state-based
locomotion table, as later papers quote it) after 1M steps at the paper's sizes, on OGBench's own
datasets. The teleport maze is left out until its numbers are checked against the paper."""


def published(dataset: str, agent: str) -> tuple[float, float] | None:
    """OGBench's published ``(mean, std)`` success of ``agent`` on ``dataset``, or None."""
    return PUBLISHED.get(dataset.removesuffix("-val"), {}).get(agent)


def eval_columns(task_names: Sequence[str]) -> list[str]:
    return ["step", *task_names, "overall", "seconds"]


def write_eval_csv(run_dir: Path, task_names: Sequence[str], rows: list[dict[str, Any]]) -> None:
    """``eval.csv``: one row per evaluation (step, each task's success, the overall success, seconds)."""
    write_metrics_csv(run_dir / EVAL_FILE, eval_columns(task_names), rows)


def write_report(run_dir: Path, record: dict[str, Any], evaluations: list[dict[str, Any]]) -> None:
    """``report.md`` from the run's ``config.json`` record and its evaluation rows."""
    run, data, agent = record["train"], record["data"], record["agent"]
    lines = [
        f"# {agent} on {data['name']}",
        "",
        f"- env: `{record['env_id']}` (OGBench's tasks, {run['eval_episodes']} episodes each, deterministic "
        "actions)",
        f"- data: {data['transitions']:,} transitions in {data['trajectories']:,} trajectories "
        f"(sha256 {data['sha256'][:12]})",
        f"- preset `{run['preset']}`: {record['steps_completed']:,} of {run['steps']:,} gradient steps, "
        f"batch {record['agent_config']['batch_size']}, seed {run['seed']}, device {run['device']}, "
        f"{run['threads']} thread(s)",
        f"- training time {record.get('train_seconds', 0.0):.0f} s"
        + ("" if record.get("complete") else " (**unfinished**: resume with `absaction offline --resume`)"),
        "",
    ]
    if evaluations:
        last = evaluations[-1]
        tasks = [k for k in last if k not in ("step", "overall", "seconds")]
        lines += [
            f"## Success at step {last['step']:,}",
            "",
            "| " + " | ".join([*tasks, "overall"]) + " |",
            "|" + " --- |" * (len(tasks) + 1),
            "| " + " | ".join(f"{last[t]:.2f}" for t in [*tasks, "overall"]) + " |",
            "",
        ]
        reference = published(data["name"], agent)
        if reference is not None:
            lines += [
                f"OGBench's published overall success of {agent} on {data['name']}: {reference[0]:.2f} +- "
                f"{reference[1]:.2f} (8 seeds, 1M steps at batch 1024 with 512x3 MLPs, OGBench's own data).",
                "",
            ]
        lines += [f"![learning curve]({LEARNING_CURVE_FILE})", "", f"![rollouts]({ROLLOUTS_FILE})", ""]
    lines += ["## Agent settings", "", "| setting | value |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in record["agent_config"].items()]
    lines += [
        "",
        "Files: config.json, model.safetensors, resume.safetensors, metrics.csv, eval.csv, figures.",
        "",
    ]
    atomic_write_text(run_dir / REPORT_FILE, "\n".join(lines))
