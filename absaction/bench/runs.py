"""The runs of a sweep: planned, checked before the first one starts, skipped when finished, trained on an
executor; and the sweep's folder, which a resumed sweep reuses.

- :func:`plan_runs`: every (task, agent, seed) run as an :class:`~absaction.agents.AgentConfig` and a
  folder ``OUT/runs/<task>/<agent>/seed<k>``;
- :func:`preflight`: every (task, agent) env built once (a model or BC data that does not fit its task
  fails in seconds, not after hours of other runs); :func:`share_identical_runs`: an agent identical to
  another on a task reuses its runs;
- :func:`run_finished`: a run folder is written atomically, so an existing one is finished; one written
  with other settings is refused;
- :func:`run_jobs`: the unfinished runs, each one :func:`train_job` on an executor (:mod:`.executors`);
- :func:`check_out` / :func:`prepare_out`: the sweep's folder, new, resumed (the same settings) or
  replaced (``force``, only a folder a sweep wrote).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from absaction.agents.bc import demonstration_pairs, load_demonstrations
from absaction.agents.config import PATH_FIELDS, AgentConfig
from absaction.agents.environments import find_macro_wrapper, make_env
from absaction.agents.hyperparams import resolve_hyperparams
from absaction.agents.training import train_agent
from absaction.errors import AbsactionError
from absaction.files import check_new_output, json_safe

from .definition import Sweep
from .estimate import config_seconds
from .executors import Executor

MARKER = "bench.json"
"""The file that makes a folder a sweep's: its settings, checked again by a resumed sweep."""


# -------------------------------------------------------------------------------------------- plan
@dataclasses.dataclass
class RunSpec:
    """One run of the sweep."""

    task: str
    """the task's name (its run folder)"""
    env_id: str
    agent: str
    """the agent's name"""
    family: str
    """the agent's label in tables and figures (:attr:`~.definition.SweepAgent.label`)"""
    seed: int
    config: AgentConfig
    out_dir: Path
    shared_with: str | None = None
    """another agent of the sweep whose run this one *is* (same action space, same everything else:
    e.g. an agent on the top ladder when every active unit is in the top ladder); ``out_dir`` is then that
    agent's folder and nothing is trained for this one (see :func:`share_identical_runs`)"""

    @property
    def label(self) -> str:
        return f"{self.task}/{self.agent}/seed{self.seed}"


def plan_runs(sweep: Sweep, out: Path, cost: Callable[[RunSpec], float] | None = None) -> list[RunSpec]:
    """Every (task, agent, seed) run, most expensive first (``cost``: seconds of a run, default
    :func:`~.estimate.config_seconds`), so that the slowest runs do not end the sweep alone on one
    worker."""
    runs = []
    for task, env_id in sweep.task_ids.items():
        for name, agent in sweep.agent_table.items():
            for seed in range(sweep.seeds):
                config = sweep.config_for(env_id, name, seed)
                out_dir = out / "runs" / task / name / f"seed{seed}"
                runs.append(RunSpec(task, env_id, name, agent.label, seed, config, out_dir))
    seconds = cost or (lambda run: config_seconds(run.config, sweep.eval_points))
    return sorted(runs, key=lambda run: -seconds(run))


def preflight(runs: Sequence[RunSpec]) -> dict[tuple[str, str], str]:
    """Build every (task, agent) env once and check the BC demonstrations against it, so that a bad
    combination fails in seconds rather than after an hour of other runs.

    Returns the *signature* of every (task, agent name): its run config without seed, ladder and dim
    choices, plus the wrapper's resolved settings (the latents it really exposes). Two agents with
    the same signature on a task train the same agent, bit for bit.
    """
    demos: dict[str, Any] = {}
    signatures: dict[tuple[str, str], str] = {}
    for run in runs:
        if (run.task, run.agent) in signatures:
            continue
        env = make_env(run.config)  # validates the config; latent: loads the model, checks dims/bounds
        try:
            path = run.config.bc_dataset
            if path is not None:
                if path not in demos:
                    demos[path] = load_demonstrations(path)
                check_bc_applicable(demos[path], env, run.env_id)
            macro = find_macro_wrapper(env)
            fields = {k: v for k, v in run.config.to_dict().items() if k not in ("seed", "ladders", "dims")}
            fields["wrapper"] = None if macro is None else macro.macro_settings()
            signatures[(run.task, run.agent)] = json.dumps(json_safe(fields), sort_keys=True)
        finally:
            env.close()
    return signatures


