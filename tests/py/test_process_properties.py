"""Property-based tests of `chromaluma.api.process` (docs/CONTRACT.md §1), generated with hypothesis.

Every case builds `src` and `dst` as views into larger backing buffers (guard bands around the view, padded rows,
rows stored bottom-up), draws sample types, channel counts, windows, frame origins, mix, masks, output modes and
premultiplication independently, and checks what the contract promises for any such call:

- `process` returns None, or raises a ChromalumaError subclass (never another exception type);
- alpha is copied bit-exact (same sample type), converted once (another type), or the type's maximum (RGB src);
- a finite `src` gives a finite `dst`; NaN/Inf pixels are passed through unchanged (float dst);
- nothing outside the `dst` view is written, and a refused call writes nothing at all;
- for the pointwise model, every pixel equals the formula of §1.2–§1.4 computed here independently.

CI runs a fixed, derandomized set of examples; set CHROMALUMA_PROPERTY_EXAMPLES to run more locally.
"""

from __future__ import annotations

import os
import tracemalloc
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chromaluma import api
from chromaluma.errors import ChromalumaError
from model_fixtures import CONFIDENCE_VALUE, luma_conv_model, pointwise_expected, pointwise_model

EXAMPLES = int(os.environ.get("CHROMALUMA_PROPERTY_EXAMPLES", "0"))
DTYPES = (np.dtype(np.float32), np.dtype(np.uint16), np.dtype(np.uint8))
MODES = ("restored", "difference", "confidence")
F32_TINY = float(np.finfo(np.float32).smallest_subnormal)
# float samples a host can hand over: ordinary, scene-linear, negative log, subnormal, signed zero, half's maximum
SPECIAL_FLOATS = (0.0, -0.0, 1.0, F32_TINY, 1e-40, -1e-40, 1.2e-38, 2.5, 65504.0, -0.25)
NONFINITE = (float("nan"), float("inf"), float("-inf"))


