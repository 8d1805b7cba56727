"""CLI start-up time: ``absaction --help`` (and every sub-command's ``--help``) against ``python -c pass``.

Every command runs in a fresh interpreter (``python -m absaction ...``), so each run pays the imports it
triggers, as a user typing the command does. Runs are interleaved (round-robin over the commands) so a
slow moment of a shared machine hits every command alike; the median run is reported, with the
overhead over the bare interpreter. The CLI promises (``absaction/cli/__init__.py``) that ``--help``
imports neither torch, stable-baselines3 nor Minari; each command's heavy modules are listed as a check.

Usage::

    python benchmarks/bench_startup.py                          # 10 runs per command
    python benchmarks/bench_startup.py --runs 3 --out /tmp/startup.json --force   # a quick look

Writes ``OUT`` (JSON: results, machine, configuration); an existing file is refused unless ``--force``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from absaction.cli import COMMANDS
from absaction.errors import AbsactionError
from absaction.files import atomic_write_json, check_new_output

HEAVY: tuple[str, ...] = ("torch", "stable_baselines3", "minari")
"""Modules whose import alone costs about a second or more; ``--help`` must not pay for them."""

# Run after the command in the same interpreter: which heavy modules did it import?
_PROBE = (
    "import contextlib, io, sys\n"
    "from absaction.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
    "    main({argv!r})\n"
    "print(','.join(m for m in {heavy!r} if m in sys.modules))\n"
)


@dataclasses.dataclass(frozen=True)
class StartupConfig:
    """What to time and how often."""

    runs: int = 10
    """timed runs per command (interleaved; the median is reported)"""
    warmup: int = 1
    """untimed runs per command first (fills the OS file cache and Python's bytecode cache)"""


@dataclasses.dataclass(frozen=True)
class StartupTime:
    """The start-up time of one command."""

    command: str
    """what was run, as a user types it"""
    median_ms: float
    """median wall-clock time of one run, milliseconds"""
    min_ms: float
    max_ms: float
    overhead_ms: float
    """median minus the bare interpreter's median (``python -c pass``)"""
    heavy_imports: tuple[str, ...]
    """which of torch / stable_baselines3 / minari the command imported (should be none)"""


def _commands() -> dict[str, list[str]]:
    """Label -> argv of every timed command; the bare interpreter first (the reference)."""
    commands = {"python -c pass": [sys.executable, "-c", "pass"]}
    commands["absaction --help"] = [sys.executable, "-m", "absaction", "--help"]
    for name in COMMANDS:
        commands[f"absaction {name} --help"] = [sys.executable, "-m", "absaction", name, "--help"]
    return commands


def _time_once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000.0


def _heavy_imports(label: str) -> tuple[str, ...]:
    if not label.startswith("absaction"):
        return ()
    argv = label.split()[1:]
    code = _PROBE.format(argv=argv, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return tuple(name for name in done.stdout.strip().split(",") if name)


def run(config: StartupConfig) -> list[StartupTime]:
    """Time every command ``config.runs`` times, interleaved, after ``config.warmup`` untimed runs."""
    commands = _commands()
    for _ in range(config.warmup):
        for argv in commands.values():
            _time_once(argv)
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(config.runs):
        for label, argv in commands.items():
            times[label].append(_time_once(argv))
    reference = statistics.median(times["python -c pass"])
    return [
        StartupTime(
            command=label,
            median_ms=statistics.median(values),
            min_ms=min(values),
            max_ms=max(values),
            overhead_ms=statistics.median(values) - reference,
            heavy_imports=_heavy_imports(label),
        )
        for label, values in times.items()
    ]


def print_table(results: Sequence[StartupTime]) -> None:
    table = Table(title="CLI start-up (fresh interpreter per run)")
    for column in ("command", "median ms", "min ms", "max ms", "over python -c pass", "heavy imports"):
        table.add_column(column, justify="left" if column in ("command", "heavy imports") else "right")
    for r in results:
        table.add_row(
            r.command,
            f"{r.median_ms:.0f}",
            f"{r.min_ms:.0f}",
            f"{r.max_ms:.0f}",
            f"{r.overhead_ms:+.0f}",
            ", ".join(r.heavy_imports) or "none",
        )
    Console(width=120).print(table)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=StartupConfig.runs, help="timed runs per command")
    parser.add_argument("--warmup", type=int, default=StartupConfig.warmup, help="untimed runs first")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/startup.json"), help="JSON file to write"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.runs < 1 or args.warmup < 0:
            raise AbsactionError("--runs must be >= 1 and --warmup >= 0", "pass e.g. --runs 10 --warmup 1")
        check_new_output(args.out, args.force, what="output file")
        config = StartupConfig(runs=args.runs, warmup=args.warmup)
        results = run(config)
    except AbsactionError as err:
        print(f"bench_startup: error: {err}", file=sys.stderr)
        return 2
    print_table(results)
    atomic_write_json(
        args.out,
        {
            "config": dataclasses.asdict(config),
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "results": [dataclasses.asdict(r) for r in results],
        },
    )
    print(f"wrote {args.out}")
    return 1 if any(r.heavy_imports for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
