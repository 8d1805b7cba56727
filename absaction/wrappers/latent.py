"""LatentActionWrapper: an agent acts in the latent space z of a trained action VAE.

The agent's action ``a`` in ``[-1, 1]^d`` is mapped linearly to the exposed latents
``z = z_bound * a``; the decoder turns the full latent (exposed + fixed) into a chunk of ``T`` primitive
actions, which the inner env executes (see :class:`~absaction.wrappers.macro.MacroActionWrapper` for the
reward and ``info`` semantics, shared with the action-repeat baseline).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch

from absaction.errors import AbsactionError, flag, option
from absaction.models import load
from absaction.wrappers.macro import MacroActionWrapper, require_box

FIXED_MODES = ("zero", "sample")
# Entropy mixed into the seed of the generator for unexposed latents, so that their stream is
# independent of the inner env's own np_random (goals, noise): with the same seed, fixed="zero" and
# fixed="sample" runs see the very same episodes.
_LATENT_STREAM = 0x1A7E


@runtime_checkable
class ActionDecoder(Protocol):
    """What the wrapper needs from an action model (``absaction.models.ActionVAE`` satisfies it)."""

    @property
    def ladder_dims(self) -> list[int]:
        """Latent size of every ladder, ladder 1 first."""
        ...

    @property
    def action_dim(self) -> int: ...

    @property
    def seq_len(self) -> int | None:
        """Fixed decoded length T, or None for a variable-length model."""
        ...

    action_low: np.ndarray | None
    action_high: np.ndarray | None

    def decode(self, latents: list[torch.Tensor], length: int | None = None) -> torch.Tensor:
        """Per-ladder latents ``[(B, d_l)]`` (ladder 1 first) -> actions ``(B, T, A)`` in env units."""
        ...


def load_action_model(run_dir: str | os.PathLike[str], *, allow_incomplete: bool = False) -> ActionDecoder:
    """Load a trained action model from its run folder (``absaction.models.load``), eval mode.

    Errors are :class:`AbsactionError` (missing folder, corrupt or truncated checkpoint, a run whose
    training has not finished unless ``allow_incomplete``).
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise AbsactionError(
            f"model run folder {path} does not exist",
            "train one with `absaction train ... --out DIR` and pass that DIR",
        )

    model: ActionDecoder = load(path, allow_incomplete=allow_incomplete)
    return model


def model_active_dims(model: ActionDecoder, threshold: float | None = None) -> list[list[int]] | None:
    """Indices of the active latent units of every ladder (ladder 1 first), or None if unknown.

    Uses ``model.active_dims(threshold)`` (KL per unit above ``threshold`` nats, measured on the
    training data); a model without that information exposes all of its units.
    """
    method = getattr(model, "active_dims", None)
    if method is None:
        return None
    try:
        found = method() if threshold is None else method(threshold)
    except AbsactionError:  # no KL record (e.g. an untrained decoder): expose everything
        return None
    if found is None:
        return None
    if isinstance(found, Mapping):  # {ladder (1-based): indices}
        found = [found.get(ladder, []) for ladder in range(1, len(model.ladder_dims) + 1)]
    result: list[list[int]] = []
    for entry in found:
        values = np.asarray(entry)
        if values.dtype == bool:  # a mask per ladder
            values = np.flatnonzero(values)
        result.append([int(i) for i in values.reshape(-1)])
    return result


