"""The wheel ships `absaction.envs` and `absaction.agents` (real folders of the package), and no test files.

Builds a wheel from this checkout, installs it (without dependencies) into a fresh virtual
environment, and imports from there with the current environment's third-party packages on the path,
so nothing from the source tree can leak in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_envs_and_agents(tmp_path: Path) -> None:
    wheel_dir = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(REPO),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheel_dir.glob("absaction-*.whl")
    # the test-only files (the doctests' ./conftest.py, tests/) stay out of the wheel
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.namelist()
    assert not [name for name in shipped if name.endswith("conftest.py") or name.startswith("tests/")]

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    # without PYTHONPATH: a checkout on it (with the egg-info the wheel build leaves) would count as installed
    bare = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, env=bare
    )

    # Third-party dependencies come from the running interpreter's site-packages; absaction must not.
    env = dict(os.environ, PYTHONPATH=sysconfig.get_paths()["purelib"])
    probe = (
        "import json, gymnasium as gym, absaction, absaction.envs, absaction.agents;"
        "env = gym.make('absaction/Reach2D-v0'); env.reset(seed=0);"
        "print(json.dumps({'absaction': absaction.__file__, 'envs': absaction.envs.__file__,"
        " 'agents': absaction.agents.__file__}))"
    )
    out = subprocess.run([py, "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path, env=env)
    files = json.loads(out.stdout.strip().splitlines()[-1])
    site = str(env_dir)
    for name, path in files.items():
        assert path.startswith(site), f"{name} imported from {path}, not from the fresh venv"
    assert Path(files["envs"]).parent.name == "envs" and Path(files["envs"]).parent.parent.name == "absaction"

    cli = subprocess.run(
        [env_dir / "bin" / "absaction", "--help"], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert cli.returncode == 0, cli.stderr
    assert "collect" in cli.stdout
