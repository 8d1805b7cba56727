"""Primitive vs latent actions: the RL sample-efficiency benchmark (issue 5, section 3).

A thin wrapper around ``absaction bench rl`` (the sweep itself is :mod:`absaction.bench.sweep`), so
the benchmark can be run like the other scripts in this folder. Every flag is the sub-command's.

Usage::

    python benchmarks/bench_rl.py --out benchmarks/results/rl            # the default sweep (< 1 h, 2 cores)
    python benchmarks/bench_rl.py --quick --out /tmp/bench-rl-quick       # smoke test
    python benchmarks/bench_rl.py --out benchmarks/results/rl --resume    # continue an interrupted sweep
    python benchmarks/bench_rl.py --help
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from absaction.cli import main as cli_main


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``absaction bench rl`` with ``argv`` (default: this script's arguments)."""
    return cli_main(["bench", "rl", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
