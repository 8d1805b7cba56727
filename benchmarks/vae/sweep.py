"""The VAE benchmark from end to end: every (dataset, model, seed) run and the speed check, then the
findings, figures and tables, written to ``config.out`` (see :mod:`benchmarks.vae`)."""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import sys
from typing import Any

import torch
from tqdm.auto import tqdm

from absaction.bench.executors import ExecutorSpec, make_executor
from absaction.bench.stats import mean_interval
from absaction.data import load_dataset
from absaction.errors import AbsactionError
from absaction.files import atomic_write_json, atomic_write_text
from absaction.outputs import path_in_record
from benchmarks.vae.catalogue import (
    CURVES_CSV,
    DATASETS,
    RESULTS_CSV,
    SUMMARY_JSON,
    SUMMARY_MD,
    VARIANT_BY_NAME,
    VARIANTS,
    VAEBenchConfig,
    dataset_episodes,
)
from benchmarks.vae.cells import finite, jsonable, write_csv
from benchmarks.vae.figures import capacity_plot
from benchmarks.vae.findings import capacity_findings, paper_claims, summarise
from benchmarks.vae.runs import ensure_dataset, run_job, speed_check, train_config
from benchmarks.vae.tables import markdown


def run_benchmark(config: VAEBenchConfig, executor: ExecutorSpec | None = None) -> dict[str, Any]:
    """Run everything ``config`` asks for and write the outputs; returns the summary document.

    ``executor`` says where the training runs execute (default: one by one in this process; Ray: each
    a Ray task). The speed check always runs here: it times this machine.
    """
    if executor is not None:
        executor.validate()  # e.g. Ray asked for but not installed: before anything is written
    outputs = [config.out / n for n in (RESULTS_CSV, SUMMARY_JSON, SUMMARY_MD)]
    existing = [p for p in outputs if p.exists()]
    if existing and not (config.force or config.resume):
        raise AbsactionError(
            f"benchmark results already exist in {config.out}",
            "pass --force to recompute everything, --resume to reuse finished runs, or choose another --out",
        )
    if config.force:
        shutil.rmtree(config.out / "work" / "runs", ignore_errors=True)
    config.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(config.out / ".gitignore", "# datasets and run folders of the benchmark\nwork/\n")

    data_dirs = {key: ensure_dataset(config, key) for key in config.datasets}
    variants = [VARIANT_BY_NAME[name] for name in config.models]
    seeds = list(range(config.seeds))
    speed_seeds = seeds if config.speed_check and "reach2d" in config.datasets else []
    # absolute paths: a Ray worker's working directory is not this one
    absolute = dataclasses.replace(config, out=config.out.resolve())
    jobs: list[dict[str, Any]] = [
        {
            "index": index,
            "config": absolute,
            "key": key,
            "data_dir": os.fspath(data_dirs[key].resolve()),
            "variant": variant.name,
            "seed": seed,
            "figure_dir": (
                os.fspath(absolute.out / "traversals")
                if config.figures and DATASETS[key].reaching and seed == seeds[0]
                else None
            ),
        }
        for index, (key, variant, seed) in enumerate(
            (key, v, s) for key in config.datasets for s in seeds for v in variants
        )
    ]
    results: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    speed: list[dict[str, Any]] = []
    bar = tqdm(total=len(jobs) + len(speed_seeds), unit="run", desc="bench_vae", file=sys.stderr,
               disable=not config.progress)  # fmt: skip
    try:
        # the local executor runs them one by one in this process (each run uses --threads threads)
        with make_executor(executor or ExecutorSpec(), workers=None, threads=None) as runner:
            for job, result in runner.imap_unordered(run_job, jobs):
                results[job["index"]] = result
                bar.set_postfix_str(f"{job['key']} {job['variant']} seed {job['seed']}", refresh=True)
                bar.update(1)
        reach = load_dataset(data_dirs["reach2d"]) if speed_seeds else None
        for seed in speed_seeds:
            bar.set_postfix_str(f"absaction train seed {seed}", refresh=True)
            speed.append(speed_check(config, data_dirs["reach2d"], reach, seed))
            bar.update(1)
    finally:
        bar.close()
    rows = [results[job["index"]][0] for job in jobs]  # in plan order, whatever order they finished in
    curves = [curve for job in jobs for curve in results[job["index"]][1]]
    traversals = {
        f"{job['key']}_{job['variant']}": f"traversals/{job['key']}_{job['variant']}.png"
        for job in jobs
        if job["figure_dir"] is not None
    }

    capacity_pngs: dict[str, str] = {}
    findings: list[str] = []
    for key in config.datasets:
        findings += capacity_findings(curves, key)
        if config.figures and capacity_plot(curves, key, config.out / f"capacity_{key}.png"):
            capacity_pngs[key] = f"capacity_{key}.png"
    ok_speed = [s for s in speed if "error" not in s]
    summary_doc: dict[str, Any] = {
        # folders relative to the results folder (config.out): the committed summary names no machine
        "config": jsonable(
            {
                **dataclasses.asdict(config),
                "out": ".",
                "paths_file": None
                if config.paths_file is None
                else path_in_record(config.paths_file, config.out),
            }
        ),
        "train_defaults": {
            key: value
            for key, value in dataclasses.asdict(train_config(config, VARIANTS[0], 0)).items()
            if key in ("beta", "sigma", "epochs", "batch_size", "lr", "normalize", "val_fraction")
        },
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "data": {
            key: {
                "path": path_in_record(data_dirs[key], config.out),
                "env_id": DATASETS[key].env_id,
                "episodes": dataset_episodes(config, key),
                "noise": config.noise,
                "seed": config.data_seed,
            }
            for key in config.datasets
        },
        "summary": summarise(rows),
        "claims": [c for key in config.datasets if DATASETS[key].reaching for c in paper_claims(rows, key)],
        "capacity_findings": findings,
        "speed_check": speed,
        "speed_summary": {
            "wall_s": mean_interval(s["wall_s"] for s in ok_speed),
            "disentangled": f"{sum(bool(s.get('disentangled')) for s in ok_speed)}/{len(speed)}",
            "met": f"{sum(bool(s.get('meets_target')) for s in ok_speed)}/{len(speed)}",
        },
        "figures": {"capacity": capacity_pngs, "traversals": traversals},
    }
    write_csv(config.out / RESULTS_CSV, rows)
    write_csv(config.out / CURVES_CSV, curves)
    atomic_write_json(config.out / SUMMARY_JSON, finite(summary_doc))
    atomic_write_text(config.out / SUMMARY_MD, markdown(summary_doc))
    return summary_doc
