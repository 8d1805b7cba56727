"""The primitive-vs-latent comparison benchmark (``absaction bench rl``), importable as
``absaction.agents.bench``.

One sweep = stage 1 (demonstrations and action models, built once and cached in the output folder) +
many independent RL runs (agent x task x seed, each one :func:`~absaction.agents.train_agent` call) in
parallel worker processes (:mod:`.bench_runs`) + the statistics (:mod:`absaction.bench.stats`) and the report
(:mod:`.bench_report`). This module holds what a sweep runs: the tasks, the agent table, the presets,
the configuration and the duration estimate, and :func:`run_bench`, which ties the stages together.

Output folder::

    OUT/bench.json                     the sweep's settings (checked again by --resume)
    OUT/stage1/demos/                  scripted Reach2D-v0 expert demonstrations (unless --data)
    OUT/stage1/tcvlae/                 the ladder TCVLAE trained on them (unless --model)
    OUT/stage1/tcvae/                  the flat TCVAE (ablation)
    OUT/stage1/untrained/              the TCVLAE's architecture with untrained weights (ablation)
    OUT/runs/<task>/<agent>/seed<k>/   one train_agent output folder per run
    OUT/results.csv, summary.csv, summary.md, summary.json, learning_curves.png

Every run folder is written atomically, so a folder that exists is a finished run: ``--resume``
skips those and an interrupted sweep continues where it stopped.

Example::

    >>> from absaction.agents.bench import BenchConfig, run_bench
    >>> result = run_bench(BenchConfig.from_preset("quick"), "bench-quick")  # doctest: +SKIP
    >>> print(result.summary_md.read_text())                                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from absaction import __version__
from absaction.errors import AbsactionError
from absaction.files import atomic_write_json, check_new_output

from .config import AgentConfig, check_env_id

if TYPE_CHECKING:
    from .bench_runs import Stage1

# ------------------------------------------------------------------------------------------- tasks
DEMO_ENV = "absaction/Reach2D-v0"
"""The env the expert demonstrations come from (the paper world)."""

TASKS: dict[str, str] = {
    "dense": "absaction/Reach2D-v0",
    "sparse": "absaction/Reach2DSparse-v0",
    "obstacle": "absaction/Reach2DObstacle-v0",
    "chain": "absaction/Reach2DChain-v0",
    "newgoals": "absaction/Reach2DNewGoals-v0",
}
"""Short task names (also the run folder names) -> env ids. Any other registered id may be passed too."""

TARGET_TASKS: tuple[str, ...] = ("obstacle", "chain", "newgoals")
"""Tasks whose solution the demonstrations do not show (a blocked straight path, goal chains, goals
no expert visited): where issue 5 expects latent agents to need 3x fewer env steps."""


def task_name(env_id: str) -> str:
    """The short name of a task (its run folder): the :data:`TASKS` key, else a path-safe id."""
    for name, task in TASKS.items():
        if task == env_id:
            return name
    return env_id.replace("/", "-").replace(":", "-")


# ------------------------------------------------------------------------------------------ agents
FAMILIES: tuple[str, ...] = ("primitive", "latent", "ablation")
"""primitive: acts in env actions (with or without a BC warm start); latent: acts in the ladder
TCVLAE's latents; ablation: the controls (flat VAE, untrained decoder, action repeat)."""

MODEL_KINDS: tuple[str, ...] = ("tcvlae", "tcvae", "untrained")
"""Stage-1 action models an agent may act through."""


