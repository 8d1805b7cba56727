"""Hand-made benchmark results for the report tests: runs whose numbers a test chooses."""

from __future__ import annotations

from absaction.bench.results import RunResult


def synthetic_runs(
    task: str,
    agent: str,
    family: str,
    steps_to_80: list[float],
    auc: list[float],
    budget: int,
    folder: str = "",
) -> list[RunResult]:
    """One run per seed with the given steps to 80 % (censored at ``budget``) and AUC; everything else
    fixed. ``folder``: the runs' folder prefix (runs of two agents sharing a folder are the same runs)."""
    return [
        RunResult(
            task=task,
            agent=agent,
            family=family,
            seed=seed,
            out_dir=f"{folder or agent}/{task}/{seed}",
            steps=[0, budget],
            success=[0.0, 1.0],
            returns=[0.0, 0.0],
            decisions=1,
            success_before=0.0,
            success_random=0.0,
            success_final=1.0,
            final_return=0.0,
            steps_to_80=min(s, budget),
            censored=s >= budget,
            auc=a,
            train_seconds=0.0,
        )
        for seed, (s, a) in enumerate(zip(steps_to_80, auc, strict=True))
    ]
