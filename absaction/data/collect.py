"""Record expert rollouts into a Minari dataset (``absaction collect``).

One configuration dataclass, one function: :func:`collect` makes the environment, picks the expert
(a scripted one from ``absaction.envs``, uniform random actions, or a saved stable-baselines3 policy),
rolls out ``episodes`` seeded episodes and writes them as a Minari dataset with the ground-truth factors
of each episode in its infos (layout in :mod:`absaction.data.layout`).

Reproducibility: episode ``i`` is reset with seed ``seed + i``; the expert's choices (e.g. the bulge and
curvature of a scripted path) and the action noise come from one generator seeded with ``[seed, 1]``
(a stream independent of the env's). The same configuration therefore writes the same arrays.

Atomicity: episodes are written into a temporary folder beside ``out`` that is renamed to ``out`` only
once the dataset is complete; an error or Ctrl-C removes it and leaves ``out`` as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
import warnings
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import gymnasium as gym
import numpy as np

from absaction import __version__, envs
from absaction.data.dataset import minari_root
from absaction.data.layout import (
    COLLECT_FILE,
    DATA_SUBDIR,
    ENV_ID_KEY,
    FACTOR_NAMES_KEY,
    INFO_FACTORS_KEY,
    INFO_SUCCESS_KEY,
)
from absaction.data.minari_ids import (
    MINARI_ENV_VAR,
    check_dataset_id,
    minari_datasets_path,
    minari_id_of,
    minari_place,
)
from absaction.envs import PathSetExpert, load_recorded_paths
from absaction.envs.ids import registered_id, resolve_env_id
from absaction.envs.pointmaze import MazeRoutes, drop_temporary_xml, waypoint_mode
from absaction.envs.reach2d import is_reach2d
from absaction.envs.waypoint import WaypointExpert
from absaction.errors import AbsactionError, flag, one_line, option
from absaction.files import atomic_dir, atomic_write_json, check_new_output
from absaction.outputs import path_from_record, path_in_record
from absaction.seeding import seed_everything

if TYPE_CHECKING:  # annotations only: importing this module stays light
    from stable_baselines3.common.base_class import BaseAlgorithm

#: episodes held in memory before they are appended to the HDF5 file (bounds memory on long runs).
_CHUNK_EPISODES = 100
#: the policy file of an `absaction rl` run folder (absaction.agents.persistence.AGENT_ZIP)
AGENT_ZIP = "agent.zip"
#: stable-baselines3 algorithms tried, in order, when loading a policy .zip.
SB3_ALGORITHMS: tuple[str, ...] = ("PPO", "SAC", "TD3", "A2C", "DDPG")
CODE_PERMALINK = "https://github.com/absaction/absaction"


@dataclass
class CollectConfig:
    """Settings of one ``absaction collect`` run."""

    env_id: str
    """gymnasium id of the environment, e.g. ``absaction/Reach2D-v0`` or ``Pendulum-v1``."""
    out: Path
    """output folder; becomes a Minari dataset folder (``data/`` + ``collect.json``)."""
    expert: str = "scripted"
    """``scripted`` (the env's scripted expert), ``random`` (uniform actions), a stable-baselines3 .zip or
    an ``absaction rl`` run folder (its ``agent.zip``; primitive-action agents only)."""
    episodes: int = 100
    """number of episodes to record (> 0)."""
    seed: int = 0
    """episode i resets with seed + i; the expert's and the noise's generator is seeded with seed."""
    force: bool = False
    """replace ``out`` if it already exists."""
    max_steps: int | None = None
    """time limit in steps per episode; None keeps the env's registered limit."""
    noise: float = 0.0
    """std of Gaussian noise added to every expert action, in action units, before clipping to the bounds."""
    dataset_id: str | None = None
    """Minari dataset id ``[namespace/]name-vN``; None derives one, e.g. ``reach2d-scripted-v0``."""
    progress: bool = True
    """show a progress bar (on stderr)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """keyword arguments for ``gymnasium.make`` (``--env-kwarg KEY=VALUE``), e.g. a Reach2D option."""


@dataclass(frozen=True)
class CollectSummary:
    """What :func:`collect` wrote."""

    path: Path
    dataset_id: str
    env_id: str
    algorithm_name: str
    episodes: int
    steps: int
    success_rate: float | None
    """fraction of episodes whose last step reported ``info["is_success"]``; None if the env never does."""
    mean_return: float
    std_return: float
    factor_names: tuple[str, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["factor_names"] = list(self.factor_names)
        return data


class Expert(Protocol):
    """What :func:`collect` needs from an expert (the scripted experts of ``absaction.envs`` fit it)."""

    factor_names: tuple[str, ...]

    def reset(self, obs: Any, info: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Start an episode; return its ground-truth factor values (keys = ``factor_names``)."""
        ...

    def act(self, obs: Any) -> np.ndarray:
        """The action for ``obs``, shape ``action_space.shape``."""
        ...


class RandomExpert:
    """Independent uniform actions inside the Box bounds (standard normal draws, clipped, along
    unbounded dimensions). Works for any env with a Box action space; it has no factors."""

    factor_names: tuple[str, ...] = ()

    def __init__(self, action_space: gym.spaces.Box) -> None:
        self.action_space = action_space
        self._rng = np.random.default_rng(0)
        self._bounded = np.isfinite(action_space.low) & np.isfinite(action_space.high)

    def reset(self, obs: Any, info: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        self._rng = rng
        return {}

    def act(self, obs: Any) -> np.ndarray:
        low, high = self.action_space.low, self.action_space.high
        uniform = self._rng.uniform(np.where(self._bounded, low, 0.0), np.where(self._bounded, high, 1.0))
        normal = np.clip(self._rng.standard_normal(self.action_space.shape), low, high)
        return np.where(self._bounded, uniform, normal).astype(self.action_space.dtype)


class SB3Expert:
    """A saved stable-baselines3 policy acting deterministically (the mean action, clipped by SB3)."""

    factor_names: tuple[str, ...] = ()

    def __init__(self, model: BaseAlgorithm) -> None:
        self.model = model

    def reset(self, obs: Any, info: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        return {}

    def act(self, obs: Any) -> np.ndarray:
        action, _ = self.model.predict(obs, deterministic=True)
        return np.asarray(action)


def make_env(env_id: str, max_steps: int | None = None, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """``gymnasium.make(env_id)`` with a clear error for unknown ids (suggesting close ones), envs that
    fail to build, non-Box action spaces and envs without a time limit."""
    name = resolve_env_id(env_id)  # imports the module of a "module:EnvId" id
    kwargs: dict[str, Any] = dict(env_kwargs or {})
    if max_steps is not None:
        kwargs["max_episode_steps"] = max_steps
    if max_steps is not None and is_reach2d(name):
        kwargs["max_steps"] = max_steps  # a Reach2D world also truncates by its own clock
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env = gym.make(name, **kwargs)
        drop_temporary_xml(env)  # a gymnasium-robotics maze leaves its model file in the temporary folder
    except AbsactionError:
        raise  # the env's own one-line error (e.g. an unknown Reach2D option) already names the fix
    except Exception as err:  # missing extras (mujoco, box2d), bad kwargs, ...
        raise AbsactionError(
            f"cannot create environment {env_id} ({type(err).__name__}: {one_line(err)})",
            f"check the {flag('env_kwarg', python='env_kwargs')} values"
            if env_kwargs
            else "install what the environment needs or choose another one",
        ) from None
    space = env.action_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        env.close()
        raise AbsactionError(
            f"environment {env_id} has action space {space}; absaction records continuous actions",
            "choose an environment with a 1-D Box action space (e.g. Pendulum-v1 or absaction/Reach2D-v0)",
        )
    if env.spec is None or env.spec.max_episode_steps is None:
        env.close()
        raise AbsactionError(f"environment {env_id} has no time limit", f"pass {option('max_steps', 'M')}")
    return env


PATHS_PREFIX = "paths:"
"""``--expert paths:FILE.npz``: track the recorded paths of FILE (:class:`absaction.envs.PathSetExpert`)."""


def expert_input(spec: str) -> str | None:
    """The file an ``--expert`` spec reads (a recorded-paths file or an SB3 .zip), or None."""
    if spec in ("scripted", "random"):
        return None
    return spec[len(PATHS_PREFIX) :] if spec.startswith(PATHS_PREFIX) else spec


def resolve_expert(spec: str, env: gym.Env) -> tuple[Expert, str]:
    """Resolve the ``--expert`` argument for ``env``: returns the expert and its ``algorithm_name``."""
    if spec == "scripted":
        factory = getattr(envs, "make_expert", None)
        if factory is None:  # pragma: no cover - only while absaction.envs is incomplete
            raise AbsactionError(
                "this installation has no scripted experts",
                f"use {option('expert', 'random', python=repr('random'))} or an SB3 .zip",
            )
        expert = factory(env)  # raises AbsactionError when the env has no scripted expert
        return expert, f"scripted:{type(expert).__name__}"
    mode = waypoint_mode(spec)
    if mode is not None:
        return WaypointExpert(env), f"waypoint:{mode}"  # raises AbsactionError unless env is a maze
    if spec == "random":
        return RandomExpert(env.action_space), "random"  # type: ignore[arg-type]
    if spec.startswith(PATHS_PREFIX):
        file = Path(spec[len(PATHS_PREFIX) :]).expanduser()
        return PathSetExpert(env, load_recorded_paths(file)), f"paths:{file.name}"
    path = Path(spec).expanduser()
    if path.is_dir():  # an `absaction rl` run folder: its agent
        if not (path / AGENT_ZIP).is_file():
            raise AbsactionError(
                f"expert folder {path} holds no {AGENT_ZIP}",
                "pass the folder of a finished `absaction rl` run or the path of a stable-baselines3 .zip",
            )
        path = path / AGENT_ZIP
    if not path.is_file() and Path(f"{path}.zip").is_file():
        path = Path(f"{path}.zip")  # SB3 itself saves "name" as "name.zip"
    if not path.is_file():
        if path.suffix != ".zip":
            raise AbsactionError(
                f"unknown expert {spec!r}",
                "use scripted, random, paths:FILE.npz, waypoint[:navigate|stitch] (mazes), the path of "
                f"a stable-baselines3 .zip or an `absaction rl` run folder (its {AGENT_ZIP})",
            )
        raise AbsactionError(
            f"expert policy {path} not found", "check the path of the stable-baselines3 .zip"
        )
    model, algo = _load_sb3(path)
    _refuse_macro_agent(model, path)
    _check_policy_spaces(model, env, path)
    return SB3Expert(model), f"sb3:{algo}:{path.name}"


def _refuse_macro_agent(model: BaseAlgorithm, path: Path) -> None:
    """Refuse an ``absaction rl`` agent that decides once per chunk (its zip names its macro wrapper)."""
    settings = getattr(model, "absaction_wrapper", None)  # absaction.agents.persistence's attribute
    wrapper = settings.get("wrapper", "none") if isinstance(settings, dict) else "none"
    if wrapper != "none":
        raise AbsactionError(
            f"the agent {path} acts in {wrapper} actions (one decision per several env steps); collect "
            "records an expert that chooses every primitive action",
            "use an agent trained with `absaction rl --actions primitive` (latent, repeat and skill "
            "agents are not supported as experts)",
        )


def _load_sb3(path: Path) -> tuple[Any, str]:
    """Load ``path`` with the first stable-baselines3 algorithm class that accepts it (CPU, no env).
    A2C and PPO share their policy class, so an A2C file loads as PPO; its actions are the same."""
    import stable_baselines3

    if not zipfile.is_zipfile(path):
        raise AbsactionError(f"{path} is not a stable-baselines3 .zip", "pass a file saved with model.save()")
    errors = []
    for name in SB3_ALGORITHMS:
        cls = getattr(stable_baselines3, name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return cls.load(path, device="cpu"), name
        except Exception as err:  # wrong algorithm for this file: try the next one
            errors.append(f"{name}: {type(err).__name__}")
    raise AbsactionError(
        f"cannot load {path} with any of {', '.join(SB3_ALGORITHMS)} ({'; '.join(errors)})",
        "pass a policy saved by stable-baselines3 with model.save()",
    )


def _check_policy_spaces(model: BaseAlgorithm, env: gym.Env, path: Path) -> None:
    for what, theirs, ours in (
        ("observation", model.observation_space, env.observation_space),
        ("action", model.action_space, env.action_space),
    ):
        if not _same_space(theirs, ours):
            env_id = env.spec.id if env.spec is not None else "the environment"
            raise AbsactionError(
                f"the policy {path.name} was trained with {what} space {theirs}, but {env_id} has {ours}",
                f"use a policy trained on {env_id}",
            )


def _same_space(a: gym.Space, b: gym.Space) -> bool:
    if isinstance(a, gym.spaces.Box) and isinstance(b, gym.spaces.Box):
        # dtypes may differ (float32 vs float64 after wrappers); shapes and bounds must not
        return a.shape == b.shape and np.allclose(a.low, b.low) and np.allclose(a.high, b.high)
    return bool(a == b)


def default_dataset_id(env_id: str, expert_label: str) -> str:
    """``absaction/Reach2D-v0`` + ``scripted`` -> ``reach2d-scripted-v0`` (a valid Minari id)."""
    name = re.sub(r"-v\d+$", "", registered_id(env_id).split("/")[-1])
    slug = re.sub(r"[^-_0-9a-zA-Z]+", "-", f"{name}-{expert_label}").strip("-").lower()
    return f"{slug or 'dataset'}-v0"


def load_hint(summary: CollectSummary) -> str:
    """How to read the dataset back, in Python: by its Minari id where Minari finds it, else by path."""
    name = repr(summary.dataset_id)
    if minari_id_of(summary.path) == summary.dataset_id:
        return f"minari.load_dataset({name}) or absaction.data.load_dataset({name})"
    return (
        f"absaction.data.load_dataset({str(summary.path)!r}); for minari.load_dataset({name}) collect it "
        f"to {minari_root() / summary.dataset_id} (set {MINARI_ENV_VAR} to change that folder)"
    )


def collect(config: CollectConfig) -> CollectSummary:
    """Roll out ``config.episodes`` episodes and write them as a Minari dataset to ``config.out``.

    Raises:
        AbsactionError: unknown env id, non-Box action space, expert unfit for the env, bad numbers,
            an existing ``out`` without ``force``, an unwritable location.
    """
    if config.episodes <= 0:
        raise AbsactionError(
            f"episodes must be positive, got {config.episodes}", f"pass {option('episodes', 'N')} with N >= 1"
        )
    if config.max_steps is not None and config.max_steps <= 0:
        raise AbsactionError(
            f"max steps must be positive, got {config.max_steps}",
            f"pass {option('max_steps', 'M')} with M >= 1",
        )
    if config.seed < 0:
        raise AbsactionError(
            f"seed must be >= 0, got {config.seed}", f"pass {option('seed', 'S')} with S >= 0"
        )
    if not (np.isfinite(config.noise) and config.noise >= 0):
        raise AbsactionError(
            f"noise must be a finite number >= 0, got {config.noise}", f"pass e.g. {option('noise', '0.01')}"
        )
    out = check_new_output(
        config.out, config.force, "output folder", command="collect", inputs=[expert_input(config.expert)]
    )
    if config.dataset_id is not None:
        check_dataset_id(config.dataset_id)
    place_id = minari_place(out, config.dataset_id)

    env = make_env(config.env_id, config.max_steps, config.env_kwargs)
    try:
        mode = waypoint_mode(config.expert)
        if mode is not None:  # the maze expert also chooses each episode's start and goal cells
            env = MazeRoutes(env, mode)
        expert, algorithm_name = resolve_expert(config.expert, env)
        if algorithm_name.startswith("sb3:"):
            label = algorithm_name.split(":")[1].lower()  # e.g. reach2d-ppo-v0
        elif algorithm_name.startswith(PATHS_PREFIX):
            label = f"paths-{Path(algorithm_name[len(PATHS_PREFIX) :]).stem}"  # reach2d-paths-<file>-v0
        else:
            label = config.expert
        dataset_id = config.dataset_id or place_id or default_dataset_id(config.env_id, label)
        check_dataset_id(dataset_id)
        return _collect(config, out, env, expert, algorithm_name, dataset_id)
    finally:
        env.close()


def _collect(
    config: CollectConfig, out: Path, env: gym.Env, expert: Expert, algorithm_name: str, dataset_id: str
) -> CollectSummary:
    import minari
    from tqdm import tqdm

    factor_names = tuple(expert.factor_names)
    seed_everything(config.seed)
    # The env's reset seeds use the same integers as --seed; a generator seeded with the same integer
    # would replay the env's own stream and tie the expert's choices to the goal drawn at reset.
    rng = np.random.default_rng([config.seed, 1])
    started = time.perf_counter()
    returns: list[float] = []
    successes: list[bool] = []
    steps = 0
    description = (
        f"{config.episodes} episodes of {config.env_id} recorded by `absaction collect` with the "
        f"{algorithm_name} expert (seed {config.seed}, action noise std {config.noise}). "
        + (
            f"Ground-truth factors per episode in infos['{INFO_FACTORS_KEY}'][name], names listed under "
            f"'{FACTOR_NAMES_KEY}': {', '.join(factor_names)}."
            if factor_names
            else "No ground-truth factors."
        )
    )
    with atomic_dir(out, config.force, "output folder", command="collect") as tmp:
        # absolute: Minari 0.5 computes the dataset size wrongly under a relative MINARI_DATASETS_PATH
        staging = (tmp / ".minari").resolve()
        dataset: Any = None
        pending: list[Any] = []
        bar = tqdm(
            range(config.episodes), desc=f"collect {config.env_id}", unit="ep", file=sys.stderr,
            disable=not config.progress, dynamic_ncols=True,
        )  # fmt: skip
        with bar, minari_datasets_path(staging), warnings.catch_warnings():
            # Minari nags about unset optional metadata (author_email, eval_env); nothing to fix for a user
            warnings.filterwarnings("ignore", category=UserWarning, module=r"minari(\..*)?$")
            for i in bar:
                buffer, ret, success = _rollout(
                    env, expert, i, config.seed + i, rng, config.noise, algorithm_name
                )
                pending.append(buffer)
                returns.append(ret)
                steps += len(buffer.rewards)
                if success is not None:
                    successes.append(success)
                if len(pending) >= _CHUNK_EPISODES or i == config.episodes - 1:
                    if dataset is None:
                        dataset = minari.create_dataset_from_buffers(
                            dataset_id,
                            pending,
                            env=env if _spec_is_serialisable(env) else None,
                            action_space=env.action_space,
                            observation_space=env.observation_space,
                            algorithm_name=algorithm_name,
                            author="absaction collect",
                            code_permalink=CODE_PERMALINK,
                            description=description,
                        )
                    else:
                        dataset.storage.update_episodes(pending)
                    pending = []
                postfix = {"return": f"{np.mean(returns):.3g}"}
                if successes:
                    postfix["success"] = f"{np.mean(successes):.0%}"
                bar.set_postfix(postfix, refresh=False)
            dataset.storage.update_metadata(
                {
                    FACTOR_NAMES_KEY: list(factor_names),
                    ENV_ID_KEY: config.env_id,  # also readable when the env spec could not be stored
                    "absaction_version": __version__,
                }
            )
        os.replace(staging / dataset_id / DATA_SUBDIR, tmp / DATA_SUBDIR)
        shutil.rmtree(staging)
        summary = CollectSummary(
            path=out,
            dataset_id=dataset_id,
            env_id=config.env_id,
            algorithm_name=algorithm_name,
            episodes=config.episodes,
            steps=steps,
            success_rate=float(np.mean(successes)) if successes else None,
            mean_return=float(np.mean(returns)),
            std_return=float(np.std(returns)),
            factor_names=factor_names,
            seconds=time.perf_counter() - started,
        )
        config_dict = asdict(config)
        # paths relative to the dataset folder (absaction.outputs.path_in_record): the record names no
        # folder of the machine it was written on; "." is the dataset folder itself
        config_dict["out"] = "."
        expert_file = expert_input(config.expert)
        if expert_file is not None and Path(expert_file).expanduser().exists():
            prefix = PATHS_PREFIX if config.expert.startswith(PATHS_PREFIX) else ""
            config_dict["expert"] = prefix + path_in_record(expert_file, out)
        config_dict["dataset_id"] = dataset_id
        assert env.spec is not None  # make_env guarantees it
        atomic_write_json(
            tmp / COLLECT_FILE,
            {
                "absaction_version": __version__,
                "config": config_dict,
                "resolved": {
                    "algorithm_name": algorithm_name,
                    "factor_names": list(factor_names),
                    "max_episode_steps": env.spec.max_episode_steps,
                    "action_space": str(env.action_space),
                    "observation_space": str(env.observation_space),
                },
                "summary": {**summary.to_dict(), "path": "."},  # the dataset folder itself
            },
        )
    return summary


def _rollout(
    env: gym.Env,
    expert: Expert,
    index: int,
    seed: int,
    rng: np.random.Generator,
    noise: float,
    algorithm_name: str,
) -> tuple[Any, float, bool | None]:
    """One episode as a Minari ``EpisodeBuffer``; also its return and final ``is_success`` (or None)."""
    from minari.data_collector import EpisodeBuffer

    space = env.action_space
    assert isinstance(space, gym.spaces.Box)
    obs, info = env.reset(seed=seed)
    factors = dict(expert.reset(obs, info, rng))
    if set(factors) != set(expert.factor_names):
        raise RuntimeError(f"expert returned factors {sorted(factors)}, expected {expert.factor_names}")
    observations = [obs]
    actions: list[np.ndarray] = []
    rewards: list[float] = []
    terminations: list[bool] = []
    truncations: list[bool] = []
    success_flags: list[bool] = [bool(info.get(INFO_SUCCESS_KEY, False))]
    reports_success = True
    terminated = truncated = False
    while not (terminated or truncated):
        action = np.asarray(expert.act(obs), dtype=space.dtype).reshape(space.shape)
        if noise > 0.0:
            action = action + rng.normal(0.0, noise, size=space.shape).astype(space.dtype)
        action = np.clip(action, space.low, space.high)
        if not np.isfinite(action).all():
            raise AbsactionError(
                f"the {algorithm_name} expert returned a non-finite action "
                f"in episode {index}, step {len(actions)}",
                "check the policy or the environment's observations",
            )
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(float(reward))
        terminations.append(bool(terminated))
        truncations.append(bool(truncated))
        reports_success = reports_success and INFO_SUCCESS_KEY in info
        success_flags.append(bool(info.get(INFO_SUCCESS_KEY, False)))

    n = len(observations)  # T + 1: Minari stores infos per observation, the reset one included
    infos: dict[str, Any] = {}
    if reports_success:
        infos[INFO_SUCCESS_KEY] = np.array(success_flags, dtype=bool)
    if factors:
        infos[INFO_FACTORS_KEY] = {name: _repeat(factors[name], n) for name in expert.factor_names}
    buffer = EpisodeBuffer(
        id=index,
        seed=seed,
        observations=_stack(observations),
        actions=np.stack(actions).astype(space.dtype),  # (T, A)
        rewards=np.array(rewards, dtype=np.float64),
        terminations=np.array(terminations, dtype=bool),
        truncations=np.array(truncations, dtype=bool),
        infos=infos,
    )
    return buffer, float(np.sum(rewards)), (success_flags[-1] if reports_success else None)


def _spec_is_serialisable(env: gym.Env) -> bool:
    """Minari stores the env spec as JSON so the env can be recovered; specs registered with a
    callable entry point cannot be, and the dataset is then written from the spaces alone."""
    try:
        assert env.spec is not None
        env.spec.to_json()
    except (ValueError, TypeError, AssertionError):
        return False
    return True


def _repeat(value: Any, n: int) -> np.ndarray:
    """A per-episode factor value as an (n,) array, integers as int64 (booleans too), else float64."""
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return np.full(n, int(value), dtype=np.int64)
    return np.full(n, float(value), dtype=np.float64)


def _stack(items: list[Any]) -> Any:
    """Stack per-step observations into arrays, following Dict/Tuple structure as Minari expects."""
    first = items[0]
    if isinstance(first, dict):
        return {key: _stack([item[key] for item in items]) for key in first}
    if isinstance(first, tuple):
        return tuple(_stack([item[k] for item in items]) for k in range(len(first)))
    return np.stack([np.asarray(item) for item in items])


def print_summary(summary: CollectSummary, file: IO[str] | None = None) -> None:
    """A short table of what was written (rich)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"collected {summary.dataset_id}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    success = "n/a" if summary.success_rate is None else f"{100 * summary.success_rate:.1f} %"
    for key, value in (
        ("dataset", str(summary.path)),
        ("environment", summary.env_id),
        ("expert", summary.algorithm_name),
        ("episodes", str(summary.episodes)),
        ("steps", str(summary.steps)),
        ("success rate", success),
        ("mean return", f"{summary.mean_return:.4g} ± {summary.std_return:.3g} (std)"),
        ("factors", ", ".join(summary.factor_names) or "none"),
        ("time", f"{summary.seconds:.1f} s"),
        ("load with", load_hint(summary)),
    ):
        table.add_row(key, value)
    Console(file=file or sys.stdout, highlight=False).print(table)


def _either(names: list[str]) -> str:
    """``[a]`` -> ``a``; ``[a, b, c]`` -> ``a, b or c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def read_collect_json(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``collect.json`` beside a dataset written by :func:`collect`, or None if there is none; the
    expert's file (stored relative to the dataset folder) as an absolute path."""
    file = Path(path) / COLLECT_FILE
    if not file.is_file():
        return None
    with open(file, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    config = data.get("config")
    expert = config.get("expert") if isinstance(config, dict) else None
    if not isinstance(config, dict) or not isinstance(expert, str):
        return data
    stored = expert_input(expert)
    if stored is not None and not Path(stored).is_absolute():
        resolved = path_from_record(stored, path).resolve()
        if resolved.exists():
            prefix = PATHS_PREFIX if expert.startswith(PATHS_PREFIX) else ""
            config["expert"] = prefix + str(resolved)
    return data
