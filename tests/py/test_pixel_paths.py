"""process() reads and writes host memory in place where it can (docs/CONTRACT.md §1): the pixel paths.

A float32 RGBA frame whose rows are contiguous goes to the model without a copy: top-down as it is, bottom-up (the
OFX order) through the mirrored model (kernels flipped along their height, verified at load). When nothing is left
to do to the model's output, ONNX Runtime writes it straight into dst. Every other frame takes the copying path.
Each zero-copy result is compared with the same pixels handed over with padded rows, which forces the copying path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx.helper as oh
import pytest
from onnx import TensorProto

from chromaluma import api
from chromaluma.backend import mirror, restore, session, tiling
from model_fixtures import OPSET, save_with_metadata

# The mirrored model sums in another order: results agree to about 1e-6 of their magnitude, a little more where a
# grid model's statistics are ill-conditioned (partial cells at the right edge), so values of a few units (random
# weights) are compared with a relative part too. Seen: 2e-5 at a partial cell's pixels; a wrong row, a lost mix or a
# missing copy is off by 1e-2 or more.
TOLERANCE = 5e-5
# Random weights: large enough that every model changes the picture, small enough that outputs stay near 0–1.
WEIGHT_STD = {"chroma": 0.05, "luma": 0.3, "pairs": 0.05}


def _real_model(kind: str, folder: Path) -> Path:
    """A tiny model of the shipped architecture of `kind`, with random (not identity-start) weights."""
    import torch

    from chromaluma import export, models

    torch.manual_seed(7)
    module = models.build_model(kind, models.DEFAULT_PROCESSING_SCALE[kind], {"width": 4, "dilations": [1, 2]})
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(0.0, WEIGHT_STD[kind])
    card = {"kind": kind, "created": "2026-01-01T00:00:00Z", "software": {"test": "test_pixel_paths"},
            "training": {"note": "random weights"}, "metrics": {}}
    return export.export_model(module, folder / f"{kind}.onnx", "display", card)


def _graph_model(path: Path, nodes: list[onnx.NodeProto], initializers: list[onnx.TensorProto] | None = None
                 ) -> Path:
    """A hand-built contract graph (image → restored, no confidence) saved with Chromaluma metadata."""
    def info(name: str) -> onnx.ValueInfoProto:
        return oh.make_tensor_value_info(name, TensorProto.FLOAT, [1, "H", "W", 4])

    graph = oh.make_graph(nodes, path.stem, [info("image")], [info("restored")], initializer=initializers or [])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", OPSET)])
    onnx.checker.check_model(model, full_check=True)
    return save_with_metadata(model, path, kind="pairs", receptive_field=1)


def _ints(name: str, values: list[int]) -> onnx.TensorProto:
    return oh.make_tensor(name, TensorProto.INT64, [len(values)], values)


def _shift_up_model(path: Path) -> Path:
    """restored.rgb[y] = rgb[y + 1] (last row kept), alpha copied: not equivariant under a vertical flip."""
    big = 2**62
    nodes = [
        oh.make_node("Slice", ["image", "c0", "c3", "ax3"], ["rgb"]),
        oh.make_node("Slice", ["image", "c3", "c4", "ax3"], ["alpha"]),
        oh.make_node("Slice", ["rgb", "one", "big", "ax1"], ["below"]),
        oh.make_node("Slice", ["rgb", "minus_one", "big", "ax1"], ["last"]),
        oh.make_node("Concat", ["below", "last"], ["shifted"], axis=1),
        oh.make_node("Concat", ["shifted", "alpha"], ["restored"], axis=3),
    ]
    constants = [_ints("c0", [0]), _ints("c3", [3]), _ints("c4", [4]), _ints("ax3", [3]), _ints("ax1", [1]),
                 _ints("one", [1]), _ints("minus_one", [-1]), _ints("big", [big])]
    return _graph_model(path, nodes, constants)


def _identity_model(path: Path) -> Path:
    """restored = image: ONNX Runtime may hand the input's own memory back as the output."""
    return _graph_model(path, [oh.make_node("Identity", ["image"], ["restored"])])


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("pixel-path-models")
    paths = {kind: _real_model(kind, folder) for kind in ("chroma", "luma", "pairs")}
    paths["shift"] = _shift_up_model(folder / "shift.onnx")
    paths["identity"] = _identity_model(folder / "identity.onnx")
    return {name: str(path) for name, path in paths.items()}


