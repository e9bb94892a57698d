"""Film density arithmetic shared by the degradation models.

A projected or scanned colour print is three dye layers in a clear base. Each layer absorbs one third of the
spectrum: cyan dye absorbs red light, magenta absorbs green, yellow absorbs blue. What the scanner measures
through the film is transmittance `T` (0–1) per channel, and what a densitometer reads is optical density
`D = -log10(T)`. Dye loss, fog and printing contrast all act additively or multiplicatively on density, which is
why every model in `chromaluma.synth` converts display-encoded pixels to density, works there, and converts back.

Display-referred frames are treated as sRGB-encoded transmittance (the usual telecine/scan delivery); the
sRGB transfer function is inverted to get linear transmittance.
"""

from __future__ import annotations

import numpy as np

# The thinnest transmittance we take a logarithm of: density 4.0, beyond any print's maximum density.
MIN_TRANSMITTANCE = 1e-4

# Integral density (what the scanner's red, green, blue channels read) from analytic dye amounts
# (cyan, magenta, yellow). Real dyes are not ideal block absorbers: magenta dye also absorbs some blue,
# cyan some green, yellow a little green. Columns are dyes, rows are the channels they darken.
DYE_CROSSTALK = np.array(
    [
        [1.00, 0.08, 0.02],  # red channel: cyan dye, plus a little magenta/yellow
        [0.12, 1.00, 0.06],  # green channel: magenta dye, plus cyan's and yellow's side absorption
        [0.04, 0.20, 1.00],  # blue channel: yellow dye, plus magenta's well-known blue absorption
    ],
    dtype=np.float64,
)
_CROSSTALK_INVERSE = np.linalg.inv(DYE_CROSSTALK)


def display_to_transmittance(rgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded display values (0–1) to linear transmittance (0–1); values outside 0–1 are clipped."""
    encoded = np.clip(rgb, 0.0, 1.0).astype(np.float32)
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4).astype(np.float32)


def transmittance_to_display(transmittance: np.ndarray) -> np.ndarray:
    """Linear transmittance back to sRGB-encoded display values, clipped to 0–1."""
    linear = np.clip(transmittance, 0.0, 1.0).astype(np.float32)
    encoded = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1.0 / 2.4) - 0.055)
    return np.clip(encoded, 0.0, 1.0).astype(np.float32)


def transmittance_to_density(transmittance: np.ndarray) -> np.ndarray:
    """Optical density `-log10(T)` per channel, with T floored at :data:`MIN_TRANSMITTANCE`."""
    return (-np.log10(np.maximum(transmittance, MIN_TRANSMITTANCE))).astype(np.float32)


def density_to_dyes(density: np.ndarray) -> np.ndarray:
    """Integral RGB densities (…, 3) to analytic cyan, magenta, yellow dye amounts (…, 3)."""
    return (density @ _CROSSTALK_INVERSE.T.astype(np.float32)).astype(np.float32)


def dyes_to_density(dyes: np.ndarray) -> np.ndarray:
    """Analytic cyan, magenta, yellow dye amounts (…, 3) to the integral RGB densities a scanner reads."""
    return (dyes @ DYE_CROSSTALK.T.astype(np.float32)).astype(np.float32)


def shift_density(rgb: np.ndarray, density_change: np.ndarray, floor: bool = False) -> np.ndarray:
    """Add `density_change` (broadcastable to rgb's RGB) to a display frame's density and re-encode.

    Done multiplicatively on transmittance (`T' = T · 10^-ΔD`) so a zero change returns the frame unchanged
    even where T is 0. With `floor`, T is first raised to :data:`MIN_TRANSMITTANCE` (a real print's maximum
    density), so that a density loss lifts even pure black. Extra channels (alpha) pass through.
    """
    transmittance = display_to_transmittance(rgb[..., :3])
    if floor:
        transmittance = np.maximum(transmittance, MIN_TRANSMITTANCE)
    shifted = transmittance * np.power(10.0, -density_change).astype(np.float32)
    out = rgb.astype(np.float32, copy=True)
    out[..., :3] = transmittance_to_display(shifted)
    return out
