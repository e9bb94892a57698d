"""The quality measures against known values."""

from __future__ import annotations

import numpy as np
import pytest

from chromaluma.metrics import delta_e2000, psnr, ssim


def test_delta_e_is_zero_for_identical_and_grows_with_colour_shift(rng: np.random.Generator):
    frame = rng.random((16, 16, 3), dtype=np.float32)
    assert delta_e2000(frame, frame).mean == 0.0
    small = delta_e2000(np.clip(frame + [0.02, 0, 0], 0, 1), frame).mean
    large = delta_e2000(np.clip(frame + [0.2, 0, 0], 0, 1), frame).mean
    assert 0 < small < large


def test_delta_e_known_pair_black_white_is_100():
    black, white = np.zeros((1, 1, 3), np.float32), np.ones((1, 1, 3), np.float32)
    assert delta_e2000(black, white).mean == pytest.approx(100.0, abs=0.01)


def test_delta_e_mask_excludes_invalid_pixels(rng: np.random.Generator):
    truth = rng.random((8, 8, 3), dtype=np.float32)
    result = truth.copy()
    result[:, :4] = 1.0 - result[:, :4]
    mask = np.zeros((8, 8), np.float32)
    mask[:, 4:] = 1.0
    assert delta_e2000(result, truth, mask).mean == 0.0
    assert delta_e2000(result, truth).mean > 1.0


def test_psnr_and_ssim_known_values():
    truth = np.full((32, 32, 3), 0.5, np.float32)
    assert psnr(truth + 0.1, truth) == pytest.approx(20.0, abs=1e-3)
    assert psnr(truth, truth) == float("inf")
    ramp = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))[..., None].repeat(3, axis=2)
    assert ssim(ramp, ramp) == pytest.approx(1.0)
    assert ssim(ramp, ramp[:, ::-1]) < 0.5
