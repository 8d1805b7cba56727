"""Offline runs end to end: :func:`train_offline` (a new run), :func:`resume_offline` (continue one) and
:func:`evaluate_agent` (a trained agent on its maze's tasks).

A run trains on the training engine (:mod:`absaction.train.engine`) as a step-budget kind,
:class:`OfflineKind`: the engine owns the run folder, the checkpoints, the bit-identical resume,
``metrics.csv`` (one row per ``log_every`` steps) and the progress bar; the kind draws each batch with
its goal sampler, holds the agent's losses and target updates, and evaluates every ``eval_every`` steps
and after the last (``eval.csv``, the figures).

A run folder holds the agent (``model.safetensors`` + ``config.json``), ``resume.safetensors``,
``metrics.csv``, ``eval.csv``, ``learning_curve.png``, ``rollouts.png`` and ``report.md``. Every input is
checked before anything is written; the folder is created atomically with a step-0 checkpoint, so it is
resumable from the start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from absaction.data.goals import GoalSampler
from absaction.devices import check_device
from absaction.envs.ogbench_maze import MazeLayout
from absaction.errors import AbsactionError
from absaction.files import atomic_dir, check_new_output
from absaction.offline.agent import OfflineAgent, TensorBatch
from absaction.offline.configs import RUN_CONTROL_KEYS, AgentConfig, OfflineConfig, agent_config, check_agent
from absaction.offline.data import OfflineData, find_dataset, load_offline_data, maze_layout
from absaction.offline.evaluation import EvalResult, Evaluator
from absaction.offline.figures import learning_curve, rollout_figure
from absaction.offline.persistence import (
    AGENT_CLASSES,
    build_agent,
    check_same_maze,
    load_agent,
    read_agent_config,
    save_agent,
)
from absaction.offline.report import (
    LEARNING_CURVE_FILE,
    ROLLOUTS_FILE,
    published,
    write_eval_csv,
    write_report,
)
from absaction.outputs import path_from_record, path_in_record
from absaction.threads import torch_threads
from absaction.train import engine
from absaction.train.engine import Conflict, LossTerms

COMMAND = "offline"
"""The command whose record a run folder carries (what ``--force`` may replace)."""

StepCallback = Callable[[int], None]
"""Called after every gradient step with the number of completed steps; an exception it raises stops
the run like a crash would (tests interrupt runs this way)."""


@dataclass
class OfflineProgress:
    """Where a run stands."""

    step: int
    """completed gradient steps"""
    elapsed: float
    """seconds spent in gradient steps, over all sessions"""
    metrics: list[dict[str, Any]]
    """the rows of metrics.csv"""
    evaluations: list[dict[str, Any]]
    """the rows of eval.csv"""


@dataclass
class OfflineResult:
    """What a run returns."""

    agent: OfflineAgent
    run_dir: Path
    loop: OfflineProgress
    """steps, metric rows, evaluation rows, training seconds"""

    @property
    def final_success(self) -> float | None:
        return self.loop.evaluations[-1]["overall"] if self.loop.evaluations else None


@dataclass
class EngineConfig:
    """An offline run's settings as the training engine reads them
    (:class:`~absaction.train.engine.StepRunConfig`): the resolved :class:`OfflineConfig` (written to
    ``config.json`` as ``train``) and the agent's learning rate."""

    run: OfflineConfig
    lr: float
    tensorboard: bool = False
    steps: int = dataclasses.field(init=False)
    log_every: int = dataclasses.field(init=False)
    checkpoint_every: int = dataclasses.field(init=False)
    seed: int = dataclasses.field(init=False)
    threads: int = dataclasses.field(init=False)
    device: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        run = self.run
        self.steps, self.log_every = _int(run.steps), _int(run.log_every)
        self.checkpoint_every, self.seed = _int(run.checkpoint_every), run.seed
        self.threads, self.device = run.threads, run.device

    def validate(self) -> None:
        self.run.validate()

    def to_dict(self) -> dict[str, Any]:
        return self.run.to_dict()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineConfig:
        """A saved run's settings (its learning rate is the agent's, compared with the agent's settings)."""
        return cls(OfflineConfig.from_dict(data), lr=0.0)

    def conflicts(
        self, overrides: dict[str, Any], model_config: dict[str, Any] | None = None
    ) -> list[Conflict]:
        """The run settings in ``overrides`` that differ from these (run-control keys may)."""
        mine = self.to_dict()
        return [
            (key, mine.get(key), value)
            for key, value in overrides.items()
            if key not in RUN_CONTROL_KEYS and _normal(mine.get(key)) != _normal(value)
        ]


