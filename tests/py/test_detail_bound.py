"""The luma benchmark's yardsticks (chromaluma.benchmarks.detail_bound): a linear filter fitted on the truth undoes
a linear degradation, moved neighbours add what one frame lacks, and the ceiling keeps only the colour error."""

from __future__ import annotations

import cv2
import numpy as np

from chromaluma.benchmarks.detail_bound import linear_bound, luma_ceiling
from chromaluma.metrics import psnr


def _shot(frames: int, shift: int, noise: float, blur: float, seed: int = 0) -> tuple[list[np.ndarray],
                                                                                      list[np.ndarray]]:
    """A panning textured grey shot (truth) and its scan: blurred by `blur` px, contrast lowered, grain added."""
    rng = np.random.default_rng(seed)
    world = cv2.GaussianBlur(rng.random((96, 160 + shift * frames)).astype(np.float32), (0, 0), 0.8)
    world = (world - world.min()) / (world.max() - world.min())
    truths, scans = [], []
    for index in range(frames):
        grey = world[:, index * shift: index * shift + 128]
        truth = np.repeat(grey[..., None], 3, axis=-1)
        blurred = cv2.GaussianBlur(truth, (0, 0), blur) if blur else truth
        truths.append(truth)
        grain = rng.normal(0, noise, truth.shape[:2] + (1,)).astype(np.float32)  # the same on R, G and B
        scans.append(np.clip(0.8 * blurred + 0.1 + grain, 0, 1))
    return scans, truths


def test_a_linear_degradation_is_largely_undone_by_the_bound():
    scans, truths = _shot(3, 0, 0.0, 1.2)
    restored = linear_bound(scans, truths, [0, 1, 2])
    before = np.mean([psnr(s, t) for s, t in zip(scans, truths, strict=True)])
    after = np.mean([psnr(r, t) for r, t in zip(restored, truths, strict=True)])
    assert after > before + 8.0, (before, after)


def test_neighbours_moved_by_flow_lower_the_bound_under_independent_grain():
    scans, truths = _shot(5, 2, 0.08, 0.0, seed=1)
    single = linear_bound(scans, truths, [2], radius=0)[0]
    window = linear_bound(scans, truths, [2], radius=2)[0]
    assert psnr(window, truths[2]) > psnr(single, truths[2]) + 1.0


def test_the_ceiling_gives_the_scan_the_truths_luma_and_keeps_its_colour_error():
    rng = np.random.default_rng(2)
    truth = rng.random((8, 8, 3)).astype(np.float32) * 0.5 + 0.25
    scan = truth * 0.7 + np.float32([0.05, 0.0, -0.05])
    ceiling = luma_ceiling(scan, truth)
    np.testing.assert_allclose(ceiling.mean(axis=-1), truth.mean(axis=-1), atol=1e-6)
    np.testing.assert_allclose(ceiling - ceiling.mean(axis=-1, keepdims=True),
                               scan - scan.mean(axis=-1, keepdims=True), atol=1e-6)
