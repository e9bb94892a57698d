"""The classical keyframe baseline (chromaluma.keyframe_baseline): colour carried from a painted keyframe along
optical flow, guided-filtered on the frame's luma; luma kept exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from chromaluma.baselines import FlowPropagation
from chromaluma.errors import PairMismatchError, ParameterError
from chromaluma.keyframe_baseline import colour_differences, luma_of, rgb_from_luma_chroma
from chromaluma.metrics import delta_e2000
from chromaluma.synth.shots import load_photo

WIDTH, HEIGHT = 128, 96


def _photo(dx: int = 0, dy: int = 0) -> np.ndarray:
    """A 128×96 crop of a colour photograph, its window moved by (dx, dy) pixels: a camera move."""
    picture = cv2.resize(load_photo("coffee"), (256, 192), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(picture[48 + dy:48 + dy + HEIGHT, 64 + dx:64 + dx + WIDTH])


def _grey(frame: np.ndarray) -> np.ndarray:
    return np.repeat(luma_of(frame)[..., None], 3, axis=-1).astype(np.float32)


@pytest.mark.parametrize("flow", ["dis", "farneback"])
def test_colour_is_carried_along_the_motion_far_better_than_grey_or_a_copy_in_place(flow: str) -> None:
    keyframe, truth = _photo(), _photo(dx=6, dy=3)
    restored = FlowPropagation(flow=flow).propagate(_grey(truth), [keyframe])
    grey = delta_e2000(_grey(truth), truth).mean
    in_place = delta_e2000(rgb_from_luma_chroma(luma_of(truth), colour_differences(keyframe)), truth).mean
    carried = delta_e2000(restored, truth).mean
    assert carried < 0.25 * grey
    assert carried < 0.6 * in_place  # the flow moved the colour with the picture


def test_output_luma_is_the_frames_luma_exactly_and_alpha_is_copied() -> None:
    keyframe, truth = _photo(), _photo(dx=-5, dy=2)
    frame = np.concatenate([_grey(truth) * 0.9 + 0.05, np.full((HEIGHT, WIDTH, 1), 0.5, np.float32)], axis=-1)
    restored = FlowPropagation().propagate(frame, [keyframe])
    assert restored.shape == frame.shape and restored.dtype == np.float32
    np.testing.assert_allclose(luma_of(restored), luma_of(frame), atol=2e-6)
    np.testing.assert_array_equal(restored[..., 3], frame[..., 3])
    assert restored[..., :3].min() >= 0.0 and restored[..., :3].max() <= 1.0


def test_the_keyframes_own_frame_gets_its_colour_back_nearly_exactly() -> None:
    keyframe = _photo()
    restored = FlowPropagation().propagate(_grey(keyframe), [keyframe, keyframe], [0, 0])
    assert delta_e2000(restored, keyframe).mean < 0.3


def test_the_nearer_of_two_keyframes_dominates() -> None:
    truth = _photo()
    repainted = truth[..., [2, 1, 0]].copy()  # the same picture painted in other colours
    near_repainted = FlowPropagation().propagate(_grey(truth), [truth, repainted], [-20, 1])
    near_truth = FlowPropagation().propagate(_grey(truth), [truth, repainted], [-1, 20])
    assert delta_e2000(near_truth, truth).mean < 0.5 * delta_e2000(near_repainted, truth).mean


def test_chroma_outside_the_gamut_is_scaled_towards_grey_with_luma_kept() -> None:
    luma = np.linspace(0.0, 1.0, 11)[None, :]
    chroma = np.stack([np.full_like(luma, 0.8), np.full_like(luma, -0.9)], axis=-1)
    rgb = rgb_from_luma_chroma(luma, chroma)
    assert rgb.min() >= -1e-6 and rgb.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(luma_of(rgb), luma, atol=1e-6)


def test_a_keyframe_of_another_size_is_refused_naming_registration() -> None:
    with pytest.raises(PairMismatchError, match="keyframe 0 is 64x96.*register the keyframe"):
        FlowPropagation().propagate(_grey(_photo()), [_photo()[:, :64]])


@pytest.mark.parametrize(("keyframes", "distances", "message"), [
    ([], None, "no keyframe given"),
    ([np.zeros((HEIGHT, WIDTH), np.float32)], None, r"keyframe 0 has shape \(96, 128\)"),
    ([np.zeros((HEIGHT, WIDTH, 3), np.float32)], [1, 2], "2 distances for 1 keyframes"),
])
def test_bad_keyframe_input_is_a_one_line_parameter_error(keyframes, distances, message) -> None:
    with pytest.raises(ParameterError, match=message):
        FlowPropagation().propagate(_grey(_photo()), keyframes, distances)


def test_non_finite_samples_count_as_zero_and_never_reach_the_output() -> None:
    keyframe, truth = _photo(), _photo(dx=4)
    frame, painted = _grey(truth), keyframe.copy()
    frame[10:14, 20:24] = np.nan
    painted[40:44, 60:64] = np.inf
    restored = FlowPropagation().propagate(frame, [painted])
    assert np.isfinite(restored).all()
    np.testing.assert_allclose(luma_of(restored)[10:14, 20:24], 0.0, atol=1e-6)


def test_an_unknown_flow_is_refused_naming_the_choices() -> None:
    with pytest.raises(ParameterError, match="flow 'lucas-kanade'; choose one of dis, farneback"):
        FlowPropagation(flow="lucas-kanade")
