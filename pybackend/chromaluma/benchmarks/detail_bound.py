"""How far a linear restoration can take the detail shots: the benchmark's yardstick for the luma goal.

The luma goal asks for a PSNR gain over the duplicate negative. What limits that gain is how much of the picture
the duplicate still carries: two print generations blur it, build up its contrast and add grain and damage. This
module measures the best any *linear* restoration can do — a 15×15-tap filter on the scan's luma (or on the
frame and its neighbours moved onto it by optical flow, as a temporal window sees them) plus an offset, added to
every channel — with the filter fitted by least squares **on the held-out frames' own truth**. No model trained
on the reference print can see that truth, so the result is an informative bound, not a method: a model beats it
only where it undoes what is not linear (dust, scratches, the grain's own shape).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from chromaluma.align.neighbours import compensated_neighbours

TAPS = 15  # the filter's side, px: wider than the two generations' blur
SAMPLES = 20_000  # pixels per frame the least-squares fit reads
_SEED = 0


def linear_bound(scans: Sequence[np.ndarray], truths: Sequence[np.ndarray], frames: Sequence[int],
                 radius: int = 0) -> list[np.ndarray]:
    """The frames `frames` of one shot restored by the linear filter fitted on their own truth (see the module
    docstring): `radius` neighbours on each side, moved by flow (the shot's ends repeat the nearest frame), join
    the centre frame's luma as inputs. Returns float32 RGB frames in 0–1."""
    planes = [_window_luma(scans, index, radius) for index in frames]
    rng = np.random.default_rng(_SEED)
    rows, targets = [], []
    for index, luma in zip(frames, planes, strict=True):
        height, width = luma[0].shape
        ys, xs = rng.integers(0, height, SAMPLES), rng.integers(0, width, SAMPLES)
        rows.append(_taps_at(luma, ys, xs))
        targets.append(_luma(truths[index])[ys, xs] - luma[0][ys, xs])
    weights = np.linalg.lstsq(np.concatenate(rows), np.concatenate(targets), rcond=None)[0]
    restored = []
    for index, luma in zip(frames, planes, strict=True):
        correction = np.full(luma[0].shape, weights[-1], np.float32)
        for plane, kernel in zip(luma, weights[:-1].reshape(len(luma), TAPS, TAPS), strict=True):
            correction += cv2.filter2D(plane, cv2.CV_32F, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)
        rgb = np.asarray(scans[index][..., :3], np.float32)
        restored.append(np.clip(rgb + correction[..., None], 0.0, 1.0))
    return restored


def luma_ceiling(scan: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The scan with the truth's luma: the same per-pixel residual on R, G and B (what a luma model may change)
    chosen to be the best there is, so the scan's own colour error is all that is left. No luma restoration can
    score above it."""
    rgb = np.asarray(scan[..., :3], np.float32)
    return np.clip(rgb + (_luma(truth) - _luma(rgb))[..., None], 0.0, 1.0)


def _window_luma(scans: Sequence[np.ndarray], index: int, radius: int) -> list[np.ndarray]:
    """Luma of frame `index`, then of its 2·radius neighbours moved onto it (the frame itself where no evidence)."""
    centre = np.asarray(scans[index], np.float32)
    lumas = [_luma(centre)]
    if radius:
        around = [min(max(index + step, 0), len(scans) - 1) for step in range(-radius, radius + 1) if step]
        moved = compensated_neighbours(centre, np.stack([np.asarray(scans[i], np.float32) for i in around]))
        for neighbour in moved:
            evidence = neighbour[..., 3]
            lumas.append(evidence * _luma(neighbour) + (1.0 - evidence) * lumas[0])
    return lumas


def _luma(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(frame[..., :3], np.float32).mean(axis=-1))


def _taps_at(planes: list[np.ndarray], ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """One least-squares row per (ys, xs): every plane's TAPS×TAPS neighbourhood (mirrored at the edges), then 1."""
    half = TAPS // 2
    columns = []
    for plane in planes:
        padded = np.pad(plane, half, mode="reflect")
        columns.extend(padded[ys + half + dy, xs + half + dx] for dy in range(-half, half + 1)
                       for dx in range(-half, half + 1))
    columns.append(np.ones(ys.shape, np.float32))
    return np.stack(columns, axis=1)
