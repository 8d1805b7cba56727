"""A whole sweep: :func:`run_sweep` checks it before it writes anything (names, sizes, the output folder,
and every (task, agent) env built once with its model and BC data), prints the plan and its estimate
(:func:`describe_sweep`), trains every unfinished run on the executor and writes the report.

Output folder::

    OUT/bench.json                     the sweep's settings (checked again by a resumed sweep)
    OUT/runs/<task>/<agent>/seed<k>/   one train_agent output folder per run
    OUT/results.csv, summary.csv, summary.md, summary.json, learning_curves.png,
        performance_profiles.png, probability_of_improvement.png      the report (:mod:`.summary`)

Every run folder is written atomically, so a folder that exists is a finished run: a resumed sweep
(``resume=True``, ``--resume``) skips those and an interrupted sweep continues where it stopped. It may
add tasks, agents and seeds; a run whose settings changed is refused.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from absaction import __version__
from absaction.files import atomic_write_json
from absaction.train.metrics import check_tensorboard

from .definition import RESUME_KEYS, Sweep
from .estimate import config_seconds, duration, spread_seconds
from .executors import ExecutorSpec, make_executor
from .runs import (
    MARKER,
    RunSpec,
    check_out,
    plan_runs,
    preflight,
    prepare_out,
    remove_stale_temporaries,
    run_finished,
    run_jobs,
    share_identical_runs,
)
from .summary import SweepReport, write_report


@dataclasses.dataclass
class SweepResult:
    """What :func:`run_sweep` produced."""

    out: Path
    sweep: Sweep
    runs_total: int
    runs_trained: int
    runs_skipped: int
    """finished runs found in ``out`` (a resumed sweep) and not rerun"""
    runs_shared: int
    """runs of agents identical to another agent of the sweep, read from that agent's folders"""
    estimate_seconds: float
    seconds: float
    """wall-clock seconds of this call"""
    report: SweepReport

    @property
    def summary_md(self) -> Path:
        return self.out / "summary.md"


def describe_sweep(sweep: Sweep, out: Path | None = None) -> tuple[str, float]:
    """A one-line plan of the sweep (runs, budget, workers, estimated duration) and the estimate (s).

    With ``out`` (a sweep being resumed), runs whose folders exist are not counted in the estimate."""
    costs: list[float] = []
    for task, env_id in sweep.task_ids.items():
        for agent in sweep.agent_table:
            cost = config_seconds(sweep.config_for(env_id, agent, 0), sweep.eval_points)
            for seed in range(sweep.seeds):
                if out is None or not (out / "runs" / task / agent / f"seed{seed}").exists():
                    costs.append(cost)
    expected = spread_seconds(costs, sweep.workers)
    runs = len(sweep.task_ids) * len(sweep.agents) * sweep.seeds
    text = (
        f"bench: {len(sweep.task_ids)} task(s) x {len(sweep.agents)} agent(s) x {sweep.seeds} seed(s)"
        f" = {runs} runs of {sweep.steps:,} primitive steps on {sweep.workers} worker(s)"
        + (f" ({runs - len(costs)} finished)" if len(costs) < runs else "")
        + f"; estimated {duration(expected)} with {sweep.workers} free core(s)"
    )
    return text, expected


def check_sweep(
    sweep: Sweep, out: str | os.PathLike[str], force: bool = False, resume: bool = False
) -> list[RunSpec]:
    """Everything a sweep refuses before it writes anything, each in one line: names, sizes and agent
    settings (:meth:`~.definition.Sweep.validate`), the output folder (:func:`~.runs.check_out`), whether
    every agent's model and BC data fit every task (:func:`~.runs.preflight`) and, resuming, every finished
    run's settings (:func:`~.runs.run_finished`). The real run and the dry run call it, so both refuse the
    same inputs in the same words. Returns the planned runs (identical agents sharing theirs)."""
    sweep.validate()
    folder = Path(out)
    check_out(folder, force, resume, {key: getattr(sweep, key) for key in RESUME_KEYS})
    runs = plan_runs(sweep, folder)
    runs = share_identical_runs(runs, preflight(runs), list(sweep.agent_table))
    if resume:
        for run in runs:
            run_finished(run)  # a finished run of other settings: refused here, not half-way
    return runs


def run_sweep(
    sweep: Sweep,
    out: str | os.PathLike[str],
    *,
    executor: ExecutorSpec | None = None,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    tensorboard: bool = False,
) -> SweepResult:
    """Run every run of ``sweep`` into ``out`` and write the report.

    Args:
        sweep: tasks x agents x seeds and the budget.
        out: the sweep's folder.
        executor: where the runs execute (default: the local process pool of ``sweep.workers``). The
            results do not depend on it: a sweep can be resumed under the other executor.
        force: replace an existing sweep folder (deleted once the inputs are checked).
        resume: continue the sweep in ``out`` (the same steps and evaluations), skipping finished runs.
        progress: tqdm bar over runs on stderr.
        log: receives one-line progress messages (default: print to stderr).
        tensorboard: also log every run's SB3 training metrics to ``<run>/tensorboard``.

    Raises:
        AbsactionError: a sweep, folder or input that cannot work, before anything is written.
    """
    started = time.perf_counter()
    say = log or (lambda text: print(text, file=sys.stderr))
    folder = Path(out)
    executor = executor or ExecutorSpec()
    runs = check_sweep(sweep, folder, force, resume)
    executor.validate()  # e.g. Ray asked for but not installed: before anything is written
    if tensorboard:
        check_tensorboard()
    prepare_out(folder, resume)
    atomic_write_json(folder / MARKER, {"absaction_version": __version__, "config": sweep.to_record(folder)})
    plan, expected = describe_sweep(sweep, folder)
    say(plan)
    with make_executor(executor, sweep.workers, sweep.threads) as runner:
        counts = run_jobs(
            runs, runner, threads=sweep.threads, tensorboard=tensorboard, progress=progress, log=say
        )
    remove_stale_temporaries(folder)  # every run has finished: what is left is a killed attempt Ray retried
    timing = {
        "estimate_seconds": expected,
        "seconds": time.perf_counter() - started,
        "runs_trained": counts.trained,
        "runs_skipped": counts.skipped,
        "runs_shared": counts.shared,
    }
    report = write_report(sweep, runs, folder, timing)
    seconds = time.perf_counter() - started
    return SweepResult(
        folder, sweep, len(runs), counts.trained, counts.skipped, counts.shared, expected, seconds, report
    )
