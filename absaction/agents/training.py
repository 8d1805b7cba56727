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
import shutil
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.logger import configure, make_output_format
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from absaction import __version__
from absaction.devices import check_device
from absaction.errors import AbsactionError, flag, one_line, option
from absaction.files import atomic_dir, atomic_write_bytes, atomic_write_json, check_new_output, json_safe
from absaction.seeding import seed_everything
from absaction.threads import torch_threads
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
    BudgetWarning,
    PrimitiveProgress,
    agent_class,
    algorithm_class,
    algorithm_kwargs,
    check_budget,
    checked_hyperparams,
)
from .persistence import (
    AGENT_JSON,
    AGENT_ZIP,
    FORMAT,
    FORMAT_VERSION,
    ZIP_SETTINGS_ATTRIBUTE,
    model_fingerprint,
    obs_normalizer,
    record_with_relative_paths,
    space_record,
    vec_normalize_stats,
)
from .plots import plot_learning_curve
from .prior_sac import init_actor_from_prior, prior_observations
from .priors import evaluate_prior_rollouts

if TYPE_CHECKING:  # annotations only: importing this module stays light
    from stable_baselines3.common.base_class import BaseAlgorithm

    from absaction.data import ActionDataset
    from absaction.wrappers import ActionDecoder
from .resume import (
    finish,
    has_checkpoint,
    load_checkpoint,
    merged_progress_csv,
    read_resume_record,
    restore_agent,
    restore_rng,
    resume_or_force,
    save_checkpoint,
)


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
    """wall-clock seconds of this process's part of the run (set-up, training, evaluations, saving)"""
    bc: BCResult | None = None
    decode_overhead_ms: float = math.nan
    """mean milliseconds per decision the latent wrapper spent decoding (training env; NaN otherwise)"""
    random_actions: EvalResult | None = None
    """the evaluation episodes under uniformly random agent actions (random z for a latent agent)"""
    prior_rollouts: EvalResult | None = None
    """skill agents: the evaluation episodes under the skill model's prior, z ~ p(z | s) every H steps"""
    agent: Any = dataclasses.field(default=None, repr=False, compare=False)
    """the trained SB3 algorithm (in memory only)"""
    resumed: bool = False
    """whether this process continued an interrupted run (``final.seconds`` then spans every session,
    ``wall_seconds`` only this one)"""

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
            "success_prior": math.nan if self.prior_rollouts is None else self.prior_rollouts.success_rate,
            "success_rate": self.final.success_rate,
            "mean_return": self.final.mean_return,
            "train_seconds": self.final.seconds,
            "wall_seconds": self.wall_seconds,
            "decode_overhead_ms": self.decode_overhead_ms,
            "out_dir": str(self.out_dir),
        }


