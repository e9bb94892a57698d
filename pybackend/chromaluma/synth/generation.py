"""Generation loss: what each print-of-a-print (contact or optical duplication) does to the picture.

The physics imitated, per generation `N`:

- **Blur.** Every printing step spreads light in the printer gate and in the emulsion (irradiation, halation):
  a Gaussian point-spread of `blur` pixels (at 1920 pixels across) per generation, accumulating as `√N`.
- **Contrast build-up.** Print stock has a gamma above 1 in density; printing a print multiplies gammas, so
  each generation stretches densities about mid-grey by `contrast` (shadows block up, highlights burn out).
- **Grain at the stock's size.** Each generation adds its own silver-halide/dye-cloud grain: density noise per
  dye layer, spatially correlated over the stock's grain size (16mm grain is large relative to the frame,
  35mm smaller), stronger in the mid-tones where dye clouds are neither sparse nor merged.
- **Gate weave.** The film never sits in exactly the same place in the printer gate: a sub-pixel to
  one-pixel random shift per frame.

Every frame draws its own grain and weave from `(seed, frame index)`, so a shot is reproducible and frames are
independent of the order they are rendered in. Zero generations returns the frame unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from chromaluma.errors import ParameterError
from chromaluma.synth.density import display_to_transmittance, shift_density, transmittance_to_density

REFERENCE_WIDTH = 1920.0  # blur, grain size and weave are given for a frame this wide and scaled to others
MID_GREY_DENSITY = 0.75  # -log10(0.18)


@dataclass(frozen=True)
class GrainStock:
    """A print stock's grain: spatial size (pixels at 1920 wide) and density amplitude (standard deviation)."""

    name: str
    grain_size: float
    grain_density: float


STOCKS = {
    "16mm": GrainStock("16mm", grain_size=1.6, grain_density=0.045),
    "35mm": GrainStock("35mm", grain_size=0.9, grain_density=0.025),
    "super8": GrainStock("super8", grain_size=2.4, grain_density=0.06),
}


@dataclass(frozen=True)
class PrintGeneration:
    """How many printing generations separate the scan from the camera negative, and their character."""

    generations: int = 1
    stock: str = "16mm"
    blur: float = 0.9
    contrast: float = 1.10
    weave: float = 0.5

    def __post_init__(self) -> None:
        if self.generations < 0:
            raise ParameterError(f"--generation {self.generations}: give 0 (none) or more printing generations.")
        if self.stock not in STOCKS:
            raise ParameterError(f"stock {self.stock!r}: choose one of {', '.join(sorted(STOCKS))}.")


def print_generations(rgb: np.ndarray, loss: PrintGeneration, seed: int, frame_index: int) -> np.ndarray:
    """Frame `frame_index` of a shot after `loss.generations` printing steps (display-referred HWC, 0–1)."""
    if loss.generations == 0:
        return rgb.astype(np.float32, copy=True)
    rng = np.random.default_rng([seed, frame_index, 0x6E6])
    scale = rgb.shape[1] / REFERENCE_WIDTH
    out = _weave(rgb.astype(np.float32), loss.weave * scale * np.sqrt(loss.generations), rng)
    sigma = loss.blur * scale * np.sqrt(loss.generations)
    if sigma > 0.05:
        out[..., :3] = cv2.GaussianBlur(np.ascontiguousarray(out[..., :3]), (0, 0), sigma,
                                        borderType=cv2.BORDER_REFLECT)
    density = transmittance_to_density(display_to_transmittance(out[..., :3]))
    gamma = loss.contrast ** loss.generations
    change = (gamma - 1.0) * (density - MID_GREY_DENSITY)
    change += _grain(density, STOCKS[loss.stock], scale, loss.generations, rng)
    return shift_density(out, change)


def _weave(rgb: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Shift the frame by a random sub-pixel offset of about `amount` pixels (printer gate weave)."""
    dx, dy = rng.normal(0.0, amount, size=2) if amount > 0 else (0.0, 0.0)
    if abs(dx) < 1e-3 and abs(dy) < 1e-3:
        return rgb.copy()
    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], dtype=np.float64)
    height, width = rgb.shape[:2]
    moved = cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return moved.reshape(rgb.shape)


def _grain(density: np.ndarray, stock: GrainStock, scale: float, generations: int,
           rng: np.random.Generator) -> np.ndarray:
    """Density noise per dye layer, correlated over the grain size, strongest in the mid-tones."""
    noise = rng.standard_normal(density.shape).astype(np.float32)
    sigma = stock.grain_size * scale
    if sigma > 0.3:
        noise = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        noise /= max(float(noise.std()), 1e-6)
    # mid-tones grainiest: a bell over density, 1 at mid-grey, ~0.4 at clear base and at deep shadow
    tone = 0.4 + 0.6 * np.exp(-((density - MID_GREY_DENSITY) / 0.8) ** 2)
    return stock.grain_density * np.sqrt(generations) * tone * noise