def goal_sampler(settings: AgentConfig, data: OfflineData) -> GoalSampler:
    """The sampler of ``settings``' batches (its goal mixes and discount) over ``data``."""
    return GoalSampler(
        data.transitions, settings.value_goals(), settings.actor_goals(), settings.discount,
        getattr(settings, "gc_negative", True),
    )  # fmt: skip


class OfflineKind:
    """An offline agent as the training engine's step-budget kind (:class:`~absaction.train.engine.StepKind`).

    Each step draws a batch of goal-conditioned transitions with the agent's goal sampler (a NumPy
    generator seeded by the run's seed, saved in the resume state) and logs the agent's metrics; after the
    optimiser's step the target networks move. Every ``eval_every`` steps and after the last the agent is
    evaluated on the maze's tasks: ``eval.csv``, ``learning_curve.png`` and ``rollouts.png`` are rewritten
    and the evaluation rows kept in the resume state.

    Args:
        settings: the agent's configuration.
        data: the dataset.
        run: the run's settings, resolved (no None budget).
        run_dir: the run folder (paths in ``config.json`` are stored relative to it).
    """

    divergence_fix = "lower lr (--lr) or check the dataset"
    progress_terms: tuple[str, ...] = ()  # the bar shows the last evaluation's success

    def __init__(self, settings: AgentConfig, data: OfflineData, run: OfflineConfig, run_dir: Path) -> None:
        self.settings, self.data, self.run, self.run_dir = settings, data, run, run_dir
        self.config = EngineConfig(run, settings.lr)
        self.metric_names = AGENT_CLASSES[settings.name].metric_names
        self.rng = np.random.default_rng(run.seed)  # the batches
        self.evaluations: list[dict[str, Any]] = []
        self.evaluator: Evaluator | None = None
        self.task_names: list[str] = []
        self.layout: MazeLayout | None = None

    def data_arrays(self) -> Sequence[np.ndarray | None]:
        t = self.data.transitions
        return [t.observations, t.actions, t.next_observations, t.terminals]

    def data_info(self) -> dict[str, Any]:
        return {**self.data.describe(), "path": path_in_record(self.data.path, self.run_dir)}

    def build(self, device: torch.device) -> torch.nn.Module:
        obs_dim, action_dim = (
            self.data.transitions.observations.shape[1],
            self.data.transitions.actions.shape[1],
        )
        self.agent = build_agent(self.settings, obs_dim, action_dim, self.run.seed).to(device)
        self.device = device
        self.sampler = goal_sampler(self.settings, self.data)
        return self.agent

    def columns(self) -> list[str]:
        return ["step", *self.metric_names, "seconds", "updates_per_s"]

    def batch_loss(self, generator: torch.Generator) -> LossTerms:
        batch = TensorBatch.from_numpy(self.sampler.sample(self.settings.batch_size, self.rng), self.device)
        loss, metrics = self.agent.losses(batch, generator)
        # each step's metrics count once; summed in float64 on the metrics' own device
        return LossTerms(loss, {"metrics": metrics.to(torch.float64)}, 1)

    def end_step(self) -> None:
        self.agent.after_step()

    def row_metrics(self, sums: dict[str, Tensor], n: int) -> dict[str, Any]:
        means = (sums["metrics"] / n).tolist()
        return dict(zip(self.metric_names, means, strict=True))

    def evaluate(self, step: int, final: bool) -> dict[str, Any]:
        if step % _int(self.run.eval_every) != 0 and not final:
            return {}
        if self.evaluator is None:
            tasks = None if self.run.eval_tasks is None else range(1, self.run.eval_tasks + 1)
            self.evaluator = Evaluator(self.data.env_id, self.run.eval_episodes, self.run.seed, tasks)
            self.task_names = self.evaluator.task_names
            self.layout = maze_layout(self.data.env_id)
        result = self.evaluator.run(self.agent.policy(self.device))
        self.evaluations.append({"step": step, **result.row(), "seconds": result.seconds})
        write_eval_csv(self.run_dir, self.task_names, self.evaluations)
        title = f"{self.run.agent} on {self.data.name}, step {step:,}"
        reference = published(self.data.name, self.run.agent)
        learning_curve(
            self.evaluations, self.task_names, self.run_dir / LEARNING_CURVE_FILE, title,
            None if reference is None else reference[0],
        )  # fmt: skip
        assert self.layout is not None
        rollout_figure(result, self.layout, self.run_dir / ROLLOUTS_FILE, title)
        return {"success": result.overall}

    def schedule_state(self) -> dict[str, Any]:
        return {"batch_rng": self.rng.bit_generator.state, "evaluations": self.evaluations}

    def load_schedule_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["batch_rng"]
        self.evaluations = list(state["evaluations"])
        if self.evaluations:  # rows a killed session wrote after its last checkpoint are dropped
            tasks = [k for k in self.evaluations[0] if k not in ("step", "overall", "seconds")]
            write_eval_csv(self.run_dir, tasks, self.evaluations)

    def read_record(self, run_dir: Path) -> dict[str, Any]:
        return read_agent_config(run_dir)

    def record_conflicts(self, run_dir: Path, saved: dict[str, Any]) -> list[Conflict]:
        """The agent settings that differ from the run's."""
        if saved.get("agent") != self.settings.name:
            raise AbsactionError(
                f"{run_dir} holds a {saved.get('agent')} agent, not {self.settings.name}",
                f"resume it with absaction offline --resume {run_dir} (its own agent)",
            )
        mine, theirs = self.settings.to_dict(), saved.get("agent_config", {})
        return [
            (key, theirs.get(key), mine.get(key))
            for key in sorted(set(mine) | set(theirs))
            if _normal(mine.get(key)) != _normal(theirs.get(key))
        ]

    def save(self, folder: Path, extra: dict[str, Any]) -> None:
        final = self.evaluations[-1]["overall"] if self.evaluations else None
        save_agent(self.agent, folder, self.data.env_id, {**extra, "final_success": final})

    def trained_model(self) -> OfflineAgent:
        return self.agent.eval()

    def close(self) -> None:
        if self.evaluator is not None:
            self.evaluator.close()
            self.evaluator = None


