"""Argument types shared by several sub-commands (parsed once, validated with a clear message), and the
help text of a flag read from its configuration dataclass (its default and one-line docstring live once,
in the field, as in CleanRL's ``Args``)."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import itertools
import re
import textwrap
from typing import Any

import yaml


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (noise levels, KL weights)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1) (held-out fractions)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value}")
    return value


def int_list(text: str) -> list[int]:
    """``"8,4,2"`` -> ``[8, 4, 2]`` (all positive)."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 8,4,2, got {text!r}"
        ) from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 8,4,2, got {text!r}"
        )
    return values


def add_force(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--force", action="store_true", help="replace the output if it already exists")


def add_allow_incomplete(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--allow-incomplete``: use the model of a training run that has not finished (refused otherwise,
    see :func:`absaction.models.io.check_complete`)."""
    parser.add_argument(
        "--allow-incomplete", action="store_true",
        help="use the last checkpoint of a model whose training has not finished (its config.json says "
        '"complete": false; otherwise refused: finish it with absaction train --resume RUN_DIR)',
    )  # fmt: skip


KEY_VALUE_SEMANTICS = (
    "VALUE is read as one YAML value: 64 -> int, 1e-3 / 0.5 -> float, true/false -> bool, null -> None, "
    "[8, 8] -> list, {a: 1} -> mapping, anything else (or a quoted '64') -> text"
)
"""How every ``KEY=VALUE`` flag (``--set``, ``--env-kwarg``, ``--model-option``) reads its value: one
rule for all of them, shown in each flag's help and in the README's CLI reference."""


def key_value(text: str) -> tuple[str, Any]:
    """``"n_steps=64"`` -> ``("n_steps", 64)``: the key is stripped, the value read as one YAML value
    (:data:`KEY_VALUE_SEMANTICS`), so ``lr=1e-3`` is a float although YAML 1.1 would read it as text,
    and text YAML cannot parse (``policy_kwargs=dict(net_arch=[8])``) stays text."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE such as learning_rate=1e-3, got {text!r}")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = value
    if isinstance(parsed, str) and value.strip() == parsed and _is_float(parsed):
        parsed = float(parsed)  # YAML 1.1 reads "1e-3" (no dot) as text; a quoted '1e-3' stays text
    return key.strip(), parsed


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under every field of the dataclass ``cls`` (``name: type = value`` followed by a
    string literal), whitespace collapsed; fields without one are absent."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            text = re.sub(r":\w+:`~?([^`]+)`", r"\1", after.value.value).replace("``", "")  # plain text
            docs[node.target.id] = " ".join(text.split()).rstrip(".")
    return docs


def field_default(cls: type, name: str) -> Any:
    """The default of field ``name`` of the dataclass ``cls`` (``default_factory`` called); a field
    without one raises ``KeyError``."""
    for item in dataclasses.fields(cls):
        if item.name == name:
            if item.default is not dataclasses.MISSING:
                return item.default
            if item.default_factory is not dataclasses.MISSING:
                return item.default_factory()
            raise KeyError(f"{cls.__name__}.{name} has no default")
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def field_help(cls: type, name: str, text: str | None = None, default: str | None = None) -> str:
    """``--help`` text of the flag for field ``name`` of ``cls``: ``text`` (else the field's docstring)
    followed by ``(default: VALUE)`` with VALUE read from the field (else ``default``, for a None that
    means something, e.g. "the env's own")."""
    doc = text if text is not None else field_docs(cls).get(name, "")
    if default is None and field_default(cls, name) is False:  # an on/off flag: off needs no mention
        return doc.replace("%", "%%")
    shown = default if default is not None else show_default(cls, name)
    return f"{doc} (default: {shown})".strip().replace("%", "%%")  # argparse formats help with %


def show_default(cls: type, name: str) -> str:
    """The default of field ``name`` of ``cls`` as a user would type it (``8,4,2``, ``0.003``)."""
    value = field_default(cls, name)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def add_executor_args(parser: argparse.ArgumentParser) -> None:
    """``--executor local|ray`` and the Ray options of a benchmark sweep (read by :func:`executor_spec`)."""
    group = parser.add_argument_group("where the runs execute")
    group.add_argument(
        "--executor", choices=("local", "ray"), default="local",
        help="local: a process pool on this machine; ray: every run a Ray task "
        "(pip install 'absaction[ray]')",
    )  # fmt: skip
    group.add_argument(
        "--ray-address", metavar="ADDR",
        help="an existing Ray cluster (HOST:PORT from `ray start --head`, or auto); "
        "default: start Ray on this machine",
    )  # fmt: skip
    group.add_argument(
        "--ray-cpus-per-run", type=positive_float, default=1.0, metavar="N", help="CPUs Ray reserves per run"
    )
    group.add_argument(
        "--ray-gpus-per-run", type=non_negative_float, default=None, metavar="G",
        help="GPUs (or a fraction) Ray reserves per run on CUDA (--device cuda; default: 1); a run on the "
        "CPU reserves none",
    )  # fmt: skip


def executor_spec(args: argparse.Namespace) -> Any:
    """The :class:`~absaction.bench.executors.ExecutorSpec` of the flags of :func:`add_executor_args`."""
    from absaction.bench.executors import ExecutorSpec  # lazy: imports torch

    return ExecutorSpec(
        kind=args.executor,
        ray_address=args.ray_address,
        ray_cpus_per_run=args.ray_cpus_per_run,
        ray_gpus_per_run=args.ray_gpus_per_run,
    )
