"""`chromaluma chain A.onnx B.onnx --out AB.onnx` (docs/CONTRACT.md §6): one model that renders as A then B.

Equality with A then B is checked through `chromaluma.api.process_frame` within TOLERANCE = 2e-5 absolute: the
chained graph runs the same operations on the same float32 values, so only ONNX Runtime's choice of kernels and
summation order may differ (values here lie within about ±1.5); the tiled renders add the feathered blend's
rounding (weights summing to one, a few ulps).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import onnx
import onnx.helper as oh
import pytest
from onnx import TensorProto

from chromaluma import contract
from chromaluma.api import process_frame
from chromaluma.backend.session import clear_cache
from chromaluma.cli import main
from chromaluma.errors import ModelFormatError
from chromaluma.io import FrameFormat, read_frame, write_frame
from model_fixtures import (
    OPSET,
    chroma_conv_model,
    luma_conv_model,
    pointwise_graph,
    pointwise_model,
    repair_onnx,
    save_with_metadata,
)

TOLERANCE = 2e-5
EXR = FrameFormat(".exr", "float", 32, 3)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("chain_models")
    return {"chroma": chroma_conv_model(folder / "first_pass.onnx"),
            "chroma2": chroma_conv_model(folder / "second_pass.onnx", seed=3),
            "luma": luma_conv_model(folder / "detail.onnx", seed=1),
            "flat": pointwise_model(folder / "flat.onnx", confidence=False)}


def _chain(tmp_path: Path, *parts: Path, name: str = "chain.onnx") -> Path:
    out = tmp_path / name
    assert main(["chain", *map(str, parts), "--out", str(out)]) == 0
    return out


def _render(model: Path, frame: np.ndarray, tile_size: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Restored straight RGBA float32 and confidence (None for a model without one) of `frame`."""
    dst = np.zeros_like(frame)
    confidence = np.zeros(frame.shape[:2], np.float32)
    report = process_frame(frame, dst, {"model": str(model), "premultiplied": False, "tile_size": tile_size},
                           confidence=confidence if contract.read_model_contract(model).has_confidence else None)
    return dst, confidence if report.has_confidence else None


def _frame(height: int, width: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame = rng.random((height, width, 4), np.float32) * np.float32(1.2)
    frame[..., 3] = rng.random((height, width), np.float32) * np.float32(0.9) + np.float32(0.1)
    return frame


def _a_then_b(parts: list[Path], frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """What a restorer gets today: each model rendered on the previous one's result, whole frame."""
    confidences = []
    for part in parts:
        frame, confidence = _render(part, frame)
        if confidence is not None:
            confidences.append(confidence)
    return frame, np.minimum.reduce(confidences) if confidences else None


def test_chain_equals_a_then_b_on_the_whole_frame(tmp_path, models):
    parts = [models["chroma"], models["luma"]]
    frame = _frame(45, 61)
    restored, confidence = _render(_chain(tmp_path, *parts), frame)
    expected, expected_confidence = _a_then_b(parts, frame)
    np.testing.assert_allclose(restored, expected, atol=TOLERANCE, rtol=0)
    np.testing.assert_array_equal(restored[..., 3], frame[..., 3])  # alpha copied bit-exact through every part
    np.testing.assert_allclose(confidence, expected_confidence, atol=TOLERANCE, rtol=0)
    assert np.abs(expected - frame).max() > 0.01  # both parts change the picture: the comparison means something


def _ints(name: str, values: list[int]) -> onnx.NodeProto:
    return oh.make_node("Constant", [], [name], value=oh.make_tensor(name, TensorProto.INT64, [len(values)], values))


def grid_box_model(path: Path, factor: int, radius: int) -> Path:
    """A model that depends on its processing grid and its whole receptive field with full weight: colour averaged
    over f×f cells anchored at the frame's top-left, then a (2·radius + 1)² box blur (edge pixels averaged over what
    the frame holds). An output pixel reads the input up to radius + f − 1 pixels away: its honest receptive field."""
    nodes = [oh.make_node("Transpose", ["image"], ["planar"], perm=[0, 3, 1, 2]),
             _ints("c0", [0]), _ints("c3", [3]), _ints("c4", [4]), _ints("axis1", [1]),
             oh.make_node("Slice", ["planar", "c0", "c3", "axis1"], ["rgb"]),
             oh.make_node("Slice", ["planar", "c3", "c4", "axis1"], ["alpha"]),
             oh.make_node("AveragePool", ["rgb"], ["cells"], kernel_shape=[factor, factor], strides=[factor, factor],
                          ceil_mode=1, count_include_pad=0),
             oh.make_node("Constant", [], ["scales"],
                          value=oh.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, factor, factor])),
             oh.make_node("Resize", ["cells", "", "scales"], ["up"], mode="nearest"),
             oh.make_node("Shape", ["rgb"], ["shape"]), _ints("s2", [2]), _ints("axis0", [0]),
             oh.make_node("Slice", ["shape", "s2", "c4", "axis0"], ["hw"]), _ints("z2", [0, 0]),
             _ints("axes23", [2, 3]), oh.make_node("Slice", ["up", "z2", "hw", "axes23"], ["grid"]),
             oh.make_node("AveragePool", ["grid"], ["box"], kernel_shape=[2 * radius + 1] * 2, pads=[radius] * 4,
                          count_include_pad=0),
             oh.make_node("Concat", ["box", "alpha"], ["planar_out"], axis=1),
             oh.make_node("Transpose", ["planar_out"], ["restored"], perm=[0, 2, 3, 1])]
    image = oh.make_tensor_value_info("image", TensorProto.FLOAT, [1, "H", "W", 4])
    restored = oh.make_tensor_value_info("restored", TensorProto.FLOAT, [1, "H", "W", 4])
    model = oh.make_model(oh.make_graph(nodes, "grid_box", [image], [restored]),
                          opset_imports=[oh.make_opsetid("", OPSET)], ir_version=contract.MAX_IR_VERSION)
    return save_with_metadata(model, path, kind="pairs", receptive_field=radius + factor - 1,
                              processing_scale=1 / factor)


