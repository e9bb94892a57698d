"""The painted-keyframe library (`chromaluma.keyframes`): folder naming, the pair rule, registration, the cache."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from chromaluma.io import FrameFormat, write_frame
from chromaluma.keyframes import (
    KeyframeError,
    KeyframeSet,
    painted_files,
    read_registered,
    register_keyframes,
    render_set,
    scan_cuts,
    shot_cuts_of_card,
    write_registered,
)
from chromaluma.keyframes.selection import Keyframe
from chromaluma.synth.shots import CameraMove, photo_shot

PNG16 = FrameFormat(".png", "uint16", 16, 3)
TIF16 = FrameFormat(".tif", "uint16", 16, 3)
WEIGHTS = np.float32([0.2126, 0.7152, 0.0722])


def _grey(rgb: np.ndarray) -> np.ndarray:
    return np.repeat((rgb @ WEIGHTS)[..., None], 3, axis=-1)


def _write(path: Path, pixels: np.ndarray, frame_format: FrameFormat) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_frame(path, pixels, frame_format)


def _key(frame: int) -> Keyframe:
    return Keyframe(frame, Path(f"{frame}.png"), f"hash{frame}", np.zeros((2, 2, 4), np.float32))


@pytest.fixture(scope="module")
def shot() -> list[np.ndarray]:
    return photo_shot("chelsea", 6, 320, 192, CameraMove("pan", 0.1))


@pytest.fixture()
def scan(tmp_path: Path, shot: list[np.ndarray]) -> Path:
    folder = tmp_path / "scan"
    for index, frame in enumerate(shot):
        _write(folder / f"reel.{index + 1:04d}.png", _grey(frame), PNG16)
    return folder


def test_pair_rule_takes_the_nearest_keyframe_each_side_within_the_shot() -> None:
    keys = KeyframeSet((_key(40), _key(10), _key(24), _key(60)), cuts=(1, 50))

    def pair(frame: int) -> list[int]:
        return [k.frame for k in keys.pair_for(frame)]
    assert pair(5) == [10, 10]  # before the first keyframe: the one after, twice
    assert pair(12) == [10, 24]
    assert pair(24) == [24, 24]  # a keyframe's own frame
    assert pair(45) == [40, 40]  # the shot ends at 49: keyframe 60 lies beyond the cut
    assert pair(55) == [60, 60]
    assert keys.shot_of(45) == (1, 49) and keys.shot_of(70) == (50, None)


def test_a_shot_without_a_keyframe_is_refused_naming_the_frame_and_the_fix() -> None:
    keys = KeyframeSet((_key(10),), cuts=(1, 20, 30), folder="paint")
    with pytest.raises(KeyframeError, match=r"frame 25: no keyframe in paint in its shot \(frames 20–29\); paint one"):
        keys.pair_for(25)


def test_folder_naming_and_its_errors(tmp_path: Path) -> None:
    folder = tmp_path / "paint"
    _write(folder / "shot.0024.png", np.zeros((4, 4, 3), np.float32), PNG16)
    _write(folder / "7.tif", np.zeros((4, 4, 3), np.float32), TIF16)
    (folder / "notes.txt").write_text("ignored")
    assert {number: path.name for number, path in painted_files(folder).items()} == {24: "shot.0024.png", 7: "7.tif"}
    _write(folder / "b.0024.tif", np.zeros((4, 4, 3), np.float32), TIF16)
    with pytest.raises(KeyframeError, match="two keyframes for frame 24; keep one"):
        painted_files(folder)
    with pytest.raises(KeyframeError, match="no such keyframes folder"):
        painted_files(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeyframeError, match="no keyframes found"):
        painted_files(tmp_path / "empty")
    unnamed = tmp_path / "unnamed"
    _write(unnamed / "sky.png", np.zeros((4, 4, 3), np.float32), PNG16)
    with pytest.raises(KeyframeError, match="no frame number in the name"):
        painted_files(unnamed)


def test_registration_puts_a_cropped_scaled_painting_back_on_the_scan(tmp_path: Path, scan: Path,
                                                                      shot: list[np.ndarray]) -> None:
    paint = tmp_path / "paint"
    _write(paint / "0001.png", shot[0], PNG16)  # painted over the scan frame itself
    cropped = cv2.resize(shot[4][20:180, 30:300], (405, 240), interpolation=cv2.INTER_AREA)
    _write(paint / "key_0005.tif", cropped, TIF16)  # a crop, exported 1.5× larger
    keys, report = register_keyframes(paint, scan)
    assert [entry["frame"] for entry in report] == [1, 5]
    assert report[0]["method"].startswith("unmoved") and report[0]["coverage"] == 1.0
    assert report[1]["verdict"] == "registered" and 0.6 < report[1]["coverage"] < 0.8
    inside = (slice(25, 175), slice(35, 295))
    for keyframe in keys.keyframes:
        truth = shot[keyframe.frame - 1]
        assert np.abs(keyframe.image[..., :3][inside] - truth[inside]).mean() < 0.01  # grey is ~0.1 away
        # the registered keyframe keeps the scan's luma exactly
        np.testing.assert_allclose(keyframe.image[..., :3] @ WEIGHTS, _grey(truth)[..., 0], atol=2e-4)


def test_a_keyframe_of_another_picture_or_frame_is_refused(tmp_path: Path, scan: Path) -> None:
    paint = tmp_path / "paint"
    noise = np.random.default_rng(0).random((192, 320, 3)).astype(np.float32)
    _write(paint / "0002.png", noise, PNG16)
    with pytest.raises(KeyframeError, match="0002.png: does not match its scan frame"):
        register_keyframes(paint, scan)
    os.remove(paint / "0002.png")
    _write(paint / "0099.png", noise, PNG16)
    with pytest.raises(KeyframeError, match=r"frame 99 is not in the scan .* \(frames 1–6\)"):
        register_keyframes(paint, scan)


def test_registered_keyframes_round_trip_and_the_render_cache_sees_a_repaint(tmp_path: Path, scan: Path,
                                                                            shot: list[np.ndarray]) -> None:
    paint = tmp_path / "paint"
    _write(paint / "0003.png", shot[2], PNG16)
    keys, _ = register_keyframes(paint, scan)
    written = write_registered(keys, tmp_path / "registered")
    assert [path.name for path in written] == ["000003.exr"]
    first = render_set(tmp_path / "registered")
    np.testing.assert_array_equal(first.keyframes[0].image, keys.keyframes[0].image)  # float EXR: nothing lost
    assert render_set(tmp_path / "registered") is first
    repainted = keys.keyframes[0].image.copy()
    repainted[..., 0] += 0.1
    _write(written[0], repainted, FrameFormat(".exr", "float", 32, 4))
    os.utime(written[0], ns=(1, 1))  # a new modification time even on a coarse clock
    second = render_set(tmp_path / "registered")
    assert second is not first
    np.testing.assert_allclose(second.keyframes[0].image, repainted)
    with pytest.raises(KeyframeError, match="but the scan's frames are 100x50: register the keyframes first"):
        read_registered(tmp_path / "registered", frame_size=(100, 50))


def test_scan_cuts_find_the_cut_between_two_pictures(tmp_path: Path) -> None:
    first = photo_shot("chelsea", 5, 160, 96, CameraMove("pan", 0.1))
    second = photo_shot("rocket", 5, 160, 96, CameraMove("pan", 0.1))
    folder = tmp_path / "reel"
    for index, frame in enumerate(first + second):
        _write(folder / f"{101 + index}.png", _grey(frame), PNG16)
    assert scan_cuts(folder) == (101, 106)


def test_card_cuts_are_read_and_damaged_entries_refused() -> None:
    assert shot_cuts_of_card({"training": {"keyframes": {"cuts": [1, 40]}}}) == (1, 40)
    assert shot_cuts_of_card({"training": {}}) == ()
    with pytest.raises(ValueError, match="expected a list of frame numbers"):
        shot_cuts_of_card({"training": {"keyframes": {"cuts": "1,40"}}})
