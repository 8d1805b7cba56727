"""Where a trained action model's decoded reaches can end: the numbers behind the RL study's notes
on new goals and chain (README, Results; ``benchmarks/results/rl/tuning/README.md``).

For a Reach2D action model (a ``absaction train`` run folder) and the demonstrations it was trained on:

1. **Reach of the latent box.** The exposed latents on a grid over ``[-1, 1]`` (the agent's action
   box, i.e. z in ``[-z_bound, z_bound]``; random draws when there are too many latents for a grid of
   ``--points``, see ``candidate_actions``), decoded and clipped as ``LatentActionWrapper`` does; the
   end point of each path from the start (the sum of the per-step displacements). Reported: the box the
   end points span and the distance from each ``Reach2DNewGoals-v0`` goal to the nearest end point.
   For closed-loop agents that re-decide every 8 or 16 steps (``closed_loop_steps``), the box one
   decision's first k actions span, and the farthest y such decisions can reach within the episode.
2. **Precision at the demonstrated targets.** Each demonstration's own encoded z, and the mean z of each
   target, decoded: the end point's distance to the demonstrated goal.
3. **Chain with the mean z.** ``Reach2DChain-v0`` episodes where every decision takes the mean z of the
   side the next goal lies on: how far per-leg errors carry.

Usage::

    python benchmarks/bench_decoder_reach.py --model BENCH/stage1/tcvlae --data BENCH/stage1/demos \\
        --out benchmarks/results/rl/decoder_reach.json

(``BENCH`` is the folder of an RL study sweep, ``python -m benchmarks.rl --out BENCH``.) Prints the
figures and writes them as JSON.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import absaction  # noqa: F401 - registers the Reach2D worlds
from absaction.agents.bc import latent_demonstration_pairs
from absaction.agents.evaluation import candidate_actions
from absaction.data import load_dataset
from absaction.envs import Reach2DEnv
from absaction.envs.variants import NEW_GOALS
from absaction.errors import AbsactionError
from absaction.files import atomic_write_json, check_new_output
from absaction.outputs import path_in_record
from absaction.wrappers import LatentActionWrapper

NEW_GOALS_ID = "absaction/Reach2DNewGoals-v0"
CHAIN_ID = "absaction/Reach2DChain-v0"
CLOSED_LOOP_STEPS = (8, 16)


def _world(env: gym.Env[Any, Any]) -> Any:
    """The Reach2D env under the wrappers (its ``config`` holds step size and success radius)."""

    world = env.unwrapped
    if not isinstance(world, Reach2DEnv):
        raise AbsactionError(f"{world} is not a Reach2D world", "use an absaction/Reach2D* env id")
    return world


def displacements(wrapper: Any, actions: np.ndarray) -> np.ndarray:
    """Per-step displacements ``(N, T, 2)``, env units, of the chunk each agent action ``(N, d)``
    decodes to (clipped as the wrapper executes it)."""
    step = float(_world(wrapper).config.step_size)
    return step * np.array([wrapper.decode_action(a) for a in actions])


def end_points(wrapper: Any, actions: np.ndarray) -> np.ndarray:
    """End point ``(N, 2)`` of the path each agent action ``(N, d)`` decodes to, from the start."""
    return displacements(wrapper, actions).sum(axis=1)


def reach_of_the_box(model: str, points: int) -> dict[str, Any]:

    wrapper = LatentActionWrapper(gym.make(NEW_GOALS_ID), model)
    grid = candidate_actions(wrapper.action_space, points)  # a full grid, or random draws in many dims
    moves = displacements(wrapper, grid)  # (N, T, 2): decoded once, summed over whole and partial chunks
    ends = moves.sum(axis=1)
    goals = np.asarray(NEW_GOALS)
    nearest = np.linalg.norm(ends[:, None, :] - goals[None], axis=-1).min(axis=0)  # (goals,)
    horizon = int(_world(wrapper).config.max_steps)
    closed_loop = {}
    for k in CLOSED_LOOP_STEPS:  # re-deciding every k steps, each decision runs a plan's first k actions
        first = moves[:, :k].sum(axis=1)
        closed_loop[str(k)] = {
            "x_range": [float(first[:, 0].min()), float(first[:, 0].max())],
            "y_range": [float(first[:, 1].min()), float(first[:, 1].max())],
            "y_max_in_episode": float(first[:, 1].max()) * horizon / k,
        }
    return {
        "grid_points": len(grid),
        "x_range": [float(ends[:, 0].min()), float(ends[:, 0].max())],
        "y_range": [float(ends[:, 1].min()), float(ends[:, 1].max())],
        "new_goals": goals.tolist(),
        "nearest_end_to_each_new_goal": nearest.tolist(),
        "success_radius": float(_world(wrapper).config.success_radius),
        "closed_loop": closed_loop,
    }


def precision_and_chain(model: str, data: str, episodes: int) -> dict[str, Any]:

    wrapper = LatentActionWrapper(gym.make(CHAIN_ID), model)
    dataset = load_dataset(data)
    if "target" not in dataset.factor_names:
        raise AbsactionError(f"{data} has no 'target' factor", "pass scripted Reach2D-v0 demonstrations")
    _, z = latent_demonstration_pairs(dataset, wrapper)  # one z per 32-step episode
    factors = dataset.factor_array()
    assert factors is not None
    target = factors[:, dataset.factor_names.index("target")].astype(int)
    # the goal (x, y) of every episode, from its first observation (x, y, goal x, goal y, ...)
    goals = np.array([np.asarray(ep.observations)[0, 2:4] for ep in dataset.episodes], np.float64)
    result: dict[str, Any] = {"per_target": {}}
    mean_z = {}
    for side in np.unique(target):
        chosen = target == side
        mean_z[int(side)] = z[chosen].mean(axis=0)
        own = np.linalg.norm(end_points(wrapper, z[chosen]) - goals[chosen], axis=1)
        mean = np.linalg.norm(end_points(wrapper, mean_z[int(side)][None])[0] - goals[chosen][0])
        result["per_target"][int(side)] = {"own_z_median": float(np.median(own)), "mean_z": float(mean)}
    successes = 0
    for seed in range(episodes):
        obs, _ = wrapper.reset(seed=seed)
        done, info = False, dict[str, Any]()
        while not done:
            side = int(obs[2] - obs[0] > 0)  # the next goal lies to the right of the point: target 1
            obs, _, terminated, truncated, info = wrapper.step(mean_z[side])
            done = terminated or truncated
        successes += bool(info.get("is_success"))
    result["chain_mean_z_success"] = [successes, episodes]
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--model", required=True, help="an absaction train run folder (Reach2D actions)")
    parser.add_argument("--data", required=True, help="the demonstrations it was trained on")
    parser.add_argument(
        "--points", type=int, default=6561, help="latent points to decode (default 6561 = an 81 x 81 grid)"
    )
    parser.add_argument("--episodes", type=int, default=40, help="chain episodes (default 40)")
    parser.add_argument("--out", help="JSON file to write (refused if it exists, unless --force)")
    parser.add_argument("--force", action="store_true", help="replace --out")
    args = parser.parse_args(argv)
    try:
        if args.points < 1 or args.episodes < 1:
            raise AbsactionError(
                "--points and --episodes must be >= 1", "pass e.g. --points 6561 --episodes 40"
            )
        out = None if args.out is None else check_new_output(args.out, args.force, "output file")
        report = {
            # relative to the folder of the JSON file: a committed result names no folder of the machine
            "model": path_in_record(args.model, Path(out).parent if out is not None else Path.cwd()),
            "box": reach_of_the_box(args.model, args.points),
            **precision_and_chain(args.model, args.data, args.episodes),
        }
    except AbsactionError as err:
        print(f"bench_decoder_reach: error: {err}", file=sys.stderr)
        return 2
    box = report["box"]
    print(
        f"end points over {box['grid_points']} z: x in [{box['x_range'][0]:.3f}, {box['x_range'][1]:.3f}], "
        f"y in [{box['y_range'][0]:.3f}, {box['y_range'][1]:.3f}]; nearest to each new goal: "
        + ", ".join(f"{d:.3f}" for d in box["nearest_end_to_each_new_goal"])
        + f" (success radius {box['success_radius']})"
    )
    for k, reach in box["closed_loop"].items():
        print(
            f"re-deciding every {k} steps: one decision moves x in [{reach['x_range'][0]:.3f}, "
            f"{reach['x_range'][1]:.3f}], y in [{reach['y_range'][0]:.3f}, {reach['y_range'][1]:.3f}]; "
            f"at most y = {reach['y_max_in_episode']:.3f} within the episode"
        )
    for side, errors in report["per_target"].items():
        own, mean = errors["own_z_median"], errors["mean_z"]
        print(f"target {side}: own z ends {own:.3f} from the goal (median), mean z {mean:.3f}")
    won, total = report["chain_mean_z_success"]
    print(f"chain with the mean z of the next goal's side: {won}/{total} episodes succeed")
    if out is not None:
        atomic_write_json(out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