def share_identical_runs(
    runs: Sequence[RunSpec], signatures: dict[tuple[str, str], str], agent_order: Sequence[str]
) -> list[RunSpec]:
    """``runs`` where an agent identical to an earlier one of ``agent_order`` on the same task (same
    signature, see :func:`preflight`) points at that agent's run folders instead of training its own:
    ``shared_with`` names it. The report lists both agents, with the same numbers, and says so."""
    first: dict[tuple[str, str], str] = {}  # (task, signature) -> the first agent that has it
    owner: dict[tuple[str, str], str] = {}  # (task, agent) -> the agent whose runs it uses
    for agent in agent_order:
        for (task, name), signature in signatures.items():
            if name == agent:
                owner[(task, name)] = first.setdefault((task, signature), name)
    shared = []
    for run in runs:
        same = owner.get((run.task, run.agent), run.agent)
        if same != run.agent:
            run = dataclasses.replace(
                run, shared_with=same, out_dir=run.out_dir.parents[1] / same / run.out_dir.name
            )
        shared.append(run)
    return shared


def check_bc_applicable(demos: Any, env: Any, task: str) -> None:
    """Cloning the demonstrations (a dataset or (observation, action) pairs) is meaningful where the flat
    observation and the primitive action have the same sizes as the task's (bounds may differ)."""
    obs, actions = demonstration_pairs(demos)
    obs_shape, act_shape = obs.shape[1:], actions.shape[1:]
    macro = find_macro_wrapper(env)
    env_act = (env.action_space if macro is None else macro.inner_action_space).shape
    if obs_shape != env.observation_space.shape or act_shape != env_act:
        raise AbsactionError(
            f"the BC demonstrations (observations {obs_shape}, actions {act_shape}) do not fit {task} "
            f"(observations {env.observation_space.shape}, actions {env_act})",
            "drop the -bc agents (--agents) or pass --data with demonstrations of that env's layout",
        )


# ------------------------------------------------------------------------------------------ resume
UNCOMPARED: frozenset[str] = frozenset({"device", "allow_incomplete", *PATH_FIELDS})
"""Run settings a finished run is not refused for: where it trained, and the folders it read (compared by
name: the sweep folder may have moved)."""


def run_finished(run: RunSpec) -> bool:
    """Whether ``run`` already has its folder; refuses one written with other settings (any setting of its
    ``config.json`` but :data:`UNCOMPARED`, the folders compared by name, and the resolved
    hyperparameters). A run shared with another agent's (``shared_with``) is that agent's business: it
    counts as finished here."""
    if run.shared_with is not None:
        return True
    if not run.out_dir.exists():
        return False
    path = run.out_dir / "config.json"
    if not (run.out_dir / "eval.csv").is_file() or not path.is_file():
        raise AbsactionError(
            f"{run.out_dir} exists but is not a finished run",
            "delete that folder and pass --resume again (it will be rerun)",
        )
    record = json.loads(path.read_text(encoding="utf-8"))  # {"config": ..., "hyperparams": resolved}
    saved = record.get("config", {})
    expected = run.config.to_dict()
    for key in expected:
        if key in UNCOMPARED or key not in saved:  # a setting newer than the run: not recorded
            continue
        if saved[key] != json.loads(json.dumps(json_safe(expected[key]))):
            _refuse_changed(run, key, saved[key], expected[key])
    _check_resolved_hyperparams(run, record.get("hyperparams"))
    for key in PATH_FIELDS:  # compared by folder name: the sweep folder may have moved
        mine, theirs = expected[key], saved.get(key)
        if (theirs is None) != (mine is None) or (mine is not None and Path(theirs).name != Path(mine).name):
            _refuse_changed(run, key, theirs, mine)
    return True


