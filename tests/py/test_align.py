"""`chromaluma.align` against synthetic references with known truth (made by chromaluma.synth.telecine).

Clean "film" is made here from scikit-image's public-domain photographs under a moving virtual camera (pans
with acceleration, a zoom; one photograph per shot, so every shot change is a cut). The scan side is that film
faded (strong magenta-red cast, lost contrast) with grain; the reference side is a simulated DVD/telecine.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from chromaluma.align import AlignOptions, NoMatchError, plan_alignment
from chromaluma.align.cuts import shot_starts
from chromaluma.align.spatial import constrain
from chromaluma.align.structure import field_picture
from chromaluma.align.temporal import match_fields
from chromaluma.errors import ParameterError
from chromaluma.io import FrameFormat, Shot
from chromaluma.synth.telecine import TelecineSettings, TelecineTruth, make_reference

SCAN_SIZE = (480, 360)
# (photo, frames, velocity px/frame, acceleration px/frame², zoom per frame)
SHOTS = [("astronaut", 9, (2.0, 0.5), (0.1, 0.0), 0.0), ("coffee", 8, (-1.5, 1.0), (0.0, 0.06), 0.004),
         ("chelsea", 9, (0.5, -1.2), (0.05, 0.03), -0.003)]
MEMORY_FORMAT = FrameFormat(".tif", "uint16", 16, 3)


def camera_film(shots: list[tuple], size: tuple[int, int] = SCAN_SIZE) -> list[np.ndarray]:
    """Clean film frames: a virtual camera moving over one photograph per shot."""
    width, height = size
    frames = []
    for name, count, velocity, acceleration, zoom in shots:
        photo = np.asarray(getattr(skimage.data, name)())[..., :3].astype(np.float32) / 255.0
        photo_height, photo_width = photo.shape[:2]
        base = max(width / photo_width, height / photo_height) * 1.3
        for t in range(count):
            scale = base * (1.0 + zoom * t)
            centre = (np.array([photo_width, photo_height]) / 2 + np.array(velocity) * t / base
                      + np.array(acceleration) * t * t / base)
            matrix = np.array([[scale, 0, width / 2 - scale * centre[0]], [0, scale, height / 2 - scale * centre[1]]])
            frame = cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REFLECT)
            frames.append(np.clip(frame, 0.0, 1.0))
    return frames


def faded_scan(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A strongly faded print: cyan and yellow dyes gone (magenta-red cast), flattened contrast, grain."""
    red, green, blue = frame[..., 0], frame[..., 1], frame[..., 2]
    faded = np.stack([0.85 * red**0.8 + 0.1, 0.5 * green**1.25 + 0.06, 0.35 * blue**1.5 + 0.12], axis=-1)
    grain = cv2.GaussianBlur(rng.normal(0.0, 0.02, frame.shape[:2]).astype(np.float32), (0, 0), 0.7)
    return np.clip(faded + grain[..., None], 0.0, 1.0).astype(np.float32)


def memory_shot(name: str, frames: list[np.ndarray], first_id: int = 0, fps: float | None = None) -> Shot:
    return Shot(Path(name), list(range(first_id, first_id + len(frames))), MEMORY_FORMAT, fps, _video_frames=frames)


def spatial_rms(estimated: np.ndarray, truth: TelecineTruth, size: tuple[int, int] = SCAN_SIZE) -> float:
    """RMS distance in scan pixels between estimated and true reference→scan mapping over the valid area."""
    x0, y0, x1, y1 = truth.picture_box
    xs, ys = np.meshgrid(np.linspace(x0 + 2, x1 - 3, 25), np.linspace(y0 + 2, y1 - 3, 25))
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    true_xy = truth.reference_to_scan @ points
    true_xy = true_xy[:2] / true_xy[2]
    inside = (true_xy[0] >= 0) & (true_xy[0] <= size[0] - 1) & (true_xy[1] >= 0) & (true_xy[1] <= size[1] - 1)
    found = estimated @ points[:, inside]
    return float(np.sqrt((((found[:2] / found[2]) - true_xy[:, inside]) ** 2).sum(axis=0).mean()))


@pytest.fixture(scope="module")
def film() -> list[np.ndarray]:
    return camera_film(SHOTS)


