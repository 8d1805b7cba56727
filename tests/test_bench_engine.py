"""The sweep engine on a user's own agents and task: two primitive PPO configurations on Pendulum-v1 (no
success signal: return-based statistics) with tiny budgets, through the Python API and through
``absaction bench``; the same numbers either way, resume (finished runs reused, changed settings refused,
more seeds added), bad input in one line, and the engine's parts (shared runs, relative run folders,
colours, the order of its modules)."""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from synthetic_runs import synthetic_runs

from absaction.agents import AgentConfig
from absaction.bench import Sweep, SweepAgent, report, run_sweep
from absaction.bench import results as bench_results
from absaction.bench import runs as bench_runs
from absaction.bench.executors import LocalExecutor
from absaction.bench.inputs import BC_ASPECTS, LATENT_ASPECTS, SKILL_ASPECTS, Spaces, misfit
from absaction.bench.stats import normalised_auc, return_scale
from absaction.cli import main
from absaction.data.skill_windows import box_layout
from absaction.errors import AbsactionError

TINY_PPO = {"n_envs": 1, "n_steps": 16, "batch_size": 16, "n_epochs": 1}
TINY_FLAGS = "--set n_envs=1 --set n_steps=16 --set batch_size=16 --set n_epochs=1"
TIMING = {"train_seconds", "decode_ms"}  # wall-clock columns: they differ between any two sweeps


def tiny_sweep(seeds: int = 2) -> Sweep:
    """PPO with the packaged learning rate against PPO with a larger one, on Pendulum-v1."""
    return Sweep(
        tasks=["Pendulum-v1"],
        agents={
            "ppo": AgentConfig("Pendulum-v1", hyperparams=TINY_PPO),
            "ppo-fast": SweepAgent(
                AgentConfig("Pendulum-v1", hyperparams={**TINY_PPO, "learning_rate": 0.01}),
                description="PPO with a learning rate of 0.01",
            ),
        },
        seeds=seeds,
        steps=64,
        eval_points=2,
        eval_episodes=2,
        bootstrap_reps=50,
    )


CLI = [
    "bench", "--tasks", "Pendulum-v1", "--agent", f"ppo={TINY_FLAGS}",
    "--agent", f"ppo-fast={TINY_FLAGS} --set learning_rate=0.01", "--seeds", "2", "--steps", "64",
    "--eval-points", "2", "--eval-episodes", "2", "--bootstrap-reps", "50", "--no-progress",
]  # fmt: skip


def _with(argv: list[str], flag: str, value: str) -> list[str]:
    """``argv`` with ``flag``'s value replaced."""
    out = list(argv)
    out[out.index(flag) + 1] = value
    return out


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(fh)]


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def python_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("engine") / "python"
    result = run_sweep(tiny_sweep(), out, progress=False, log=lambda text: None)
    return out, result


def test_a_sweep_of_the_users_own_agents_through_the_python_api(python_sweep: tuple[Path, Any]):
    out, result = python_sweep
    for name in ("bench.json", "results.csv", "summary.csv", "summary.md", "summary.json"):
        assert (out / name).is_file(), name
    for figure in ("learning_curves.png", "performance_profiles.png", "probability_of_improvement.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (result.runs_total, result.runs_trained, result.runs_skipped) == (4, 4, 0)
    rows = _csv(out / "results.csv")
    assert [(r["task"], r["agent"], r["family"], r["seed"]) for r in rows] == [
        ("Pendulum-v1", agent, "primitive", str(seed)) for agent in ("ppo", "ppo-fast") for seed in (0, 1)
    ]
    # every run is the agent's own config with the sweep's task, seed and budget
    for row in rows:
        record = json.loads((out / row["run_dir"] / "config.json").read_text())["config"]
        assert (record["env_id"], record["seed"], record["steps"]) == ("Pendulum-v1", int(row["seed"]), 64)
        assert (record["eval_every"], record["eval_episodes"]) == (32, 2)
        expected = 0.01 if row["agent"] == "ppo-fast" else None
        assert record["hyperparams"].get("learning_rate") == expected
    # Pendulum reports no success: every run is scored by the return, on one scale from all four runs
    assert {r["metric"] for r in rows} == {"return"}
    curves = {r["run_dir"]: _csv(out / r["run_dir"] / "eval.csv") for r in rows}
    scale = return_scale([[float(e["mean_return"]) for e in c] for c in curves.values()])
    for row in rows:
        evals = curves[row["run_dir"]]
        steps = [int(e["primitive_steps"]) for e in evals]
        returns = scale.normalise([float(e["mean_return"]) for e in evals])
        assert float(row["auc"]) == pytest.approx(normalised_auc(steps, returns, 64), abs=1e-5)
        assert float(row["return_before"]) == pytest.approx(float(evals[0]["mean_return"]), rel=1e-5)
    # 2 seeds: the IQM trims nothing, so each cell is the mean of its two runs
    summary = _csv(out / "summary.csv")
    assert [(s["task"], s["agent"], s["metric"]) for s in summary] == [
        ("Pendulum-v1", "ppo", "return"),
        ("Pendulum-v1", "ppo-fast", "return"),
    ]
    for cell in summary:
        aucs = [float(r["auc"]) for r in rows if r["agent"] == cell["agent"]]
        assert float(cell["auc_iqm"]) == pytest.approx(np.mean(aucs), abs=1e-5)
    # P(a run of ppo-fast has a larger AUC than a run of the baseline ppo), ties one half, by hand
    data = json.loads((out / "summary.json").read_text())
    (improvement,) = data["probability_of_improvement"]
    assert (improvement["agent"], improvement["baseline"]) == ("ppo-fast", "ppo")
    fast = [float(r["auc"]) for r in rows if r["agent"] == "ppo-fast"]
    base = [float(r["auc"]) for r in rows if r["agent"] == "ppo"]
    by_hand = np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a in fast for b in base])
    assert improvement["probability"]["value"] == pytest.approx(by_hand)
    text = (out / "summary.md").read_text()
    assert text.startswith("# absaction bench: 2 agent(s) on 1 task(s)")
    assert "Scored by return: Pendulum-v1" in text and "## Probability of improvement" in text
    assert (
        "P(ppo-fast > ppo) = " in text
        and "- `ppo-fast`: PPO with a learning rate of 0.01 (primitive)" in text
    )
    assert "- `ppo`: PPO on primitive actions (primitive)" in text
    # the record names no folder of this machine
    for name in ("bench.json", "summary.json", "results.csv"):
        assert str(out.parent) not in (out / name).read_text(), name