def train_offline(
    config: OfflineConfig,
    out: str | Path,
    *,
    force: bool = False,
    progress: bool = True,
    step_callback: StepCallback | None = None,
) -> OfflineResult:
    """Train ``config.agent`` on ``config.dataset`` and write the run folder ``out``.

    Args:
        config: the run (its None budget fields take the preset's).
        out: the run folder to create.
        force: replace an existing run folder that ``absaction offline`` wrote.
        progress: show a progress bar on stderr.
        step_callback: called after every gradient step with the step count (an exception it raises
            stops the run as a crash would; the folder keeps its last checkpoint).

    Raises:
        AbsactionError: a setting, the dataset, the env or the output is unusable; nothing is written.
    """
    config.validate()
    run = config.resolved()
    data = load_offline_data(run.dataset, run.env_id, run.ogbench_dir)
    run = dataclasses.replace(run, env_id=data.env_id)
    settings = agent_config(run.agent, data.name, run.preset, run.agent_options)
    out = Path(out)
    check_new_output(
        out, force, "run folder", command=COMMAND, inputs=[data.path],
        exists_fix=engine.resume_or_force(out, COMMAND),
    )  # fmt: skip
    return _train(OfflineKind(settings, data, run, out), force, False, progress, step_callback)


def resume_offline(
    run_dir: str | Path,
    changes: dict[str, Any] | None = None,
    *,
    progress: bool = True,
    step_callback: StepCallback | None = None,
) -> OfflineResult:
    """Continue the run in ``run_dir`` from its last checkpoint.

    Args:
        run_dir: the run folder.
        changes: run settings given again (:class:`~absaction.offline.configs.OfflineConfig` fields, and
            agent settings in ``agent_options``); only ``steps`` (to grow), ``checkpoint_every``,
            ``device`` and ``threads`` may differ from the run's, anything else is refused.
    """
    run_dir = Path(run_dir)
    record = read_agent_config(run_dir)
    try:
        saved = OfflineConfig.from_dict(record["train"])
        cls = check_agent(record["agent"])
        settings = cls.from_dict(record["agent_config"])
    except (KeyError, TypeError) as err:
        raise AbsactionError(
            f"{run_dir}/config.json lacks the run's settings ({err})", "start a new run"
        ) from None
    data_path = path_from_record(record["data"]["path"], run_dir)
    run, conflicts = _merge(saved, settings, changes or {}, data_path)
    data = load_offline_data(str(data_path), run.env_id, run.ogbench_dir)
    kind = OfflineKind(settings, data, run, run_dir)
    sha256 = engine.fingerprint(kind.data_arrays())
    if sha256 != record["data"]["sha256"]:
        conflicts.append(("data", f"{data_path} (fingerprint {record['data']['sha256'][:8]})", sha256[:8]))
    if conflicts:
        shown = "; ".join(f"{key} {new} vs the run's {old}" for key, old, new in conflicts)
        raise AbsactionError(
            f"cannot resume {run_dir}: {shown}",
            "drop the differing settings to continue the run (only --steps, --checkpoint-every, --device and "
            "--threads may change), or start a new run in another folder",
        )
    return _train(kind, False, True, progress, step_callback)


