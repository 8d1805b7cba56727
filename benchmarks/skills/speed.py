"""The skill-speed study: training time on 200k transitions and the cost of one decoded action.

The study's targets: training on 200k transitions in at most 2 minutes on 2 CPU cores, and one primitive
action decoded in at most 0.2 ms. Two recipes are measured side by side in one run:

- ``baseline``: the first skill defaults (GRU posterior, stride 1, batches of 256, lr 1e-3, 30 epochs,
  1 thread; ``decode_step`` through torch). It is trained for as long as the new recipe took (whole
  epochs, at least one), its 30-epoch time extrapolated from its epoch time;
- ``defaults``: :class:`~absaction.train.skill_loop.SkillTrainConfig`'s defaults now (MLP posterior,
  stride 2, batches of 1024, lr 2e-3, 40 epochs, 1 thread; the NumPy
  :class:`~absaction.models.skill.StepDecoder`).

Both are judged on the same held-out windows (the run's validation episodes cut at stride 1): the
closed-loop reconstruction error on the recorded states and the prior's NLL.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from absaction.analysis.skills import prior_nll, reconstruction
from absaction.data import load_dataset
from absaction.data.collect import CollectConfig, collect
from absaction.models import load
from absaction.models.skill import SkillModel
from absaction.threads import torch_threads
from absaction.train.skill_loop import SkillTrainConfig, fit_skills, skill_windows_for

TRAIN_TARGET_S = 120.0
"""seconds allowed for training on 200k transitions (2 CPU cores)"""
DECODE_TARGET_MS = 0.2
"""milliseconds allowed per decoded action"""
BASELINE = SkillTrainConfig(
    encoder="gru", stride=1, batch_size=256, lr=1e-3, epochs=30, threads=1, checkpoint_every=1
)
"""the first pass's defaults (a checkpoint every epoch, so a run stopped at the time budget keeps its last)"""


@dataclasses.dataclass
class SkillSpeedConfig:
    """What the benchmark runs."""

    out: Path
    """folder of the results (``speed.json``, ``speed.png``)"""
    work: Path
    """scratch folder for the dataset and the run folders"""
    episodes: int = 6250
    """play episodes of 32 steps to collect (6250 = 200k transitions)"""
    decode_calls: int = 20_000
    """decoded actions per timing repeat"""
    repeats: int = 5
    """timing repeats (the median is reported)"""
    seed: int = 0
    """seed of the data and the runs"""


def time_per_call(call: Callable[[], Any], calls: int, repeats: int) -> float:
    """Median over ``repeats`` of the mean milliseconds of ``calls`` calls (after 200 warm-up calls)."""
    for _ in range(200):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        samples.append((time.perf_counter() - started) / calls * 1e3)
    return statistics.median(samples)


