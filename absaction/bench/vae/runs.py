"""VAE benchmark: ladder TCVLAE vs flat TCVAE vs plain beta-VAE, and what each capacity mode does.

Issue 3, sections 3 (capacity study), 6 (benchmark and the paper's claims) and 7 (speed).

What it does, top to bottom:

1. **Data.** Collects (``absaction.collect``) the scripted-expert datasets it trains on and caches them
   under ``OUT/work/data`` (re-collected only when their settings change): ``reach2d``
   (``absaction/Reach2D-v0``, the paper's world, 32-step episodes) and ``wavy``
   (``absaction/WavyReach2D-v0``, five goals and wavy paths, 64 steps), 400 episodes each, seed 0, with
   a little action noise (``--noise 0.05``; see :class:`BenchConfig` for why not none). With
   ``--paths FILE.npz`` also ``paths``: recorded way-points (e.g. the public FAVAE "2D Reaching"
   ``reaching_100.npz``, which is not part of this repository) tracked in ``absaction/Reach2D-v0`` by
   :class:`absaction.envs.PathSetExpert` (``--reach-episodes`` episodes, resampled to 32 steps), scored
   like ``reach2d``.
2. **Runs.** Every model variant of :data:`VARIANTS` x every dataset x ``--seeds`` seeds, each trained
   with :func:`absaction.train.fit` (the library entry point ``absaction train`` uses) on 2 torch threads.
   Every variant uses the library's defaults (``TrainConfig``: beta, sigma, epochs, learning rate, ...;
   recorded in ``summary.json``); only the model and the capacity mode differ.
3. **Per run.** Wall time of ``fit`` from call to return (data loading, training, checkpoints),
   training throughput (training windows x epochs / training-loop seconds), reconstruction error (MSE
   of the posterior-mean reconstruction, in the env's action units), KL and active units per ladder,
   MIG over all latents and over the active units, SAP, DCI, and for every factor its active-unit MIG
   and the *ladder that holds it* (the ladder of the active latent with the largest mutual information
   with that factor); as a cross-check, the same MIG with sequences coded by posterior draws
   (:func:`sampled_mig`). On ``reach2d`` the bulge is scored in both labellings, ``bulge_out``
   (outward/inward, the paper's) and ``bulge_right`` (absolute left/right): the two are deterministic
   relabellings of each other given the target, so the overall scores are computed per labelling
   (factors ``target, bulge_X, curvature``). Everything is measured on every window of the dataset
   (training and validation episodes), as ``absaction evaluate`` does.
4. **Disentangled?** (issue 7's target) A run is *disentangled* when the target and the bulge (in the
   labelling that scores higher) are each carried by one active latent, two different latents, each
   with an active-unit MIG of at least 0.9.
5. **Speed check.** For every seed, ``python -m absaction train`` with the default settings on the
   ``reach2d`` data, timed from process start to exit, then evaluated as above: the issue-7 target is a
   disentangled result in at most 15 s on 2 cores.
6. **Capacity study.** The per-epoch KL and capacity C of every ladder (the runs' ``metrics.csv``) for
   the TCVLAE with adaptive ``(KL - C)`` (the paper), adaptive ``|KL - C|``, Burgess' linear ramp and no
   capacity (plain beta-VAE), plotted as one grid per dataset (rows = modes, columns = ladders and the
   total), and summarised in plain sentences (see :func:`capacity_findings`).

Outputs (in ``--out``, default ``benchmarks/results/vae``): ``results.csv`` (one row per run),
``capacity_curves.csv`` (one row per run and epoch), ``summary.json`` (configuration, machine, means with
95 % t-intervals over seeds, claims, findings), ``summary.md`` (tables ready for the README),
``capacity_<dataset>.png``, ``traversals/<dataset>_<model>.png`` (``absaction traverse --all`` style grid of
the first seed of every model). ``OUT/work`` holds the datasets and run folders (ignored by git).

Usage::

    python benchmarks/bench_vae.py                                # 6 models x 2 datasets x 5 seeds
    python benchmarks/bench_vae.py --quick --out /tmp/bench_vae   # smoke test: 1 seed, 3 epochs, tiny data
    python benchmarks/bench_vae.py --datasets reach2d --models tcvlae,tcvae --seeds 3
    python benchmarks/bench_vae.py --datasets paths --paths reaching_100.npz --noise 0.02
    python benchmarks/bench_vae.py --resume                       # reuse the runs a broken call finished

Existing results are refused unless ``--force`` (recompute everything) or ``--resume`` (reuse finished
runs whose settings match) is given.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes, atomic_write_json, atomic_write_text

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "vae"
RESULTS_CSV = "results.csv"
CURVES_CSV = "capacity_curves.csv"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
RUN_RECORD = "bench.json"  # inside every run folder: the run's result row and curves, for --resume
MIG_TARGET = 0.9  # issue 7: "active-unit MIG >= 0.9"
SPEED_TARGET_S = 15.0  # issue 7: "in at most 15 seconds of wall time on 2 cores"
BULGE_LABELLINGS = ("bulge_out", "bulge_right")


# --------------------------------------------------------------------------------------------------
# what is compared


@dataclasses.dataclass(frozen=True)
class Variant:
    """One model setting of the comparison."""

    name: str
    """label in every table and file name"""
    model: str
    """registered model name (``absaction.models.MODELS``)"""
    capacity: str
    """``--capacity`` spec; ``linear`` is completed at run time (see :func:`linear_capacity`)"""
    description: str
    """one line for the Markdown summary"""
    capacity_study: bool = False
    """part of the capacity study (the ladder model under every capacity mode)"""
    options: tuple[tuple[str, Any], ...] = ()
    """model options (``TrainConfig.model_options``) as (key, value) pairs"""
    default: bool = True
    """run unless ``--models`` names the variants (the seq2seq comparison is opt-in)"""


VARIANTS: tuple[Variant, ...] = (
    Variant("tcvlae", "tcvlae", "adaptive:50",
            "ladder TCVLAE [8, 4, 2], the paper's loss: adaptive C, beta (KL - C) (library default)", True),
    Variant("tcvlae-abs", "tcvlae", "adaptive:50,abs", "ladder TCVLAE, adaptive C with beta |KL - C|", True),
    Variant("tcvlae-linear", "tcvlae", "linear",
            "ladder TCVLAE, Burgess: one C for the total KL, 0 -> CMAX over half the run, beta |KL - C|",
            True),
    Variant("beta-vae", "tcvlae", "none", "ladder architecture, plain beta-VAE (no capacity)", True),
    Variant("tcvae", "tcvae", "adaptive:50",
            "flat TCVAE (the paper's baseline: 4 conv layers, one latent of 4), adaptive C, beta (KL - C)"),
    Variant("beta-vae-flat", "tcvae", "none", "flat TCVAE, plain beta-VAE (no capacity)"),
    Variant("seq2seq", "seq2seq", "adaptive:50",
            "QRNN seq2seq [8, 4, 2], the paper's decoder input z + x_{t-1} (merge input), adaptive C",
            options=(("merge", "input"),), default=False),
    Variant("seq2seq-ladder", "seq2seq", "adaptive:50",
            "QRNN seq2seq [8, 4, 2], each ladder added at its mirrored decoder depth (merge ladder)",
            options=(("merge", "ladder"),), default=False),
)  # fmt: skip
VARIANT_BY_NAME = {v.name: v for v in VARIANTS}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A dataset the benchmark collects and trains on."""

    key: str
    env_id: str
    labellings: dict[str, tuple[str, ...] | None]
    """name -> the factor columns scored together (None: all the dataset's factors)"""
    reaching: bool = False
    """target + bulge data: scored for the disentanglement target and the paper's claims"""


