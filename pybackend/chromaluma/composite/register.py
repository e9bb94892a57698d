"""Where each print's pixels sit on the first print: a reference→scan matrix per frame, its score and validity.

The prints of one shot show the same frames through different gates, printers and scanners: they differ by a
small shift, rotation and scale (gate weave, another scanner's framing), not by pulldown or crop. Each frame of
a print is therefore registered onto the first print's frame on its own (weave changes from frame to frame),
starting from the previous frame's matrix; the first frame starts from SIFT + RANSAC
(:func:`chromaluma.align.spatial.feature_transform`) or, where too few features agree (small or flat frames),
from phase correlation. ECC on colour-blind structure then refines it to sub-pixel precision
(:func:`chromaluma.align.spatial.refine_ecc`), so a faded or differently graded print registers as well as a
fresh one. Matrices follow docs/CONTRACT.md §5: this print's pixel coordinates → the first print's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from chromaluma.align.spatial import constrain, feature_transform, refine_ecc, validity_mask, warp_to_grid
from chromaluma.align.structure import Grid, correlation, structure

log = logging.getLogger(__name__)

MODEL = "similarity"  # prints of one shot differ by weave and framing: shift, rotation, scale
REGISTER_WIDTH = 1024  # ECC runs on a grid of the first print no wider than this
VALID_MARGIN = 1.5  # px of the first print's grid kept clear of a print's edge (no invented border pixels)


@dataclass(frozen=True)
class Registration:
    """One print's frame on the first print's grid: the matrix, the structural match score (0–1), validity."""

    matrix: np.ndarray
    score: float
    valid: np.ndarray  # bool H×W on the first print's full-resolution grid

    def warp(self, image: np.ndarray, height: int, width: int, nearest: bool = False) -> np.ndarray:
        """`image` (this print's pixels, H×W or H×W×C) resampled onto the first print's full-resolution grid."""
        grid = Grid(width, height, np.eye(3))
        flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        return warp_to_grid(image, self.matrix, grid, interpolation=flags)


def initial_matrix(first_luma: np.ndarray, print_luma: np.ndarray) -> np.ndarray:
    """A first guess of the print→first matrix: features where they agree, else phase correlation of the frames
    brought to one size (prints of one shot are framed alike, so a size difference is a scale)."""
    found = feature_transform(first_luma, print_luma, MODEL)
    if found is not None:
        return found
    height, width = first_luma.shape
    scale = np.array([[width / print_luma.shape[1], 0.0, 0.0], [0.0, height / print_luma.shape[0], 0.0],
                      [0.0, 0.0, 1.0]])
    resized = cv2.resize(print_luma, (width, height), interpolation=cv2.INTER_AREA)
    window = cv2.createHanningWindow((width, height), cv2.CV_32F)
    sigmas = (0.8, max(2.0, width / 80.0))
    (dx, dy), _ = cv2.phaseCorrelate(structure(resized, *sigmas), structure(first_luma, *sigmas), window)
    shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])
    return shift @ scale


def register(first_luma: np.ndarray, print_luma: np.ndarray, start: np.ndarray | None) -> Registration:
    """Register one frame of a print onto the first print's frame, from `start` (the previous frame's matrix)."""
    height, width = first_luma.shape
    guess = initial_matrix(first_luma, print_luma) if start is None else start
    grid = Grid.scaled(width, height, REGISTER_WIDTH)
    box = (0, 0, print_luma.shape[1], print_luma.shape[0])
    first_structure = structure(grid.resize(first_luma), *grid.sigmas())
    mask = validity_mask(box, guess, grid, margin=2.0 * grid.sigmas()[1])
    matrix = guess
    if mask.sum() >= 0.1 * mask.size:
        refined = refine_ecc(first_structure, print_luma, guess, grid, mask, MODEL)
        if refined is not None:
            matrix = constrain(refined, MODEL, print_luma.shape[1], print_luma.shape[0])
    score = _score(first_structure, print_luma, matrix, grid, box)
    if start is not None and score < 0.5:  # a jump the previous frame's matrix cannot reach: start afresh
        fresh = register(first_luma, print_luma, None)
        if fresh.score > score:
            return fresh
    valid = validity_mask(box, matrix, Grid(width, height, np.eye(3)), margin=VALID_MARGIN)
    return Registration(matrix, score, valid)


def _score(first_structure: np.ndarray, print_luma: np.ndarray, matrix: np.ndarray, grid: Grid,
           box: tuple[int, int, int, int]) -> float:
    """Structural correlation (0–1) of the first print and the warped print where the print has picture."""
    mask = validity_mask(box, matrix, grid, margin=2.0 * grid.sigmas()[1])
    if mask.sum() < 0.1 * mask.size:
        return 0.0
    warped = structure(warp_to_grid(print_luma, matrix, grid), *grid.sigmas())
    return max(0.0, correlation(first_structure, warped, mask))
