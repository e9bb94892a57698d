"""Damage-repair models (docs/CONTRACT.md §1.8, §2 format 4): the contract, export, and what process() makes of
the matte — repaired only where matte > 1 − sensitivity, every other pixel bit for bit as in src."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from chromaluma import contract
from chromaluma.backend import restore
from chromaluma.errors import ModelFormatError, ParameterError
from chromaluma.models import ContractGraph
from model_fixtures import (
    REPAIR_COLOUR,
    pointwise_model,
    repair_expected_matte,
    repair_graph,
    repair_model,
    repair_onnx,
    repair_torch_model,
    save_with_metadata,
)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("repair_models")
    return {"binary": repair_onnx(folder / "binary.onnx"), "graded": repair_onnx(folder / "graded.onnx", graded=True),
            "torch": repair_model(folder / "torch.onnx", radius=0), "window": repair_model(folder / "window.onnx"),
            "pointwise": pointwise_model(folder / "pointwise.onnx")}


def _bits(array: np.ndarray) -> np.ndarray:
    """Samples as unsigned integers of their width: float32 compared bit for bit (−0.0 ≠ 0.0, NaN payloads kept)."""
    return array.view(np.uint32) if array.dtype == np.float32 else array


def _scan(rng: np.random.Generator, dtype: np.dtype, *, opaque: bool, shape: tuple[int, int] = (24, 31)) -> tuple:
    """A frame of `dtype` (premultiplied RGBA) with damage (straight red > 0.95) at known pixels, and the straight
    colour the model sees; straight red elsewhere stays ≤ 0.8, far from repair_onnx's 0.9 level."""
    height, width = shape
    straight = rng.random((height, width, 4), dtype=np.float32)
    straight[..., 0] *= 0.8
    damage = rng.random((height, width)) < 0.3
    straight[..., 0][damage] = 0.95 + 0.05 * rng.random(int(damage.sum()), dtype=np.float32)
    straight[..., 3] = 1.0 if opaque else 0.5 + 0.5 * straight[..., 3]
    premultiplied = straight.copy()
    premultiplied[..., :3] *= premultiplied[..., 3:]
    if dtype == np.float32:
        return premultiplied, damage
    top = np.iinfo(dtype).max
    return np.round(premultiplied * top).astype(dtype), damage


def test_a_repair_export_is_format_5_and_onnx_runtime_gives_the_torch_matte(models):
    read = contract.read_model_contract(models["window"])
    assert (read.kind, read.format_version, read.has_matte, read.has_confidence) == ("repair", 5, True, True)
    assert (read.frames_before, read.frames_after) == (2, 2)
    rng = np.random.default_rng(3)
    window = rng.random((5, 19, 23, 4), dtype=np.float32)
    session = ort.InferenceSession(str(models["window"]), providers=["CPUExecutionProvider"])
    got = dict(zip(["restored", "confidence", "matte"], session.run(
        ["restored", "confidence", "matte"], {"image": window[2:3], "neighbours": window[[0, 1, 3, 4]]}), strict=True))
    with torch.no_grad():
        expected = ContractGraph(repair_torch_model(radius=2))(torch.from_numpy(window[2:3]),
                                                               torch.from_numpy(window[[0, 1, 3, 4]]))
    assert got["matte"].shape == (1, 19, 23, 1)
    for name, tensor in zip(["restored", "confidence", "matte"], expected, strict=True):
        np.testing.assert_allclose(got[name], tensor.numpy(), atol=1e-5)
    assert 0.0 <= got["matte"].min() and got["matte"].max() <= 1.0


def test_format_4_without_a_matte_is_refused(tmp_path):
    path = save_with_metadata(repair_graph(matte=False), tmp_path / "no_matte.onnx", kind="repair",
                              format_version=contract.REPAIR_FORMAT_VERSION)
    with pytest.raises(ModelFormatError, match="without the 'matte' output.*re-export the model") as caught:
        contract.read_model_contract(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("kind, version", [("pairs", contract.FORMAT_VERSION),
                                           ("pairs", contract.REPAIR_FORMAT_VERSION),
                                           ("repair", contract.FORMAT_VERSION)])
def test_a_matte_on_anything_but_a_format_4_repair_model_is_refused(tmp_path, kind, version):
    path = save_with_metadata(repair_graph(), tmp_path / "wrong.onnx", kind=kind, format_version=version)
    with pytest.raises(ModelFormatError, match="re-export the model"):
        contract.read_model_contract(path)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.uint16])