def test_chain_in_tiles_equals_a_then_b_on_the_whole_frame(tmp_path):
    """Grids of 4 and 3 px and reaches of 7 and 6 px: only a 12 px grid keeps the second part's cells where they
    are in a whole frame, and only 13 px of context gives tiles every pixel they read."""
    parts = [grid_box_model(tmp_path / "cells4.onnx", 4, 4), grid_box_model(tmp_path / "cells3.onnx", 3, 4)]
    chained = _chain(tmp_path, *parts)
    frame = _frame(190, 300, seed=8)
    tiled, _ = _render(chained, frame, tile_size=116)  # the smallest tiles 13 px of context on a 12 px grid allow
    expected, _ = _a_then_b(parts, frame)
    assert np.abs(expected - frame).max() > 0.3
    np.testing.assert_allclose(tiled, expected, atol=TOLERANCE, rtol=0)


def test_chain_in_a_host_window_equals_a_then_b(tmp_path):
    """A render window as the plug-in asks for one (docs/CONTRACT.md §1.1): the source region grown by the chain's
    declared receptive field and started on its declared grid, `window` and `frame_origin` saying where it lies."""
    parts = [grid_box_model(tmp_path / "cells4.onnx", 4, 4), grid_box_model(tmp_path / "cells3.onnx", 3, 4)]
    declared = contract.read_model_contract(_chain(tmp_path, *parts))
    frame = _frame(150, 190, seed=6)
    top, left, height, width = 29, 41, 50, 70
    factor, reach = round(1 / declared.processing_scale), declared.receptive_field
    src_top, src_left = (top - reach) // factor * factor, (left - reach) // factor * factor
    src = frame[src_top:min(150, top + height + reach), src_left:min(190, left + width + reach)]
    dst = np.zeros((height, width, 4), np.float32)
    process_frame(src, dst, {"model": str(tmp_path / "chain.onnx"), "premultiplied": False,
                             "window": (left - src_left, top - src_top), "frame_origin": (src_left, src_top)})
    expected, _ = _a_then_b(parts, frame)
    np.testing.assert_allclose(dst, expected[top:top + height, left:left + width], atol=TOLERANCE, rtol=0)


