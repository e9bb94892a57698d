"""`chromaluma train --kind keyframes --input SCAN --keyframes DIR`: the run, its card and records, its refusals, and
that what it learns carries the painted colour to the frames between keyframes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chromaluma import cli
from chromaluma.api import process
from chromaluma.backend.restore import process_frame
from chromaluma.contract import CARRIED_KEYFRAME_FORMAT_VERSION, file_sha256, read_model_contract
from chromaluma.io import FrameFormat, open_shot, write_frame
from chromaluma.metrics import delta_e2000
from chromaluma.synth.shots import CameraMove, photo_shot

PNG16 = FrameFormat(".png", "uint16", 16, 3)
WEIGHTS = np.float32([0.2126, 0.7152, 0.0722])


def _film(root: Path, frames: int, width: int, height: int, keys: tuple[int, ...]) -> list[np.ndarray]:
    """A grey scan of a slow colour pan (frames numbered from 1) and the colour frames at `keys` as paintings."""
    shot = photo_shot("chelsea", frames, width, height, CameraMove("pan", 0.3))
    for folder in ("scan", "paint"):
        (root / folder).mkdir()
    for index, frame in enumerate(shot):
        write_frame(root / "scan" / f"reel.{index + 1:04d}.png", np.repeat((frame @ WEIGHTS)[..., None], 3, -1), PNG16)
    for key in keys:
        write_frame(root / "paint" / f"{key:04d}.png", shot[key - 1], PNG16)
    return shot


def _train(root: Path, *extra: str) -> int:
    return cli.main(["train", "--kind", "keyframes", "--input", str(root / "scan"), "--keyframes",
                     str(root / "paint"), "--run-dir", str(root / "run"), "--no-progress", *extra])


@pytest.mark.slow
def test_a_keyframe_run_records_its_keyframes_and_exports_a_keyframe_model(tmp_path: Path) -> None:
    _film(tmp_path, 6, 96, 64, (1, 5))
    assert _train(tmp_path, "--steps", "2", "--crop", "64", "--batch", "2") == 0
    run = tmp_path / "run"
    contract = read_model_contract(run / "model.onnx")
    assert contract.kind == "keyframes" and contract.format_version == CARRIED_KEYFRAME_FORMAT_VERSION
    entry = contract.card["training"]["keyframes"]
    assert entry["cuts"] == [1]
    assert [(k["frame"], k["sha256"]) for k in entry["keyframes"]] == [
        (frame, file_sha256(tmp_path / "paint" / f"{frame:04d}.png")) for frame in (1, 5)]
    assert all(k["registration"]["verdict"] == "registered" for k in entry["keyframes"])
    assert sorted(p.name for p in (run / "keyframes").iterdir()) == ["000001.exr", "000005.exr"]
    report = json.loads((run / "keyframes_registration.json").read_text())
    assert [r["frame"] for r in report] == [1, 5]
    # the registered folder is what process() and the plug-in read
    scan = open_shot(tmp_path / "scan")
    src = np.concatenate([scan.read(2), np.ones((64, 96, 1), np.float32)], axis=-1)
    report_of_render = process(src, np.zeros_like(src), {"model": str(run / "model.onnx"),
                                                         "keyframes": str(run / "keyframes"), "frame": 3})
    assert report_of_render.keyframes == (1, 5) and report_of_render.keyframe_distances == (2, -2)
    assert _train(tmp_path, "--resume", str(run), "--steps", "3") == 0  # a keyframe run resumes like any other
    assert read_model_contract(run / "model.onnx").card["training"]["parameters"]["steps_done"] == 3


@pytest.mark.parametrize(("arguments", "message"), [
    (["--kind", "chroma", "--input", "scan", "--keyframes", "paint"], "--keyframes paint: only keyframe models"),
    (["--kind", "keyframes", "--input", "scan"], "--kind keyframes needs --input SCAN"),
    (["--kind", "keyframes", "--input", "scan", "--keyframes", "paint", "--temporal-radius", "1"],
     "--temporal-radius 1: keyframe models read one scan frame"),
    (["--kind", "keyframes", "--input", "scan", "--keyframes", "paint", "--target", "scan"],
     "leave --pairs, --target and --masks out"),
    (["--kind", "keyframes", "--input", "scan", "--keyframes", "missing"], "missing: no such keyframes folder"),
])
def test_keyframe_runs_refuse_bad_settings_in_one_line_and_write_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, arguments: list[str],
        message: str) -> None:
    _film(tmp_path, 3, 64, 48, (1,))
    monkeypatch.chdir(tmp_path)
    code = cli.main(["train", *arguments, "--run-dir", "run", "--steps", "1", "--no-progress"])
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert code == 2 and len(errors) == 1 and message in errors[0] and "Traceback" not in caplog.text
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_training_carries_the_painted_colour_to_frames_between_keyframes(tmp_path: Path) -> None:
    shot = _film(tmp_path, 13, 160, 96, (1, 13))
    assert _train(tmp_path, "--steps", "150", "--crop", "96", "--batch", "4") == 0
    scan = open_shot(tmp_path / "scan")
    model, folder = str(tmp_path / "run" / "model.onnx"), str(tmp_path / "run" / "keyframes")
    for frame in (4, 7, 10):
        src = np.concatenate([scan.read(frame - 1), np.ones((96, 160, 1), np.float32)], axis=-1)
        dst = np.zeros_like(src)
        process(src, dst, {"model": model, "keyframes": folder, "frame": frame})
        restored = delta_e2000(dst[..., :3], shot[frame - 1]).mean
        grey = delta_e2000(src[..., :3], shot[frame - 1]).mean
        assert restored < 0.35 * grey, (frame, restored, grey)
        np.testing.assert_allclose(dst[..., :3] @ WEIGHTS, src[..., :3] @ WEIGHTS, atol=1e-4)  # luma is the scan's
    # a new object (picture no keyframe holds) is where the model is unsure
    src = np.concatenate([scan.read(6), np.ones((96, 160, 1), np.float32)], axis=-1)
    stranger = photo_shot("rocket", 1, 48, 48, CameraMove("static"))[0]
    src[24:72, 56:104, :3] = np.repeat((stranger @ WEIGHTS)[..., None], 3, -1)
    confidence = np.zeros((96, 160), np.float32)
    process_frame(src, np.zeros_like(src), {"model": model, "keyframes": folder, "frame": 7}, confidence)
    inside, outside = confidence[32:64, 64:96].mean(), confidence[:, :40].mean()
    assert inside < outside, (inside, outside)  # 0.47 against 0.51 after these 150 steps
