"""The torch model kinds: what each may change (chroma keeps luma, luma keeps chroma), alpha, and the tiling rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chromaluma.models import ContractGraph, build_model
from chromaluma.models.blocks import upsample_from_grid
from chromaluma.models.colour import luma

SMALL = {"width": 8, "dilations": [1, 2]}


def _perturbed(kind: str, processing_scale: float, architecture: dict | None = None, seed: int = 0):
    """A model of `kind` with random weights everywhere (the zero-initialised head would hide mistakes)."""
    torch.manual_seed(seed)
    model = build_model(kind, processing_scale, architecture).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.3)
    return model


def _frame(rng: np.random.Generator, height: int, width: int, top: float = 1.5) -> torch.Tensor:
    """Random RGBA in [0, top): includes scene-linear values above 1.0; alpha random too."""
    return torch.from_numpy(rng.random((1, height, width, 4), dtype=np.float32) * top)


@pytest.mark.parametrize("scale", [0.25, 0.5])
def test_chroma_output_luma_is_the_scan_luma(rng: np.random.Generator, scale: float):
    model = _perturbed("chroma", scale)
    frame = _frame(rng, 37, 53)
    with torch.no_grad():
        restored, _ = model(frame)
    assert not torch.allclose(restored[..., :3], frame[..., :3], atol=1e-2)  # it did change the colour
    np.testing.assert_allclose(luma(restored).numpy(), luma(frame).numpy(), rtol=1e-5, atol=2e-6)


def test_luma_model_keeps_the_scan_chroma(rng: np.random.Generator):
    model = _perturbed("luma", 1.0)
    frame = _frame(rng, 29, 31)
    with torch.no_grad():
        restored, _ = model(frame)
    assert not torch.allclose(luma(restored), luma(frame), atol=1e-2)
    for channel in (0, 2):  # Cr = R − Y, Cb = B − Y
        np.testing.assert_allclose((restored[..., channel] - luma(restored)).numpy(),
                                   (frame[..., channel] - luma(frame)).numpy(), atol=1e-5)


@pytest.mark.parametrize("kind", ["chroma", "luma", "pairs"])
def test_alpha_is_copied_bit_exact_and_confidence_is_in_range(rng: np.random.Generator, kind: str):
    model = _perturbed(kind, 1.0 if kind == "luma" else 0.25)
    frame = _frame(rng, 19, 23)
    with torch.no_grad():
        restored, confidence = ContractGraph(model)(frame)
    assert restored.shape == frame.shape and confidence.shape == (1, 19, 23, 1)
    assert torch.equal(restored[..., 3], frame[..., 3])
    assert float(confidence.min()) >= 0.0 and float(confidence.max()) <= 1.0


@pytest.mark.parametrize("kind", ["chroma", "luma", "pairs"])
def test_fresh_models_start_close_to_the_scan(rng: np.random.Generator, kind: str):
    torch.manual_seed(0)
    model = build_model(kind, 1.0 if kind == "luma" else 0.25).eval()
    frame = torch.from_numpy(np.repeat(np.repeat(rng.random((1, 8, 8, 4), dtype=np.float32), 4, 1), 4, 2))
    with torch.no_grad():
        restored, _ = model(frame)
    # flat 4×4 cells: the guided start point reproduces cell colours away from cell edges
    assert float((restored[:, 1:-1:4, 1:-1:4, :3] - frame[:, 1:-1:4, 1:-1:4, :3]).abs().mean()) < 0.1


@pytest.mark.parametrize(("kind", "scale", "density"), [("chroma", 0.25, None), ("pairs", 0.25, None),
                                                      ("chroma", 0.5, None), ("luma", 1.0, None),
                                                      ("chroma", 0.25, "smooth"), ("chroma", 0.5, "smooth")])
def test_an_aligned_region_with_receptive_field_context_reproduces_the_whole_frame(
        rng: np.random.Generator, kind: str, scale: float, density: str | None):
    model = _perturbed(kind, scale, {**SMALL, "density": density} if density else SMALL)
    factor, field = model.factor, model.receptive_field
    assert field % factor == 0
    frame = _frame(rng, 96, 88, top=1.0)
    with torch.no_grad():
        whole, _ = ContractGraph(model)(frame)
        top, left, height, width = 9 * factor, 7 * factor, 21, 19  # tile edges need not be aligned, only its origin
        for context, should_match in ((field, True), (field // 4, False)):
            y0, x0 = top - context, left - context
            y0, x0 = y0 - y0 % factor, x0 - x0 % factor  # grown regions start on the grid too
            region = frame[:, max(0, y0):top + height + context, max(0, x0):left + width + context]
            part, _ = ContractGraph(model)(region)
            oy, ox = top - max(0, y0), left - max(0, x0)
            difference = float((part[:, oy:oy + height, ox:ox + width] - whole[:, top:top + height,
                                                                               left:left + width]).abs().max())
            assert (difference <= 1e-4) == should_match, (context, difference)


def test_receptive_field_is_declared_in_full_resolution_pixels():
    chroma = build_model("chroma", 0.25, {"width": 8, "dilations": [1, 2, 4]})
    luma_model = build_model("luma", 1.0, {"width": 8, "dilations": [1, 2, 4]})
    assert chroma.receptive_field == (1 + 2 + 4 + 3) * 4  # bicubic confidence: 2 cells each side
    assert luma_model.receptive_field == 1 + 1 + 2 + 4
    with pytest.raises(ValueError, match="full resolution"):
        build_model("luma", 0.5)


@pytest.mark.parametrize("kind", ["chroma", "luma", "pairs"])
def test_context_network_convolves_channels_last(rng: np.random.Generator, kind: str):
    """Every convolution of the context network gets channels-last input: PyTorch's CPU depthwise and 1×1
    convolutions train several times faster on it (the training benchmark's steps/s), and NCHW slipping back in
    (a .contiguous() anywhere) would quietly cost about a third of the steps a `--minutes` budget buys."""
    model = _perturbed(kind, 1.0 if kind == "luma" else 0.25, SMALL)
    layouts: list[bool] = []
    for layer in model.net.modules():
        if isinstance(layer, torch.nn.Conv2d):
            layer.register_forward_pre_hook(
                lambda _, args: layouts.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    model(_frame(rng, 24, 40))
    assert len(layouts) == 2 + 2 * len(SMALL["dilations"]) + 1 and all(layouts), layouts


def test_grid_upsampling_writes_nhwc_memory(rng: np.random.Generator):
    """Upsampled coefficients come out NHWC in memory, like the scan they multiply: an NCHW result viewed as NHWC
    makes every full-resolution product and its backward run on mismatched layouts, which is slower. Training
    crops are whole grid cells (no crop after resizing); a frame with a partial cell is cropped, values exact."""
    grid = torch.from_numpy(rng.random((2, 4, 6, 5), dtype=np.float32))  # NCHW, as the grid network leaves it
    expected = torch.nn.functional.interpolate(grid, scale_factor=4.0, mode="bilinear", align_corners=False)
    for height, width in ((24, 20), (22, 19)):
        up = upsample_from_grid(grid, 4, torch.zeros(2, height, width, 4))
        torch.testing.assert_close(up, expected[:, :, :height, :width].permute(0, 2, 3, 1))
        if (height, width) == (24, 20):
            assert up.is_contiguous()


@pytest.mark.parametrize("scale", [0.25, 1.0])
@pytest.mark.parametrize("density", ["keep", "smooth"])
def test_chroma_training_planes_are_the_forward_result(rng: np.random.Generator, scale: float, density: str):
    """Training measures chroma models on `restored_planes` (luma, Cb, Cr, log_sigma at full resolution), a cheaper
    route to the same numbers: they must be forward's RGBA output in Y, Cb = B − Y, Cr = R − Y, and its log_sigma
    upsampled, also on a frame with partial grid cells; else training would optimise another model than the one
    exported."""
    model = _perturbed("chroma", scale, {**SMALL, "density": density})
    scan = _frame(rng, 22, 37)
    restored, log_sigma = model(scan)
    planes = model.restored_planes(scan)
    restored_luma = luma(restored)
    # one-pixel cells (scale 1) compute the guided filter's slope from a variance that is rounding noise over
    # GUIDE_EPS, which the two routes round differently; a swapped or missing term is off by 0.1 or more
    close = {"atol": 1e-4 if scale < 1.0 else 5e-3, "rtol": 1e-4}
    torch.testing.assert_close(planes.luma, restored_luma, **close)
    torch.testing.assert_close(planes.cb, restored[..., 2] - restored_luma, **close)
    torch.testing.assert_close(planes.cr, restored[..., 0] - restored_luma, **close)
    torch.testing.assert_close(planes.log_sigma, model.upsample(log_sigma, scan)[..., 0], **close)
    if density == "keep":  # luma is the scan's
        torch.testing.assert_close(planes.luma, luma(scan), atol=1e-6, rtol=1e-6)
