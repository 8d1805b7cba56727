"""Hyperparameters per env and algorithm, in the rl_zoo3 style (``hyperparams/<algo>.yml``).

File format (one file per algorithm)::

    default:                       # used for every env; env entries override its plain keys
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

Sections combine as ``default`` -> ``<env>`` -> ``default.<kind>`` -> ``<env>.<kind>`` -> overrides
(later wins; see :func:`load_hyperparams`): the kind's section outranks the env's plain keys.

Every other key is a keyword argument of the SB3 algorithm (``n_steps``, ``batch_size``, ``ent_coef``,
``learning_starts``, ...); unknown keys are refused. TD3/SAC also take ``noise_type`` (normal |
ornstein-uhlenbeck) and ``noise_std`` for action noise, as in rl_zoo3. Strings are never passed to
``eval``: ``policy_kwargs`` is read by a small literal parser that knows ``dict(...)``, lists, numbers
and the torch activation/optimiser names.
"""

from __future__ import annotations

import ast
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from torch import nn, optim

from absaction.errors import AbsactionError, check_choice, flag, one_line, refuse_unknown_keys

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

    Order, later wins: ``default`` -> ``<env_id>`` -> ``default.<actions>`` -> ``<env_id>.<actions>``
    -> ``overrides``. An action kind's section outranks the env's plain keys: keys such as ``n_steps``,
    ``batch_size`` or ``learning_starts`` count *decisions*, and an env entry written for primitive
    agents (Pendulum's ``n_steps: 1024``) would otherwise give an agent that acts in 32-step chunks a
    rollout of 32x as many primitive steps. An env that needs its own setting for one kind of action
    says so in its own ``<env_id>.<actions>`` section.
    """
    file = hyperparams_path(algo, path)
    try:
        table = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        first = one_line(err)
        raise AbsactionError(f"{file} is not valid YAML ({first})", "fix the file") from None
    if not isinstance(table, dict):
        raise AbsactionError(f"{file} must map env ids to hyperparameters", "see agents/hyperparams/ppo.yml")
    entries: dict[str, dict[str, Any]] = {}
    for entry_name in (DEFAULT_ENTRY, env_id):
        entry = table.get(entry_name) or {}
        if not isinstance(entry, dict):
            raise AbsactionError(f"entry {entry_name!r} of {file} is not a mapping", "fix the file")
        entries[entry_name] = entry
    resolved: dict[str, Any] = {}
    for entry in entries.values():  # the plain keys: default, then the env's
        resolved.update({k: v for k, v in entry.items() if k not in SECTIONS})
    for entry_name, entry in entries.items():  # then the action kind's sections: default's, the env's
        section = entry.get(actions) or {}
        if not isinstance(section, dict):
            raise AbsactionError(f"{entry_name}.{actions} in {file} is not a mapping", "fix the file")
        resolved.update(section)
    resolved.update(overrides or {})
    check_keys(algo, resolved, file)
    return resolved


def first_update_steps(algo: str, hyperparams: Mapping[str, Any], steps_per_decision: int) -> int | None:
    """Primitive env steps an agent collects before its first gradient update (None: not known ahead,
    e.g. an off-policy ``train_freq`` counted in episodes).

    PPO updates after ``n_steps`` decisions of each of ``n_envs`` envs; SAC and TD3 after more than
    ``learning_starts`` decisions (SB3 counts the decisions of all envs) and one ``train_freq`` period.
    Each decision lasts ``steps_per_decision`` primitive steps.

    >>> first_update_steps("ppo", {"n_steps": 1024, "n_envs": 4}, 32)
    131072
    >>> first_update_steps("sac", {"learning_starts": 100, "train_freq": 1}, 10)
    1010
    """
    n_envs = int(hyperparams.get("n_envs", 1))
    if algo == "ppo":
        decisions = int(hyperparams.get("n_steps", 2048)) * n_envs
    else:
        freq = hyperparams.get("train_freq", 1)
        if isinstance(freq, (list, tuple)):
            if len(freq) != 2 or str(freq[1]) != "step":
                return None
            freq = freq[0]
        starts = int(hyperparams.get("learning_starts", 100))
        decisions = max(starts + 1, int(freq))
        decisions = -(-decisions // n_envs) * n_envs  # whole vectorised steps
    return decisions * steps_per_decision


class BudgetWarning(UserWarning):
    """A run's budget ends before the agent's first gradient update."""


def check_budget(
    algo: str, hyperparams: Mapping[str, Any], steps_per_decision: int, budget: int
) -> AbsactionError | None:
    """The error to raise (or warn with) when a budget of ``budget`` primitive steps ends before the
    agent's first update, else None: such a run would only ever evaluate its initial policy."""
    needed = first_update_steps(algo, hyperparams, steps_per_decision)
    if needed is None or budget >= needed:
        return None
    if algo == "ppo":
        how = (
            f"n_steps {hyperparams.get('n_steps', 2048)} x n_envs {hyperparams.get('n_envs', 1)} decisions"
            f" x {steps_per_decision} primitive steps per decision"
        )
        lower = "--set n_steps=N (or n_envs)"
    else:
        how = (
            f"learning_starts {hyperparams.get('learning_starts', 100)} decisions"
            f" x {steps_per_decision} primitive steps per decision"
        )
        lower = "--set learning_starts=N"
    return AbsactionError(
        f"a budget of {budget} primitive steps ends before the first {algo.upper()} update, which comes "
        f"after {needed} ({how})",
        f"raise --steps to at least {needed}, or lower {lower}",
    )


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
    """Refuse keys that are neither SB3 arguments of ``algo`` nor handled here, and values of the wrong
    type or out of range (:func:`check_value`); ``source`` is the file they come from."""
    annotations = accepted_keys(algo)
    refuse_unknown_keys(
        hyperparams, annotations, f"{algo} hyperparameter(s)", context=f" in {source}",
        fix=f"valid keys: {', '.join(sorted(annotations))}",
    )  # fmt: skip
    for key, value in hyperparams.items():
        problem = check_value(key, value, annotations[key])
        if problem is not None:
            raise AbsactionError(
                f"{key}: {value!r} in {source} {problem}", f"fix it in {source} (e.g. {key}: {_example(key)})"
            )


def check_overrides(algo: str, overrides: Mapping[str, Any]) -> None:
    """:func:`check_keys` for the overrides of one run (``--set KEY=VALUE``, ``AgentConfig.hyperparams``),
    each named as the caller gave it rather than blamed on the hyperparameter file."""
    annotations = accepted_keys(algo)
    given = flag("set", python="hyperparams")
    refuse_unknown_keys(
        overrides, annotations, f"{algo} hyperparameter(s)", context=f" given with {given}",
        fix=f"valid keys: {', '.join(sorted(annotations))}",
    )  # fmt: skip
    for key, value in overrides.items():
        problem = check_value(key, value, annotations[key])
        if problem is not None:
            raise AbsactionError(
                f"{_override(key, value)} {problem}", f"pass e.g. {_override(key, _example(key))}"
            )


def checked_hyperparams(config: AgentConfig) -> dict[str, Any]:
    """:func:`resolve_hyperparams` after :func:`check_overrides` of ``config.hyperparams``."""
    check_overrides(config.algo, config.hyperparams)
    return resolve_hyperparams(config)


def accepted_keys(algo: str) -> dict[str, Any]:
    """Every hyperparameter ``algo`` takes and its type annotation: the public keyword arguments of its
    SB3 class (not the env, policy, seed or device, which a run sets itself; not private names such as
    ``_init_setup_model``) and the keys handled here (:data:`OWN_KEYS`)."""
    signature = inspect.signature(algorithm_class(algo).__init__)
    annotations = {
        name: parameter.annotation
        for name, parameter in signature.parameters.items()
        if name not in {"self", "env", "policy", "seed", "device"} and not name.startswith("_")
    }
    return {**annotations, **OWN_ANNOTATIONS}


OWN_ANNOTATIONS: dict[str, Any] = {
    "n_timesteps": int | float,  # rl_zoo3's files write budgets such as 1e6
    "policy": str,
    "n_envs": int,
    "normalize": bool | str | dict,
    "noise_type": str,
    "noise_std": float,
    "target_divergence": float,
    "residual_lambda": float,
    "residual_midpoint": float,
    "residual_width": float,
    "prior_init_decisions": int,
}
"""The types of :data:`OWN_KEYS` (the SB3 keys' types come from the algorithm's signature)."""

# What a key accepts beyond its type: (text for the message, test).
_POSITIVE_INT = ("a positive integer", lambda v: v >= 1)
RANGES: dict[str, tuple[str, Callable[[float], bool]]] = {
    **dict.fromkeys(("gamma", "gae_lambda", "tau"), ("in (0, 1]", lambda v: 0 < v <= 1)),
    **dict.fromkeys(
        ("learning_rate", "clip_range", "clip_range_vf", "max_grad_norm", "target_kl", "target_divergence"),
        ("> 0", lambda v: v > 0),
    ),
    **dict.fromkeys(
        ("ent_coef", "vf_coef", "noise_std", "target_policy_noise", "target_noise_clip", "learning_starts"),
        (">= 0", lambda v: v >= 0),
    ),
    **dict.fromkeys(
        ("n_steps", "batch_size", "n_epochs", "n_envs", "n_timesteps", "buffer_size", "policy_delay"),
        _POSITIVE_INT,
    ),
    "gradient_steps": ("a positive integer, or -1 (one per env step collected)", lambda v: v >= 1 or v == -1),
    "prior_init_decisions": (">= 0", lambda v: v >= 0),
}
"""Ranges of the keys whose meaning bounds them (a discount above 1, a negative learning rate)."""

_SCHEDULES = frozenset({"learning_rate", "clip_range", "clip_range_vf"})  # a number or "lin_<number>"


def check_value(key: str, value: Any, annotation: Any) -> str | None:
    """What is wrong with ``value`` for hyperparameter ``key`` of type ``annotation`` (``"is not an
    integer"``, ``"is out of range: gamma must be in (0, 1]"``), or None when it is fine.

    YAML values are checked, not Python objects: ``policy_kwargs`` and ``normalize`` may be
    ``"dict(...)"`` text, schedules ``"lin_<number>"``, ``ent_coef``/``target_entropy`` ``"auto..."``,
    a tuple a list; a key that takes only a Python object (``rollout_buffer_class``) takes null only.

    >>> check_value("gamma", 1.5, float)
    'is out of range: gamma must be in (0, 1]'
    >>> check_value("n_steps", "abc", int)
    'is not an integer'
    """
    kinds = _kinds(annotation)
    number: float | None = None
    if isinstance(value, bool):
        ok = "bool" in kinds or "any" in kinds
    elif isinstance(value, int):
        ok = bool(kinds & {"int", "float", "any"})
        number = value
    elif isinstance(value, float):
        ok = bool(kinds & {"float", "any"})
        number = value
    elif value is None:
        ok = "none" in kinds or "any" in kinds
    elif isinstance(value, str):
        if key in _SCHEDULES and value.startswith("lin_"):
            number = _float(value[4:])
            ok = number is not None
        elif key in ("ent_coef", "target_entropy") and "str" in kinds:
            ok = value == "auto" or (value.startswith("auto_") and _float(value[5:]) is not None)
        else:
            ok = bool(kinds & {"str", "any"}) or (
                key in ("policy_kwargs", "normalize") and "mapping" in kinds
            )
    elif isinstance(value, Mapping):
        ok = bool(kinds & {"mapping", "any"})
    elif isinstance(value, (list, tuple)):
        ok = bool(kinds & {"sequence", "any"})
    else:
        ok = "any" in kinds
    if not ok:
        return f"is not {_describe(kinds, key)}"
    if number is not None and key in RANGES:
        text, test = RANGES[key]
        if not (np.isfinite(number) and test(number)):
            return f"is out of range: {key} must be {text}"
    return None


def _kinds(annotation: Any) -> set[str]:
    """The YAML kinds a type annotation admits: int, float, bool, str, none, mapping, sequence; ``any``
    for a missing or unreadable annotation; nothing for Python objects (classes, schedules, noise)."""
    if annotation is inspect.Parameter.empty or annotation is Any or isinstance(annotation, str):
        return {"any"}
    if annotation is type(None) or annotation is None:
        return {"none"}
    simple = {int: "int", float: "float", bool: "bool", str: "str", dict: "mapping", list: "sequence"}
    if annotation in simple:
        return {simple[annotation]}
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_kinds(arg) for arg in typing.get_args(annotation)))
    if origin in (dict, Mapping):
        return {"mapping"}
    if origin in (tuple, list):
        return {"sequence"}
    return set()  # a class, a callable, an object: nothing a YAML value can be


