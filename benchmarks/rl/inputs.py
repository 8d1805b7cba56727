"""What the RL study (``python -m benchmarks.rl``) checks of its inputs before it writes anything
(:func:`check_inputs`), with the engine's spaces (:mod:`absaction.bench.inputs`).

A sweep whose agents cannot run would otherwise fail at the preflight of the runs, after stage 1 has
collected data and trained models (and ``bench.json`` is written, so the same command is then refused as
an existing sweep). Here the same misfits are found from metadata alone, and the dry run and the real run
refuse them in the same words, before the output folder is touched:

- ``--model`` is a run folder of a latent-chunk model of fixed length (not a skill or seq2seq model),
  with active latent units and a chunk the closed-loop agents can divide;
- ``--data`` is a dataset (not a trained agent), recorded in the suite's world;
- every agent's demonstrations and action model fit every task: the BC demonstrations have the task's
  observation and action sizes, a latent agent's model decodes the task's actions, a skill agent's model
  is trained on data of the task's observation layout and holds the skill observation's columns.

Nothing is loaded to check it: a model is its ``config.json``, a dataset its ``metadata.json``, data that
stage 1 collects and every task the spaces of an env made once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from absaction.bench.inputs import (
    BC_ASPECTS,
    LATENT_ASPECTS,
    SKILL_ASPECTS,
    Spaces,
    dataset_spaces,
    env_spaces,
    misfit,
    model_spaces,
)
from absaction.errors import AbsactionError
from absaction.models import read_config
from absaction.models.activity import ACTIVE_KL_THRESHOLD
from absaction.train.runs import recorded_data

from .agents import SKILL_MODEL_DATA, BenchAgent
from .catalogue import RLBenchConfig
from .suites import check_maze_data, suite_data

CHUNK_MODELS: tuple[str, ...] = ("tcvlae", "tcvae")
"""What ``--model`` may name: latent-chunk models of a fixed length. The latent agents act in its chunks
and ``ppo-repeat`` repeats each action for its length; a seq2seq model decodes chunks of any length and a
skill model one step at a time."""

GIVEN_MODEL = "model"
"""The source of the TCVLAE when ``--model`` gives it (else the TCVLAE is trained on ``demos``)."""


def given_model(config: RLBenchConfig) -> dict[str, Any] | None:
    """The ``config.json`` of ``--model`` (None without one), refused unless it is a latent-chunk model of
    fixed length (:data:`CHUNK_MODELS`)."""
    if config.model is None:
        return None
    record = read_config(Path(config.model).expanduser())  # one line for a missing or broken folder
    kind = record.get("model")
    if kind not in CHUNK_MODELS:
        what = {
            "skill": "a skill model (it decodes one step at a time, closed loop)",
            "seq2seq": "a seq2seq model (it decodes chunks of any length)",
        }.get(str(kind), f"a {kind} model")
        raise AbsactionError(
            f"--model {config.model} is {what}, not a latent-chunk model of fixed length "
            f"({', '.join(CHUNK_MODELS)}) for the latent agents to act in",
            "pass the run folder of `absaction train --model tcvlae`, or drop --model and stage 1 trains one",
        )
    return record


def agent_sources(agent: BenchAgent, model_given: bool) -> list[tuple[str, frozenset[str]]]:
    """What ``agent`` builds on, each with the aspects it must share with a task: ``demos`` or ``play``
    (the stage-1 data, or a model trained on it) or :data:`GIVEN_MODEL`."""
    sources: list[tuple[str, frozenset[str]]] = []
    if agent.bc:  # skill-space BC of demos clones the recorded windows: the same demonstrations
        sources.append((agent.data, BC_ASPECTS))
    if agent.actions == "latent":
        given = model_given and agent.model in ("tcvlae", "untrained")  # the untrained copy of --model
        sources.append((GIVEN_MODEL if given else "demos", LATENT_ASPECTS))
    if agent.actions == "skill":
        assert agent.model is not None
        sources.append((SKILL_MODEL_DATA[agent.model], SKILL_ASPECTS))
    return sources


# --------------------------------------------------------------------------------------- the check
def check_inputs(config: RLBenchConfig) -> None:
    """Refuse, in one line and before anything is written, a sweep that would fail once stage 1 is built
    (see the module). ``config`` is validated (:meth:`RLBenchConfig.validate`)."""
    suite = suite_data(config.suite, config.tasks)
    model = given_model(config)
    known: dict[str, Spaces] = {}  # source -> its spaces, each read once
    if config.data is not None:
        known["demos"], env_id = dataset_spaces(config.data, f"the demonstrations {config.data}")
        if config.suite == "pointmaze":
            check_maze_data(env_id, suite.demo_env, config.data)
    agents = config.agent_table()
    play_agents = [a.name for a in agents if any(s == "play" for s, _ in agent_sources(a, False))]
    if play_agents and suite.play_env is None:
        raise AbsactionError(
            f"the {config.suite} suite has no play data, which {_names(play_agents)} act through",
            "drop the -play agents (--agents)",
        )
    if model is not None:
        _check_model_latents(config, model, agents)

    def spaces_of(source: str) -> Spaces:
        if source not in known:
            known[source] = _source_spaces(config, source, model)
        return known[source]

    _check_skill_columns(config, agents, spaces_of)
    for task in config.tasks:
        task_spaces = env_spaces(task, task)
        misfits = [
            (agent.name, spaces_of(source))
            for agent in agents
            for source, aspects in agent_sources(agent, model is not None)
            if misfit(spaces_of(source), task_spaces, aspects)
        ]
        if misfits:
            _refuse_misfits(task, task_spaces, misfits)


def _source_spaces(config: RLBenchConfig, source: str, model: dict[str, Any] | None) -> Spaces:
    """The spaces of a stage-1 source, from where :func:`.runs.prepare_stage1` takes it (a given ``--data``
    is read by :func:`check_inputs` itself): the ``--model``, the play data or the demonstrations (the
    ``--model``'s training data where it still exists, else what stage 1 collects)."""
    suite = suite_data(config.suite, config.tasks)
    if source == GIVEN_MODEL:
        assert model is not None
        return model_spaces(
            model, f"the model {config.model} (trained on {model.get('env_id') or 'an unknown env'})"
        )
    if source == "play":
        assert suite.play_env is not None
        return env_spaces(suite.play_env, f"the play data stage 1 collects in {suite.play_env}")
    if config.model is not None:  # the data the --model was trained on, as stage 1 takes it
        recorded = recorded_data(Path(config.model).expanduser(), model)
        if recorded and Path(recorded).exists():
            return dataset_spaces(recorded, f"the --model's training data {recorded}")[0]
    return env_spaces(suite.demo_env, f"the demonstrations stage 1 collects in {suite.demo_env}", "--data")


def _refuse_misfits(task: str, task_spaces: Spaces, misfits: list[tuple[str, Spaces]]) -> None:
    """One line: the first source that does not fit ``task``, the agents that build on it, and every
    agent that cannot run on ``task`` with what would replace its sources."""
    first = misfits[0][1]
    on_first = list(dict.fromkeys(name for name, source in misfits if source is first))
    names = list(dict.fromkeys(name for name, _ in misfits))
    flags = list(dict.fromkeys(source.flag for _, source in misfits if source.flag is not None))
    replace = {
        "--data": f"pass --data with demonstrations recorded in {task}",
        "--model": f"pass --model trained on data of {task}",
    }
    bounds = len(first.low) == len(task_spaces.low)  # same sizes: the bounds are what differs
    build = "it builds" if len(on_first) == 1 else "they build"
    raise AbsactionError(
        f"{_names(on_first)} cannot run on {task} ({task_spaces.describe(bounds)}): {build} on "
        f"{first.name}, with {first.describe(bounds)}",
        f"drop {_names(names)} (--agents)" + "".join(f", or {replace[flag]}" for flag in flags),
    )


def _check_model_latents(config: RLBenchConfig, record: dict[str, Any], agents: list[BenchAgent]) -> None:
    """The ``--model``'s latents and chunk serve its latent agents: some latent unit is active (the agents
    control the active ones), and a closed-loop agent's steps fit in (and along the plan, divide) it."""
    on_model = [a for a in agents if a.actions == "latent" and a.model in ("tcvlae", "untrained")]
    kl = record.get("kl_per_dim")
    if on_model and kl is not None and not any(v > ACTIVE_KL_THRESHOLD for ladder in kl for v in ladder):
        names = [a.name for a in on_model]
        raise AbsactionError(
            f"the model {config.model} has no active latent units (every KL is below "
            f"{ACTIVE_KL_THRESHOLD} nats), so {_names(names)} {'has' if len(names) == 1 else 'have'} "
            "nothing to control",
            "train it longer or with a smaller beta, or drop --model and stage 1 trains one",
        )
    length = int(record["model_config"]["seq_len"])
    for agent in on_model:
        steps = agent.closed_loop
        if steps is None:
            continue
        if agent.plan_phase and (steps >= length or length % steps):
            need = f"chunks longer than {steps} that {steps} divides"
        elif steps > length:
            need = f"chunks of {steps} steps or more"
        else:
            continue
        raise AbsactionError(
            f"{agent.name} re-decides every {steps} steps{' along the plan' if agent.plan_phase else ''}, "
            f"the model {config.model} decodes chunks of {length} (it needs {need})",
            f"drop {agent.name} (--agents), or pass a --model with such chunks",
        )


def _check_skill_columns(
    config: RLBenchConfig, agents: list[BenchAgent], spaces_of: Callable[[str], Spaces]
) -> None:
    """The data of every skill model holds the suite's skill observation (stage 1 trains on it)."""
    suite = suite_data(config.suite, config.tasks)
    users: dict[str, list[str]] = {}  # data source -> the skill agents on a model trained on it
    for agent in agents:
        if agent.actions == "skill" and agent.model is not None:
            users.setdefault(SKILL_MODEL_DATA[agent.model], []).append(agent.name)
    for source, names in users.items():
        spaces = spaces_of(source)
        if spaces.layout is None:
            continue
        try:
            spaces.layout.resolve(list(suite.skill_obs))
        except AbsactionError:
            raise AbsactionError(
                f"the skill models of {_names(names)} observe {', '.join(suite.skill_obs)}, which "
                f"{spaces.name} does not hold (its columns: {', '.join(spaces.layout.names)})",
                f"drop those agents (--agents), or pass --data recorded in {suite.demo_env}",
            ) from None


def _names(names: list[str]) -> str:
    return ", ".join(names)