@pytest.mark.parametrize("opaque", [True, False])
def test_pixels_outside_the_matte_are_bit_exact(models, dtype, opaque):
    src, damage = _scan(np.random.default_rng(5), np.dtype(dtype), opaque=opaque)
    if dtype == np.float32:  # what must survive untouched outside the matte: −0.0 and a NaN with a payload
        src[0, 0, :3] = -0.0
        src[1, 1, 1] = np.array([0x7FC00123], dtype=np.uint32).view(np.float32)[0]
        damage[0, 0] = damage[1, 1] = False
    dst = np.zeros_like(src)
    matte = np.full(src.shape[:2], -1.0, dtype=np.float32)
    report = restore.process_frame(src, dst, {"model": str(models["binary"])}, matte=matte)
    assert report.has_matte
    np.testing.assert_array_equal(matte, damage.astype(np.float32))
    assert np.array_equal(_bits(dst[~damage]), _bits(src[~damage]))
    assert np.array_equal(_bits(dst[..., 3]), _bits(src[..., 3]))
    top = 1.0 if dtype == np.float32 else float(np.iinfo(dtype).max)
    alpha = src[..., 3:].astype(np.float64) / top
    expected = np.asarray(REPAIR_COLOUR) * alpha * top
    np.testing.assert_allclose(dst[damage][:, :3], expected[damage], atol=1e-5 if dtype == np.float32 else 1.0)


def test_sensitivity_0_leaves_the_frame_bit_identical(models):
    for model in ("binary", "graded", "torch"):
        for dtype in (np.float32, np.uint16):
            src, _ = _scan(np.random.default_rng(6), np.dtype(dtype), opaque=False)
            dst = np.zeros_like(src)
            restore.process(src, dst, {"model": str(models[model]), "sensitivity": 0})
            assert np.array_equal(_bits(dst), _bits(src)), (model, dtype)


def test_a_pixel_is_repaired_where_its_matte_is_strictly_above_1_minus_sensitivity(models):
    src = np.zeros((1, 6, 4), dtype=np.float32)
    src[..., 3] = 1.0
    src[0, :, 1] = [0.75, np.nextafter(np.float32(0.75), np.float32(1)), 0.5, 1.0, 0.0, 1e-6]  # matte = green
    matte = np.zeros((1, 6), dtype=np.float32)
    dst = np.zeros_like(src)
    restore.process_frame(src, dst, {"model": str(models["graded"]), "sensitivity": 0.25}, matte=matte)
    np.testing.assert_array_equal(matte[0], [0, 1, 0, 1, 0, 0])  # τ = 0.75: exactly 0.75 is not above it
    restore.process_frame(src, dst, {"model": str(models["graded"]), "sensitivity": 1.0}, matte=matte)
    np.testing.assert_array_equal(matte[0], [1, 1, 1, 1, 0, 1])  # τ = 0: everything the matte marks at all
    repaired = matte[0] == 1
    np.testing.assert_allclose(dst[0, repaired, :3], np.broadcast_to(REPAIR_COLOUR, (5, 3)), atol=1e-6)
    assert np.array_equal(_bits(dst[0, ~repaired]), _bits(src[0, ~repaired]))


def test_mix_and_mask_multiply_the_applied_matte_and_matte_mode_shows_it(models):
    src, damage = _scan(np.random.default_rng(7), np.dtype(np.float32), opaque=True)
    height, width = src.shape[:2]
    mask = np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1))
    params = {"model": str(models["binary"]), "mix": 0.5, "mask": mask}
    matte = np.zeros((height, width, 1), dtype=np.float32)
    dst = np.zeros_like(src)
    restore.process_frame(src, dst, params, matte=matte)
    applied = damage * 0.5 * mask
    np.testing.assert_allclose(matte[..., 0], applied, atol=1e-7)
    untouched = applied == 0  # outside the damage, and inside it where the mask is 0
    assert np.array_equal(_bits(dst[untouched]), _bits(src[untouched]))
    expected = src[..., :3] + applied[..., None] * (np.asarray(REPAIR_COLOUR, np.float32) - src[..., :3])
    np.testing.assert_allclose(dst[..., :3], expected, atol=1e-6)
    shown = np.zeros_like(src)
    restore.process(src, shown, {**params, "output_mode": "matte"})
    np.testing.assert_allclose(shown[..., :3], np.repeat(applied[..., None], 3, axis=2), atol=1e-7)
    assert np.array_equal(_bits(shown[..., 3]), _bits(src[..., 3]))
    difference = np.zeros_like(src)
    restore.process(src, difference, {**params, "output_mode": "difference"})
    np.testing.assert_allclose(difference[untouched][:, :3], 0.5, atol=1e-7)


