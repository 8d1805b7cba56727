"""Flatten Dict observations into one vector with a recorded layout (key -> column slice).

Goal-conditioned worlds such as PointMaze observe a Dict (``observation``, ``achieved_goal``,
``desired_goal``); the action models, the datasets and stable-baselines3 want one flat vector. The
layout keeps the keys in the Dict space's own order, which is the order
``gymnasium.spaces.flatten`` and ``gymnasium.wrappers.FlattenObservation`` use, so a dataset flattened
here and an env flattened by gymnasium agree column for column. Keys are chosen by name
(:meth:`ObsLayout.columns`): e.g. a skill sees ``observation`` while an agent sees every key.

The same layout names the columns of a plain 1-D Box observation (:meth:`ObsLayout.from_names`: one
key of shape ``()`` per column, e.g. Reach2D's ``x, y, goal_x, ...``), so one mechanism selects columns by
key, by column name (``key`` for a one-column key, else ``key[i]``) or by index (:meth:`ObsLayout.resolve`),
for Dict and Box observations alike.

Example:
    >>> import gymnasium as gym, numpy as np
    >>> box = gym.spaces.Box
    >>> space = gym.spaces.Dict({"observation": box(-1, 1, (4,)), "goal": box(-1, 1, (2,))})
    >>> layout = ObsLayout.from_space(space)
    >>> layout.keys, layout.slices()["observation"]
    (('goal', 'observation'), slice(2, 6, None))
    >>> layout.flatten({"goal": np.zeros((3, 2)), "observation": np.ones((3, 4))}).shape
    (3, 6)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from absaction.errors import AbsactionError


@dataclass(frozen=True)
class ObsLayout:
    """Where each key of a Dict observation lies in the flat vector.

    Attributes:
        keys: the Dict keys, in column order (the Dict space's order).
        shapes: the shape of each key's value (one entry per key).
    """

    keys: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def from_names(cls, names: Sequence[str]) -> ObsLayout:
        """The layout of a 1-D Box observation with one named column per key (shape ``()``)."""
        if len(set(names)) != len(names):
            raise AbsactionError(
                f"observation column names repeat: {list(names)}", "give each column one name"
            )
        return cls(tuple(str(n) for n in names), ((),) * len(names))

    @classmethod
    def from_arrays(cls, observations: Mapping[str, np.ndarray]) -> ObsLayout:
        """The layout of recorded Dict observations ``{key: (T, *shape)}``, keys sorted (gymnasium's
        ``Dict`` order).

        Raises:
            AbsactionError: no keys, a nested Dict, or keys that disagree on the number of steps.
        """
        if not observations:
            raise AbsactionError(
                "the Dict observation has no keys", "record observations with at least one key"
            )
        steps: int | None = None
        shapes: list[tuple[int, ...]] = []
        for key in sorted(observations):
            value = observations[key]
            if isinstance(value, Mapping):
                raise AbsactionError(
                    f"observation key {key!r} is itself a Dict", "flatten nested Dicts first"
                )
            array = np.asarray(value)
            if steps is not None and len(array) != steps:
                raise AbsactionError(
                    f"observation key {key!r} has {len(array)} steps, the others {steps}",
                    "re-collect the dataset",
                )
            steps = len(array)
            shapes.append(tuple(int(d) for d in array.shape[1:]))
        return cls(tuple(sorted(observations)), tuple(shapes))

    @property
    def names(self) -> tuple[str, ...]:
        """One name per flat column: the key for a one-column key, else ``key[i]``."""
        out: list[str] = []
        for key, size in zip(self.keys, self.sizes, strict=True):
            out += [key] if size == 1 else [f"{key}[{i}]" for i in range(size)]
        return tuple(out)

    def resolve(self, selection: Sequence[str | int] | None) -> list[int]:
        """Column indices of ``selection``: keys (all their columns), column names (:attr:`names`) or
        integer indices (also as text, ``"3"``), in the order given; every column for None.

        Raises:
            AbsactionError: an empty selection, an unknown name or index, or a column named twice.
        """
        names = self.names
        if selection is None:
            return list(range(len(names)))
        if len(selection) == 0:
            raise AbsactionError("the selection names no columns", "pass at least one name or index")
        slices = self.slices()
        columns: list[int] = []
        for item in selection:
            if isinstance(item, (int, np.integer)) or (isinstance(item, str) and item.lstrip("-").isdigit()):
                index = int(item)
                if not 0 <= index < len(names):
                    raise AbsactionError(
                        f"observation index {index} is outside the observation's {len(names)} columns",
                        f"use indices 0..{len(names) - 1}",
                    )
                columns.append(index)
            elif item in slices:
                columns.extend(range(slices[item].start, slices[item].stop))
            elif item in names:
                columns.append(names.index(item))
            else:
                known = ", ".join(dict.fromkeys([*self.keys, *names]))
                raise AbsactionError(f"the observation has no column or key {item!r}", f"choose from {known}")
        if len(set(columns)) != len(columns):
            raise AbsactionError(f"the selection {list(selection)} names a column twice", "list each once")
        return columns

    @classmethod
    def from_space(cls, space: gym.Space) -> ObsLayout:
        """The layout of a Dict space whose values are all Box spaces.

        Raises:
            AbsactionError: ``space`` is not a Dict, or one of its values is not a Box.
        """
        if not isinstance(space, gym.spaces.Dict):
            raise AbsactionError(
                f"expected a Dict observation space, got {space}", "flatten only Dict observations"
            )
        for key, sub in space.spaces.items():
            if not isinstance(sub, gym.spaces.Box):
                raise AbsactionError(
                    f"observation key {key!r} has space {sub}; only Box values can be flattened",
                    "use an environment whose Dict observation holds Box spaces only",
                )
        return cls(tuple(space.spaces), tuple(tuple(sub.shape or ()) for sub in space.spaces.values()))

    @property
    def sizes(self) -> tuple[int, ...]:
        """Columns per key."""
        return tuple(int(np.prod(shape, dtype=np.int64)) for shape in self.shapes)

    @property
    def dim(self) -> int:
        """Width of the flat vector."""
        return sum(self.sizes)

    def slices(self) -> dict[str, slice]:
        """``{key: slice of its columns}``, in column order."""
        out: dict[str, slice] = {}
        start = 0
        for key, size in zip(self.keys, self.sizes, strict=True):
            out[key] = slice(start, start + size)
            start += size
        return out

    def to_dict(self) -> dict[str, list[int]]:
        """``{key: [start, stop]}`` (JSON-able), in column order."""
        return {key: [s.start, s.stop] for key, s in self.slices().items()}

    def columns(self, keys: Sequence[str]) -> np.ndarray:
        """Column indices (int64) of ``keys``, in the order given.

        Raises:
            AbsactionError: a key is not in the layout.
        """
        unknown = [key for key in keys if key not in self.keys]
        if unknown or not keys:
            raise AbsactionError(
                f"unknown observation key(s) {', '.join(map(repr, unknown)) or '(none given)'}",
                f"choose among {', '.join(self.keys)}",
            )
        slices = self.slices()
        return np.concatenate([np.arange(slices[k].start, slices[k].stop) for k in keys]).astype(np.int64)

    def flatten(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """One observation ``{key: shape}`` -> ``(dim,)``, or a batch ``{key: (N, *shape)}`` -> ``(N, dim)``.

        The dtype is the common dtype of the values (float64 for PointMaze)."""
        missing = [key for key in self.keys if key not in obs]
        if missing:
            raise AbsactionError(
                f"observation lacks key(s) {', '.join(missing)}", f"give every key of {', '.join(self.keys)}"
            )
        parts = []
        for key, shape in zip(self.keys, self.shapes, strict=True):
            value = np.asarray(obs[key])
            batch = value.shape[: value.ndim - len(shape)]  # () for one observation, (N,) for a batch
            parts.append(value.reshape(*batch, -1))
        return np.concatenate(parts, axis=-1)
