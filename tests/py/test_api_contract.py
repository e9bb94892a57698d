"""docs/CONTRACT.md §1, Python side: what `chromaluma.api.process` accepts, writes and refuses.

Expected values are computed here from the pointwise model's known formula (model_fixtures.pointwise_expected),
never taken from the code under test. The C++ plug-in's tests enforce the same page from the other side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chromaluma import api
from chromaluma.errors import ChromalumaError, ParameterError, PixelLayoutError
from model_fixtures import CONFIDENCE_VALUE, chroma_conv_model, luma_conv_model, pointwise_expected, pointwise_model

DTYPES = (np.float32, np.uint16, np.uint8)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("models")
    return {"pointwise": str(pointwise_model(folder / "pointwise.onnx")),
            "plain": str(pointwise_model(folder / "plain.onnx", confidence=False)),
            "luma": str(luma_conv_model(folder / "luma.onnx")),
            "chroma": str(chroma_conv_model(folder / "chroma.onnx"))}


def _samples(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)
    return rng.random(shape, dtype=np.float32)


def _unit(array: np.ndarray) -> np.ndarray:
    top = np.iinfo(array.dtype).max if array.dtype.kind == "u" else 1.0
    return array.astype(np.float64) / top


def _quantised(values: np.ndarray, dtype: type) -> np.ndarray:
    if np.dtype(dtype).kind != "u":
        return values
    top = np.iinfo(dtype).max
    return np.clip(np.rint(values * top), 0, top)


@pytest.mark.parametrize("src_type", DTYPES)
@pytest.mark.parametrize("dst_type", DTYPES)
@pytest.mark.parametrize("src_channels,dst_channels", [(3, 3), (4, 4), (3, 4), (4, 3)])
def test_every_sample_type_and_channel_count(models, rng, src_type, dst_type, src_channels, dst_channels):
    src = _samples(rng, (9, 11, src_channels), src_type)
    dst = np.zeros((9, 11, dst_channels), dtype=dst_type)
    api.process(src, dst, {"model": models["pointwise"], "premultiplied": False})
    expected_rgb = _quantised(pointwise_expected(_unit(src[..., :3])), dst_type)
    np.testing.assert_allclose(dst[..., :3].astype(np.float64), expected_rgb, atol=1 if dst.dtype.kind == "u" else 1e-6)
    if dst_channels == 4:
        expected_alpha = _quantised(_unit(src[..., 3]), dst_type) if src_channels == 4 else None
        if expected_alpha is None:
            assert np.all(dst[..., 3] == (np.iinfo(dst_type).max if dst.dtype.kind == "u" else 1.0))
        else:
            np.testing.assert_allclose(dst[..., 3].astype(np.float64), expected_alpha, atol=1e-6)


def test_float_values_are_not_clamped(models):
    src = np.array([[[2.0, -0.5, 10.0, 1.0]]], dtype=np.float32)
    dst = np.zeros_like(src)
    api.process(src, dst, {"model": models["pointwise"]})
    np.testing.assert_allclose(dst[0, 0, :3], pointwise_expected(src[0, 0, :3]), atol=1e-6)


def test_negative_and_padded_row_strides_give_the_contiguous_result(models, rng):
    frame = _samples(rng, (20, 13, 4), np.uint16)
    reference = np.zeros((20, 13, 4), np.float32)
    api.process(frame, reference, {"model": models["luma"]})
    padded = np.zeros((20, 17, 4), np.uint16)  # rows padded by 4 pixels, stored bottom-up as OFX does
    padded[::-1, :13] = frame
    src_view = padded[::-1, :13]
    src_view.flags.writeable = False
    dst_store = np.zeros((20, 19, 4), np.float32)
    dst_view = dst_store[::-1, 2:15]
    assert src_view.strides[0] < 0 and dst_view.strides[0] < 0
    api.process(src_view, dst_view, {"model": models["luma"]})
    np.testing.assert_array_equal(dst_view, reference)


def test_alpha_is_copied_bit_exact(models, rng):
    src = rng.random((16, 16, 4), dtype=np.float32)
    src[..., 3] = rng.random((16, 16), dtype=np.float32) * 1.7 - 0.2  # odd alpha values too, including < 0, > 1
    src[0, :4, 3] = [0.0, -0.0, np.float32(1e-38), np.nextafter(np.float32(1), np.float32(2))]
    dst = np.zeros_like(src)
    api.process(src, dst, {"model": models["luma"], "mix": 0.7})
    np.testing.assert_array_equal(dst[..., 3].view(np.uint32), src[..., 3].view(np.uint32))
    src16 = _samples(rng, (16, 16, 4), np.uint16)
    dst16 = np.zeros_like(src16)
    api.process(src16, dst16, {"model": models["luma"]})
    np.testing.assert_array_equal(dst16[..., 3], src16[..., 3])


def test_premultiplied_colour_is_restored_straight_and_premultiplied_again(models, rng):
    straight = rng.random((8, 10, 3), dtype=np.float32)
    alpha = rng.random((8, 10, 1), dtype=np.float32) * 0.9 + 0.1
    alpha[0, 0] = 0.0
    src = np.concatenate([straight * alpha, alpha], axis=2)
    src[0, 0, :3] = [0.3, 0.2, 0.1]  # colour at alpha 0 (an additive glow) passes through unchanged
    dst = np.zeros_like(src)
    api.process(src, dst, {"model": models["pointwise"]})
    expected = pointwise_expected(straight) * alpha
    np.testing.assert_allclose(dst[1:, :, :3], expected[1:], atol=1e-5)
    np.testing.assert_array_equal(dst[0, 0, :3], src[0, 0, :3])
    straight_dst = np.zeros_like(src)
    api.process(src, straight_dst, {"model": models["pointwise"], "premultiplied": False})
    np.testing.assert_allclose(straight_dst[..., :3], pointwise_expected(src[..., :3]), atol=1e-6)


def test_window_and_frame_origin_give_the_whole_frame_result(models, rng):
    """A host render window (src = window grown by receptive_field, clipped) equals the whole frame's pixels."""
    frame = rng.random((80, 96, 4), dtype=np.float32)
    whole = np.zeros_like(frame)
    api.process(frame, whole, {"model": models["chroma"]})
    x0, y0, width, height, context = 37, 29, 30, 22, 20  # window deliberately off the 4-pixel grid
    src = frame[y0 - context:y0 + height + context, x0 - context:]  # clipped on the right by the frame edge
    dst = np.zeros((height, width, 4), np.float32)
    api.process(src, dst, {"model": models["chroma"], "window": (context, context),
                           "frame_origin": (x0 - context, y0 - context)})
    np.testing.assert_allclose(dst, whole[y0:y0 + height, x0:x0 + width], atol=1e-5)