def scan_without(film: list[np.ndarray], missing: tuple[int, ...], seed: int = 7) -> tuple[Shot, list[int]]:
    """The faded scan of `film` with some film frames missing (lost at splices); also which film frame each shows."""
    rng = np.random.default_rng(seed)
    shows = [k for k in range(len(film)) if k not in missing]
    return memory_shot("scan", [faded_scan(film[k], rng) for k in shows], 1001, 24.0), shows


def check_mapping(alignment, truth: TelecineTruth, shows: list[int]) -> None:
    """Every written pair shows the same film frame on both sides, in both reference fields."""
    for pair in alignment.pairs:
        film_frame = shows[pair.scan_index]
        assert truth.fields[pair.top_frame][0] == film_frame, pair
        assert truth.fields[pair.bottom_frame][1] == film_frame, pair


@pytest.mark.slow
def test_pal_dvd_with_offset_missing_frames_and_fading(film: list[np.ndarray]):
    settings = TelecineSettings(cadence="pal", lead_in=7, drop_film_frames=(12,))  # 24→25 speed-up, 1:1 frames
    reference_frames, truth = make_reference(film, settings)
    scan, shows = scan_without(film, missing=(4, 20))
    alignment = plan_alignment(scan, memory_shot("dvd", reference_frames, fps=25.0), AlignOptions(progress=False))

    check_mapping(alignment, truth, shows)
    matched = {shows[p.scan_index] for p in alignment.pairs}
    assert matched == set(shows) - {12}  # everything the DVD has is found; the frame it lost is left out
    assert all(p.top_frame == p.bottom_frame for p in alignment.pairs)  # PAL: whole frames, no field weaving
    assert alignment.shot_starts == [0, 8, 16]  # cuts before film frames 9 and 17; frame 4 is missing
    for shot in range(3):
        assert spatial_rms(alignment.transform_of_shot(shot), truth) <= 0.5


@pytest.mark.slow
@pytest.mark.parametrize("cadence", ["2:3", "pal-2:2:3"])
def test_pulldown_is_undone_from_fields(film: list[np.ndarray], cadence: str):
    reference_frames, truth = make_reference(film[:17], TelecineSettings(cadence=cadence, lead_in=3))
    scan, shows = scan_without(film[:17], missing=(5,))
    alignment = plan_alignment(scan, memory_shot("ntsc", reference_frames), AlignOptions(progress=False))

    check_mapping(alignment, truth, shows)
    woven = [p for p in alignment.pairs if p.top_frame != p.bottom_frame]
    assert len(woven) >= 2  # frames that exist only as two fields of different video frames were rebuilt
    assert len(alignment.pairs) >= len(shows) - 1  # at most the last film frame (a lone field) is missing
    for shot in range(len(alignment.shot_starts)):
        assert spatial_rms(alignment.transform_of_shot(shot), truth) <= 0.5


@pytest.mark.slow
def test_reference_shorter_than_scan_matches_only_the_overlap(film: list[np.ndarray]):
    reference_frames, truth = make_reference(film[:12], TelecineSettings(cadence="pal"))
    scan, shows = scan_without(film[:20], missing=())
    alignment = plan_alignment(scan, memory_shot("dvd", reference_frames), AlignOptions(progress=False, every=2))

    check_mapping(alignment, truth, shows)
    assert [shows[p.scan_index] for p in alignment.pairs] == list(range(0, 12, 2))  # --every 2 of matched 0–11
    assert set(alignment.scores) == set(range(12))


@pytest.mark.slow
def test_pillarboxed_reference_of_another_aspect_ratio(film: list[np.ndarray]):
    settings = TelecineSettings(cadence="pal", display_aspect=16 / 9, rotation_deg=-0.3)
    reference_frames, truth = make_reference(film[8:17], settings)
    assert truth.picture_box[0] > 50  # the 4:3 picture sits between black bars
    scan, shows = scan_without(film[8:17], missing=())
    alignment = plan_alignment(scan, memory_shot("wide", reference_frames), AlignOptions(progress=False,
                                                                                          transform="affine"))
    check_mapping(alignment, truth, shows)
    assert alignment.reference.box[0] == pytest.approx(truth.picture_box[0], abs=2)
    assert len(alignment.pairs) >= len(shows) - 1
    assert spatial_rms(alignment.transform_of_shot(alignment.pairs[-1].shot), truth) <= 0.5


