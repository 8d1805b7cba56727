"""The doctests' world: every example in the package's docstrings runs in a fresh temporary folder.

``python -m pytest`` collects the docstrings of ``absaction/`` as doctests (``--doctest-modules`` in
pyproject.toml). The examples are written the way a user types them, with the README's paths: before
each docstring runs, the ``doctest_namespace`` fixture below makes a fresh temporary folder the working
directory and puts in it

- ``data/reach2d/``: a tiny dataset, 16 scripted-expert episodes of ``absaction/Reach2D-v0`` (seed 0);
- ``runs/tcvlae/``: a tiny TCVLAE (4 channels) trained on it for 20 epochs (its third ladder is active).

Both are made once per test session and copied, so an example may change or add files freely; nothing
is written into the checkout. The examples also see ``tmp``, that folder as a :class:`~pathlib.Path`.

This file sits at the repository root (not in the package), so it is not part of the wheel.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from absaction.data.collect import CollectConfig, collect
from absaction.train import TrainConfig, fit

DOCTEST_DATA = "data/reach2d"
DOCTEST_MODEL = "runs/tcvlae"


@pytest.fixture(scope="session")
def doctest_assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the tiny dataset and model the doctests read (made once per session)."""
    # Imported here, not at the top: a run of one light test file loads this conftest too, and should not
    # pay for the package's heavier imports (torch) unless a doctest asks for them.

    root = tmp_path_factory.mktemp("doctest-assets")
    collect(
        CollectConfig(
            env_id="absaction/Reach2D-v0", out=root / DOCTEST_DATA, episodes=16, seed=0, progress=False
        )
    )
    fit(
        root / DOCTEST_DATA,
        TrainConfig(epochs=20, model_options={"channels": 4}, seed=0),
        root / DOCTEST_MODEL,
        progress=False,
    )
    return root


@pytest.fixture
def doctest_namespace(
    doctest_assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Overrides pytest's ``doctest_namespace`` (so only doctests request it, no autouse needed): the
    working directory becomes a fresh folder with copies of the tiny dataset and model; the names given
    to every example are returned."""
    for rel in (DOCTEST_DATA, DOCTEST_MODEL):
        shutil.copytree(doctest_assets / rel, tmp_path / rel)
    monkeypatch.chdir(tmp_path)
    return {"tmp": tmp_path}
