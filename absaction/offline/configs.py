"""The configurations of offline goal-conditioned training: one dataclass per agent (GCBC, GCIVL, GCIQL)
with OGBench's defaults, OGBench's per-dataset settings, the two size presets and the run's own settings.

Every default lives once, in its field, where ``absaction offline --help`` reads it. This module imports
no torch (the CLI's parser reads it), as :mod:`absaction.models.configs` does for the action models; each
agent's losses and update sit in its own module (:mod:`absaction.offline.gcbc`, ...) beside a reference to
its configuration here.

Where a setting comes from, lowest first: the agent's dataclass (OGBench's ``get_config()``), OGBench's
per-dataset settings (:func:`ogbench_settings`, its ``impls/hyperparameters.sh``), the preset
(:data:`PRESETS`), then what the user sets.

    >>> config = agent_config("gcivl", "pointmaze-medium-stitch-v0", preset="paper")
    >>> config.alpha, config.actor_p_randomgoal, config.batch_size, config.value_hidden_dims
    (10.0, 0.5, 1024, (512, 512, 512))
    >>> agent_config("gciql", "pointmaze-giant-navigate-v0", preset="cpu").alpha   # pointmaze: 0.003
    0.003
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from absaction.data.goals import GoalMix
from absaction.data.ogbench import parse_dataset_name
from absaction.devices import check_device
from absaction.errors import AbsactionError, check_choice, option, refuse_unknown_keys

AGENTS: tuple[str, ...] = ("gcbc", "gcivl", "gciql")
"""The offline agents, as ``--agent`` names them."""

ACTOR_LOSSES: tuple[str, ...] = ("awr", "ddpgbc")
"""GCIQL's actor losses: advantage-weighted regression or DDPG with a behaviour-cloning term."""


@dataclasses.dataclass
class AgentConfig:
    """What every offline agent here shares: a Gaussian actor pi(a | s, g) trained on batches of
    goal-conditioned transitions (:class:`absaction.data.goals.GoalSampler`)."""

    name: ClassVar[str] = ""

    lr: float = 3e-4
    """Adam learning rate of every network"""
    batch_size: int = 1024
    """transitions per gradient step"""
    actor_hidden_dims: tuple[int, ...] = (512, 512, 512)
    """hidden layer sizes of the actor's MLP (GELU activations)"""
    discount: float = 0.99
    """discount per step; also 1 - p of the geometric future goals"""
    const_std: bool = True
    """the actor's standard deviation is fixed at 1 (True) or a learned per-dimension parameter"""
    actor_p_curgoal: float = 0.0
    """probability that an actor goal is the current state"""
    actor_p_trajgoal: float = 1.0
    """probability that an actor goal is a future state of the same trajectory"""
    actor_p_randomgoal: float = 0.0
    """probability that an actor goal is a random dataset state"""
    actor_geom_sample: bool = False
    """future actor goals are geometric with the discount (True) or uniform up to the trajectory's end"""

    def actor_goals(self) -> GoalMix:
        return GoalMix(
            self.actor_p_curgoal, self.actor_p_trajgoal, self.actor_p_randomgoal, self.actor_geom_sample
        )

    def value_goals(self) -> GoalMix:
        """The value function's goals (an agent without one samples none that matter: the actor's)."""
        return self.actor_goals()

    def validate(self) -> None:
        """Raise :class:`AbsactionError` on a setting no agent can train with."""
        if not self.lr > 0:
            raise AbsactionError(f"lr must be positive, got {self.lr}", f"pass e.g. {option('lr', '3e-4')}")
        if self.batch_size < 1:
            raise AbsactionError(
                f"batch_size must be at least 1, got {self.batch_size}", f"pass {option('batch_size', '256')}"
            )
        for key in ("actor_hidden_dims", "value_hidden_dims"):
            dims = getattr(self, key, (1,))
            if not dims or any(int(d) < 1 for d in dims):
                raise AbsactionError(f"{key} must be positive sizes, got {dims}", "pass e.g. 256,256,256")
        if not 0.0 <= self.discount < 1.0:
            raise AbsactionError(f"discount must lie in [0, 1), got {self.discount}", "pass e.g. 0.99")
        self.actor_goals()
        self.value_goals()

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AgentConfig:
        defaults = cls().to_dict()
        refuse_unknown_keys(values, defaults, "agent setting(s)", context=f" for {cls.name}")
        typed: dict[str, Any] = {key: _typed(key, value, defaults[key]) for key, value in values.items()}
        config = cls(**typed)
        config.validate()
        return config