class LatentActionWrapper(MacroActionWrapper, gym.utils.RecordConstructorArgs):
    """Expose (part of) an action VAE's latent space as the action space of an env.

    One step: ``a`` (agent, ``[-1, 1]^d``) -> ``z = z_bound * a`` for the exposed latents, the others
    fixed -> ``decode(z)`` -> ``T`` actions in env units -> clipped to the inner Box -> the first ``k``
    of them executed (fewer if the episode ends) -> one macro reward.

    Args:
        env: inner env; its action space must be the 1-D Box the model was trained on (same size and
            bounds). Its id may differ: a model trained on one task can drive another (transfer).
        model_or_run_dir: a trained model (:class:`ActionDecoder`) or its run folder.
        ladders: 1-based ladders whose latents the agent controls (default: all; with ``dims``: the
            ladders named there).
        dims: explicit 0-based latent indices per ladder, ``{ladder: [i, ...]}``. A chosen ladder that
            is not in ``dims`` exposes its *active* units (KL above ``active_threshold``).
        chunk: ``T``, the decoded chunk length; defaults to the model's ``seq_len`` (a fixed-length
            model accepts no other value). Needed for variable-length models (``seq_len=None``),
            where it defaults to ``closed_loop_steps``.
        z_bound: the agent's ``[-1, 1]`` maps to ``z`` in ``[-z_bound, z_bound]`` (prior std = 1, so 2.0
            covers ~95% of the prior).
        gamma: discount per primitive step inside a chunk. **The agent's discount should then be
            ``gamma**k``** (``k = closed_loop_steps``) so that it optimises the primitive-step return.
        discount_within_chunk: discounted sum of primitive rewards (default) or the plain sum.
        fixed: unexposed latents are ``"zero"`` (the prior mean) or ``"sample"``: drawn from N(0, 1)
            afresh at *every decision* (so the env stays Markov in its observation; a per-episode draw
            would be a hidden variable). The draws use the wrapper's own generator, seeded from
            ``reset(seed=...)`` and independent of the inner env's ``np_random``.
        closed_loop_steps: ``k``, how many of the ``T`` decoded actions run before the agent decides
            again (default ``T``: open loop). ``k < T`` is closed-loop control. *Caveat:* a decoder
            trained only on whole paths that start at rest knows plans "from the start"; re-deciding
            mid-path restarts such a plan from the current state, which can hurt (quick trials: success
            0.85 open loop vs 0.59 re-deciding every 8 of 32 steps). Closed loop pays off with a decoder
            conditioned on the current state or on the progress along the plan: see ``plan_phase``.
        plan_phase: closed loop *along the plan* (needs ``k < T`` and ``T % k == 0``): the i-th decision
            of every run of ``T / k`` decisions executes decoded actions ``[i k, (i + 1) k)`` of its own z
            instead of the first ``k``, so re-deciding changes the rest of a plan without restarting it
            at its beginning. The phase restarts at 0 on ``reset`` and after every ``T`` steps; the
            observation should reveal it (Reach2D's time feature does).
        active_threshold: KL threshold (nats) for the default "active units"; None: the model's default.

    Example::

        >>> import gymnasium as gym, absaction
        >>> from absaction.wrappers import LatentActionWrapper
        >>> inner = gym.make("absaction/Reach2D-v0")
        >>> env = LatentActionWrapper(inner, "runs/tcvlae", ladders=[3])
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        >>> info["primitive_steps"], info["executed_actions"].shape
        (32, (32, 2))
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        model_or_run_dir: ActionDecoder | str | os.PathLike[str],
        ladders: Sequence[int] | None = None,
        dims: Mapping[int, Sequence[int]] | None = None,
        chunk: int | None = None,
        z_bound: float = 2.0,
        gamma: float = 0.99,
        discount_within_chunk: bool = True,
        fixed: str = "zero",
        closed_loop_steps: int | None = None,
        active_threshold: float | None = None,
        plan_phase: bool = False,
    ) -> None:
        # The model object must not be deep-copied into the recorded kwargs.
        gym.utils.RecordConstructorArgs.__init__(
            self,
            _disable_deepcopy=True,
            model_or_run_dir=model_or_run_dir,
            ladders=ladders,
            dims=dims,
            chunk=chunk,
            z_bound=z_bound,
            gamma=gamma,
            discount_within_chunk=discount_within_chunk,
            fixed=fixed,
            closed_loop_steps=closed_loop_steps,
            active_threshold=active_threshold,
            plan_phase=plan_phase,
        )
        if isinstance(model_or_run_dir, (str, os.PathLike)):
            self.model_run_dir: Path | None = Path(model_or_run_dir).resolve()
            model = load_action_model(model_or_run_dir)
        else:
            self.model_run_dir = None
            model = model_or_run_dir
        self.model = model
        box = require_box(env, "LatentActionWrapper")
        _check_model_matches_env(model, box, env)

        self.decode_length, steps = _resolve_chunk(model, chunk, closed_loop_steps)
        MacroActionWrapper.__init__(self, env, steps, gamma, discount_within_chunk)

        if fixed not in FIXED_MODES:
            raise AbsactionError(f"unknown fixed={fixed!r}", f"choose one of {', '.join(FIXED_MODES)}")
        if not float(z_bound) > 0:
            raise AbsactionError(f"z_bound must be > 0, got {z_bound}", "pass a positive bound such as 2.0")
        if plan_phase and (self.chunk_steps >= self.decode_length or self.decode_length % self.chunk_steps):
            raise AbsactionError(
                f"{flag('plan_phase')} needs closed-loop steps k < T that divide T, got "
                f"k={self.chunk_steps}, T={self.decode_length}",
                f"pass {_steps(max(1, self.decode_length // 4))} or another divisor of {self.decode_length}",
            )
        self.plan_phase = bool(plan_phase)
        self._phase = 0  # decoded-plan index of the next decision's first action (plan_phase only)
        self.fixed = fixed
        self.z_bound = float(z_bound)
        self.exposed = _resolve_exposed(model, ladders, dims, active_threshold)  # {ladder: [dims]}

        # One flat float32 buffer holds every latent; each decode views it per ladder without copying.
        # The views are made per call, not stored: a stored torch view would not follow the numpy buffer
        # through copy.deepcopy (a copied wrapper would then always decode the z of its creation).
        ladder_dims = [int(d) for d in model.ladder_dims]
        offsets = np.concatenate([[0], np.cumsum(ladder_dims)]).astype(int)
        self._z = np.zeros(int(offsets[-1]), dtype=np.float32)  # (sum d_l,)
        self._ladder_slices = [(int(offsets[i]), int(offsets[i + 1])) for i in range(len(ladder_dims))]
        device = _model_device(model)
        self._device = device
        self._exposed_index = np.array(
            [offsets[ladder - 1] + i for ladder, idx in self.exposed.items() for i in idx], dtype=np.int64
        )
        self._hidden_index = np.setdiff1d(np.arange(offsets[-1]), self._exposed_index)
        self._chunk_buffer = np.zeros((self.chunk_steps, box.shape[0]), dtype=box.dtype)  # (k, A)
        self._latent_rng = np.random.default_rng()
        self.decode_seconds = 0.0  # cumulative, see decode_overhead_ms
        self.decode_calls = 0
        self.action_space = gym.spaces.Box(-1.0, 1.0, (len(self._exposed_index),), dtype=np.float32)

        if hasattr(model, "eval"):
            model.eval()  # decoding must not use dropout/batch statistics
        probe = self._decode()
        if probe.shape != (self.decode_length, box.shape[0]):
            expected = (self.decode_length, box.shape[0])
            raise AbsactionError(
                f"the model decoded a chunk of shape {probe.shape}, expected {expected}",
                "check that the run folder holds an action model trained for this env",
            )

    # -- decoding ---------------------------------------------------------------------------------
    def _set_latents(self, action: np.ndarray) -> None:
        flat = action.reshape(-1)
        if flat.shape[0] != self._exposed_index.shape[0]:
            size = self._exposed_index.shape[0]
            raise ValueError(f"expected an action of {size} values, got shape {action.shape}")
        self._z[self._exposed_index] = self.z_bound * np.clip(flat, -1.0, 1.0)
        if self.fixed == "sample" and self._hidden_index.size:
            self._z[self._hidden_index] = self._latent_rng.standard_normal(self._hidden_index.size)

    def _decode(self) -> np.ndarray:
        """Decode the current latent buffer -> actions ``(T, A)`` (float32, env units, unclipped)."""
        z = torch.from_numpy(self._z)  # shares memory with the buffer
        latents = [z[start:stop].view(1, stop - start) for start, stop in self._ladder_slices]
        if self._device.type != "cpu":
            latents = [z.to(self._device) for z in latents]
        length = None if self.model.seq_len is not None else self.decode_length
        with torch.inference_mode():
            # fixed-length models are called without `length` (not every decoder takes it)
            out = self.model.decode(latents) if length is None else self.model.decode(latents, length=length)
        return out[0].detach().to("cpu", torch.float32).numpy()  # (1, T, A) -> (T, A)

    def _chunk(self, action: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        self._set_latents(action)
        decoded = self._decode()  # (T, A)
        box = self.inner_action_space
        # The decoder has no notion of the env's bounds; an action outside them would be clipped by
        # the env anyway, so clip here and report what was really executed.
        start = self._phase if self.plan_phase else 0
        np.clip(decoded[start : start + self.chunk_steps], box.low, box.high, out=self._chunk_buffer)
        if self.plan_phase:
            self._phase = (start + self.chunk_steps) % self.decode_length
        self.decode_seconds += time.perf_counter() - started
        self.decode_calls += 1
        return self._chunk_buffer

    @property
    def decode_overhead_ms(self) -> float:
        """Mean wall-clock milliseconds per decision spent mapping, decoding and clipping (NaN before the
        first step): the cost a latent agent pays on top of the env's own steps."""
        return 1e3 * self.decode_seconds / self.decode_calls if self.decode_calls else float("nan")

    def decode_action(self, action: np.ndarray) -> np.ndarray:
        """The full clipped chunk ``(T, A)`` an agent action decodes to (for plots and analysis).

        With ``fixed="sample"`` this draws new unexposed latents, like a step would.
        """
        self._set_latents(np.asarray(action, dtype=np.float32))
        box = self.inner_action_space
        return np.clip(self._decode(), box.low, box.high).astype(box.dtype)

    def preview_chunk(self, action: np.ndarray) -> np.ndarray:
        """The clipped primitive actions ``(k, A)`` that ``step(action)`` would execute now, without
        executing them or counting towards :attr:`decode_overhead_ms`.

        Only defined when the chunk is a function of the action alone: ``fixed="sample"`` draws new
        hidden latents at every decision and ``plan_phase`` depends on the position in the plan, so a
        previewed chunk would not be the executed one; both raise :class:`AbsactionError`.
        """
        if self.fixed == "sample" or self.plan_phase:
            setting = 'fixed="sample"' if self.fixed == "sample" else "plan_phase=True"
            raise AbsactionError(
                f"a chunk cannot be previewed with {setting}: the executed chunk would differ",
                'use fixed="zero" and open-loop or plain closed-loop decisions to plan with the wrapper',
            )
        return self.decode_action(action)[: self.chunk_steps]

    def encode_actions(self, actions: np.ndarray) -> np.ndarray:
        """Agent actions ``(N, d)`` for action sequences ``(N, T, A)`` in env units: the exposed latents'
        posterior means, divided by ``z_bound`` and clipped to [-1, 1] (what an agent would have to choose
        to replay them; behaviour cloning in latent space uses it).

        ``T`` is the decoded chunk length; latents that are not exposed are dropped.
        """
        posterior = getattr(self.model, "posterior", None)
        if posterior is None:
            raise AbsactionError(
                f"{type(self.model).__name__} has no encoder, so demonstrations cannot be mapped to latents",
                "pass an absaction action model (a run folder of absaction train)",
            )
        x = np.asarray(actions, dtype=np.float32)
        expected = (self.decode_length, int(self.inner_action_space.shape[0]))
        if x.ndim != 3 or x.shape[1:] != expected:
            raise AbsactionError(
                f"expected action sequences of shape (N, {expected[0]}, {expected[1]}), got {x.shape}",
                f"cut the demonstrations into windows of {expected[0]} steps",
            )
        # variable-length models take the true lengths: every window is whole
        lengths = None if self.model.seq_len is not None else np.full(len(x), expected[0], dtype=np.int64)
        means, _ = posterior(x, lengths)  # (N, D) float32, ladders concatenated
        return np.clip(means[:, self._exposed_index] / self.z_bound, -1.0, 1.0).astype(np.float32)

    # -- gymnasium API ----------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if seed is not None:
            self._latent_rng = np.random.default_rng([int(seed), _LATENT_STREAM])
        self._phase = 0
        return self.env.reset(seed=seed, options=options)

    def macro_settings(self) -> dict[str, Any]:
        return {
            "wrapper": "latent",
            "model": None if self.model_run_dir is None else str(self.model_run_dir),
            "dims": {str(ladder): list(idx) for ladder, idx in self.exposed.items()},
            "chunk": self.decode_length,
            "closed_loop_steps": self.chunk_steps,
            "plan_phase": self.plan_phase,
            "z_bound": self.z_bound,
            "fixed": self.fixed,
            **super().macro_settings(),
        }


