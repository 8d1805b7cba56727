"""What a sweep runs: every task x every agent x ``seeds`` seeds, each run one
:class:`~absaction.agents.AgentConfig` trained by :func:`~absaction.agents.train_agent`.

An agent is an ``AgentConfig`` template: the sweep sets its task (``env_id``), its seed and its budget
(``steps``, ``eval_every``, ``eval_episodes``); everything else (algorithm, action kind, action model, BC
warm start, hyperparameter overrides, device) is the agent's own. Every agent sees the same budget in
primitive env steps, and the agents share seeds, hence evaluation episodes::

    >>> from absaction.agents import AgentConfig
    >>> sweep = Sweep(
    ...     tasks=["Pendulum-v1"],
    ...     agents={"ppo": AgentConfig("Pendulum-v1"), "sac": AgentConfig("Pendulum-v1", algo="sac")},
    ...     seeds=3,
    ...     steps=20_000,
    ... )
    >>> sweep.validate()
    >>> run = sweep.config_for("Pendulum-v1", "sac", seed=2)
    >>> run.algo, run.seed, run.steps, run.eval_every
    ('sac', 2, 20000, 1000)
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import Any

from absaction.agents.config import AgentConfig, check_env_id
from absaction.errors import AbsactionError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""What an agent or task name may be: it names a run folder."""

RESUME_KEYS: tuple[str, ...] = ("steps", "eval_points", "eval_episodes")
"""Settings whose change makes finished runs incomparable: a resumed sweep must keep them. Tasks, agents
and seeds may grow; an agent whose settings changed is refused run by run."""


@dataclasses.dataclass(frozen=True)
class SweepAgent:
    """An agent of a sweep: its settings, and how the report labels it."""

    config: AgentConfig
    """the agent's settings; the sweep sets ``env_id`` (each task), ``seed``, ``steps``, ``eval_every`` and
    ``eval_episodes``"""
    family: str = ""
    """a label that groups agents in the tables and figures (e.g. primitive, latent); empty: the action
    kind (``config.actions``)"""
    description: str = ""
    """one line for the report's list of agents; empty: the algorithm and action kind"""

    @property
    def label(self) -> str:
        """:attr:`family`, or the action kind."""
        return self.family or self.config.actions

    @property
    def text(self) -> str:
        """:attr:`description`, or ``PPO on primitive actions``."""
        return self.description or f"{self.config.algo.upper()} on {self.config.actions} actions"


def task_name(env_id: str) -> str:
    """A task's run-folder name from its env id, path-safe: ``absaction/Reach2D-v0`` ->
    ``absaction-Reach2D-v0``."""
    return env_id.replace("/", "-").replace(":", "-")


