"""Dye fading of chromogenic colour stock: the magenta cast of a faded Eastmancolor print.

The physics imitated:

- **Unequal dye stability.** In dark storage the cyan and yellow image dyes of 1950s–1980s chromogenic prints
  break down faster than the magenta dye. Losing cyan lets more red light through, losing yellow lets more blue
  through, and the surviving magenta keeps absorbing green: the print drifts to the familiar magenta/red cast.
  Each dye keeps a fraction `retention = 1 - strength · rate` of its density, with cyan and yellow rates larger
  than magenta's.
- **Non-linear per-dye density curves.** Dye loss is not a uniform scale: thin dye deposits (highlights,
  pale colours) lose proportionally more than dense ones, so the fade also reshapes each layer's
  characteristic curve. Modelled as `retention ** (1 + thin_dye_loss · exp(-amount / 0.5))`.
- **Loss of saturation and contrast.** Fading lowers each layer's maximum density (blacks turn milky) and dye
  migration between layers blends the three records (saturation drops); the blend is towards the layers' mean.
- **Base fog.** Aging base and gelatin acquire a neutral fog density, greying the whites.

All of this acts on analytic dye amounts (see :mod:`chromaluma.synth.density`), not on RGB. Strength 0 returns
the frame unchanged. A shot's fade can be varied slightly from the nominal rates with a seed
(:func:`fade_for_shot`), as two reels of the same title never fade identically, and the strength can vary
across the frame and along the shot (:mod:`chromaluma.synth.uneven`), as no print fades evenly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from chromaluma.errors import ParameterError
from chromaluma.synth.density import (
    density_to_dyes,
    display_to_transmittance,
    dyes_to_density,
    shift_density,
    transmittance_to_density,
)


@dataclass(frozen=True)
class DyeFade:
    """How far a print has faded (`strength` 0–1) and how each dye layer responds."""

    strength: float
    cyan_rate: float = 0.85
    magenta_rate: float = 0.20
    yellow_rate: float = 0.70
    thin_dye_loss: float = 0.6
    dye_migration: float = 0.25
    fog_density: float = 0.06

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise ParameterError(f"--fade {self.strength}: fade strength must lie in 0–1 (0 = unfaded, "
                                 "0.6 = a typical faded 1970s print, 1 = almost only magenta left).")

    @property
    def retention(self) -> np.ndarray:
        """Fraction of cyan, magenta, yellow density kept at a dense deposit."""
        rates = np.array([self.cyan_rate, self.magenta_rate, self.yellow_rate], dtype=np.float32)
        return np.clip(1.0 - self.strength * rates, 0.02, 1.0)


def fade_for_shot(strength: float, seed: int) -> DyeFade:
    """The nominal fade with each dye's rate varied by up to ±10 % (seeded): one reel's own fade."""
    rng = np.random.default_rng(seed)
    base = DyeFade(strength)
    jitter = 1.0 + rng.uniform(-0.1, 0.1, size=3)
    return replace(base, cyan_rate=base.cyan_rate * jitter[0], magenta_rate=base.magenta_rate * jitter[1],
                   yellow_rate=base.yellow_rate * jitter[2])


def fade_dyes(rgb: np.ndarray, fade: DyeFade, strength: np.ndarray | None = None) -> np.ndarray:
    """A display-referred frame (HWC, RGB or RGBA, 0–1) as it looks after `fade`; alpha passes through.

    `strength` (H×W, 0–1), when given, replaces `fade.strength` pixel by pixel: an unevenly faded print
    (:mod:`chromaluma.synth.uneven`). Without it every pixel fades by `fade.strength`.
    """
    if strength is None and fade.strength == 0.0:
        return rgb.astype(np.float32, copy=True)
    level = fade.strength if strength is None else np.asarray(strength, np.float32).reshape(rgb.shape[:2])[..., None]
    rates = np.array([fade.cyan_rate, fade.magenta_rate, fade.yellow_rate], dtype=np.float32)
    retention = fade.retention if strength is None else np.clip(1.0 - level * rates, 0.02, 1.0)
    density = transmittance_to_density(display_to_transmittance(rgb[..., :3]))
    dyes = np.maximum(density_to_dyes(density), 0.0)
    shape = np.exp(-dyes / 0.5)
    faded = dyes * np.power(retention, 1.0 + fade.thin_dye_loss * shape)
    migration = level * fade.dye_migration
    faded = (1.0 - migration) * faded + migration * faded.mean(axis=-1, keepdims=True)
    change = dyes_to_density(faded) - dyes_to_density(dyes) + level * fade.fog_density
    return shift_density(rgb, change, floor=True)
