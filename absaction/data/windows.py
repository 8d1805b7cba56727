"""Fixed-length action windows cut from episodes, with the factors of their source episode."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from absaction.data.split import train_val_split
from absaction.errors import AbsactionError, option


@dataclass(frozen=True, eq=False)
class ActionWindows:
    """A batch of equal-length action sequences, ready for a convolutional VAE.

    Attributes:
        actions: ``(N, L, A)`` float32, environment action units.
        factors: ``(N, K)`` ground-truth factors of each window's source episode, or None.
        factor_names: the K factor names, in column order (empty when ``factors`` is None).
        episode_index: ``(N,)`` int64, the source episode of each window in the dataset.
        start: ``(N,)`` int64, the step inside that episode at which the window begins.
    """

    actions: np.ndarray
    factors: np.ndarray | None
    factor_names: tuple[str, ...]
    episode_index: np.ndarray
    start: np.ndarray

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    @property
    def length(self) -> int:
        """Steps per window, L."""
        return int(self.actions.shape[1])

    @property
    def action_dim(self) -> int:
        return int(self.actions.shape[2])

    def subset(self, indices: np.ndarray | Sequence[int]) -> ActionWindows:
        """The windows at ``indices`` (an index array or a boolean mask), in that order."""
        idx = np.asarray(indices)
        return ActionWindows(
            actions=self.actions[idx],
            factors=None if self.factors is None else self.factors[idx],
            factor_names=self.factor_names,
            episode_index=self.episode_index[idx],
            start=self.start[idx],
        )

    def split_by_episode(self, val_fraction: float, seed: int) -> tuple[ActionWindows, ActionWindows]:
        """Train/validation split over source *episodes*, so overlapping windows of one episode never
        land on both sides (which would leak validation data into training)."""
        episodes = np.unique(self.episode_index)
        _, val_ep = train_val_split(len(episodes), val_fraction, seed)
        in_val = np.isin(self.episode_index, episodes[val_ep])
        return self.subset(np.flatnonzero(~in_val)), self.subset(np.flatnonzero(in_val))


def make_windows(
    episode_actions: Sequence[np.ndarray],
    length: int | None = None,
    stride: int | None = None,
    factors: np.ndarray | None = None,
    factor_names: Sequence[str] = (),
) -> ActionWindows:
    """Cut windows of ``length`` steps every ``stride`` steps from each episode.

    Args:
        episode_actions: one ``(T_i, A)`` array per episode.
        length: window length L in steps. None takes whole episodes, which must then all have the same
            length (the paper's data); otherwise an error suggests a window length.
        stride: steps between window starts; defaults to ``length`` (non-overlapping windows). Steps
            after the last full window of an episode are dropped.
        factors: ``(E, K)`` per-episode factors, copied to each window of that episode, or None.
        factor_names: the K factor names.

    Episode ``i`` of length ``T_i`` yields ``(T_i - L) // stride + 1`` windows starting at steps
    ``0, stride, 2 * stride, ...``; every episode must be at least ``L`` steps long.
    """
    if not episode_actions:
        raise AbsactionError("the dataset has no episodes", "collect some with `absaction collect`")
    lengths = np.array([len(a) for a in episode_actions], dtype=np.int64)
    if length is None:
        if stride is not None:
            raise AbsactionError("a stride needs a window length", "pass a window length as well")
        if (lengths != lengths[0]).any():
            raise AbsactionError(
                f"episodes have different lengths ({lengths.min()} to {lengths.max()} steps), so whole "
                "episodes cannot be stacked",
                f"choose a window length <= {lengths.min()} (sliding windows) or a variable-length model",
            )
        length = int(lengths[0])
    if length <= 0 or (stride is not None and stride <= 0):
        raise AbsactionError(
            f"window length and stride must be positive, got length={length}, stride={stride}",
            "pass positive integers",
        )
    stride = length if stride is None else stride
    short = np.flatnonzero(lengths < length)
    if short.size:
        i = int(short[0])
        raise AbsactionError(
            f"episode {i} has {lengths[i]} steps, shorter than the window length {length} "
            f"({short.size} episode(s) are too short)",
            f"choose a window length <= {lengths.min()}",
        )
    if factors is not None and len(factors) != len(episode_actions):
        raise ValueError(f"{len(factors)} factor rows for {len(episode_actions)} episodes")

    chunks: list[np.ndarray] = []
    episode_index: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    for i, actions in enumerate(episode_actions):
        actions = np.asarray(actions, dtype=np.float32)
        # (T, A) -> (T - L + 1, A, L) views; keep every stride-th, then -> (n, L, A)
        views = np.lib.stride_tricks.sliding_window_view(actions, length, axis=0)[::stride]
        chunks.append(np.ascontiguousarray(views.transpose(0, 2, 1)))
        episode_index.append(np.full(len(views), i, dtype=np.int64))
        starts.append(np.arange(len(views), dtype=np.int64) * stride)
    index = np.concatenate(episode_index)
    return ActionWindows(
        actions=np.concatenate(chunks, axis=0),
        factors=None if factors is None else np.asarray(factors)[index],
        factor_names=tuple(factor_names) if factors is not None else (),
        episode_index=index,
        start=np.concatenate(starts),
    )


def longest_window(
    lengths: Sequence[int] | np.ndarray, multiple: int = 1, cap: int | None = None
) -> int | None:
    """The window length a fixed-length model reads from episodes of ``lengths`` steps when the user
    chose none: None (whole episodes) when they share one length that divides by ``multiple`` (and is at
    most ``cap``), else the longest multiple of ``multiple`` that fits in the shortest episode and in
    ``cap``.

    >>> longest_window([32, 32], 8), longest_window([99, 99], 8), longest_window([40, 70], 16)
    (None, 96, 32)
    >>> longest_window([128, 128], 8, cap=32), longest_window([32, 32], 8, cap=32)
    (32, None)

    Args:
        lengths: steps of every episode.
        multiple: what the model's sequence length must divide by (``2 ** layers`` for a conv ladder).
        cap: the longest window wanted, e.g. so that an agent acting in windows makes several decisions
            per episode; rounded down to a multiple of ``multiple``, but never below ``multiple``.
            None: no cap.

    Raises:
        AbsactionError: the shortest episode is shorter than ``multiple``.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if not lengths.size:
        raise AbsactionError("the dataset has no episodes", "collect some with `absaction collect`")
    shortest = int(lengths.min())
    limit = None if cap is None else max(cap // multiple * multiple, multiple)
    fits = limit is None or shortest <= limit
    if (lengths == shortest).all() and shortest % multiple == 0 and fits:
        return None
    if shortest < multiple:
        raise AbsactionError(
            f"the shortest episode has {shortest} steps, fewer than the {multiple} the model needs "
            f"(it halves the time axis {multiple.bit_length() - 1} times)",
            f"collect episodes of at least {multiple} steps, use fewer layers or ladders, or a "
            "variable-length model (seq2seq)",
        )
    window = shortest // multiple * multiple
    return window if limit is None else min(window, limit)


def decisions_per_episode(lengths: Sequence[int] | np.ndarray, steps: int) -> float:
    """Mean number of choices an agent makes per episode when each choice runs ``steps`` primitive steps
    (a latent chunk or a skill): ``ceil(T_i / steps)`` averaged over the episodes of ``lengths``.

    >>> decisions_per_episode([128, 128], 32), decisions_per_episode([32, 40], 32)
    (4.0, 1.5)
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if not lengths.size or steps < 1:
        return 0.0
    return float(np.mean(-(-lengths // steps)))


def check_split(n_train: int, n_val: int, val_fraction: float, fix: str) -> None:
    """Refuse a train/validation split of windows that leaves a side empty: no training windows at all,
    or none held out although ``val_fraction`` asks for some (a run would then report no validation error
    without saying why). Shared by every model kind's training.

    Args:
        n_train, n_val: windows on each side of the split.
        val_fraction: the share of episodes the run holds out (0: no validation wanted).
        fix: how to get more windows, e.g. ``"pass a shorter --horizon or collect more episodes"``.

    Raises:
        AbsactionError: one line with the counts and ``fix`` (or ``--val-fraction 0``).
    """
    if n_train == 0:
        raise AbsactionError(f"the data yields no training windows ({n_val} held out for validation)", fix)
    if n_val == 0 and val_fraction > 0:
        raise AbsactionError(
            f"too few windows for a validation split: {n_train} window(s), none from a held-out episode "
            f"({option('val_fraction', f'{val_fraction:g}')})",
            f"{fix}, or pass {option('val_fraction', '0')} to train without validation",
        )


def pad_episodes(
    episode_actions: Sequence[np.ndarray], pad_value: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Stack variable-length episodes for a sequence model, without cropping any.

    Args:
        episode_actions: one ``(T_i, A)`` array per episode (e.g. ``ActionDataset.episode_actions()``).
        pad_value: value written after the end of each shorter episode.

    Returns:
        ``(actions, lengths)``: ``(N, T_max, A)`` float32 with ``actions[i, :T_i]`` = episode i and
        ``pad_value`` after it, and ``(N,)`` int64 lengths ``T_i`` (build the loss mask from these).
    """
    if not episode_actions:
        raise AbsactionError("the dataset has no episodes", "collect some with `absaction collect`")
    lengths = np.array([len(a) for a in episode_actions], dtype=np.int64)
    if (lengths == 0).any():
        i = int(np.flatnonzero(lengths == 0)[0])
        raise AbsactionError(f"episode {i} has no steps", "drop empty episodes")
    action_dim = np.asarray(episode_actions[0]).shape[-1]
    out = np.full((len(lengths), int(lengths.max()), action_dim), pad_value, dtype=np.float32)
    for i, actions in enumerate(episode_actions):
        out[i, : lengths[i]] = actions
    return out, lengths
