"""`chromaluma apply --keyframes DIR` with a keyframe model (docs/CONTRACT.md §1.7): each frame rendered with the
pair the rule gives it (nearest keyframe at or before, nearest at or after, in its shot), farm ranges byte-identical
to one whole render, `--resume` after a repainted keyframe renders again exactly the frames that read it, and every
refusal is one line, exit 2, with nothing written."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chromaluma import contract
from chromaluma.backend import restore
from chromaluma.cli import main
from chromaluma.io import FrameFormat, read_frame, write_frame
from chromaluma.keyframes import register_keyframes
from model_fixtures import keyframe_model, pointwise_model

FRAMES = tuple(range(1001, 1009))
CUTS = [1001, 1005]  # two shots: 1001–1004 and 1005–1008
KEYFRAMES = {1002: (0.12, -0.05), 1004: (-0.1, 0.08), 1007: (0.06, 0.1)}  # frame → (R−Y, B−Y) tint painted
# The pair each frame reads, written out by hand from the rule (not computed by the code under test).
PAIRS = {1001: (1002, 1002), 1002: (1002, 1002), 1003: (1002, 1004), 1004: (1004, 1004),
         1005: (1007, 1007), 1006: (1007, 1007), 1007: (1007, 1007), 1008: (1007, 1007)}
PNG16 = FrameFormat(".png", "uint16", 16, 3)
HEIGHT, WIDTH = 40, 56
WEIGHTS = np.float32(contract.LUMA_WEIGHTS)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return keyframe_model(tmp_path_factory.mktemp("keyframe_models") / "keyframes.onnx", cuts=CUTS, std=0.2)


def _grey_frames() -> dict[int, np.ndarray]:
    """Smooth grey scan frames (structure for registration), each frame different."""
    rng = np.random.default_rng(19)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    frames = {}
    for frame in FRAMES:
        phase = rng.random(4, dtype=np.float32) * 6.0
        value = 0.5 + 0.2 * np.sin(xs / 5.0 + phase[0]) * np.cos(ys / 4.0 + phase[1]) + 0.1 * np.sin(
            (xs + ys) / 7.0 + phase[2])
        frames[frame] = np.repeat(value[..., None], 3, axis=2).astype(np.float32)
    return frames


def _painted(grey: np.ndarray, tint: tuple[float, float]) -> np.ndarray:
    """The scan frame coloured with a tint (R−Y, B−Y) on its own luma."""
    luma = grey @ WEIGHTS
    red, blue = luma + tint[0], luma + tint[1]
    green = (luma - WEIGHTS[0] * red - WEIGHTS[2] * blue) / WEIGHTS[1]
    return np.clip(np.stack([red, green, blue], axis=2), 0, 1).astype(np.float32)


@pytest.fixture
def scan(tmp_path: Path) -> Path:
    folder = tmp_path / "scan"
    folder.mkdir()
    for frame, grey in _grey_frames().items():
        write_frame(folder / f"reel.{frame}.png", grey, PNG16)
    return folder


def _paint(folder: Path, keyframes: dict[int, tuple[float, float]]) -> Path:
    folder.mkdir(exist_ok=True)
    greys = _grey_frames()
    for frame, tint in keyframes.items():
        write_frame(folder / f"{frame:04d}.png", _painted(greys[frame], tint), PNG16)
    return folder


@pytest.fixture
def paint(tmp_path: Path) -> Path:
    return _paint(tmp_path / "paint", KEYFRAMES)


def _apply(model: Path, scan: Path, out: Path, *extra: str) -> int:
    return main(["apply", "--model", str(model), "--input", str(scan), "--output", str(out), "--no-progress",
                 *extra])


def _outputs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.png"))}


def _log(out: Path, name: str = "chromaluma-render.json") -> dict[str, Any]:
    return json.loads((out / name).read_text())


def _expected(model: Path, scan: Path, paint: Path, frame: int, pair: tuple[int, int], where: Path) -> bytes:
    """The file process() gives `frame` with the keyframes `pair` (registered by the keyframe library), written as
    apply writes it (16-bit PNG)."""
    registered = {key.frame: key.image for key in register_keyframes(paint, scan)[0].keyframes}
    src = read_frame(scan / f"reel.{frame}.png")[0]
    dst = np.empty_like(src)
    restore.process_frame(src, dst, {"model": str(model), "keyframes": [registered[k][..., :3] for k in pair]})
    path = where / f"expected.{frame}.{pair[0]}-{pair[1]}.png"
    write_frame(path, dst, PNG16)
    return path.read_bytes()


def test_each_frame_is_rendered_with_the_keyframe_pair_of_its_shot(tmp_path, model, scan, paint, caplog) -> None:
    caplog.set_level(logging.INFO)
    out = tmp_path / "out"
    assert _apply(model, scan, out, "--keyframes", str(paint)) == 0
    for frame, pair in PAIRS.items():
        assert (out / f"reel.{frame}.png").read_bytes() == _expected(model, scan, paint, frame, pair, tmp_path), frame
    # the check can fail: another pair gives another picture
    for frame, pair in ((1003, (1002, 1002)), (1003, (1004, 1004)), (1003, (1004, 1002)), (1005, (1004, 1004))):
        assert (out / f"reel.{frame}.png").read_bytes() != _expected(model, scan, paint, frame, pair, tmp_path)
    record = _log(out)
    assert record["status"] == "complete"
    for entry in record["frames"]:
        assert [key["frame"] for key in entry["keyframes"]] == list(PAIRS[entry["frame"]])
        assert all(key["sha256"] == contract.file_sha256(paint / key["file"]) for key in entry["keyframes"])
    assert [item["frame"] for item in record["keyframes"]["registration"]] == sorted(KEYFRAMES)
    assert all(item["verdict"] == "registered" for item in record["keyframes"]["registration"])
    assert record["keyframes"]["cuts"] == CUTS
    start = [r.getMessage() for r in caplog.records if r.getMessage().startswith("keyframes from")]
    assert len(start) == 1 and all(f"{frame} ({frame:04d}.png: registered" in start[0] for frame in KEYFRAMES)


def test_farm_ranges_give_the_bytes_of_one_whole_render(tmp_path, model, scan, paint) -> None:
    whole, farm = tmp_path / "whole", tmp_path / "farm"
    assert _apply(model, scan, whole, "--keyframes", str(paint)) == 0
    for task in ("1001-1002", "1003-1005", "1006-1008"):  # 1003 reads 1004 and 1002 outside its range
        assert _apply(model, scan, farm, "--keyframes", str(paint), "--frames", task) == 0
    assert _outputs(farm) == _outputs(whole)
    assert len(_outputs(whole)) == len(FRAMES)


def test_resume_after_a_repainted_keyframe_renders_again_exactly_the_frames_that_read_it(
        tmp_path, model, scan, paint) -> None:
    out = tmp_path / "out"
    assert _apply(model, scan, out, "--keyframes", str(paint)) == 0
    before = _outputs(out)
    inodes = {path.name: path.stat().st_ino for path in out.glob("*.png")}
    _paint(paint, {1004: (0.1, -0.12)})  # the restorer repaints keyframe 1004
    assert _apply(model, scan, out, "--keyframes", str(paint), "--resume") == 0
    after = _outputs(out)
    readers = {f"reel.{frame}.png" for frame, pair in PAIRS.items() if 1004 in pair}
    assert readers == {"reel.1003.png", "reel.1004.png"}
    assert {name for name in after if after[name] != before[name]} == readers
    assert {path.name for path in out.glob("*.png") if path.stat().st_ino != inodes[path.name]} == readers
    assert _log(out)["resumed"][-1]["kept_frames"] == len(FRAMES) - len(readers)
    fresh = tmp_path / "fresh"
    assert _apply(model, scan, fresh, "--keyframes", str(paint)) == 0
    assert _outputs(fresh) == after
    # nothing changed since: a second resume keeps every frame
    assert _apply(model, scan, out, "--keyframes", str(paint), "--resume") == 0
    assert _log(out)["resumed"][-1]["kept_frames"] == len(FRAMES)


def test_resume_after_a_keyframe_is_added_renders_the_frames_whose_pair_changed(tmp_path, model, scan, paint) -> None:
    out = tmp_path / "out"
    assert _apply(model, scan, out, "--keyframes", str(paint)) == 0
    before = _outputs(out)
    _paint(paint, {1005: (-0.08, -0.08)})  # now 1005 and 1006 read 1005 (1006 reads 1005 and 1007)
    assert _apply(model, scan, out, "--keyframes", str(paint), "--resume") == 0
    after = _outputs(out)
    assert {name for name in after if after[name] != before[name]} == {"reel.1005.png", "reel.1006.png"}
    assert _log(out)["resumed"][-1]["kept_frames"] == len(FRAMES) - 2


def _refused(caplog: pytest.LogCaptureFixture, code: int, out: Path) -> str:
    assert code == 2
    assert not out.exists()  # nothing written, not even the folder
    message = caplog.records[-1].getMessage()
    assert "\n" not in message
    return message


def test_a_keyframe_model_without_keyframes_is_refused(tmp_path, model, scan, caplog) -> None:
    out = tmp_path / "out"
    message = _refused(caplog, _apply(model, scan, out), out)
    assert f"--model {model} is a keyframe model: give --keyframes DIR" in message


def test_keyframes_for_another_kind_of_model_are_refused(tmp_path, scan, paint, caplog) -> None:
    chroma = pointwise_model(tmp_path / "chroma.onnx", kind="chroma")
    out = tmp_path / "out"
    message = _refused(caplog, _apply(chroma, scan, out, "--keyframes", str(paint)), out)
    assert f"--keyframes {paint}: --model {chroma} is a chroma model and reads no keyframes" in message


def test_a_shot_without_a_keyframe_is_refused_before_anything_is_rendered(tmp_path, model, scan, caplog) -> None:
    paint = _paint(tmp_path / "paint", {1002: KEYFRAMES[1002]})  # nothing painted in the shot 1005–1008
    out = tmp_path / "out"
    message = _refused(caplog, _apply(model, scan, out, "--keyframes", str(paint)), out)
    assert "frame 1005: no keyframe" in message and "(frames 1005–end)" in message
    assert "paint one frame of that shot and add it to the keyframes folder" in message
    assert message.endswith("Nothing was rendered.")
    # only the frames to render need a keyframe: a farm task inside the painted shot renders
    assert _apply(model, scan, out, "--keyframes", str(paint), "--frames", "1001-1004") == 0
    assert len(_outputs(out)) == 4


def test_a_keyframe_that_is_not_a_frame_of_the_scan_is_refused(tmp_path, model, scan, caplog) -> None:
    paint = _paint(tmp_path / "paint", {1002: KEYFRAMES[1002]})
    (paint / "1002.png").rename(paint / "1099.png")
    out = tmp_path / "out"
    message = _refused(caplog, _apply(model, scan, out, "--keyframes", str(paint)), out)
    assert "1099.png: frame 1099 is not in the scan" in message


def test_a_missing_keyframes_folder_is_refused(tmp_path, model, scan, caplog) -> None:
    out = tmp_path / "out"
    message = _refused(caplog, _apply(model, scan, out, "--keyframes", str(tmp_path / "nowhere")), out)
    assert "nowhere: no such keyframes folder" in message