def _frame(rng: np.random.Generator, height: int, width: int, *, opaque: bool = True) -> np.ndarray:
    frame = rng.random((height, width, 4), dtype=np.float32)
    frame[..., 3] = 1.0 if opaque else 1.0 - frame[..., 3]
    return frame


def _bottom_up(frame: np.ndarray) -> np.ndarray:
    """`frame` stored bottom-up, viewed top-down with a negative row stride (as the OFX plug-in hands it over)."""
    return np.ascontiguousarray(frame[::-1])[::-1]


def _padded(frame: np.ndarray) -> np.ndarray:
    """`frame` with 3 pixels of padding after each row: the copying path."""
    store = np.zeros((frame.shape[0], frame.shape[1] + 3, frame.shape[2]), frame.dtype)
    store[:, :frame.shape[1]] = frame
    return store[:, :frame.shape[1]]


def _render(model: str, src: np.ndarray, dst: np.ndarray, **params: object) -> api.RenderReport:
    return api.process(src, dst, {"model": model, "device": "cpu", **params})


def _reference(model: str, frame: np.ndarray, **params: object) -> np.ndarray:
    """The copying path's result: padded src and dst rows."""
    dst = _padded(np.zeros_like(frame))
    assert _render(model, _padded(frame), dst, **params).pixel_path == restore.COPIED
    return dst


def _flip_rows(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array[:, ::-1])


@pytest.mark.parametrize("kind", ["chroma", "luma", "pairs"])
def test_real_architectures_get_a_verified_mirrored_session(models, rng, kind):
    model = session.load_session(models[kind], "cpu")
    assert model.mirrored is not None and model.alpha_exact
    factor = tiling.scale_factor(model.contract.processing_scale)
    frame = _frame(rng, 12 * factor, 39, opaque=False)[np.newaxis]
    restored, confidence = model.run(frame)
    mirrored_restored, mirrored_confidence = model.run(_flip_rows(frame), mirrored=True)
    np.testing.assert_allclose(_flip_rows(mirrored_restored), restored, atol=TOLERANCE, rtol=TOLERANCE)
    np.testing.assert_allclose(_flip_rows(mirrored_confidence), confidence, atol=TOLERANCE, rtol=TOLERANCE)
    assert np.abs(restored - frame).max() > 1e-3  # the model does something the flip could get wrong


@pytest.mark.parametrize("kind", ["chroma", "luma"])
@pytest.mark.parametrize("layout", ["bottom-up", "top-down"])
@pytest.mark.parametrize("premultiplied", [True, False])
def test_contiguous_float_rgba_is_rendered_without_copies(models, rng, kind, layout, premultiplied):
    frame = _frame(rng, 48, 37, opaque=premultiplied)
    place = _bottom_up if layout == "bottom-up" else np.ascontiguousarray
    src, dst = place(frame), place(np.zeros_like(frame))
    src.flags.writeable = False
    report = _render(models[kind], src, dst, premultiplied=premultiplied)
    assert report.pixel_path == restore.ZERO_COPY
    reference = _reference(models[kind], frame, premultiplied=premultiplied)
    np.testing.assert_allclose(dst, reference, atol=TOLERANCE, rtol=TOLERANCE)
    assert np.array_equal(dst[..., 3].view(np.uint32), frame[..., 3].view(np.uint32))
    assert np.array_equal(src, frame)


@pytest.mark.parametrize("confidence_layout", ["bottom-up", "top-down", "padded"])
def test_confidence_view_is_filled_on_the_zero_copy_path(models, rng, confidence_layout):
    frame = _frame(rng, 48, 37)
    src, dst = _bottom_up(frame), _bottom_up(np.zeros_like(frame))
    blank = np.zeros((48, 37, 1), np.float32)
    layouts = {"bottom-up": _bottom_up, "top-down": np.ascontiguousarray, "padded": _padded}
    confidence = layouts[confidence_layout](blank)
    report = api.process_frame(src, dst, {"model": models["chroma"], "device": "cpu"}, confidence)
    assert report.pixel_path == restore.ZERO_COPY
    expected_confidence = _padded(blank)
    expected = _padded(np.zeros_like(frame))
    api.process_frame(_padded(frame), expected, {"model": models["chroma"], "device": "cpu"}, expected_confidence)
    np.testing.assert_allclose(dst, expected, atol=TOLERANCE, rtol=TOLERANCE)
    np.testing.assert_allclose(confidence, expected_confidence, atol=TOLERANCE, rtol=TOLERANCE)
    assert confidence.min() > 0.0


