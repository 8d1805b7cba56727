"""Stage 1 of the RL study: the shared artefacts every run builds on, each built once into
``OUT/stage1`` (only when an agent of the sweep needs it) and reused by a resumed sweep: demonstrations
(and play data), goal-relabelled BC pairs (PointMaze), the ladder TCVLAE, the flat TCVAE, the untrained
copy and the flat and ladder skill models (:func:`prepare_stage1`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from absaction.bench.executors import Executor
from absaction.data import load_dataset
from absaction.data.collect import CollectConfig, collect
from absaction.data.relabel import hindsight_pairs, write_pairs
from absaction.errors import AbsactionError
from absaction.models import load, read_config, save
from absaction.models.io import model_from_config
from absaction.train import TrainConfig, fit, resume
from absaction.train.runs import recorded_data
from absaction.train.skill_loop import SkillTrainConfig, fit_skills, resume_skills

from .agents import LADDER_SKILL_MODELS, SKILL_MODEL_DATA, Stage1
from .catalogue import RLBenchConfig
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
        # primitive BC on goal-conditioned segments: hindsight-relabelled pairs (absaction.data.relabel)
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
        devices = [str(job["train"].get("device", "cpu")) for job in jobs]  # a CUDA model asks Ray for a GPU
        for _ in runner.imap_unordered(fit_job, jobs, devices):
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
