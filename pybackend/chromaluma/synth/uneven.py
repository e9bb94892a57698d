"""Uneven dye fading: how strongly a print has faded varies across each frame and from frame to frame.

The physics imitated:

- **Edge fading.** A print spends its life wound on a reel or core. Oxygen, moisture and the acetic acid of a
  decaying base reach the wound roll from its two flat sides, i.e. along the *film's edges* (the perforation
  sides): dye near the edges breaks down faster than in the middle of the film's width. In a projected frame the
  film's edges are its left and right sides, so fade strength rises towards the left and right of the picture,
  seldom equally on both sides (a reel stored flat has one side nearer the warm floor or shelf): each side gets
  its own seeded share.
- **Blotches.** Uneven processing (a wash or stabiliser bath that did not reach all of the emulsion evenly,
  drying marks) and uneven storage (damp spots, a can that was opened more often) leave residual chemicals and
  moisture in patches: a smooth, low-frequency variation of fade strength over the frame, a few patches across
  the width. Modelled as smooth random noise (a coarse seeded grid, cubic-interpolated), unit-ish variance.
- **Along the reel.** Each frame is a different piece of film, but neighbouring frames lay side by side in the
  roll and aged alike: the blotch pattern evolves slowly from frame to frame (a rotation between two seeded
  noise fields), and the overall strength drifts slowly (outer turns of a roll fade more than inner ones).

The result is a strength *map* per frame, `s(x, y, t) = base · drift(t) · (1 + edge · e(x) + blotch · n(x, y, t))`
clipped to 0–1, that :func:`chromaluma.synth.fading.fade_dyes` applies per pixel. `amount` (0–1) scales the
edge, blotch and drift terms together: 0 is the uniform fade (the map is the base strength everywhere). Every
frame's map is drawn from `(seed, frame index)` alone, so frames can be rendered in any order. Because the fade
differs from place to place and frame to frame, no single global colour mapping (a LUT, a grade) can undo it
exactly; the best any method can do is to read the local cast from the picture itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from chromaluma.errors import ParameterError

BLOTCH_CELLS = 4  # blotch patches across the frame width (low frequency: a few patches per frame)
BLOTCH_TURN = 0.12  # radians per frame the blotch pattern turns between its two noise fields
DRIFT_TURN = 0.2  # radians per frame of the slow strength drift


@dataclass(frozen=True)
class UnevenFade:
    """How unevenly a print faded: `amount` 0 (uniform) to 1 (the nominal unevenness below), and the seed.

    At amount 1: the film's edges fade up to `edge` (35 %) more than the centre, blotches vary the strength
    by about `blotch` (12 %, one standard deviation), and the whole frame's strength drifts by about `drift`
    (4 %) along the shot.
    """

    amount: float
    seed: int = 0
    edge: float = 0.35
    blotch: float = 0.12
    drift: float = 0.04

    def __post_init__(self) -> None:
        if not 0.0 <= self.amount <= 1.0:
            raise ParameterError(f"--uneven {self.amount}: uneven fading must lie in 0–1 (0 = the same fade "
                                 "everywhere, 1 = faded edges, blotches and a drift along the reel).")

    def strength_map(self, base: float, height: int, width: int, frame_index: int) -> np.ndarray:
        """Fade strength per pixel (H×W float32, 0–1) of frame `frame_index` for a nominal strength `base`."""
        if self.amount == 0.0 or base == 0.0:
            return np.full((height, width), base, np.float32)
        rng = np.random.default_rng([self.seed, 0x0E7])
        sides = rng.uniform(0.4, 1.0, size=2)  # left and right edge share: one side usually worse
        first, second = _noise_field(rng, height, width), _noise_field(rng, height, width)
        drift_a, drift_b, turn0 = rng.standard_normal(), rng.standard_normal(), rng.uniform(0.0, 2.0 * np.pi)
        angle = turn0 + BLOTCH_TURN * frame_index
        blotches = np.cos(angle) * first + np.sin(angle) * second
        drift_angle = DRIFT_TURN * frame_index
        drift = 1.0 + self.amount * self.drift * (np.cos(drift_angle) * drift_a + np.sin(drift_angle) * drift_b)
        factor = 1.0 + self.amount * (self.edge * edge_profile(width, sides)[None, :] + self.blotch * blotches)
        return np.clip(base * drift * factor, 0.0, 1.0).astype(np.float32)


def edge_profile(width: int, sides: np.ndarray) -> np.ndarray:
    """0 in the middle of the film's width rising to `sides` (left, right) at the frame's edges (width,)."""
    position = (np.arange(width, dtype=np.float32) + 0.5) / width * 2.0 - 1.0  # −1 left edge … +1 right edge
    rise = np.abs(position) ** 3  # fading creeps in from the edge: steep near it, nothing in the middle
    return np.where(position < 0, sides[0], sides[1]).astype(np.float32) * rise


def _noise_field(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth random field (H×W float32) with about unit standard deviation, `BLOTCH_CELLS` patches across."""
    cells_x = BLOTCH_CELLS + 3  # a border cell each side keeps the cubic interpolation smooth at the edges
    cells_y = int(np.ceil(BLOTCH_CELLS * height / width)) + 3
    grid = rng.standard_normal((cells_y, cells_x)).astype(np.float32)
    cell = width / BLOTCH_CELLS
    big = cv2.resize(grid, (int(round(cell * cells_x)), int(round(cell * cells_y))), interpolation=cv2.INTER_CUBIC)
    top, left = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
    field = big[top:top + height, left:left + width]
    return (field / max(float(field.std()), 1e-6)).astype(np.float32)