DATASETS: dict[str, DatasetSpec] = {
    "reach2d": DatasetSpec(
        "reach2d",
        "absaction/Reach2D-v0",
        {lab: ("target", lab, "curvature") for lab in BULGE_LABELLINGS},
        reaching=True,
    ),
    "wavy": DatasetSpec("wavy", "absaction/WavyReach2D-v0", {"all": None}),
    # the recorded paths of --paths FILE (e.g. the public FAVAE "2D Reaching" reaching_100.npz), tracked
    # in the paper's world by absaction.envs.PathSetExpert, which measures the same factors as reach2d's
    "paths": DatasetSpec(
        "paths",
        "absaction/Reach2D-v0",
        {lab: ("target", lab, "curvature") for lab in BULGE_LABELLINGS},
        reaching=True,
    ),
}
DEFAULT_DATASETS: tuple[str, ...] = ("reach2d", "wavy")


@dataclasses.dataclass
class BenchConfig:
    """Settings of one benchmark call (written to ``summary.json``)."""

    out: Path = DEFAULT_OUT
    """output folder"""
    seeds: int = 5
    """training seeds per dataset and model (seeds 0 .. seeds-1)"""
    datasets: tuple[str, ...] = DEFAULT_DATASETS
    """datasets to run (keys of DATASETS; ``paths`` needs ``paths_file``)"""
    paths_file: Path | None = None
    """the ``.npz`` of recorded way-points the ``paths`` dataset tracks (``--paths``; e.g. the public
    FAVAE "2D Reaching" ``reaching_100.npz``: 20 paths, one per target x bulge side x curvature)"""
    models: tuple[str, ...] = tuple(v.name for v in VARIANTS if v.default)
    """model variants to run (names of VARIANTS; the seq2seq ones only when named)"""
    epochs: int | None = None
    """training epochs; None keeps the library default (TrainConfig.epochs)"""
    reach_episodes: int = 400
    """episodes of the reach2d and paths datasets (32 steps each)"""
    wavy_episodes: int = 400
    """episodes of the wavy dataset (64 steps each)"""
    data_seed: int = 0
    """seed of the data collection (episode i resets with data_seed + i)"""
    noise: float = 0.05
    """std of the Gaussian noise collect adds to every expert action, action units (x 0.1 = env units).
    Not 0 (``absaction demo``'s data): without noise the 400 episodes are only 20 distinct sequences
    (2 targets x 2 bulges x 5 curvatures), every latent mean takes 20 values, and the 20-bin MI
    estimator credits each active latent with nearly every factor, so MIG measures the binning, not the
    code. 0.05 makes every sequence distinct and is still too small for the default beta to encode."""
    linear_cmax: float = 6.0
    """C_max of the linear capacity, nats (total over the ladders); ramped over the first half of the run"""
    threads: int = 2
    """torch threads per training run (the issue's 2 CPU cores)"""
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    """TrainConfig fields set for every run (--set KEY=VALUE), e.g. beta or sigma"""
    speed_check: bool = True
    """also time ``absaction train`` with the defaults (one subprocess per seed, reach2d only)"""
    track_every: int = 0
    """if > 0: every this many epochs, check whether a reach2d run is already disentangled"""
    figures: bool = True
    """write the traversal figures and the capacity plots"""
    quick: bool = False
    """smoke-test sizes (set by --quick)"""
    force: bool = False
    resume: bool = False
    progress: bool = True


def quick_config(config: BenchConfig) -> BenchConfig:
    """The ``--quick`` sizes: 1 seed, 3 epochs, tiny datasets (a smoke test, not a measurement)."""
    return dataclasses.replace(
        config, seeds=1, epochs=3, reach_episodes=24, wavy_episodes=24, quick=True, linear_cmax=2.0
    )


