"""What the action-model kinds share on the training engine: the action VAEs (:mod:`.loop`) and the skill
models (:mod:`.skill_loop`) are both :class:`~absaction.models.base.ActionVAE` subclasses, saved as a
model folder (:mod:`absaction.models.io`), with a KL term shaped by a capacity schedule
(:mod:`absaction.models.capacity`) whose state a resume restores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from absaction.errors import AbsactionError, flag
from absaction.models import io as model_io
from absaction.models.base import ActionVAE
from absaction.models.capacity import Capacity
from absaction.train.engine import Conflict


class ActionModelKind:
    """The :class:`~absaction.train.engine.ModelKind` methods every action-model kind has alike; a
    subclass builds ``model`` and ``capacity`` in ``build`` and says what ``kl_per_dim`` is."""

    model: ActionVAE
    capacity: Capacity
    progress_terms: tuple[str, ...] = ("recon", "kl")
    skill: bool = False
    """whether this kind trains skill models (``config.json``'s ``model`` is ``skill``)"""

    @property
    def divergence_fix(self) -> str:
        return f"lower {flag('lr')} or raise {flag('sigma')}"

    def begin_epoch(self, epoch: int) -> None:
        # the capacities stay constant for the epoch (the schedule moves at its end)
        self.c_ladders, self.c_total = self.capacity.ladder_capacities(), self.capacity.total_capacity()

    def end_step(self) -> None:
        self.capacity.end_step()

    def capacity_columns(self, row: dict[str, Any], kl_ladders: list[float]) -> None:
        """Advance the capacity schedule by the epoch's mean KL per ladder and log it in ``row``:
        ``c_total``, and ``kl_l{l}`` and ``c_l{l}`` of every ladder."""
        self.capacity.end_epoch(kl_ladders)
        row["c_total"] = self.c_total
        for ladder, kl in enumerate(kl_ladders, start=1):
            row[f"kl_l{ladder}"] = kl
            row[f"c_l{ladder}"] = None if self.c_ladders is None else self.c_ladders[ladder - 1]

    def schedule_state(self) -> dict[str, Any]:
        return self.capacity.state_dict()

    def load_schedule_state(self, state: dict[str, Any]) -> None:
        self.capacity.load_state_dict(state)

    def read_record(self, run_dir: Path) -> dict[str, Any]:
        return model_io.read_config(run_dir)

    def record_conflicts(self, run_dir: Path, saved: dict[str, Any]) -> list[Conflict]:
        """The model options that differ from the run's (the shapes are the data check's part)."""
        if (saved.get("model") == "skill") != self.skill:
            wanted = "a skill model" if self.skill else "an action VAE"
            raise AbsactionError(
                f"{run_dir} holds a {saved.get('model')} model, not {wanted}",
                f"resume it with absaction train --resume {run_dir} (its own kind)",
            )
        current = self.model.config.to_dict()
        saved_config = saved["model_config"]
        return [
            (key, saved_config.get(key), current.get(key))
            for key in sorted((set(saved_config) | set(current)) - {"action_dim", "seq_len"})
            if saved_config.get(key) != current.get(key)
        ]

    def kl_per_dim(self) -> list[list[float]]:
        """Mean KL (nats) of every latent dimension over the training items, per ladder."""
        raise NotImplementedError

    def save(self, folder: Path, extra: dict[str, Any]) -> None:
        self.model.kl_per_dim = self.kl_per_dim()
        model_io.save(self.model, folder, extra=extra, force=True)

    def trained_model(self) -> ActionVAE:
        if self.model.kl_per_dim is None:
            self.model.kl_per_dim = self.kl_per_dim()
        return self.model.cpu().eval()