@pytest.mark.parametrize("model", ["torch", "window"])
def test_tiles_blend_the_matte_and_keep_pixels_outside_it_bit_exact(models, model):
    rng = np.random.default_rng(8)
    src = rng.random((70, 90, 4), dtype=np.float32)
    src[..., 3] = 1.0
    neighbours = [rng.random(src.shape, dtype=np.float32) for _ in range(4)] if model == "window" else None
    params = {"model": str(models[model]), "sensitivity": 0.4, "neighbours": neighbours}
    results = {}
    for tile in (0, 32):
        dst, matte = np.zeros_like(src), np.zeros(src.shape[:2], dtype=np.float32)
        restore.process_frame(src, dst, {**params, "tile_size": tile}, matte=matte)
        results[tile] = dst, matte
        untouched = matte == 0
        assert 0.05 < untouched.mean() < 0.95  # the stand-in's matte crosses the threshold inside the frame
        assert np.array_equal(_bits(dst[untouched]), _bits(src[untouched]))
    whole, tiled = results[0][1], results[32][1]
    assert np.mean(whole != tiled) < 0.01  # the blended matte is the whole frame's, up to float summation order
    np.testing.assert_allclose(results[32][0], results[0][0], atol=1e-5)


def test_bottom_up_rows_give_the_top_down_matte(models):
    rng = np.random.default_rng(9)
    src = rng.random((40, 52, 4), dtype=np.float32)
    src[..., 3] = 1.0
    top_down, matte = np.zeros_like(src), np.zeros(src.shape[:2], dtype=np.float32)
    restore.process_frame(src, top_down, {"model": str(models["torch"])}, matte=matte)
    stored = np.ascontiguousarray(src[::-1])  # rows bottom-up in memory, as an OFX host holds them
    out, stored_matte = np.zeros_like(stored), np.zeros(stored.shape[:2], dtype=np.float32)
    restore.process_frame(stored[::-1], out[::-1], {"model": str(models["torch"])}, matte=stored_matte[::-1])
    bottom_up, bottom_up_matte = out[::-1], stored_matte[::-1]
    assert 0.05 < np.mean(matte == 0) < 0.95
    assert np.mean(bottom_up_matte != matte) < 0.01  # threshold ties only (float summation order)
    untouched = bottom_up_matte == 0
    assert np.array_equal(_bits(bottom_up[untouched]), _bits(src[untouched]))
    same = bottom_up_matte == matte
    np.testing.assert_allclose(bottom_up[same], top_down[same], atol=1e-5)


def test_matte_mode_and_matte_plane_are_refused_for_a_model_without_a_matte(models):
    src = np.zeros((4, 5, 4), dtype=np.float32)
    with pytest.raises(ParameterError, match=r"output_mode 'matte': .*pointwise.onnx has no damage matte \(only "
                                             r"repair models have one\); choose restored, confidence or difference"):
        restore.process(src, np.zeros_like(src), {"model": str(models["pointwise"]), "output_mode": "matte"})
    with pytest.raises(ParameterError, match="matte: .*has no damage matte"):
        restore.process_frame(src, np.zeros_like(src), {"model": str(models["pointwise"])},
                              matte=np.zeros((4, 5), dtype=np.float32))
    report = restore.process(None, None, {"model": str(models["pointwise"]), "sensitivity": 0.9})
    assert not report.has_matte
    assert restore.process(None, None, {"model": str(models["binary"])}).has_matte


@pytest.mark.parametrize("value", [True, "0.5", float("nan"), -0.01, 1.5, None, [0.5]])
def test_sensitivity_outside_0_to_1_is_refused_for_every_model(models, value):
    for model in ("binary", "pointwise"):
        with pytest.raises(ParameterError, match=r"sensitivity .*expected a number from 0 .* to 1") as caught:
            restore.process(None, None, {"model": str(models[model]), "sensitivity": value})
        assert "\n" not in str(caught.value)


def test_a_repair_candidate_everywhere_is_never_written_straight_into_dst(models):
    """Float32 RGBA, opaque, contiguous, mix 1: the shape ONNX Runtime could write into dst directly; the matte
    must still decide which pixels change."""
    src, damage = _scan(np.random.default_rng(10), np.dtype(np.float32), opaque=True)
    dst = np.zeros_like(src)
    restore.process(src, dst, {"model": str(models["binary"])})
    assert np.array_equal(_bits(dst[~damage]), _bits(src[~damage]))
    np.testing.assert_allclose(dst[damage][:, :3], np.broadcast_to(REPAIR_COLOUR, (int(damage.sum()), 3)), atol=1e-6)
    expected = repair_expected_matte(src[..., :3])
    assert np.array_equal(expected.astype(bool), damage)
