"""``python -m benchmarks.skills``: skill-model speed, training on 200k transitions (target <= 2 min on 2
cores) and one decoded action (target <= 0.2 ms), the first defaults and the current ones side by side.

It prints a table and writes ``speed.json`` and ``speed.png`` into ``--out`` (default
``benchmarks/results/skills``). About 5-6 minutes on 2 free cores.

Usage (from a checkout of the repository)::

    python -m benchmarks.skills
    python -m benchmarks.skills --quick --out bench-skills-quick    # smoke test (300 episodes)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from absaction.cli import run_command
from absaction.files import atomic_write_json

from .speed import SkillSpeedConfig, plot_speed, run_skill_speed, speed_table

PROG = "python -m benchmarks.skills"


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m benchmarks.skills``."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/skills"), help="results folder")
    parser.add_argument("--episodes", type=int, default=6250, help="play episodes (6250 x 32 = 200k steps)")
    parser.add_argument("--quick", action="store_true", help="300 episodes and short timings (smoke test)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Measure, write ``speed.json`` and ``speed.png``, print the table; 0 on success."""
    with tempfile.TemporaryDirectory(prefix="bench_skills_") as work:
        config = SkillSpeedConfig(out=args.out, work=Path(work), episodes=args.episodes)
        if args.quick:
            config.episodes, config.decode_calls, config.repeats = 300, 2000, 3
        record = run_skill_speed(config, log=lambda line: print(line, file=sys.stderr))
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "speed.json", record)
    plot_speed(record, args.out / "speed.png")
    print(speed_table(record))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line) and run the study; the exit status."""
    args = build_parser().parse_args(argv)
    return run_command(PROG, lambda: run(args))
