"""Temporal-window models through the contract (docs/CONTRACT.md §1.5, §1.6, §2, §3): export, metadata, the
`neighbours` input of process(), the edge rule, order independence and the typed report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from chromaluma import api, contract
from chromaluma.errors import ModelFormatError, ParameterError, PixelLayoutError
from chromaluma.models import build_model
from model_fixtures import chroma_conv_model, window_model


def _shot(count: int, height: int = 40, width: int = 56, seed: int = 3) -> list[np.ndarray]:
    """Distinct opaque RGBA frames: every frame differs, so a swapped or dropped neighbour shows."""
    rng = np.random.default_rng(seed)
    frames = [rng.random((height, width, 4), dtype=np.float32) for _ in range(count)]
    for frame in frames:
        frame[..., 3] = 1.0
    return frames


def _render(model: Path, frames: list[np.ndarray], t: int, radius: int, **params: object) -> np.ndarray:
    """Frame t of `frames` restored, its neighbours given where the shot has them and None outside it."""
    neighbours = [frames[k] if 0 <= k < len(frames) else None
                  for k in [*range(t - radius, t), *range(t + 1, t + radius + 1)]]
    dst = np.zeros_like(frames[t])
    api.process(frames[t], dst, {"model": str(model), "neighbours": neighbours, **params})
    return dst


@pytest.fixture(scope="module")
def pairs_r1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return window_model(tmp_path_factory.mktemp("window") / "pairs_r1.onnx", kind="pairs", radius=1)


@pytest.fixture(scope="module")
def luma_r2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return window_model(tmp_path_factory.mktemp("window") / "luma_r2.onnx", kind="luma", radius=2)


@pytest.mark.parametrize("kind", ["chroma", "luma", "pairs"])
def test_window_models_export_with_their_window_declared(tmp_path: Path, kind: str) -> None:
    path = window_model(tmp_path / f"{kind}.onnx", kind=kind, radius=2)
    model = onnx.load(str(path))
    names = [value.name for value in model.graph.input]
    neighbours = model.graph.input[1].type.tensor_type.shape.dim
    found = contract.read_model_contract(path)
    assert names == ["image", "neighbours"]
    assert neighbours[0].dim_value == 4  # t−2, t−1, t+1, t+2
    assert (found.frames_before, found.frames_after, found.format_version) == (2, 2, 2)
    assert found.card["model"]["architecture"]["temporal_radius"] == 2


def test_single_frame_models_stay_format_1(tmp_path: Path) -> None:
    path = window_model(tmp_path / "single.onnx", kind="pairs", radius=0)
    found = contract.read_model_contract(path)
    assert [value.name for value in onnx.load(str(path)).graph.input] == ["image"]
    assert (found.frames_before, found.frames_after, found.format_version) == (0, 0, 1)


@pytest.mark.parametrize("kind", ["chroma", "luma", "pairs"])
def test_process_restores_the_centre_from_its_window_as_the_torch_model_does(tmp_path: Path, kind: str) -> None:
    torch.manual_seed(5)
    model = build_model(kind, 0.25 if kind != "luma" else 1.0, {"temporal_radius": 1, "width": 8, "dilations": [1]})
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    from chromaluma.card import build_card
    from chromaluma.export import export_model

    card = build_card(kind, "display", {"pairs": [], "parameters": {}}, {"validation": {}}, opset=17,
                      model_details={"architecture": {}})
    path = export_model(model, tmp_path / "m.onnx", "display", card)
    frames = _shot(3)
    with torch.no_grad():
        expected = model(torch.from_numpy(np.stack(frames))[None])[0][0].numpy()
    restored = _render(path, frames, 1, 1)
    assert np.abs(restored[..., :3] - expected[..., :3]).max() < 1e-4
    assert np.array_equal(restored[..., 3], frames[1][..., 3])


def test_every_neighbour_reaches_the_model(luma_r2: Path) -> None:
    frames = _shot(5)
    base = _render(luma_r2, frames, 2, 2)
    for k in (0, 1, 3, 4):
        changed = [f.copy() for f in frames]
        changed[k][..., :3] = 1.0 - changed[k][..., :3]
        assert np.abs(_render(luma_r2, changed, 2, 2) - base).max() > 1e-3, f"frame {k} of the window was ignored"


def test_edge_rule_repeats_the_nearest_frame_towards_the_centre(luma_r2: Path) -> None:
    frames = _shot(5)
    first = np.zeros_like(frames[0])
    api.process(frames[0], first, {"model": str(luma_r2), "neighbours": [None, None, frames[1], frames[2]]})
    repeated = np.zeros_like(frames[0])
    api.process(frames[0], repeated, {"model": str(luma_r2),
                                      "neighbours": [frames[0], frames[0], frames[1], frames[2]]})
    assert np.array_equal(first, repeated)
    gap = np.zeros_like(frames[0])  # t+2 missing: t+1 stands in for it
    api.process(frames[2], gap, {"model": str(luma_r2), "neighbours": [frames[0], frames[1], frames[3], None]})
    filled = np.zeros_like(frames[0])
    api.process(frames[2], filled, {"model": str(luma_r2),
                                    "neighbours": [frames[0], frames[1], frames[3], frames[3]]})
    assert np.array_equal(gap, filled)
    alone = np.zeros_like(frames[0])  # no key at all: every neighbour is the centre
    api.process(frames[2], alone, {"model": str(luma_r2)})
    assert np.array_equal(alone, _render(luma_r2, [frames[2]] * 5, 2, 2))


def test_results_do_not_depend_on_render_order(pairs_r1: Path) -> None:
    frames = _shot(4)
    forward = [_render(pairs_r1, frames, t, 1).tobytes() for t in range(4)]
    backward = [_render(pairs_r1, frames, t, 1).tobytes() for t in (3, 1, 2, 0)]
    assert forward == [backward[i] for i in (3, 1, 2, 0)]


def test_tiles_see_the_same_window_as_the_whole_frame(pairs_r1: Path) -> None:
    frames = _shot(3, height=300, width=340)
    whole = _render(pairs_r1, frames, 1, 1)
    tiled = _render(pairs_r1, frames, 1, 1, tile_size=160)
    assert np.abs(whole - tiled).max() < 1e-4


def test_neighbours_in_host_layouts_give_the_float_result(pairs_r1: Path) -> None:
    frames = [np.round(f * 65535) / 65535 for f in _shot(3)]
    expected = _render(pairs_r1, frames, 1, 1)
    as_short = [(f * 65535).round().astype(np.uint16) for f in frames]
    bottom_up = [np.ascontiguousarray(f[::-1])[::-1] for f in as_short]  # negative row stride, as OFX hands over
    dst = np.zeros_like(frames[1])
    api.process(bottom_up[1], dst, {"model": str(pairs_r1), "neighbours": [bottom_up[0], bottom_up[2]]})
    assert np.abs(dst - expected).max() < 1e-5


def test_premultiplied_neighbours_are_unpremultiplied_with_their_own_alpha(pairs_r1: Path) -> None:
    frames = _shot(3)
    translucent = [f.copy() for f in frames]
    translucent[2][..., 3] = 0.5
    expected = _render(pairs_r1, translucent, 1, 1, premultiplied=False)
    premultiplied = [f.copy() for f in translucent]
    premultiplied[2][..., :3] *= 0.5
    assert np.abs(_render(pairs_r1, premultiplied, 1, 1) - expected).max() < 1e-5


def test_rendering_in_place_reads_the_original_window(pairs_r1: Path) -> None:
    frames = _shot(3)
    expected = _render(pairs_r1, frames, 1, 1)
    centre = frames[1].copy()
    api.process(centre, centre, {"model": str(pairs_r1), "neighbours": [frames[0], None]})
    reference = np.zeros_like(centre)
    api.process(frames[1], reference, {"model": str(pairs_r1), "neighbours": [frames[0], frames[1]]})
    assert np.array_equal(centre, reference)
    assert not np.array_equal(expected, reference)  # the neighbour mattered, so the in-place read was tested


def test_report_is_returned_with_the_window(pairs_r1: Path) -> None:
    described = api.process(None, None, {"model": str(pairs_r1)})
    assert isinstance(described, api.RenderReport)
    assert (described.frames_before, described.frames_after, described.pixel_path) == (1, 1, None)
    frames = _shot(3)
    rendered = api.process(frames[1], np.zeros_like(frames[1]), {"model": str(pairs_r1),
                                                                 "neighbours": [frames[0], frames[2]]})
    assert rendered.pixel_path is not None and rendered.kind == "pairs" and rendered.warnings == ()


@pytest.mark.parametrize(("neighbours", "needle"), [
    ([None], "1 given"),
    ([None, None, None], "3 given"),
    ("frames", "expected a list"),
])
def test_a_wrong_window_is_refused_naming_the_models_window(pairs_r1: Path, neighbours: object, needle: str) -> None:
    frame = _shot(1)[0]
    with pytest.raises(ParameterError, match=needle) as caught:
        api.process(frame, np.zeros_like(frame), {"model": str(pairs_r1), "neighbours": neighbours})
    if isinstance(neighbours, list):
        assert "1 frame(s) before and 1 after" in str(caught.value)


def test_a_neighbour_of_another_size_is_refused(pairs_r1: Path) -> None:
    frame = _shot(1)[0]
    with pytest.raises(PixelLayoutError, match=r"neighbours\[1\].*same region"):
        api.process(frame, np.zeros_like(frame), {"model": str(pairs_r1), "neighbours": [frame, frame[:-1]]})


def test_a_single_frame_model_takes_no_neighbours(tmp_path: Path) -> None:
    path = chroma_conv_model(tmp_path / "single.onnx")
    frame = _shot(1)[0]
    with pytest.raises(ParameterError, match="single-frame model"):
        api.process(frame, np.zeros_like(frame), {"model": str(path), "neighbours": [frame, frame]})
    api.process(frame, np.zeros_like(frame), {"model": str(path), "neighbours": []})  # an empty window is fine


def _edit_metadata(path: Path, out: Path, **values: str) -> Path:
    model = onnx.load(str(path))
    for entry in model.metadata_props:
        key = entry.key.removeprefix("chromaluma.")
        if key in values:
            entry.value = values[key]
    onnx.save(model, str(out))
    return out


def test_a_window_the_graph_does_not_have_is_refused(pairs_r1: Path, tmp_path: Path) -> None:
    edited = _edit_metadata(pairs_r1, tmp_path / "wider.onnx", frames_before="2", frames_after="2")
    with pytest.raises(ModelFormatError, match="neighbour"):
        contract.read_model_contract(edited)


def test_a_format_1_model_cannot_declare_a_window(pairs_r1: Path, tmp_path: Path) -> None:
    edited = _edit_metadata(pairs_r1, tmp_path / "old.onnx", format_version="1")
    with pytest.raises(ModelFormatError, match="format_version 1 models see one frame"):
        contract.read_model_contract(edited)