@dataclasses.dataclass
class Sweep:
    """One sweep: tasks x agents x seeds, the budget of every run and how the statistics are computed."""

    tasks: list[str] | dict[str, str]
    """env ids (any registered id or ``module:EnvId``), or short names (the run folders) -> env ids"""
    agents: Mapping[str, AgentConfig | SweepAgent]
    """agent name (its run folder) -> its settings (see :class:`SweepAgent`)"""
    seeds: int = 5
    """independent runs per agent and task (seeds 0 .. seeds - 1)"""
    steps: int = 50_000
    """training budget of every run, in PRIMITIVE env steps (the x axis)"""
    eval_points: int = 20
    """evaluations after the one before learning (every steps // eval_points primitive steps)"""
    eval_episodes: int = 20
    """episodes per evaluation (deterministic policy)"""
    workers: int = 1
    """runs at a time: processes of the local executor (1: in this process), the size of a Ray instance
    started here"""
    threads: int = 1
    """torch threads per run (more threads per small network mostly wait on each other)"""
    bootstrap_reps: int = 2000
    """bootstrap replicates per confidence interval"""

    @property
    def task_ids(self) -> dict[str, str]:
        """Task name (its run folder) -> env id, in the sweep's order."""
        if isinstance(self.tasks, Mapping):
            return dict(self.tasks)
        return {task_name(t): t for t in self.tasks}

    @property
    def agent_table(self) -> dict[str, SweepAgent]:
        """Agent name -> :class:`SweepAgent`, in the sweep's order."""
        return {
            name: agent if isinstance(agent, SweepAgent) else SweepAgent(agent)
            for name, agent in self.agents.items()
        }

    @property
    def eval_every(self) -> int:
        """Primitive env steps between evaluations."""
        return max(1, self.steps // self.eval_points)

    def config_for(self, env_id: str, agent: str, seed: int) -> AgentConfig:
        """The :class:`~absaction.agents.AgentConfig` of one run: ``agent`` on task ``env_id`` with
        ``seed``."""
        return self.agent_table[agent].config.replace(
            env_id=env_id,
            seed=seed,
            steps=self.steps,
            eval_every=self.eval_every,
            eval_episodes=self.eval_episodes,
        )

    def validate(self) -> None:
        """Raise a one-line :class:`~absaction.errors.AbsactionError` for names, sizes or agent settings no
        sweep can use (unknown env ids included); whether the agents' models and data fit the tasks is
        checked when the runs are planned (:func:`~absaction.bench.runs.preflight`)."""
        tasks = list(self.tasks) if not isinstance(self.tasks, Mapping) else list(self.tasks.values())
        for label, values in (("task", tasks), ("agent", list(self.agents))):
            if not values:
                raise AbsactionError(f"no {label}s selected", f"pass at least one --{label}")
            if len(set(values)) != len(values):
                raise AbsactionError(f"a {label} is listed twice: {values}", f"list every {label} once")
        names = [*self.task_ids, *self.agents]
        for name in names:
            if not NAME.fullmatch(name):
                raise AbsactionError(
                    f"{name!r} cannot name a run folder",
                    "use letters, digits, '.', '_' and '-' (starting with a letter or digit)",
                )
        for env_id in self.task_ids.values():
            check_env_id(env_id)
        counts = {
            "seeds": self.seeds,
            "steps": self.steps,
            "eval_points": self.eval_points,
            "eval_episodes": self.eval_episodes,
            "workers": self.workers,
            "threads": self.threads,
            "bootstrap_reps": self.bootstrap_reps,
        }
        for key, value in counts.items():
            if int(value) < 1:
                raise AbsactionError(
                    f"{key} must be >= 1, got {value}", f"pass --{key.replace('_', '-')} 1 or more"
                )
        if self.steps < self.eval_points:
            raise AbsactionError(
                f"{self.steps} steps cannot hold {self.eval_points} evaluation points",
                f"pass --steps {self.eval_points} or more",
            )
        first = next(iter(self.task_ids.values()))
        for name in self.agents:
            try:
                self.config_for(first, name, 0).validate()
            except AbsactionError as err:
                raise AbsactionError(f"agent {name}: {err.problem}", err.fix) from None

    def to_record(self, folder: str | os.PathLike[str]) -> dict[str, Any]:
        """The sweep as ``bench.json`` keeps it in ``folder``: every folder an agent names (model, BC
        data, hyperparameter file) relative to it, so that a moved or committed sweep still resolves."""
        return {
            "tasks": self.task_ids,
            "agents": {
                name: {
                    "config": agent.config.to_record(folder),
                    "family": agent.family,
                    "description": agent.description,
                }
                for name, agent in self.agent_table.items()
            },
            **{
                f.name: getattr(self, f.name)
                for f in dataclasses.fields(self)
                if f.name not in ("tasks", "agents")
            },
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], folder: str | os.PathLike[str]) -> Sweep:
        """Inverse of :meth:`to_record` for a record kept in ``folder``."""
        agents = {
            name: SweepAgent(
                AgentConfig.from_record(entry["config"], folder),
                entry.get("family", ""),
                entry.get("description", ""),
            )
            for name, entry in record["agents"].items()
        }
        sizes = {f.name: record[f.name] for f in dataclasses.fields(cls) if f.name in record}
        sizes.pop("agents", None)
        return cls(**{**sizes, "tasks": dict(record["tasks"]), "agents": agents})
