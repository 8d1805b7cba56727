"""Hyperparameters per env and algorithm, in the rl_zoo3 style (``hyperparams/<algo>.yml``).

File format (one file per algorithm)::

    default:                       # used for every env; env entries override its keys
      n_timesteps: 100000          # default budget, in PRIMITIVE env steps
      policy: MlpPolicy
      n_envs: 1                    # DummyVecEnv copies of the env
      normalize: false             # VecNormalize: false | true | "dict(norm_obs=True, norm_reward=False)"
      learning_rate: 3.0e-4        # a number, or "lin_3e-4" (linear decay over the primitive-step budget)
      gamma: 0.99                  # discount per PRIMITIVE step; macro agents get gamma**k automatically
      policy_kwargs: "dict(net_arch=[64, 64], activation_fn=nn.Tanh)"   # or a YAML mapping
      latent:                      # optional overrides for one kind of action: primitive | latent | repeat
        n_steps: 128
    absaction/Reach2D-v0:
      n_timesteps: 200000

Every other key is a keyword argument of the SB3 algorithm (``n_steps``, ``batch_size``, ``ent_coef``,
``learning_starts``, ...); unknown keys are refused. TD3/SAC also take ``noise_type`` (normal |
ornstein-uhlenbeck) and ``noise_std`` for action noise, as in rl_zoo3. Strings are never passed to
``eval``: ``policy_kwargs`` is read by a small literal parser that knows ``dict(...)``, lists, numbers
and the torch activation/optimiser names.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from torch import nn, optim

from absaction.errors import AbsactionError, check_choice, one_line, refuse_unknown_keys

from .config import ACTION_KINDS, AgentConfig

HYPERPARAMS_DIR = Path(__file__).resolve().parent / "hyperparams"
DEFAULT_ENTRY = "default"
# Keys handled here rather than passed to the SB3 constructor.
OWN_KEYS: frozenset[str] = frozenset(
    {"n_timesteps", "policy", "n_envs", "normalize", "noise_type", "noise_std"}
    # skill agents: the KL target of prior-regularised SAC, the residual's lambda schedule, the number of
    # prior-visited observations the actor is fitted to before learning
    | {"target_divergence", "residual_lambda", "residual_midpoint", "residual_width", "prior_init_decisions"}
)
SECTIONS: tuple[str, ...] = (*ACTION_KINDS, "skill-residual")
"""Per-action-kind sections of an entry; ``skill-residual`` is skill actions with a per-step residual
(one decision per primitive step, so it needs other settings than the every-H-steps skill agents)."""


def hyperparams_path(algo: str, path: str | Path | None = None) -> Path:
    """The YAML file for ``algo``: ``path`` if given, else the packaged ``hyperparams/<algo>.yml``."""
    file = Path(path) if path is not None else HYPERPARAMS_DIR / f"{algo}.yml"
    if not file.is_file():
        raise AbsactionError(f"hyperparameter file {file} does not exist", "pass an existing YAML file")
    return file


def load_hyperparams(
    env_id: str,
    algo: str,
    actions: str = "primitive",
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Resolve the hyperparameters of one run (JSON-able, as written in the YAML).

    Order, later wins: ``default`` -> ``default.<actions>`` -> ``<env_id>`` -> ``<env_id>.<actions>``
    -> ``overrides``.
    """
    file = hyperparams_path(algo, path)
    try:
        table = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        first = one_line(err)
        raise AbsactionError(f"{file} is not valid YAML ({first})", "fix the file") from None
    if not isinstance(table, dict):
        raise AbsactionError(f"{file} must map env ids to hyperparameters", "see agents/hyperparams/ppo.yml")
    resolved: dict[str, Any] = {}
    for entry_name in (DEFAULT_ENTRY, env_id):
        entry = table.get(entry_name) or {}
        if not isinstance(entry, dict):
            raise AbsactionError(f"entry {entry_name!r} of {file} is not a mapping", "fix the file")
        resolved.update({k: v for k, v in entry.items() if k not in SECTIONS})
        section = entry.get(actions) or {}
        if not isinstance(section, dict):
            raise AbsactionError(f"{entry_name}.{actions} in {file} is not a mapping", "fix the file")
        resolved.update(section)
    resolved.update(overrides or {})
    check_keys(algo, resolved, file)
    return resolved


