"""The sweep engine: compare RL agents on tasks over seeds, with the statistics RL results need.

Define a sweep (tasks x agents x seeds, each agent an :class:`~absaction.agents.AgentConfig`), run it on
an executor (a local process pool or Ray), resume it (finished runs are reused, changed settings
refused), read its results (every run's ``eval.csv`` reduced to steps to a threshold, the area under the
curve, ...; the success rate where the env reports success, the return otherwise), and report them with
rliable's statistics (IQM with stratified-bootstrap intervals, performance profiles, probability of
improvement) and figures::

    from absaction.agents import AgentConfig
    from absaction.bench import Sweep, run_sweep

    sweep = Sweep(
        tasks=["Pendulum-v1"],
        agents={"ppo": AgentConfig("Pendulum-v1", algo="ppo"), "sac": AgentConfig("Pendulum-v1", algo="sac")},
        seeds=5,
        steps=20_000,
    )
    result = run_sweep(sweep, "bench/mine")          # resume=True continues it, executor=ExecutorSpec("ray")
    print(result.summary_md.read_text())

``absaction bench`` is the same from the command line. The modules, each importing only those before
it: :mod:`.executors`, :mod:`.stats`, :mod:`.estimate`, :mod:`.inputs` -> :mod:`.definition` ->
:mod:`.runs` -> :mod:`.results` -> :mod:`.figures` -> :mod:`.markdown` -> :mod:`.summary` ->
:mod:`.sweep`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from absaction.lazy import lazy_exports

# Names are resolved on first access (PEP 562): the CLI's parser reads the sweep's defaults from
# .definition without importing torch and SB3, which the engine's other modules do.
_LAZY: dict[str, str] = {
    "Sweep": "absaction.bench.definition",
    "SweepAgent": "absaction.bench.definition",
    "ExecutorSpec": "absaction.bench.executors",
    "make_executor": "absaction.bench.executors",
    "SweepReport": "absaction.bench.summary",
    "report": "absaction.bench.summary",
    "SweepResult": "absaction.bench.sweep",
    "describe_sweep": "absaction.bench.sweep",
    "run_sweep": "absaction.bench.sweep",
}

__all__ = [
    "ExecutorSpec",
    "Sweep",
    "SweepAgent",
    "SweepReport",
    "SweepResult",
    "describe_sweep",
    "make_executor",
    "report",
    "run_sweep",
]

if TYPE_CHECKING:  # pragma: no cover - static names for type checkers and IDEs
    from absaction.bench.definition import Sweep, SweepAgent
    from absaction.bench.executors import ExecutorSpec, make_executor
    from absaction.bench.summary import SweepReport, report
    from absaction.bench.sweep import SweepResult, describe_sweep, run_sweep

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
