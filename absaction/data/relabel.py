"""Hindsight goal relabelling of goal-conditioned demonstrations (HER's strategies applied to recorded
segments), e.g. for a behaviour-cloning warm start on goals the demonstrations never aimed at.

A demonstrated segment was driven toward its own goal; a task may ask for others. Each transition's
desired goal is replaced by an achieved goal of a *later* step of the same segment (uniformly drawn,
HER's "future" strategy, or the segment's last, "final"), so a policy cloned from the pairs learns "from
here, to reach there, do this" for every place the segment went. :func:`write_pairs` stores the pairs as
the ``.npz`` that ``AgentConfig(bc_dataset=...)`` reads.

Example (a hand-made segment of 3 steps, goals are 1-D columns 1 and 2 of the observation)::

    >>> import numpy as np
    >>> obs = np.array([[0.0, 0.0, 9.0], [1.0, 1.0, 9.0], [2.0, 2.0, 9.0], [3.0, 3.0, 9.0]])
    >>> o, a = hindsight_pairs([(obs, np.ones((3, 1)))], achieved=[1], desired=[2], strategy="final")
    >>> o[:, 2].tolist()  # every transition now aims at the segment's last achieved goal
    [3.0, 3.0, 3.0]
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes

STRATEGIES: tuple[str, ...] = ("future", "final")


def hindsight_pairs(
    segments: Sequence[tuple[np.ndarray, np.ndarray]],
    achieved: Sequence[int],
    desired: Sequence[int],
    strategy: str = "future",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Goal-relabelled ``(observations (N, D), actions (N, A))`` from demonstrated segments.

    Args:
        segments: per segment, observations (T + 1, D) (the last one after the last action) and actions
            (T, A).
        achieved: the observation columns of the achieved goal.
        desired: the observation columns of the desired goal (same size): overwritten.
        strategy: ``future``: the achieved goal after a uniformly drawn later step t' in t+1..T;
            ``final``: the one after the segment's last step.
        seed: seed of the draws.
    """
    if strategy not in STRATEGIES:
        raise AbsactionError(f"unknown relabelling strategy {strategy!r}", f"choose {' | '.join(STRATEGIES)}")
    if len(achieved) != len(desired) or not len(achieved):
        raise AbsactionError(
            f"achieved {list(achieved)} and desired {list(desired)} goal columns differ in size",
            "pass the same number of columns for both",
        )
    rng = np.random.default_rng(seed)
    obs_out, act_out = [], []
    ach, des = np.asarray(achieved), np.asarray(desired)
    for observations, actions in segments:
        steps = len(actions)
        if steps == 0:
            continue
        if len(observations) < steps + 1:
            raise AbsactionError(
                f"a segment has {len(observations)} observations for {steps} actions",
                "pass T + 1 observations per segment of T actions",
            )
        obs = np.array(observations[:steps], dtype=np.float32)  # (T, D), a copy
        t = np.arange(steps)
        later = np.full(steps, steps) if strategy == "final" else rng.integers(t + 1, steps + 1)  # (T,)
        obs[:, des] = np.asarray(observations, np.float32)[later][:, ach]
        obs_out.append(obs)
        act_out.append(np.asarray(actions, np.float32))
    if not obs_out:
        raise AbsactionError("the demonstrations hold no transition", "collect non-empty episodes")
    return np.concatenate(obs_out), np.concatenate(act_out)


def write_pairs(path: str | Path, observations: np.ndarray, actions: np.ndarray, env_id: str | None) -> Path:
    """Write pairs as the ``.npz`` that ``AgentConfig(bc_dataset=...)`` reads (atomically)."""
    buffer = io.BytesIO()
    np.savez(buffer, observations=observations, actions=actions, env_id=np.asarray(env_id or ""))
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)