def test_nonfinite_pixels_pass_through_and_do_not_spread(models, rng, caplog):
    src = rng.random((24, 24, 4), dtype=np.float32)
    src[5, 5, 0] = np.nan
    src[12, 3, 2] = np.inf
    src[20, 20, 3] = -np.inf
    cleaned = src.copy()
    for y, x in ((5, 5), (12, 3), (20, 20)):
        cleaned[y, x] = 0.0
    expected = np.zeros_like(src)
    api.process(cleaned, expected, {"model": models["luma"], "premultiplied": False})
    dst = np.zeros_like(src)
    with caplog.at_level("WARNING", logger="chromaluma"):
        report = api.process(src, dst, {"model": models["luma"], "premultiplied": False, "tile_size": 20})
    bad = ~np.isfinite(src).all(axis=2)
    np.testing.assert_array_equal(dst[bad].view(np.uint32), src[bad].view(np.uint32))
    np.testing.assert_allclose(dst[~bad], expected[~bad], atol=1e-6)
    assert report.nonfinite_pixels == 3
    assert sum("NaN/Inf" in w for w in report.warnings) == 1
    assert sum("NaN/Inf" in r.getMessage() for r in caplog.records) == 1


def test_nonfinite_into_integer_dst_is_written_as_a_valid_sample(models):
    src = np.full((4, 4, 3), 0.5, np.float32)
    src[1, 1] = [np.nan, np.inf, -np.inf]
    dst = np.zeros((4, 4, 3), np.uint8)
    api.process(src, dst, {"model": models["pointwise"]})
    assert dst[1, 1].tolist() == [0, 255, 0]


def test_mix_blends_restored_over_original(models, rng):
    src = rng.random((6, 7, 3), dtype=np.float32)
    dst = np.zeros_like(src)
    api.process(src, dst, {"model": models["pointwise"], "mix": 0.3})
    np.testing.assert_allclose(dst, src + 0.3 * (pointwise_expected(src) - src), atol=1e-6)
    api.process(src, dst, {"model": models["pointwise"], "mix": 0})
    np.testing.assert_array_equal(dst, src)


@pytest.mark.parametrize("mask_type", DTYPES)
def test_mask_limits_where_restoration_applies(models, rng, mask_type):
    src = rng.random((6, 8, 4), dtype=np.float32)
    mask = _samples(rng, (6, 8), mask_type)
    dst = np.zeros_like(src)
    api.process(src, dst, {"model": models["pointwise"], "mask": mask[:, :, np.newaxis], "mix": 0.5,
                           "premultiplied": False})
    weight = 0.5 * _unit(mask)[..., np.newaxis]
    np.testing.assert_allclose(dst[..., :3], src[..., :3] + weight * (pointwise_expected(src[..., :3]) - src[..., :3]),
                               atol=1e-5)
    with pytest.raises(PixelLayoutError, match="mask"):
        api.process(src, dst, {"model": models["pointwise"], "mask": mask[:5]})


