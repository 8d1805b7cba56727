"""A skill model's evaluation report: ``report.json`` and ``report.md`` (the figures beside them are drawn
by :mod:`absaction.analysis.skills`, which measures what the report shows)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from absaction.analysis.report import REPORT_JSON, REPORT_MD, format_value, plain_json
from absaction.files import atomic_write_json, atomic_write_text

PRIOR_ROLLOUTS_PNG = "prior_rollouts.png"
TRAVERSAL_PNG = "traversal.png"


def render_skill_markdown(report: dict[str, Any]) -> str:
    """A readable ``report.md`` of a skill model's `plain_json`-ed evaluation
    (:func:`absaction.analysis.skills.evaluate_skill_run`)."""
    model, data = report.get("model", {}), report.get("data", {})
    dims = model.get("ladder_dims") or []
    latent = f"{sum(dims)}" + (f" in ladders {dims}" if len(dims) > 1 else "")
    source = "the run's held-out episodes" if data.get("held_out") else "every episode of the data"
    lines = [
        "# absaction evaluate: skill model",
        "",
        f"- model: `{model.get('run_dir')}` (skills of H = {model.get('horizon')} steps, latent size "
        f"{latent}, {model.get('encoder')} encoder, {model.get('decoder')}-loop decoder, "
        f"{model.get('frame')} frame, env {model.get('env_id')})",
        f"- skill observation: {', '.join(map(str, model.get('names') or [])) or 'all columns'}",
        f"- data: `{data.get('path')}`: {data.get('windows')} windows of {data.get('episodes')} episodes "
        f"({source})",
        "",
    ]
    rec = report.get("reconstruction")
    if rec:
        lines += [
            "## Reconstruction (posterior means decoded on the recorded states)",
            "",
            "| RMSE (action units) | MSE | largest error | prior NLL (nats / window) |",
            "| --- | --- | --- | --- |",
            f"| {format_value(rec['rmse'], 4)} | {format_value(rec['mse'], 5)} "
            f"| {format_value(rec['max_abs'], 4)} "
            f"| {format_value(report.get('prior_nll'), 2)} |",
            "",
            "The prior NLL is how well p(z | s) at a window's first state predicts the skill the posterior "
            "gives it: lower means an agent sampling from the prior starts from the data's skills.",
            "",
        ]
    kls = [kl for ladder in report.get("kl_per_dim") or [] for kl in ladder]
    threshold = report.get("active_threshold", 0.0)
    if kls:
        lines += [
            f"## KL per latent (nats, mean over the training windows; active above {threshold:g} nats)",
            "",
            "| latent | KL | active |",
            "| --- | --- | --- |",
            *[
                f"| {name} | {format_value(kl)} | {'yes' if kl > threshold else ''} |"
                for name, kl in zip(report.get("latents") or [], kls, strict=False)
            ],
            "",
            f"Active latents: {sum(kl > threshold for kl in kls)} of {len(kls)}; "
            f"total KL {format_value(sum(kls))}",
            "",
        ]
    rollouts = report.get("prior_rollouts")
    if rollouts:
        returns, lengths = rollouts.get("returns") or [], rollouts.get("lengths") or []
        spread = ", ".join(format_value(v) for v in (rollouts.get("coverage") or {}).get("std") or [])
        lines += [
            f"## Prior rollouts (z ~ p(z | s) every {model.get('horizon')} steps, no learning)",
            "",
            "| episodes | success rate | mean return | mean length (steps) | std of the end points "
            "| occupied 0.1 cells |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| {rollouts.get('episodes')} | {format_value(rollouts.get('success_rate'), 2)} "
            f"| {format_value(float(np.mean(returns)) if returns else None, 2)} "
            f"| {format_value(float(np.mean(lengths)) if lengths else None, 1)} | {spread} "
            f"| {(rollouts.get('coverage') or {}).get('cells')} |",
            "",
        ]
    files = report.get("files") or {}
    if "prior_rollouts" in files:
        lines += [f"![prior rollouts]({files['prior_rollouts']})", ""]
    if "traversal" in files:
        lines += [
            "## Traversals",
            "",
            f"![skill traversals]({files['traversal']})",
            "",
            "Each panel sweeps one latent over -2..2 prior standard deviations from the prior mean at the "
            "first rollout's start, the others held at the prior mean, and draws the H closed-loop steps "
            "the decoder takes: a latent that changes the path is one an agent can steer with.",
            "",
        ]
    if report.get("notes"):
        lines += ["## Notes", "", *[f"- {note}" for note in report["notes"]], ""]
    return "\n".join(lines)


def write_skill_report(report: dict[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write a skill model's ``report.json`` and ``report.md`` into ``out_dir`` (an existing folder, usually
    the temporary one of `absaction.files.atomic_dir`)."""
    out = Path(out_dir)
    plain = plain_json(report)
    atomic_write_json(out / REPORT_JSON, plain)
    atomic_write_text(out / REPORT_MD, render_skill_markdown(plain))
    return [out / REPORT_JSON, out / REPORT_MD]