# -- validation helpers (one clear line per mistake) ------------------------------------------------
def _model_device(model: ActionDecoder) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for param in model.parameters():
            return param.device
    return torch.device("cpu")


def _check_model_matches_env(model: ActionDecoder, box: gym.spaces.Box, env: gym.Env[Any, Any]) -> None:
    env_name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    model_env = getattr(model, "env_id", None) or "an unknown env"
    fix = f"train the model on data collected from {env_name} (`absaction collect --env {env_name}`)"
    if int(model.action_dim) != box.shape[0]:
        raise AbsactionError(
            f"the model decodes {model.action_dim}-D actions (trained on {model_env}) but {env_name} "
            f"takes {box.shape[0]}-D actions",
            fix,
        )
    low, high = getattr(model, "action_low", None), getattr(model, "action_high", None)
    if low is None or high is None:
        return  # a model trained on raw arrays knows no bounds; the wrapper clips to the env's
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if low.shape != box.shape or not (
        np.allclose(low, box.low, atol=1e-6) and np.allclose(high, box.high, atol=1e-6)
    ):
        raise AbsactionError(
            f"the model was trained for action bounds [{low.tolist()}, {high.tolist()}] ({model_env}) but "
            f"{env_name} has [{box.low.tolist()}, {box.high.tolist()}]",
            fix,
        )