def test_output_modes(models, rng):
    src = rng.random((5, 6, 4), dtype=np.float32)
    dst = np.zeros_like(src)
    api.process(src, dst, {"model": models["pointwise"], "output_mode": "confidence", "premultiplied": False})
    np.testing.assert_allclose(dst[..., :3], CONFIDENCE_VALUE, atol=1e-7)
    np.testing.assert_array_equal(dst[..., 3], src[..., 3])
    api.process(src, dst, {"model": models["pointwise"], "output_mode": "difference", "mix": 0.5,
                           "premultiplied": False})
    np.testing.assert_allclose(dst[..., :3], 0.5 * (pointwise_expected(src[..., :3]) - src[..., :3]) + 0.5, atol=1e-6)
    with pytest.raises(ParameterError, match="no confidence output"):
        api.process(src, dst, {"model": models["plain"], "output_mode": "confidence"})


def test_describe_mode_fills_the_report_without_rendering(models):
    report = api.process(None, None, {"model": models["chroma"]})
    assert report.provider == "CPUExecutionProvider" and report.pixel_path is None
    assert "chroma" in report.model_summary and "display" in report.model_summary
    assert report.warnings == () and report.receptive_field == 20 and report.processing_scale == 0.25
    assert (report.frames_before, report.frames_after) == (0, 0)


def test_a_report_dict_from_the_old_contract_is_refused_not_left_empty(models):
    legacy: dict = {}
    with pytest.raises(ParameterError, match=r"params\['report'\].*RenderReport it returns"):
        api.process(None, None, {"model": models["chroma"], "report": legacy})
    assert legacy == {}


def test_rendering_in_place_reads_the_original(models, rng):
    frame = rng.random((40, 44, 4), dtype=np.float32)
    expected = np.zeros_like(frame)
    api.process(frame, expected, {"model": models["luma"], "tile_size": 24})
    api.process(frame, frame, {"model": models["luma"], "tile_size": 24})
    np.testing.assert_array_equal(frame, expected)


@pytest.mark.parametrize("src,dst,params,match", [
    (np.zeros((4, 4, 2), np.float32), np.zeros((4, 4, 4), np.float32), {}, "RGB or RGBA"),
    (np.zeros((4, 4, 4), np.float64), np.zeros((4, 4, 4), np.float32), {}, "float32, uint16 or uint8"),
    (np.zeros((4, 4), np.float32), np.zeros((4, 4, 4), np.float32), {}, "shape"),
    ([[0.0]], np.zeros((4, 4, 4), np.float32), {}, "numpy"),
    (np.zeros((4, 4, 4), np.float32), np.zeros((5, 4, 4), np.float32), {}, "window"),
    (np.zeros((4, 4, 4), np.float32), np.zeros((2, 2, 4), np.float32), {"window": (3, 0)}, "window"),
    (np.zeros((4, 4, 4), np.float32), None, {}, "both"),
    (np.zeros((4, 4, 4), np.float32), np.zeros((4, 4, 4), np.float32), {"mix": 1.5}, "mix"),
    (np.zeros((4, 4, 4), np.float32), np.zeros((4, 4, 4), np.float32), {"mix": "half"}, "mix"),
    (np.zeros((4, 4, 4), np.float32), np.zeros((4, 4, 4), np.float32), {"output_mode": "x"}, "output_mode"),
    (np.zeros((4, 4, 4), np.float32), np.zeros((4, 4, 4), np.float32), {"device": "tpu"}, "device"),
    (np.zeros((4, 4, 4), np.float32), np.zeros((4, 4, 4), np.float32), {"tile_size": -1}, "tile_size"),
    (np.zeros((4, 4, 4), np.float32), np.zeros((4, 4, 4), np.float32), {"window": (-1, 0)}, "window"),
    (np.zeros((4, 4, 4), np.float32), np.zeros((4, 4, 4), np.float32), {"mask": [1]}, "mask"),
])
def test_refusals_are_chromaluma_errors_naming_the_parameter(models, src, dst, params, match):
    with pytest.raises(ChromalumaError, match=match):
        api.process(src, dst, {"model": models["pointwise"], **params})


def test_read_only_dst_is_refused(models):
    dst = np.zeros((2, 2, 4), np.float32)
    dst.flags.writeable = False
    with pytest.raises(PixelLayoutError, match="read-only"):
        api.process(np.zeros((2, 2, 4), np.float32), dst, {"model": models["pointwise"]})


def test_params_must_name_a_model(tmp_path: Path):
    with pytest.raises(ParameterError, match="model"):
        api.process(None, None, {})
    with pytest.raises(ChromalumaError, match="not found"):
        api.process(None, None, {"model": str(tmp_path / "missing.onnx")})


@pytest.mark.parametrize("height,width", [(1, 1), (1, 7), (5, 1), (3, 2)])
def test_tiny_frames_render(models, rng, height, width):
    src = rng.random((height, width, 4), dtype=np.float32)
    dst = np.full_like(src, np.nan)
    api.process(src, dst, {"model": models["chroma"]})
    assert np.isfinite(dst).all()
    np.testing.assert_array_equal(dst[..., 3], src[..., 3])