def _settings(examples: int) -> settings:
    return settings(max_examples=EXAMPLES or examples, deadline=None, derandomize=not EXAMPLES, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("property_models")
    return {"pointwise": str(pointwise_model(folder / "pointwise.onnx")),
            "plain": str(pointwise_model(folder / "plain.onnx", confidence=False)),
            "luma": str(luma_conv_model(folder / "luma.onnx"))}


@dataclass
class HostImage:
    """A view (H, W, C) into `backing`, with guard bands all round and optionally rows stored bottom-up."""

    backing: np.ndarray
    view: np.ndarray
    rows: slice
    cols: slice

    def outside(self) -> np.ndarray:
        """A copy of the backing buffer with the view's own pixels zeroed: what must never change."""
        copy = self.backing.copy()
        copy[self.rows, self.cols] = 0
        return copy


@st.composite
def host_images(draw: st.DrawFn, height: int, width: int, channels: int, dtype: np.dtype) -> HostImage:
    guard = draw(st.integers(0, 2))
    padding = draw(st.integers(0, 3))  # extra pixels at the end of each row: a padded row stride
    backing = np.empty((height + 2 * guard, width + 2 * guard + padding, channels), dtype=dtype)
    backing.view(np.uint8)[...] = draw(st.integers(0, 255))  # guard pattern: any bits, NaN ones included
    rows, cols = slice(guard, guard + height), slice(guard, guard + width)
    view = backing[rows, cols]
    if draw(st.booleans()):  # OFX order: row 0 of the view is the last row in memory (negative row stride)
        view = view[::-1]
    return HostImage(backing, view, rows, cols)


def _fill(rng: np.random.Generator, view: np.ndarray, scale: float) -> None:
    """Samples over the type's range (floats over ±scale); alpha often exactly 0 or the maximum."""
    if view.dtype.kind == "u":
        top = np.iinfo(view.dtype).max
        view[...] = rng.integers(0, top, size=view.shape, endpoint=True)
        if view.shape[2] == 4:
            view[..., 3] = rng.choice(np.array([0, top, top // 2, 1], dtype=view.dtype), size=view.shape[:2])
        return
    view[...] = rng.uniform(-0.1 * scale, scale, size=view.shape)
    if view.shape[2] == 4:
        alpha = rng.choice(np.array([0.0, 1.0, 0.5, 1e-40, 1e-3], dtype=np.float32), size=view.shape[:2])
        view[..., 3] = np.where(rng.random(view.shape[:2]) < 0.5, alpha, rng.random(view.shape[:2]))


@st.composite
def sources(draw: st.DrawFn, height: int, width: int, nonfinite: bool) -> tuple[HostImage, bool]:
    """A src image (read-only view) and whether any of its samples is NaN/Inf."""
    image = draw(host_images(height, width, draw(st.sampled_from((3, 4))), draw(st.sampled_from(DTYPES))))
    view = image.view
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    _fill(rng, view, draw(st.sampled_from((1.0, 1.0, 100.0))))
    has_nonfinite = False
    if view.dtype == np.float32:
        specials = SPECIAL_FLOATS + (NONFINITE if nonfinite else ())
        for _ in range(draw(st.integers(0, 4))):
            at = (draw(st.integers(0, height - 1)), draw(st.integers(0, width - 1)),
                  draw(st.integers(0, view.shape[2] - 1)))
            value = draw(st.sampled_from(specials))
            view[at] = value
            has_nonfinite |= not np.isfinite(value)
    view.flags.writeable = False
    return image, has_nonfinite


@st.composite
def masks(draw: st.DrawFn, height: int, width: int) -> np.ndarray | None:
    if draw(st.booleans()):
        return None
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    top = np.iinfo(dtype).max if dtype.kind == "u" else 1.0
    mask = (rng.random((height, width)) * top * 1.2).clip(0, top).astype(dtype)  # some exactly at the maximum
    if dtype.kind == "f" and draw(st.booleans()):
        mask[0, 0] = draw(st.sampled_from((-1.0, 2.0, float("inf"), float("-inf"), float("nan"))))
    return mask[:, :, np.newaxis] if draw(st.booleans()) else mask


@st.composite
def render_cases(draw: st.DrawFn, model_names: tuple[str, ...], nonfinite: bool = True,
                 min_side: int = 1) -> dict[str, Any]:
    """A valid call: sizes from 1×1 up, 1×N and N×1 included; window inside src; any frame origin."""
    height, width = draw(st.integers(min_side, 24)), draw(st.integers(min_side, 24))
    extra_rows, extra_cols = draw(st.integers(0, 5)), draw(st.integers(0, 5))
    src, has_nonfinite = draw(sources(height + extra_rows, width + extra_cols, nonfinite))
    dst = draw(host_images(height, width, draw(st.sampled_from((3, 4))), draw(st.sampled_from(DTYPES))))
    params: dict[str, Any] = {
        "model": draw(st.sampled_from(model_names)),
        "mix": draw(st.one_of(st.just(1.0), st.just(0.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0).map(np.float32))),
        "mask": draw(masks(height, width)),
        "output_mode": draw(st.sampled_from(MODES)),
        "premultiplied": draw(st.booleans()),
        "window": (draw(st.integers(0, extra_cols)), draw(st.integers(0, extra_rows))),
        "frame_origin": (draw(st.integers(-9, 40)), draw(st.integers(-9, 40))),
        "tile_size": draw(st.sampled_from((0, 0, 16, 20, 1024))),
    }
    return {"src": src, "dst": dst, "params": params, "nonfinite": has_nonfinite}


def _unit(samples: np.ndarray) -> np.ndarray:
    top = np.iinfo(samples.dtype).max if samples.dtype.kind == "u" else 1.0
    return samples.astype(np.float64) / top


def _window(src: np.ndarray, dst: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    x, y = params["window"]
    return src[y:y + dst.shape[0], x:x + dst.shape[1]]


def _pointwise_reference(src: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """§1.2–§1.4 for the pointwise model, in float64: what dst's colour must be (before integer quantisation)."""
    with np.errstate(all="ignore"):  # NaN/Inf pixels give NaN here; the caller checks them separately
        return _pointwise_formula(src, params)


def _pointwise_formula(src: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    unit = _unit(src)
    rgb = unit[..., :3]
    alpha = unit[..., 3:4] if src.shape[2] == 4 and params["premultiplied"] else None
    if params["output_mode"] == "confidence":
        return np.full_like(rgb, CONFIDENCE_VALUE) * (1.0 if alpha is None else alpha)
    if alpha is None:
        colour = pointwise_expected(rgb)
    else:  # §1.3: unpremultiplied where alpha > 0, unless colour / alpha overflows float32 (then kept as it is)
        divisible = (alpha > 0) & (np.abs(rgb).max(axis=2, keepdims=True) < alpha * float(np.finfo(np.float32).max) / 4)
        straight = np.where(divisible, rgb / np.where(divisible, alpha, 1.0), rgb)
        colour = np.where(divisible, pointwise_expected(straight) * alpha, rgb)
    mask = params["mask"]
    weight = params["mix"] * (1.0 if mask is None else np.nan_to_num(_unit(mask).reshape(rgb.shape[:2] + (1,)))
                              .clip(0.0, 1.0))
    if params["output_mode"] == "difference":
        return weight * (colour - rgb) + 0.5
    return rgb + weight * (colour - rgb)


def _check_alpha(src: np.ndarray, dst: np.ndarray) -> None:
    alpha = dst[..., 3]
    if src.shape[2] == 3:
        top = np.iinfo(dst.dtype).max if dst.dtype.kind == "u" else 1.0
        assert np.all(alpha == top), "RGB src: dst alpha must be the type's maximum"
    elif src.dtype == dst.dtype:
        bits = np.dtype(f"u{src.dtype.itemsize}")
        np.testing.assert_array_equal(alpha.view(bits), src[..., 3].view(bits), "alpha not copied bit-exact")
    elif dst.dtype.kind == "f":
        np.testing.assert_array_equal(alpha, (src[..., 3] / np.float32(np.iinfo(src.dtype).max)).astype(np.float32))
    else:
        top = np.iinfo(dst.dtype).max
        expected = np.rint(np.clip(np.nan_to_num(_unit(src[..., 3]), posinf=1.0, neginf=0.0), 0, 1) * top)
        # float32 arithmetic may round a value that lies within float32 precision of a half code the other way
        np.testing.assert_allclose(alpha.astype(np.float64), expected, atol=1.0, err_msg="alpha not converted once")


def _check_colour(case: dict[str, Any], src: np.ndarray, dst: np.ndarray) -> None:
    """Pointwise model: dst colour is the independent formula's (nonfinite pixels passed through unchanged)."""
    expected = _pointwise_reference(src, case["params"])
    got = dst[..., :3].astype(np.float64)
    bad = ~np.isfinite(src).all(axis=2) if src.dtype.kind == "f" else np.zeros(src.shape[:2], bool)
    if dst.dtype.kind == "f":
        if bad.any():
            np.testing.assert_array_equal(dst[..., :3][bad].view(np.uint32), src[..., :3][bad].view(np.uint32),
                                          "NaN/Inf pixels must be passed through unchanged")
        # float32 arithmetic: error relative to the largest value the pixel's formula passes through
        tolerance = 2e-5 * (1.0 + np.abs(_unit(src[..., :3])) + np.abs(expected))
        wrong = ~bad[..., np.newaxis] & ~(np.abs(got - expected) <= tolerance)
        assert not wrong.any(), f"colour differs at {np.argwhere(wrong)[:4].tolist()}: {got[wrong][:4]} != " \
                                f"{expected[wrong][:4]}"
        return
    top = np.iinfo(dst.dtype).max
    representable = ~bad & ((expected >= 0) & (expected <= 1)).all(axis=2)  # out of range: the integer policy
    np.testing.assert_allclose(got[representable], (expected * top)[representable], atol=1.0)


def _render(case: dict[str, Any]) -> None:
    """Run process on the case; src's memory must not change."""
    src_before = case["src"].backing.copy()
    assert api.process(case["src"].view, case["dst"].view, case["params"]).pixel_path is not None
    np.testing.assert_array_equal(case["src"].backing.view(np.uint8), src_before.view(np.uint8), "src changed")


def _specific(error: ChromalumaError) -> None:
    """A refusal names what is wrong: a ChromalumaError subclass, not the catch-all for an unexpected failure."""
    assert type(error) is not ChromalumaError, f"an unexpected failure, not a refusal: {error}"


def _outside_unchanged(dst: HostImage, before: np.ndarray) -> None:
    np.testing.assert_array_equal(dst.outside().view(np.uint8), before.view(np.uint8),
                                  "process wrote outside the dst view (guard band or row padding)")


@_settings(150)
@given(case=render_cases(("pointwise",)))
def test_pointwise_render_follows_the_contract(models, case):
    """Any valid call: None, alpha by the contract, every pixel the formula's, nothing written outside dst."""
    case["params"]["model"] = models[case["params"]["model"]]
    before = case["dst"].outside()
    _render(case)
    _outside_unchanged(case["dst"], before)
    src, dst = _window(case["src"].view, case["dst"].view, case["params"]), case["dst"].view
    if dst.shape[2] == 4:
        _check_alpha(src, dst)
    _check_colour(case, src, dst)


@_settings(80)
@given(case=render_cases(("luma", "plain")))
def test_any_render_returns_or_refuses_and_keeps_finite_frames_finite(models, case):
    """Conv model (tiled with blend bands when tile_size is small) and a model without confidence: the call either
    renders (finite src → finite dst, alpha by the contract) or refuses with a ChromalumaError, writing nothing."""
    name = case["params"]["model"]
    case["params"]["model"] = models[name]
    before = case["dst"].outside()
    view_before = case["dst"].view.copy()
    try:
        _render(case)
    except ChromalumaError as refused:
        _specific(refused)
        assert name == "plain" and case["params"]["output_mode"] == "confidence", "refused a valid call"
        np.testing.assert_array_equal(case["dst"].view.view(np.uint8), view_before.view(np.uint8))
        return
    _outside_unchanged(case["dst"], before)
    src, dst = _window(case["src"].view, case["dst"].view, case["params"]), case["dst"].view
    if dst.shape[2] == 4:
        _check_alpha(src, dst)
    if not case["nonfinite"]:
        assert np.isfinite(dst).all(), "finite src gave NaN/Inf in dst"


INVALID_VALUES = {
    "mix": (-0.01, 1.01, float("nan"), float("inf"), "0.5", None, True, [0.5], 2),
    "window": ((-1, 0), (0, -1), (99, 0), (0, 99), (0.5, 0), (float("inf"), 0), (float("nan"), 0), (1,), (0, 0, 0),
               "00", None, 3, (2**80, 0), ("a", "b")),
    "frame_origin": ((0.5, 0), (float("inf"), 0), (1,), None, "xy", ("a", 0)),
    "tile_size": (-1, 1.5, "64", True, None, 2, 7),
    "output_mode": ("restore", None, 3, ""),
    "device": ("cuda", None, "GPU", 0),
    "threads": (-1, 1.5, "2", None, 2**40),
    "premultiplied": ("yes", None, 2, np.array([True, False])),
    "model": ("", None, 3, "/nonexistent/model.onnx", "bad\0name.onnx", "."),
}


@st.composite
def refused_cases(draw: st.DrawFn) -> dict[str, Any]:
    """A valid call with one parameter, or the mask, or the arrays, made invalid."""
    what = draw(st.sampled_from((*INVALID_VALUES, "mask", "src", "dst")))
    # a tile below the model's minimum (8 for the pointwise model) is refused once the frame needs tiling
    case = draw(render_cases(("pointwise",), nonfinite=False, min_side=8 if what == "tile_size" else 1))
    params, dst = case["params"], case["dst"].view
    if what in INVALID_VALUES:
        params[what] = draw(st.sampled_from(INVALID_VALUES[what]))
    elif what == "mask":
        params["mask"] = draw(st.sampled_from((np.zeros((dst.shape[0] + 1, dst.shape[1]), np.float32),
                                               np.zeros(dst.shape[:2], np.float64), np.zeros(dst.shape[:2], np.int8),
                                               np.zeros((*dst.shape[:2], 2), np.uint8), "mask", [[1.0]])))
    else:
        case[what + "_bad"] = draw(st.sampled_from(("float64", "int16", "2d", "5ch", "empty", "list")))
    case["what"] = what
    return case


def _broken(array: np.ndarray, how: str) -> Any:
    with np.errstate(invalid="ignore"):  # NaN guard bits cast to int16: any value will do
        return {"float64": array.astype(np.float64), "int16": array.astype(np.int16), "2d": array[..., 0],
                "5ch": np.zeros((*array.shape[:2], 5), array.dtype), "empty": array[:0], "list": array.tolist()}[how]


@_settings(120)
@given(case=refused_cases())
def test_bad_parameters_are_refused_with_a_chromaluma_error_and_nothing_written(models, case):
    params = case["params"]
    if params["model"] == "pointwise":
        params["model"] = models["pointwise"]
    src, dst = case["src"].view, case["dst"].view
    src = _broken(src, case["src_bad"]) if "src_bad" in case else src
    dst_arg = _broken(dst, case["dst_bad"]) if "dst_bad" in case else dst
    backing_before = case["dst"].backing.copy()
    with pytest.raises(ChromalumaError) as refused:
        api.process(src, dst_arg, params)
    _specific(refused.value)
    message = str(refused.value)
    assert "\n" not in message.strip() and len(message) < 600, f"not a one-line message: {message!r}"
    np.testing.assert_array_equal(case["dst"].backing.view(np.uint8), backing_before.view(np.uint8),
                                  f"a refused call ({case['what']}) wrote into dst")


@pytest.mark.parametrize("key,value", [(key, value) for key, values in INVALID_VALUES.items() for value in values],
                         ids=repr)
def test_every_bad_parameter_value_is_refused_naming_the_parameter(models, key, value):
    """All of INVALID_VALUES, one by one (the property above samples them): a refusal that names the parameter."""
    src = np.random.default_rng(5).random((9, 9, 4), dtype=np.float32)
    dst = np.full_like(src, 3.0)
    with pytest.raises(ChromalumaError) as refused:
        api.process(src, dst, {"model": models["pointwise"], key: value})
    _specific(refused.value)
    assert key in str(refused.value), f"the message does not name {key!r}: {refused.value}"
    assert np.all(dst == 3.0), "a refused call wrote into dst"


def test_bottom_up_padded_views_give_the_contiguous_result_pixel_for_pixel(models):
    """A 1×N, N×1 and 1×1 frame rendered through bottom-up padded views equals the plain contiguous render."""
    rng = np.random.default_rng(7)
    for height, width in ((1, 1), (1, 37), (37, 1)):
        frame = rng.random((height, width, 4), dtype=np.float32)
        plain = np.zeros_like(frame)
        api.process(frame, plain, {"model": models["luma"], "premultiplied": True})
        store = np.zeros((height, width + 3, 4), np.float32)
        store[::-1, :width] = frame
        out = np.full((height, width + 5, 4), -7.0, np.float32)
        api.process(store[::-1, :width], out[::-1, :width], {"model": models["luma"], "premultiplied": True})
        np.testing.assert_allclose(out[::-1, :width], plain, atol=1e-6)
        assert np.all(out[:, width:] == -7.0)


def test_tiny_alpha_with_bright_colour_stays_finite(models):
    """Premultiplied colour over a subnormal alpha (a glow with almost no coverage) must not overflow to Inf when
    unpremultiplied: the pixel is kept as it is, like alpha 0, and its neighbours are restored as usual."""
    src = np.full((6, 6, 4), 0.5, np.float32)
    src[2, 3] = (0.8, 0.6, 0.4, 1e-40)
    for name in ("pointwise", "luma"):
        dst = np.zeros_like(src)
        api.process(src, dst, {"model": models[name], "premultiplied": True})
        assert np.isfinite(dst).all(), f"{name}: NaN/Inf from a finite frame"
        np.testing.assert_array_equal(dst[2, 3], src[2, 3])
        if name == "pointwise":
            np.testing.assert_allclose(dst[0, 0, :3], pointwise_expected(np.float32(1.0)) * 0.5, atol=1e-6)


def _peak_render_memory(model: str, height: int, width: int, tile_size: int) -> int:
    """Peak bytes numpy allocated during one render of a uint8 RGBA frame (src and dst allocated beforehand)."""
    src = np.full((height, width, 4), 200, np.uint8)
    dst = np.zeros_like(src)
    tracemalloc.start()
    try:
        api.process(src, dst, {"model": model, "tile_size": tile_size})
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_render_memory_is_bounded_by_the_tile_not_the_frame_height(models):
    """Tiled renders hold a strip of tiles, never the frame: 4× the height, the same peak (a float32 copy of the
    taller frame would be 64 MiB)."""
    api.process(np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 4), np.uint8), {"model": models["pointwise"]})
    short = _peak_render_memory(models["pointwise"], 4096, 64, tile_size=256)
    tall = _peak_render_memory(models["pointwise"], 16384, 64, tile_size=256)
    assert tall < 1.25 * short + 2**20, f"peak {tall / 2**20:.1f} MiB for 16384 rows, {short / 2**20:.1f} for 4096"
    assert tall < 16 * 2**20


def test_16k_wide_frame_in_tiles_equals_the_whole_render(models):
    """A 16384-pixel-wide frame cut into 1024-pixel tiles with blend bands gives the untiled result (conv model,
    honest receptive field), and its edges stay exact."""
    rng = np.random.default_rng(16)
    src = rng.random((24, 16384, 4), dtype=np.float32)
    whole, tiled = np.zeros_like(src), np.zeros_like(src)
    api.process(src, whole, {"model": models["luma"], "tile_size": 0})
    api.process(src, tiled, {"model": models["luma"], "tile_size": 1024})
    np.testing.assert_allclose(tiled, whole, atol=2e-6)


@pytest.mark.slow  # 2 GiB of frames and minutes of CPU: still run by `make test` and CI
def test_16k_square_render_keeps_memory_to_a_strip(models):
    """16384×16384 uint8 RGBA (1 GiB each for src and dst): automatic tiling holds one strip of 1024 rows across the
    width (float32 RGBA, 256 MiB) plus its finishing buffers, never a float copy of the frame (4 GiB)."""
    peak = _peak_render_memory(models["pointwise"], 16384, 16384, tile_size=0)
    assert peak < 2**30, f"peak {peak / 2**20:.0f} MiB"


def test_nan_in_the_mask_keeps_the_original_there(models):
    """A NaN mask sample means "do not restore here" (the original passes through), never NaN in dst."""
    src = np.full((3, 4, 4), 0.5, np.float32)
    mask = np.ones((3, 4), np.float32)
    mask[1, 2] = np.nan
    dst = np.zeros_like(src)
    api.process(src, dst, {"model": models["pointwise"], "mask": mask, "premultiplied": False})
    np.testing.assert_array_equal(dst[1, 2], src[1, 2])
    np.testing.assert_allclose(dst[0, 0, :3], pointwise_expected(np.float32(0.5)), atol=1e-6)
