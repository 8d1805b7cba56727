"""The training callback: counts PRIMITIVE env steps, stops at the budget, evaluates on a schedule.

SB3 counts its own steps in decisions; for a macro agent one decision is ``info["primitive_steps"]``
env steps. This callback sums that over the vector env's infos after every SB3 step, so budgets,
evaluation points, schedules and the progress bar all use the same primitive-step clock.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from stable_baselines3.common.callbacks import BaseCallback
from tqdm import tqdm

from .evaluation import EvalResult
from .hyperparams import PrimitiveProgress

if TYPE_CHECKING:  # annotations only: importing this module stays light
    from stable_baselines3.common.base_class import BaseAlgorithm

EVAL_COLUMNS: tuple[str, ...] = (
    "primitive_steps",
    "decisions",
    "success_rate",
    "mean_return",
    "seconds",
    "mean_length",
    "mean_decisions",
)


@dataclasses.dataclass(frozen=True)
class EvalRow:
    """One line of ``eval.csv``."""

    primitive_steps: int
    """primitive env steps of training so far (summed over envs)"""
    decisions: int
    """agent decisions (SB3 steps) so far"""
    success_rate: float
    """success rate of the deterministic policy (NaN when the env reports no ``is_success``)"""
    mean_return: float
    """mean undiscounted primitive-reward return per evaluation episode"""
    seconds: float
    """wall-clock seconds of training so far, evaluation time excluded"""
    mean_length: float
    """mean primitive steps per evaluation episode"""
    mean_decisions: float
    """mean agent decisions per evaluation episode (= mean_length for primitive agents)"""

    def as_csv(self) -> list[str]:
        return [
            str(self.primitive_steps),
            str(self.decisions),
            _fmt(self.success_rate),
            _fmt(self.mean_return),
            f"{self.seconds:.3f}",
            _fmt(self.mean_length),
            _fmt(self.mean_decisions),
        ]


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.6g}"


def _float_or_nan(key: str, value: Any) -> Any:
    # JSON has no NaN: a checkpoint's rows store it as null
    if key in ("primitive_steps", "decisions"):
        return int(value)
    return math.nan if value is None else float(value)


def read_eval_csv(path: str | Path) -> list[EvalRow]:
    """Rows of an ``eval.csv`` written by :class:`PrimitiveStepCallback`."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            EvalRow(
                primitive_steps=int(row["primitive_steps"]),
                decisions=int(row["decisions"]),
                success_rate=float(row["success_rate"]),
                mean_return=float(row["mean_return"]),
                seconds=float(row["seconds"]),
                mean_length=float(row.get("mean_length") or "nan"),
                mean_decisions=float(row.get("mean_decisions") or "nan"),
            )
            for row in csv.DictReader(fh)
        ]


