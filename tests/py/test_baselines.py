"""Classical baselines: each must improve a synthetic case it is designed for, on a held-out frame."""

from __future__ import annotations

import numpy as np
import pytest

from chromaluma.baselines import (
    BaselineNotFittedError,
    ColourLUT,
    DeconvolveLuma,
    DensityGrade,
    HistogramMatch,
    PolynomialColour,
    ReinhardTransfer,
    UnsharpLuma,
    gaussian_psf,
    non_decreasing,
)
from chromaluma.metrics import delta_e2000, psnr
from chromaluma.synth.fading import DyeFade, fade_dyes
from chromaluma.synth.shots import photo_shot


def _scene(rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A random colourful scene: smooth colour blobs plus a few hard-edged squares."""
    base = rng.uniform(0.1, 0.9, (4, 4, 3)).astype(np.float32)
    import cv2

    frame = cv2.resize(base, (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(4):
        y, x = rng.integers(0, size - 10, 2)
        frame[y:y + 10, x:x + 10] = rng.uniform(0.05, 0.95, 3)
    return np.clip(frame, 0.0, 1.0)


def _global_cast(frame: np.ndarray) -> np.ndarray:
    """A cast that is an affine change of each CIELAB channel: exactly what Reinhard transfer can undo."""
    from skimage.color import lab2rgb, rgb2lab

    lab = rgb2lab(frame.astype(np.float64))
    lab = lab * [0.9, 0.7, 0.7] + [4.0, 12.0, -6.0]
    return np.clip(lab2rgb(lab), 0, 1).astype(np.float32)


@pytest.mark.parametrize("baseline", [ReinhardTransfer(), HistogramMatch(), ColourLUT(), PolynomialColour()],
                         ids=lambda b: b.name)
def test_colour_baselines_undo_a_cast_on_a_held_out_frame(baseline) -> None:
    """Fitted on the first frames of a pan, applied to a later frame of the same shot (per-shot fitting)."""
    shot = photo_shot("coffee", 4, width=64, height=48, seed=1)
    train_truth, held_out = shot[:3], shot[3]
    baseline.fit([_global_cast(t) for t in train_truth], train_truth)
    before = delta_e2000(_global_cast(held_out), held_out).mean
    after = delta_e2000(baseline.apply(_global_cast(held_out)), held_out).mean
    assert after < 0.6 * before, f"{baseline.name}: ΔE {before:.2f} → {after:.2f}"


@pytest.mark.parametrize("baseline", [ColourLUT(), PolynomialColour()], ids=lambda b: b.name)
def test_fitted_colour_mappings_beat_reinhard_on_dye_fading(baseline, rng: np.random.Generator) -> None:
    """Dye fading is non-linear and mixes channels: a LUT or polynomial fitted on pairs must beat mean/std."""
    fade = DyeFade(0.7)
    train_truth = [_scene(rng) for _ in range(4)]
    held_out = _scene(rng)
    scans = [fade_dyes(t, fade) for t in train_truth]
    fitted = baseline.fit(scans, train_truth).apply(fade_dyes(held_out, fade))
    reinhard = ReinhardTransfer().fit(scans, train_truth).apply(fade_dyes(held_out, fade))
    assert delta_e2000(fitted, held_out).mean < 0.7 * delta_e2000(reinhard, held_out).mean


def test_masks_exclude_pixels_without_picture(rng: np.random.Generator) -> None:
    truth = _scene(rng)
    reference = truth.copy()
    reference[:, :16] = [1.0, 0.0, 1.0]  # a bar with no picture: must not be learnt
    mask = np.ones(truth.shape[:2], np.float32)
    mask[:, :16] = 0
    cast = _global_cast(truth)
    masked = PolynomialColour().fit([cast], [reference], [mask]).apply(cast)
    unmasked = PolynomialColour().fit([cast], [reference]).apply(cast)
    assert delta_e2000(masked, truth).mean < delta_e2000(unmasked, truth).mean


def _blurred_pair(index: int, sigma: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Frame `index` of a pan over a detailed photograph, and the same frame blurred by a Gaussian PSF."""
    from scipy.ndimage import convolve

    sharp = photo_shot("astronaut", 3, width=96, height=96, seed=2)[index]
    blurred = np.stack([convolve(sharp[..., c], gaussian_psf(sigma), mode="reflect") for c in range(3)], axis=-1)
    return blurred.astype(np.float32), sharp


@pytest.mark.parametrize("baseline", [UnsharpLuma(), DeconvolveLuma()], ids=lambda b: b.name)
def test_luma_baselines_sharpen_a_blurred_held_out_frame(baseline) -> None:
    pairs = [_blurred_pair(i) for i in range(2)]
    baseline.fit([blurred for blurred, _ in pairs], [sharp for _, sharp in pairs])
    blurred, sharp = _blurred_pair(2)
    restored = baseline.apply(blurred)
    assert restored.shape == sharp.shape
    assert psnr(restored, sharp) > psnr(blurred, sharp) + 0.5


def test_applying_before_fitting_says_what_to_do(rng: np.random.Generator) -> None:
    with pytest.raises(BaselineNotFittedError, match="fit"):
        ColourLUT().apply(_scene(rng))


def test_density_grade_is_a_monotonic_luma_curve_that_keeps_colour_differences() -> None:
    """Fitted on training pairs whose lightness was lifted and flattened; undoes it on a held-out frame."""
    shot = photo_shot("coffee", 4, width=64, height=48, seed=1)
    lifted = [np.clip(0.25 + 0.6 * t, 0, 1).astype(np.float32) for t in shot]  # milky blacks, lower contrast
    grade = DensityGrade().fit(lifted[:3], shot[:3])
    assert np.all(np.diff(grade.graded_nodes) >= 0)
    graded = grade.apply(lifted[3])
    weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
    before = np.abs((lifted[3] - shot[3]) @ weights).mean()
    assert np.abs((graded - shot[3]) @ weights).mean() < 0.3 * before
    inside = (graded > 0.001).all(axis=-1) & (graded < 0.999).all(axis=-1)
    change = graded - lifted[3]
    np.testing.assert_allclose(change[inside][:, 0], change[inside][:, 2], atol=1e-5)  # ΔY added to R, G, B alike
    assert np.all(np.diff(grade.curve(np.linspace(0, 1, 50))) >= -1e-7)


def test_non_decreasing_pools_violators() -> None:
    np.testing.assert_allclose(non_decreasing(np.array([1.0, 3.0, 2.0, 4.0]), np.ones(4)), [1.0, 2.5, 2.5, 4.0])