@dataclasses.dataclass(frozen=True)
class BenchAgent:
    """A named agent template: everything of an :class:`AgentConfig` except task, seed and budget."""

    name: str
    family: str
    """primitive | latent | ablation (see :data:`FAMILIES`)"""
    description: str
    algo: str
    actions: str
    """primitive | latent | repeat"""
    model: str | None = None
    """stage-1 action model of a latent agent: tcvlae | tcvae | untrained"""
    ladders: str = "all"
    """latent agents: ``all`` (the active units of every ladder) or ``top`` (only the most abstract
    ladder that has active units: ladder 3 of the paper's [8, 4, 2] TCVLAE)"""
    bc: bool = False
    """warm-start the policy by behaviour cloning on the demonstrations"""
    closed_loop: int | None = None
    """latent agents: re-decide every this many primitive steps (None: open loop, one decision per chunk)"""
    plan_phase: bool = False
    """latent closed loop along the plan (see ``LatentActionWrapper(plan_phase=...)``)"""

    def config(
        self, env_id: str, seed: int, steps: int, eval_every: int, eval_episodes: int, stage1: Stage1
    ) -> AgentConfig:
        """The :class:`AgentConfig` of this agent on ``env_id`` with stage-1 artefacts filled in."""
        model = ladders = chunk = bc_dataset = None
        if self.actions == "latent":
            assert self.model is not None
            model = str(stage1.models[self.model])
            ladders = [stage1.top_ladder[self.model]] if self.ladders == "top" else None
        if self.actions == "latent" and self.closed_loop is not None:
            chunk = self.closed_loop
        if self.actions == "repeat":
            chunk = stage1.chunk  # the latent agents' decoded length: is any gain just temporal extension?
        if self.bc:
            bc_dataset = str(stage1.data)
        return AgentConfig(
            env_id,
            algo=self.algo,
            actions=self.actions,
            model=model,
            ladders=ladders,
            chunk=chunk,
            plan_phase=self.plan_phase,
            bc_dataset=bc_dataset,
            steps=steps,
            seed=seed,
            eval_every=eval_every,
            eval_episodes=eval_episodes,
        )

    def needs(self) -> set[str]:
        """Stage-1 artefacts this agent uses (``demos`` and model kinds)."""
        needed = {"demos"} if self.bc else set()
        if self.model is not None:
            needed.add(self.model)
        if self.actions == "repeat":
            needed.add("tcvlae")  # its chunk length is the TCVLAE's sequence length
        return needed


AGENTS: dict[str, BenchAgent] = {
    agent.name: agent
    for agent in (
        BenchAgent("ppo", "primitive", "PPO on primitive actions", "ppo", "primitive"),
        BenchAgent(
            "ppo-bc", "primitive", "PPO, BC warm start on the demonstrations", "ppo", "primitive", bc=True
        ),
        BenchAgent("sac", "primitive", "SAC on primitive actions", "sac", "primitive"),
        BenchAgent(
            "sac-bc", "primitive", "SAC, BC warm start on the demonstrations", "sac", "primitive", bc=True
        ),
        BenchAgent("ppo-latent", "latent", "PPO on TCVLAE latents, all ladders", "ppo", "latent", "tcvlae"),
        BenchAgent(
            "ppo-latent-top",
            "latent",
            "PPO on TCVLAE latents, top ladder only",
            "ppo",
            "latent",
            "tcvlae",
            ladders="top",
        ),
        BenchAgent(
            "ppo-latent-phase8",
            "latent",
            "PPO on TCVLAE latents, re-deciding every 8 steps along the plan",
            "ppo",
            "latent",
            "tcvlae",
            closed_loop=8,
            plan_phase=True,
        ),
        BenchAgent(
            "ppo-latent-bc",
            "latent",
            "PPO on TCVLAE latents, BC warm start on the encoded demonstrations",
            "ppo",
            "latent",
            "tcvlae",
            bc=True,
        ),
        BenchAgent("sac-latent", "latent", "SAC on TCVLAE latents, all ladders", "sac", "latent", "tcvlae"),
        BenchAgent(
            "sac-latent-top",
            "latent",
            "SAC on TCVLAE latents, top ladder only",
            "sac",
            "latent",
            "tcvlae",
            ladders="top",
        ),
        BenchAgent("ppo-flat", "ablation", "PPO on flat TCVAE latents", "ppo", "latent", "tcvae"),
        BenchAgent(
            "ppo-untrained", "ablation", "PPO on an untrained TCVLAE decoder", "ppo", "latent", "untrained"
        ),
        BenchAgent("ppo-repeat", "ablation", "PPO, each action repeated for one chunk", "ppo", "repeat"),
    )
}
"""The agent table: every agent the benchmark knows, by name (``--agents``)."""


