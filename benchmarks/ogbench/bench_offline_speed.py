"""Speed of the offline agents at OGBench's published size, one thread: gradient updates per second of
absaction's trainer against a bare PyTorch loop over the same networks and batch (the floor), for GCBC
and GCIVL; and the time of one OGBench evaluation (5 tasks x 50 episodes) of the medium maze.

- **trainer**: the training engine (:func:`absaction.train.engine.train` on
  :class:`absaction.offline.runs.OfflineKind`) as ``absaction offline`` runs it (batches of
  goal-conditioned transitions drawn from the dataset every step, the agent's update with the engine's
  Adam, the per-step metric sums, a metrics row every 10 steps, the progress bar); no evaluation or
  checkpoint falls inside the timed steps (a run does those every 5,000 or 100,000 steps).
- **floor**: one batch drawn once and reused; the agent's own losses, ``backward``, ``torch.optim.Adam``
  (multi-tensor) and the target update; nothing else.
- **evaluation**: :class:`absaction.offline.evaluation.Evaluator` on ``ogbench:pointmaze-medium-v0``,
  50 episodes of each of the 5 tasks, once with an untrained 512x3 GCIVL actor (it reaches no goal, so
  all 250 episodes run their full 1000 steps: the worst case) and once with OGBench's noise-free oracle
  direction (episodes end at the goal, as a good agent's do).

The two loops run in alternating rounds (``updates`` timed updates each, in ``rounds`` rounds, after
``warmup`` untimed ones) and the median round is reported, so a shared machine's changing load hits both
alike. Targets: trainer overhead <= 10 % over the floor; an update at most 44 ms (GCBC) and 299 ms (GCIVL);
the evaluation <= 30 s.

Usage::

    python benchmarks/ogbench/bench_offline_speed.py             # 5 warm-up + 3 x 10 timed updates per agent
    python benchmarks/ogbench/bench_offline_speed.py --quick --out /tmp/offline_speed   # smoke test

Writes ``OUT.json`` (results, machine, configuration) and ``OUT.png``; existing files are refused unless
``--force`` is given. Needs the regenerated dataset (``absaction collect --env ogbench:pointmaze-medium-v0
--expert oracle:stitch --out ~/.ogbench/data``).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import absaction
from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes, atomic_write_json, check_new_output
from absaction.offline.agent import TensorBatch
from absaction.offline.configs import OfflineConfig, agent_config
from absaction.offline.data import load_offline_data, maze_layout
from absaction.offline.evaluation import Evaluator
from absaction.offline.networks import soft_update
from absaction.offline.persistence import build_agent
from absaction.offline.runs import OfflineKind, goal_sampler
from absaction.train import engine

OUT = Path(__file__).resolve().parent / "results" / "offline_speed"
TARGET_MS = {"gcbc": 44.0, "gcivl": 299.0}
"""Most milliseconds an update of the trainer may take on one core."""
OVERHEAD_TARGET = 0.10
EVAL_TARGET_S = 30.0


@dataclasses.dataclass
class SpeedConfig:
    """Configuration of one speed run (written to the JSON output)."""

    dataset: str = "pointmaze-medium-stitch-v0"
    """OGBench dataset the trainer draws its batches from"""
    agents: tuple[str, ...] = ("gcbc", "gcivl")
    """agents timed"""
    preset: str = "paper"
    """agent sizes: OGBench's (batch 1024, 512x3 MLPs)"""
    warmup: int = 5
    """untimed updates first"""
    updates: int = 30
    """timed updates per agent and loop, in ``rounds`` alternating rounds"""
    rounds: int = 3
    """alternating rounds of the floor and the trainer; the median round is reported"""
    eval_episodes: int = 50
    """evaluation episodes per task"""
    threads: int = 1
    """torch threads"""
    seed: int = 0


class _Trainer:
    """The training engine on one agent, timed round by round: each round continues the run in ``folder``
    for more steps (as ``absaction offline --resume`` does)."""

    def __init__(self, name: str, config: SpeedConfig, data: Any, folder: Path) -> None:
        self.offline = OfflineConfig(
            dataset=config.dataset, agent=name, preset=config.preset, seed=config.seed, steps=1,
            eval_every=10**9, eval_episodes=1, eval_tasks=1, log_every=10, checkpoint_every=10**9,
        ).resolved()  # fmt: skip
        self.settings = agent_config(name, data.name, config.preset)
        self.data, self.folder, self.steps = data, folder / name, 0
        self.stamps: dict[int, float] = {}

    def run(self, updates: int) -> float:
        """Seconds per update over ``updates`` more steps: the first step of the call (which restores the
        run and opens its progress bar) and the last (the run's closing evaluation and checkpoint) are left
        out of the timing."""
        first, resume = self.steps + 1, self.steps > 0
        self.steps += updates + 2
        kind = OfflineKind(
            self.settings, self.data, dataclasses.replace(self.offline, steps=self.steps), self.folder
        )
        try:
            engine.train(
                kind, self.folder, resume=resume, command="offline",
                epoch_callback=lambda step, row: self.stamps.__setitem__(step, time.perf_counter()),
            )  # fmt: skip
        finally:
            kind.close()
        return (self.stamps[self.steps - 1] - self.stamps[first]) / updates


