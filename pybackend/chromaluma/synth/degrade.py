"""A whole shot degraded the way a surviving print is: printed (generation loss), stored (dye fading), handled
(damage). The order matters and follows the film's history: duplication happens first, the final print then
fades on the shelf, and dust and scratches land on that print last.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from chromaluma.synth.damage import DamagePlan
from chromaluma.synth.fading import DyeFade, fade_dyes, fade_for_shot
from chromaluma.synth.generation import PrintGeneration, print_generations
from chromaluma.synth.uneven import UnevenFade


@dataclass(frozen=True)
class Degradation:
    """Everything `chromaluma synth` does to a clean shot; each part at 0 leaves the shot unchanged."""

    fade: float = 0.6
    generations: int = 0
    damage: float = 0.0
    seed: int = 0
    stock: str = "16mm"
    film: str = "positive"
    vary_fade: bool = False  # vary each dye's fade rate slightly (seeded) instead of the nominal rates
    uneven: float = 0.0  # uneven fading 0–1: faded edges, blotches, drift along the shot (synth.uneven)


class ShotDegrader:
    """Degrades the frames of one shot; frame `i` always gets the same degradation for the same seed."""

    def __init__(self, degradation: Degradation, width: int) -> None:
        self.degradation = degradation
        self.fade = fade_for_shot(degradation.fade, degradation.seed) if degradation.vary_fade \
            else DyeFade(degradation.fade)
        self.printing = PrintGeneration(generations=degradation.generations, stock=degradation.stock)
        self.damage = DamagePlan.for_shot(width, degradation.damage, degradation.seed, degradation.film)
        self.uneven = UnevenFade(degradation.uneven, degradation.seed)

    def frame(self, clean: np.ndarray, index: int) -> np.ndarray:
        """Frame `index` of the shot, degraded (float32 HWC, 0–1, same channels as `clean`)."""
        printed = print_generations(clean, self.printing, self.degradation.seed, index)
        strength = None
        if self.degradation.uneven > 0.0:
            strength = self.uneven.strength_map(self.fade.strength, clean.shape[0], clean.shape[1], index)
        faded = fade_dyes(printed, self.fade, strength)
        return self.damage.apply(faded, index)


def degrade_shot(frames: Iterable[np.ndarray], degradation: Degradation) -> Iterator[np.ndarray]:
    """Degrade each clean frame in turn (lazily: frames are read and yielded one at a time)."""
    degrader: ShotDegrader | None = None
    for index, clean in enumerate(frames):
        if degrader is None:
            degrader = ShotDegrader(degradation, clean.shape[1])
        yield degrader.frame(clean, index)
