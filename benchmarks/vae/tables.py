"""The VAE benchmark's tables: one per dataset (cost and fit, then disentanglement), shared by
``summary.md`` and the console, with the speed check, the claims and the capacity findings."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from absaction.bench.stats import mean_interval
from benchmarks.vae.catalogue import DATASETS, MIG_TARGET, SPEED_TARGET_S, VARIANTS
from benchmarks.vae.cells import as_float, fmt, fmt_ci


def _ladders(stats: dict[str, Any], factor: str) -> str:
    info = stats["factors"].get(factor)
    if not info:
        return "n/a"
    return ", ".join(f"{k} x{v}" for k, v in info["ladders"].items())


def table_rows(summary: dict[str, dict[str, Any]], dataset: str) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the per-model table of ``dataset`` (shared by the console and Markdown)."""
    groups = [(k.split("/", 1)[1], v) for k, v in summary.items() if k.startswith(f"{dataset}/")]
    if not groups:
        return [], []
    labs = list(DATASETS[dataset].labellings)
    factors: dict[str, None] = {}
    for _, stats in groups:
        factors.update(dict.fromkeys(stats["factors"]))
    header = [
        "model",
        "runs",
        "fit wall (s)",
        "train seq/s",
        "recon MSE",
        "KL L1/L2/L3 (nats)",
        "active L1/L2/L3",
    ]
    header += [f"MIG active ({lab})" for lab in labs] + [f"SAP ({lab})" for lab in labs[:1]]
    header += [f"DCI D ({lab})" for lab in labs[:1]]
    header += [f"{f}: MIG active (ladder)" for f in factors]
    if DATASETS[dataset].reaching:
        header.append("disentangled")
    body = []
    for model, stats in groups:
        m = stats["metrics"]

        def get(col: str, stats_m: dict[str, Any] = m) -> dict[str, Any]:
            return stats_m.get(col, mean_interval([]))

        ladders = [i for i in (1, 2, 3) if f"kl_l{i}" in m]
        kl = "/".join(fmt(get(f"kl_l{i}")["mean"], 2) for i in ladders)
        active = "/".join(fmt(get(f"active_l{i}")["mean"], 2) for i in ladders)
        cells = [model, str(stats["n_runs"]), fmt_ci(get("train_wall_s")), fmt_ci(get("seq_per_s")),
                 fmt_ci(get("recon_mse")), kl, active]  # fmt: skip
        cells += [fmt_ci(get(f"mig_active_avg_{lab}")) for lab in labs]
        cells += [fmt_ci(get(f"sap_avg_{lab}")) for lab in labs[:1]]
        cells += [fmt_ci(get(f"dci_d_avg_{lab}")) for lab in labs[:1]]
        for f in factors:
            info = stats["factors"].get(f)
            if info is None:
                cells.append("n/a")
                continue
            sampled = fmt(info["mig_sampled"]["mean"], 2)
            cells.append(f"{fmt_ci(info['mig_active'])} [s {sampled}] ({_ladders(stats, f)})")
        if DATASETS[dataset].reaching:
            d = get("disentangled")
            cells.append(f"{round(d['mean'] * d['n'])}/{d['n']}" if d["n"] else "n/a")
        body.append(cells)
    return header, body


