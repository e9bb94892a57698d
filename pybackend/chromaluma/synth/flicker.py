"""Exposure flicker of a printed shot: each frame printed with a slightly different light.

A printer lamp that wanders, uneven development and splice fades change each frame's density by a small random
amount (all three dyes alike) and its colour balance by a smaller one (the printer's light valves per dye). Frame
`i` of a shot always gets the same change for the same seed, so frames can be rendered in any order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chromaluma.errors import ParameterError
from chromaluma.synth.density import shift_density


@dataclass(frozen=True)
class ExposureFlicker:
    """Frame-to-frame exposure flicker: `density` the standard deviation of a frame's density change (all dyes),
    `colour` that of each dye's own change (colour-balance flicker), both in density units."""

    density: float = 0.06
    colour: float = 0.015
    seed: int = 0

    def __post_init__(self) -> None:
        if self.density < 0.0 or self.colour < 0.0:
            raise ParameterError(f"exposure flicker density {self.density}, colour {self.colour}: both must be ≥ 0 "
                                 "(0 = steady exposure; 0.05 is a visibly flickering print).")

    def change(self, index: int) -> np.ndarray:
        """Frame `index`'s density change per dye (R, G, B)."""
        rng = np.random.default_rng([self.seed, index, 0xF11C])
        return (rng.normal(0.0, self.density) + rng.normal(0.0, self.colour, 3)).astype(np.float32)


def flicker_exposure(frames: Sequence[np.ndarray], flicker: ExposureFlicker) -> list[np.ndarray]:
    """Each frame of a shot (display-referred float HWC, 0–1) with its exposure flicker."""
    return [np.clip(shift_density(frame, flicker.change(index)), 0.0, 1.0) for index, frame in enumerate(frames)]