def _typed(key: str, value: Any, default: Any) -> Any:
    """``value`` as the type of the field's ``default`` (an int where a float goes is fine), or one line."""
    if isinstance(default, list):  # hidden sizes
        if isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            return tuple(value)
    elif isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, type(default)) and not isinstance(value, bool):
        return value
    shown = ",".join(map(str, default)) if isinstance(default, list) else repr(default)
    raise AbsactionError(
        f"agent setting {key}={value!r} is not a {type(default).__name__}", f"pass e.g. {key}={shown}"
    )


@dataclasses.dataclass
class GCBCConfig(AgentConfig):
    """Goal-conditioned behaviour cloning: maximise log pi(a | s, g) for hindsight goals g."""

    name: ClassVar[str] = "gcbc"


@dataclasses.dataclass
class ValueAgentConfig(AgentConfig):
    """An agent that also learns a goal-conditioned value V(s, g) by expectile regression (IQL)."""

    value_hidden_dims: tuple[int, ...] = (512, 512, 512)
    """hidden layer sizes of every value and critic MLP"""
    layer_norm: bool = True
    """layer normalisation after every hidden activation of the value and critic MLPs"""
    tau: float = 0.005
    """target network update rate: target <- tau * online + (1 - tau) * target, every step"""
    expectile: float = 0.9
    """IQL expectile: positive errors weigh expectile, negative ones 1 - expectile"""
    value_p_curgoal: float = 0.2
    """probability that a value goal is the current state (reward 0, episode end)"""
    value_p_trajgoal: float = 0.5
    """probability that a value goal is a future state of the same trajectory"""
    value_p_randomgoal: float = 0.3
    """probability that a value goal is a random dataset state"""
    value_geom_sample: bool = True
    """future value goals are geometric with the discount (True) or uniform up to the trajectory's end"""
    gc_negative: bool = True
    """rewards 0 at the goal and -1 elsewhere (True) or 1 and 0"""

    def value_goals(self) -> GoalMix:
        return GoalMix(
            self.value_p_curgoal, self.value_p_trajgoal, self.value_p_randomgoal, self.value_geom_sample
        )

    def validate(self) -> None:
        super().validate()
        if not 0.0 < self.tau <= 1.0:
            raise AbsactionError(f"tau must lie in (0, 1], got {self.tau}", "pass e.g. tau=0.005")
        if not 0.0 < self.expectile < 1.0:
            raise AbsactionError(
                f"expectile must lie in (0, 1), got {self.expectile}", "pass e.g. expectile=0.9"
            )
        alpha = getattr(self, "alpha", 0.0)
        if not alpha >= 0.0:
            raise AbsactionError(f"alpha must be >= 0, got {alpha}", "pass e.g. alpha=10")


@dataclasses.dataclass
class GCIVLConfig(ValueAgentConfig):
    """Goal-conditioned implicit V-learning: IQL's expectile regression on V(s, g) alone (two value nets
    and their targets), and an actor trained by advantage-weighted regression on V(s', g) - V(s, g)."""

    name: ClassVar[str] = "gcivl"

    alpha: float = 10.0
    """AWR temperature: the actor weighs each log-likelihood by min(exp(alpha * advantage), 100)"""


