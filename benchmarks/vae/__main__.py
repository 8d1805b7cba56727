"""``python -m benchmarks.vae``: the VAE study (see :mod:`benchmarks.vae.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