# --------------------------------------------------------------------------------------------------
# statistics (numpy only)

# two-sided 95 % Student-t critical values t_{0.975, df} for df = 1 .. 30
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)  # fmt: skip


def t_critical_975(df: int) -> float:
    """``t_{0.975, df}``: a table up to 30 degrees of freedom, then the Cornish-Fisher expansion around
    the normal quantile 1.95996 (error below 1e-3 there)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_interval(values: Iterable[float | None]) -> dict[str, float | int]:
    """Mean and 95 % Student-t interval of the finite values (``lo = hi = nan`` for fewer than two)."""
    x = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return {"mean": math.nan, "lo": math.nan, "hi": math.nan, "half": math.nan, "n": 0}
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "lo": math.nan, "hi": math.nan, "half": math.nan, "n": 1}
    half = t_critical_975(n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "half": half, "n": n}


# --------------------------------------------------------------------------------------------------
# data


def dataset_episodes(config: BenchConfig, key: str) -> int:
    return config.wavy_episodes if key == "wavy" else config.reach_episodes


def ensure_dataset(config: BenchConfig, key: str) -> Path:
    """The cached dataset folder ``OUT/work/data/<key>``, collected if missing or collected differently."""
    from absaction.collect import CollectConfig, collect, read_collect_json

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


def train_config(config: BenchConfig, variant: Variant, seed: int, n_train: int | None = None) -> Any:
    """The ``TrainConfig`` of one run: library defaults, the variant's model and capacity, the
    benchmark's epochs, threads and ``--set`` overrides."""
    from absaction.train import TrainConfig

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


def score_model(model: Any, dataset: Any, key: str, sigma: float | None, seed: int) -> dict[str, Any]:
    """Everything the benchmark measures on a trained model (flat dict, CSV-ready).

    Keys: ``recon_mse`` (action units), ``recon_rmse``, ``endpoint_error`` (env position units),
    ``kl_total``, ``kl_l{l}``, ``active_l{l}``, ``n_active``; per labelling ``lab`` the scores averaged
    over its factors: ``mig_avg_{lab}``, ``mig_active_avg_{lab}``, ``sap_avg_{lab}``,
    ``sap_active_avg_{lab}``, ``dci_d_avg_{lab}``, ``dci_c_avg_{lab}``, ``dci_i_avg_{lab}``,
    ``dci_d_active_avg_{lab}``; per factor ``f``: ``mig_{f}``, ``mig_active_{f}``, ``ladder_{f}`` (ladder
    of the top active latent, empty if none), ``latent_{f}``, ``sap_{f}``, ``dci_c_{f}``,
    ``mig_sampled_{f}`` (:func:`sampled_mig`); on reach2d ``disentangled`` and ``bulge_labelling``.
    """
    from absaction.analysis.paths import env_step_size
    from absaction.analysis.report import evaluate_model, evaluation_data

    spec = DATASETS[key]
    data = evaluation_data(model, dataset)
    step_size = env_step_size(model.env_id or dataset.env_id)
    row: dict[str, Any] = {"n_eval": len(data.actions)}
    per_factor: dict[str, dict[str, Any]] = {}
    for index, (lab, factors) in enumerate(spec.labellings.items()):
        report = evaluate_model(
            model,
            data,
            sigma=sigma,
            step_size=step_size,
            factors=list(factors) if factors else None,
            seed=seed,
        )
        if index == 0:  # reconstruction and KL do not depend on the labelling
            rec, kl = report["reconstruction"], report["kl"]
            row.update(recon_mse=rec["mse"], recon_rmse=rec["rmse"], endpoint_error=rec["endpoint_error"])
            row["kl_total"] = kl["total"]
            for ladder, (value, active) in enumerate(zip(kl["per_ladder"], kl["active"], strict=True), 1):
                row[f"kl_l{ladder}"] = value
                row[f"active_l{ladder}"] = int(np.sum(active))
            row["n_active"] = kl["n_active"]
        m = report["metrics"]
        if m is None:
            continue
        dci, dci_active = m["dci"], m["dci_active"]
        row.update(
            {
                f"mig_avg_{lab}": m["mig"],
                f"mig_active_avg_{lab}": m["mig_active"],
                f"sap_avg_{lab}": m["sap"],
                f"sap_active_avg_{lab}": m["sap_active"],
                f"dci_d_avg_{lab}": dci["disentanglement"],
                f"dci_c_avg_{lab}": dci["completeness"],
                f"dci_i_avg_{lab}": dci["informativeness"],
                f"dci_d_active_avg_{lab}": None if dci_active is None else dci_active["disentanglement"],
            }
        )
        for item in m["per_factor"]:
            per_factor.setdefault(item["factor"], item)
    order = list(dataset.factor_names)
    for name, item in sorted(per_factor.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99):
        row[f"mig_{name}"] = item["mig"]
        row[f"mig_active_{name}"] = item["mig_active"]
        row[f"ladder_{name}"] = item["ladder_active"]
        row[f"latent_{name}"] = item["latent_active"]
        row[f"sap_{name}"] = item["sap"]
        row[f"dci_c_{name}"] = item["dci_completeness"]
    if per_factor and data.factors is not None:
        for name, value in zip(data.factor_names, sampled_mig(model, data, seed), strict=True):
            row[f"mig_sampled_{name}"] = value
    if DATASETS[key].reaching and per_factor:
        ok, lab = is_disentangled(row)
        row["disentangled"] = int(ok)
        row["bulge_labelling"] = lab
    return row


