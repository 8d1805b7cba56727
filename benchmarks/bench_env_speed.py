"""Environment throughput: steps per second of every Reach2D variant beside gymnasium's Pendulum-v1.

Every env is made with ``gymnasium.make`` (so all carry the same wrappers: passive env checker,
order enforcing, time limit), stepped with pre-drawn uniform random actions, and reset whenever an
episode ends; resets are part of the timed loop, as in real training. Repeats are interleaved
(round-robin over the envs) so a slow moment of a shared machine hits every env alike; the median
repeat is reported. Target: Reach2D-v0 at least as fast as Pendulum-v1 (a toy world must not be the
bottleneck of a sweep).

Usage::

    python benchmarks/bench_env_speed.py                 # 100k steps x 5 repeats per env
    python benchmarks/bench_env_speed.py --quick --out /tmp/env_speed   # smoke test, a few seconds

Writes ``OUT.csv``, ``OUT.json`` (results + machine + configuration) and ``OUT.png`` (bar chart);
existing files are refused unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
from rich.console import Console
from rich.table import Table

import absaction
from absaction.envs import ENV_IDS
from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes, atomic_write_json, atomic_write_text, check_new_output

REFERENCE_ID = "Pendulum-v1"
TARGET_ID = "absaction/Reach2D-v0"


@dataclasses.dataclass
class EnvSpeedConfig:
    """Configuration of one throughput run (written to the JSON output)."""

    steps: int = 100_000
    """Timed environment steps per env and repeat."""
    repeats: int = 5
    """Interleaved repeats per env; the median is reported."""
    warmup: int = 1_000
    """Untimed steps per env before the first repeat (imports, caches, the passive checker's first call)."""
    seed: int = 0
    """Seed of the env resets and of the random actions."""
    env_ids: tuple[str, ...] = (REFERENCE_ID, *ENV_IDS)
    """Environments to time; the reference comes first."""


@dataclasses.dataclass
class EnvSpeed:
    env_id: str
    steps_per_s_median: float
    steps_per_s_min: float
    steps_per_s_max: float
    episodes_per_repeat: float
    ratio_vs_reference: float = float("nan")


def time_env(env: gym.Env, actions: np.ndarray) -> tuple[float, int]:
    """Step ``env`` through ``actions`` (N, A), resetting on episode end; returns (seconds, episodes)."""
    episodes = 0
    step = env.step
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            env.reset()
            episodes += 1
    return time.perf_counter() - start, episodes


def random_actions(env: gym.Env, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform actions inside the env's Box action space, shape (n, *action_shape), its dtype."""
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise AbsactionError(
            f"{env.spec.id if env.spec else env} has a non-Box action space", "time Box envs only"
        )
    draws = rng.uniform(space.low, space.high, size=(n, *space.shape))
    return draws.astype(space.dtype)


def run(config: EnvSpeedConfig) -> list[EnvSpeed]:
    """Time every env of ``config``; the first one is the reference for the ratios."""
    rng = np.random.default_rng(config.seed)
    envs: dict[str, gym.Env] = {}
    actions: dict[str, np.ndarray] = {}
    for env_id in config.env_ids:
        env = gym.make(env_id)
        env.reset(seed=config.seed)
        time_env(env, random_actions(env, config.warmup, rng))
        envs[env_id] = env
        actions[env_id] = random_actions(env, config.steps, rng)
    rates: dict[str, list[float]] = {env_id: [] for env_id in config.env_ids}
    episodes: dict[str, list[int]] = {env_id: [] for env_id in config.env_ids}
    for _ in range(config.repeats):
        for env_id, env in envs.items():  # round-robin: machine noise spreads over all envs
            seconds, n_episodes = time_env(env, actions[env_id])
            rates[env_id].append(config.steps / seconds)
            episodes[env_id].append(n_episodes)
    for env in envs.values():
        env.close()
    results = [
        EnvSpeed(
            env_id=env_id,
            steps_per_s_median=statistics.median(rates[env_id]),
            steps_per_s_min=min(rates[env_id]),
            steps_per_s_max=max(rates[env_id]),
            episodes_per_repeat=statistics.mean(episodes[env_id]),
        )
        for env_id in config.env_ids
    ]
    reference = results[0].steps_per_s_median
    for result in results:
        result.ratio_vs_reference = result.steps_per_s_median / reference
    return results


def to_csv(results: Sequence[EnvSpeed]) -> str:
    buffer = io.StringIO()
    fields = [f.name for f in dataclasses.fields(EnvSpeed)]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for result in results:
        writer.writerow(dataclasses.asdict(result))
    return buffer.getvalue()


def bar_chart(results: Sequence[EnvSpeed], reference_id: str) -> bytes:
    """A horizontal bar chart of the median steps/s (PNG bytes); the reference bar is grey."""
    plt.switch_backend("Agg")  # headless: PNG bytes, never a window

    names = [r.env_id.removeprefix("absaction/") for r in results]
    rates = [r.steps_per_s_median / 1000 for r in results]  # thousand steps per second
    colors = ["#999999" if r.env_id == reference_id else "#1f77b4" for r in results]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(results) + 1.2))
    bars = ax.barh(names[::-1], rates[::-1], color=colors[::-1])
    for bar, result in zip(bars, results[::-1], strict=True):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" x{result.ratio_vs_reference:.2f}",
            va="center",
        )
    ax.set_xlabel(f"median env steps per second (thousands); label: ratio to {reference_id}")
    ax.set_xlim(0, max(rates) * 1.2)
    ax.set_title("Single-env throughput with random actions")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return buffer.getvalue()


