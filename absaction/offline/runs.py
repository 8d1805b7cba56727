"""Offline runs end to end: :func:`train_offline` (a new run), :func:`resume_offline` (continue one) and
:func:`evaluate_agent` (a trained agent on its maze's tasks).

A run folder holds the agent (``model.safetensors`` + ``config.json``), ``resume.safetensors``,
``metrics.csv``, ``eval.csv``, ``learning_curve.png``, ``rollouts.png`` and ``report.md``. Every input is
checked before anything is written; the folder is created atomically with a step-0 checkpoint, so it is
resumable from the start.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from absaction import __version__
from absaction.data.goals import GoalSampler
from absaction.devices import check_device
from absaction.envs.ogbench_maze import MazeLayout
from absaction.errors import AbsactionError, option
from absaction.files import atomic_dir, check_new_output
from absaction.offline.agent import OfflineAgent, TensorBatch
from absaction.offline.configs import RUN_CONTROL_KEYS, AgentConfig, OfflineConfig, agent_config, check_agent
from absaction.offline.data import OfflineData, find_dataset, load_offline_data, maze_layout
from absaction.offline.evaluation import EvalResult, Evaluator
from absaction.offline.figures import learning_curve, rollout_figure
from absaction.offline.persistence import (
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
from absaction.offline.trainer import LoopState, RunStore, StepCallback, run_loop
from absaction.outputs import path_from_record, path_in_record
from absaction.threads import torch_threads

COMMAND = "offline"
"""The command whose record a run folder carries (what ``--force`` may replace)."""


@dataclass
class OfflineResult:
    """What a run returns."""

    agent: OfflineAgent
    run_dir: Path
    loop: LoopState
    """steps, metric rows, evaluation rows, training seconds"""

    @property
    def final_success(self) -> float | None:
        return self.loop.evaluations[-1]["overall"] if self.loop.evaluations else None


class OfflineTraining:
    """An agent, its optimiser and its batches: the :class:`~absaction.offline.trainer.Trainable` of a run."""

    def __init__(
        self,
        agent: OfflineAgent,
        data: OfflineData,
        run: OfflineConfig,
        device: torch.device,
        record: dict[str, Any],
    ) -> None:
        config = agent.config
        self.agent = agent.to(device)
        self.metric_names = agent.metric_names
        self.sampler = GoalSampler(
            data.transitions, config.value_goals(), config.actor_goals(), config.discount,
            getattr(config, "gc_negative", True),
        )  # fmt: skip
        self.batch_size = config.batch_size
        self.optimizer = agent.make_optimizer()
        self.rng = np.random.default_rng(run.seed)  # the batches
        self.generator = torch.Generator(device=device).manual_seed(run.seed)  # sampling noise
        self.device = device
        self.record = record
        self.env_id = data.env_id

    def train_step(self) -> Tensor:
        batch = TensorBatch.from_numpy(self.sampler.sample(self.batch_size, self.rng), self.device)
        return self.agent.update(batch, self.optimizer, self.generator)

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors = {f"agent/{k}": v for k, v in self.agent.state_dict().items()}
        tensors.update({f"optimizer/{k}": v for k, v in self.optimizer.state_tensors().items()})
        tensors["rng/torch"] = self.generator.get_state()
        values = {"numpy_rng": self.rng.bit_generator.state, "optimizer_step": self.optimizer.step_count}
        return tensors, values

    def load_state(self, tensors: dict[str, Tensor], values: dict[str, Any]) -> None:
        agent = {k.removeprefix("agent/"): v for k, v in tensors.items() if k.startswith("agent/")}
        self.agent.load_state_dict(agent)
        optimizer = {
            k.removeprefix("optimizer/"): v for k, v in tensors.items() if k.startswith("optimizer/")
        }
        self.optimizer.load_state(optimizer, values["optimizer_step"])
        self.generator.set_state(tensors["rng/torch"])
        self.rng.bit_generator.state = values["numpy_rng"]

    def save(self, folder: Path, loop: LoopState) -> None:
        final = loop.evaluations[-1]["overall"] if loop.evaluations else None
        extra = {
            **self.record,
            "steps_completed": loop.step,
            "complete": loop.complete,
            "train_seconds": loop.elapsed,
            "final_success": final,
        }
        save_agent(self.agent, folder, self.env_id, extra)


class _Evaluation:
    """Evaluates the agent during a run and writes eval.csv and the figures after each evaluation."""

    def __init__(
        self, training: OfflineTraining, run_dir: Path, run: OfflineConfig, data: OfflineData
    ) -> None:
        self.training, self.run_dir, self.run, self.data = training, run_dir, run, data
        self.evaluator: Evaluator | None = None
        self.task_names: list[str] = []
        self.layout: MazeLayout | None = None

    def __call__(self, loop: LoopState) -> dict[str, Any]:
        if self.evaluator is None:
            tasks = None if self.run.eval_tasks is None else range(1, self.run.eval_tasks + 1)
            self.evaluator = Evaluator(self.data.env_id, self.run.eval_episodes, self.run.seed, tasks)
            self.task_names = self.evaluator.task_names
            self.layout = maze_layout(self.data.env_id)
        result = self.evaluator.run(self.training.agent.policy(self.training.device))
        row = {"step": loop.step, **result.row(), "seconds": result.seconds}
        rows = [*loop.evaluations, row]
        write_eval_csv(self.run_dir, self.task_names, rows)
        title = f"{self.run.agent} on {self.data.name}, step {loop.step:,}"
        reference = published(self.data.name, self.run.agent)
        learning_curve(
            rows, self.task_names, self.run_dir / LEARNING_CURVE_FILE, title,
            None if reference is None else reference[0],
        )  # fmt: skip
        assert self.layout is not None
        rollout_figure(result, self.layout, self.run_dir / ROLLOUTS_FILE, title)
        return row

    def close(self) -> None:
        if self.evaluator is not None:
            self.evaluator.close()


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
    agent_settings = agent_config(run.agent, data.name, run.preset, run.agent_options)
    out = Path(out)
    check_new_output(out, force, "run folder", command=COMMAND, inputs=[data.path])
    device = torch.device(check_device(run.device))
    with torch_threads(run.threads):
        training = _training(agent_settings, data, run, device, out)
        loop = LoopState(steps=_int(run.steps), data_sha256=data.sha256)
        store = RunStore(out, training.metric_names)
        with atomic_dir(out, force, "run folder", command=COMMAND) as tmp:
            store.checkpoint(tmp, training, loop)  # step 0: the folder is resumable from the start
        return _loop(training, store, loop, run, data, progress, step_callback)


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
        saved = OfflineConfig.from_dict(record["run"])
        cls = check_agent(record["agent"])
        settings = cls.from_dict(record["agent_config"])
    except (KeyError, TypeError) as err:
        raise AbsactionError(
            f"{run_dir}/config.json lacks the run's settings ({err})", "start a new run"
        ) from None
    data_path = path_from_record(record["data"]["path"], run_dir)
    run, conflicts = _merge(saved, settings, changes or {}, data_path)
    data = load_offline_data(str(data_path), run.env_id, run.ogbench_dir)
    if data.sha256 != record["data"]["sha256"]:
        conflicts.append(
            ("data", f"{data_path} (fingerprint {record['data']['sha256'][:8]})", data.sha256[:8])
        )
    if conflicts:
        shown = "; ".join(f"{key} {new} vs the run's {old}" for key, old, new in conflicts)
        raise AbsactionError(
            f"cannot resume {run_dir}: {shown}",
            "drop the differing settings to continue the run (only --steps, --checkpoint-every, --device and "
            "--threads may change), or start a new run in another folder",
        )
    run.validate()
    device = torch.device(check_device(run.device))
    with torch_threads(run.threads):
        training = _training(settings, data, run, device, run_dir)
        store = RunStore(run_dir, training.metric_names)
        loop = store.restore(training)
        if _int(run.steps) < loop.step:
            raise AbsactionError(
                f"{option('steps', str(run.steps))} is less than the {loop.step} steps {run_dir} has done",
                f"pass {option('steps', str(loop.step))} or more",
            )
        loop.steps = _int(run.steps)
        if loop.complete:
            print(f"{run_dir} already has {loop.step} steps; nothing to do", file=sys.stderr)
            write_report(run_dir, record, loop.evaluations)
            return OfflineResult(training.agent.eval(), run_dir, loop)
        if loop.evaluations:  # rows a killed session wrote after its last checkpoint are dropped
            tasks = [k for k in loop.evaluations[0] if k not in ("step", "overall", "seconds")]
            write_eval_csv(run_dir, tasks, loop.evaluations)
        return _loop(training, store, loop, run, data, progress, step_callback)


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


def _training(
    settings: AgentConfig, data: OfflineData, run: OfflineConfig, device: torch.device, run_dir: Path
) -> OfflineTraining:
    obs_dim, action_dim = data.transitions.observations.shape[1], data.transitions.actions.shape[1]
    agent = build_agent(settings, obs_dim, action_dim, run.seed)
    record = {
        "run": run.to_dict(),
        "data": {**data.describe(), "path": path_in_record(data.path, run_dir)},
        "absaction_version": __version__,
    }
    return OfflineTraining(agent, data, run, device, record)


def _loop(
    training: OfflineTraining,
    store: RunStore,
    loop: LoopState,
    run: OfflineConfig,
    data: OfflineData,
    progress: bool,
    step_callback: StepCallback | None,
) -> OfflineResult:
    evaluation = _Evaluation(training, store.run_dir, run, data)
    try:
        loop = run_loop(
            training, store, loop,
            log_every=_int(run.log_every), eval_every=_int(run.eval_every),
            checkpoint_every=_int(run.checkpoint_every), evaluate=evaluation, progress=progress,
            step_callback=step_callback, description=f"{run.agent} {data.name}",
        )  # fmt: skip
    finally:
        evaluation.close()
    write_report(store.run_dir, read_agent_config(store.run_dir), loop.evaluations)
    return OfflineResult(training.agent.eval(), store.run_dir, loop)


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