def resolve_hyperparams(config: AgentConfig) -> dict[str, Any]:
    """:func:`load_hyperparams` for an :class:`AgentConfig`."""
    section = "skill-residual" if config.actions == "skill" and config.residual else config.actions
    return load_hyperparams(config.env_id, config.algo, section, config.hyperparams_file, config.hyperparams)


def algorithm_class(algo: str) -> type[Any]:
    """The SB3 class of ``algo`` (ppo | sac | td3)."""

    classes: dict[str, type[Any]] = {"ppo": PPO, "sac": SAC, "td3": TD3}
    check_choice(algo, classes, "algorithm")
    return classes[algo]


def agent_class(config: AgentConfig) -> type[Any]:
    """The SB3 class a run uses: :class:`~absaction.agents.prior_sac.PriorSAC` for skill actions with
    ``prior="kl"``, else :func:`algorithm_class` of ``config.algo``."""
    if config.actions == "skill" and config.prior == "kl":
        from .prior_sac import PriorSAC  # imports SB3, like algorithm_class

        return PriorSAC
    return algorithm_class(config.algo)


def check_keys(algo: str, hyperparams: Mapping[str, Any], source: Path | str = "hyperparameters") -> None:
    """Refuse keys that are neither SB3 arguments of ``algo`` nor handled here."""
    cls = algorithm_class(algo)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "env", "policy", "seed", "device"}
    refuse_unknown_keys(
        hyperparams, accepted | OWN_KEYS, f"{algo} hyperparameter(s)", context=f" in {source}",
        fix=f"valid keys: {', '.join(sorted(accepted | OWN_KEYS))}",
    )  # fmt: skip


# -- schedules over PRIMITIVE steps -------------------------------------------------------------------
class PrimitiveProgress:
    """Fraction of the primitive-step budget still to go, updated by the training callback.

    SB3 computes ``progress_remaining`` from its own step count, which for a macro agent counts
    decisions, not env steps; schedules built by :func:`algorithm_kwargs` read this object instead, so a
    linear decay ends exactly at the primitive budget for every kind of agent.
    """

    def __init__(self) -> None:
        self.remaining = 1.0

    def update(self, primitive_steps: int, budget: int) -> None:
        self.remaining = max(0.0, 1.0 - primitive_steps / max(budget, 1))


class LinearSchedule:
    """``initial * remaining`` with ``remaining`` from a :class:`PrimitiveProgress` (picklable for SB3)."""

    def __init__(self, initial: float, progress: PrimitiveProgress) -> None:
        self.initial = float(initial)
        self.progress = progress

    def __call__(self, progress_remaining: float) -> float:  # SB3's argument is ignored on purpose
        return self.initial * self.progress.remaining

    def __repr__(self) -> str:
        return f"lin_{self.initial}"


def _number_or_schedule(key: str, value: Any, progress: PrimitiveProgress) -> float | LinearSchedule:
    if isinstance(value, str) and value.startswith("lin_"):
        try:
            return LinearSchedule(float(value[4:]), progress)
        except ValueError:
            pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise AbsactionError(
        f"{key}={value!r} is neither a number nor 'lin_<number>'", f"write e.g. {key}: 3.0e-4"
    )


# -- policy_kwargs without eval ------------------------------------------------------------------------
def _torch_names() -> dict[str, Any]:

    names: dict[str, Any] = {}
    for name in ("Tanh", "ReLU", "ELU", "LeakyReLU", "GELU", "SiLU", "Sigmoid", "Identity"):
        names[name] = getattr(nn, name)
    for name in ("Adam", "AdamW", "RMSprop", "SGD"):
        names[name] = getattr(optim, name)
    return names