def _refuse_changed(run: RunSpec, key: str, saved: Any, expected: Any) -> None:
    raise AbsactionError(
        f"{run.out_dir} was run with {key}={saved!r}, this sweep asks for {expected!r}",
        "use another --out, or --force to start the sweep over",
    )


def _check_resolved_hyperparams(run: RunSpec, used: dict[str, Any] | None) -> None:
    """Refuse a finished run whose ``config.json`` records other resolved hyperparameters (``used``)
    than the packaged YAML gives now (the config itself holds only the user's overrides, so an edited
    YAML would otherwise mix old and new runs)."""
    now = json.loads(json.dumps(json_safe(resolve_hyperparams(run.config))))  # as the JSON file holds it
    if used is None or used == now:
        return
    changed = sorted(k for k in set(used) | set(now) if used.get(k) != now.get(k))
    detail = ", ".join(f"{k}={used.get(k)!r} (now {now.get(k)!r})" for k in changed)
    raise AbsactionError(
        f"{run.out_dir} was trained with other hyperparameters than the packaged ones give now: {detail}",
        "use another --out, or --force to start the sweep over (or delete the runs to redo and --resume)",
    )


# --------------------------------------------------------------------------------------------- train
def train_job(job: dict[str, Any]) -> dict[str, Any]:
    """Worker: one train_agent run; returns its summary (``success_rate`` at least). Interrupted
    (Ctrl-C), it leaves no folder. A folder that exists already is a finished run (folders are written
    atomically): a Ray retry of a worker that died after moving its folder into place keeps it.
    ``job["tensorboard"]`` also logs the run to ``<run>/tensorboard``."""
    config = AgentConfig.from_dict(job["config"])
    out_dir = Path(job["out_dir"])
    if (out_dir / "eval.csv").is_file():
        with open(out_dir / "eval.csv", newline="", encoding="utf-8") as fh:
            last = list(csv.DictReader(fh))[-1]
        return {"success_rate": float(last["success_rate"]), "out_dir": str(out_dir), "reused": True}
    tensorboard = bool(job.get("tensorboard", False))
    threads = int(job.get("threads", 1))
    # no checkpoints: a sweep's run folder appears only when complete (a rerun redoes a stopped run)
    summary = train_agent(
        config,
        out_dir,
        progress=False,
        plot=False,
        tensorboard=tensorboard,
        checkpoint_every=0,
        threads=threads,
    ).summary()
    return summary


@dataclasses.dataclass(frozen=True)
class RunCounts:
    """What :func:`run_jobs` did with the sweep's runs."""

    trained: int
    skipped: int
    """finished runs found in the folder (a resumed sweep) and not rerun"""
    shared: int
    """runs of agents identical to another agent of the sweep, read from that agent's folders"""