def _steps(value: object) -> str:
    """``closed_loop_steps=VALUE`` as the caller writes it: ``--chunk VALUE`` at the command line, where
    ``absaction rl --chunk`` sets it."""
    name = flag("chunk", python="closed_loop_steps")
    return f"{name} {value}" if name.startswith("--") else f"{name}={value}"


def _resolve_chunk(model: ActionDecoder, chunk: int | None, closed_loop_steps: int | None) -> tuple[int, int]:
    """-> (decoded length T, executed steps per decision k)."""
    seq_len = model.seq_len
    if seq_len is not None:
        if chunk is not None and int(chunk) != int(seq_len):
            raise AbsactionError(
                f"the model decodes fixed chunks of {seq_len} steps, chunk={chunk} was asked",
                f"leave chunk unset and pass closed_loop_steps={chunk} to run only the first {chunk} of each"
                if int(chunk) < int(seq_len)
                else "use a variable-length (seq2seq) model for longer chunks",
            )
        length = int(seq_len)
    elif chunk is not None or closed_loop_steps is not None:
        length = int(chunk if chunk is not None else closed_loop_steps)  # type: ignore[arg-type]
    else:
        raise AbsactionError(
            "the model decodes variable-length sequences and no chunk length was given",
            f"pass {option('chunk', 'T')}, the number of primitive steps one latent action lasts",
        )
    if length < 1:
        raise AbsactionError(f"chunk length must be >= 1, got {length}", "pass a positive chunk length")
    steps = length if closed_loop_steps is None else int(closed_loop_steps)
    if not 1 <= steps <= length:
        raise AbsactionError(
            f"{_steps(steps)} must be between 1 and the decoded chunk length {length}",
            f"pass {_steps('K')} with K in 1..{length}, or leave it out to execute the whole chunk",
        )
    return length, steps