def _train(
    kind: OfflineKind, force: bool, resume: bool, progress: bool, step_callback: StepCallback | None
) -> OfflineResult:
    """Run ``kind`` on the engine, then write the report."""
    callback = None if step_callback is None else (lambda step, row: step_callback(step))
    try:
        fit = engine.train(
            kind, kind.run_dir, force=force, resume=resume, progress=progress, epoch_callback=callback,
            command=COMMAND,
        )  # fmt: skip
    finally:
        kind.close()
    write_report(kind.run_dir, read_agent_config(kind.run_dir), kind.evaluations)
    progress_made = OfflineProgress(fit.completed, fit.seconds, fit.metrics, kind.evaluations)
    return OfflineResult(fit.model, kind.run_dir, progress_made)


def _merge(
    saved: OfflineConfig, settings: AgentConfig, changes: dict[str, Any], data_path: Path
) -> tuple[OfflineConfig, list[tuple[str, Any, Any]]]:
    """The run's settings with ``changes`` applied where allowed, and the conflicts."""
    conflicts: list[tuple[str, Any, Any]] = []
    values = saved.to_dict()
    for key, value in changes.items():
        if key == "agent_options":
            mine = settings.to_dict()
            for name, given in value.items():
                if name not in mine:
                    conflicts.append((name, "(no such setting)", given))
                elif _normal(mine[name]) != _normal(given):
                    conflicts.append((name, mine[name], given))
        elif key in RUN_CONTROL_KEYS:
            values[key] = value
        elif key not in values:
            raise AbsactionError(f"unknown run setting {key!r}", "use the flags of absaction offline")
        elif key == "dataset":
            given = find_dataset(str(value), values.get("ogbench_dir")).resolve()
            if given != data_path.resolve():
                conflicts.append((key, data_path, given))
        elif _normal(values[key]) != _normal(value):
            conflicts.append((key, values[key], value))
    return OfflineConfig.from_dict(values), conflicts


def _normal(value: Any) -> Any:
    return [_normal(v) for v in value] if isinstance(value, (list, tuple)) else value


def _int(value: int | None) -> int:
    assert value is not None  # resolved from the preset
    return value


def evaluate_agent(
    run_dir: str | Path,
    env_id: str | None = None,
    episodes: int = 50,
    seed: int = 0,
    device: str = "cpu",
    tasks: int | None = None,
) -> EvalResult:
    """Evaluate the agent of ``run_dir`` on the tasks of ``env_id`` (default: the env it was trained for):
    ``episodes`` per task, the first ``tasks`` tasks (default all), seeded by ``seed``.

    Raises:
        AbsactionError: the folder holds no agent, or ``env_id`` is another maze.
    """
    agent, trained_env = load_agent(run_dir, check_device(device))
    env_id = env_id or trained_env
    check_same_maze(trained_env, env_id)
    with Evaluator(env_id, episodes, seed, None if tasks is None else range(1, tasks + 1)) as evaluator:
        return evaluator.run(agent.policy(device))


def evaluate_to_folder(
    run_dir: str | Path,
    out: str | Path,
    env_id: str | None = None,
    episodes: int = 50,
    seed: int = 0,
    device: str = "cpu",
    threads: int = 1,
    force: bool = False,
    tasks: int | None = None,
) -> EvalResult:
    """:func:`evaluate_agent`, writing ``eval.csv`` and ``rollouts.png`` into the new folder ``out``.

    Raises:
        AbsactionError: as :func:`evaluate_agent`, or ``out`` cannot be written; nothing is written then.
    """
    run_dir, out = Path(run_dir), Path(out)
    record = read_agent_config(run_dir)
    env_id = env_id or str(record["env_id"])
    check_same_maze(str(record["env_id"]), env_id)
    check_new_output(out, force, "evaluation folder", command=COMMAND, inputs=[run_dir])
    check_device(device)
    with torch_threads(threads):
        result = evaluate_agent(run_dir, env_id, episodes, seed, device, tasks)
    row = {"step": record.get("steps_completed", 0), **result.row(), "seconds": result.seconds}
    with atomic_dir(out, force, "evaluation folder", command=COMMAND) as tmp:
        write_eval_csv(tmp, result.task_names, [row])
        title = f"{record['agent']} from {run_dir.name} on {env_id}"
        rollout_figure(result, maze_layout(env_id), tmp / ROLLOUTS_FILE, title)
    return result
