"""Chroma models with smooth density: luma = scan luma + a band-limited ΔY; Cb, Cr, grain and detail untouched."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch
from torch import nn

from chromaluma.models import DENSITY_CELLS, ContractGraph, architecture_of, build_model
from chromaluma.models.colour import luma
from chromaluma.models.density import box_average, colour_on_smooth_density

SMALL = {"width": 8, "dilations": [1, 2]}


class _FixedGrid(nn.Module):
    """Stands in for the context network: returns a chosen grid (slopes 2, offsets 2, log sigma 1, ΔY 1)."""

    reach = 0

    def __init__(self, grid: torch.Tensor) -> None:
        super().__init__()
        self.grid = grid

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        assert stats.shape[2:] == self.grid.shape[2:]
        return self.grid


def _smooth_model(delta_y: torch.Tensor, colour: torch.Tensor | None = None) -> nn.Module:
    """A smooth-density chroma model whose network predicts `colour` (4 channels, default 0) and ΔY `delta_y`
    (log_sigma comes from the model's own confidence network)."""
    model = build_model("chroma", 0.25, {**SMALL, "density": "smooth"}).eval()
    colour = torch.zeros(1, 4, *delta_y.shape[2:]) if colour is None else colour
    model.net = _FixedGrid(torch.cat([colour, delta_y], dim=1))
    return model


def _cells(height: int, width: int, factor: int = 4) -> tuple[int, int]:
    return -(-height // factor), -(-width // factor)


def _colour_differences(rgb: torch.Tensor) -> torch.Tensor:
    y = luma(rgb)
    return torch.stack([rgb[..., 2] - y, rgb[..., 0] - y], dim=-1)  # Cb, Cr


def _correction(model: nn.Module, frame: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        restored, _ = model(frame)
    return (luma(restored) - luma(frame))[0].numpy()


def test_density_is_recorded_in_the_architecture_and_rebuilds(rng: np.random.Generator):
    smooth = build_model("chroma", 0.25, {**SMALL, "density": "smooth"})
    assert architecture_of(smooth) == {**SMALL, "density": "smooth", "temporal_radius": 0}
    again = build_model("chroma", 0.25, architecture_of(smooth))
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in smooth.state_dict().items()}
    assert architecture_of(build_model("chroma", 0.25, SMALL))["density"] == "keep"  # older cards lack the key
    assert "density" not in architecture_of(build_model("luma", 1.0, SMALL))
    assert smooth.net.head.out_channels == build_model("chroma", 0.25, SMALL).net.head.out_channels + 1
    assert smooth.receptive_field == (1 + 2 + 3 + DENSITY_CELLS // 2) * 4
    with pytest.raises(ValueError, match="keep, smooth"):
        build_model("chroma", 0.25, {"density": "sharp"})


def test_colour_differences_do_not_depend_on_the_density_correction(rng: np.random.Generator):
    frame = torch.from_numpy(rng.random((1, 37, 53, 4), dtype=np.float32))
    cells = _cells(37, 53)
    colour = torch.from_numpy(rng.normal(0.0, 0.2, (1, 4, *cells)).astype(np.float32))
    flat = _smooth_model(torch.zeros(1, 1, *cells), colour)
    shifted = _smooth_model(torch.from_numpy(rng.normal(0.0, 0.3, (1, 1, *cells)).astype(np.float32)), colour)
    with torch.no_grad():
        without, _ = flat(frame)
        with_density, _ = shifted(frame)
    assert float((luma(with_density) - luma(without)).abs().mean()) > 0.02  # the correction is there
    np.testing.assert_allclose(_colour_differences(with_density[..., :3]).numpy(),
                               _colour_differences(without[..., :3]).numpy(), atol=1e-5)
    np.testing.assert_allclose(luma(without).numpy(), luma(frame).numpy(), atol=2e-6)  # ΔY = 0: scan luma


def test_the_narrowest_correction_is_density_cells_wide():
    """A ΔY in one grid cell spreads evenly over DENSITY_CELLS cells each way (then bilinear): no detail finer."""
    height, width = 96, 96
    delta_y = torch.zeros(1, 1, *_cells(height, width))
    delta_y[0, 0, 12, 12] = 1.0
    correction = _correction(_smooth_model(delta_y), torch.full((1, height, width, 4), 0.5))
    assert correction.max() <= 1.0 / DENSITY_CELLS ** 2 + 1e-6
    touched = np.argwhere(np.abs(correction) > 1e-6)
    extent = touched.max(axis=0) - touched.min(axis=0) + 1
    assert (extent >= DENSITY_CELLS * 4).all(), extent
    plateau = correction[48 - 6:48 + 6, 48 - 6:48 + 6]  # the box's flat top, away from the bilinear ramps
    np.testing.assert_allclose(plateau, 1.0 / DENSITY_CELLS ** 2, atol=1e-6)


def _power_above(plane: np.ndarray, cutoff: float) -> float:
    power = np.abs(np.fft.fft2(plane - plane.mean())) ** 2
    fy, fx = np.fft.fftfreq(plane.shape[0])[:, None], np.fft.fftfreq(plane.shape[1])[None]
    return float(power[np.maximum(np.abs(fy), np.abs(fx)) > cutoff].sum() / power.sum())


def test_a_noisy_density_prediction_is_band_limited(rng: np.random.Generator):
    """Even white noise in ΔY (the worst case) leaves little power above 1/(DENSITY_CELLS·f) cycles per pixel: the
    box's side lobes pass some (about 12 %); without the box, two thirds would be there."""
    height, width = 160, 200
    delta_y = torch.from_numpy(rng.normal(0.0, 0.1, (1, 1, *_cells(height, width))).astype(np.float32))
    frame = torch.full((1, height, width, 4), 0.5)
    cutoff = 1.0 / (DENSITY_CELLS * 4)
    model = _smooth_model(delta_y)
    assert _power_above(_correction(model, frame), cutoff) < 0.2
    model.smooth = nn.Identity()  # what the test guards against: ΔY upsampled without the band limit
    assert _power_above(_correction(model, frame), cutoff) > 0.5


def test_the_scan_grain_passes_through_the_density_correction(rng: np.random.Generator):
    import cv2

    height, width = 96, 128
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    picture = 0.4 + 0.2 * np.sin(xx / 17.0)[..., None] * np.array([1.0, 0.6, 0.3], np.float32)
    grain = rng.normal(0.0, 0.03, (height, width, 1)).astype(np.float32)
    scan = np.concatenate([picture + grain, np.ones((height, width, 1), np.float32)], axis=2)[None]
    delta_y = torch.from_numpy(rng.normal(0.0, 0.1, (1, 1, *_cells(height, width))).astype(np.float32))
    model = _smooth_model(delta_y)
    frame = torch.from_numpy(scan)
    with torch.no_grad():
        restored, _ = model(frame)
    out_y, scan_y = luma(restored)[0].numpy(), luma(frame)[0].numpy()

    def high_pass(plane: np.ndarray) -> np.ndarray:
        return plane - cv2.blur(plane, (3, 3), borderType=cv2.BORDER_REFLECT)

    assert float(np.abs(out_y - scan_y).mean()) > 0.01  # a real correction was applied
    residual = high_pass(out_y) - high_pass(scan_y)
    assert float(residual.std()) < 0.05 * float(high_pass(scan_y).std()), (residual.std(), high_pass(scan_y).std())


def test_smooth_density_exports_within_the_plain_models_operators(tmp_path):
    import onnx

    from chromaluma.export import export_model

    card = {"kind": "chroma", "created": "now", "software": {}, "training": {}, "metrics": {}}
    operators = {}
    for density in ("keep", "smooth"):
        torch.manual_seed(0)
        model = build_model("chroma", 0.25, {**SMALL, "density": density})
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.2)  # export verifies ORT against torch on these
        path = export_model(model, tmp_path / f"{density}.onnx", "display", card)
        operators[density] = collections.Counter(node.op_type for node in onnx.load(str(path)).graph.node)
    assert set(operators["smooth"]) <= set(operators["keep"])
    assert operators["smooth"]["AveragePool"] == operators["keep"]["AveragePool"] + 1  # the fixed density box


def test_the_smooth_target_follows_the_reference_density_only_where_it_varies_slowly(rng: np.random.Generator):
    height, width = 64, 80
    scan = rng.random((height, width, 3), dtype=np.float32) * 0.5 + 0.25
    ramp = np.linspace(0.0, 0.2, width, dtype=np.float32)[None, :, None]
    detail = rng.normal(0.0, 0.05, (height, width, 1)).astype(np.float32)
    reference = scan + ramp + detail  # brighter in a smooth ramp, plus detail of its own
    target = colour_on_smooth_density(reference, scan, reference, 20)
    weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
    lift = target @ weights - scan @ weights
    inner = (slice(10, -10), slice(10, -10))
    np.testing.assert_allclose(lift[inner], box_average(ramp[..., 0] + detail[..., 0], 20)[inner],
                               atol=1e-5)
    assert np.abs(lift[inner] - np.broadcast_to(ramp[..., 0], lift.shape)[inner]).mean() < 0.01  # the ramp
    np.testing.assert_allclose(target - target @ weights[:, None], reference - reference @ weights[:, None],
                               atol=1e-5)  # the reference's colour differences
    mask = np.ones((height, width), np.float32)
    mask[:, :8] = 0.0
    reference_masked = reference.copy()
    reference_masked[:, :8] = 0.0  # no picture outside the mask: it must not pull the average down
    masked = colour_on_smooth_density(reference_masked, scan, reference_masked, 20, mask)
    assert np.abs((masked @ weights - scan @ weights)[:, 8:12]).mean() < 0.05


def test_contract_graph_confidence_still_in_range(rng: np.random.Generator):
    torch.manual_seed(1)
    model = build_model("chroma", 0.25, {**SMALL, "density": "smooth"}).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.3)
        frame = torch.from_numpy(rng.random((1, 19, 23, 4), dtype=np.float32))
        restored, confidence = ContractGraph(model)(frame)
    assert torch.equal(restored[..., 3], frame[..., 3])
    assert float(confidence.min()) >= 0.0 and float(confidence.max()) <= 1.0
