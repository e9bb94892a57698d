"""Keyframe models through the contract (docs/CONTRACT.md §1.4, §1.5, §1.7, §2, §3): export as format 6 with the
`keyframes` input, `params["keyframes"]` in its two forms, exact tiles, order independence, and every refusal."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from chromaluma import api, contract
from chromaluma.align.keyframe_flow import moved_keyframes
from chromaluma.cli import main as cli_main
from chromaluma.errors import ChromalumaError, ModelFormatError, ParameterError, PixelLayoutError
from chromaluma.io import FrameFormat, write_frame
from chromaluma.models import ContractGraph
from model_fixtures import keyframe_model, keyframe_torch_model, pointwise_model, window_model

TIFF_FLOAT = FrameFormat(".tif", "float", 32, 4)  # float samples: what the folder holds is what the model reads


def _frames(count: int, height: int = 48, width: int = 64, seed: int = 5) -> list[np.ndarray]:
    """Distinct opaque RGBA frames: a swapped, dropped or repeated keyframe changes the colour."""
    rng = np.random.default_rng(seed)
    frames = [rng.random((height, width, 4), dtype=np.float32) for _ in range(count)]
    for frame in frames:
        frame[..., 3] = 1.0
    return frames


def _render(model: Path, src: np.ndarray, keyframes: object, **params: object) -> tuple[np.ndarray, api.RenderReport]:
    dst = np.zeros(src.shape, dtype=np.float32)
    report = api.process(src, dst, {"model": str(model), "keyframes": keyframes, **params})
    return dst, report


def _torch_restored(src: np.ndarray, keyframes: list[np.ndarray], moved: bool = True) -> np.ndarray:
    """The torch model's result on `src` and its keyframes, `moved` onto `src` as the backend moves them for a
    format-6 model (§1.7), or as given (what the graph itself reads)."""
    given = moved_keyframes(src, keyframes) if moved else np.stack(keyframes)
    with torch.no_grad():
        restored, _ = ContractGraph(keyframe_torch_model())(torch.from_numpy(src[np.newaxis]), None,
                                                            torch.from_numpy(given))
    return restored[0].numpy()


@pytest.fixture(scope="module")
def keyframe_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return keyframe_model(tmp_path_factory.mktemp("keyframes") / "keyframes.onnx")


@pytest.fixture(scope="module")
def two_shot_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same network, its card saying the film cuts to a new shot at frame 6."""
    return keyframe_model(tmp_path_factory.mktemp("keyframes") / "two_shots.onnx", cuts=[0, 6],
                          keyframes=[{"frame": 3, "file": "0003.tif"}, {"frame": 9, "file": "0009.tif"}])


# --- the model file ------------------------------------------------------------------------------------------


def test_export_declares_format_6_and_the_keyframes_input_and_matches_torch(keyframe_onnx: Path) -> None:
    model = onnx.load(str(keyframe_onnx))
    found = contract.read_model_contract(keyframe_onnx)
    assert [value.name for value in model.graph.input] == ["image", "keyframes"]
    assert model.graph.input[1].type.tensor_type.shape.dim[0].dim_value == 2
    assert (found.kind, found.format_version, found.frames_before, found.frames_after) == ("keyframes", 6, 0, 0)
    src, before, after = _frames(3, height=45, width=70)  # not a multiple of the grid: padding inside the graph
    session = ort.InferenceSession(str(keyframe_onnx), providers=["CPUExecutionProvider"])
    restored = session.run(["restored"], {"image": src[np.newaxis], "keyframes": np.stack([before, after])})[0]
    np.testing.assert_allclose(restored[0], _torch_restored(src, [before, after], moved=False), atol=1e-4)


def test_a_keyframe_kind_must_be_format_3_or_6_and_those_formats_a_keyframe_kind(tmp_path: Path,
                                                                             keyframe_onnx: Path) -> None:
    def edited(source: Path, name: str, **values: str) -> Path:
        model = onnx.load(str(source))
        for prop in model.metadata_props:
            key = prop.key.removeprefix("chromaluma.")
            if key in values:
                prop.value = values[key]
        onnx.save(model, str(tmp_path / name))
        return tmp_path / name

    with pytest.raises(ModelFormatError, match="old.onnx: kind 'keyframes' with format_version 1.*re-export"):
        contract.read_model_contract(edited(keyframe_onnx, "old.onnx", format_version="1"))
    with pytest.raises(ModelFormatError, match="window.onnx: a keyframe model with a temporal window .*damaged"):
        contract.read_model_contract(edited(keyframe_onnx, "window.onnx", frames_before="1"))
    pointwise = pointwise_model(tmp_path / "pointwise.onnx")
    with pytest.raises(ModelFormatError, match="f3.onnx: kind 'pairs' with format_version 3.*damaged"):
        contract.read_model_contract(edited(pointwise, "f3.onnx", format_version="3"))
    with pytest.raises(ModelFormatError, match="nokey.onnx: expected the input.s. 'image' and 'keyframes'"):
        contract.read_model_contract(edited(pointwise, "nokey.onnx", format_version="3", kind="keyframes"))
    with pytest.raises(ModelFormatError, match="chroma.onnx: expected the input.s. 'image' .*found image, keyframes"):
        contract.read_model_contract(edited(keyframe_onnx, "chroma.onnx", format_version="1", kind="chroma"))


