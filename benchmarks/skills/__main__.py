"""``python -m benchmarks.skills``: the skill-speed study (see :mod:`benchmarks.skills.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