def test_quarter_resolution_chain_in_tiles_equals_a_then_b(tmp_path, models):
    parts = [models["chroma"], models["chroma2"]]
    frame = _frame(190, 300, seed=8)
    tiled, tiled_confidence = _render(_chain(tmp_path, *parts), frame, tile_size=180)  # 40 px context: 3×5 tiles
    expected, expected_confidence = _a_then_b(parts, frame)
    np.testing.assert_allclose(tiled, expected, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(tiled_confidence, expected_confidence, atol=TOLERANCE, rtol=0)


def test_chain_of_rows_stored_bottom_up_equals_a_then_b(tmp_path, models):
    """The plug-in's view of host memory: a negative row stride (docs/CONTRACT.md §1.1)."""
    parts = [models["chroma"], models["luma"]]
    frame = _frame(48, 60, seed=9)
    stored = np.ascontiguousarray(frame[::-1])
    restored, _ = _render(_chain(tmp_path, *parts), stored[::-1])
    expected, _ = _a_then_b(parts, frame)
    np.testing.assert_allclose(restored, expected, atol=TOLERANCE, rtol=0)


def test_chain_declares_summed_receptive_field_coarser_grid_and_nests_both_cards(tmp_path, models):
    parts = [models["chroma"], models["luma"], models["flat"]]
    chained = _chain(tmp_path, *parts)
    declared = contract.read_model_contract(chained)
    assert (declared.receptive_field, declared.processing_scale, declared.format_version) == (22, 0.25, 1)
    assert declared.kind == "pairs" and declared.has_confidence and declared.graph_checked
    card = json.loads(chained.with_suffix(".json").read_text())
    assert card == declared.card
    assert [entry["file"] for entry in card["chain"]] == [p.name for p in parts]
    for entry, part in zip(card["chain"], parts, strict=True):
        assert entry["sha256"] == hashlib.sha256(part.read_bytes()).hexdigest()
        assert entry["card"] == contract.read_model_contract(part).card


def test_processing_grid_is_the_lcm_of_the_parts(tmp_path, models):
    third = tmp_path / "third.onnx"
    _save(pointwise_graph(), third, processing_scale=1 / 3)
    declared = contract.read_model_contract(_chain(tmp_path, models["chroma"], third))
    assert round(1 / declared.processing_scale) == 12


def test_same_kinds_keep_their_kind(tmp_path, models):
    assert contract.read_model_contract(_chain(tmp_path, models["chroma"], models["chroma2"])).kind == "chroma"


def test_confidence_of_a_part_without_one_is_left_out(tmp_path, models):
    frame = _frame(32, 40)
    _, confidence = _render(_chain(tmp_path, models["flat"], models["luma"]), frame)
    _, expected = _a_then_b([models["flat"], models["luma"]], frame)
    np.testing.assert_allclose(confidence, expected, atol=TOLERANCE, rtol=0)


def test_a_chain_chains_again_like_its_parts(tmp_path, models):
    first = _chain(tmp_path, models["chroma"], models["luma"], name="first.onnx")
    again = _chain(tmp_path, first, models["flat"], name="again.onnx")
    frame = _frame(33, 41)
    restored, _ = _render(again, frame)
    expected, _ = _a_then_b([models["chroma"], models["luma"], models["flat"]], frame)
    np.testing.assert_allclose(restored, expected, atol=TOLERANCE, rtol=0)
    assert contract.read_model_contract(again).card["chain"][0]["card"]["chain"][1]["file"] == "detail.onnx"


def test_a_card_whose_chain_is_not_a_list_is_refused_on_load(tmp_path):
    damaged = _save(pointwise_graph(), tmp_path / "damaged.onnx")
    model = onnx.load(str(damaged))
    entry = next(e for e in model.metadata_props if e.key == "chromaluma.card")
    entry.value = json.dumps({**json.loads(entry.value), "chain": {"card": {}}})
    onnx.save(model, str(damaged))
    with pytest.raises(ModelFormatError, match="entry 'chain' is .*expected a JSON array"):
        contract.read_model_contract(damaged)


def test_info_lists_the_chain_parts(tmp_path, models, capsys):
    chained = _chain(tmp_path, models["chroma"], models["luma"])
    capsys.readouterr()
    assert main(["info", str(chained)]) == 0
    text = capsys.readouterr().out
    assert "Part 1      first_pass.onnx" in text and "Part 2      detail.onnx" in text
    assert hashlib.sha256(models["luma"].read_bytes()).hexdigest()[:12] in text
    assert "chained from 2 models" in text


def test_chained_model_renders_in_apply_like_a_then_b(tmp_path, models):
    chained = _chain(tmp_path, models["chroma"], models["luma"])
    scan = tmp_path / "scan"
    scan.mkdir()
    rng = np.random.default_rng(2)
    frames = {frame: rng.random((40, 52, 3), np.float32) for frame in (1001, 1002)}
    for frame, pixels in frames.items():
        write_frame(scan / f"shot.{frame}.exr", pixels, EXR)
    out = tmp_path / "restored"
    assert main(["apply", "--model", str(chained), "--input", str(scan), "--output", str(out), "--no-progress"]) == 0
    log = json.loads((out / "chromaluma-render.json").read_text())
    assert log["model"]["sha256"] == hashlib.sha256(chained.read_bytes()).hexdigest()
    for frame, pixels in frames.items():
        opaque = np.concatenate([pixels, np.ones((40, 52, 1), np.float32)], axis=2)
        expected, _ = _a_then_b([models["chroma"], models["luma"]], opaque)
        np.testing.assert_allclose(read_frame(out / f"shot.{frame}.exr")[0][..., :3], expected[..., :3],
                                   atol=TOLERANCE, rtol=0)


@pytest.mark.slow  # starts the host, the plug-in and its Python
def test_chained_model_renders_in_the_plug_in_like_a_then_b(tmp_path):
    """Through `ofx-render`, the plug-in loads the chain like any model and renders it as A then B: pixel bounds not
    at (0, 0), padded rows stored top-down with negative rowBytes (docs/CONTRACT.md §1.1). (Tiles and the grid are
    the tiled tests' business: this host renders whole frames.)"""
    from chromaluma.benchmarks.plugin import find_build, ofx_render

    build = find_build()
    if build is None:
        message = "ofx-render and Chromaluma.ofx.bundle are not built: run `make build` (or set CHROMALUMA_BUILD_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    parts = [grid_box_model(tmp_path / "cells4.onnx", 4, 4), grid_box_model(tmp_path / "cells3.onnx", 3, 4)]
    chained = _chain(tmp_path, *parts)
    frame = _frame(40, 54, seed=4)
    frame[..., 3] = 1.0  # opaque: the host's premultiplied frames and straight colour agree
    write_frame(tmp_path / "src.0001.tif", frame, FrameFormat(".tif", "float", 32, 4))
    done = ofx_render(build, tmp_path / "src.####.tif", tmp_path / "out.####.tif", {"modelFile": chained},
                      options=["--negative-rowbytes", "--origin", "5,3", "--rowbytes-padding", "8"], timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    expected, _ = _a_then_b(parts, frame)
    np.testing.assert_allclose(read_frame(tmp_path / "out.0001.tif")[0], expected, atol=TOLERANCE, rtol=0)


def _save(graph: onnx.ModelProto, path: Path, *, colorspace: str = "display", processing_scale: float = 1.0,
          receptive_field: int = 0) -> Path:
    card = {"kind": "pairs", "created": "2026-01-01T00:00:00Z", "software": {}, "training": {}, "metrics": {}}
    fields = contract.ModelContract(kind="pairs", receptive_field=receptive_field, processing_scale=processing_scale,
                                    colorspace=colorspace, card=card)
    for key, value in contract.metadata_props(fields).items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(path))
    return path


def _with_input(path: Path, name: str, frames: int, *, kind: str, format_version: int, radius: int = 0) -> Path:
    """:func:`pointwise_graph` plus an input `name` [frames, H, W, 4] that the graph reads at zero weight: the shape
    of a temporal-window or keyframe model without torch."""
    graph = pointwise_graph(confidence=False)
    graph.graph.input.append(oh.make_tensor_value_info(name, TensorProto.FLOAT, [frames, "H", "W", 4]))
    graph.graph.node[-1].output[0] = "restored_alone"
    graph.graph.node.extend([
        oh.make_node("ReduceMean", [name], ["extra_mean"], keepdims=1),
        oh.make_node("Constant", [], ["nothing"], value=oh.make_tensor("nothing", TensorProto.FLOAT, [], [0.0])),
        oh.make_node("Mul", ["extra_mean", "nothing"], ["extra_zero"]),
        oh.make_node("Add", ["restored_alone", "extra_zero"], ["restored"])])
    return save_with_metadata(graph, path, kind=kind, format_version=format_version, frames=radius)


def _other_opset(path: Path) -> Path:
    graph = pointwise_graph()
    graph.opset_import[0].version = OPSET + 1
    return _save(graph, path)


REFUSALS = {
    "temporal": (lambda folder: _with_input(folder / "window.onnx", "neighbours", 2, kind="pairs", radius=1,
                                            format_version=contract.TEMPORAL_FORMAT_VERSION), "temporal-window model"),
    "keyframes": (lambda folder: _with_input(folder / "painted.onnx", "keyframes", 2, kind="keyframes",
                                             format_version=contract.KEYFRAME_FORMAT_VERSION),
                  "keyframes model cannot be chained"),
    "repair": (lambda folder: repair_onnx(folder / "dust.onnx"), "repair model cannot be chained"),
    "colorspace": (lambda folder: _save(pointwise_graph(), folder / "log.onnx", colorspace="log"),
                   "colorspace 'log'"),
    "opset": (lambda folder: _other_opset(folder / "newer.onnx"), f"ONNX opset {OPSET + 1}"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refused_combinations_exit_2_in_one_line_naming_the_model(tmp_path, models, caplog, case):
    build, words = REFUSALS[case]
    refused = build(tmp_path)
    out = tmp_path / "out" / "chain.onnx"
    with caplog.at_level(logging.ERROR):
        assert main(["chain", str(models["luma"]), str(refused), "--out", str(out)]) == 2
    message = caplog.records[-1].getMessage()
    assert words in message and str(refused) in message and "\n" not in message
    assert not out.parent.exists() or not any(out.parent.iterdir())


@pytest.mark.parametrize(("first", "second", "words"), [
    ({"receptive_field": 4000}, {"receptive_field": 100}, "receptive field 4100 px exceeds the contract's 4096"),
    ({"processing_scale": 1 / 256}, {"processing_scale": 1 / 255}, "processing grid 65280 px"),
])
def test_chain_beyond_the_contract_limits_is_refused(tmp_path, caplog, first, second, words):
    parts = [_save(pointwise_graph(), tmp_path / f"{name}.onnx", **entries)
             for name, entries in (("wide", first), ("coarse", second))]
    with caplog.at_level(logging.ERROR):
        assert main(["chain", *map(str, parts), "--out", str(tmp_path / "chain.onnx")]) == 2
    assert words in caplog.records[-1].getMessage()
    assert not (tmp_path / "chain.onnx").exists()


@pytest.mark.parametrize(("arguments", "words"), [
    (["{luma}", "--out", "{tmp}/one.onnx"], "at least two models"),
    (["{luma}", "{chroma}", "--out", "{tmp}/chain.json"], "must end in .onnx"),
    (["{luma}", "{chroma}", "--out", "{luma}"], "is one of the models being chained"),
    (["{luma}", "{tmp}/missing.onnx", "--out", "{tmp}/chain.onnx"], "missing.onnx: model file not found"),
    (["{luma}", "{chroma}", "--out", "{tmp}/blocked/chain.onnx"], "cannot write the chained model"),
])
def test_bad_arguments_exit_2_in_one_line_and_write_nothing(tmp_path, models, caplog, arguments, words):
    (tmp_path / "blocked").write_text("a file where the output folder should be")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    luma_before = models["luma"].read_bytes()
    argv = [a.format(luma=models["luma"], chroma=models["chroma"], tmp=tmp_path) for a in arguments]
    with caplog.at_level(logging.ERROR):
        assert main(["chain", *argv]) == 2
    message = caplog.records[-1].getMessage()
    assert words in message and "\n" not in message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert models["luma"].read_bytes() == luma_before


def test_chain_that_does_not_reproduce_its_parts_is_not_written(tmp_path, models, monkeypatch, caplog):
    from chromaluma import chain

    monkeypatch.setattr(chain, "verify_chain", lambda parts, payload: 0.5)
    out = tmp_path / "chain.onnx"
    with caplog.at_level(logging.ERROR):
        assert main(["chain", str(models["chroma"]), str(models["luma"]), "--out", str(out)]) == 2
    assert "differs from running its parts in turn" in caplog.records[-1].getMessage()
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(autouse=True)
def _fresh_sessions():
    """Chains written under one name in several tests: never serve a cached session of an earlier file."""
    clear_cache()
    yield
    clear_cache()
