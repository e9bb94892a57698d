"""Physical damage on a film: dust, vertical scratches and exposure flicker.

The physics imitated:

- **Dust and dirt.** A particle on the film blocks light. On the film being scanned it shows dark; on the
  negative a print was struck from it blocked the printing light, so on the *print* it shows white. Hence a
  positive (print) shows mostly white specks with some black ones (dirt on the print itself), and a negative
  scan shows black specks. Specks last one frame and are soft-edged blobs of 1–6 pixels.
- **Vertical scratches.** Running the film through a projector or printer with grit in the gate cuts a line
  along the film: in a shot it stays at nearly the same column, wandering slowly, and flickers in strength.
  An emulsion scratch on a print removes dye (a bright line), a base scratch scatters light (a dark line).
- **Flicker.** Uneven exposure from frame to frame (printer lamp, uneven development, fading at the edges of
  splices): each frame's density moves by a small random amount.

`amount` (0–1) scales all three; 0 returns the frame unchanged. A shot's scratches are planned once from the
seed (:meth:`DamagePlan.for_shot`) and drawn per frame, so frames can be rendered in any order.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from chromaluma.errors import ParameterError
from chromaluma.synth.density import shift_density

SPECKS_PER_MEGAPIXEL = 30.0
FLICKER_DENSITY = 0.05  # standard deviation of a frame's density change at amount 1


@dataclass(frozen=True)
class Scratch:
    """One vertical scratch: start column, drift per frame (pixels), width, bright (emulsion) or dark (base)."""

    column: float
    drift: float
    width: float
    bright: bool


@dataclass(frozen=True)
class DamagePlan:
    """What damage a shot carries: the amount, the film's polarity, its scratches, and the seed for per-frame draws."""

    amount: float
    film: str
    scratches: tuple[Scratch, ...]
    seed: int

    @classmethod
    def for_shot(cls, width: int, amount: float, seed: int, film: str = "positive") -> DamagePlan:
        if not 0.0 <= amount <= 1.0:
            raise ParameterError(f"--damage {amount}: damage amount must lie in 0–1 (0 = clean, 1 = heavily worn).")
        if film not in ("positive", "negative"):
            raise ParameterError(f"film {film!r}: choose 'positive' (a print) or 'negative'.")
        rng = np.random.default_rng([seed, 0xDA3])
        count = int(rng.binomial(4, amount)) if amount > 0 else 0
        scratches = tuple(Scratch(column=float(rng.uniform(0.05, 0.95) * width), drift=float(rng.normal(0, 0.3)),
                                  width=float(rng.uniform(0.8, 2.0)), bright=bool(rng.random() < 0.6))
                          for _ in range(count))
        return cls(amount, film, scratches, seed)

    def apply(self, rgb: np.ndarray, frame_index: int) -> np.ndarray:
        """Frame `frame_index` of the shot with this plan's damage (display-referred HWC, 0–1)."""
        if self.amount == 0.0:
            return rgb.astype(np.float32, copy=True)
        rng = np.random.default_rng([self.seed, frame_index, 0xD57])
        flicker = float(rng.normal(0.0, FLICKER_DENSITY * self.amount))
        out = shift_density(rgb, np.full(3, flicker, dtype=np.float32))
        height, width = out.shape[:2]
        value, weight = self._speck_layer(height, width, rng)
        self._scratch_layer(value, weight, frame_index, rng)
        out[..., :3] = out[..., :3] * (1.0 - weight[..., None]) + value[..., None] * weight[..., None]
        return np.clip(out, 0.0, 1.0) if out.shape[-1] == 3 else _clip_colour(out)

    def _speck_layer(self, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel speck value (0 black, 1 white) and opacity for one frame's dust."""
        value = np.zeros((height, width), dtype=np.float32)
        weight = np.zeros((height, width), dtype=np.float32)
        count = int(rng.poisson(SPECKS_PER_MEGAPIXEL * self.amount * height * width / 1e6))
        white_share = 0.8 if self.film == "positive" else 0.0
        for _ in range(count):
            centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            axes = (int(rng.integers(1, 6)), int(rng.integers(1, 4)))
            shade = 1.0 if rng.random() < white_share else 0.0
            cv2.ellipse(value, centre, axes, float(rng.uniform(0, 180)), 0, 360, shade, -1)
            cv2.ellipse(weight, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        if count:
            weight = cv2.GaussianBlur(weight, (0, 0), 0.7)
        return value, weight

    def _scratch_layer(self, value: np.ndarray, weight: np.ndarray, frame_index: int,
                       rng: np.random.Generator) -> None:
        """Draw this frame's part of each scratch into the speck layer (in place)."""
        columns = np.arange(value.shape[1], dtype=np.float32)
        for scratch in self.scratches:
            if rng.random() < 0.15:  # the scratch fades out for a frame now and then
                continue
            centre = scratch.column + scratch.drift * frame_index + float(rng.normal(0, 0.3))
            profile = np.exp(-0.5 * ((columns - centre) / (0.5 * scratch.width)) ** 2).astype(np.float32)
            strength = np.broadcast_to(self.amount * float(rng.uniform(0.4, 0.8)) * profile, weight.shape)
            take = strength > weight
            value[take] = 1.0 if scratch.bright else 0.0
            weight[take] = strength[take]


def _clip_colour(rgba: np.ndarray) -> np.ndarray:
    rgba[..., :3] = np.clip(rgba[..., :3], 0.0, 1.0)
    return rgba