class PrimitiveStepCallback(BaseCallback):
    """Stop training after ``budget`` primitive env steps; evaluate before learning, every
    ``eval_every`` primitive steps, and at the end; append each evaluation to ``csv_path``.

    Args:
        budget: primitive env steps to train for (training stops at the first SB3 step that reaches it,
            so it overshoots by less than one decision per env).
        eval_every: primitive env steps between evaluations.
        evaluate: runs one evaluation of the current policy.
        csv_path: the ``eval.csv`` to write (header first).
        progress: show a tqdm bar (stderr) in primitive steps.
        schedule: the :class:`PrimitiveProgress` that primitive-step schedules read.
        description: the bar's label.
        checkpoint: writes a checkpoint of the run (called after the evaluation before learning, then at
            the first rollout start after every ``checkpoint_every`` primitive steps), or None.
        checkpoint_every: primitive env steps between checkpoints.
        on_start: called at the end of training start, after SB3 has set itself up (a resumed run
            restores its random state there), or None.
    """

    def __init__(
        self,
        budget: int,
        eval_every: int,
        evaluate: Callable[[], EvalResult],
        csv_path: Path,
        progress: bool = True,
        schedule: PrimitiveProgress | None = None,
        description: str = "training",
        checkpoint: Callable[[], None] | None = None,
        checkpoint_every: int | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.budget = int(budget)
        self.eval_every = int(eval_every)
        self._evaluate_fn = evaluate
        self.csv_path = Path(csv_path)
        self.show_progress = progress
        self.schedule = schedule
        self.description = description
        self.primitive_steps = 0
        self.decisions = 0
        self.rows: list[EvalRow] = []
        self._next_eval = self.eval_every
        self._train_seconds = 0.0
        self._resumed_at = 0.0
        self._bar: Any = None
        self._checkpoint_fn = checkpoint
        self.checkpoint_every = int(checkpoint_every or budget)
        self._next_checkpoint = self.checkpoint_every
        self._on_start = on_start
        self._resumed = False

    # -- checkpoints ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The counters and evaluation rows so far (JSON-able; :meth:`load_state` restores them)."""
        return {
            "primitive_steps": self.primitive_steps,
            "decisions": self.decisions,
            "next_eval": self._next_eval,
            "next_checkpoint": self._next_checkpoint,
            "train_seconds": self._train_seconds,
            "rows": [dataclasses.asdict(row) for row in self.rows],
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state`: ``eval.csv`` is rewritten with its rows when training starts."""
        self.primitive_steps = int(state["primitive_steps"])
        self.decisions = int(state["decisions"])
        self._next_eval = int(state["next_eval"])
        self._next_checkpoint = int(state["next_checkpoint"])
        self._train_seconds = float(state["train_seconds"])
        self.rows = [EvalRow(**{k: _float_or_nan(k, v) for k, v in row.items()}) for row in state["rows"]]
        if self.schedule is not None:
            self.schedule.update(self.primitive_steps, self.budget)
        self._resumed = True

    # -- SB3 hooks ------------------------------------------------------------------------------------
    def _on_training_start(self) -> None:
        # a resumed run drops the rows a killed session appended after its checkpoint
        with open(self.csv_path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(EVAL_COLUMNS)
            writer.writerows(row.as_csv() for row in self.rows)
        self._bar = tqdm(
            total=self.budget,
            initial=min(self.primitive_steps, self.budget),
            desc=self.description,
            unit="step",
            file=sys.stderr,
            disable=not self.show_progress,
            dynamic_ncols=True,
        )
        if not self._resumed:
            self._evaluate()  # step 0: success before learning (after a BC warm start, if any)
            if self._checkpoint_fn is not None:
                self._checkpoint_fn()  # the run is resumable from its first step
        elif self.rows:
            self._show(self.rows[-1].success_rate, self.rows[-1].mean_return)
        if self._on_start is not None:
            self._on_start()
        self._resumed_at = time.perf_counter()

    def _on_rollout_start(self) -> None:
        # PPO: an update boundary (empty rollout buffer); SAC/TD3: between a gradient step and an env step
        if self._checkpoint_fn is not None and self.primitive_steps >= self._next_checkpoint:
            self._pause_clock()
            while self._next_checkpoint <= self.primitive_steps:
                self._next_checkpoint += self.checkpoint_every
            self._checkpoint_fn()
            self._resumed_at = time.perf_counter()

    def _on_step(self) -> bool:
        infos: list[dict[str, Any]] = self.locals["infos"]
        executed = sum(int(info.get("primitive_steps", 1)) for info in infos)
        self.primitive_steps += executed
        self.decisions += len(infos)
        # the last decision overshoots the budget by up to a chunk per env: the bar stops at its total
        self._bar.update(max(0, min(executed, self.budget - self._bar.n)))
        if self.schedule is not None:
            self.schedule.update(self.primitive_steps, self.budget)
        if self.primitive_steps >= self.budget:
            return False  # the final evaluation happens in _on_training_end
        if self.primitive_steps >= self._next_eval:
            self._pause_clock()
            self._evaluate()
            self._resumed_at = time.perf_counter()
            while self._next_eval <= self.primitive_steps:
                self._next_eval += self.eval_every
        return True

    def _on_training_end(self) -> None:
        self._pause_clock()
        if not self.rows or self.rows[-1].primitive_steps != self.primitive_steps:
            self._evaluate()
        self._bar.close()

    def close_progress(self) -> None:
        """End the progress bar's line (also when training stopped by an exception); closing twice is fine."""
        if self._bar is not None:
            self._bar.close()

    # -- helpers ----------------------------------------------------------------------------------------
    def _pause_clock(self) -> None:
        self._train_seconds += time.perf_counter() - self._resumed_at
        self._resumed_at = time.perf_counter()

    def _evaluate(self) -> None:
        result = self._evaluate_fn()
        row = EvalRow(
            primitive_steps=self.primitive_steps,
            decisions=self.decisions,
            success_rate=result.success_rate,
            mean_return=result.mean_return,
            seconds=self._train_seconds,
            mean_length=result.mean_length,
            mean_decisions=result.mean_decisions,
        )
        self.rows.append(row)
        with open(self.csv_path, "a", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow(row.as_csv())
        self._show(result.success_rate, result.mean_return)

    def _show(self, success_rate: float, mean_return: float) -> None:
        # an env without is_success has no success rate to show (NaN): the bar shows the return only
        shown = {} if math.isnan(success_rate) else {"success": _fmt(success_rate)}
        self._bar.set_postfix(**shown, ret=f"{mean_return:.3g}", refresh=False)


def actor_parameters(agent: BaseAlgorithm) -> list[Any]:
    """The parameters that define ``agent``'s action distribution (not its critic).

    PPO / A2C (``ActorCriticPolicy``): the policy branch of the MLP extractor, the action head and the
    log-std (a shared features extractor is left out: the critic needs it). SAC / TD3: ``policy.actor``.
    """
    policy: Any = agent.policy  # ActorCriticPolicy or an off-policy policy; both read by name below
    actor = getattr(policy, "actor", None)
    if actor is not None:
        return list(actor.parameters())
    params = list(policy.mlp_extractor.policy_net.parameters()) + list(policy.action_net.parameters())
    log_std = getattr(policy, "log_std", None)
    if isinstance(log_std, torch.nn.Parameter):
        params.append(log_std)
    return params


class CriticWarmupCallback(BaseCallback):
    """Keep a behaviour-cloned actor frozen while the critic learns, for the first ``steps`` primitive
    env steps of RL.

    Why: after a BC warm start the actor is good but the critic is random, so the first PPO update
    follows advantages that are noise and wipes out the cloned policy (measured on Reach2D-v0: 100 %
    success after cloning, 35 % after one PPO update, 0 % after two); SAC's first actor updates
    likewise climb a random Q-function. Freezing the actor (``requires_grad=False``: the optimiser skips
    parameters without gradients, so its moments stay untouched) while the critic fits the cloned policy's
    returns is the usual remedy. The warm-up steps count in the budget like any others.

    Args:
        clock: the run's :class:`PrimitiveStepCallback` (the primitive-step clock).
        steps: primitive env steps during which the actor stays frozen.
    """

    def __init__(self, clock: PrimitiveStepCallback, steps: int) -> None:
        super().__init__()
        self.clock = clock
        self.steps = int(steps)
        self._frozen: list[Any] = []

    def _on_training_start(self) -> None:
        # a run resumed after the warm-up has no actor to freeze
        if self.steps > 0 and self.clock.primitive_steps <= self.steps:
            self._frozen = [p for p in actor_parameters(self.model) if p.requires_grad]
            for p in self._frozen:
                p.requires_grad_(False)

    def _on_step(self) -> bool:
        # strictly after: a PPO rollout that ends exactly at ``steps`` still trains with a frozen actor
        if self._frozen and self.clock.primitive_steps > self.steps:
            self._release()
        return True

    def _on_training_end(self) -> None:
        self._release()  # never leave a saved agent with frozen parameters

    def _release(self) -> None:
        if self._frozen:
            for p in self._frozen:
                p.requires_grad_(True)
            self._frozen = []