# ----------------------------------------------------------------------------------------- presets
@dataclasses.dataclass(frozen=True)
class Preset:
    """Sizes of a sweep (``--quick``, the default, ``--full``); flags override single fields."""

    tasks: tuple[str, ...]
    agents: tuple[str, ...]
    seeds: int
    steps: int
    eval_points: int
    eval_episodes: int
    demo_episodes: int
    vae_epochs: int | None


PRESETS: dict[str, Preset] = {
    # 2 CPU cores, well under an hour (estimate printed before the start): the PPO family, where primitive
    # and latent agents (each also BC-warm-started; latent on both ladder settings, open and closed loop)
    # and every ablation share one algorithm. SAC is in --full only: primitive SAC costs ~7 ms per env step
    # on one core, latent SAC ~1.3 ms (8 gradient steps per decision); add it with --agents ... sac-latent.
    "default": Preset(
        tasks=tuple(TASKS),
        agents=(
            "ppo",
            "ppo-bc",
            "ppo-latent",
            "ppo-latent-bc",
            "ppo-latent-top",
            "ppo-latent-phase8",
            "ppo-flat",
            "ppo-untrained",
            "ppo-repeat",
        ),
        seeds=5,
        steps=50_000,
        eval_points=20,
        eval_episodes=20,
        demo_episodes=400,
        vae_epochs=None,
    ),
    "quick": Preset(  # a smoke test of every stage: demonstrations, BC, a TCVLAE, both families
        tasks=("dense",),
        agents=("ppo-bc", "ppo-latent"),
        seeds=2,
        steps=320,
        eval_points=4,
        eval_episodes=4,
        demo_episodes=40,
        vae_epochs=3,
    ),
    "full": Preset(
        tasks=tuple(TASKS),
        agents=tuple(AGENTS),
        seeds=5,
        steps=200_000,
        eval_points=20,
        eval_episodes=20,
        demo_episodes=400,
        vae_epochs=None,
    ),
}