def resolve_config(config: AgentConfig, hyperparams: dict[str, Any]) -> AgentConfig:
    """Fill ``steps`` (YAML ``n_timesteps``), ``eval_episodes`` and ``eval_every``; validate.

    The default evaluation takes at most about as many env steps as training: 10 episodes every tenth
    of the budget, unless the env's episodes are so long (MountainCarContinuous-v0: 999 steps) that
    this would exceed the budget; then fewer episodes (at least 1) and, if one episode per tenth is
    still too many, evaluations one episode's length apart.
    """
    config.validate()
    steps = int(config.steps if config.steps is not None else hyperparams.get("n_timesteps", 100_000))
    length = episode_steps(config)
    episodes = config.eval_episodes
    if episodes is None:
        episodes = DEFAULT_EVAL_EPISODES if length is None else min(
            DEFAULT_EVAL_EPISODES, max(1, steps // (10 * length))
        )  # fmt: skip
    eval_every = config.eval_every
    if eval_every is None:
        eval_every = max(1, steps // 10)
        if length is not None and config.eval_episodes is None:
            eval_every = min(steps, max(eval_every, episodes * length))
    resolved = config.replace(steps=steps, eval_every=int(eval_every), eval_episodes=int(episodes))
    if resolved.model is not None:
        resolved = resolved.replace(model=str(resolved.model_path()))
    resolved.validate()
    return resolved


DEFAULT_EVAL_EPISODES = 10


def episode_steps(config: AgentConfig) -> int | None:
    """The env's episode limit in primitive steps (``max_episode_steps``), or None if it has none."""
    limit = config.env_kwargs.get("max_episode_steps")
    if limit is None:
        try:
            limit = gym.spec(config.env_id).max_episode_steps
        except gym.error.Error:  # a "module:EnvId" not imported yet: gymnasium.make decides later
            return None
    return int(limit) if limit else None


def build_agent(
    config: AgentConfig, venv: Any, hyperparams: dict[str, Any], progress: PrimitiveProgress
) -> Any:
    """The SB3 algorithm for ``config`` acting in ``venv`` (gamma per decision = gamma**k)."""
    k = steps_per_decision(venv.envs[0] if hasattr(venv, "envs") else venv.venv.envs[0])
    policy, kwargs = algorithm_kwargs(hyperparams, int(venv.action_space.shape[0]), k, progress)
    if policy == "MlpPolicy" and isinstance(venv.observation_space, gym.spaces.Dict):
        policy = "MultiInputPolicy"  # SB3's MLP over a Dict's keys (each flattened, then concatenated)
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
            f"fix the hyperparameter file or {flag('set', python='hyperparams')}",
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
    checkpoint_every: int | None = None,
    threads: int = 1,
    refuse_no_update: bool = False,
) -> TrainResult:
    """Train one agent for ``config.steps`` PRIMITIVE env steps and write its output folder.

    Every mistake in ``config`` (unknown env or algorithm, missing or mismatching action model, bad
    ladder/dim selection, an existing ``out_dir`` without ``force``) raises :class:`AbsactionError`
    before anything is written. A benchmark runs many of these, one call per (agent, task, seed), e.g.
    in a ``ProcessPoolExecutor`` with ``progress=False`` and ``checkpoint_every=0``.

    With checkpoints (the default) the folder exists while the run trains and holds ``resume.json`` and
    a checkpoint (see :mod:`absaction.agents.resume`): a run stopped by Ctrl-C, an error or ``kill -9``
    continues with :func:`resume_agent`. Finished, it holds what an uninterrupted run writes, nothing more.

    Args:
        config: the run.
        out_dir: the output folder (created; replaced only with ``force``).
        force: replace an existing ``out_dir`` (an earlier output of ``absaction rl`` only).
        progress: show a tqdm bar in primitive env steps (stderr).
        plot: write ``learning_curve.png``.
        tensorboard: also log SB3's training metrics to ``out_dir/tensorboard`` (needs
            ``pip install absaction[tensorboard]``).
        checkpoint_every: primitive env steps between checkpoints (None: a tenth of the budget; 0: none,
            the folder is then built under a temporary name and appears only when complete).
        threads: torch threads while training (0: torch's default, all cores; 1 is fastest for these
            small networks, and the only sane choice beside other busy processes).
        refuse_no_update: a budget that ends before the agent's first gradient update raises
            :class:`AbsactionError` (``absaction rl`` does this); by default it is one warning line
            before any work (short pipeline checks, such as a sweep's smoke preset, still run).
    """
    if tensorboard:
        check_tensorboard()  # before anything is written
    started = time.perf_counter()
    check_device(config.device)
    out_dir = check_new_output(
        out_dir, force, "run folder", command="rl", inputs=[config.model, config.bc_dataset],
        exists_fix=resume_or_force(out_dir),
    )  # fmt: skip
    if checkpoint_every is not None and checkpoint_every < 0:
        raise AbsactionError(f"checkpoint_every must be >= 0, got {checkpoint_every}", "pass 0 or more")
    with torch_threads(threads):
        hyperparams = checked_hyperparams(config)
        config = resolve_config(config, hyperparams)
        assert config.steps is not None and config.eval_episodes is not None
        seed_everything(config.seed)

        # Everything that can fail on user input happens before the output folder exists.
        action_model = load_model_for(config)
        demonstrations = None
        if config.bc_dataset is not None:
            demonstrations = load_demonstrations(config.bc_dataset)
        schedule = PrimitiveProgress()
        venv = make_vec_env(config, model=action_model, hyperparams=hyperparams)
        no_update = check_budget(config.algo, hyperparams, steps_per_decision(_first_env(venv)), config.steps)
        if no_update is not None:
            if refuse_no_update:
                raise no_update
            warnings.warn(str(no_update), BudgetWarning, stacklevel=2)
        eval_env = make_env(config, model=action_model, hyperparams=hyperparams)
        agent = build_agent(config, venv, hyperparams, schedule)
        share_clock(_vec_envs(venv), eval_env)  # residual skills: evaluations use the training lambda
        bc_result = None
        if demonstrations is not None:
            bc_result = _warm_start(config, agent, venv, eval_env, demonstrations)
        # The same evaluation episodes under uniformly random agent actions: "success before learning" of
        # the interface itself (a random z often succeeds because the decoder carries the data prior).
        random_result = evaluate_random_actions(eval_env, config.eval_episodes, config.seed)
        every = max(1, config.steps // 10) if checkpoint_every is None else int(checkpoint_every)
        session = _Session(
            config, hyperparams, action_model, venv, eval_env, agent, schedule,
            bc_result, random_result, every, tensorboard,
        )  # fmt: skip
        if every == 0:
            with atomic_dir(out_dir, force, "run folder", command="rl") as tmp:
                result = session.run(tmp, out_dir, progress=progress, plot=plot)
        else:
            with atomic_dir(out_dir, force, "run folder", command="rl"):
                pass  # the folder and its record; training writes into it, its checkpoints mark it incomplete
            try:
                result = session.run(out_dir, out_dir, progress=progress, plot=plot)
            except BaseException:
                if not has_checkpoint(out_dir):  # stopped before its first checkpoint: nothing to keep
                    shutil.rmtree(out_dir, ignore_errors=True)
                raise
    result.wall_seconds = time.perf_counter() - started
    venv.close()
    eval_env.close()
    return result


def resume_agent(
    run_dir: str | Path,
    *,
    progress: bool = True,
    plot: bool = True,
    checkpoint_every: int | None = None,
    threads: int = 1,
) -> TrainResult:
    """Continue the incomplete run in ``run_dir`` (of :func:`train_agent`) from its last checkpoint.

    The continued run ends with the same ``eval.csv`` as an uninterrupted run of the same configuration
    (except the ``seconds`` column, wall-clock time) and the same folder layout.

    Args:
        run_dir: the run folder; it must hold ``resume.json`` (see :mod:`absaction.agents.resume`).
        progress: show a tqdm bar.
        plot: write ``learning_curve.png``.
        checkpoint_every: primitive env steps between checkpoints (None: the run's own interval).
        threads: torch threads while training (0: torch's default).
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    record = read_resume_record(run_dir)
    config = AgentConfig.from_record(record["config"], run_dir)  # paths stored relative to the run folder
    hyperparams: dict[str, Any] = record["hyperparams"]
    check_device(config.device)
    if record.get("model") != model_fingerprint(config.model_path()):
        raise AbsactionError(
            f"the action model {config.model} changed since {run_dir} started (sha256 differs)",
            f"restore the model the run started with, or start again with {option('force')}",
        )
    if checkpoint_every is not None and checkpoint_every < 1:
        raise AbsactionError(f"checkpoint_every must be >= 1, got {checkpoint_every}", "pass 1 or more")
    every = int(record["checkpoint_every"]) if checkpoint_every is None else int(checkpoint_every)
    with torch_threads(threads):
        state = load_checkpoint(run_dir, record)
        action_model = load_model_for(config)
        schedule = PrimitiveProgress()
        venv = state["venv"]
        eval_env = make_env(config, model=action_model, hyperparams=hyperparams)
        agent = build_agent(config, venv, hyperparams, schedule)
        share_clock(_vec_envs(venv), eval_env)
        extra = state["extra"]
        session = _Session(
            config, hyperparams, action_model, venv, eval_env, agent, schedule,
            extra["bc"], extra["random_actions"], every, bool(record.get("tensorboard", False)),
        )  # fmt: skip
        result = session.run(run_dir, run_dir, progress=progress, plot=plot, resumed=(record, state))
    result.wall_seconds = time.perf_counter() - started
    result.resumed = True
    venv.close()
    eval_env.close()
    return result


def _warm_start(config: AgentConfig, agent: Any, venv: Any, eval_env: Any, demonstrations: Any) -> BCResult:
    """Behaviour cloning of the demonstrations into ``agent``'s actor."""
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
        pairs = skill_demonstration_pairs(demonstrations, macro)
    else:  # primitive actions (validate() refuses repeat + BC)
        pairs = demonstration_pairs(demonstrations)
    transform = None
    if vec_normalize_stats(venv) is not None:  # clone in the normalised observation space
        venv.obs_rms.update(pairs[0])
        transform = venv.normalize_obs
    # one pair per decision: a macro agent has ~chunk times fewer pairs, so smaller batches keep the
    # number of gradient steps per epoch comparable
    batch_size = 256 if macro is None else 32
    return bc_pretrain(
        agent, pairs, epochs=config.bc_epochs, batch_size=batch_size, seed=config.seed,
        obs_transform=transform,
    )  # fmt: skip


@dataclasses.dataclass
class _Session:
    """One training session of a run: a fresh start or a continuation of a checkpoint."""

    config: AgentConfig
    hyperparams: dict[str, Any]
    action_model: Any
    venv: Any
    eval_env: Any
    agent: Any
    schedule: PrimitiveProgress
    bc_result: BCResult | None
    random_result: EvalResult | None
    checkpoint_every: int
    tensorboard: bool = False

    def evaluate_now(self) -> EvalResult:
        transform = obs_normalizer(vec_normalize_stats(self.venv))
        return evaluate(
            sb3_policy(self.agent, transform),
            self.eval_env,
            int(self.config.eval_episodes or 1),
            self.config.seed + EVAL_SEED_OFFSET,
        )

    def run(
        self,
        work: Path,
        out_dir: Path,
        *,
        progress: bool,
        plot: bool,
        resumed: tuple[dict[str, Any], dict[str, Any]] | None = None,
    ) -> TrainResult:
        """Train into ``work`` (the run folder, or its temporary twin without checkpoints) and write the
        finished outputs there."""
        config, agent = self.config, self.agent
        assert config.steps is not None and config.eval_every is not None
        progress_before: bytes | None = None
        if resumed is not None:
            previous = resumed[1]["folder"] / "progress.csv"
            progress_before = previous.read_bytes() if previous.is_file() else None
        logger = configure(str(work / "sb3"), ["csv"])
        if self.tensorboard:  # what SB3's tensorboard_log gives, in the run folder as `absaction train` does
            logger.output_formats.append(make_output_format("tensorboard", str(work / TENSORBOARD_DIR)))
        agent.set_logger(logger)
        checkpoints = self.checkpoint_every > 0

        def save() -> None:
            record = {
                "config": config.to_record(out_dir),  # paths relative to the run folder
                "hyperparams": self.hyperparams,
                "checkpoint_every": self.checkpoint_every,
                "tensorboard": self.tensorboard,
                "primitive_steps": callback.primitive_steps,
                "callback": callback.state(),
                "model": model_fingerprint(config.model_path()),
            }
            progress_csv = merged_progress_csv(progress_before, work / "sb3" / "progress.csv")
            extra = {"bc": self.bc_result, "random_actions": self.random_result}
            save_checkpoint(work, agent, self.venv, json_safe(record), extra, progress_csv)

        on_start = None
        if resumed is not None:
            record, state = resumed
            restore_agent(agent, state)
            on_start = lambda: restore_rng(agent, state["rng"])  # noqa: E731 - after SB3's set-up
        callback = PrimitiveStepCallback(
            budget=config.steps,
            eval_every=config.eval_every,
            evaluate=self.evaluate_now,
            csv_path=work / "eval.csv",
            progress=progress,
            schedule=self.schedule,
            description=f"{config.algo}/{config.actions} {config.env_id}",
            checkpoint=save if checkpoints else None,
            checkpoint_every=self.checkpoint_every if checkpoints else None,
            on_start=on_start,
        )
        if resumed is not None:
            callback.load_state(resumed[0]["callback"])
        callbacks: list[Any] = [callback]
        if self.bc_result is not None:
            warmup = critic_warmup_steps(config, self.hyperparams, steps_per_decision(self.eval_env))
            callbacks.append(CriticWarmupCallback(callback, warmup))
        # SB3 counts decisions; each lasts >= 1 primitive step, so `steps` decisions always cover the
        # budget and the callback is what stops training. A resumed run keeps SB3's counters, so that
        # its progress (num_timesteps / total) is the uninterrupted run's.
        try:
            agent.learn(
                total_timesteps=config.steps - agent.num_timesteps,
                callback=callbacks,
                reset_num_timesteps=resumed is None,
            )
        finally:  # SB3 ends no callback on an exception: a Ctrl-C's message must not land on the bar's line
            callback.close_progress()
        if progress_before is not None:
            progress_csv = work / "sb3" / "progress.csv"
            atomic_write_bytes(progress_csv, merged_progress_csv(progress_before, progress_csv) or b"")
        settings = wrapper_settings(self.eval_env)
        setattr(agent, ZIP_SETTINGS_ATTRIBUTE, settings)
        agent.save(work / AGENT_ZIP)
        result = TrainResult(
            out_dir=Path(out_dir),
            config=config,
            hyperparams=self.hyperparams,
            evaluations=list(callback.rows),
            primitive_steps=callback.primitive_steps,
            decisions=callback.decisions,
            wall_seconds=math.nan,
            bc=self.bc_result,
            decode_overhead_ms=_decode_overhead_ms(self.venv),
            random_actions=self.random_result,
            # after training: the rollouts draw from their own generator and never touch training's
            prior_rollouts=evaluate_prior_rollouts(config, self.action_model),
            agent=agent,
        )
        record = _agent_record(result, agent, self.venv, self.eval_env, self.action_model, settings)
        # paths relative to the run folder (out_dir, where work is renamed to): found from any working folder
        atomic_write_json(work / AGENT_JSON, json_safe(record_with_relative_paths(record, out_dir)))
        atomic_write_json(
            work / "config.json", {"config": config.to_record(out_dir), "hyperparams": self.hyperparams}
        )
        if self.bc_result is not None:
            atomic_write_json(work / "bc.json", self.bc_result.to_dict())
        if plot:
            plot_learning_curve(result.evaluations, work / "learning_curve.png", title=_title(config))
        if checkpoints:
            finish(work)
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


def _eval_record(result: EvalResult | None) -> dict[str, Any] | None:
    """The headline numbers of an evaluation without learning (random actions, prior rollouts)."""
    if result is None:
        return None
    return {
        "success_rate": result.success_rate,
        "mean_return": result.mean_return,
        "mean_length": result.mean_length,
        "episodes": len(result.returns),
    }


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
        "random_actions": _eval_record(result.random_actions),
        "prior_rollouts": _eval_record(result.prior_rollouts),
        "bc": None if result.bc is None else result.bc.to_dict(),
    }
