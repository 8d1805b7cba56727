"""Path geometry shared by the scripted experts and their tests.

Every path is an array of ``n_steps + 1`` way-points, shape ``(n_steps + 1, 2)`` in env units, that
starts exactly at ``start`` and ends exactly at ``end``. A path is described by its *chord* (the
straight segment from start to end) and a signed *offset* along the chord's right-hand normal, so
"bulges to the right" has one meaning everywhere: for the upward reaches of every Reach2D world the
right-hand normal points towards +x.

Time is spread uniformly over the chord parameter ``s = t / n_steps``, which gives nearly uniform
speed, like the public FAVAE "2D Reaching" paths (about 0.01 units per step at 100 steps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

PointLike = Sequence[float] | np.ndarray
"""An (x, y) pair: a tuple, a list or a numpy array of shape (2,)."""

# The four wave shapes of the wavy family, as offsets w(u) on one half of the path, u in [0, 1].
# Each vanishes at both ends of its half, so halves join without a jump.
WAVE_SHAPES: tuple[str, ...] = ("arc_right", "arc_left", "s_right_left", "s_left_right")


def right_normal(start: PointLike, end: PointLike) -> np.ndarray:
    """Unit normal of the chord ``start -> end``, rotated clockwise from its direction, shape (2,).

    For a chord pointing up (+y) this is the +x direction.
    """
    cx, cy = float(end[0]) - float(start[0]), float(end[1]) - float(start[1])
    length = math.hypot(cx, cy)
    if length == 0.0:
        raise ValueError("the chord has zero length: start and end coincide")
    return np.array([cy / length, -cx / length])


def bulge_path(start: PointLike, end: PointLike, offset: float, n_steps: int) -> np.ndarray:
    """A single smooth bulge: ``p(s) = start + s (end - start) + offset sin(pi s) n``.

    Args:
        start: first way-point (x, y), env units.
        end: last way-point (x, y), env units.
        offset: signed bulge at the middle of the path (s = 1/2), env units; positive bulges to the
            right of the chord (``n`` is :func:`right_normal`).
        n_steps: number of steps, so the path has ``n_steps + 1`` way-points.

    Returns:
        Way-points, shape (n_steps + 1, 2), float64; row 0 is ``start`` and row -1 is ``end`` exactly.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    a = np.asarray(start, dtype=np.float64)
    b = np.asarray(end, dtype=np.float64)
    s = np.arange(n_steps + 1, dtype=np.float64) / n_steps  # (T+1,)
    bump = np.sin(np.pi * s)
    bump[0] = bump[-1] = 0.0  # sin(pi) is 1e-16, not 0: keep the end points exact
    path: np.ndarray = a + s[:, None] * (b - a) + (offset * bump)[:, None] * right_normal(a, b)  # (T+1, 2)
    path[-1] = b
    return path


def wave_offset(shape: int, u: np.ndarray) -> np.ndarray:
    """Unit-amplitude offset of wave ``shape`` (an index into :data:`WAVE_SHAPES`) at ``u`` in [0, 1].

    ``arc_right``: sin(pi u); ``arc_left``: -sin(pi u); ``s_right_left``: sin(2 pi u) (right, then
    left); ``s_left_right``: -sin(2 pi u).
    """
    if shape == 0:
        w = np.sin(np.pi * u)
    elif shape == 1:
        w = -np.sin(np.pi * u)
    elif shape == 2:
        w = np.sin(2.0 * np.pi * u)
    elif shape == 3:
        w = -np.sin(2.0 * np.pi * u)
    else:
        raise ValueError(f"wave shape must be 0..{len(WAVE_SHAPES) - 1}, got {shape}")
    return np.where((u <= 0.0) | (u >= 1.0), 0.0, w)


def wavy_path(
    start: PointLike,
    end: PointLike,
    shapes: tuple[int, int],
    amplitudes: tuple[float, float],
    n_steps: int,
) -> np.ndarray:
    """A two-part wavy path: each half of the chord carries its own wave shape and amplitude.

    For ``s`` in [0, 1/2] the offset along the right normal is ``amplitudes[0] * w_{shapes[0]}(2 s)``,
    for ``s`` in [1/2, 1] it is ``amplitudes[1] * w_{shapes[1]}(2 s - 1)`` (see :func:`wave_offset`).

    Args:
        start, end: first and last way-point (x, y), env units.
        shapes: wave shape of the first and the second half.
        amplitudes: peak offset of each half, env units.
        n_steps: number of steps; must be even so that the join of the halves is a way-point.

    Returns:
        Way-points, shape (n_steps + 1, 2), float64, from ``start`` to ``end`` exactly.
    """
    if n_steps < 2 or n_steps % 2:
        raise ValueError(f"n_steps must be an even number >= 2, got {n_steps}")
    a = np.asarray(start, dtype=np.float64)
    b = np.asarray(end, dtype=np.float64)
    s = np.arange(n_steps + 1, dtype=np.float64) / n_steps  # (T+1,)
    first = s <= 0.5
    offset = np.where(
        first,
        amplitudes[0] * wave_offset(shapes[0], 2.0 * s),
        amplitudes[1] * wave_offset(shapes[1], 2.0 * s - 1.0),
    )
    path = a + s[:, None] * (b - a) + offset[:, None] * right_normal(a, b)  # (T+1, 2)
    path[-1] = b
    return path


def chord_offsets(path: np.ndarray, start: PointLike, end: PointLike) -> np.ndarray:
    """Signed distance of every way-point from the chord ``start -> end`` along its right normal.

    Args:
        path: way-points, shape (N, 2).
    Returns:
        Offsets, shape (N,), env units; positive = right of the chord (towards +x for upward chords).
    """
    relative = np.asarray(path, dtype=np.float64) - np.asarray(start, dtype=np.float64)  # (N, 2)
    return relative @ right_normal(start, end)


def crossings_at_y(path: np.ndarray, y: float) -> np.ndarray:
    """x coordinates where the polyline ``path`` (N, 2) crosses the horizontal line at ``y``.

    A segment counts as crossing when its end points lie on different sides of the line
    (``y_i < y <= y_j`` or the reverse), the same rule the environment uses to block moves through
    a wall. Returns shape (M,), one entry per crossing segment.
    """
    p = np.asarray(path, dtype=np.float64)
    below = p[:, 1] < y
    idx = np.flatnonzero(below[:-1] != below[1:])
    y0, y1 = p[idx, 1], p[idx + 1, 1]
    frac = (y - y0) / (y1 - y0)
    return p[idx, 0] + frac * (p[idx + 1, 0] - p[idx, 0])