def markdown(summary_doc: dict[str, Any]) -> str:
    """``summary.md``: per-dataset tables, the speed check, the paper's claims, the capacity findings."""
    cfg = summary_doc["config"]
    lines = [
        "# VAE benchmark",
        "",
        f"Written by `python -m benchmarks.vae` ({summary_doc['machine']['cpu_count']} CPU cores, "
        f"{cfg['threads']} torch threads per run, torch {summary_doc['machine']['torch']}). "
        f"{cfg['seeds']} seed(s) per model; numbers are the mean ± the half-width of the 95 % Student-t "
        "interval over seeds. Every model uses the library's training defaults ("
        + ", ".join(f"{k} {v}" for k, v in summary_doc["train_defaults"].items())
        + ") except for the settings in its row"
        + (f" and the overrides {cfg['overrides']}" if cfg["overrides"] else "")
        + ". MIG active = MIG among the active latents (mean KL > 0.01 nats); the ladder is that of the "
        "active latent with the most information about the factor (L1 nearest the input), with the number "
        "of seeds in which it was there; [s x] is the same MIG with every sequence coded by a posterior draw "
        "instead of its mean (a cross-check: it ignores shifts of a mean that are small next to the "
        "posterior noise).",
        "",
        "| model | setting |",
        "| --- | --- |",
        *(f"| {v.name} | {_md_cell(v.description)} |" for v in VARIANTS if v.name in cfg["models"]),
        "",
    ]
    for dataset in cfg["datasets"]:
        header, body = table_rows(summary_doc["summary"], dataset)
        if not header:
            continue
        spec = DATASETS[dataset]
        lines += [f"## {dataset} (`{spec.env_id}`, {summary_doc['data'][dataset]['episodes']} episodes)", ""]
        lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        lines.append("")
    speed = summary_doc.get("speed_check") or []
    if speed:
        lines += ["## Speed target", ""]
        lines.append(
            f"`absaction train` with the defaults on the reach2d data, wall time from process start to exit; "
            f"target: disentangled (target and bulge each in one active latent, active MIG >= {MIG_TARGET}) "
            f"in at most {SPEED_TARGET_S:g} s."
        )
        lines += [
            "",
            "| seed | wall (s) | disentangled | target MIG act (ladder) | bulge MIG act (ladder) | via |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for s in speed:
            if "error" in s:
                lines.append(f"| {s['seed']} | {s['wall_s']:.1f} | failed: {s['error']} | | | {s['via']} |")
                continue
            lab = s.get("bulge_labelling") or "bulge_out"
            lines.append(
                f"| {s['seed']} | {s['wall_s']:.1f} | {'yes' if s.get('disentangled') else 'no'} | "
                f"{fmt(as_float(s.get('mig_active_target')))} (L{s.get('ladder_target')}) | "
                f"{fmt(as_float(s.get(f'mig_active_{lab}')))} {lab} (L{s.get(f'ladder_{lab}')}) | "
                f"{s['via']} |"
            )
        agg = summary_doc["speed_summary"]
        lines += ["", f"Wall time {fmt_ci(agg['wall_s'])} s; disentangled in {agg['disentangled']}; "
                  f"target met (disentangled and <= {SPEED_TARGET_S:g} s) in {agg['met']}.", ""]  # fmt: skip
    if summary_doc.get("claims"):
        lines += ["## The paper's claims on our data", ""]
        lines += [f"- **{c['claim']}**: {c['verdict']}. {c['evidence']}." for c in summary_doc["claims"]]
        lines.append("")
    if summary_doc.get("capacity_findings"):
        lines += ["## What the capacity modes do", ""]
        lines += [f"- {f}" for f in summary_doc["capacity_findings"]]
        lines += [
            "",
            *(f"![capacity {d}]({d_png})" for d, d_png in summary_doc["figures"]["capacity"].items()),
            "",
        ]
    if summary_doc["figures"].get("traversals"):
        lines += ["## Traversals (first seed, episode 0, every active latent over [-2, 2])", ""]
        lines += [f"![{name}]({png})" for name, png in summary_doc["figures"]["traversals"].items()]
        lines.append("")
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    """A table cell: a bare ``|`` (as in ``|KL - C|``) would end the cell."""
    return text.replace("|", "\\|")


def print_tables(summary_doc: dict[str, Any]) -> None:
    """The per-dataset tables (cost and reconstruction, then disentanglement), the speed check, the
    claims and the capacity findings, on stdout."""
    console = Console(highlight=False)
    if not console.is_terminal:  # a log file: do not fold the tables to 80 columns
        console = Console(highlight=False, width=160)
    split = 7  # model, runs, wall, seq/s, MSE, KL, active | the disentanglement columns
    for dataset in summary_doc["config"]["datasets"]:
        header, body = table_rows(summary_doc["summary"], dataset)
        if not header:
            continue
        for part, columns in (
            ("cost and fit", range(split)),
            ("disentanglement", [0, *range(split, len(header))]),
        ):
            table = Table(title=f"{dataset}, {part}: mean ± 95 % interval over seeds", title_justify="left")
            for c in columns:
                table.add_column(header[c], overflow="fold")
            for cells in body:
                table.add_row(*(cells[c] for c in columns))
            console.print(table)
    for s in summary_doc.get("speed_check") or []:
        state = s.get("error") or ("disentangled" if s.get("disentangled") else "not disentangled")
        console.print(
            f"speed check seed {s['seed']}: {s['wall_s']:.1f} s, {state} ({s['via']})", markup=False
        )
    for c in summary_doc.get("claims") or []:
        console.print(f"{c['claim']}: {c['verdict'].upper()}. {c['evidence']}", markup=False)
    for f in summary_doc.get("capacity_findings") or []:
        console.print(f"- {f}", markup=False)
