"""The shapes of film damage, drawn into a :class:`DamageLayer`: what each defect looks like on the frame.

Every defect is drawn inside its own small patch (its bounding box plus its soft edge), so a frame's cost grows
with the number of defects, not with their number times the frame size. A defect paints three things into the
layer: its own colour (what the picture is replaced with), its opacity (how much of the pixel the defect covers,
0–1) and its class. Where two defects overlap the stronger one (higher opacity) owns the pixel. Opacity below
:data:`OPACITY_FLOOR` is cut to exactly 0, so the soft tail of a Gaussian edge never leaves invisible, non-zero
"damage" spread over the frame: outside the drawn defects the layer is exactly empty.
"""

from __future__ import annotations

import cv2
import numpy as np

# Below half an 8-bit code value a defect's edge changes no delivered pixel; cut there so the matte is exactly 0.
OPACITY_FLOOR = 0.5 / 255.0
# The soft edge of a defect reaches this many sigmas (the Gaussian is below OPACITY_FLOOR beyond).
EDGE_REACH = 3.0
# Hairs are drawn at this many times the resolution, then averaged down: sub-pixel widths become partial cover.
HAIR_SUPERSAMPLE = 4


class DamageLayer:
    """One frame's damage: per-pixel colour (HW3), opacity (HW) and class id (HW uint8), empty at the start."""

    def __init__(self, height: int, width: int) -> None:
        self.height = height
        self.width = width
        self.colour = np.zeros((height, width, 3), np.float32)
        self.opacity = np.zeros((height, width), np.float32)
        self.classes = np.zeros((height, width), np.uint8)

    def paint(self, top: int, left: int, cover: np.ndarray, colour: tuple[float, float, float], class_id: int) -> None:
        """Paint a patch whose top-left pixel is (top, left): the stronger defect wins each pixel.

        `cover` is the defect's opacity in the patch (may reach past the frame edge: clipped here).
        """
        rows, cols = cover.shape
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + rows, self.height), min(left + cols, self.width)
        if y0 >= y1 or x0 >= x1:
            return
        cover = cover[y0 - top:y1 - top, x0 - left:x1 - left]
        held = self.opacity[y0:y1, x0:x1]
        take = (cover >= OPACITY_FLOOR) & (cover > held)
        held[take] = cover[take]
        self.classes[y0:y1, x0:x1][take] = class_id
        self.colour[y0:y1, x0:x1][take] = np.asarray(colour, np.float32)

    def paint_many(self, tops: np.ndarray, lefts: np.ndarray, covers: np.ndarray, colours: np.ndarray,
                   class_id: int) -> None:
        """Paint n patches (covers (n, P, P), colours (n, 3)) at once; the stronger defect wins each pixel."""
        count, size = covers.shape[:2]
        rows = tops[:, None, None] + np.arange(size)[None, :, None]
        cols = lefts[:, None, None] + np.arange(size)[None, None, :]
        inside = (rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width) & (covers >= OPACITY_FLOOR)
        owner, _, _ = np.nonzero(inside)
        where = (rows * self.width + cols)[inside]
        cover = covers[inside]
        strongest = self.opacity.ravel().copy()
        np.maximum.at(strongest, where, cover)
        take = (cover == strongest[where]) & (cover > self.opacity.ravel()[where])
        where, cover, owner = where[take], cover[take], owner[take]
        self.opacity.ravel()[where] = cover
        self.classes.ravel()[where] = class_id
        self.colour.reshape(-1, 3)[where] = np.asarray(colours, np.float32).reshape(count, 3)[owner]

    def composite(self, frame: np.ndarray) -> np.ndarray:
        """`frame` (float32 HWC, 1, 3 or 4 channels) with the damage over it; pixels with opacity 0 are the
        input's bits unchanged and alpha is never touched."""
        out = np.array(frame, dtype=np.float32, copy=True)
        rows, cols = np.nonzero(self.opacity)
        if rows.size == 0:
            return out
        weight = self.opacity[rows, cols][:, None]
        colour = self.colour[rows, cols]
        if out.shape[2] in (1, 2):  # grey (+ alpha): the defect's own grey is its colour's mean
            colour = colour.mean(axis=1, keepdims=True)
        channels = 1 if out.shape[2] in (1, 2) else 3
        picture = out[rows, cols, :channels]
        out[rows, cols, :channels] = picture * (1.0 - weight) + colour * weight
        return out


