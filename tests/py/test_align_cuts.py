"""Shot cuts in `chromaluma align`: handheld camera motion, flicker, grain and damaged frames are not cuts.

Footage is made here by `chromaluma.synth.shots.handheld_shot` (a photograph under a shaking 24 fps camera:
random-walk drift with jolts up to 20 px a frame at 1280 wide, roll and zoom jitter, motion blur, exposure
flicker, grain) and read through the same survey `chromaluma align` uses, so what is asserted is where the
scan's shots start as the alignment sees them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from chromaluma.align.cuts import PIECEWISE_REACH, PiecewiseCuts, shot_starts, survey_structure
from chromaluma.align.footage import survey_scan
from chromaluma.errors import ParameterError
from chromaluma.io import FrameFormat, Shot
from chromaluma.synth.shots import Handheld, handheld_shot, load_photo

SIZE = (640, 360)
FRAMES = 24


def starts_of(frames: list[np.ndarray]) -> list[int]:
    """Shot starts of a scan made of `frames`, found as `chromaluma align` finds them."""
    scan = Shot(Path("scan"), list(range(len(frames))), FrameFormat(".tif", "uint16", 16, 3), 24.0,
                _video_frames=frames)
    survey = survey_scan(scan, progress=False)
    return shot_starts(survey.survey_structure, survey.contrasts)


@pytest.fixture(scope="module")
def handheld() -> dict[str, list[np.ndarray]]:
    """Handheld shots of fine-detailed photographs, where shake changes the picture most from frame to frame."""
    return {photo: handheld_shot(photo, FRAMES, *SIZE, seed=seed)
            for photo, seed in (("rocket", 13), ("hubble_deep_field", 14), ("coffee", 11))}


def test_handheld_fixture_really_shakes(handheld: dict[str, list[np.ndarray]]):
    # Measured independently of the code under test, so that "no false cut" is never won by a still camera.
    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in handheld["coffee"]]
    window = cv2.createHanningWindow(SIZE, cv2.CV_32F)
    steps = [np.hypot(*cv2.phaseCorrelate(grey[i - 1], grey[i], window)[0]) for i in range(1, FRAMES)]
    scale = SIZE[0] / 1280  # shake is specified for a 1280-wide frame
    assert np.median(steps) >= 3.0 * scale and max(steps) >= 12.0 * scale
    means = [float(frame.mean()) for frame in handheld["coffee"]]
    assert np.std(np.diff(means)) > 0.01  # the exposure flickers too


@pytest.mark.parametrize("photo", ["rocket", "hubble_deep_field"])
def test_handheld_shot_is_one_shot(handheld: dict[str, list[np.ndarray]], photo: str):
    assert starts_of(handheld[photo]) == [0]


@pytest.mark.slow
def test_handheld_720p_shot_of_36_frames_is_one_shot():
    # The reported case: one continuous handheld 1280x720 shot of 36 frames was split into 8 shots.
    assert starts_of(handheld_shot("rocket", 36, 1280, 720, seed=4)) == [0]


@pytest.mark.parametrize("first, second", [("rocket", "coffee"), ("hubble_deep_field", "rocket"),
                                           ("coffee", "hubble_deep_field")])
def test_cut_between_two_handheld_shots_is_found_once_where_it_is(handheld: dict[str, list[np.ndarray]],
                                                                  first: str, second: str):
    assert starts_of(handheld[first][:13] + handheld[second][13:]) == [0, 13]


def test_cut_to_a_closer_handheld_shot_of_the_same_picture_is_found():
    photo = load_photo("coffee")
    height, width = photo.shape[:2]
    closer = photo[height // 4: 3 * height // 4, width // 4: 3 * width // 4]  # same subject, twice as close
    wide, close = handheld_shot(photo, 10, *SIZE, seed=1), handheld_shot(closer, 10, *SIZE, seed=2)
    assert starts_of(wide + close) == [0, 10]


def test_grainy_handheld_shot_keeps_its_cut_and_gains_none():
    # Heavy grain lowers every frame's continuity with its neighbour; only a clear outlier is a cut.
    camera = Handheld(grain=0.3)
    grainy = handheld_shot("hubble_deep_field", 16, *SIZE, camera=camera, seed=3)
    other = handheld_shot("chelsea", 12, *SIZE, camera=camera, seed=4)
    assert starts_of(grainy + other) == [0, 16]


def test_damaged_frame_inside_a_shot_is_not_a_shot_of_its_own(handheld: dict[str, list[np.ndarray]]):
    frames = list(handheld["coffee"])
    rng = np.random.default_rng(8)
    frames[9] = np.clip(0.93 + rng.normal(0.0, 0.02, frames[9].shape), 0.0, 1.0).astype(np.float32)  # flash frame
    burnt = frames[17].copy()
    burnt[:, : SIZE[0] // 2] = 0.02  # half the frame burnt away
    frames[17] = burnt
    assert starts_of(frames) == [0]


def test_one_frame_between_two_other_shots_is_its_own_shot(handheld: dict[str, list[np.ndarray]]):
    frames = handheld["rocket"][:10] + handheld["coffee"][10:11] + handheld["hubble_deep_field"][11:]
    assert starts_of(frames) == [0, 10, 11]


def test_black_frames_are_no_shots_of_their_own(handheld: dict[str, list[np.ndarray]]):
    rng = np.random.default_rng(9)
    black = [np.clip(0.02 + rng.normal(0.0, 0.01, (SIZE[1], SIZE[0], 3)), 0.0, 1.0).astype(np.float32)
             for _ in range(3)]
    coffee, rocket = handheld["coffee"], handheld["rocket"]
    assert starts_of(coffee[:10] + black + rocket[13:]) == [0, 13]  # the cut is where the new picture begins
    assert starts_of(coffee[:8] + black[:2] + coffee[10:]) == [0]  # the same shot goes on after them
    assert starts_of(black + coffee[3:]) == [0]  # leader belongs to the first shot


def test_cuts_judged_piecewise_are_the_cuts_of_the_whole_scan(handheld: dict[str, list[np.ndarray]]):
    # A render reading part of a reel (`chromaluma apply` with a window model, a farm task) judges each frame from
    # the frames around it alone; away from blank frames it must find what the whole scan's survey finds.
    frames = list(handheld["rocket"][:9] + handheld["coffee"][9:10] + handheld["hubble_deep_field"][10:]
                  + handheld["coffee"][:14])
    frames[30] = np.clip(frames[30] * 0.3 + 0.7, 0.0, 1.0)  # a flash frame inside the last shot
    expected = starts_of(frames)
    assert expected == [0, 9, 10, 24]
    surveyed: list[int] = []

    def survey(position: int) -> np.ndarray:
        surveyed.append(position)
        return survey_structure(frames[position])[0]

    judge = PiecewiseCuts(len(frames), survey)
    assert [0, *(position for position in range(1, len(frames)) if judge.starts_shot(position))] == expected
    assert sorted(set(surveyed)) == list(range(len(frames))) and len(surveyed) == len(frames)  # each surveyed once
    assert len(judge._structures) <= 2 * PIECEWISE_REACH  # a reel's survey is not held whole
    alone = PiecewiseCuts(len(frames), survey)  # a task that asks about one frame reads only the frames around it
    surveyed.clear()
    assert alone.starts_shot(24)
    assert min(surveyed) >= 24 - PIECEWISE_REACH and max(surveyed) < 24 + PIECEWISE_REACH


def test_handheld_camera_that_shakes_beyond_its_jolt_is_refused():
    with pytest.raises(ParameterError, match=r"handheld shake 30.0 px: give 0 ≤ shake ≤ jolt \(20.0 px\)"):
        Handheld(shake=30.0, jolt=20.0)