def test_older_models_load_and_render_unchanged(tmp_path: Path) -> None:
    single = contract.read_model_contract(pointwise_model(tmp_path / "single.onnx"))
    window = contract.read_model_contract(window_model(tmp_path / "window.onnx", radius=1))
    assert (single.format_version, window.format_version) == (1, 2)
    assert contract.format_version_for(0, 0, "chroma") == 1 and contract.format_version_for(1, 1, "pairs") == 2
    src = _frames(1)[0]
    dst = np.zeros_like(src)
    report = api.process(src, dst, {"model": str(tmp_path / "single.onnx"), "frame": 12})  # a frame number is harmless
    np.testing.assert_allclose(dst[..., :3], src[..., :3] * 0.5 + 0.25, atol=1e-6)
    assert (report.keyframes, report.keyframe_distances) == ((), ())


def test_info_shows_the_kind_and_the_keyframes_of_its_card(two_shot_onnx: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli_main(["info", str(two_shot_onnx)]) == 0
    text = out.getvalue()
    assert "kind keyframes, format 6" in text
    assert "Keyframes   2 painted keyframe(s) (frames 3, 9), shots starting at frames 0, 6" in text


# --- process(): the arrays form -------------------------------------------------------------------------------


def test_arrays_form_renders_what_the_torch_model_computes(keyframe_onnx: Path) -> None:
    src, before, after = _frames(3)
    dst, report = _render(keyframe_onnx, src, [before, after], premultiplied=False)
    np.testing.assert_allclose(dst, _torch_restored(src, [before, after]), atol=1e-4)
    assert report.kind == "keyframes" and (report.keyframes, report.keyframe_distances) == ((), ())
    for other in ([before, src], [src, after]):  # each keyframe reaches the model
        assert np.abs(_render(keyframe_onnx, src, other, premultiplied=False)[0] - dst).max() > 1e-3


def test_integer_keyframes_are_converted_like_the_frame(keyframe_onnx: Path) -> None:
    src, before, after = (np.round(frame * 65535).astype(np.uint16) for frame in _frames(3))
    dst = np.zeros(src.shape, dtype=np.float32)
    # straight colour: with premultiplied colour an unconverted opaque keyframe would be divided by its alpha
    api.process(src, dst, {"model": str(keyframe_onnx), "keyframes": (before, after), "premultiplied": False})
    unit = [frame.astype(np.float32) / np.float32(65535) for frame in (src, before, after)]
    expected = _torch_restored(unit[0], unit[1:])
    np.testing.assert_allclose(dst[..., :3], expected[..., :3], atol=1e-4)


def test_nonfinite_keyframe_pixels_reach_the_model_as_zero(keyframe_onnx: Path) -> None:
    src, before, after = _frames(3)
    zeroed = [before.copy(), after.copy()]
    zeroed[0][5, 7] = 0.0
    zeroed[1][30, 40] = 0.0
    before[5, 7, 0], after[30, 40, 2] = np.nan, np.inf
    dst, report = _render(keyframe_onnx, src, [before, after])
    assert np.isfinite(dst).all() and report.nonfinite_pixels == 0  # src's own pixels are what is passed through
    np.testing.assert_array_equal(dst, _render(keyframe_onnx, src, zeroed)[0])


def test_premultiplied_keyframes_are_unpremultiplied_with_their_own_alpha(keyframe_onnx: Path) -> None:
    rng = np.random.default_rng(13)
    src, before, after = _frames(3)
    for frame in (src, before, after):
        frame[..., 3] = rng.uniform(0.3, 1.0, frame.shape[:2])
    straight, _ = _render(keyframe_onnx, src, [before, after], premultiplied=False)
    premultiplied = [np.concatenate([frame[..., :3] * frame[..., 3:], frame[..., 3:]], axis=2)
                     for frame in (src, before, after)]
    dst, _ = _render(keyframe_onnx, premultiplied[0], premultiplied[1:], premultiplied=True)
    np.testing.assert_allclose(dst[..., :3], straight[..., :3] * src[..., 3:], atol=1e-5)
    np.testing.assert_array_equal(dst[..., 3], src[..., 3])


def test_tiled_render_equals_the_whole_render(keyframe_onnx: Path) -> None:
    src, before, after = _frames(3, height=200, width=420, seed=9)
    whole, _ = _render(keyframe_onnx, src, [before, after])
    tiled, _ = _render(keyframe_onnx, src, [before, after], tile_size=360)  # several tiles along the width
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_result_does_not_depend_on_the_order_frames_are_rendered(keyframe_onnx: Path) -> None:
    frames = _frames(5, seed=11)
    pairs = {1: (frames[0], frames[4]), 2: (frames[0], frames[4]), 3: (frames[4], frames[4])}
    forward = {t: _render(keyframe_onnx, frames[t], list(pairs[t]))[0] for t in (1, 2, 3)}
    backward = {t: _render(keyframe_onnx, frames[t], list(pairs[t]))[0] for t in (3, 2, 1)}
    for t in (1, 2, 3):
        assert forward[t].tobytes() == backward[t].tobytes()


def test_a_keyframe_array_that_is_dst_itself_is_read_before_it_is_written(keyframe_onnx: Path) -> None:
    src, before, after = _frames(3, height=420, width=200, seed=17)
    expected, _ = _render(keyframe_onnx, src, [before, after], tile_size=360)
    dst = after.copy()  # in tiles: rows finished early must not reach the tiles below as their keyframe
    api.process(src, dst, {"model": str(keyframe_onnx), "keyframes": [before, dst], "tile_size": 360})
    np.testing.assert_allclose(dst, expected, atol=1e-6)


# --- refusals ------------------------------------------------------------------------------------------------


def test_a_keyframe_model_without_keyframes_is_refused(keyframe_onnx: Path) -> None:
    src = _frames(1)[0]
    for params in ({}, {"keyframes": None}, {"keyframes": ""}):
        with pytest.raises(ParameterError, match=r"keyframes.onnx is a keyframe model: give params\['keyframes'\] "
                                                 r"\(Keyframes folder / --keyframes DIR\)"):
            api.process(src, np.zeros_like(src), {"model": str(keyframe_onnx), **params})
    described = api.process(None, None, {"model": str(keyframe_onnx)})  # loading needs none
    assert described.kind == "keyframes" and described.keyframes == ()


def test_keyframes_for_another_kind_are_refused(tmp_path: Path) -> None:
    src, before, after = _frames(3)
    model = pointwise_model(tmp_path / "pointwise.onnx")
    with pytest.raises(ParameterError, match=r"params\['keyframes'\] given, but .*pointwise.onnx is a pairs model"):
        _render(model, src, [before, after])


@pytest.mark.parametrize("count", [0, 1, 3])
def test_a_wrong_number_of_keyframes_is_refused(keyframe_onnx: Path, count: int) -> None:
    frames = _frames(4)
    with pytest.raises(ParameterError, match=rf"params\['keyframes'\]: {count} array\(s\) given; .* exactly 2"):
        _render(keyframe_onnx, frames[0], frames[1:1 + count])


def test_keyframes_of_another_shape_or_type_are_refused(keyframe_onnx: Path) -> None:
    src, before, after = _frames(3)
    with pytest.raises(PixelLayoutError, match=r"keyframes\[1\] is 64x40x4 but src is 64x48x4: give the same region"):
        _render(keyframe_onnx, src, [before, after[:40]])
    with pytest.raises(PixelLayoutError, match=r"keyframes\[0\]: sample type float64"):
        _render(keyframe_onnx, src, [before.astype(np.float64), after])
    with pytest.raises(ParameterError, match=r"params\['keyframes'\]: expected a folder path or a list of 2 arrays"):
        _render(keyframe_onnx, src, np.stack([before, after]))


def test_a_card_with_damaged_shot_cuts_is_refused(tmp_path: Path, keyframe_onnx: Path) -> None:
    model = onnx.load(str(keyframe_onnx))
    for prop in model.metadata_props:
        if prop.key == "chromaluma.card":  # the card is outside the graph's hash: editing it keeps the model loadable
            card = json.loads(prop.value)
            card["training"]["keyframes"] = {"cuts": ["0", 6], "keyframes": []}
            prop.value = json.dumps(card)
    onnx.save(model, str(tmp_path / "edited.onnx"))
    src = _frames(1)[0]
    with pytest.raises(ModelFormatError, match="edited.onnx: model card entry training.keyframes.cuts is .*damaged"):
        _render(tmp_path / "edited.onnx", src, str(tmp_path), frame=1)


# --- process(): the folder form ------------------------------------------------------------------------------


def _folder(tmp_path: Path, keyframes: dict[int, np.ndarray]) -> Path:
    folder = tmp_path / "registered"
    folder.mkdir()
    for frame, image in keyframes.items():
        write_frame(folder / f"{frame:04d}.tif", image, TIFF_FLOAT)
    return folder


def _painted(frame: np.ndarray, gain: float, offset: float) -> np.ndarray:
    """A keyframe with colour of its own over the scan frame's picture (opaque, like registered keyframes)."""
    painted = frame.copy()
    painted[..., :3] = frame[..., :3] * np.float32(gain) + np.float32(offset)
    return painted


def test_folder_form_picks_the_pair_in_the_frame_s_shot(tmp_path: Path, two_shot_onnx: Path) -> None:
    scan = _frames(12, seed=21)
    keyframe = {3: _painted(scan[3], 0.5, 0.2), 9: _painted(scan[9], 0.7, 0.0)}
    folder = _folder(tmp_path, keyframe)
    cases = [(5, (3, 3), (2, 2)), (3, (3, 3), (0, 0)), (7, (9, 9), (-2, -2)), (11, (9, 9), (2, 2)),
             (1, (3, 3), (-2, -2))]
    for frame, used, distances in cases:
        dst, report = _render(two_shot_onnx, scan[frame], str(folder), frame=frame, frame_size=(64, 48))
        arrays, _ = _render(two_shot_onnx, scan[frame], [keyframe[used[0]], keyframe[used[1]]])
        described = api.process(None, None, {"model": str(two_shot_onnx), "keyframes": folder, "frame": frame})
        assert (report.keyframes, report.keyframe_distances) == (used, distances)
        assert (described.keyframes, described.keyframe_distances) == (used, distances)  # Model Info, no render
        np.testing.assert_allclose(dst, arrays, atol=1e-6)


def test_folder_form_with_keyframes_on_both_sides(tmp_path: Path, keyframe_onnx: Path) -> None:
    scan = _frames(12, seed=22)
    folder = _folder(tmp_path, {2: scan[2], 10: scan[10]})
    dst, report = _render(keyframe_onnx, scan[6], folder, frame=6)
    arrays, _ = _render(keyframe_onnx, scan[6], [scan[2], scan[10]])
    assert (report.keyframes, report.keyframe_distances) == ((2, 10), (4, -4))
    np.testing.assert_allclose(dst, arrays, atol=1e-6)


def test_folder_form_crops_the_region_at_frame_origin(tmp_path: Path, keyframe_onnx: Path) -> None:
    scan = _frames(6, height=72, width=96, seed=23)
    folder = _folder(tmp_path, {0: scan[0], 5: scan[5]})
    region = (slice(16, 64), slice(24, 88))  # 64x48 at column 24, row 16
    dst, _ = _render(keyframe_onnx, scan[2][region], folder, frame=2, frame_origin=(24, 16), frame_size=(96, 72))
    arrays, _ = _render(keyframe_onnx, scan[2][region], [scan[0][region], scan[5][region]], frame_origin=(24, 16))
    np.testing.assert_allclose(dst, arrays, atol=1e-6)
    with pytest.raises(ChromalumaError, match=r"0000.tif: 96x72 does not cover the region 64x48 at column 40, row 16"):
        _render(keyframe_onnx, scan[2][region], folder, frame=2, frame_origin=(40, 16))


def test_folder_form_refusals_name_the_parameter_or_file(tmp_path: Path, keyframe_onnx: Path) -> None:
    scan = _frames(4, seed=24)
    folder = _folder(tmp_path, {1: scan[1]})
    with pytest.raises(ParameterError, match=r"params\['frame'\] None: a keyframes folder needs the number"):
        _render(keyframe_onnx, scan[2], folder)
    with pytest.raises(ChromalumaError, match=r"0001.tif: 64x48, but the frame is 128x96: .*registered onto this"):
        _render(keyframe_onnx, scan[2], folder, frame=2, frame_size=(128, 96))
    with pytest.raises(ParameterError, match=r"params\['frame_size'\] '64x48': expected two integers > 0"):
        _render(keyframe_onnx, scan[2], folder, frame=2, frame_size="64x48")