@dataclasses.dataclass
class GCIQLConfig(ValueAgentConfig):
    """Goal-conditioned implicit Q-learning: V(s, g) by expectile regression on a target Q, Q(s, a, g) (two
    critics and their targets) by TD on V, and an actor by AWR or DDPG+BC."""

    name: ClassVar[str] = "gciql"

    actor_loss: str = "ddpgbc"
    """awr: advantage-weighted regression on Q - V; ddpgbc: -Q(s, pi(s, g), g) / mean|Q| - alpha log pi(a)"""
    alpha: float = 0.3
    """AWR temperature (awr) or the behaviour-cloning weight (ddpgbc)"""

    def validate(self) -> None:
        super().validate()
        check_choice(self.actor_loss, ACTOR_LOSSES, "actor loss")


AGENT_CONFIGS: dict[str, type[AgentConfig]] = {"gcbc": GCBCConfig, "gcivl": GCIVLConfig, "gciql": GCIQLConfig}
"""Each agent's configuration class."""


def check_agent(name: str) -> type[AgentConfig]:
    """The configuration class of agent ``name``, or one line naming the agents."""
    if name not in AGENT_CONFIGS:
        raise AbsactionError(f"unknown offline agent {name!r}", f"choose one of {', '.join(AGENTS)}")
    return AGENT_CONFIGS[name]


def ogbench_settings(agent: str, dataset: str) -> dict[str, Any]:
    """OGBench's own settings of ``agent`` for dataset ``dataset`` (its ``impls/hyperparameters.sh``),
    where they differ from the agent's defaults; only the pointmaze datasets are tabled (others: {}).

    - GCIQL on every pointmaze dataset: ``alpha=0.003`` (DDPG+BC);
    - GCIVL and GCIQL on ``stitch`` datasets: actor goals half future, half random;
    - GCIVL and GCIQL on the giant maze: ``discount=0.995``.
    """
    parsed = parse_dataset_name(dataset)
    if parsed is None or parsed.agent != "pointmaze" or agent == "gcbc":
        return {}
    settings: dict[str, Any] = {}
    if agent == "gciql":
        settings["alpha"] = 0.003
    if parsed.dataset_type == "stitch":
        settings.update(actor_p_trajgoal=0.5, actor_p_randomgoal=0.5)
    if parsed.maze == "giant":
        settings["discount"] = 0.995
    return settings


@dataclasses.dataclass(frozen=True)
class Preset:
    """A size of run: its budget and the settings it gives every agent."""

    steps: int
    """gradient steps"""
    eval_every: int
    """gradient steps between evaluations"""
    log_every: int
    """gradient steps per row of metrics.csv"""
    checkpoint_every: int
    """gradient steps between checkpoints"""
    agent: dict[str, Any] = dataclasses.field(default_factory=dict)
    """agent settings the preset changes"""
    summary: str = ""
    """one line for --help"""


PRESETS: dict[str, Preset] = {
    # OGBench's runs: the agents' own sizes (512x3 MLPs, batches of 1024), 1M steps, an evaluation every
    # 100k steps and a log line every 5k (impls/main.py).
    "paper": Preset(
        1_000_000, 100_000, 5_000, 100_000, {}, "OGBench's sizes: 1M steps, batch 1024, 512x3 MLPs"
    ),
    # Sized for two CPU cores, one thread per run: a 256x3 step at batch 256 takes 20-30 ms for GCIVL and
    # GCIQL and about 5 ms for GCBC on one core (a 512x3 step at 1024: ~280 ms / ~45 ms), so 20k steps and
    # four evaluations (up to 40 s each) take 8-12 min for the value agents and 3-4 min for GCBC. Fewer
    # steps teach GCIVL little: on pointmaze-medium-stitch it reached no goal by step 15k, 25 % at 20k.
    "cpu": Preset(
        20_000,
        5_000,
        250,
        5_000,
        {"batch_size": 256, "actor_hidden_dims": (256, 256, 256), "value_hidden_dims": (256, 256, 256)},
        "two CPU cores: 20k steps, batch 256, 256x3 MLPs (8-12 min for gcivl/gciql, 3-4 for gcbc)",
    ),
}
"""The run sizes ``--preset`` names."""


