"""VAE benchmark: ladder TCVLAE vs flat TCVAE vs plain beta-VAE, and what each capacity mode does.

A thin wrapper around ``absaction bench vae`` (the benchmark itself is :mod:`absaction.bench.vae`), so
it can be run like the other scripts in this folder. Every flag is the sub-command's.

Usage::

    python benchmarks/bench_vae.py --threads 1                       # the committed benchmarks/results/vae
    python benchmarks/bench_vae.py --quick --out /tmp/bench_vae      # smoke test
    python benchmarks/bench_vae.py --help
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from absaction.cli import main as cli_main


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``absaction bench vae`` with ``argv`` (default: this script's arguments)."""
    return cli_main(["bench", "vae", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
