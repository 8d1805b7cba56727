"""``absaction evaluate``: reconstruction, KL and disentanglement report of a trained model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from absaction.analysis.metrics import DEFAULT_BINS
from absaction.cli._args import (
    add_allow_incomplete,
    add_force,
    non_negative_int,
    positive_float,
    positive_int,
)
from absaction.envs.reach2d import env_step_size
from absaction.errors import AbsactionError
from absaction.files import atomic_dir, check_new_output
from absaction.models.activity import ACTIVE_KL_THRESHOLD
from absaction.outputs import path_in_record

EPILOG = """\
what it measures (on the posterior means of every window of the data, all episodes):
  reconstruction  MSE in the data's action units, end-point error of the path, NLL (training sigma)
  KL              per latent dimension (nats); active = mean KL above --active-threshold
  MIG             mutual information gap, disentanglement_lib estimator (--bins equal-width bins per
                  latent), over all latents AND over the active ones only: binning ignores scale, so a
                  collapsed latent whose mean barely moves can fake information under plain MIG
  SAP, DCI        see absaction.analysis.metrics for the classifiers used
Data without factors gets reconstruction and KL only.

outputs (in REPORT_DIR): report.json, report.md, mi_heatmap.png

example:
  absaction evaluate --model runs/tcvlae --data data/reach2d --out reports/tcvlae
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:

    parser = subparsers.add_parser(
        "evaluate",
        help="measure reconstruction, KL and disentanglement (MIG, SAP, DCI) of a trained model",
        description="Evaluate a trained model on a dataset and write a JSON + Markdown report and an "
        "MI heat map.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model", required=True, metavar="RUN_DIR", help="a model folder from absaction train"
    )
    parser.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="dataset to evaluate on (default: the run's training data)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="REPORT_DIR", help="output folder")
    parser.add_argument(
        "--factors", default=None, metavar="A,B",
        help="comma-separated factors to score (default: all); overall MIG/SAP/DCI average over them",
    )  # fmt: skip
    parser.add_argument(
        "--active-threshold", type=positive_float, default=ACTIVE_KL_THRESHOLD, metavar="NATS",
        help="mean KL above which a latent counts as active (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--bins", type=positive_int, default=DEFAULT_BINS, metavar="N",
        help="histogram bins per latent for the MI estimate (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed of SAP/DCI's held-out split (default: %(default)s)",
    )
    add_allow_incomplete(parser)
    add_force(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from absaction.analysis.report import (
        REPORT_MD,
        evaluate_model,
        evaluation_data,
        load_data_of,
        training_data_path,
        training_sigma,
        write_report,
    )
    from absaction.models import load, read_config
    from absaction.models.io import check_complete

    check_new_output(
        args.out, args.force, "report folder", command="evaluate", inputs=[args.model, args.data]
    )
    if not args.allow_incomplete:  # an unfinished run of any model kind, before anything is measured
        check_complete(args.model)
    if read_config(args.model).get("model") == "skill":  # skill models have their own measures
        from absaction.analysis.skills import evaluate_skill_run

        report = evaluate_skill_run(
            args.model,
            args.data,
            args.out,
            args.force,
            seed=args.seed,
            active_threshold=args.active_threshold,
            allow_incomplete=args.allow_incomplete,
        )
        _print_skill_summary(report, args.model, args.out)
        return 0
    factors = None
    if args.factors is not None:
        factors = [f.strip() for f in args.factors.split(",") if f.strip()]
        if not factors:
            raise AbsactionError("--factors is empty", "pass factor names such as target,bulge_out")
    model = load(args.model, allow_incomplete=args.allow_incomplete)
    config = read_config(args.model)
    data_path = args.data or training_data_path(config, args.model)
    check_new_output(args.out, args.force, "report folder", command="evaluate", inputs=[data_path])
    dataset = load_data_of(args.model, args.data, config)
    data = evaluation_data(model, dataset)
    step_size = env_step_size(model.env_id or dataset.env_id)
    report = evaluate_model(
        model,
        data,
        sigma=training_sigma(config),
        step_size=step_size,
        active_threshold=args.active_threshold,
        n_bins=args.bins,
        factors=factors,
        seed=args.seed,
    )
    report["model"] = {
        "run_dir": path_in_record(args.model, args.out),  # relative to the report folder
        "name": config.get("model"),
        "ladder_dims": model.ladder_dims,
        "seq_len": model.seq_len,
        "action_dim": model.action_dim,
        "env_id": model.env_id,
    }
    report["data"] = {
        "path": path_in_record(dataset.path, args.out),
        "env_id": dataset.env_id,
        "episodes": data.episodes,
        "window_length": data.window_length,
        "factor_names": list(data.factor_names),
    }
    if model.env_id and dataset.env_id and model.env_id != dataset.env_id:
        report["notes"].append(
            f"the model was trained on {model.env_id}, the data comes from {dataset.env_id}"
        )
    with atomic_dir(args.out, args.force, "report folder", command="evaluate") as tmp:
        write_report(report, tmp, model.ladder_dims)

    table = Table(title=f"absaction evaluate: {args.model} on {dataset.path.name}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rec, kl, m = report["reconstruction"], report["kl"], report["metrics"]
    table.add_row("reconstruction MSE (action units)", f"{rec['mse']:.5f}")
    table.add_row("active units", f"{kl['n_active']} of {len(report['latents'])}")
    if m is not None:
        for label, suffix in (("all latents", ""), ("active units", "_active")):
            dci = m[f"dci{suffix}"]
            dci_text = (
                "n/a" if dci is None else "{disentanglement:.3f} / {completeness:.3f} / {informativeness:.3f}"
            )
            table.add_row(f"MIG ({label})", f"{m[f'mig{suffix}']:.3f}")
            table.add_row(
                f"SAP ({label})", "n/a" if m[f"sap{suffix}"] is None else f"{m[f'sap{suffix}']:.3f}"
            )
            table.add_row(f"DCI D / C / I ({label})", dci_text.format(**(dci or {})))
        for row in m["per_factor"]:
            table.add_row(
                f"{row['factor']}: MIG all / active (latent)",
                f"{row['mig']:.3f} / {row['mig_active']:.3f} ({row['latent_active'] or 'none'})",
            )
    Console().print(table)
    for note in report["notes"]:
        print(f"note: {note}")
    print(f"wrote {args.out / REPORT_MD} (+ report.json{', mi_heatmap.png' if m else ''})")
    return 0


def _print_skill_summary(report: dict[str, Any], run_dir: str, out: Path) -> None:
    """The skill model's evaluation as a table on stdout, then its notes and what was written."""
    from rich.console import Console
    from rich.table import Table

    from absaction.analysis.report import REPORT_MD

    data = report.get("data", {})
    source = "held-out episodes" if data.get("held_out") else "all episodes"
    table = Table(title=f"absaction evaluate: skill model {run_dir}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("windows measured", f"{data.get('windows')} of {data.get('episodes')} {source}")
    rec = report.get("reconstruction")
    if rec:
        table.add_row("reconstruction RMSE (action units)", f"{rec['rmse']:.4g}")
        table.add_row("largest reconstruction error", f"{rec['max_abs']:.4g}")
        table.add_row("prior NLL (nats per window)", f"{report['prior_nll']:.2f}")
    kls = [kl for ladder in report.get("kl_per_dim") or [] for kl in ladder]
    if kls:
        active = sum(kl > report.get("active_threshold", 0.0) for kl in kls)
        table.add_row("active latents", f"{active} of {len(kls)} (total KL {sum(kls):.2f} nats)")
    rollouts = report.get("prior_rollouts")
    if rollouts:
        returns = rollouts.get("returns") or [0.0]
        table.add_row(
            f"prior rollouts: success ({rollouts['episodes']} episodes)", f"{rollouts['success_rate']:.0%}"
        )
        table.add_row("prior rollouts: mean return", f"{sum(returns) / len(returns):.3g}")
    Console().print(table)
    for note in report.get("notes") or []:
        print(f"note: {note}")
    figures = ", ".join(str(name) for name in (report.get("files") or {}).values())
    print(f"wrote {out / REPORT_MD} (+ report.json{', ' + figures if figures else ''})")