@pytest.mark.parametrize("layout", ["bottom-up", "top-down"])
@pytest.mark.parametrize("case", ["mix", "mask", "difference", "uint8 dst", "window"])
def test_finished_outputs_read_the_host_frame_in_place(models, rng, layout, case):
    frame = _frame(rng, 48, 37)
    place = _bottom_up if layout == "bottom-up" else np.ascontiguousarray
    params: dict[str, object] = {"mix": 0.5} if case == "mix" else {}
    if case == "mask":
        params["mask"] = rng.random((48, 37), dtype=np.float32)
    if case == "difference":
        params["output_mode"] = "difference"
    dst_type = np.uint8 if case == "uint8 dst" else np.float32
    rows = slice(8, 40) if case == "window" else slice(0, 48)  # a margin of context above and below dst
    if case == "window":
        params["window"] = (0, 8)
    dst = place(np.zeros((rows.stop - rows.start, 37, 4), dst_type))
    report = _render(models["chroma"], place(frame), dst, **params)
    assert report.pixel_path == restore.ZERO_COPY_INPUT
    reference = _padded(np.zeros(dst.shape, dst_type))
    assert _render(models["chroma"], _padded(frame), reference, **params).pixel_path == restore.COPIED
    np.testing.assert_allclose(dst.astype(np.float64), reference, atol=1 if dst_type == np.uint8 else TOLERANCE,
                               rtol=TOLERANCE)
    assert np.array_equal(dst[..., 3], reference[..., 3])


def test_a_model_that_is_not_flip_equivariant_gets_no_mirrored_session(models, rng, caplog):
    model = session.load_session(models["shift"], "cpu")
    assert model.mirrored is None and model.alpha_exact
    frame = _frame(rng, 20, 9, opaque=False)
    dst = _bottom_up(np.zeros_like(frame))
    report = _render(models["shift"], _bottom_up(frame), dst, premultiplied=False)
    assert report.pixel_path == restore.COPIED
    expected = np.concatenate([frame[1:, :, :3], frame[-1:, :, :3]], axis=0)
    np.testing.assert_array_equal(dst[..., :3], expected)
    np.testing.assert_array_equal(dst[..., 3], frame[..., 3])
    top_down = np.zeros_like(frame)
    assert _render(models["shift"], np.ascontiguousarray(frame), top_down, premultiplied=False).pixel_path \
        == restore.ZERO_COPY
    np.testing.assert_array_equal(top_down, dst)


def test_operations_not_known_to_commute_with_a_flip_are_refused(tmp_path: Path):
    path = _graph_model(tmp_path / "cumsum.onnx", [oh.make_node("CumSum", ["image", "axis"], ["restored"])],
                        [oh.make_tensor("axis", TensorProto.INT64, [], [1])])
    with pytest.raises(mirror.NotMirrorable, match="CumSum"):
        mirror.mirrored_model(path)
    assert session.load_session(path, "cpu").mirrored is None


def test_identity_output_never_writes_into_the_host_frame(models, rng):
    frame = _frame(rng, 16, 9)
    src = np.ascontiguousarray(frame)
    dst = np.zeros_like(frame)
    report = _render(models["identity"], src, dst, mix=0.5)
    assert report.pixel_path == restore.ZERO_COPY_INPUT
    np.testing.assert_array_equal(src, frame)
    np.testing.assert_allclose(dst, frame, atol=1e-7, rtol=0)


@pytest.mark.parametrize("case", ["height not a multiple of f", "NaN", "premultiplied alpha < 1", "uint16", "RGB"])
def test_frames_the_model_cannot_read_in_place_are_copied(models, rng, case):
    height = 45 if case == "height not a multiple of f" else 48
    frame = _frame(rng, height, 37, opaque=case != "premultiplied alpha < 1")
    if case == "NaN":
        frame[10, 11, 1] = np.nan
    src = _bottom_up(frame)
    if case == "uint16":
        src = _bottom_up(np.rint(frame * 65535).astype(np.uint16))
    if case == "RGB":
        src = _bottom_up(frame[..., :3])
    dst = _bottom_up(np.zeros_like(frame))
    report = _render(models["chroma"], src, dst)
    assert report.pixel_path == restore.COPIED
    reference = np.zeros_like(frame)
    _render(models["chroma"], np.ascontiguousarray(src), reference)
    np.testing.assert_allclose(dst, reference, atol=TOLERANCE, rtol=TOLERANCE)
    if case == "NaN":
        assert report.nonfinite_pixels == 1 and np.isnan(dst[10, 11, 1])


def test_session_options_turn_thread_spinning_off():
    options = session.session_options(0)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
