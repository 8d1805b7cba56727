"""mkdocs hook: the committed result figures, served without a copy in ``docs/``.

Every PNG under ``benchmarks/results/`` becomes the site file ``results/figures/<its path there>``, so a
results page shows ``figures/rl_pointmaze/maze_rollouts.png`` and ``mkdocs build --strict`` checks that
the figure exists. The figures stay in one place in the repository: beside the results they belong to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

RESULTS = Path("benchmarks") / "results"
"""The committed results, relative to the folder of ``mkdocs.yml``."""

SITE_FOLDER = "results/figures"
"""Where the figures appear in the site (relative to ``docs/``)."""


def figures(root: Path) -> list[Path]:
    """The PNG figures under ``root / RESULTS``, in a stable order."""
    return sorted((root / RESULTS).rglob("*.png"))


def on_files(files: Files, config: Any) -> Files:
    root = Path(config.config_file_path).parent
    for png in figures(root):
        uri = f"{SITE_FOLDER}/{png.relative_to(root / RESULTS).as_posix()}"
        files.append(File.generated(config, uri, abs_src_path=str(png)))
    return files