def run_jobs(
    runs: Sequence[RunSpec],
    runner: Executor,
    *,
    threads: int = 1,
    tensorboard: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    name: str = "bench",
    job: Callable[[dict[str, Any]], dict[str, Any]] = train_job,
) -> RunCounts:
    """Train every run of ``runs`` that has no finished folder (:func:`run_finished`) on ``runner``, with a
    progress bar over the runs (``name`` prefixes it and the messages ``log`` receives). ``job`` trains one
    run in a worker: :func:`train_job`, or a module-level function of the caller's that calls it (a worker
    imports its module, which may register the caller's envs first)."""
    say = log or (lambda text: print(text, file=sys.stderr))
    shared = sorted({(r.task, r.agent, r.shared_with) for r in runs if r.shared_with})
    for task, agent, same in shared:
        say(f"{name}: {task}/{agent} is the same agent as {task}/{same} (same latents): runs shared")
    todo = [run for run in runs if not run_finished(run)]
    n_shared = sum(1 for run in runs if run.shared_with)
    skipped = len(runs) - len(todo) - n_shared
    if skipped:
        say(f"{name}: {skipped} finished run(s) found, {len(todo)} to go")
    jobs = [
        {
            "config": run.config.to_dict(),
            "out_dir": str(run.out_dir.resolve()),  # absolute: a Ray worker's directory differs
            "label": run.label,
            "tensorboard": tensorboard,
            "threads": threads,
        }
        for run in todo
    ]
    bar = tqdm(
        total=len(runs) - n_shared,
        initial=skipped,
        desc=name,
        unit="run",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        devices = [run.config.device for run in todo]
        for done, summary in runner.imap_unordered(job, jobs, devices):
            bar.set_postfix_str(f"{done['label']}: success {summary['success_rate']:.2f}", refresh=False)
            bar.update(1)
    finally:
        bar.close()
    return RunCounts(len(todo), skipped, n_shared)


# ------------------------------------------------------------------------------------------ folder
def check_out(
    out: Path,
    force: bool,
    resume: bool,
    settings: Mapping[str, Any],
    same: Callable[[str, Any, Any], bool] | None = None,
) -> None:
    """Refuse, in one line and touching nothing, an ``out`` that :func:`prepare_out` would refuse: a resume
    of no sweep or with other ``settings`` (the values that must not change, compared by ``same(key,
    saved, now)``, default ``==``), an existing folder without ``resume``/``force``, or ``force`` on a folder
    that is not a sweep's."""
    if force and resume:
        raise AbsactionError("--force and --resume contradict each other", "pass one of them")
    marker = out / MARKER
    if resume:
        if not marker.is_file():
            raise AbsactionError(
                f"{out} holds no sweep to resume", f"start one without --resume (--out {out})"
            )
        saved = saved_settings(marker)
        for key, now in settings.items():
            if not (same(key, saved.get(key), now) if same is not None else saved.get(key) == now):
                raise AbsactionError(
                    f"{out} was swept with {key}={saved.get(key)!r}, now {key}={now!r}",
                    "pass the same settings to --resume, or use another --out (or --force to start over)",
                )
        return
    if not out.exists():
        return
    if not force:
        raise AbsactionError(
            f"bench folder {out} already exists",
            "pass --resume to continue its sweep, --force to start over, or choose another --out",
        )
    empty_dir = out.is_dir() and not any(out.iterdir())
    if not marker.is_file() and not empty_dir:
        raise AbsactionError(
            f"{out} exists and is not an absaction bench folder (no {MARKER})",
            "choose another --out (--force only replaces a bench folder)",
        )


def saved_settings(marker: Path) -> dict[str, Any]:
    """The settings a sweep recorded in its ``bench.json``; an unreadable or damaged one is one line."""
    record: Any = None
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        pass  # refused below, as a record of the wrong shape is
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise AbsactionError(
            f"{marker} is damaged (not a sweep's settings), so the sweep cannot be resumed",
            "restore it, or start over with --force (or another --out)",
        )
    return record["config"]


def prepare_out(out: Path, resume: bool) -> None:
    """Make ``out`` ready once :func:`check_out` accepted it: a resumed sweep's folder loses the temporary
    folders of killed runs; a forced restart deletes the old sweep folder (never anything else)."""
    if resume:
        remove_stale_temporaries(out)
        return
    if out.exists():
        shutil.rmtree(out)
    check_new_output(out, False, "bench folder")  # a writable parent
    out.mkdir(parents=True, exist_ok=True)


def remove_stale_temporaries(out: Path) -> None:
    """Temporary folders of runs killed without cleanup (SIGKILL, power loss) are ours to remove."""
    for tmp in (out / "runs").glob("*/*/.seed*.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
