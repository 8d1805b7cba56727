"""Where the runs of a sweep execute: the local process pool and Ray (``--executor ray``).

One Ray instance on loopback (2 CPUs, one GPU declared, no dashboard) is shared by the module; the
``--ray-address`` test starts its own head with ``ray start`` and stops it again. The sweeps are tiny
``absaction bench`` sweeps: one task, a primitive PPO agent, 2 seeds of 64 steps.
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from absaction.bench import executors
from absaction.cli import main
from absaction.errors import AbsactionError
from absaction.files import atomic_dir

TINY = [
    "bench", "--tasks", "absaction/Reach2D-v0", "--agent", "ppo=--algo ppo --set n_steps=32 --set n_envs=1",
    "--seeds", "2", "--steps", "64", "--eval-points", "2", "--eval-episodes", "2", "--workers", "1",
    "--no-progress", "--bootstrap-reps", "50",
]  # fmt: skip
RUNS = Path("runs") / "absaction-Reach2D-v0" / "ppo"
TIMING = {"train_seconds", "decode_ms"}  # wall-clock columns: they differ between any two sweeps


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    # one GPU declared (no device needed): Ray hands it to the tasks that reserve it, as on a GPU node
    ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    # the test module is not importable by name in a Ray worker: its job functions travel by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield ray
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        ray.shutdown()


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as fh:
        rows = [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(fh)]
    return sorted(rows, key=lambda r: (r["task"], r["agent"], r["seed"]))


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "sweep"
    assert main([*TINY, "--out", str(out)]) == 0
    return out


def test_ray_sweep_gives_the_local_results(local_sweep: Path, ray_instance: Any, tmp_path: Path):
    out = tmp_path / "ray"
    assert main([*TINY, "--executor", "ray", "--out", str(out)]) == 0
    rows = _rows(out)
    assert len(rows) == 2 and rows == _rows(local_sweep)
    assert sorted(p.name for p in (out / RUNS).iterdir()) == ["seed0", "seed1"]
    for name in ("summary.md", "summary.csv", "learning_curves.png"):
        assert (out / name).is_file()


def test_resume_across_executors(local_sweep: Path, ray_instance: Any, tmp_path: Path, capsys: Any):
    out = tmp_path / "sweep"
    shutil.copytree(local_sweep, out)
    expected = _rows(local_sweep)
    runs = out / RUNS
    # interrupted under the local executor (seed 1 missing, a killed run's temporary left): Ray finishes it
    shutil.rmtree(runs / "seed1")
    (runs / ".seed1.tmp-killed").mkdir()
    kept = (runs / "seed0" / "eval.csv").stat().st_mtime_ns
    assert main([*TINY, "--executor", "ray", "--out", str(out), "--resume"]) == 0
    assert "1 run(s) trained, 1 reused" in capsys.readouterr().out
    assert (runs / "seed0" / "eval.csv").stat().st_mtime_ns == kept
    assert sorted(p.name for p in runs.iterdir()) == ["seed0", "seed1"]
    assert _rows(out) == expected
    # and the other way round: a run missing after Ray is redone locally
    shutil.rmtree(runs / "seed0")
    assert main([*TINY, "--out", str(out), "--resume"]) == 0
    assert "1 run(s) trained, 1 reused" in capsys.readouterr().out
    assert _rows(out) == expected


def _crash_once(job: dict[str, str]) -> str:
    """Writes its folder atomically; the first attempt kills its worker process half-way through."""
    marker = Path(job["marker"])
    with atomic_dir(job["out"]) as tmp:
        (tmp / "part.txt").write_text("half")
        if not marker.exists():
            marker.write_text("killed once")
            os._exit(1)  # the worker dies as under SIGKILL or a lost node: no cleanup runs
        (tmp / "done.txt").write_text(job["name"])
    return job["name"]


def test_a_killed_ray_worker_is_retried_and_leaves_no_half_written_folder(ray_instance: Any, tmp_path: Path):
    job = {"marker": str(tmp_path / "marker"), "out": str(tmp_path / "run"), "name": "run"}
    with executors.RayExecutor(executors.ExecutorSpec(kind="ray")) as runner:
        assert list(runner.imap_unordered(_crash_once, [job])) == [(job, "run")]
    assert (tmp_path / "marker").read_text() == "killed once"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["done.txt", "part.txt"]
    # the killed attempt's temporary folder is the only trace; a sweep removes it when all runs are done
    assert [p.name.startswith(".run.tmp-") for p in tmp_path.iterdir() if p.name.startswith(".")] == [True]


def test_an_error_of_a_run_is_raised_as_itself(ray_instance: Any):
    with executors.RayExecutor(executors.ExecutorSpec(kind="ray")) as runner:
        with pytest.raises(AbsactionError, match="is not a finished run"):
            list(runner.imap_unordered(_raise_absaction_error, [1]))


def _raise_absaction_error(job: int) -> None:
    raise AbsactionError("x exists but is not a finished run", "delete it")


def _gpus_seen(job: str) -> list[str]:
    """The GPUs Ray gave the job's task."""
    return [str(g) for g in ray.get_runtime_context().get_accelerator_ids()["GPU"]]