def agent_config(
    agent: str, dataset: str, preset: str = "cpu", options: dict[str, Any] | None = None
) -> AgentConfig:
    """The resolved configuration of ``agent`` on ``dataset``: its defaults, OGBench's settings for the
    dataset, the preset's sizes, then ``options`` (any field of the agent's dataclass)."""
    cls = check_agent(agent)
    check_choice(preset, PRESETS, "preset")
    values: dict[str, Any] = {**ogbench_settings(agent, dataset)}
    fields = {f.name for f in dataclasses.fields(cls)}
    values.update({k: v for k, v in PRESETS[preset].agent.items() if k in fields})
    values.update(options or {})
    return cls.from_dict(values)


RUN_CONTROL_KEYS: frozenset[str] = frozenset({"steps", "checkpoint_every", "device", "threads"})
"""Run settings a resume may change: they steer the run, not its numbers (``steps`` may grow; another
``device`` or ``threads`` may change the last bits of the arithmetic, so a bit-identical resume keeps
them)."""


@dataclasses.dataclass
class OfflineConfig:
    """One offline training run: the data, the agent, the budget and how it is evaluated."""

    dataset: str
    """OGBench dataset name (found in ogbench_dir) or .npz file, e.g. pointmaze-medium-stitch-v0"""
    agent: str = "gcivl"
    """gcbc | gcivl | gciql"""
    env_id: str | None = None
    """OGBench env the agent is evaluated on; None: the dataset's own (its name without the type)"""
    preset: str = "cpu"
    """run size: cpu | paper"""
    steps: int | None = None
    """gradient steps; None: the preset's"""
    eval_every: int | None = None
    """gradient steps between evaluations (and one at the end); None: the preset's"""
    eval_episodes: int = 50
    """episodes per evaluation task (OGBench: 50 on pointmaze)"""
    eval_tasks: int | None = None
    """evaluate the env's first N tasks only (OGBench's eval_tasks); None: all of them (5)"""
    log_every: int | None = None
    """gradient steps per row of metrics.csv (the mean of each metric over them); None: the preset's"""
    checkpoint_every: int | None = None
    """gradient steps between checkpoints (and one at the end); None: the preset's"""
    seed: int = 0
    """seed of the initial weights, the batches and the evaluation episodes"""
    agent_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """settings of the agent's dataclass that replace the preset's and OGBench's"""
    ogbench_dir: str | None = None
    """where dataset names are looked up; None: ~/.ogbench/data"""
    device: str = "cpu"
    """torch device: auto (CUDA if available) | cpu | cuda | cuda:N"""
    threads: int = 1
    """torch intra-op threads (0 = torch's default, all cores); one is fastest on a shared machine"""

    def resolved(self) -> OfflineConfig:
        """A copy with the preset's budget filled in where a field is None."""
        check_choice(self.preset, PRESETS, "preset")
        preset = PRESETS[self.preset]
        return dataclasses.replace(
            self,
            steps=self.steps if self.steps is not None else preset.steps,
            eval_every=self.eval_every if self.eval_every is not None else preset.eval_every,
            log_every=self.log_every if self.log_every is not None else preset.log_every,
            checkpoint_every=self.checkpoint_every
            if self.checkpoint_every is not None
            else preset.checkpoint_every,
        )

    def validate(self) -> None:
        """Raise :class:`AbsactionError` on settings no run can use (before anything is read or written)."""
        check_agent(self.agent)
        check_choice(self.preset, PRESETS, "preset")
        for key in ("steps", "eval_every", "log_every", "checkpoint_every", "eval_episodes", "eval_tasks"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise AbsactionError(
                    f"{key} must be at least 1, got {value}", f"pass {option(key, '1')} or more"
                )
        check_device(self.device)
        if self.threads < 0:
            raise AbsactionError(
                f"threads must be 0 (torch's default) or more, got {self.threads}",
                f"pass {option('threads', '1')}",
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> OfflineConfig:
        refuse_unknown_keys(values, {f.name for f in dataclasses.fields(cls)}, "run setting(s)")
        return cls(**values)
