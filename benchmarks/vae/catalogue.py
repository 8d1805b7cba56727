"""What the VAE benchmark compares: model variants, datasets, the settings of one call and its presets.

Torch-free (``python -m benchmarks.vae --help`` reads its choices and defaults from here). Every other
module of :mod:`benchmarks.vae` imports this one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("benchmarks") / "results" / "vae"
"""Where the committed results live, relative to the repository root."""
RESULTS_CSV = "results.csv"
CURVES_CSV = "capacity_curves.csv"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
RUN_RECORD = "bench.json"  # inside every run folder: the run's result row and curves, for --resume
MIG_TARGET = 0.9  # the study's disentanglement target: "active-unit MIG >= 0.9"
SPEED_TARGET_S = 15.0  # the study's speed target: "in at most 15 seconds of wall time on 2 cores"
BULGE_LABELLINGS = ("bulge_out", "bulge_right")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One model setting of the comparison."""

    name: str
    """label in every table and file name"""
    model: str
    """registered model name (``absaction.models.MODELS``)"""
    capacity: str
    """``--capacity`` spec; ``linear`` is completed at run time (see :func:`~.runs.linear_capacity`)"""
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
class VAEBenchConfig:
    """Settings of one VAE study call (written to ``summary.json``); ``python -m benchmarks.vae`` reads
    its defaults from here."""

    out: Path = DEFAULT_OUT
    """output folder (default relative to the working directory: run from the repository root)"""
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
    threads: int = 1
    """torch threads per training run (one, as every other command: the default model's layers are too small
    to split across cores, see TrainConfig.threads)"""
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
    """replace existing results and rerun every run"""
    resume: bool = False
    """reuse the finished runs whose settings match (their records in ``OUT/work/runs``)"""
    progress: bool = True
    """show a progress bar on stderr"""


QUICK_SIZES: dict[str, Any] = {
    "seeds": 1,
    "epochs": 3,
    "reach_episodes": 24,
    "wavy_episodes": 24,
    "linear_cmax": 2.0,
}
"""The ``--quick`` preset: VAEBenchConfig fields it replaces (a smoke test, not a measurement)."""


def quick_config(config: VAEBenchConfig) -> VAEBenchConfig:
    """``config`` with the ``--quick`` sizes (:data:`QUICK_SIZES`): 1 seed, 3 epochs, tiny datasets."""
    return dataclasses.replace(config, quick=True, **QUICK_SIZES)


def dataset_episodes(config: VAEBenchConfig, key: str) -> int:
    """Episodes collected for dataset ``key`` under ``config``."""
    return config.wavy_episodes if key == "wavy" else config.reach_episodes