def sampled_mig(model: Any, data: Any, seed: int, draws: int = 5) -> np.ndarray:
    """Active-unit MIG of every factor with each sequence coded by a *draw* from its posterior
    ``z = mean + std * eps`` instead of the mean, averaged over ``draws`` draws: (K,).

    A cross-check of the mean-based MIG, not the issue's criterion. The histogram estimator bins the
    posterior means, so a shift of a latent's mean with some factor counts as information about that
    factor however small it is next to the posterior standard deviation (which decides what the decoder
    can actually read). Coding with draws charges each latent only for what survives its own noise: a
    shift of 0.3 posterior std is nearly invisible, while a latent whose KL is below ln 2 nats cannot
    transmit a binary factor fully and scores below 1.
    """
    from absaction.analysis import metrics
    from absaction.analysis.report import encode_means

    means, logvars, _ = encode_means(model, data.actions, data.lengths)  # (N, D) each
    kl = (0.5 * (means**2 + np.exp(logvars) - 1.0 - logvars)).mean(axis=0)  # (D,) nats
    active = metrics.active_units(kl)
    rng = np.random.default_rng([seed, 7])
    std = np.exp(0.5 * logvars)
    scores = [
        metrics.mig(means + std * rng.standard_normal(means.shape), data.factors, active=active)["per_factor"]
        for _ in range(draws)
    ]
    return np.mean(scores, axis=0)


def is_disentangled(row: dict[str, Any], threshold: float = MIG_TARGET) -> tuple[bool, str]:
    """Issue 7's test on a scored reach2d run: target and bulge (the better-scoring labelling) each
    carried by one active latent, two different ones, each with active-unit MIG >= ``threshold``.

    Returns ``(passed, bulge labelling used)``.
    """
    lab = max(BULGE_LABELLINGS, key=lambda b: _num(row.get(f"mig_active_{b}")))
    target, bulge = _num(row.get("mig_active_target")), _num(row.get(f"mig_active_{lab}"))
    latent_t, latent_b = row.get("latent_target"), row.get(f"latent_{lab}")
    distinct = latent_t is not None and latent_b is not None and latent_t != latent_b
    return bool(target >= threshold and bulge >= threshold and distinct), lab


def _num(value: Any) -> float:
    """A CSV/JSON cell as a float (NaN for empty/None)."""
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


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
        from absaction.models import load

        self.elapsed += float(row["seconds"])
        if epoch % self.every:
            return
        scores = score_model(load(self.run_dir), self.dataset, "reach2d", None, self.seed)
        ok = bool(scores.get("disentangled"))
        self.history.append(
            {"epoch": epoch, "seconds": self.elapsed, "disentangled": ok,
             "mig_active_target": scores.get("mig_active_target"),
             "mig_active_bulge": max(_num(scores.get(f"mig_active_{b}")) for b in BULGE_LABELLINGS)}
        )  # fmt: skip
        if ok and self.first_epoch is None:
            self.first_epoch, self.first_seconds = epoch, self.elapsed


