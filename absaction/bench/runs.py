"""How a sweep of the RL benchmark runs (:mod:`.catalogue` says *what* it runs): the stage-1
artefacts, the plan of runs, one run, and the worker processes.

- :func:`prepare_stage1`: demonstrations (and play data), the ladder TCVLAE, the flat TCVAE, the untrained
  copy and the flat and ladder skill models, each built once into ``OUT/stage1`` (only when an agent of
  the sweep needs it) and reused by a resumed sweep;
- :func:`plan_runs` / :func:`preflight` / :func:`run_finished`: every (task, agent, seed) run as an
  :class:`~absaction.agents.AgentConfig`, checked before the first one starts, skipped when its folder
  exists (a run folder is written atomically, so an existing one is finished);
- :func:`train_job`: one run in a worker (of either executor of :mod:`.executors`).
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from absaction.agents.bc import demonstration_pairs, load_demonstrations
from absaction.agents.config import AgentConfig
from absaction.agents.environments import find_macro_wrapper, make_env
from absaction.agents.hyperparams import resolve_hyperparams
from absaction.agents.training import train_agent
from absaction.collect import CollectConfig, collect
from absaction.data import load_dataset
from absaction.errors import AbsactionError
from absaction.files import json_safe
from absaction.models import load, read_config, save
from absaction.models.io import model_from_config
from absaction.train import TrainConfig, fit, resume
from absaction.train.runs import recorded_data
from absaction.train.skill_loop import SkillTrainConfig, fit_skills, resume_skills

from .agents import LADDER_SKILL_MODELS, SKILL_MODEL_DATA, BenchAgent, Stage1
from .catalogue import RLBenchConfig, task_name
from .estimate import estimate_run_seconds
from .executors import Executor
from .relabel import hindsight_pairs, write_pairs
from .suites import SuiteData, suite_data

# ----------------------------------------------------------------------------------------- stage 1


def _model_complete(run_dir: Path) -> bool:
    path = run_dir / "config.json"
    if not path.is_file():
        return False
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("complete", True))
    except (OSError, json.JSONDecodeError):
        return False


def fit_job(job: dict[str, Any]) -> str:
    """Worker: train (or finish) one stage-1 VAE or skill model (``job["skill"]``); returns its folder."""
    run_dir = Path(job["run_dir"])
    if job.get("skill"):
        if run_dir.exists():
            resume_skills(run_dir, {})
        else:
            fit_skills(job["data"], SkillTrainConfig.from_dict(job["train"]), run_dir)
    elif run_dir.exists():  # an interrupted earlier sweep: continue from its last checkpoint
        resume(run_dir, progress=False)
    else:
        fit(job["data"], TrainConfig.from_dict(job["train"]), run_dir, progress=False)
    return str(run_dir)


def _collect_into(folder: Path, env_id: str, expert: str, episodes: int, noise: float) -> str:
    if not folder.exists():  # collect writes atomically: an existing folder is complete
        collect(
            CollectConfig(
                env_id=env_id,
                expert=expert,
                episodes=episodes,
                seed=0,
                noise=noise,
                out=folder,
                progress=False,
            )
        )
    return str(folder.resolve())


def relabelled_pairs(data: str, out: Path) -> str:
    """The goal-relabelled BC pairs of a goal-conditioned dataset (Dict observation with
    ``achieved_goal`` and ``desired_goal``), written once to ``out`` (``.npz``)."""
    if not out.exists():
        dataset = load_dataset(data)
        layout = dataset.obs_layout
        if layout is None or not {"achieved_goal", "desired_goal"} <= set(layout.keys):
            raise AbsactionError(
                f"{data} has no achieved_goal/desired_goal observation keys to relabel",
                "pass --data with PointMaze stitch data (absaction collect --expert waypoint:stitch)",
            )
        segments = [(np.asarray(ep.observations), np.asarray(ep.actions)) for ep in dataset.episodes]
        achieved = [int(i) for i in layout.columns(["achieved_goal"])]
        desired = [int(i) for i in layout.columns(["desired_goal"])]
        obs, actions = hindsight_pairs(segments, achieved, desired, seed=0)
        write_pairs(out, obs, actions, dataset.env_id)
    return str(out.resolve())


def _resolve_data(config: RLBenchConfig, stage: Path) -> str:
    """The demonstrations: --data, else the --model run's own training data (the same demonstrations
    its decoder saw), else scripted Reach2D-v0 experts collected into ``stage/demos``."""
    if config.data is not None:
        given = Path(config.data).expanduser()
        return str(given.resolve()) if given.exists() else config.data  # a folder, or a Minari id
    if config.model is not None:
        recorded = recorded_data(Path(config.model).expanduser())
        if recorded and Path(recorded).exists():
            return str(Path(recorded).resolve())
    suite = suite_data(config.suite, config.tasks)
    return _collect_into(stage / "demos", suite.demo_env, suite.expert, config.demo_episodes, suite.noise)


def _skill_columns(data: str, names: tuple[str, ...]) -> list[str]:
    """The skill observation of ``data``: Dict keys of a flattened Dict observation become its column
    indices (the skill windows name flat columns only), other names stay."""
    layout = load_dataset(data).obs_layout
    if layout is None or not set(names) <= set(layout.keys):
        return list(names)
    return [str(int(i)) for i in layout.columns(list(names))]


def _skill_train_config(
    config: RLBenchConfig, suite: SuiteData, data: str, ladder: bool = False
) -> SkillTrainConfig:
    """The stage-1 skill model on ``data``: flat (one latent group of the suite's z size), or with
    ``ladder`` the ladder encoder with two ladders splitting that size in halves (the concrete one takes
    the odd unit), the same horizon, skill observation, epochs and seed otherwise."""
    horizon, z_dim, frame = config.skill_model_settings
    train = SkillTrainConfig(
        horizon=horizon,
        z_dim=z_dim,
        skill_obs=_skill_columns(data, suite.skill_obs),
        frame=frame,
        threads=1,
        seed=0,
    )
    if ladder:  # RLBenchConfig.validate refused a latent of 1, which has no two halves
        train.encoder = "ladder"
        train.ladder_dims = [z_dim - z_dim // 2, z_dim // 2]  # concrete first, top last
    if config.skill_epochs is not None:
        train.epochs = config.skill_epochs
    return train


def prepare_stage1(config: RLBenchConfig, out: Path, runner: Executor, log: Callable[[str], None]) -> Stage1:
    """Collect the demonstrations and train/build the action models the selected agents need (each
    skipped when it is already in ``out/stage1``)."""
    stage = out / "stage1"
    needed: set[str] = set().union(*(agent.needs() for agent in config.agent_table()))
    if "untrained" in needed:
        needed.add("tcvlae")
    suite = suite_data(config.suite, config.tasks)
    data_needed = bool(needed & {"demos", "tcvae", "skill", "skill-ladder"}) or (
        "tcvlae" in needed and config.model is None
    )
    data = _resolve_data(config, stage) if data_needed else None
    bc_data: dict[str, str] = {}
    if data is not None:
        # primitive BC on goal-conditioned segments: hindsight-relabelled pairs (see .relabel)
        bc_data["demos"] = (
            relabelled_pairs(data, stage / "bc_relabelled.npz") if suite.relabel_goals else data
        )
    if needed & {"play", "skill-play", "skill-ladder-play"}:
        if suite.play_env is None:
            raise AbsactionError(
                f"the {config.suite} suite has no play data", "drop the -play agents (--agents)"
            )
        if not (stage / "play").exists():  # a resumed sweep reuses its play data
            log(f"stage 1: collecting {config.play_episodes} play episodes in {suite.play_env}")
        bc_data["play"] = _collect_into(stage / "play", suite.play_env, "scripted", config.play_episodes, 0.0)
    models: dict[str, Path] = {}
    if "tcvlae" in needed and config.model is not None:
        models["tcvlae"] = Path(config.model).expanduser().resolve()
    jobs: list[dict[str, Any]] = []
    for kind in ("tcvlae", "tcvae"):
        if kind in needed and kind not in models:
            models[kind] = (stage / kind).resolve()
            if not _model_complete(models[kind]):
                progressive = config.vae_progressive if kind == "tcvlae" else 0
                train = TrainConfig(model=kind, threads=config.threads, seed=0, progressive=progressive)
                if config.vae_epochs is not None:
                    train.epochs = config.vae_epochs
                jobs.append({"data": str(data), "train": train.to_dict(), "run_dir": str(models[kind])})
    for kind, data_kind in SKILL_MODEL_DATA.items():  # flat and ladder, on the demonstrations and play
        if kind in needed:
            source = data if data_kind == "demos" else bc_data.get("play")
            models[kind] = (stage / kind).resolve()
            if not _model_complete(models[kind]):
                train_skill = _skill_train_config(config, suite, str(source), kind in LADDER_SKILL_MODELS)
                jobs.append(
                    {
                        "data": str(source),
                        "train": train_skill.to_dict(),
                        "run_dir": str(models[kind]),
                        "skill": True,
                    }
                )
    if jobs:
        names = ", ".join(f"{Path(j['run_dir']).name} (on {j['data']})" for j in jobs)
        log(f"stage 1: training {names}")
        for _ in runner.imap_unordered(fit_job, jobs):
            pass
    if "untrained" in needed:
        # the TCVLAE's architecture, normaliser and measured active units, with freshly initialised
        # weights: the agent controls the same latents, but the decoder knows nothing of the data
        models["untrained"] = (stage / "untrained").resolve()
        if not (models["untrained"] / "config.json").is_file():  # written last by save()
            torch.manual_seed(0)
            untrained = model_from_config(read_config(models["tcvlae"]))
            save(
                untrained, models["untrained"], extra={"untrained_copy_of": str(models["tcvlae"])}, force=True
            )
    top_ladder: dict[str, int] = {}
    skill_top: dict[str, int | None] = {}
    chunk = None
    for kind, path in models.items():
        model = load(path)
        if kind in SKILL_MODEL_DATA:  # -top agents: a ladder model's top ladder, else the first half
            groups = list(model.ladder_dims)
            skill_top[kind] = None if len(groups) > 1 else max(1, sum(int(g) for g in groups) // 2)
            continue
        active = model.active_dims()
        with_units = [i for i, dims in enumerate(active, start=1) if dims]
        top_ladder[kind] = with_units[-1] if with_units else len(active)
        if kind == "tcvlae":
            chunk = model.seq_len
    return Stage1(
        data=data,
        models=models,
        top_ladder=top_ladder,
        chunk=chunk,
        bc_data=bc_data,
        skill_top_dims=skill_top,
    )


# -------------------------------------------------------------------------------------------- runs
@dataclasses.dataclass
class RunSpec:
    """One run of the sweep."""

    task: str
    """env id"""
    agent: BenchAgent
    seed: int
    config: AgentConfig
    out_dir: Path
    cost: float
    """estimated seconds on one core"""
    shared_with: str | None = None
    """another agent of the sweep whose run this one *is* (same action space, same everything else:
    e.g. ``ppo-latent-top`` when every active unit is in the top ladder); ``out_dir`` is then that
    agent's folder and nothing is trained for this one (see :func:`share_identical_runs`)"""

    @property
    def label(self) -> str:
        return f"{task_name(self.task)}/{self.agent.name}/seed{self.seed}"


def plan_runs(config: RLBenchConfig, stage1: Stage1, out: Path) -> list[RunSpec]:
    """Every (task, agent, seed) run, most expensive first (so the slowest runs do not end the sweep
    alone on one worker)."""
    runs = []
    for task in config.tasks:
        for agent in config.agent_table():
            cost = estimate_run_seconds(agent, task, config)
            for seed in range(config.seeds):
                agent_config = agent.config(
                    task, seed, config.steps, config.eval_every, config.eval_episodes, stage1
                )
                out_dir = out / "runs" / task_name(task) / agent.name / f"seed{seed}"
                runs.append(RunSpec(task, agent, seed, agent_config, out_dir, cost))
    return sorted(runs, key=lambda r: -r.cost)


def preflight(runs: Sequence[RunSpec], stage1: Stage1) -> dict[tuple[str, str], str]:
    """Build every (task, agent) env once and check the BC demonstrations against it, so that a bad
    combination fails in seconds rather than after an hour of other runs.

    Returns the *signature* of every (task, agent name): its run config without seed, ladder and dim
    choices, plus the wrapper's resolved settings (the latents it really exposes). Two agents with
    the same signature on a task train the same agent, bit for bit.
    """
    demos: dict[str, Any] = {}
    signatures: dict[tuple[str, str], str] = {}
    for run in runs:
        if (run.task, run.agent.name) in signatures:
            continue
        env = make_env(run.config)  # validates the config; latent: loads the model, checks dims/bounds
        try:
            if run.agent.bc:
                path = run.config.bc_dataset
                assert path is not None
                if path not in demos:
                    demos[path] = load_demonstrations(path)
                check_bc_applicable(demos[path], env, run.task)
            macro = find_macro_wrapper(env)
            fields = {k: v for k, v in run.config.to_dict().items() if k not in ("seed", "ladders", "dims")}
            fields["wrapper"] = None if macro is None else macro.macro_settings()
            signatures[(run.task, run.agent.name)] = json.dumps(json_safe(fields), sort_keys=True)
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
        same = owner.get((run.task, run.agent.name), run.agent.name)
        if same != run.agent.name:
            run = dataclasses.replace(
                run, shared_with=same, out_dir=run.out_dir.parents[1] / same / run.out_dir.name
            )
        shared.append(run)
    return shared


def check_bc_applicable(demos: Any, env: Any, task: str) -> None:
    """Cloning the demonstrations (a dataset or (observation, action) pairs) is meaningful where the flat
    observation and the primitive action have the same sizes as the task's (true for the whole Reach2D
    family, and for PointMaze data and its tasks; bounds may differ)."""
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


def run_finished(run: RunSpec) -> bool:
    """Whether ``run`` already has its folder; refuses one written with other settings. A run shared
    with another agent's (``shared_with``) is that agent's business: it counts as finished here."""
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
    for key in (
        "env_id",
        "algo",
        "actions",
        "ladders",
        "dims",
        "chunk",
        "steps",
        "seed",
        "eval_every",
        "eval_episodes",
        "hyperparams",
    ):
        if saved.get(key) != expected[key]:
            raise AbsactionError(
                f"{run.out_dir} was run with {key}={saved.get(key)!r}, this sweep asks for {expected[key]!r}",
                "use another --out, or --force to start the sweep over",
            )
    _check_resolved_hyperparams(run, record.get("hyperparams"))
    for key in ("model", "bc_dataset"):  # compared by folder name: the sweep folder may have moved
        if (saved.get(key) is None) != (expected[key] is None) or (
            saved.get(key) is not None and Path(saved[key]).name != Path(expected[key]).name
        ):
            raise AbsactionError(
                f"{run.out_dir} was run with {key}={saved.get(key)!r}, this sweep asks for {expected[key]!r}",
                "use another --out, or --force to start the sweep over",
            )
    return True


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