class _Floor:
    """A bare PyTorch loop over the same networks and one fixed batch."""

    def __init__(self, name: str, config: SpeedConfig, data: Any) -> None:
        settings = agent_config(name, data.name, config.preset)
        self.agent: Any = build_agent(settings, 2, 2, config.seed)
        sampler = goal_sampler(settings, data)
        self.batch = TensorBatch.from_numpy(
            sampler.sample(settings.batch_size, np.random.default_rng(0)), torch.device("cpu")
        )
        # multi-tensor Adam (torch's default on the CPU is a loop over the parameters): the fastest floor
        self.optimizer = torch.optim.Adam(self.agent.trained_parameters(), lr=settings.lr, foreach=True)
        self.name, self.tau = name, getattr(settings, "tau", 0.0)

    def update(self) -> None:
        loss, _ = self.agent.actor_loss(self.batch)
        if self.name == "gcivl":
            value_loss, _ = self.agent.value_loss(self.batch)
            loss = loss + value_loss
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if self.name == "gcivl":
            soft_update(self.agent.target_value, self.agent.value, self.tau)

    def run(self, updates: int) -> float:
        started = time.perf_counter()
        for _ in range(updates):
            self.update()
        return (time.perf_counter() - started) / updates


def time_updates(name: str, config: SpeedConfig) -> dict[str, Any]:
    """Seconds per update of the floor and of the trainer, measured in alternating rounds (a machine
    that slows down or speeds up meanwhile slows both alike); the median round of each."""
    data = load_offline_data(config.dataset)
    floors, trainers = [], []
    with tempfile.TemporaryDirectory() as folder:  # the trainer's run folder
        floor, trainer = _Floor(name, config, data), _Trainer(name, config, data, Path(folder))
        floor.run(config.warmup)
        trainer.run(config.warmup)
        per_round = max(2, config.updates // config.rounds)
        for _ in range(config.rounds):
            floors.append(floor.run(per_round))
            trainers.append(trainer.run(per_round))
    return {
        "floor_s": float(np.median(floors)),
        "trainer_s": float(np.median(trainers)),
        "floor_rounds_ms": [1e3 * t for t in floors],
        "trainer_rounds_ms": [1e3 * t for t in trainers],
    }


def time_evaluation(config: SpeedConfig) -> dict[str, float]:
    """Seconds of one evaluation of the medium maze: with an untrained GCIVL actor and with the oracle."""
    env_id = "ogbench:pointmaze-medium-v0"
    agent = build_agent(agent_config("gcivl", config.dataset, config.preset), 2, 2, config.seed)
    layout = maze_layout(env_id)

    def oracle(observations: np.ndarray, goals: np.ndarray) -> np.ndarray:
        return np.stack([layout.oracle_direction(o, g) for o, g in zip(observations, goals, strict=True)])

    started = time.perf_counter()
    with Evaluator(env_id, config.eval_episodes, config.seed) as evaluator:
        built = time.perf_counter() - started
        untrained = evaluator.run(agent.policy())
        solved = evaluator.run(oracle)
    return {
        "build_s": built,
        "untrained_s": untrained.seconds,
        "untrained_success": untrained.overall,
        "untrained_env_steps": float(sum(e.steps for e in untrained.episodes)),
        "oracle_s": solved.seconds,
        "oracle_success": solved.overall,
        "oracle_env_steps": float(sum(e.steps for e in solved.episodes)),
    }


def figure(results: dict[str, Any], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - only when the figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    agents = list(results["updates"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.4))
    x = np.arange(len(agents))
    floor = [results["updates"][a]["floor_ms"] for a in agents]
    trainer = [results["updates"][a]["trainer_ms"] for a in agents]
    left.bar(x - 0.2, floor, 0.4, label="bare PyTorch loop (floor)")
    left.bar(x + 0.2, trainer, 0.4, label="absaction trainer")
    left.scatter(x, [TARGET_MS[a] for a in agents], marker="_", s=900, color="black", label="target")
    left.set_xticks(x, agents)
    left.set_ylabel("ms per update (batch 1024, 512x3, 1 thread)")
    left.legend(fontsize=7)
    evaluation = results["evaluation"]
    right.bar([0, 1], [evaluation["untrained_s"], evaluation["oracle_s"]], color=["tab:red", "tab:green"])
    right.axhline(EVAL_TARGET_S, ls="--", color="black", lw=1)
    right.set_xticks([0, 1], ["untrained actor\n(all time out)", "oracle\n(reaches goals)"])
    right.set_ylabel("seconds, 5 tasks x 50 episodes (medium)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def check_result_json(path: Path, force: bool) -> None:
    """Refuse an existing ``path`` unless ``force`` is given and it is this benchmark's own result."""
    if not path.exists():
        check_new_output(path, force, "result file")
        return
    try:
        ours = {"config", "updates", "evaluation"} <= set(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        ours = False
    if not force or not ours:
        raise AbsactionError(
            f"result file {path} already exists" + ("" if ours else " and is not this benchmark's"),
            "pass --force to replace it" if ours else "choose another --out",
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dataset", default=SpeedConfig.dataset, help="OGBench dataset (name or .npz)")
    parser.add_argument("--warmup", type=int, default=SpeedConfig.warmup, help="untimed updates first")
    parser.add_argument("--updates", type=int, default=SpeedConfig.updates, help="timed updates per loop")
    parser.add_argument("--eval-episodes", type=int, default=SpeedConfig.eval_episodes, help="per task")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 + 4 updates, 2 episodes per task")
    parser.add_argument("--out", type=Path, default=OUT, help="output path without suffix (.json, .png)")
    parser.add_argument("--force", action="store_true", help="replace existing outputs")
    args = parser.parse_args(argv)
    config = SpeedConfig(
        dataset=args.dataset, warmup=args.warmup, updates=args.updates, eval_episodes=args.eval_episodes
    )
    if args.quick:
        config = dataclasses.replace(config, warmup=1, updates=4, rounds=2, eval_episodes=2)
    paths = [args.out.with_suffix(".json"), args.out.with_suffix(".png")]
    try:
        check_new_output(paths[1], args.force, "result figure", figure=True)
        check_result_json(paths[0], args.force)
        torch.set_num_threads(config.threads)
        results: dict[str, Any] = {"updates": {}}
        for name in config.agents:
            timed = time_updates(name, config)
            floor, trainer = timed["floor_s"], timed["trainer_s"]
            results["updates"][name] = {
                "floor_ms": 1e3 * floor,
                "trainer_ms": 1e3 * trainer,
                "floor_updates_per_s": 1.0 / floor,
                "trainer_updates_per_s": 1.0 / trainer,
                "overhead": trainer / floor - 1.0,
                "floor_rounds_ms": timed["floor_rounds_ms"],
                "trainer_rounds_ms": timed["trainer_rounds_ms"],
            }
        results["evaluation"] = time_evaluation(config)
    except AbsactionError as err:
        print(f"bench_offline_speed: error: {err}", file=sys.stderr)
        return 2
    results.update(
        config=dataclasses.asdict(config),
        machine={"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                 "python": platform.python_version(), "torch": torch.__version__},
        absaction_version=absaction.__version__,
        targets={"ms_per_update": TARGET_MS, "overhead": OVERHEAD_TARGET, "evaluation_s": EVAL_TARGET_S},
    )  # fmt: skip
    table = Table(title="offline agents, one thread, batch 1024, 512x3 MLPs")
    for column in ("agent", "floor ms", "trainer ms", "overhead", "updates/s", "target ms"):
        table.add_column(column, justify="right")
    for name, row in results["updates"].items():
        table.add_row(
            name, f"{row['floor_ms']:.1f}", f"{row['trainer_ms']:.1f}", f"{row['overhead']:+.1%}",
            f"{row['trainer_updates_per_s']:.1f}", f"{TARGET_MS[name]:.0f}",
        )  # fmt: skip
    evaluation = results["evaluation"]
    console = Console()
    console.print(table)
    console.print(
        f"evaluation, medium, 5 tasks x {config.eval_episodes} episodes: untrained actor "
        f"{evaluation['untrained_s']:.1f} s ({evaluation['untrained_env_steps']:,.0f} env steps), oracle "
        f"{evaluation['oracle_s']:.1f} s ({evaluation['oracle_env_steps']:,.0f} env steps, success "
        f"{evaluation['oracle_success']:.2f}); building the envs {evaluation['build_s']:.1f} s"
    )
    atomic_write_json(paths[0], results)
    figure(results, paths[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