def _literal(node: ast.AST, torch_names: dict[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_literal(item, torch_names, text) for item in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):  # {**other} unpacking
            raise AbsactionError(f"cannot read ** in policy_kwargs {text!r}", "write the keys out")
        keys = [_literal(k, torch_names, text) for k in node.keys if k is not None]
        return dict(zip(keys, (_literal(v, torch_names, text) for v in node.values), strict=True))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, torch_names, text)
        return -value if isinstance(node.op, ast.USub) else value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "dict"
        and not node.args
    ):
        return {kw.arg: _literal(kw.value, torch_names, text) for kw in node.keywords}
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = node.id if isinstance(node, ast.Name) else node.attr  # nn.Tanh / th.nn.Tanh / Tanh
        if name in torch_names:
            return torch_names[name]
    raise AbsactionError(
        f"cannot read {ast.get_source_segment(text, node) or type(node).__name__!r} in policy_kwargs {text}",
        "use dict(...), lists, numbers, strings and torch names such as nn.Tanh or Adam",
    )


def parse_policy_kwargs(value: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """rl_zoo3-style ``policy_kwargs`` (a ``"dict(...)"`` string or a mapping) -> SB3 keyword arguments.

    >>> parse_policy_kwargs("dict(net_arch=[8], log_std_init=-1)")
    {'net_arch': [8], 'log_std_init': -1}
    """
    if value is None:
        return {}
    torch_names = _torch_names()
    if isinstance(value, str):
        try:
            tree = ast.parse(value.strip(), mode="eval")
        except SyntaxError:
            raise AbsactionError(
                f"policy_kwargs {value!r} is not valid", "write e.g. dict(net_arch=[64, 64])"
            ) from None
        parsed = _literal(tree.body, torch_names, value)
    else:
        parsed = dict(value)
    if not isinstance(parsed, dict):
        raise AbsactionError(
            f"policy_kwargs {value!r} is not a mapping", "write e.g. dict(net_arch=[64, 64])"
        )
    for key in ("activation_fn", "optimizer_class"):  # names given as YAML strings
        name = parsed.get(key)
        if isinstance(name, str):
            short = name.split(".")[-1]
            if short not in torch_names:
                raise AbsactionError(
                    f"unknown {key} {name!r}", f"choose one of {', '.join(sorted(torch_names))}"
                )
            parsed[key] = torch_names[short]
    return parsed


def normalize_kwargs(value: Any) -> dict[str, Any] | None:
    """``normalize`` entry -> VecNormalize keyword arguments, or None when off."""
    if value in (None, False):
        return None
    if value is True:
        return {}
    if isinstance(value, str):
        return parse_policy_kwargs(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise AbsactionError(
        f"normalize={value!r} is not understood", "write true, false or dict(norm_reward=False)"
    )


def algorithm_kwargs(
    hyperparams: Mapping[str, Any],
    action_dim: int,
    steps_per_decision: int,
    progress: PrimitiveProgress,
) -> tuple[str, dict[str, Any]]:
    """Resolved YAML values -> ``(policy, keyword arguments)`` for the SB3 constructor.

    ``gamma`` is the discount per primitive step; an agent deciding every ``k`` primitive steps gets
    ``gamma**k`` (its wrapper sums the rewards inside a chunk with ``gamma``).
    """

    kwargs = {k: v for k, v in hyperparams.items() if k not in OWN_KEYS}
    if "gamma" in kwargs:
        kwargs["gamma"] = float(kwargs["gamma"]) ** steps_per_decision
    if "policy_kwargs" in kwargs:
        kwargs["policy_kwargs"] = parse_policy_kwargs(kwargs["policy_kwargs"])
    for key in ("learning_rate", "clip_range", "clip_range_vf"):
        if kwargs.get(key) is not None:
            kwargs[key] = _number_or_schedule(key, kwargs[key], progress)
    noise_type = hyperparams.get("noise_type")
    if noise_type is not None:
        makers: dict[str, Callable[..., Any]] = {
            "normal": NormalActionNoise,
            "ornstein-uhlenbeck": OrnsteinUhlenbeckActionNoise,
        }
        check_choice(noise_type, makers, "noise_type")
        std = float(hyperparams.get("noise_std", 0.1))
        kwargs["action_noise"] = makers[noise_type](np.zeros(action_dim), std * np.ones(action_dim))
    return str(hyperparams.get("policy", "MlpPolicy")), kwargs
