"""The VAE benchmark's runs: the cached datasets, the ``TrainConfig`` of every run, one run (train, score,
record for ``--resume``) and the speed check of the real ``absaction train`` command."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from absaction.data import load_dataset
from absaction.data.collect import CollectConfig, collect, read_collect_json
from absaction.errors import AbsactionError
from absaction.files import atomic_write_json
from absaction.models import load, read_config
from absaction.train import TrainConfig, fit
from benchmarks.vae.catalogue import (
    BULGE_LABELLINGS,
    DATASETS,
    RUN_RECORD,
    SPEED_TARGET_S,
    VARIANT_BY_NAME,
    VAEBenchConfig,
    Variant,
    dataset_episodes,
)
from benchmarks.vae.cells import as_float, jsonable
from benchmarks.vae.figures import traversal_png
from benchmarks.vae.scoring import score_model

# --------------------------------------------------------------------------------------------------
# data


def ensure_dataset(config: VAEBenchConfig, key: str) -> Path:
    """The cached dataset folder ``OUT/work/data/<key>``, collected if missing or collected differently."""
    spec = DATASETS[key]
    path = config.out / "work" / "data" / key
    episodes = dataset_episodes(config, key)
    expert = "scripted"
    if key == "paths":
        if config.paths_file is None:
            raise AbsactionError("the paths dataset needs a file of recorded paths", "pass --paths FILE.npz")
        expert = f"paths:{Path(config.paths_file).expanduser().resolve()}"
    wanted = {"env_id": spec.env_id, "episodes": episodes, "seed": config.data_seed,
              "noise": config.noise, "expert": expert, "max_steps": None}  # fmt: skip
    saved = read_collect_json(path) if path.is_dir() else None
    if saved is not None and all(saved["config"].get(k) == v for k, v in wanted.items()):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    collect(
        CollectConfig(
            env_id=spec.env_id,
            out=path,
            expert=expert,
            episodes=episodes,
            seed=config.data_seed,
            noise=config.noise,
            force=True,  # a cache: replaced when its settings differ
            progress=False,
        )
    )
    return path


# --------------------------------------------------------------------------------------------------
# one run


def linear_capacity(cmax: float, epochs: int, n_train: int, batch_size: int) -> str:
    """Burgess' schedule for this run: C ramps from 0 to ``cmax`` nats over the first half of the
    optimiser steps, then stays (``linear:CMAX,STEPS``, the |KL - C| form)."""
    steps = max(1, epochs * math.ceil(n_train / batch_size) // 2)
    return f"linear:{cmax:g},{steps}"


def train_config(
    config: VAEBenchConfig, variant: Variant, seed: int, n_train: int | None = None
) -> TrainConfig:
    """The ``TrainConfig`` of one run: library defaults, the variant's model and capacity, the
    benchmark's epochs, threads and ``--set`` overrides."""
    fields: dict[str, Any] = {"model": variant.model, "seed": seed, "threads": config.threads}
    if config.epochs is not None:
        fields["epochs"] = config.epochs
    if variant.options:
        fields["model_options"] = dict(variant.options)
    fields.update(config.overrides)
    capacity = variant.capacity
    if capacity == "linear":
        base = TrainConfig(**fields)
        assert n_train is not None, "the linear schedule needs the number of training windows"
        capacity = linear_capacity(config.linear_cmax, base.epochs, n_train, base.batch_size)
    fields["capacity"] = capacity
    if config.track_every > 0:
        fields["checkpoint_every"] = config.track_every
    return TrainConfig(**fields)


class _Tracker:
    """Epoch callback for ``--track-every``: scores the checkpoint ``fit`` has just written and keeps the
    first epoch (and training seconds) at which the run is disentangled."""

    def __init__(self, run_dir: Path, dataset: Any, every: int, seed: int) -> None:
        self.run_dir, self.dataset, self.every, self.seed = run_dir, dataset, every, seed
        self.elapsed = 0.0
        self.history: list[dict[str, Any]] = []
        self.first_epoch: int | None = None
        self.first_seconds: float | None = None

    def __call__(self, epoch: int, row: dict[str, Any]) -> None:
        self.elapsed += float(row["seconds"])
        if epoch % self.every:
            return
        scores = score_model(load(self.run_dir), self.dataset, "reach2d", None, self.seed)
        ok = bool(scores.get("disentangled"))
        self.history.append(
            {"epoch": epoch, "seconds": self.elapsed, "disentangled": ok,
             "mig_active_target": scores.get("mig_active_target"),
             "mig_active_bulge": max(as_float(scores.get(f"mig_active_{b}")) for b in BULGE_LABELLINGS)}
        )  # fmt: skip
        if ok and self.first_epoch is None:
            self.first_epoch, self.first_seconds = epoch, self.elapsed


