"""``train_agent``: one RL run (one agent, one task, one seed) from config to a finished output folder.

Output folder (written atomically: it appears complete or not at all):

- ``eval.csv``: primitive_steps, decisions, success_rate, mean_return, seconds, mean_length,
  mean_decisions (see :class:`~absaction.agents.callbacks.EvalRow`); the first row is the evaluation
  *before learning* (after a BC warm start, if any), the last one after training;
- ``learning_curve.png``: success rate and return against primitive env steps;
- ``agent.zip`` (SB3) + ``agent.json`` (see :mod:`absaction.agents.persistence`);
- ``config.json``: the resolved :class:`AgentConfig` and hyperparameters;
- ``sb3/progress.csv``: SB3's own training log (losses, ``rollout/ep_rew_mean`` in primitive rewards);
- ``bc.json``: the behaviour-cloning warm start, when one was asked for.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.logger import configure, make_output_format
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from absaction import __version__
from absaction.errors import AbsactionError, one_line
from absaction.files import atomic_dir, atomic_write_json, check_new_output, json_safe
from absaction.seeding import seed_everything
from absaction.train.metrics import TENSORBOARD_DIR, check_tensorboard
from absaction.wrappers import LatentActionWrapper, SkillWrapper, share_clock

from .bc import (
    BCResult,
    bc_pretrain,
    demonstration_pairs,
    latent_demonstration_pairs,
    load_demonstrations,
    skill_demonstration_pairs,
)
from .callbacks import CriticWarmupCallback, EvalRow, PrimitiveStepCallback
from .config import AgentConfig
from .environments import (
    find_macro_wrapper,
    load_model_for,
    make_env,
    make_vec_env,
    steps_per_decision,
    wrapper_settings,
)
from .evaluation import EVAL_SEED_OFFSET, EvalResult, evaluate, evaluate_random_actions, sb3_policy
from .hyperparams import (
    PrimitiveProgress,
    agent_class,
    algorithm_class,
    algorithm_kwargs,
    resolve_hyperparams,
)
from .persistence import (
    AGENT_JSON,
    AGENT_ZIP,
    FORMAT,
    FORMAT_VERSION,
    ZIP_SETTINGS_ATTRIBUTE,
    model_fingerprint,
    obs_normalizer,
    space_record,
    vec_normalize_stats,
)
from .plots import plot_learning_curve
from .prior_sac import init_actor_from_prior, prior_observations

if TYPE_CHECKING:  # annotations only: importing this module stays light
    from stable_baselines3.common.base_class import BaseAlgorithm

    from absaction.data import ActionDataset
    from absaction.wrappers import ActionDecoder


@dataclasses.dataclass
class TrainResult:
    """What :func:`train_agent` produced."""

    out_dir: Path
    config: AgentConfig
    """the resolved configuration (``steps`` and ``eval_every`` filled in)"""
    hyperparams: dict[str, Any]
    evaluations: list[EvalRow]
    """the rows of ``eval.csv``: before learning first, after training last"""
    primitive_steps: int
    """primitive env steps trained (>= config.steps, by less than one decision per env)"""
    decisions: int
    """agent decisions (SB3 steps)"""
    wall_seconds: float
    """wall-clock seconds of the whole run (set-up, training, evaluations, saving)"""
    bc: BCResult | None = None
    decode_overhead_ms: float = math.nan
    """mean milliseconds per decision the latent wrapper spent decoding (training env; NaN otherwise)"""
    random_actions: EvalResult | None = None
    """the evaluation episodes under uniformly random agent actions (random z for a latent agent)"""
    agent: Any = dataclasses.field(default=None, repr=False, compare=False)
    """the trained SB3 algorithm (in memory only)"""

    def __getstate__(self) -> dict[str, Any]:
        # results cross process boundaries (parallel benchmark workers); the SB3 agent stays behind
        return {**self.__dict__, "agent": None}

    @property
    def final(self) -> EvalRow:
        return self.evaluations[-1]

    @property
    def before_learning(self) -> EvalRow:
        return self.evaluations[0]

    def summary(self) -> dict[str, Any]:
        """JSON-able headline numbers (what the CLI prints and a benchmark tabulates)."""
        return {
            "env_id": self.config.env_id,
            "algo": self.config.algo,
            "actions": self.config.actions,
            "seed": self.config.seed,
            "primitive_steps": self.primitive_steps,
            "decisions": self.decisions,
            "success_before": self.before_learning.success_rate,
            "success_random": math.nan if self.random_actions is None else self.random_actions.success_rate,
            "success_rate": self.final.success_rate,
            "mean_return": self.final.mean_return,
            "train_seconds": self.final.seconds,
            "wall_seconds": self.wall_seconds,
            "decode_overhead_ms": self.decode_overhead_ms,
            "out_dir": str(self.out_dir),
        }


def resolve_config(config: AgentConfig, hyperparams: dict[str, Any]) -> AgentConfig:
    """Fill ``steps`` (YAML ``n_timesteps``) and ``eval_every`` (a tenth of the budget); validate."""
    config.validate()
    steps = config.steps if config.steps is not None else int(hyperparams.get("n_timesteps", 100_000))
    eval_every = config.eval_every if config.eval_every is not None else max(1, steps // 10)
    resolved = config.replace(steps=int(steps), eval_every=int(eval_every))
    if resolved.model is not None:
        resolved = resolved.replace(model=str(resolved.model_path()))
    resolved.validate()
    return resolved


def build_agent(
    config: AgentConfig, venv: Any, hyperparams: dict[str, Any], progress: PrimitiveProgress
) -> Any:
    """The SB3 algorithm for ``config`` acting in ``venv`` (gamma per decision = gamma**k)."""
    k = steps_per_decision(venv.envs[0] if hasattr(venv, "envs") else venv.venv.envs[0])
    policy, kwargs = algorithm_kwargs(hyperparams, int(venv.action_space.shape[0]), k, progress)
    cls = agent_class(config)
    if cls is not algorithm_class(config.algo):  # PriorSAC: the prior comes from the skill wrapper
        kwargs["action_prior"] = find_macro_wrapper(_first_env(venv)).action_prior  # type: ignore[union-attr]
        kwargs["target_divergence"] = float(hyperparams.get("target_divergence", 5.0))
    try:
        agent = cls(policy, venv, seed=config.seed, device=config.device, verbose=0, **kwargs)
    except (TypeError, ValueError, AssertionError) as err:
        first = one_line(err)
        raise AbsactionError(
            f"{config.algo} rejected the hyperparameters ({first})",
            "fix the hyperparameter file or overrides",
        ) from None
    if cls is not algorithm_class(config.algo):  # SPiRL: the policy starts as the prior
        # states the prior itself visits, in a separate env (its steps are not training steps: the
        # agent has not acted yet, and the training env's Monitor stays clean)
        decisions = int(hyperparams.get("prior_init_decisions", 200))
        skill_model = getattr(find_macro_wrapper(_first_env(venv)), "model", None)
        fitting_env = make_env(config, model=skill_model, hyperparams=hyperparams)
        observations = prior_observations(fitting_env, decisions, config.seed)
        fitting_env.close()
        agent.prior_init_kl = init_actor_from_prior(agent, observations, seed=config.seed)
    return agent


def _first_env(venv: Any) -> Any:
    return venv.envs[0] if hasattr(venv, "envs") else venv.venv.envs[0]


def train_agent(
    config: AgentConfig,
    out_dir: str | Path,
    *,
    force: bool = False,
    progress: bool = True,
    plot: bool = True,
    tensorboard: bool = False,
) -> TrainResult:
    """Train one agent for ``config.steps`` PRIMITIVE env steps and write its output folder.

    Every mistake in ``config`` (unknown env or algorithm, missing or mismatching action model, bad
    ladder/dim selection, an existing ``out_dir`` without ``force``) raises :class:`AbsactionError`
    before anything is written. A benchmark runs many of these, one call per (agent, task, seed), e.g.
    in a ``ProcessPoolExecutor`` with ``progress=False`` and ``torch.set_num_threads(1)`` per worker.

    Args:
        config: the run.
        out_dir: the output folder (created; replaced only with ``force``).
        force: replace an existing ``out_dir``.
        progress: show a tqdm bar in primitive env steps (stderr).
        plot: write ``learning_curve.png``.
        tensorboard: also log SB3's training metrics to ``out_dir/tensorboard`` (needs
            ``pip install absaction[tensorboard]``).
    """
    if tensorboard:
        check_tensorboard()  # before anything is written
    started = time.perf_counter()
    out_dir = check_new_output(
        out_dir, force, "run folder", command="rl", inputs=[config.model, config.bc_dataset]
    )
    hyperparams = resolve_hyperparams(config)
    config = resolve_config(config, hyperparams)
    assert config.steps is not None and config.eval_every is not None
    seed_everything(config.seed)

    # Everything that can fail on user input happens before the output folder exists.
    action_model = load_model_for(config)
    demonstrations = None
    if config.bc_dataset is not None:
        demonstrations = load_demonstrations(config.bc_dataset)
    schedule = PrimitiveProgress()
    venv = make_vec_env(config, model=action_model, hyperparams=hyperparams)
    eval_env = make_env(config, model=action_model, hyperparams=hyperparams)
    agent = build_agent(config, venv, hyperparams, schedule)
    share_clock(_vec_envs(venv), eval_env)  # residual skills: evaluations use the training lambda

    bc_result: BCResult | None = None
    if demonstrations is not None:
        macro = find_macro_wrapper(eval_env)
        if not isinstance(demonstrations, tuple):  # pairs from an .npz record no action space
            _check_demonstration_space(
                demonstrations, eval_env.action_space if macro is None else macro.inner_action_space, config
            )
        # a latent agent clones the demonstrated z: every chunk of demonstration encoded by its model;
        # a skill agent the action that chooses the skill encoded from every demonstrated window
        pairs: tuple[np.ndarray, np.ndarray]
        if isinstance(macro, LatentActionWrapper):
            assert not isinstance(demonstrations, tuple)
            pairs = latent_demonstration_pairs(demonstrations, macro)
        elif isinstance(macro, SkillWrapper):
            pairs = skill_demonstration_pairs(demonstrations, macro)  # type: ignore[arg-type]
        else:  # primitive actions (validate() refuses repeat + BC)
            pairs = demonstration_pairs(demonstrations)
        transform: Callable[[np.ndarray], np.ndarray] | None = None
        if isinstance(venv, VecNormalize):  # clone in the normalised observation space
            normalizing = venv
            normalizing.obs_rms.update(pairs[0])

            def transform(obs: np.ndarray) -> np.ndarray:
                return np.asarray(normalizing.normalize_obs(obs))

        # one pair per decision: a latent agent has ~chunk times fewer pairs, so smaller batches keep the
        # number of gradient steps per epoch comparable
        batch_size = 256 if macro is None else 32
        bc_result = bc_pretrain(
            agent,
            pairs,
            epochs=config.bc_epochs,
            batch_size=batch_size,
            seed=config.seed,
            obs_transform=transform,
        )

    def evaluate_now() -> Any:
        transform = obs_normalizer(vec_normalize_stats(venv))
        return evaluate(
            sb3_policy(agent, transform), eval_env, config.eval_episodes, config.seed + EVAL_SEED_OFFSET
        )

    # The same evaluation episodes under uniformly random agent actions: "success before learning" of
    # the interface itself (a random z often succeeds because the decoder carries the data prior).
    random_result = evaluate_random_actions(eval_env, config.eval_episodes, config.seed)

    with atomic_dir(out_dir, force, "run folder", command="rl") as tmp:
        logger = configure(str(tmp / "sb3"), ["csv"])
        if tensorboard:  # what SB3's tensorboard_log gives, in the run folder as `absaction train` does
            logger.output_formats.append(make_output_format("tensorboard", str(tmp / TENSORBOARD_DIR)))
        agent.set_logger(logger)
        callback = PrimitiveStepCallback(
            budget=config.steps,
            eval_every=config.eval_every,
            evaluate=evaluate_now,
            csv_path=tmp / "eval.csv",
            progress=progress,
            schedule=schedule,
            description=f"{config.algo}/{config.actions} {config.env_id}",
        )
        callbacks: list[Any] = [callback]
        if bc_result is not None:
            warmup = critic_warmup_steps(config, hyperparams, steps_per_decision(eval_env))
            callbacks.append(CriticWarmupCallback(callback, warmup))
        # SB3 counts decisions; each lasts >= 1 primitive step, so `steps` decisions always cover the
        # budget and the callback is what stops training.
        agent.learn(total_timesteps=config.steps, callback=callbacks)
        settings = wrapper_settings(eval_env)
        setattr(agent, ZIP_SETTINGS_ATTRIBUTE, settings)
        agent.save(tmp / AGENT_ZIP)
        result = TrainResult(
            out_dir=Path(out_dir),
            config=config,
            hyperparams=hyperparams,
            evaluations=list(callback.rows),
            primitive_steps=callback.primitive_steps,
            decisions=callback.decisions,
            wall_seconds=math.nan,
            bc=bc_result,
            decode_overhead_ms=_decode_overhead_ms(venv),
            random_actions=random_result,
            agent=agent,
        )
        record = _agent_record(result, agent, venv, eval_env, action_model, settings)
        atomic_write_json(tmp / AGENT_JSON, json_safe(record))
        atomic_write_json(tmp / "config.json", {"config": config.to_dict(), "hyperparams": hyperparams})
        if bc_result is not None:
            atomic_write_json(tmp / "bc.json", bc_result.to_dict())
        if plot:
            plot_learning_curve(result.evaluations, tmp / "learning_curve.png", title=_title(config))
    result.wall_seconds = time.perf_counter() - started
    venv.close()
    eval_env.close()
    return result


def critic_warmup_steps(config: AgentConfig, hyperparams: dict[str, Any], decision_steps: int = 1) -> int:
    """Primitive env steps of the critic warm-up after a BC warm start (``config.bc_critic_warmup``, or
    its default: one PPO rollout, or SAC/TD3's ``learning_starts`` + 5000 decisions, each counted as
    ``decision_steps`` primitive steps: a latent agent's decision lasts a chunk)."""
    if config.bc_critic_warmup is not None:
        return int(config.bc_critic_warmup)
    if config.algo == "ppo":
        decisions = int(hyperparams.get("n_steps", 2048)) * int(hyperparams.get("n_envs", 1))
    else:
        decisions = int(hyperparams.get("learning_starts", 100)) + 5000
    return decisions * int(decision_steps)


def _check_demonstration_space(dataset: ActionDataset, space: gym.Space[Any], config: AgentConfig) -> None:
    """Refuse demonstrations recorded with other action bounds than the env's (BC checks shapes)."""
    recorded = getattr(dataset, "action_space", None)
    if recorded is None or not hasattr(recorded, "low") or not isinstance(space, gym.spaces.Box):
        return
    if recorded.shape != space.shape or not (
        np.allclose(recorded.low, space.low) and np.allclose(recorded.high, space.high)
    ):
        raise AbsactionError(
            f"the demonstrations in {config.bc_dataset} have actions {recorded}, "
            f"{config.env_id} takes {space}",
            f"clone from a dataset collected in {config.env_id} (absaction collect --env {config.env_id})",
        )


def _vec_envs(venv: VecEnv) -> list[Any]:
    inner = venv.venv if isinstance(venv, VecNormalize) else venv  # make_vec_env: DummyVecEnv inside
    return list(getattr(inner, "envs", []))


def _decode_overhead_ms(venv: VecEnv) -> float:
    envs = _vec_envs(venv)
    if not envs:
        return math.nan
    wrapper = find_macro_wrapper(envs[0])
    return float(getattr(wrapper, "decode_overhead_ms", math.nan))


def _title(config: AgentConfig) -> str:
    extra = f", chunk {config.chunk}" if config.chunk else ""
    return f"{config.algo.upper()} on {config.env_id} ({config.actions} actions{extra}, seed {config.seed})"


def _agent_record(
    result: TrainResult,
    agent: BaseAlgorithm,
    venv: VecEnv,
    env: gym.Env[Any, Any],
    action_model: ActionDecoder | None,
    settings: dict[str, Any],
) -> dict[str, Any]:
    config = result.config
    normalizer: Any = getattr(action_model, "normalizer", None)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "absaction_version": __version__,
        "config": config.to_dict(),
        "hyperparams": result.hyperparams,
        "agent_gamma": float(getattr(agent, "gamma", math.nan)),
        "steps_per_decision": steps_per_decision(env),
        "wrapper": settings,
        "model": model_fingerprint(config.model_path()),
        "normalization": {
            "action_model": normalizer.to_dict() if hasattr(normalizer, "to_dict") else None,
            "vec_normalize": vec_normalize_stats(venv),
        },
        "observation_space": space_record(env.observation_space),
        "action_space": space_record(env.action_space),
        "primitive_steps": result.primitive_steps,
        "decisions": result.decisions,
        "decode_overhead_ms": result.decode_overhead_ms,
        "final": dataclasses.asdict(result.final),
        "before_learning": dataclasses.asdict(result.before_learning),
        "random_actions": None
        if result.random_actions is None
        else {
            "success_rate": result.random_actions.success_rate,
            "mean_return": result.random_actions.mean_return,
            "mean_length": result.random_actions.mean_length,
            "episodes": len(result.random_actions.returns),
        },
        "bc": None if result.bc is None else result.bc.to_dict(),
    }
