"""The simulated DVD/telecine reference: geometry convention, cadences, colour and coding, with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from chromaluma.errors import ParameterError
from chromaluma.synth.telecine import (
    TelecineSettings,
    cadence_fields,
    compress_jpeg,
    grade_reference,
    make_reference,
    picture_box,
    subsample_chroma_420,
    telecine_matrix,
    transfer_frame,
)

PLAIN = dict(colour_matrix=None, gamma=1.0, video_levels=False, chroma_420=False, jpeg_quality=100)


def apply(matrix: np.ndarray, x: float, y: float) -> tuple[float, float]:
    u, v, w = matrix @ np.array([x, y, 1.0])
    return u / w, v / w


def test_matrix_maps_crop_edges_to_reference_edges():
    settings = TelecineSettings(overscan=0.03, rotation_deg=0.0)
    matrix = telecine_matrix(settings, 480, 360)
    # Pixel centres at integers: the scan's crop edge (3 % in, minus half a pixel) lands on the reference's edge.
    assert apply(matrix, 0.03 * 480 - 0.5, 0.03 * 360 - 0.5) == pytest.approx((-0.5, -0.5))
    assert apply(matrix, 480 * 0.97 - 0.5, 360 * 0.97 - 0.5) == pytest.approx((719.5, 575.5))
    assert apply(matrix, 239.5, 179.5) == pytest.approx((359.5, 287.5))
    scale_x, scale_y = matrix[0, 0], matrix[1, 1]
    assert scale_x == pytest.approx(720 / (480 * 0.94)) and scale_y == pytest.approx(576 / (360 * 0.94))
    assert abs(scale_x - scale_y) > 0.05  # PAL pixels are not square


def test_rotation_turns_about_the_centre_counter_clockwise():
    matrix = telecine_matrix(TelecineSettings(overscan=0.0, rotation_deg=90.0, width=480, height=480), 480, 480)
    # Turning the picture 90° counter-clockwise as displayed brings the top-centre point to the left-centre.
    assert apply(matrix, 239.5, 0.0) == pytest.approx((0.0, 239.5), abs=1e-9)


def test_transferred_blob_lands_where_the_matrix_says():
    height, width = 360, 480
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    centre = (301.3, 97.8)
    blob = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * 3.0**2))
    frame = np.repeat(blob[..., None], 3, axis=2).astype(np.float32)
    settings = TelecineSettings(rotation_deg=0.3, **PLAIN)
    matrix = telecine_matrix(settings, width, height)
    out = transfer_frame(frame, matrix, 720, 576)[..., 0]
    ref_ys, ref_xs = np.mgrid[0:576, 0:720]
    found = (float((out * ref_xs).sum() / out.sum()), float((out * ref_ys).sum() / out.sum()))
    assert found == pytest.approx(apply(matrix, *centre), abs=0.05)


def test_pulldown_2_3_makes_five_frames_from_four_with_two_mixed():
    fields = cadence_fields(4, TelecineSettings(cadence="2:3"))
    assert fields == [(0, 0), (1, 1), (1, 2), (2, 3), (3, 3)]


def test_pal_pulldown_adds_one_field_every_twelve_frames():
    fields = cadence_fields(24, TelecineSettings(cadence="pal-2:2:3"))
    assert len(fields) == 25
    assert sum(top != bottom for top, bottom in fields) == 1 + 11  # frames after the first extra field are split
    flat = [source for pair in fields for source in pair]
    assert flat.count(11) == 3 and flat.count(23) == 3 and flat.count(0) == 2


def test_lead_in_and_dropped_frames_shift_the_mapping():
    fields = cadence_fields(10, TelecineSettings(cadence="pal", lead_in=7, drop_film_frames=(3, 4)))
    assert fields[:7] == [(None, None)] * 7
    assert [top for top, _ in fields[7:]] == [0, 1, 2, 5, 6, 7, 8, 9]


def test_make_reference_truth_matches_frames(rng: np.random.Generator):
    film = [np.full((90, 120, 3), value, np.float32) for value in (0.1, 0.5, 0.9)]
    frames, truth = make_reference(film, TelecineSettings(width=96, height=72, cadence="2:3", **PLAIN))
    assert len(frames) == len(truth.fields) == 3 and truth.fps == pytest.approx(29.97, abs=0.01)
    for frame, (top, bottom) in zip(frames, truth.fields, strict=True):
        centre = frame[20:50, 30:70]
        assert centre[0::2].mean() == pytest.approx([0.1, 0.5, 0.9][top], abs=0.01)
        assert centre[1::2].mean() == pytest.approx([0.1, 0.5, 0.9][bottom], abs=0.01)
    np.testing.assert_allclose(truth.reference_to_scan @ truth.scan_to_reference, np.eye(3), atol=1e-12)


def test_letterbox_bars_are_black_and_picture_box_keeps_aspect():
    settings = TelecineSettings(display_aspect=4 / 3, **PLAIN)
    box = picture_box(settings, 370, 200)  # a 1.85 film on a 4:3 display
    x0, y0, x1, y1 = box
    assert (x0, x1) == (0, 720) and y0 > 0 and (y1 - y0) / 576 == pytest.approx((4 / 3) / 1.85, abs=0.01)
    frames, truth = make_reference([np.full((200, 370, 3), 0.8, np.float32)], settings)
    assert frames[0][: y0 - 1].max() < 0.01 and frames[0][y0 + 2 : y1 - 2].min() > 0.7


def test_grade_changes_colour_but_keeps_order():
    ramp = np.linspace(0, 1, 64, dtype=np.float32)[None, :, None].repeat(3, axis=2)
    graded = grade_reference(ramp, TelecineSettings())
    assert np.abs(graded - ramp).mean() > 0.03
    assert np.all(np.diff(graded[0, :, 1]) >= 0) and graded.min() >= 16 / 255 - 1e-6


def test_420_blurs_chroma_not_luma():
    frame = np.full((16, 16, 3), 0.5, np.float32)
    frame[:, 7, :] = (0.9, 0.3, 0.5)  # a one-pixel coloured line
    out = subsample_chroma_420(frame)
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs(out @ luma - frame @ luma).max() < 1e-3
    assert abs(out[8, 7, 0] - out[8, 7, 1]) < 0.6 * abs(frame[8, 7, 0] - frame[8, 7, 1])


def test_jpeg_round_trip_is_close_but_lossy(rng: np.random.Generator):
    frame = rng.random((32, 32, 3), dtype=np.float32)
    out = compress_jpeg(frame, 50)
    assert out.shape == frame.shape and 0.01 < np.abs(out - frame).mean() < 0.3


def test_unknown_cadence_is_refused_with_the_choices():
    with pytest.raises(ParameterError, match="2:3"):
        TelecineSettings(cadence="3:3")