def test_a_run_on_cuda_reserves_a_gpu_and_a_run_on_the_cpu_none(ray_instance: Any):
    jobs, devices = ["gpu", "cpu", "auto"], ["cuda", "cpu", "auto"]
    with executors.RayExecutor(executors.ExecutorSpec(kind="ray")) as runner:
        seen = dict(runner.imap_unordered(_gpus_seen, jobs, devices))
    assert seen == {"gpu": ["0"], "cpu": [], "auto": []}
    spec = executors.ExecutorSpec(kind="ray", ray_gpus_per_run=0.5)  # two runs share the one GPU
    with executors.RayExecutor(spec) as runner:
        seen = dict(runner.imap_unordered(_gpus_seen, ["a", "b"], ["cuda:0", "cuda"]))
    assert seen == {"a": ["0"], "b": ["0"]}
    # the sweep hands every run's device to the executor: the flag reaches the Ray task
    from absaction.cli.bench import agent_config

    assert agent_config("ppo=--algo ppo --device cuda")[1].device == "cuda"


def test_a_sweep_starts_its_own_ray_where_a_stopped_cluster_left_its_address(tmp_path: Path):
    """`ray start` records its address in Ray's temporary folder, and `ray stop` may leave it there: Ray
    would then connect to that dead cluster (or refuse the sweep's CPU count) instead of starting one."""
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    try:
        (temp / "ray").mkdir()
        (temp / "ray" / "ray_current_cluster").write_text("192.0.2.1:6379")  # nothing listens there
        script = (
            "from absaction.bench.executors import ExecutorSpec, RayExecutor\n"
            "with RayExecutor(ExecutorSpec(kind='ray'), workers=1) as runner:\n"
            "    print(list(runner.imap_unordered(abs, [-3])))\n"
        )
        env = {**os.environ, "RAY_TMPDIR": str(temp), "OMP_NUM_THREADS": "1"}
        env.pop("RAY_ADDRESS", None)
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip().splitlines()[-1] == "[(-3, 3)]"
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if _port_open(port):
            return True
        time.sleep(0.5)
    return False


def test_no_test_stops_ray_machine_wide():
    """`ray stop` ends every Ray process of the machine, a user's own cluster included: tests stop only
    what they started."""
    stop = chr(34) + "st" + "op" + chr(34)  # the quoted sub-command, spelt so that this line does not match
    for path in Path(__file__).parent.glob("test_*.py"):
        assert stop not in path.read_text(), f"{path.name} runs `ray stop`"


def test_sweep_on_an_existing_cluster_through_ray_address(local_sweep: Path, tmp_path: Path):
    ray_cli = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.exit(main())"]
    port = _free_port()
    # Ray >= 2.5x authenticates clients with a token (default ~/.ray/auth_token, which other Ray users
    # of this machine may replace): the head and the sweep share their own one
    token = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    env = {**os.environ, **token, "OMP_NUM_THREADS": "1"}
    address = f"127.0.0.1:{port}"
    # `--block` keeps the head in this one process: terminating it stops exactly this head's processes
    # (a machine-wide `ray stop` would also stop any cluster the person running the tests has up)
    head = subprocess.Popen(
        [*ray_cli, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
         "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        assert _wait_for_port(port, head, seconds=120), "the Ray head did not come up"
        out = tmp_path / "cluster"
        proc = subprocess.run(
            [sys.executable, "-m", "absaction", *TINY, "--executor", "ray", "--ray-address", address,
             "--out", str(out)],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    finally:
        head.terminate()
        try:
            head.wait(timeout=120)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
    assert not _port_open(port), "the head this test started is still serving"
    assert _rows(out) == _rows(local_sweep)


def test_missing_ray_is_one_line_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as when it is not installed
    from benchmarks.rl.cli import main as rl_main
    from benchmarks.vae.cli import main as vae_main

    commands = [
        (main, TINY),
        (vae_main, ["--quick", "--no-progress"]),
        (rl_main, ["--quick", "--agents", "ppo", "--no-progress"]),
    ]
    for n, (command, argv) in enumerate(commands):
        out = tmp_path / str(n)
        assert command([*argv, "--executor", "ray", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "pip install 'absaction[ray]'" in err[0], err
        assert not out.exists()  # nothing written


def test_executor_settings_are_checked():
    with pytest.raises(AbsactionError, match="--ray-address needs --executor ray"):
        executors.ExecutorSpec(kind="local", ray_address="127.0.0.1:6379").validate()
    with pytest.raises(AbsactionError, match="unknown executor"):
        executors.ExecutorSpec(kind="slurm").validate()
    assert isinstance(executors.make_executor(executors.ExecutorSpec(), 2), executors.LocalExecutor)
