"""``python -m benchmarks.rl``: the RL study (see :mod:`benchmarks.rl.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