def machine_info() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "gymnasium": gym.__version__,
        "absaction": absaction.__version__,
    }


def print_table(results: Sequence[EnvSpeed], reference_id: str) -> None:

    table = Table(title=f"Env steps per second (ratio vs {reference_id})")
    for column in ("env", "median steps/s", "min", "max", "ratio"):
        table.add_column(column, justify="left" if column == "env" else "right")
    for r in results:
        table.add_row(
            r.env_id,
            f"{r.steps_per_s_median:,.0f}",
            f"{r.steps_per_s_min:,.0f}",
            f"{r.steps_per_s_max:,.0f}",
            f"{r.ratio_vs_reference:.2f}",
        )
    Console().print(table)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--steps", type=int, default=EnvSpeedConfig.steps, help="timed steps per env and repeat"
    )
    parser.add_argument(
        "--repeats", type=int, default=EnvSpeedConfig.repeats, help="interleaved repeats per env"
    )
    parser.add_argument("--seed", type=int, default=EnvSpeedConfig.seed, help="seed of resets and actions")
    parser.add_argument("--quick", action="store_true", help="smoke test: 5,000 steps x 2 repeats")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/env_speed"),
        help="output path prefix: writes OUT.csv, OUT.json and OUT.png",
    )
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.steps < 1 or args.repeats < 1:
            raise AbsactionError("--steps and --repeats must be >= 1", "pass positive numbers")
        config = EnvSpeedConfig(steps=args.steps, repeats=args.repeats, seed=args.seed)
        if args.quick:
            config = dataclasses.replace(config, steps=5_000, repeats=2, warmup=200)
        outputs = {ext: args.out.with_name(args.out.name + ext) for ext in (".csv", ".json", ".png")}
        for path in outputs.values():
            check_new_output(path, args.force, what="output file")
        results = run(config)
    except AbsactionError as err:
        print(f"bench_env_speed: error: {err}", file=sys.stderr)
        return 2
    print_table(results, REFERENCE_ID)
    target = next(r for r in results if r.env_id == TARGET_ID)
    met = target.ratio_vs_reference >= 1.0
    verdict = "met" if met else "NOT met"
    print(f"target {TARGET_ID} >= {REFERENCE_ID}: {verdict} (x{target.ratio_vs_reference:.2f})")
    atomic_write_text(outputs[".csv"], to_csv(results))
    atomic_write_json(
        outputs[".json"],
        {
            "config": dataclasses.asdict(config),
            "quick": bool(args.quick),
            "machine": machine_info(),
            "reference": REFERENCE_ID,
            "target": {"env_id": TARGET_ID, "ratio": target.ratio_vs_reference, "met": met},
            "results": [dataclasses.asdict(r) for r in results],
        },
    )
    atomic_write_bytes(outputs[".png"], bar_chart(results, REFERENCE_ID))
    print(f"wrote {', '.join(str(p) for p in outputs.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
