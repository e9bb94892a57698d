"""Density correction of chroma models: a smooth luma offset learnt from the reference, grain and detail kept.

Uneven fading, faded edges and blotches change a print's density (lightness) smoothly across the frame, while
its grain and detail must stay the scan's. A chroma model with `density="smooth"` predicts one more grid channel
ΔY, band-limits it with a fixed box average over DENSITY_CELLS grid cells (untrained) and adds it to R, G and B
equally: output luma = scan luma + smooth ΔY (Rec.709 weights sum to 1, so Cb and Cr do not change). The
correction is added, never multiplied, and has no detail finer than DENSITY_CELLS·f pixels (f = the grid
factor). With `density="keep"` (the default) output luma is the scan's exactly.

The numpy helpers give the same band limit (a box DENSITY_CELLS·f pixels wide) to training targets, validation
scores and the quality benchmark's floor row.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from chromaluma.contract import LUMA_WEIGHTS

DENSITY_MODES = ("keep", "smooth")
# Width of the density correction's box average, in grid cells: with the default grid factor 4, 20 pixels.
DENSITY_CELLS = 5


def check_density(density: str) -> str:
    """`density` if it is one of DENSITY_MODES, else ValueError naming the choices."""
    if density not in DENSITY_MODES:
        raise ValueError(f"density {density!r}: choose one of {', '.join(DENSITY_MODES)}")
    return density


def band_limit_px(factor: int) -> int:
    """The finest detail a smooth density correction can have, in full-resolution pixels (DENSITY_CELLS·f)."""
    return DENSITY_CELLS * factor


class SmoothDensity(nn.Module):
    """A fixed box average over DENSITY_CELLS×DENSITY_CELLS grid cells, stride 1, averaging only the cells inside
    the frame (count_include_pad=False), so a flat correction stays flat up to the frame's edges. No weights."""

    def forward(self, delta_y: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(delta_y, DENSITY_CELLS, stride=1, padding=DENSITY_CELLS // 2, count_include_pad=False)


def box_average(plane: np.ndarray, width: int, weights: np.ndarray | None = None) -> np.ndarray:
    """`plane` (H×W) averaged over a `width`×`width` box, using only the pixels inside the frame at its edges and,
    given `weights` (a 0/1 validity mask), only the valid ones (0 where a box holds none)."""
    import cv2

    weights = np.ones(plane.shape, np.float32) if weights is None else weights.astype(np.float32)
    if width <= 1:
        return (plane * (weights > 0)).astype(np.float32)
    size = (width, width)
    total = cv2.boxFilter((plane * weights).astype(np.float32), -1, size, normalize=False,
                          borderType=cv2.BORDER_CONSTANT)
    count = cv2.boxFilter(weights, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
    return np.where(count > 1e-6, total / np.maximum(count, 1e-6), 0.0).astype(np.float32)


def colour_on_smooth_density(colour: np.ndarray, scan: np.ndarray, density: np.ndarray, width: int,
                             valid: np.ndarray | None = None) -> np.ndarray:
    """`colour`'s Cb, Cr on the scan's luma plus the band-limited luma difference `density` − scan (H×W×3 RGB).

    The best a smooth-density chroma model can reach against `colour`: the density source's lightness where it
    varies slowly (over more than `width` pixels), the scan's grain and detail everywhere. `valid` (H×W, 0/1)
    keeps pixels where `density` is not valid out of the averages. Not clipped.
    """
    weights = np.asarray(LUMA_WEIGHTS, dtype=np.float32)
    scan_y = scan[..., :3] @ weights
    target_y = scan_y + box_average(density[..., :3] @ weights - scan_y, width, valid)
    return (colour[..., :3] + (target_y - colour[..., :3] @ weights)[..., None]).astype(np.float32)
