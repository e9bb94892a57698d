"""Picture structure that survives a colour change: luma, local-contrast-normalised detail, and their correlation.

A faded print and a DVD disagree about colour and tone by design, and grain and compression add their own
noise; what they share is where the edges are. Every comparison in `chromaluma.align` therefore looks at
*structure*: luma, lightly blurred, minus its local mean and divided by its local contrast. That is invariant to
any locally monotonic tone curve, so a fade, a grade or video levels do not change it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from chromaluma import contract

LUMA_WEIGHTS = np.array(contract.LUMA_WEIGHTS, dtype=np.float32)
BLACK_BAR_LEVEL = 0.08  # mean luma below which a reference row/column counts as a letterbox/pillarbox bar


def luma(frame: np.ndarray) -> np.ndarray:
    """Rec.709 luma of an RGB(A) or grey frame as float32 HxW (values as stored, no clamping)."""
    if frame.ndim == 2:
        return frame.astype(np.float32, copy=False)
    if frame.shape[2] < 3:
        return np.ascontiguousarray(frame[..., 0], dtype=np.float32)
    return np.ascontiguousarray(frame[..., :3] @ LUMA_WEIGHTS, dtype=np.float32)


def structure(image: np.ndarray, detail_sigma: float = 1.0, context_sigma: float = 4.0) -> np.ndarray:
    """Local-contrast-normalised luma: (blurred − local mean) / local contrast, in pixels of `image`."""
    image = np.nan_to_num(image.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
    detail = cv2.GaussianBlur(image, (0, 0), detail_sigma) if detail_sigma > 0 else image
    band = detail - cv2.GaussianBlur(detail, (0, 0), context_sigma)
    energy = cv2.GaussianBlur(band * band, (0, 0), context_sigma)
    floor = 0.05 * float(np.sqrt(np.mean(band * band))) + 1e-4  # flat areas stay quiet instead of amplifying noise
    return band / np.sqrt(energy + floor * floor)


def unit_vector(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """`image` (masked) as a zero-mean, unit-length float32 vector: dot products of these are correlations."""
    values = image.astype(np.float32).ravel()
    if mask is not None:
        weights = mask.astype(np.float32).ravel()
        values = (values - (values * weights).sum() / max(weights.sum(), 1.0)) * weights
    else:
        values = values - values.mean()
    norm = float(np.linalg.norm(values))
    return values / norm if norm > 1e-8 else values


def correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Normalised cross-correlation of two structure images over `mask` (bool or 0/1)."""
    return float(unit_vector(a, mask) @ unit_vector(b, mask))


def field_picture(frame_luma: np.ndarray, parity: int) -> np.ndarray:
    """One field (0 = top: rows 0, 2, …; 1 = bottom) brought back to full frame height at its true row positions."""
    rows = frame_luma[parity::2]
    height = frame_luma.shape[0]
    out = np.empty((height,) + frame_luma.shape[1:], dtype=np.float32)
    out[parity::2] = rows
    other = 1 - parity
    count = out[other::2].shape[0]
    # A missing row between two field rows is their mean; the row beyond the field's last one repeats it.
    above = rows[:count] if parity == 0 else np.concatenate([rows[:1], rows])[:count]
    below = rows[1 : count + 1] if parity == 0 else rows[:count]
    if below.shape[0] < count:
        below = np.concatenate([below, rows[-1:]])[:count]
    out[other::2] = 0.5 * (above + below)
    return out


def weave(top_frame: np.ndarray, bottom_frame: np.ndarray) -> np.ndarray:
    """A frame rebuilt from the top field of one frame and the bottom field of another (inverse telecine)."""
    woven = top_frame.copy()
    woven[1::2] = bottom_frame[1::2]
    return woven


def find_picture_box(luma_frames: list[np.ndarray]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the picture inside black letterbox/pillarbox bars, from a few frames' mean luma."""
    mean = np.mean(np.stack(luma_frames), axis=0)
    rows = np.flatnonzero(mean.mean(axis=1) > BLACK_BAR_LEVEL)
    cols = np.flatnonzero(mean.mean(axis=0) > BLACK_BAR_LEVEL)
    height, width = mean.shape
    if rows.size == 0 or cols.size == 0:
        return 0, 0, width, height
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


@dataclass(frozen=True)
class Grid:
    """A pixel grid on the scan: `size` (w, h) and the matrix from full-resolution scan pixels to it."""

    width: int
    height: int
    from_scan: np.ndarray

    @staticmethod
    def scaled(scan_width: int, scan_height: int, max_width: int) -> Grid:
        factor = min(1.0, max_width / scan_width)
        width, height = max(8, round(scan_width * factor)), max(8, round(scan_height * factor))
        fx, fy = width / scan_width, height / scan_height
        # Pixel centres at integers: x_grid = (x + 0.5)·f − 0.5, as cv2.resize samples.
        matrix = np.array([[fx, 0.0, 0.5 * fx - 0.5], [0.0, fy, 0.5 * fy - 0.5], [0.0, 0.0, 1.0]])
        return Grid(width, height, matrix)

    @property
    def scale(self) -> float:
        return float(self.from_scan[0, 0])

    def resize(self, image: np.ndarray) -> np.ndarray:
        """A full-resolution scan image on this grid (area-averaged)."""
        if image.shape[1] == self.width and image.shape[0] == self.height:
            return image.astype(np.float32, copy=False)
        return cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)

    def sigmas(self) -> tuple[float, float]:
        """Detail and context blur for structure on this grid: finer grids look at proportionally finer detail."""
        return 0.8, max(2.0, self.width / 80.0)