def run_one(
    config: VAEBenchConfig,
    key: str,
    data_dir: Path,
    dataset: Any,
    variant: Variant,
    seed: int,
    figure_dir: Path | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train and score one run on ``dataset`` (loaded from ``data_dir``); returns its result row and its
    per-epoch curves."""
    run_dir = config.out / "work" / "runs" / key / variant.name / f"seed{seed}"
    # the training windows as fit cuts them (the split does not depend on the capacity)
    probe = train_config(config, dataclasses.replace(variant, capacity="none"), seed)
    windows = dataset.action_windows(probe.window, probe.stride)
    n_train = len(windows.split_by_episode(probe.val_fraction, probe.seed)[0])
    tc = train_config(config, variant, seed, n_train)
    record = run_dir / RUN_RECORD
    if config.resume and record.is_file():
        saved = json.loads(record.read_text(encoding="utf-8"))
        if saved.get("train") == jsonable(tc.to_dict()) and saved.get("data") == os.fspath(data_dir):
            if figure_dir is not None and not (figure_dir / f"{key}_{variant.name}.png").exists():
                traversal_png(load(run_dir), dataset, variant, seed, figure_dir / f"{key}_{variant.name}.png")
            return saved["row"], saved["curves"]

    tracker = (
        _Tracker(run_dir, dataset, config.track_every, seed)
        if config.track_every and DATASETS[key].reaching
        else None
    )
    started = time.perf_counter()
    result = fit(data_dir, tc, run_dir, force=True, progress=False, epoch_callback=tracker)
    wall = time.perf_counter() - started
    row: dict[str, Any] = {
        "dataset": key,
        "model": variant.name,
        "seed": seed,
        "arch": variant.model,
        "capacity": tc.capacity,
        "epochs": tc.epochs,
        "n_train": n_train,
        "train_wall_s": wall,
        "train_loop_s": result.seconds,
        "seq_per_s": n_train * tc.epochs / result.seconds if result.seconds > 0 else math.nan,
    }
    last = result.metrics[-1]
    row["val_rmse"] = last.get("val_rmse")
    for ladder in range(1, len(result.model.ladder_dims) + 1):
        row[f"train_kl_l{ladder}"] = last.get(f"kl_l{ladder}")
        row[f"c_l{ladder}"] = last.get(f"c_l{ladder}")
    row["c_total"] = last.get("c_total")
    row.update(score_model(result.model, dataset, key, tc.sigma, seed))
    if tracker is not None:
        row["epochs_to_disentangled"] = tracker.first_epoch
        row["seconds_to_disentangled"] = tracker.first_seconds
        row["track"] = json.dumps(tracker.history)
    curves = [
        {"dataset": key, "model": variant.name, "seed": seed, "epoch": m["epoch"], "loss": m["loss"],
         "recon": m["recon"], "kl": m["kl"], "c_total": m["c_total"],
         **{k: v for k, v in m.items() if (k.startswith("kl_l") or k.startswith("c_l")) and "_d" not in k}}
        for m in result.metrics
    ]  # fmt: skip
    if figure_dir is not None:
        traversal_png(result.model, dataset, variant, seed, figure_dir / f"{key}_{variant.name}.png")
    atomic_write_json(
        record, {"train": jsonable(tc.to_dict()), "data": os.fspath(data_dir), "row": row, "curves": curves}
    )
    return row, curves


def run_job(job: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Worker (either executor of :mod:`absaction.bench.executors`): :func:`run_one` of
    ``job = {"config", "key", "data_dir", "variant", "seed", "figure_dir"}`` (the variant by name), the
    dataset loaded here from its folder."""
    data_dir = Path(job["data_dir"])
    figure_dir = None if job["figure_dir"] is None else Path(job["figure_dir"])
    variant = VARIANT_BY_NAME[job["variant"]]
    return run_one(
        job["config"], job["key"], data_dir, load_dataset(data_dir), variant, job["seed"], figure_dir
    )


# --------------------------------------------------------------------------------------------------
# the speed check: the real CLI


#: what the speed check keeps of a run's scores
_SPEED_KEYS = (
    "disentangled", "bulge_labelling", "recon_mse", "n_active",
    *(f"{what}_{f}" for f in ("target", *BULGE_LABELLINGS) for what in ("mig_active", "ladder", "latent")),
)  # fmt: skip


def speed_check(config: VAEBenchConfig, data_dir: Path, dataset: Any, seed: int) -> dict[str, Any]:
    """Time ``python -m absaction train`` on the reach2d data with default settings (process start to
    exit, so imports, data loading and checkpoints count) and score the run it writes."""
    run_dir = config.out / "work" / "speed" / f"seed{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    args = [
        "--data",
        os.fspath(data_dir),
        "--model",
        "tcvlae",
        "--seed",
        str(seed),
        "--out",
        os.fspath(run_dir),
    ]
    if config.epochs is not None:
        args += ["--epochs", str(config.epochs)]
    command = [sys.executable, "-m", "absaction", "train", *args]
    via = "python -m absaction train"
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    result: dict[str, Any] = {"seed": seed, "via": via, "wall_s": wall, "returncode": proc.returncode}
    if proc.returncode != 0:
        result["error"] = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        return result
    saved = read_config(run_dir)
    sigma = (saved.get("train") or {}).get("sigma")
    scores = score_model(load(run_dir), dataset, "reach2d", sigma, seed)
    result.update({k: scores.get(k) for k in _SPEED_KEYS})
    result["meets_target"] = bool(scores.get("disentangled")) and wall <= SPEED_TARGET_S
    return result