def _resolve_exposed(
    model: ActionDecoder,
    ladders: Sequence[int] | None,
    dims: Mapping[int, Sequence[int]] | None,
    active_threshold: float | None,
) -> dict[int, list[int]]:
    """-> ``{ladder (1-based): sorted 0-based latent indices}`` of the latents the agent controls."""
    ladder_dims = [int(d) for d in model.ladder_dims]
    existing = ", ".join(f"ladder {i} has {d} dims (0..{d - 1})" for i, d in enumerate(ladder_dims, start=1))
    dims = {int(k): list(v) for k, v in (dims or {}).items()}
    # With no selection at all, every ladder offers its active units and inactive (collapsed) ladders
    # are skipped; a ladder the user names must have some.
    everything = ladders is None and not dims
    chosen = sorted({int(x) for x in ladders}) if ladders is not None else None
    if chosen is None:
        chosen = sorted(dims) if dims else list(range(1, len(ladder_dims) + 1))
    for ladder in sorted(set(chosen) | set(dims)):
        if not 1 <= ladder <= len(ladder_dims):
            raise AbsactionError(
                f"ladder {ladder} does not exist; the model has {len(ladder_dims)} ladder(s): {existing}",
                "choose ladders from that list (1 = nearest the actions)",
            )
    active = None
    exposed: dict[int, list[int]] = {}
    for ladder in sorted(set(chosen) | set(dims)):
        if ladder in dims:
            idx = [int(i) for i in dims[ladder]]
            bad = [i for i in idx if not 0 <= i < ladder_dims[ladder - 1]]
            if bad:
                raise AbsactionError(
                    f"latent dim(s) {bad} of ladder {ladder} do not exist; {existing}",
                    "choose 0-based dims from that list",
                )
            if len(set(idx)) != len(idx):
                raise AbsactionError(f"dims of ladder {ladder} repeat an index: {idx}", "list every dim once")
        else:
            if active is None:
                active = model_active_dims(model, active_threshold) or [list(range(d)) for d in ladder_dims]
            idx = active[ladder - 1]
            if not idx and everything:
                continue
            if not idx:
                raise AbsactionError(
                    f"ladder {ladder} has no active latent units (its KL is below the threshold everywhere)",
                    f"choose another ladder or name dims, e.g. dims={{{ladder}: [0]}} (--dims {ladder}:0)",
                )
        exposed[ladder] = sorted(idx)
    if not exposed:
        raise AbsactionError(
            "the model has no active latent units (every KL is below the threshold): it learned nothing",
            "train it longer or with a smaller beta, or name dims explicitly (--dims 1:0)",
        )
    return exposed