def _describe(kinds: set[str], key: str) -> str:
    words = {
        "int": "an integer", "float": "a number", "bool": "true or false", "str": "text",
        "mapping": "a mapping", "sequence": "a list", "none": "null",
    }  # fmt: skip
    if "float" in kinds:
        kinds = kinds - {"int"}
    if key in _SCHEDULES:
        kinds = kinds | {"str"}
        words["str"] = "'lin_<number>'"
    if not kinds - {"none"}:
        return "settable here (it takes a Python object): leave it out"
    return " or ".join(words[k] for k in sorted(kinds, key=list(words).index))


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _example(key: str) -> Any:
    """A valid value of ``key`` for a fix: the SB3 default where it has a plain one."""
    for cls in (PPO, SAC, TD3):
        parameter = inspect.signature(cls.__init__).parameters.get(key)
        if parameter is not None and isinstance(parameter.default, (int, float, str)):
            return parameter.default
    return {"n_timesteps": 100_000, "n_envs": 1, "noise_std": 0.1, "target_divergence": 5.0}.get(key, "...")


def _override(key: str, value: Any) -> str:
    """An override as the caller wrote it: ``--set gamma=0.99`` or ``hyperparams['gamma']=0.99``."""
    given = flag("set", python="hyperparams")
    return f"{given} {key}={value}" if given.startswith("--") else f"{given}[{key!r}]={value!r}"


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
    if isinstance(kwargs.get("train_freq"), list):  # YAML's [1, episode]: SB3 takes a tuple
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
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
