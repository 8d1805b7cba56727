"""A tiny numpy rasteriser for the Reach2D worlds (no matplotlib, no display).

Shapes are drawn by stamping a small disc of pixels at densely sampled points, which is exact enough
for a 2-D sketch and fully vectorised. World coordinates have y pointing up; image rows grow down.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Color = tuple[int, int, int]

BACKGROUND: Color = (255, 255, 255)
PATH: Color = (31, 119, 180)  # blue
START: Color = (0, 0, 0)
POINT: Color = (255, 127, 14)  # orange: where the point is now
GOAL_CURRENT: Color = (214, 39, 40)  # red
GOAL_OTHER: Color = (150, 150, 150)  # grey: candidate goals not drawn this episode, later legs
GOAL_REACHED: Color = (44, 160, 44)  # green
WALL: Color = (64, 64, 64)
ARENA: Color = (210, 210, 210)  # light grey frame: the position bounds


class Canvas:
    """A square RGB image showing the world rectangle ``view = (x_min, y_min, x_max, y_max)``.

    The world keeps its aspect ratio (one scale for both axes) and is centred in the image.
    """

    def __init__(self, size: int, view: tuple[float, float, float, float], pad_px: int = 4) -> None:
        self.size = size
        self.image = np.empty((size, size, 3), dtype=np.uint8)  # (H, W, RGB)
        self.image[:] = BACKGROUND
        x0, y0, x1, y1 = view
        usable = size - 2 * pad_px
        self.scale = usable / max(x1 - x0, y1 - y0)  # pixels per env unit
        # centre the world rectangle in the square image
        self._col0 = pad_px + 0.5 * (usable - (x1 - x0) * self.scale) - x0 * self.scale
        self._row0 = pad_px + 0.5 * (usable - (y1 - y0) * self.scale) + y1 * self.scale

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 2) -> fractional pixel coordinates (N, 2) as (row, col)."""
        rows = self._row0 - points[:, 1] * self.scale
        cols = self._col0 + points[:, 0] * self.scale
        return np.stack([rows, cols], axis=1)

    def _stamp(self, centres_px: np.ndarray, radius_px: float, color: Color) -> None:
        """Paint every pixel within ``radius_px`` of any of the (N, 2) pixel centres."""
        r = max(radius_px, 0.5)
        k = math.ceil(r)
        dr, dc = np.mgrid[-k : k + 1, -k : k + 1]
        keep = dr**2 + dc**2 <= r * r + 1e-9
        offsets = np.stack([dr[keep], dc[keep]], axis=1)  # (K, 2)
        pix = np.rint(centres_px)[:, None, :].astype(np.int64) + offsets[None]  # (N, K, 2)
        pix = pix.reshape(-1, 2)
        inside = (pix[:, 0] >= 0) & (pix[:, 0] < self.size) & (pix[:, 1] >= 0) & (pix[:, 1] < self.size)
        pix = pix[inside]
        self.image[pix[:, 0], pix[:, 1]] = color

    def polyline(self, points: Sequence[Sequence[float]] | np.ndarray, color: Color, width_px: float) -> None:
        """Draw the open polyline through the world points (N, 2)."""
        pts = self.to_pixels(np.asarray(points, dtype=np.float64).reshape(-1, 2))
        if len(pts) == 1:
            self._stamp(pts, width_px / 2, color)
            return
        seg = np.diff(pts, axis=0)  # (N-1, 2)
        n = np.maximum(np.ceil(np.hypot(seg[:, 0], seg[:, 1]) * 2).astype(np.int64), 1)  # 2 samples/px
        starts = np.repeat(pts[:-1], n, axis=0)
        steps = np.repeat(seg, n, axis=0)
        frac = np.concatenate([np.arange(m) / m for m in n])[:, None]
        samples = np.concatenate([starts + frac * steps, pts[-1:]], axis=0)
        self._stamp(samples, width_px / 2, color)

    def disc(self, centre: Sequence[float], radius_px: float, color: Color) -> None:
        """A filled disc at a world point."""
        self._stamp(self.to_pixels(np.asarray(centre, dtype=np.float64).reshape(1, 2)), radius_px, color)

    def ring(self, centre: Sequence[float], radius: float, color: Color, width_px: float = 1.5) -> None:
        """A circle of world radius ``radius`` (drawn at least 3 px wide so small radii stay visible)."""
        r_px = max(radius * self.scale, 3.0)
        n = max(int(2 * math.pi * r_px * 2), 16)
        angles = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
        c = self.to_pixels(np.asarray(centre, dtype=np.float64).reshape(1, 2))[0]
        pts = np.stack([c[0] + r_px * np.sin(angles), c[1] + r_px * np.cos(angles)], axis=1)
        self._stamp(pts, width_px / 2, color)