@dataclasses.dataclass
class BenchConfig:
    """One sweep (written to ``OUT/bench.json``)."""

    tasks: list[str]
    """env ids of the tasks"""
    agents: list[str]
    """names from :data:`AGENTS`"""
    seeds: int = 5
    """independent runs per agent and task (seeds 0 .. seeds - 1; agents share seeds, hence evaluation
    episodes)"""
    steps: int = 50_000
    """training budget of every run, in PRIMITIVE env steps (the x axis)"""
    eval_points: int = 20
    """evaluations after the one before learning (every steps // eval_points primitive steps)"""
    eval_episodes: int = 20
    """episodes per evaluation (deterministic policy)"""
    workers: int = 2
    """parallel worker processes (one torch thread each); 1 runs everything in this process"""
    data: str | None = None
    """demonstrations (dataset folder or Minari id); None: collect scripted Reach2D-v0 experts"""
    model: str | None = None
    """the ladder TCVLAE run folder; None: train one on the demonstrations"""
    demo_episodes: int = 400
    """expert episodes to collect when ``data`` is None (``absaction demo``'s default)"""
    vae_epochs: int | None = None
    """epochs of the stage-1 VAEs (None: ``absaction train``'s default)"""
    vae_progressive: int = 20
    """progressive training of the stage-1 TCVLAE (``absaction train --progressive``; 0 = the paper's
    training). With 20 the target landed in ladder 3 in 5/5 seeds against 3/5 without, so the ``-top``
    agents control the abstract factors instead of depending on the seed"""
    bootstrap_reps: int = 2000
    """bootstrap replicates per confidence interval"""
    lookahead: int = 256
    """candidate actions per decision of the lookahead ceiling of every macro agent (what its action
    space can express, see ``bench_report.lookahead_ceilings``); 0 skips it"""
    preset: str = "default"
    """the preset the sizes came from (a record; flags may have overridden fields)"""

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> BenchConfig:
        """The sizes of preset ``name`` (``default`` | ``quick`` | ``full``) with ``overrides``."""
        if name not in PRESETS:
            raise AbsactionError(f"unknown preset {name!r}", f"choose one of {', '.join(PRESETS)}")
        p = PRESETS[name]
        values: dict[str, Any] = {
            "tasks": [TASKS[t] for t in p.tasks],
            "agents": list(p.agents),
            "seeds": p.seeds,
            "steps": p.steps,
            "eval_points": p.eval_points,
            "eval_episodes": p.eval_episodes,
            "demo_episodes": p.demo_episodes,
            "vae_epochs": p.vae_epochs,
            "preset": name,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def eval_every(self) -> int:
        """Primitive env steps between evaluations."""
        return max(1, self.steps // self.eval_points)

    def validate(self) -> None:
        """Raise a one-line :class:`AbsactionError` for names or sizes no sweep can use."""
        self.tasks = [resolve_task(t) for t in self.tasks]
        for name in self.agents:
            if name not in AGENTS:
                close = difflib.get_close_matches(name, list(AGENTS), n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise AbsactionError(f"unknown agent {name!r}", f"{hint}choose from {', '.join(AGENTS)}")
        for label, values in (("task", self.tasks), ("agent", self.agents)):
            if not values:
                raise AbsactionError(f"no {label}s selected", f"pass at least one --{label}s value")
            if len(set(values)) != len(values):
                raise AbsactionError(f"a {label} is listed twice: {values}", f"list every {label} once")
        counts = {
            "seeds": self.seeds,
            "steps": self.steps,
            "eval_points": self.eval_points,
            "eval_episodes": self.eval_episodes,
            "workers": self.workers,
            "demo_episodes": self.demo_episodes,
            "bootstrap_reps": self.bootstrap_reps,
        }
        for key, value in counts.items():
            if int(value) < 1:
                raise AbsactionError(
                    f"{key} must be >= 1, got {value}", f"pass --{key.replace('_', '-')} 1 or more"
                )
        if self.lookahead < 0:
            raise AbsactionError(
                f"lookahead must be >= 0, got {self.lookahead}", "pass --lookahead 256, or 0 to skip it"
            )
        if self.steps < self.eval_points:
            raise AbsactionError(
                f"{self.steps} steps cannot hold {self.eval_points} evaluation points",
                f"pass --steps {self.eval_points} or more",
            )
        if self.data is not None:
            from absaction.data import load_dataset

            load_dataset(Path(self.data).expanduser() if Path(self.data).expanduser().exists() else self.data)
        if self.model is not None:
            from absaction.models import read_config

            read_config(Path(self.model).expanduser())  # one-line errors for a missing/broken run folder

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def agent_table(self) -> list[BenchAgent]:
        return [AGENTS[name] for name in self.agents]


def resolve_task(name: str) -> str:
    """A task's env id from its short name (:data:`TASKS`) or id; unknown ids get a one-line error."""
    if name in TASKS:
        return TASKS[name]
    try:
        check_env_id(name)
    except AbsactionError as err:
        raise AbsactionError(
            f"unknown task {name!r}", f"use a short name ({', '.join(TASKS)}) or a registered env id"
        ) from err
    return name


# Keys whose change makes finished runs and stage-1 artefacts incomparable: --resume refuses them.
RESUME_KEYS: tuple[str, ...] = (
    "steps",
    "eval_points",
    "eval_episodes",
    "data",
    "model",
    "demo_episodes",
    "vae_epochs",
    "vae_progressive",
)


# ---------------------------------------------------------------------------------------- estimate
# Measured with train_agent on one core of the 2-core development machine (other jobs running):
# milliseconds of training per PRIMITIVE env step. Macro agents (latent, repeat) decide every ~32 steps,
# so their networks see ~32x fewer samples per env step.
TRAIN_MS_PER_STEP: dict[tuple[str, str], float] = {
    ("ppo", "primitive"): 0.9,
    ("ppo", "macro"): 0.12,
    ("sac", "primitive"): 6.6,
    ("sac", "macro"): 1.3,
    ("td3", "primitive"): 5.0,
    ("td3", "macro"): 0.15,
}
EVAL_MS_PER_STEP: dict[str, float] = {"primitive": 0.4, "macro": 0.03}
"""Milliseconds per primitive env step of evaluation (a deterministic policy, one observation at a time)."""
RUN_SETUP_SECONDS = 0.5
"""Building the env, the agent and the output folder of one run."""
BC_SECONDS_PER_EPISODE = 0.0075
"""A behaviour-cloning warm start (20 epochs), per demonstration episode (3 s for 400)."""
COLLECT_SECONDS_PER_EPISODE = 0.005
"""Collecting one scripted demonstration."""
VAE_SECONDS_PER_EPISODE_EPOCH = 0.0008
"""Training a stage-1 VAE, per demonstration and epoch (the two VAEs train in parallel)."""
LOOKAHEAD_MS_PER_CANDIDATE_STEP = 0.0125
"""The lookahead ceiling, per candidate and primitive step of an evaluation episode (copy the env, run
the candidate's chunk): 0.4 ms per candidate of a 32-step decision, measured on the Reach2D tasks."""


def _horizon(env_id: str) -> int:
    """The env's time limit in primitive steps (200 when it has none or is unknown)."""
    import gymnasium as gym

    try:
        return int(gym.spec(env_id).max_episode_steps or 200)
    except gym.error.Error:
        return 200


def estimate_run_seconds(agent: BenchAgent, env_id: str, config: BenchConfig) -> float:
    """Predicted seconds (one core) of one run: set-up + training + all evaluations (+ BC)."""
    kind = "primitive" if agent.actions == "primitive" else "macro"
    horizon = _horizon(env_id)
    evaluations = config.eval_points + 1
    eval_seconds = evaluations * config.eval_episodes * horizon * EVAL_MS_PER_STEP[kind] / 1000
    train_seconds = config.steps * TRAIN_MS_PER_STEP[(agent.algo, kind)] / 1000
    bc_seconds = config.demo_episodes * BC_SECONDS_PER_EPISODE if agent.bc else 0.0
    return RUN_SETUP_SECONDS + train_seconds + eval_seconds + bc_seconds


def estimate_lookahead_seconds(agent: BenchAgent, env_id: str, config: BenchConfig) -> float:
    """Predicted seconds of one (task, agent) lookahead ceiling (0 for agents that get none)."""
    from .bench_report import lookahead_applies

    if config.lookahead < 1 or not lookahead_applies(agent.actions, agent.plan_phase):
        return 0.0
    steps = config.eval_episodes * _horizon(env_id)
    return steps * config.lookahead * LOOKAHEAD_MS_PER_CANDIDATE_STEP / 1000


WORKER_START_SECONDS = 6.0
"""Starting a worker process (a fresh interpreter importing torch and SB3); the workers start together."""


def estimate_seconds(
    config: BenchConfig, costs: Sequence[float], stage1_cached: bool, report_seconds: float = 0.0
) -> float:
    """Predicted wall-clock seconds: stage 1 + the runs spread over the workers (at least the longest)
    + ``report_seconds`` (the lookahead ceilings, computed one after another)."""
    runs = max(sum(costs) / config.workers, max(costs, default=0.0)) + report_seconds
    stage1 = 0.0
    if not stage1_cached:
        from absaction.train import TrainConfig

        epochs = config.vae_epochs or TrainConfig().epochs
        per_episode = COLLECT_SECONDS_PER_EPISODE + epochs * VAE_SECONDS_PER_EPISODE_EPOCH
        stage1 = config.demo_episodes * per_episode
    return stage1 + runs + (WORKER_START_SECONDS if config.workers > 1 else 0.0)


def describe_sweep(config: BenchConfig, out: Path | None = None) -> tuple[str, float]:
    """A one-line plan of the sweep (runs, budget, workers, estimated duration) and the estimate (s).

    With ``out`` (a sweep being resumed), runs whose folders exist and a stage 1 already there are not
    counted in the estimate.
    """
    costs: list[float] = []
    from .bench_report import read_lookahead_cache

    lookahead = 0.0
    cached = {} if out is None else read_lookahead_cache(out)
    for task in config.tasks:
        for agent in config.agent_table():
            if f"{task_name(task)}/{agent.name}" not in cached:
                lookahead += estimate_lookahead_seconds(agent, task, config)
            cost = estimate_run_seconds(agent, task, config)
            for seed in range(config.seeds):
                if out is None or not (out / "runs" / task_name(task) / agent.name / f"seed{seed}").exists():
                    costs.append(cost)
    stage1_cached = (out is not None and (out / "stage1").exists()) or (
        config.data is not None and config.model is not None
    )
    expected = estimate_seconds(config, costs, stage1_cached, lookahead)
    runs = len(config.tasks) * len(config.agents) * config.seeds
    text = (
        f"bench rl: {len(config.tasks)} task(s) x {len(config.agents)} agent(s) x {config.seeds} seed(s)"
        f" = {runs} runs of {config.steps:,} primitive steps on {config.workers} worker(s)"
        + (f" ({runs - len(costs)} finished)" if len(costs) < runs else "")
        + f"; estimated {duration(expected)} with {config.workers} free core(s)"
    )
    load, cores = _load_average(), os.cpu_count() or 1
    if load is not None and load > 0.5 * cores:  # other jobs compete for the cores the estimate assumes
        text += f" (the machine is busy now: load {load:.1f} on {cores} cores, expect longer)"
    return text, expected


# ------------------------------------------------------------------------------------------- sweep
@dataclasses.dataclass
class BenchResult:
    """What :func:`run_bench` produced."""

    out: Path
    config: BenchConfig
    stage1: Stage1
    runs_total: int
    runs_skipped: int
    """finished runs found in ``out`` (by --resume) and not rerun"""
    estimate_seconds: float
    seconds: float
    """wall-clock seconds of this call"""
    report: Any
    """the :class:`~absaction.agents.bench_report.Report` (statistics, target check, files)"""
    runs_shared: int = 0
    """runs of agents identical to another agent of the sweep, read from that agent's folders"""

    @property
    def summary_md(self) -> Path:
        return self.out / "summary.md"


def prepare_out(config: BenchConfig, out: Path, force: bool, resume: bool) -> None:
    """Check ``out`` for a new sweep, a resumed one (same settings) or a forced restart (``--force``
    deletes an existing *bench* folder, never anything else)."""
    if force and resume:
        raise AbsactionError("--force and --resume contradict each other", "pass one of them")
    marker = out / "bench.json"
    if resume:
        if not marker.is_file():
            raise AbsactionError(
                f"{out} holds no sweep to resume", f"start one without --resume (--out {out})"
            )
        saved = json.loads(marker.read_text(encoding="utf-8")).get("config", {})
        for key in RESUME_KEYS:
            if saved.get(key) != getattr(config, key):
                raise AbsactionError(
                    f"{out} was swept with {key}={saved.get(key)!r}, now {key}={getattr(config, key)!r}",
                    "pass the same settings to --resume, or use another --out (or --force to start over)",
                )
        _remove_stale_temporaries(out)
        return
    if out.exists() and not force:
        raise AbsactionError(
            f"bench folder {out} already exists",
            "pass --resume to continue its sweep, --force to start over, or choose another --out",
        )
    if out.exists():
        empty_dir = out.is_dir() and not any(out.iterdir())
        if not marker.is_file() and not empty_dir:
            raise AbsactionError(
                f"{out} exists and is not an absaction bench folder (no bench.json)",
                "choose another --out (--force only replaces a bench folder)",
            )
        shutil.rmtree(out)
    check_new_output(out, False, "bench folder")  # a writable parent


def _remove_stale_temporaries(out: Path) -> None:
    """Temporary folders of runs killed without cleanup (SIGKILL, power loss) are ours to remove."""
    for tmp in list((out / "runs").glob("*/*/.seed*.tmp-*")) + list((out / "stage1").glob(".*.tmp-*")):
        shutil.rmtree(tmp, ignore_errors=True)


def run_bench(
    config: BenchConfig,
    out: str | os.PathLike[str],
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> BenchResult:
    """Run the whole sweep into ``out`` and write the report.

    Args:
        config: the sweep.
        out: the bench folder.
        force: replace an existing bench folder (deleted once the inputs are checked).
        resume: continue the sweep in ``out`` (same settings), skipping finished runs.
        progress: tqdm bar over runs on stderr.
        log: receives one-line progress messages (default: print to stderr).
    """
    from tqdm import tqdm

    from . import bench_report, bench_runs

    started = time.perf_counter()
    say = log or (lambda text: print(text, file=sys.stderr))
    out = Path(out)
    config.validate()
    prepare_out(config, out, force, resume)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "bench.json", {"absaction_version": __version__, "config": config.to_dict()})
    plan, expected = describe_sweep(config, out)
    say(plan)
    with bench_runs.Runner(config.workers) as runner:
        stage1 = bench_runs.prepare_stage1(config, out, runner, say)
        runs = bench_runs.plan_runs(config, stage1, out)
        signatures = bench_runs.preflight(runs, stage1)
        runs = bench_runs.share_identical_runs(runs, signatures, config.agents)
        shared = sorted({(task_name(r.task), r.agent.name, r.shared_with) for r in runs if r.shared_with})
        for task, agent, same in shared:
            say(f"bench rl: {task}/{agent} is the same agent as {task}/{same} (same latents): runs shared")
        todo = [run for run in runs if not bench_runs.run_finished(run)]
        n_shared = sum(1 for run in runs if run.shared_with)
        skipped = len(runs) - len(todo) - n_shared
        if skipped:
            say(f"bench rl: {skipped} finished run(s) found in {out}, {len(todo)} to go")
        jobs = [
            {"config": run.config.to_dict(), "out_dir": str(run.out_dir), "label": run.label} for run in todo
        ]
        bar = tqdm(
            total=len(runs) - n_shared,
            initial=skipped,
            desc="bench rl",
            unit="run",
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
        )
        try:
            for job, summary in runner.imap_unordered(bench_runs.train_job, jobs):
                bar.set_postfix_str(f"{job['label']}: success {summary['success_rate']:.2f}", refresh=False)
                bar.update(1)
        finally:
            bar.close()
    seconds = time.perf_counter() - started
    timing = {
        "estimate_seconds": expected,
        "seconds": seconds,
        "runs_trained": len(todo),
        "runs_skipped": skipped,
        "runs_shared": n_shared,
    }
    report = bench_report.write_report(config, stage1, runs, out, timing, say)
    seconds = time.perf_counter() - started  # with the report (lookahead ceilings included)
    return BenchResult(out, config, stage1, len(runs), skipped, expected, seconds, report, n_shared)


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return None


def duration(seconds: float) -> str:
    """Seconds as a short human duration: ``45 s``, ``30 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{math.ceil(seconds)} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