def _soften(cover: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0.05:
        return cover
    return cv2.GaussianBlur(cover, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)


def _pixel_coverage(lower: np.ndarray, upper: np.ndarray, lo: float | np.ndarray, hi: float | np.ndarray
                    ) -> np.ndarray:
    """How much of each pixel [lower, upper] the interval [lo, hi] covers (0–1): exact anti-aliasing in 1-D."""
    return np.clip(np.minimum(upper, hi) - np.maximum(lower, lo), 0.0, 1.0)


def blobs(radius: np.ndarray, softness: np.ndarray, peak: np.ndarray, rng: np.random.Generator,
          roughness: float = 0.25) -> tuple[np.ndarray, int]:
    """Irregular soft blobs (dust specks, dirt, stains), all drawn at once: returns (covers (n, P, P), half) with
    each blob's centre at [half, half] of its patch (plus a random sub-pixel offset: specks are not
    pixel-aligned).

    Each outline's radius wobbles with angle (three random harmonics, `roughness` their total share) and is
    flattened along a random direction; the inside is covered by `peak`, the edge anti-aliased and then
    softened by a Gaussian of sigma `softness` (zero outside the patch, as if blurred with a constant border).
    """
    count = radius.size
    half = int(np.ceil(float(np.max(radius)) * (1.0 + roughness) + EDGE_REACH * float(np.max(softness)) + 1.0))
    grid = np.arange(-half, half + 1, dtype=np.float32)
    jitter = rng.uniform(-0.5, 0.5, (count, 2, 1, 1)).astype(np.float32)
    dy = grid[None, :, None] - jitter[:, 0]
    dx = grid[None, None, :] - jitter[:, 1]
    angle = np.arctan2(dy, dx)
    amplitudes = (rng.dirichlet(np.ones(3), count) * roughness).astype(np.float32)
    phases = rng.uniform(0.0, 2.0 * np.pi, (count, 3)).astype(np.float32)
    wobble = np.ones_like(angle)
    for harmonic in range(3):
        wobble += amplitudes[:, harmonic, None, None] * np.cos((harmonic + 2) * angle + phases[:, harmonic, None, None])
    squash = rng.uniform(0.6, 1.0, (count, 1, 1)).astype(np.float32)  # dust is rarely round
    turn = rng.uniform(0.0, np.pi, (count, 1, 1)).astype(np.float32)
    along = dx * np.cos(turn) + dy * np.sin(turn)
    across = -dx * np.sin(turn) + dy * np.cos(turn)
    edge = np.maximum(radius[:, None, None] * wobble, 0.35) - np.hypot(along, across / squash)
    cover = np.clip(edge + 0.5, 0.0, 1.0).astype(np.float32)
    kernels = _gaussian_matrices(grid, np.asarray(softness, np.float32))
    cover = kernels @ cover @ kernels.transpose(0, 2, 1)  # separable blur, one sigma per blob
    return cover * np.asarray(peak, np.float32)[:, None, None], half


def _gaussian_matrices(grid: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """(n, P, P) matrices that blur a P-sample line by a Gaussian of sigma[n] (samples beyond the line are 0)."""
    spread = np.maximum(sigma, 0.05)[:, None, None]
    offsets = grid[None, :, None] - grid[None, None, :]
    line = np.arange(-2 * grid.size, 2 * grid.size + 1, dtype=np.float32)[None, None, :]
    total = np.exp(-0.5 * (line / spread) ** 2).sum(axis=2, keepdims=True)  # the whole kernel, not the patch's cut
    return (np.exp(-0.5 * (offsets / spread) ** 2) / total).astype(np.float32)


def hair(length: float, width: float, softness: float, peak: float, rng: np.random.Generator
         ) -> tuple[np.ndarray, int, int]:
    """A hair or fibre: a thin curve of `length` px whose direction bends smoothly; returns (cover, top, left)
    where top/left are the patch corner relative to the hair's start point."""
    steps = max(int(length / 2.0), 4)
    bend = np.cumsum(rng.normal(0.0, 0.07, steps))  # curvature varies slowly along the hair
    heading = float(rng.uniform(0.0, 2.0 * np.pi)) + np.cumsum(bend * 0.35)
    step = length / steps
    points = np.zeros((steps + 1, 2))
    points[1:, 0] = np.cumsum(np.cos(heading) * step)
    points[1:, 1] = np.cumsum(np.sin(heading) * step)
    margin = int(np.ceil(EDGE_REACH * softness + width + 2))
    low = np.floor(points.min(axis=0)) - margin
    size = (np.ceil(points.max(axis=0)) + margin - low + 1).astype(int)
    scale = HAIR_SUPERSAMPLE
    canvas = np.zeros((size[1] * scale, size[0] * scale), np.uint8)
    curve = np.round((points - low + 0.5) * scale * 16).astype(np.int32)  # 4 fractional bits: smooth sub-pixel path
    thickness = max(int(round(width * scale)), 1)
    cv2.polylines(canvas, [curve.reshape(-1, 1, 2)], False, 255, thickness, cv2.LINE_AA, shift=4)
    cover = cv2.resize(canvas, (int(size[0]), int(size[1])), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return _soften(cover, softness) * np.float32(peak), int(low[1]), int(low[0])


def scratch_band(height: int, centre: float, width: float, softness: float, tilt: float, strength: np.ndarray
                 ) -> tuple[np.ndarray, int]:
    """A vertical scratch over the whole frame height: returns (cover of shape (height, band), first column).

    The line's column at row y is `centre + tilt · (y − height/2)`; `strength` (height,) is its opacity along
    the line (scratches fade and return as the pressure on the film changes).
    """
    reach = int(np.ceil(width / 2.0 + EDGE_REACH * softness + abs(tilt) * height / 2.0 + 2.0))
    left = int(np.floor(centre)) - reach
    columns = np.arange(left, left + 2 * reach + 1, dtype=np.float32)
    rows = np.arange(height, dtype=np.float32)
    line = (centre + tilt * (rows - height / 2.0))[:, None]
    cover = _pixel_coverage(columns - 0.5, columns + 0.5, line - width / 2.0, line + width / 2.0).astype(np.float32)
    if softness > 0.05:  # soften across the line only: along it the scratch is continuous
        cover = cv2.GaussianBlur(cover, (0, 0), sigmaX=softness, sigmaY=0.01, borderType=cv2.BORDER_CONSTANT)
    return cover * strength[:, None].astype(np.float32), left


def smooth_profile(length: int, rng: np.random.Generator, low: float, high: float, knots: int = 6) -> np.ndarray:
    """A slowly varying random curve of `length` samples between `low` and `high` (a scratch's strength
    along its length): random values at a few knots, linearly joined."""
    positions = np.linspace(0.0, length - 1.0, knots)
    values = rng.uniform(low, high, knots)
    return np.interp(np.arange(length, dtype=np.float64), positions, values).astype(np.float32)
