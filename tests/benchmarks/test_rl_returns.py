"""The RL study on tasks whose env reports no success (Pendulum, MuJoCo locomotion): the statistics
switch to the mean return (steps to a return threshold, the normalised return AUC, the IQM of the final
return, performance profiles and P(improvement) by that AUC), checked against hand computations; the
verdicts name the metric, judge no Reach2D target on a user's task and never print NaN; a real quick sweep
on Pendulum-v1 end to end."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import synthetic_runs

from absaction.bench.results import RunResult, score_tasks
from absaction.bench.stats import ReturnScale, return_scale
from absaction.cli import main
from benchmarks.rl import report as bench_report
from benchmarks.rl import verdicts as bench_verdicts
from benchmarks.rl.catalogue import RLBenchConfig
from benchmarks.rl.cli import main as study_main
from benchmarks.rl.lookahead import Ceiling

NAN = re.compile(r"\bnan\b", re.IGNORECASE)
"""A NaN as the report would print it (a word of its own)."""

BUDGET = 1000
STEPS = [0, 500, 1000]  # evaluations before learning, halfway and at the budget

# Mean returns per seed at STEPS: every run starts at -1000; the latent agent climbs to about -100, the
# primitive one to about -800. The task's scale: low -1000, high -100, start (median before) -1000, so the
# threshold lies 80 % of the way: -1000 + 0.8 * 900 = -280.
LATENT_RETURNS = [[-1000, -200, -100], [-1000, -300, -100], [-1000, -200, -200], [-1000, -400, -100]]
PRIMITIVE_RETURNS = [[-1000, -900, -800], [-1000, -1000, -900], [-1000, -900, -900], [-1000, -800, -700]]


def return_runs(task: str, agent: str, family: str, curves: list[list[int]]) -> list[RunResult]:
    """One run per seed with the given mean-return curve and no success signal (NaN everywhere)."""
    return [
        RunResult(
            task=task,
            agent=agent,
            family=family,
            seed=seed,
            out_dir=f"{agent}/{task}/{seed}",
            steps=list(STEPS),
            success=[math.nan] * len(STEPS),
            returns=[float(r) for r in curve],
            decisions=1,
            success_before=math.nan,
            success_random=math.nan,
            success_final=math.nan,
            final_return=float(curve[-1]),
            steps_to_80=float(BUDGET),
            censored=True,
            auc=math.nan,
            train_seconds=0.0,
            return_random=-1100.0 - seed,
        )
        for seed, curve in enumerate(curves)
    ]


def _auc(curve: list[int]) -> float:
    """By hand: the trapezoid area of the normalised curve at 0, 500, 1000 over the budget of 1000."""
    y = [(r + 1000) / 900 for r in curve]
    return (y[0] + 2 * y[1] + y[2]) / 4


def _config(tasks: list[str], seeds: int = 4) -> RLBenchConfig:
    return RLBenchConfig.from_preset(
        "quick",
        tasks=tasks,
        agents=["ppo", "ppo-latent"],
        seeds=seeds,
        steps=BUDGET,
        eval_points=2,
        bootstrap_reps=300,
        lookahead=0,
    )


def test_return_scale_by_hand():
    scale = return_scale([*LATENT_RETURNS, *PRIMITIVE_RETURNS])
    assert scale == ReturnScale(low=-1000.0, high=-100.0, start=-1000.0, fraction=0.8)
    assert scale.threshold == pytest.approx(-280.0)
    np.testing.assert_allclose(scale.normalise([-1000, -550, -100, -1100]), [0.0, 0.5, 1.0, -1 / 9])
    # the start is the median of the returns before learning, not the lowest
    assert return_scale([[-10.0, 0.0], [-6.0], [-2.0, -1.0]]).start == -6.0
    # every evaluation the same: nothing to normalise, no division by zero, every run at the threshold
    flat = return_scale([[5.0, 5.0], [5.0]])
    assert flat.threshold == 5.0 and flat.normalise([5.0]).tolist() == [0.0]
    with pytest.raises(ValueError, match="at least one run"):
        return_scale([])


def test_runs_without_success_are_scored_by_return():
    latent = return_runs("Pendulum-v1", "ppo-latent", "latent", LATENT_RETURNS)
    primitive = return_runs("Pendulum-v1", "ppo", "primitive", PRIMITIVE_RETURNS)
    scored = score_tasks([*primitive, *latent], BUDGET)
    assert {r.metric for r in scored} == {"return"}
    by_agent = {a: [r for r in scored if r.agent == a] for a in ("ppo", "ppo-latent")}
    # first evaluation at or above -280: seeds 0 and 2 at 500 (-200), seeds 1 and 3 at 1000 (-100)
    assert [r.steps_to_80 for r in by_agent["ppo-latent"]] == [500, 1000, 500, 1000]
    assert not any(r.censored for r in by_agent["ppo-latent"])
    assert all(r.censored and r.steps_to_80 == BUDGET for r in by_agent["ppo"])
    for agent, curves in (("ppo-latent", LATENT_RETURNS), ("ppo", PRIMITIVE_RETURNS)):
        np.testing.assert_allclose([r.auc for r in by_agent[agent]], [_auc(c) for c in curves])
    # a task with success keeps its runs exactly as they are
    dense = synthetic_runs("dense", "ppo", "primitive", [300, 600], [0.7, 0.4], BUDGET)
    assert score_tasks(dense, BUDGET) == dense


def test_return_statistics_and_verdicts_by_hand():
    latent = return_runs("Pendulum-v1", "ppo-latent", "latent", LATENT_RETURNS)
    primitive = return_runs("Pendulum-v1", "ppo", "primitive", PRIMITIVE_RETURNS)
    config = _config(["Pendulum-v1"])
    report = bench_report.build_report(config, [*primitive, *latent])
    lat, prim = report.cell("Pendulum-v1", "ppo-latent"), report.cell("Pendulum-v1", "ppo")
    assert lat.metric == prim.metric == "return" and lat.threshold == pytest.approx(-280.0)
    # IQM of 4 runs: the mean of the middle two
    assert lat.steps_to_80.value == pytest.approx(750.0)  # sorted 500, 500, 1000, 1000
    assert lat.censored == 0 and prim.censored == 4 and prim.steps_to_80.value == BUDGET
    # AUCs 0.6944, 0.6389, 0.6667, 0.5833 -> middle two 0.6389 and 0.6667
    assert lat.auc.value == pytest.approx((_auc(LATENT_RETURNS[1]) + _auc(LATENT_RETURNS[2])) / 2)
    assert lat.auc.value == pytest.approx(0.65278, abs=1e-5)
    # AUCs 0.1111, 0.0278, 0.0833, 0.1944 -> middle two 0.0833 and 0.1111
    assert prim.auc.value == pytest.approx((0.25 / 3 + 1 / 9) / 2)
    assert (
        lat.final.value == -100.0 and prim.final.value == -850.0
    )  # finals -200 -100 -100 -100 | -900 -900 -800 -700
    assert lat.before.value == -1000.0 and lat.random.value == pytest.approx(-1101.5)  # -1100 .. -1103
    assert math.isnan(lat.prior.value)  # no skill agent
    assert lat.curve[1].value == pytest.approx(-250.0)  # at 500: -400 -300 -200 -200 -> -250

    # every latent run's AUC beats every primitive run's: P = 1
    (improvement,) = report.improvements
    assert improvement.probability.value == 1.0 and improvement.metric == "return"
    profiles = report.profiles
    lat_aucs = np.array([_auc(c) for c in LATENT_RETURNS])
    prim_aucs = np.array([_auc(c) for c in PRIMITIVE_RETURNS])
    for agent, aucs in (("ppo-latent", lat_aucs), ("ppo", prim_aucs)):
        np.testing.assert_allclose(
            profiles[agent].fraction, [np.mean(aucs > t) for t in profiles[agent].taus]
        )
    tenth = int(np.argmin(np.abs(np.array(profiles["ppo"].taus) - 0.1)))
    assert profiles["ppo"].fraction[tenth] == 0.5  # AUC > 0.1: 0.1111 and 0.1944 of the four

    # the verdicts: in returns, no Reach2D target on a user's task
    (check,) = report.targets
    assert not check.target_applies and not check.met and check.ratio == pytest.approx(1000 / 750)
    line = check.line(BUDGET)
    assert line.startswith(
        "Pendulum-v1 (steps to a mean return of -280; no target set): best latent ppo-latent"
    )
    assert ">= 1.33x fewer steps" in line and "target met" not in line
    assert check.to_dict()["met"] is None and check.to_dict()["metric"] == "return"
    (verdict,) = report.verdicts
    assert verdict.verdict == "helps"
    assert report.no_help.startswith(
        "Latent actions help on every task of this sweep: the best latent agent's return AUC interval"
    )
    assert report.check_heading.startswith("Steps-to-threshold check (")
    assert "steps to the return threshold" in report.check_heading

    text = bench_report.summary_markdown(config, report, ["Pendulum-v1"])
    assert not NAN.search(text)
    assert (
        "## Steps to threshold: best latent vs best primitive agent" in text and "3x target met" not in text
    )
    assert (
        "| agent | Pendulum-v1: return before / random / prior | Pendulum-v1: steps to return threshold |"
        in text
    )
    assert "| `ppo-latent` (latent) | -1000 / -1102 / - | 750 [" in text  # IQM of -1100 .. -1103: -1101.5
    assert (
        "Pendulum-v1: mean returns from -1000 (lowest evaluation) to -100 (best); start return -1000; "
        "threshold -280." in text
    )
    assert "## Performance profiles (return AUC, all tasks pooled)" in text
    assert "by return AUC" in text and "Target tasks" not in text  # no Reach2D notes either


def test_bc_solves_means_the_return_threshold_on_a_task_scored_by_return():
    # positive returns (locomotion-like): a BC start at 1000 is far above 0.8 but below the threshold
    # 1000 + 0.8 * (3000 - 1000) = 2600; a BC start at 2800 is above its threshold (the median start
    # becomes 1900: 1900 + 0.8 * 1100 = 2780)
    from absaction.bench.results import CellStats, cell_stats

    def cells(bc_start: float) -> list[CellStats]:
        bc = return_runs("Walker", "ppo-bc", "primitive", [[bc_start, 2000, 2000]] * 4)
        lat = return_runs("Walker", "ppo-latent", "latent", [[1000, 2000, 3000]] * 4)
        scored = score_tasks([*bc, *lat], BUDGET)
        grid = np.array(STEPS)
        return [
            cell_stats("Walker", a, f, [[r for r in scored if r.agent == a]], grid, reps=100)
            for a, f in (("ppo-bc", "primitive"), ("ppo-latent", "latent"))
        ]

    low = bench_verdicts.help_verdict("Walker", cells(1000.0), bc_agents={"ppo-bc"})
    assert low is not None and not low.bc_solves and low.latent.threshold == pytest.approx(2600.0)
    high = bench_verdicts.help_verdict("Walker", cells(2800.0), bc_agents={"ppo-bc"})
    assert high is not None and high.bc_solves and high.latent.threshold == pytest.approx(2780.0)
    assert "; BC alone reaches the return threshold before RL)" in high.reason()
    assert "return AUC" in high.reason()


def test_a_sweep_with_and_without_success_keeps_each_tasks_metric():
    budget = BUDGET
    dense = [
        *synthetic_runs("dense", "ppo", "primitive", [900, 1000, 1000, 1000], [0.1, 0.1, 0.2, 0.2], budget),
        *synthetic_runs("dense", "ppo-latent", "latent", [100, 200, 200, 300], [0.8, 0.9, 0.9, 0.9], budget),
    ]
    pendulum = [
        *return_runs("Pendulum-v1", "ppo", "primitive", PRIMITIVE_RETURNS),
        *return_runs("Pendulum-v1", "ppo-latent", "latent", LATENT_RETURNS),
    ]
    config = _config(["absaction/Reach2D-v0", "Pendulum-v1"])
    # the lookahead ceiling measures success: Pendulum's (NaN) is left out of the table
    ceilings = [
        Ceiling(task, "ppo-latent", 0, 4, 256, success, -1.0, random, 0.1)
        for task, success, random in (("dense", 0.75, 0.25), ("Pendulum-v1", math.nan, math.nan))
    ]
    report = bench_report.build_report(config, [*dense, *pendulum], ceilings)
    assert report.metric("dense") == "success" and report.metric("Pendulum-v1") == "return"
    dense_lat = report.cell("dense", "ppo-latent")
    assert dense_lat.auc.value == pytest.approx(0.9) and dense_lat.steps_to_80.value == pytest.approx(200)
    # pooled over both tasks: the success AUC and the return AUC side by side, IQM of all 8 runs
    pooled = report.cell("all", "ppo-latent")
    assert pooled.metric == "normalised" and math.isnan(pooled.threshold)
    aucs = np.sort([0.8, 0.9, 0.9, 0.9, *[_auc(c) for c in LATENT_RETURNS]])
    assert pooled.auc.value == pytest.approx(aucs[2:6].mean())
    assert pooled.final.value == pytest.approx(np.sort([1.0] * 4 + [1.0, 1.0, 8 / 9, 1.0])[2:6].mean())
    lines = {t.task: t.line(budget) for t in report.targets}
    assert "-> 3x target met: yes" in lines["dense"] and "target met" not in lines["Pendulum-v1"]
    assert (
        report.check_heading.startswith("3x target check (")
        and "no target on Pendulum-v1" in report.check_heading
    )
    text = bench_report.summary_markdown(config, report, ["dense", "Pendulum-v1"])
    assert not NAN.search(text)
    assert "| agent | dense: before / random / prior | dense: steps to 80 % | dense: AUC |" in text
    assert "No target is judged on Pendulum-v1 (not a task of the suite)." in text
    assert "Target tasks (the demonstrations do not show their solution)" in text  # dense is Reach2D's
    assert "| agent | dense: random / lookahead |" in text and "| `ppo-latent` | 0.25 / 0.75 |" in text


# ----------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def pendulum_model(pendulum_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny TCVLAE (4 channels, one epoch) on the 16-step Pendulum episodes."""
    from absaction.train import TrainConfig, fit

    out = tmp_path_factory.mktemp("pendulum") / "vae"
    config = TrainConfig(epochs=1, model_options={"channels": 4, "ladder_dims": [2, 1]}, seed=0)
    fit(pendulum_dataset, config, out, progress=False)
    return out


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_quick_bench_on_pendulum_reports_returns(
    pendulum_dataset: Path, pendulum_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "bench"
    # PPO on Pendulum updates after 4,096 primitive steps (n_steps 1024 x 4 envs): one update per run
    code = study_main(
        [
            "--quick", "--tasks", "Pendulum-v1", "--data", str(pendulum_dataset),
            "--model", str(pendulum_model), "--agents", "ppo", "ppo-latent", "--lookahead", "0",
            "--steps", "4096", "--eval-points", "2", "--eval-episodes", "1", "--workers", "1",
            "--no-progress", "--bootstrap-reps", "200", "--out", str(out),
        ]
    )  # fmt: skip
    stdout = capsys.readouterr().out
    assert code == 0
    assert not NAN.search(stdout) and "target met" not in stdout
    assert "Steps-to-threshold check" in stdout and "steps to the return threshold" in stdout
    assert "return AUC" in stdout  # the help verdict, in the metric it used

    text = (out / "summary.md").read_text()
    assert not NAN.search(text)
    assert "Scored by return: Pendulum-v1" in text and "Pendulum-v1: return AUC" in text
    assert "Pendulum-v1: final return" in text and "## Performance profiles (return AUC" in text

    results = _read_csv(out / "results.csv")
    assert {r["metric"] for r in results} == {"return"} and len(results) == 4
    data = json.loads((out / "summary.json").read_text())
    scale = data["return_scales"]["Pendulum-v1"]
    assert data["metrics"] == {"Pendulum-v1": "return"}
    # the scale and every run's numbers recomputed from the runs' own eval.csv
    curves = []
    for row in results:
        evals = _read_csv(out / row["run_dir"] / "eval.csv")
        curves.append(([int(e["primitive_steps"]) for e in evals], [float(e["mean_return"]) for e in evals]))
    every = [r for _, returns in curves for r in returns]
    assert scale["low"] == pytest.approx(min(every)) and scale["high"] == pytest.approx(max(every))
    assert scale["start"] == pytest.approx(np.median([returns[0] for _, returns in curves]))
    threshold = scale["start"] + 0.8 * (scale["high"] - scale["start"])
    assert scale["threshold"] == pytest.approx(threshold)
    for row, (steps, returns) in zip(results, curves, strict=True):
        reached = [s for s, r in zip(steps, returns, strict=True) if r >= scale["threshold"]]
        assert row["reached_80"] == ("1" if reached else "0")
        if reached:
            assert int(row["steps_to_80"]) == min(reached[0], 4096)
        assert 0.0 <= float(row["auc"]) <= 1.0
        assert float(row["return_before"]) == pytest.approx(returns[0])
    assert max(float(r["auc"]) for r in results) > 0.0  # the best run is above the lowest evaluation


# ------------------------------------------------------------------------------- absaction rl's summary
@pytest.fixture(scope="module")
def pendulum_skills(pendulum_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny skill model (H = 4, z of 2, one epoch) on the 16-step Pendulum episodes."""
    from absaction.train.skill_loop import SkillTrainConfig, fit_skills

    out = tmp_path_factory.mktemp("pendulum") / "skills"
    fit_skills(
        pendulum_dataset, SkillTrainConfig(epochs=1, batch_size=64, hidden_size=16, horizon=4, z_dim=2), out
    )
    return out


def test_rl_summary_on_an_env_without_success_says_n_a_and_shows_the_returns(
    pendulum_skills: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line
    out = tmp_path / "agent"
    code = main(
        [
            "rl", "--env", "Pendulum-v1", "--actions", "skill", "--model", str(pendulum_skills),
            "--prior", "reparam", "--steps", "64", "--eval-every", "64", "--eval-episodes", "2",
            "--out", str(out), "--no-progress", "--set", "n_steps=16", "--set", "batch_size=16",
            "--set", "n_epochs=1", "--set", "n_envs=1",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    printed = captured.out
    assert code == 0, captured.err
    rows = {}
    for line in printed.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    record = json.loads((out / "agent.json").read_text())
    # Pendulum reports no is_success: the prior rollouts' success is unknown, not 0 %
    assert rows["success of prior rollouts (z ~ p(z | s))"] == "n/a (env reports no is_success)"
    assert record["prior_rollouts"]["success_rate"] is None
    assert (
        rows["success of random actions"] == rows["final success rate"] == "n/a (env reports no is_success)"
    )
    # the returns the record holds, now in the table
    assert rows["mean return of prior rollouts"] == f"{record['prior_rollouts']['mean_return']:.4g}"
    assert rows["mean return of random actions"] == f"{record['random_actions']['mean_return']:.4g}"
    assert float(rows["mean return before learning"]) < 0.0  # Pendulum's rewards are all negative


def test_prior_rollouts_without_is_success_are_unknown_not_failures(pendulum_skills: Path):
    from absaction.agents import AgentConfig
    from absaction.agents.priors import evaluate_prior_rollouts
    from absaction.models import load

    config = AgentConfig("Pendulum-v1", actions="skill", model=str(pendulum_skills), seed=0, eval_episodes=2)
    result = evaluate_prior_rollouts(config, load(pendulum_skills))
    assert result is not None and math.isnan(result.success_rate)
    assert result.successes == (None, None) and len(result.returns) == 2
    assert result.mean_return == pytest.approx(np.mean(result.returns)) and result.mean_length == 200.0
