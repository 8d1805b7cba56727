"""Argument types shared by several sub-commands (parsed once, validated with a clear message)."""

from __future__ import annotations

import argparse
from typing import Any


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


def add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="replace the output if it already exists")


def key_value(text: str) -> tuple[str, Any]:
    """``"n_steps=64"`` -> ``("n_steps", 64)`` (the value is read as YAML: numbers, booleans, strings)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE such as learning_rate=1e-3, got {text!r}")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = value
    if isinstance(parsed, str) and _is_float(parsed):  # YAML 1.1 reads "1e-3" as a string
        parsed = float(parsed)
    return key.strip(), parsed


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
        "--ray-gpus-per-run", type=non_negative_float, default=0.0, metavar="G",
        help="GPUs (or a fraction) Ray reserves per run",
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