def run_one(
    config: BenchConfig,
    key: str,
    data_dir: Path,
    dataset: Any,
    variant: Variant,
    seed: int,
    figure_dir: Path | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train and score one run on ``dataset`` (loaded from ``data_dir``); returns its result row and its
    per-epoch curves."""
    from absaction.train import fit

    run_dir = config.out / "work" / "runs" / key / variant.name / f"seed{seed}"
    # the training windows as fit cuts them (the split does not depend on the capacity)
    probe = train_config(config, dataclasses.replace(variant, capacity="none"), seed)
    windows = dataset.action_windows(probe.window, probe.stride)
    n_train = len(windows.split_by_episode(probe.val_fraction, probe.seed)[0])
    tc = train_config(config, variant, seed, n_train)
    record = run_dir / RUN_RECORD
    if config.resume and record.is_file():
        saved = json.loads(record.read_text(encoding="utf-8"))
        if saved.get("train") == _jsonable(tc.to_dict()) and saved.get("data") == os.fspath(data_dir):
            if figure_dir is not None and not (figure_dir / f"{key}_{variant.name}.png").exists():
                from absaction.models import load

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
        record, {"train": _jsonable(tc.to_dict()), "data": os.fspath(data_dir), "row": row, "curves": curves}
    )
    return row, curves


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def traversal_png(model: Any, dataset: Any, variant: Variant, seed: int, path: Path) -> None:
    """``absaction traverse --all`` for episode 0: one row per ladder, its active latents over [-2, 2]."""
    from absaction.analysis.paths import env_step_size
    from absaction.analysis.report import pick_sequence
    from absaction.analysis.traversal import active_grid, traversal_figure

    actions = pick_sequence(model, dataset, 0)  # (T, A)
    kl_per_dim = [list(map(float, k)) for k in model.kl_per_dim]
    factors = ", ".join(f"{k}={v}" for k, v in dataset.episodes[0].factors.items())
    fig = traversal_figure(
        model,
        actions,
        active_grid(kl_per_dim),
        np.linspace(-2.0, 2.0, 9),
        kl_per_dim,
        env_step_size(model.env_id),
        kl_source="train",
        title=f"{variant.name}, seed {seed}\nepisode 0: {factors}",
    )
    _save_png(fig, path)


def _save_png(fig: Any, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())


# --------------------------------------------------------------------------------------------------
# the speed check: the real CLI


def speed_check(config: BenchConfig, data_dir: Path, dataset: Any, seed: int) -> dict[str, Any]:
    """Time ``python -m absaction train`` on the reach2d data with default settings (process start to
    exit, so imports, data loading and checkpoints count) and score the run it writes."""
    from absaction.models import load, read_config

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
    if proc.returncode == 2 and "invalid choice: 'train'" in proc.stderr:
        # this checkout has no `absaction train` yet: time the same library call in a fresh process
        code = (
            "import sys; from absaction.train import TrainConfig, fit; "
            "kw = dict(seed=int(sys.argv[2])); "
            "kw.update({} if sys.argv[4] == 'default' else {'epochs': int(sys.argv[4])}); "
            "fit(sys.argv[1], TrainConfig(**kw), sys.argv[3], progress=False)"
        )
        epochs = "default" if config.epochs is None else str(config.epochs)
        command = [sys.executable, "-c", code, os.fspath(data_dir), str(seed), os.fspath(run_dir), epochs]
        via = "python -c 'absaction.train.fit(...)' (this checkout has no `absaction train` command)"
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


_SPEED_KEYS = (
    "disentangled", "bulge_labelling", "recon_mse", "n_active",
    *(f"{what}_{f}" for f in ("target", *BULGE_LABELLINGS) for what in ("mig_active", "ladder", "latent")),
)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# aggregation, claims, capacity findings


#: numeric columns summarised with a mean and interval (those a row has)
SUMMARY_COLUMNS = ("train_wall_s", "train_loop_s", "seq_per_s", "recon_mse", "endpoint_error", "val_rmse",
                   "kl_total", "kl_l1", "kl_l2", "kl_l3", "active_l1", "active_l2", "active_l3", "n_active",
                   *(f"{metric}_avg_{lab}" for lab in ("bulge_out", "bulge_right", "all")
                     for metric in ("mig", "mig_active", "sap", "sap_active", "dci_d", "dci_c", "dci_i")),
                   "disentangled", "epochs_to_disentangled", "seconds_to_disentangled")  # fmt: skip


def factor_names_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The factors scored in ``rows``, in first-seen order (every scored factor has a ``ladder_<factor>``)."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(key[len("ladder_") :] for key in row if key.startswith("ladder_")))
    return list(names)


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per ``dataset/model``: mean and 95 % interval of every numeric column, and where each factor lives."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(f"{row['dataset']}/{row['model']}", []).append(row)
    summary: dict[str, dict[str, Any]] = {}
    for name, group in groups.items():
        factors = factor_names_of(group)
        stats: dict[str, Any] = {"n_runs": len(group), "metrics": {}, "factors": {}}
        for column in SUMMARY_COLUMNS:
            if any(column in r for r in group):
                stats["metrics"][column] = mean_interval(_num(r.get(column)) for r in group)
        for factor in factors:
            ladders = Counter(
                "none" if r.get(f"ladder_{factor}") in (None, "") else f"L{int(_num(r[f'ladder_{factor}']))}"
                for r in group
            )
            stats["factors"][factor] = {
                "mig": mean_interval(_num(r.get(f"mig_{factor}")) for r in group),
                "mig_active": mean_interval(_num(r.get(f"mig_active_{factor}")) for r in group),
                "mig_sampled": mean_interval(_num(r.get(f"mig_sampled_{factor}")) for r in group),
                "ladders": dict(ladders.most_common()),
            }
        summary[name] = stats
    return summary


def paper_claims(rows: Sequence[dict[str, Any]], dataset: str = "reach2d") -> list[dict[str, Any]]:
    """The two claims of issue 6 on a reaching ``dataset``, each with a verdict and the numbers behind
    it (the claim names the dataset unless it is reach2d)."""
    ladder = [r for r in rows if r["dataset"] == dataset and r["model"] == "tcvlae"]
    flat = [r for r in rows if r["dataset"] == dataset and r["model"] == "tcvae"]
    on = "" if dataset == "reach2d" else f" [{dataset} data]"
    claims: list[dict[str, Any]] = []
    if ladder:
        separated, where = 0, Counter[str]()
        for r in ladder:
            ok, lab = is_disentangled(r)
            lt, lb = r.get("ladder_target"), r.get(f"ladder_{lab}")
            if ok and lt != lb:
                separated += 1
                where[f"target L{lt}, {lab} L{lb}"] += 1
        n = len(ladder)
        verdict = "holds" if separated == n else ("partly holds" if separated else "does not hold")
        claims.append(
            {
                "claim": "(1) the ladder TCVLAE puts the target and the bulge in different ladders" + on,
                "verdict": verdict,
                "evidence": f"{separated}/{n} seeds have both factors in one active latent each "
                f"(active MIG >= {MIG_TARGET}) in different ladders"
                + (f" ({'; '.join(f'{k}: {v}' for k, v in where.most_common())})" if where else "")
                + "; the paper has target in ladder 3, bulge in ladder 2",
            }
        )
    if flat and ladder:

        def bulge(rs: Sequence[dict[str, Any]]) -> list[float]:
            return [max(_num(r.get(f"mig_active_{b}")) for b in BULGE_LABELLINGS) for r in rs]

        flat_b, ladder_b = mean_interval(bulge(flat)), mean_interval(bulge(ladder))
        clean_flat = sum(v >= MIG_TARGET for v in bulge(flat))
        clean_ladder = sum(v >= MIG_TARGET for v in bulge(ladder))
        # the claim is about the flat model alone; whether the ladder model does better is the context
        verdict = "holds" if 2 * clean_flat < len(flat) else "does not hold"
        context = (
            "the ladder model does capture it"
            if 2 * clean_ladder > len(ladder)
            else "but the ladder model does not capture it cleanly either"
        )
        claims.append(
            {
                "claim": "(2) without ladders (flat TCVAE) the bulge is not captured cleanly" + on,
                "verdict": verdict,
                "evidence": f"bulge active-unit MIG (better labelling): flat {_fmt_ci(flat_b)} vs ladder "
                f"{_fmt_ci(ladder_b)}; seeds with bulge MIG >= {MIG_TARGET}: flat {clean_flat}/{len(flat)}, "
                f"ladder {clean_ladder}/{len(ladder)} ({context})",
            }
        )
    return claims


def capacity_findings(curves: Sequence[dict[str, Any]], dataset: str) -> list[str]:
    """Plain sentences on what each capacity mode did to the KL, from the per-epoch curves."""
    by: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for c in curves:
        if c["dataset"] == dataset:
            by.setdefault((c["model"], int(c["seed"])), []).append(c)
    for series in by.values():
        series.sort(key=lambda c: int(c["epoch"]))

    def total_kl(model: str) -> dict[int, np.ndarray]:
        return {s: np.array([_num(c["kl"]) for c in v]) for (m, s), v in by.items() if m == model}

    findings: list[str] = []
    signed, none_, abs_, linear = (total_kl(m) for m in ("tcvlae", "beta-vae", "tcvlae-abs", "tcvlae-linear"))
    common = sorted(set(signed) & set(none_))
    if common:
        gap = max(float(np.max(np.abs(signed[s] - none_[s]))) for s in common)
        finals = mean_interval(signed[s][-1] for s in common), mean_interval(none_[s][-1] for s in common)
        same = (
            "identical (bit for bit)"
            if gap == 0.0
            else ("the same up to rounding" if gap < 1e-3 else "different")
        )
        findings.append(
            f"[{dataset}] adaptive beta (KL - C), C fixed within an epoch, vs plain beta-VAE with the same "
            f"seeds: total-KL curves {same}, max |difference| {gap:.3g} nats over {len(common)} seed(s) "
            f"(final KL {_fmt_ci(finals[0])} vs {_fmt_ci(finals[1])} nats). C only shifts the loss by a "
            "constant, so the gradient, and the model, are those of a plain beta-VAE."
        )
    paired = sorted(set(abs_) & set(signed))
    if paired:
        final_abs = mean_interval(abs_[s][-1] for s in paired)
        final_signed = mean_interval(signed[s][-1] for s in paired)
        # same seed, same initial weights and batches: the difference is the effect of the abs form
        gain = mean_interval(float(abs_[s][-1] - signed[s][-1]) for s in paired)

        def rise(curves: dict[int, np.ndarray]) -> float:
            return mean_interval(float(curves[s][-1] - curves[s][len(curves[s]) // 2]) for s in paired)[
                "mean"
            ]

        margin = 0.05 * max(final_signed["mean"], 1e-9)  # with one seed: at least 5 % above
        ratchet = gain["lo"] > 0 if gain["n"] >= 2 else gain["mean"] > margin
        findings.append(
            f"[{dataset}] adaptive beta |KL - C| (C = running mean of past KL): final total KL "
            f"{_fmt_ci(final_abs)} nats vs {_fmt_ci(final_signed)} with (KL - C), same seeds, difference "
            f"{_fmt_ci(gain)} nats; over the second half of training the KL changed by {rise(abs_):+.3g} "
            f"nats (vs {rise(signed):+.3g}). "
            + (
                "It ratchets the KL upward: whenever KL dips below its own running mean the penalty pushes "
                "it back up, while rises are only pulled back towards a mean that follows them."
                if ratchet
                else "No upward ratchet beyond the seed-to-seed spread at this training length."
            )
        )
    if linear:
        rows = [by[("tcvlae-linear", s)] for s in sorted(linear)]
        last = [r[max(0, len(r) - max(1, len(r) // 5)) :] for r in rows]  # final fifth of the epochs
        off = mean_interval(
            float(np.mean([abs(_num(c["kl"]) - _num(c["c_total"])) for c in part])) for part in last
        )
        cmax = mean_interval(_num(r[-1]["c_total"]) for r in rows)
        tracks = off["mean"] <= 0.1 * cmax["mean"]
        findings.append(
            f"[{dataset}] linear (Burgess) |KL - C| on the total KL, C_max {cmax['mean']:.3g} nats: over the "
            f"last fifth of training the total KL is {_fmt_ci(off)} nats away from C. "
            + (
                "The KL follows the schedule: C, not the data, sets how much information the code holds, "
                "and how it is split across the ladders is left free."
                if tracks
                else "The KL does not follow the schedule closely at this training length."
            )
        )
    return findings


# --------------------------------------------------------------------------------------------------
# figures


def capacity_plot(curves: Sequence[dict[str, Any]], dataset: str, path: Path) -> bool:
    """KL (solid) and C (dashed) per ladder over epochs: rows = capacity modes, columns = ladders + total.
    Thin lines are seeds, thick lines their mean. Returns False when there is nothing to draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    modes = [v for v in VARIANTS if v.capacity_study and any(
        c["model"] == v.name and c["dataset"] == dataset for c in curves)]  # fmt: skip
    if not modes:
        return False
    n_ladders = max(
        int(k[4:])
        for c in curves
        if c["dataset"] == dataset
        for k in c
        if k.startswith("kl_l") and k[4:].isdigit()
    )
    columns = [*(f"l{i}" for i in range(1, n_ladders + 1)), "total"]
    fig = Figure(figsize=(3.0 * len(columns), 2.3 * len(modes) + 0.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(modes), len(columns), squeeze=False, sharex=True)
    for r, variant in enumerate(modes):
        series: dict[int, list[dict[str, Any]]] = {}
        for c in curves:
            if c["dataset"] == dataset and c["model"] == variant.name:
                series.setdefault(int(c["seed"]), []).append(c)
        for col, name in enumerate(columns):
            ax = axes[r, col]
            kl_key, c_key = ("kl", "c_total") if name == "total" else (f"kl_{name}", f"c_{name}")
            kls, cs = [], []
            for rows in series.values():
                rows.sort(key=lambda c: int(c["epoch"]))
                epochs = np.array([int(c["epoch"]) for c in rows])
                kl = np.array([_num(c.get(kl_key)) for c in rows])
                cap = np.array([_num(c.get(c_key)) for c in rows])
                ax.plot(epochs, kl, color="tab:blue", lw=0.6, alpha=0.35)
                ax.plot(epochs, cap, color="tab:orange", lw=0.6, alpha=0.35, ls="--")
                kls.append(kl)
                cs.append(cap)
            length = min(len(k) for k in kls)
            epochs = np.arange(1, length + 1)
            ax.plot(
                epochs, np.nanmean([k[:length] for k in kls], axis=0), color="tab:blue", lw=1.6, label="KL"
            )
            c_mean = np.array([c[:length] for c in cs])
            if np.isfinite(c_mean).any():
                ax.plot(epochs, np.nanmean(c_mean, axis=0), color="tab:orange", lw=1.6, ls="--", label="C")
            ax.grid(True, lw=0.3, alpha=0.5)
            if r == 0:
                ax.set_title(
                    "total (sum of ladders)" if name == "total" else f"ladder {name[1:]}", fontsize=9
                )
            if col == 0:
                ax.set_ylabel(f"{variant.name}\n{variant.capacity}\nnats", fontsize=8)
            if r == len(modes) - 1:
                ax.set_xlabel("epoch", fontsize=8)
    axes[0, 0].legend(fontsize=7, frameon=False)
    fig.suptitle(
        f"{dataset}: KL (solid) and capacity C (dashed) per ladder; thin = seeds, thick = mean", fontsize=10
    )
    _save_png(fig, path)
    return True


# --------------------------------------------------------------------------------------------------
# tables


def _fmt(value: float, digits: int = 3) -> str:
    if not math.isfinite(value):
        return "n/a"
    if abs(value) < 1e-9:  # MIG of an exactly uninformative code comes out as +-1e-16 rounding
        return "0"
    if abs(value) >= 10 ** (digits + 1) or abs(value) < 1e-3:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def _fmt_ci(stat: dict[str, Any], digits: int = 3) -> str:
    """``mean ± half-width`` of the 95 % interval (just the mean for one seed)."""
    if not math.isfinite(stat["mean"]):
        return "n/a"
    if not math.isfinite(stat["half"]):
        return _fmt(stat["mean"], digits)
    return f"{_fmt(stat['mean'], digits)} ± {_fmt(stat['half'], 2)}"


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
        kl = "/".join(_fmt(get(f"kl_l{i}")["mean"], 2) for i in ladders)
        active = "/".join(_fmt(get(f"active_l{i}")["mean"], 2) for i in ladders)
        cells = [model, str(stats["n_runs"]), _fmt_ci(get("train_wall_s")), _fmt_ci(get("seq_per_s")),
                 _fmt_ci(get("recon_mse")), kl, active]  # fmt: skip
        cells += [_fmt_ci(get(f"mig_active_avg_{lab}")) for lab in labs]
        cells += [_fmt_ci(get(f"sap_avg_{lab}")) for lab in labs[:1]]
        cells += [_fmt_ci(get(f"dci_d_avg_{lab}")) for lab in labs[:1]]
        for f in factors:
            info = stats["factors"].get(f)
            if info is None:
                cells.append("n/a")
                continue
            sampled = _fmt(info["mig_sampled"]["mean"], 2)
            cells.append(f"{_fmt_ci(info['mig_active'])} [s {sampled}] ({_ladders(stats, f)})")
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
        f"Written by `python benchmarks/bench_vae.py` ({summary_doc['machine']['cpu_count']} CPU cores, "
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
        lines += ["## Speed target (issue 7)", ""]
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
                f"{_fmt(_num(s.get('mig_active_target')))} (L{s.get('ladder_target')}) | "
                f"{_fmt(_num(s.get(f'mig_active_{lab}')))} {lab} (L{s.get(f'ladder_{lab}')}) | {s['via']} |"
            )
        agg = summary_doc["speed_summary"]
        lines += ["", f"Wall time {_fmt_ci(agg['wall_s'])} s; disentangled in {agg['disentangled']}; "
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
    from rich.console import Console
    from rich.table import Table

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


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Rows with possibly different keys: the header is the union, in first-seen order."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


# --------------------------------------------------------------------------------------------------
# main


def run_benchmark(config: BenchConfig) -> dict[str, Any]:
    """Run everything ``config`` asks for and write the outputs; returns the summary document."""
    import torch
    from tqdm.auto import tqdm

    from absaction.data import load_dataset

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
    datasets = {key: load_dataset(path) for key, path in data_dirs.items()}
    variants = [VARIANT_BY_NAME[name] for name in config.models]
    seeds = list(range(config.seeds))
    speed_seeds = seeds if config.speed_check and "reach2d" in config.datasets else []
    jobs = [(key, v, s) for key in config.datasets for s in seeds for v in variants]
    rows: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    speed: list[dict[str, Any]] = []
    traversals: dict[str, str] = {}
    bar = tqdm(total=len(jobs) + len(speed_seeds), unit="run", desc="bench_vae", file=sys.stderr,
               disable=not config.progress)  # fmt: skip
    try:
        for key, variant, seed in jobs:
            bar.set_postfix_str(f"{key} {variant.name} seed {seed}", refresh=True)
            figure_dir = (
                config.out / "traversals"
                if config.figures and DATASETS[key].reaching and seed == seeds[0]
                else None
            )
            row, run_curves = run_one(config, key, data_dirs[key], datasets[key], variant, seed, figure_dir)
            rows.append(row)
            curves.extend(run_curves)
            if figure_dir is not None:
                traversals[f"{key}_{variant.name}"] = f"traversals/{key}_{variant.name}.png"
            bar.update(1)
        for seed in speed_seeds:
            bar.set_postfix_str(f"absaction train seed {seed}", refresh=True)
            speed.append(speed_check(config, data_dirs["reach2d"], datasets["reach2d"], seed))
            bar.update(1)
    finally:
        bar.close()

    capacity_pngs: dict[str, str] = {}
    findings: list[str] = []
    for key in config.datasets:
        findings += capacity_findings(curves, key)
        if config.figures and capacity_plot(curves, key, config.out / f"capacity_{key}.png"):
            capacity_pngs[key] = f"capacity_{key}.png"
    ok_speed = [s for s in speed if "error" not in s]
    summary_doc: dict[str, Any] = {
        "config": _jsonable(dataclasses.asdict(config)),
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
                "path": os.fspath(data_dirs[key]),
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
    atomic_write_json(config.out / SUMMARY_JSON, _finite(summary_doc))
    atomic_write_text(config.out / SUMMARY_MD, markdown(summary_doc))
    return summary_doc


def _finite(obj: Any) -> Any:
    """NaN/inf -> None, so summary.json is strict JSON."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _name_list(choices: Sequence[str], what: str) -> Any:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in choices]
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or text!r}; choose from {', '.join(choices)}"
            )
        return names

    return parse


def _setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` for a TrainConfig field, the value parsed as JSON when it can be (numbers, lists)."""
    from absaction.train import TrainConfig

    key, sep, value = text.partition("=")
    names = {f.name for f in dataclasses.fields(TrainConfig)} - {"model", "seed", "capacity", "threads"}
    if not sep or key not in names:
        raise argparse.ArgumentTypeError(
            f"expected KEY=VALUE with KEY one of {', '.join(sorted(names))}, got {text!r}"
        )
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    defaults = BenchConfig()
    parser = argparse.ArgumentParser(
        prog="bench_vae.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=defaults.out, help="output folder")
    parser.add_argument(
        "--seeds", type=_positive, default=defaults.seeds, help="training seeds per model and dataset"
    )
    parser.add_argument("--datasets", type=_name_list(tuple(DATASETS), "dataset"), default=None,
                        help=f"comma-separated, from {', '.join(DATASETS)} (default: "
                        f"{','.join(defaults.datasets)}, plus paths when --paths is given)")  # fmt: skip
    parser.add_argument("--paths", type=Path, default=None, metavar="FILE.npz",
                        help="recorded way-points (N, P, 2) for the paths dataset, e.g. the public FAVAE "
                        "2D Reaching reaching_100.npz (tracked in absaction/Reach2D-v0)")  # fmt: skip
    parser.add_argument("--models", type=_name_list(tuple(VARIANT_BY_NAME), "model"), default=defaults.models,
                        help=f"comma-separated, from {', '.join(VARIANT_BY_NAME)}")  # fmt: skip
    parser.add_argument(
        "--epochs", type=_positive, default=None, help="training epochs (default: the library's)"
    )
    parser.add_argument("--reach-episodes", type=_positive, default=defaults.reach_episodes)
    parser.add_argument("--wavy-episodes", type=_positive, default=defaults.wavy_episodes)
    parser.add_argument("--data-seed", type=int, default=defaults.data_seed)
    parser.add_argument(
        "--noise", type=float, default=defaults.noise, help="expert action noise std, action units"
    )
    parser.add_argument(
        "--linear-cmax", type=float, default=defaults.linear_cmax, help="C_max (nats) of tcvlae-linear"
    )
    parser.add_argument("--threads", type=_positive, default=defaults.threads, help="torch threads per run")
    parser.add_argument("--set", dest="overrides", type=_setting, action="append", default=[],
                        metavar="KEY=VALUE", help="TrainConfig field of every run, e.g. beta=50")  # fmt: skip
    parser.add_argument("--no-speed-check", dest="speed_check", action="store_false",
                        help="skip timing `absaction train`")  # fmt: skip
    parser.add_argument("--track-every", type=int, default=0, metavar="K",
                        help="score reach2d runs every K epochs (first disentangled epoch)")  # fmt: skip
    parser.add_argument("--no-figures", dest="figures", action="store_false", help="skip the PNG figures")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 seed, 3 epochs, 24 episodes")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--force", action="store_true", help="replace existing results, rerun every run")
    group.add_argument("--resume", action="store_true", help="reuse finished runs whose settings match")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    datasets = args.datasets or (DEFAULT_DATASETS + (("paths",) if args.paths else ()))
    if "paths" in datasets and args.paths is None:
        parser.error("the paths dataset needs --paths FILE.npz (e.g. the FAVAE 2D Reaching reaching_100.npz)")
    config = BenchConfig(
        out=args.out,
        seeds=args.seeds,
        datasets=datasets,
        paths_file=args.paths,
        models=args.models,
        epochs=args.epochs,
        reach_episodes=args.reach_episodes,
        wavy_episodes=args.wavy_episodes,
        data_seed=args.data_seed,
        noise=args.noise,
        linear_cmax=args.linear_cmax,
        threads=args.threads,
        overrides=dict(args.overrides),
        speed_check=args.speed_check,
        track_every=args.track_every,
        figures=args.figures,
        force=args.force,
        resume=args.resume,
        progress=args.progress,
    )
    if args.quick:
        config = quick_config(config)
    try:
        summary_doc = run_benchmark(config)
    except AbsactionError as err:
        print(f"bench_vae: error: {err}", file=sys.stderr)
        return 2
    print_tables(summary_doc)
    print(f"wrote {config.out / SUMMARY_MD}, {RESULTS_CSV}, {CURVES_CSV}, {SUMMARY_JSON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