def decode_timings(model: SkillModel, calls: int, repeats: int, seed: int = 0) -> dict[str, float]:
    """Milliseconds per action of one observation (batch of 1): ``torch`` (:meth:`SkillModel.decode_step`
    on numpy inputs, the way an env loop calls it) and ``numpy`` (:meth:`SkillModel.step_decoder`)."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(1, model.obs_dim)).astype(np.float32)
    z = rng.normal(size=(1, model.z_dim)).astype(np.float32)
    step = model.step_decoder()
    with torch_threads(1):  # one action per call: a second thread only adds overhead
        return {
            # the observation is its own origin: the work is the same in either frame
            "torch": time_per_call(lambda: model.decode_step(obs, z, obs), calls, repeats),
            "numpy": time_per_call(lambda: step(obs[0], z[0], obs[0]), calls, repeats),
        }


def _judge(model: SkillModel, held_out: Any) -> dict[str, float]:
    recon = reconstruction(model, held_out)
    return {
        "val_rmse": recon["rmse"],
        "val_max_abs": recon["max_abs"],
        "val_prior_nll": prior_nll(model, held_out),
    }


def run_skill_speed(config: SkillSpeedConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Collect the play data, train both recipes, time their decoders; returns the JSON-able record."""
    data = config.work / "play"
    if not data.exists():
        log(f"collecting {config.episodes} play episodes ...")
        collect(
            CollectConfig(
                env_id="absaction/Reach2DPlay-v0",
                episodes=config.episodes,
                out=data,
                seed=config.seed,
                progress=False,
            )
        )
    dataset = load_dataset(data)
    transitions = int(sum(len(ep) for ep in dataset.episodes))
    # the same held-out windows for both: the runs' validation episodes (same fraction and seed), stride 1
    windows = skill_windows_for(dataset, dataclasses.replace(SkillTrainConfig(seed=config.seed), stride=1))
    _, held_out = windows.split_by_episode(SkillTrainConfig().val_fraction, config.seed)

    log("training the defaults ...")
    started = time.perf_counter()
    new = fit_skills(data, SkillTrainConfig(seed=config.seed), config.work / "defaults", force=True)
    new_wall = time.perf_counter() - started
    new_model = new.model
    assert isinstance(new_model, SkillModel)
    new_decode = decode_timings(new_model, config.decode_calls, config.repeats, config.seed)
    new_row: dict[str, Any] = {
        "config": new.model.config.to_dict() | {"train": SkillTrainConfig(seed=config.seed).to_dict()},
        "epochs": len(new.metrics),
        "train_seconds": new.seconds,
        "wall_seconds": new_wall,
        "epoch_seconds": new.seconds / max(len(new.metrics), 1),
        **_judge(new_model, held_out),
        "decode_ms": new_decode,
    }

    log(f"training the baseline for about {new.seconds:.0f} s ...")
    budget = new.seconds
    spent: list[float] = []

    def stop_at_budget(epoch: int, row: dict[str, Any]) -> None:
        spent.append(row["seconds"])
        if sum(spent) >= budget:
            raise KeyboardInterrupt  # the run folder keeps this epoch's checkpoint

    baseline_config = dataclasses.replace(BASELINE, seed=config.seed)
    run_dir = config.work / "baseline"
    try:
        fit_skills(data, baseline_config, run_dir, force=True, epoch_callback=stop_at_budget)
    except KeyboardInterrupt:
        pass
    baseline = load(run_dir, allow_incomplete=True)  # stopped by the time budget on purpose
    assert isinstance(baseline, SkillModel)
    epoch_seconds = statistics.mean(spent)
    base_row = {
        "config": baseline.config.to_dict() | {"train": baseline_config.to_dict()},
        "epochs": len(spent),
        "train_seconds": sum(spent),
        "epoch_seconds": epoch_seconds,
        "full_run_seconds_estimate": epoch_seconds * baseline_config.epochs,
        **_judge(baseline, held_out),
        "decode_ms": decode_timings(baseline, config.decode_calls, config.repeats, config.seed),
    }
    return {
        "transitions": transitions,
        "episodes": len(dataset.episodes),
        "held_out_windows": len(held_out),
        "torch_threads_available": torch.get_num_threads(),
        "targets": {"train_seconds": TRAIN_TARGET_S, "decode_ms": DECODE_TARGET_MS},
        "baseline": base_row,
        "defaults": new_row,
        "met": {
            "train": new.seconds <= TRAIN_TARGET_S,
            "decode": new_decode["numpy"] <= DECODE_TARGET_MS,
        },
    }


def speed_table(record: dict[str, Any]) -> str:
    """The record as a plain-text table (one row per measurement, baseline and defaults side by side)."""
    base, new = record["baseline"], record["defaults"]
    rows = [
        (
            "training, s (target <= 120)",
            f"{base['full_run_seconds_estimate']:.0f} (est. 30 ep)",
            f"{new['train_seconds']:.0f}",
        ),
        ("seconds per epoch", f"{base['epoch_seconds']:.1f}", f"{new['epoch_seconds']:.1f}"),
        ("epochs trained here", str(base["epochs"]), str(new["epochs"])),
        ("held-out RMSE (action units)", f"{base['val_rmse']:.4f}", f"{new['val_rmse']:.4f}"),
        ("held-out prior NLL (nats)", f"{base['val_prior_nll']:.2f}", f"{new['val_prior_nll']:.2f}"),
        ("decode_step (torch), ms", f"{base['decode_ms']['torch']:.4f}", f"{new['decode_ms']['torch']:.4f}"),
        ("step_decoder (numpy), ms", f"{base['decode_ms']['numpy']:.4f}", f"{new['decode_ms']['numpy']:.4f}"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':{width}}  {'baseline':>18}  {'defaults':>10}"]
    lines += [f"{name:{width}}  {b:>18}  {n:>10}" for name, b, n in rows]
    return "\n".join(lines)


def plot_speed(record: dict[str, Any], path: Path) -> Path:
    """Three panels: training time, held-out RMSE, decode time (targets dashed)."""
    import matplotlib  # plotting only here

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base, new = record["baseline"], record["defaults"]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    axes[0].bar(
        ["baseline\n(est. 30 ep)", "defaults"], [base["full_run_seconds_estimate"], new["train_seconds"]]
    )
    axes[0].axhline(TRAIN_TARGET_S, ls="--", c="k", lw=1)
    axes[0].set_ylabel(f"training s, {record['transitions'] // 1000}k transitions")
    axes[0].set_yscale("log")
    axes[1].bar(
        [f"baseline\n({base['epochs']} ep)", f"defaults\n({new['epochs']} ep)"],
        [base["val_rmse"], new["val_rmse"]],
    )
    axes[1].set_ylabel("held-out closed-loop RMSE")
    labels = ["baseline\ntorch", "defaults\ntorch", "defaults\nnumpy"]
    values = [base["decode_ms"]["torch"], new["decode_ms"]["torch"], new["decode_ms"]["numpy"]]
    axes[2].bar(labels, values)
    axes[2].axhline(DECODE_TARGET_MS, ls="--", c="k", lw=1)
    axes[2].set_ylabel("ms per decoded action")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
