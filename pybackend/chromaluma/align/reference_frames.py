"""A pair's reference frame as training sees it: rebuilt from its fields, warped onto the scan's pixel grid, with the
mask of where it has picture. Used by the pairs folder and by the alignment report's contact sheet."""

from __future__ import annotations

import cv2
import numpy as np

from chromaluma.align.pipeline import Alignment, PlannedPair
from chromaluma.align.spatial import validity_mask, warp_to_grid
from chromaluma.align.structure import Grid


def aligned_reference(alignment: Alignment, pair: PlannedPair) -> tuple[np.ndarray, np.ndarray]:
    """The reference frame for a pair (rebuilt from its two fields when they differ), warped onto the scan grid,
    and the 0/1 mask of where it has picture."""
    reference_shot = alignment.reference.shot
    top = reference_shot.read(pair.top_frame)[..., :3]
    picture = top if pair.top_frame == pair.bottom_frame else top.copy()
    if pair.top_frame != pair.bottom_frame:
        picture[1::2] = reference_shot.read(pair.bottom_frame)[1::2, :, :3]
    grid = Grid(alignment.scan.width, alignment.scan.height, np.eye(3))
    transform = alignment.transform_of_shot(pair.shot)
    warped = warp_to_grid(picture, transform, grid, cv2.INTER_CUBIC, cv2.BORDER_CONSTANT)
    box = _full_resolution_box(alignment)
    mask = validity_mask(box, transform, grid, margin=2.0)
    warped[~mask] = 0.0
    return warped, mask


def _full_resolution_box(alignment: Alignment) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = alignment.reference.box
    corners = alignment.reference.to_reference @ np.array([[x0 - 0.5, x1 - 0.5], [y0 - 0.5, y1 - 0.5], [1.0, 1.0]])
    return (int(np.ceil(corners[0, 0] + 0.5)), int(np.ceil(corners[1, 0] + 0.5)),
            int(np.floor(corners[0, 1] + 0.5)), int(np.floor(corners[1, 1] + 0.5)))