def test_the_cli_gives_the_python_apis_numbers(
    python_sweep: tuple[Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "cli"
    assert main([*CLI, "--dry-run", "--out", str(out)]) == 0
    assert "1 task(s) x 2 agent(s) x 2 seed(s) = 4 runs of 64 primitive steps" in capsys.readouterr().out
    assert not out.exists()  # the dry run writes nothing
    assert main([*CLI, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "4 run(s) trained, 0 reused" in printed and "Pendulum-v1: P(ppo-fast > ppo) = " in printed
    assert _rows(out) == _rows(python_sweep[0])
    assert _csv(out / "summary.csv") == _csv(python_sweep[0] / "summary.csv")


def test_resume_reuses_finished_runs_refuses_changed_settings_and_adds_seeds(
    python_sweep: tuple[Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "sweep"
    shutil.copytree(python_sweep[0], out)
    expected = _rows(out)
    runs = out / "runs" / "Pendulum-v1"
    stamps = {p: p.stat().st_mtime_ns for p in runs.glob("*/seed*/eval.csv")}
    shutil.rmtree(runs / "ppo-fast" / "seed1")  # as if the sweep had been interrupted before this run
    (runs / "ppo" / ".seed1.tmp-killed").mkdir()  # and a killed run had left its temporary folder
    assert main([*CLI, "--out", str(out), "--resume"]) == 0
    assert "1 run(s) trained, 3 reused" in capsys.readouterr().out
    assert _rows(out) == expected
    assert not (runs / "ppo" / ".seed1.tmp-killed").exists()
    for path, stamp in stamps.items():
        if "ppo-fast/seed1" not in str(path):
            assert path.stat().st_mtime_ns == stamp  # not rerun

    # settings that change what a finished run means are refused, in one line, touching nothing
    before = (out / "bench.json").read_text()
    assert main([*_with(CLI, "--steps", "96"), "--out", str(out), "--resume"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"absaction bench: error: {out} was swept with steps=64, now steps=96; pass the same settings to "
        "--resume, or use another --out (or --force to start over)"
    ]
    changed = [a.replace("learning_rate=0.01", "learning_rate=0.02") for a in CLI]
    assert main([*changed, "--out", str(out), "--resume"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"absaction bench: error: {runs / 'ppo-fast' / 'seed0'} was run with hyperparams=")
    assert "'learning_rate': 0.02" in line and line.endswith(
        "use another --out, or --force to start the sweep over"
    )
    assert main([*changed, "--out", str(out), "--resume", "--dry-run"]) == 2  # the dry run says so too
    assert capsys.readouterr().err.strip().splitlines() == [line]
    assert (out / "bench.json").read_text() == before

    # more seeds: only the new runs train
    assert main([*_with(CLI, "--seeds", "3"), "--out", str(out), "--resume"]) == 0
    assert "2 run(s) trained, 4 reused" in capsys.readouterr().out
    assert sorted((r["agent"], r["seed"]) for r in _rows(out)) == [
        (agent, str(seed)) for agent in ("ppo", "ppo-fast") for seed in range(3)
    ]
    assert json.loads((out / "bench.json").read_text())["config"]["seeds"] == 3

    # report(out) reads the finished sweep back from its folder and writes the same report
    summary = (out / "summary.csv").read_text()
    (out / "summary.csv").unlink()
    again = report(out)
    assert (out / "summary.csv").read_text() == summary and len(again.runs) == 6
    shutil.rmtree(runs / "ppo" / "seed2")
    with pytest.raises(AbsactionError, match="misses 1 run"):
        report(out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--agent", "ppo=--algo a2c"], "--agent ppo: argument --algo: invalid choice: 'a2c'"),
        (["--agent", "ppo=--algo ppo --steps 5"], "--agent ppo: --steps is the sweep's, not an agent's"),
        (["--agent", "ppo=--seed 3"], "--agent ppo: --seed is the sweep's, not an agent's; pass --seeds"),
        (["--agent", "ppo"], "--agent 'ppo' is not NAME=FLAGS"),
        (["--agent", "ppo=--algo ppo", "--agent", "ppo=--algo sac"], "the agent ppo is given twice"),
        (["--agent", "ppo=--actions latent"], "agent ppo: latent actions need an action model"),
        (["--agent", "a/b=--algo ppo"], "'a/b' cannot name a run folder"),
        (["--agent", "ppo=--algo ppo", "--tasks", "Pendulum-v9"], "Pendulum-v9"),
        (["--agent", "ppo=--bc no-such-data"], "no-such-data"),
        (["--agent", "ppo=--algo ppo", "--resume", "--force"], "not allowed with argument"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "out"
    tasks = [] if "--tasks" in argv else ["--tasks", "Pendulum-v1"]
    try:
        code = main(["bench", *tasks, *argv, "--steps", "64", "--out", str(out)])
    except SystemExit as stop:  # argparse's own refusals (exclusive flags)
        code = int(stop.code or 0)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1], err
    assert code != 2 or "not allowed" in message or len(err) == 1
    assert not out.exists()


def test_missing_tasks_agents_or_out_is_one_line(capsys: pytest.CaptureFixture[str]):
    assert main(["bench", "--agent", "ppo=--algo ppo"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "absaction bench: error: missing --tasks, --out; pass --tasks ENV_ID ... --agent NAME=FLAGS (one or "
        "more) --out DIR"
    ]


# ------------------------------------------------------------------------------------- the parts
def _probe(job: int) -> tuple[int, int, int]:
    import torch

    return job, os.getpid(), torch.get_num_threads()


def test_runner_uses_worker_processes_with_one_torch_thread_each():
    with LocalExecutor(workers=2) as runner:
        results = dict(runner.imap_unordered(_probe, [1, 2, 3, 4]))
    assert sorted(results) == [1, 2, 3, 4]
    pids = {pid for _, pid, _ in results.values()}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert {threads for _, _, threads in results.values()} == {1}


def test_identical_agents_share_runs_instead_of_training_twice(tmp_path: Path):
    names = ("ppo-bc", "ppo-latent", "ppo-latent-top", "ppo-flat")
    tasks = {"dense": "absaction/Reach2D-v0", "chain": "absaction/Reach2DChain-v0"}
    runs = [
        bench_runs.RunSpec(
            task,
            env_id,
            agent,
            "latent",
            seed,
            AgentConfig(env_id, seed=seed),
            tmp_path / task / agent / f"s{seed}",
        )
        for task, env_id in tasks.items()
        for agent in names
        for seed in (0, 1)
    ]
    # top == all on dense only; on chain the top ladder exposes fewer latents; the flat VAE differs
    signatures = {
        ("dense", "ppo-bc"): "primitive",
        ("dense", "ppo-latent"): "latent dims 3:[0, 1]",
        ("dense", "ppo-latent-top"): "latent dims 3:[0, 1]",
        ("dense", "ppo-flat"): "flat dims 1:[0, 1]",
        ("chain", "ppo-bc"): "primitive",
        ("chain", "ppo-latent"): "latent dims 1:[2], 3:[0, 1]",
        ("chain", "ppo-latent-top"): "latent dims 3:[0, 1]",
        ("chain", "ppo-flat"): "flat dims 1:[0, 1]",
    }
    shared = bench_runs.share_identical_runs(runs, signatures, list(names))
    moved = [(r.task, r.agent, r.seed, r.shared_with) for r in shared if r.shared_with]
    assert moved == [
        ("dense", "ppo-latent-top", 0, "ppo-latent"),
        ("dense", "ppo-latent-top", 1, "ppo-latent"),
    ]
    top = next(r for r in shared if r.shared_with and r.seed == 1)
    assert top.out_dir == tmp_path / "dense" / "ppo-latent" / "s1"
    assert bench_runs.run_finished(top)  # nothing to train, although no folder exists yet
    # the order decides which of two identical agents trains: the first listed
    reverse = bench_runs.share_identical_runs(runs, signatures, list(names)[::-1])
    assert {r.agent for r in reverse if r.shared_with} == {"ppo-latent"}


def test_what_each_agent_shares_with_a_task() -> None:
    reach = box_layout(6, "absaction/Reach2D-v0")
    task = Spaces("task", None, reach, np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
    wider = Spaces("data", "--data", reach, np.array([-2.0, -2.0]), np.array([2.0, 2.0]))
    # other bounds: a latent or skill model's decoded actions would not be the task's; BC clips
    assert misfit(wider, task, LATENT_ASPECTS) and misfit(wider, task, SKILL_ASPECTS)
    assert not misfit(wider, task, BC_ASPECTS)
    unknown = Spaces("model", "--model", None, np.full(2, -np.inf), np.full(2, np.inf))
    assert not misfit(unknown, task, LATENT_ASPECTS)  # a model of unknown bounds: the wrapper clips
    # the same sizes, columns named otherwise: only the skill agents (their model observes by name) care
    renamed = Spaces("data", "--data", box_layout(6, "Other-v0"), task.low, task.high)
    assert not misfit(renamed, task, SKILL_ASPECTS)  # generic obs_i names match any world
    other = Spaces("data", "--data", type(reach).from_names(list("abcdef")), task.low, task.high)
    assert misfit(other, task, SKILL_ASPECTS) and not misfit(other, task, BC_ASPECTS)
    smaller = Spaces("data", "--data", box_layout(3, "Pendulum-v1"), task.low, task.high)
    assert misfit(smaller, task, BC_ASPECTS) and not misfit(smaller, task, LATENT_ASPECTS)


def test_results_csv_stores_run_folders_relative_and_reads_them_back(tmp_path: Path):
    folder = tmp_path / "sweep"
    run = synthetic_runs("dense", "ppo", "primitive", [1000.0], [0.5], 2000)[0]
    run.out_dir = str(folder / "runs" / "dense" / "ppo" / "seed0")
    text = bench_results.results_csv([run], folder)
    rows = list(csv.DictReader(text.splitlines()))
    assert rows[0]["run_dir"] == "runs/dense/ppo/seed0"
    assert bench_results.relative_run_dir(tmp_path / "elsewhere" / "seed1", folder) == "../elsewhere/seed1"
    folder.mkdir()
    header, row = text.splitlines()
    old_row = row.replace("runs/dense/ppo/seed0", "/old/machine/runs/dense/ppo/seed0")
    (folder / "results.csv").write_text("\n".join([header, row, old_row]) + "\n")
    read = bench_results.read_results_csv(folder)
    assert [r["run_dir"] for r in read] == [
        str(folder / "runs" / "dense" / "ppo" / "seed0"),
        "/old/machine/runs/dense/ppo/seed0",  # an absolute path of an older table is kept as written
    ]
    with pytest.raises(AbsactionError, match="cannot read"):
        bench_results.read_results_csv(tmp_path / "missing")


def test_every_agent_of_a_large_sweep_gets_its_own_colour():
    from absaction.bench.figures import agent_colours

    ten = [f"a{i}" for i in range(10)]
    assert agent_colours(ten) == {a: f"C{i}" for i, a in enumerate(ten)}  # the default cycle, as before
    eleven = [*ten, "a10"]
    colours = agent_colours(eleven)
    assert list(colours) == eleven and len(set(colours.values())) == 11


ENGINE_ORDER = (
    "executors",
    "stats",
    "estimate",
    "inputs",
    "definition",
    "runs",
    "results",
    "figures",
    "markdown",
    "summary",
    "sweep",
)


def test_engine_modules_import_only_downward():
    """Each module of the engine imports only engine modules before it in ENGINE_ORDER (the order its
    docstring gives), and none names a study."""
    package = Path(bench_results.__file__).parent
    assert {p.stem for p in package.glob("*.py")} == {*ENGINE_ORDER, "__init__"}
    for position, name in enumerate(ENGINE_ORDER):
        text = (package / f"{name}.py").read_text()
        imported = {
            node.module or ""
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.ImportFrom) and node.level == 1
        }
        assert imported <= set(ENGINE_ORDER[:position]), (name, imported - set(ENGINE_ORDER[:position]))
        for word in ("benchmarks", "Reach2DObstacle", "PointMaze", "stage1"):
            assert word not in text, (name, word)