def test_no_common_picture_is_a_clear_no_match(film: list[np.ndarray]):
    other = camera_film([("rocket", 6, (1.0, 0.0), (0.0, 0.0), 0.0)], size=(240, 180))
    reference_frames, _ = make_reference(other, TelecineSettings(width=360, height=288))
    scan = memory_shot("scan", [faded_scan(f, np.random.default_rng(1)) for f in camera_film(
        [("astronaut", 6, (2.0, 0.5), (0.0, 0.0), 0.0)], size=(240, 180))])
    with pytest.raises(NoMatchError, match="no scan frame has a confident match"):
        plan_alignment(scan, memory_shot("other", reference_frames), AlignOptions(progress=False))


def test_mutual_best_fields_leave_out_a_frame_the_reference_lacks():
    # 4 scan frames, 3 reference frames (fields 0–5); scan frame 2 has no counterpart, so its best fields
    # (those of reference frame 1, which shows scan frame 1) prefer scan frame 1 and it must stay unmatched.
    scores = np.full((4, 6), 0.1)
    for scan_index, frame in ((0, 0), (1, 1), (3, 2)):
        scores[scan_index, 2 * frame: 2 * frame + 2] = 0.9
    scores[2, 2:4] = 0.8
    matches = match_fields(scores)
    assert [(m.scan_index, m.top_frame, m.bottom_frame) for m in matches] == [(0, 0, 0), (1, 1, 1), (3, 2, 2)]


def test_fields_of_two_frames_are_woven_only_when_each_prefers_the_scan_frame():
    # Scan frame 1 = top field of reference frame 2 + bottom field of frame 1 (2:3's mixed frames).
    scores = np.full((3, 6), 0.1)
    scores[0, 0:2] = 0.9
    scores[1, 4], scores[1, 3] = 0.9, 0.9
    scores[2, 2], scores[2, 5] = 0.9, 0.9
    matches = match_fields(scores)
    assert [(m.scan_index, m.top_frame, m.bottom_frame) for m in matches] == [(0, 0, 0), (1, 2, 1), (2, 1, 2)]


def test_field_picture_keeps_its_own_lines_and_interpolates_the_others():
    frame = np.arange(8, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    top, bottom = field_picture(frame, 0), field_picture(frame, 1)
    np.testing.assert_array_equal(top[0::2], frame[0::2])
    np.testing.assert_array_equal(bottom[1::2], frame[1::2])
    np.testing.assert_allclose(top[1:7:2, 0], [1.0, 3.0, 5.0])  # row value = row number: midway rows
    np.testing.assert_allclose(bottom[2::2, 0], [2.0, 4.0, 6.0])


def test_similarity_constraint_keeps_non_square_pixels_and_drops_shear():
    angle = np.deg2rad(0.3)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = np.eye(3)
    matrix[:2, :2] = rotation @ np.diag([0.63, 0.59])
    matrix[:2, 2] = (15.0, 9.0)
    np.testing.assert_allclose(constrain(matrix, "similarity", 720, 576), matrix, atol=1e-6)  # already similar
    sheared = matrix.copy()
    sheared[:2, :2] = sheared[:2, :2] @ np.array([[1.0, 0.01], [0.0, 1.0]])
    similar = constrain(sheared, "similarity", 720, 576)
    columns = similar[:2, :2]
    assert abs(float(columns[:, 0] @ columns[:, 1])) < 1e-6  # rotation × axis scales: no shear left
    assert np.linalg.norm(columns, axis=0) == pytest.approx((0.63, 0.59), abs=3e-3)
    centre = np.array([359.5, 287.5, 1.0])
    np.testing.assert_allclose(similar @ centre, sheared @ centre, atol=1e-9)  # the frame centre stays put
    np.testing.assert_allclose(constrain(sheared, "affine", 720, 576), sheared, atol=1e-12)


def test_shot_cuts_are_found_between_photographs(film: list[np.ndarray]):
    from chromaluma.align.structure import Grid, luma, structure

    grid = Grid.scaled(*SCAN_SIZE, 128)
    rng = np.random.default_rng(3)
    survey = [structure(grid.resize(luma(faded_scan(f, rng))), *grid.sigmas()) for f in film]
    assert shot_starts(survey) == [0, 9, 17]


def test_bad_options_name_the_flag():
    with pytest.raises(ParameterError, match="--transform"):
        AlignOptions(transform="perspective")
    with pytest.raises(ParameterError, match="--min-score"):
        AlignOptions(min_score=1.5)
    with pytest.raises(ParameterError, match="--every"):
        AlignOptions(every=0)
