"""Painted keyframes moved onto the frame along optical flow (chromaluma.align.keyframe_flow), what format-6 keyframe
models read: the picture lines up, picture that came into view is no evidence, training moves them as the backend
does, a carrying model gives a trusted keyframe's colour back exactly, and the backend moves them for format-6
models only."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from chromaluma.align.keyframe_flow import moved_keyframes
from chromaluma.backend.restore import process_frame
from chromaluma.contract import CARRIED_KEYFRAME_FORMAT_VERSION, KEYFRAME_FORMAT_VERSION, format_version_for
from chromaluma.keyframe_baseline import colour_differences, luma_of
from chromaluma.models import DEFAULT_PROCESSING_SCALE, build_model, recorded_architecture
from chromaluma.synth.shots import load_photo
from chromaluma.train.keyframe_samples import sample_keyframe_batch
from chromaluma.train.pairs import Pair
from model_fixtures import keyframe_model, keyframe_torch_model

SHIFT = 6  # px: the keyframe shows the picture this far to the left of where the frame shows it


def _painted_and_frame(height: int = 96, width: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(the painted keyframe RGBA, the frame RGBA in colour) of a photograph panned right by SHIFT px between them."""
    photo = load_photo("chelsea")[40:40 + height, :width + SHIFT].astype(np.float32)
    alpha = np.ones((height, width, 1), np.float32)
    keyframe = np.concatenate([photo[:, SHIFT:SHIFT + width], alpha], axis=-1)
    frame = np.concatenate([photo[:, :width], alpha], axis=-1)
    return keyframe, frame


def _grey(frame: np.ndarray) -> np.ndarray:
    luma = luma_of(frame)[..., None].astype(np.float32)
    return np.concatenate([np.repeat(luma, 3, axis=-1), frame[..., 3:]], axis=-1)


def test_a_moved_keyframe_shows_the_frames_picture():
    keyframe, frame = _painted_and_frame()
    moved = moved_keyframes(_grey(frame), [keyframe])[0]
    trusted = moved[..., 3] > 0.5
    inner = (slice(8, -8), slice(SHIFT + 8, -8))
    assert trusted[inner].mean() > 0.95
    moved_error = np.abs(moved[..., :3] - frame[..., :3])[inner].mean()
    unmoved_error = np.abs(keyframe[..., :3] - frame[..., :3])[inner].mean()
    assert moved_error < 0.2 * unmoved_error, (moved_error, unmoved_error)


def test_picture_that_came_into_view_is_no_evidence():
    """The frame's first SHIFT columns are not in the keyframe at all: the flow reads beyond its edge there."""
    keyframe, frame = _painted_and_frame()
    moved = moved_keyframes(_grey(frame), [keyframe])[0]
    assert moved[:, :SHIFT - 1, 3].max() == 0.0
    assert moved[:, SHIFT + 8:, 3].mean() > 0.9


def test_a_keyframe_standing_where_the_frame_stands_is_read_in_place():
    keyframe, _ = _painted_and_frame()
    moved = moved_keyframes(_grey(keyframe), [keyframe, keyframe.copy()])
    assert np.abs(moved[..., :3] - keyframe[None, ..., :3]).max() < 0.02
    assert np.array_equal(moved[0], moved[1])
    assert moved[..., 3].mean() > 0.99


def test_training_moves_the_keyframes_as_the_backend_moves_them():
    keyframe, frame = _painted_and_frame()
    pair = Pair(frame=0, scan=_grey(frame), reference=frame[..., :3], valid=np.ones(frame.shape[:2], np.float32))
    unmoved = sample_keyframe_batch([pair], 64, 2, 8.0, np.random.default_rng(5))
    moved = sample_keyframe_batch([pair], 64, 2, 8.0, np.random.default_rng(5), moved=True)
    assert torch.equal(moved.frame, unmoved.frame) and torch.equal(moved.target, unmoved.target)
    for index in range(2):
        expected = moved_keyframes(unmoved.frame[index].numpy(), list(unmoved.keyframes[index].numpy()))
        assert np.array_equal(moved.keyframes[index].numpy(), expected)
    assert not torch.equal(moved.keyframes, unmoved.keyframes)


@pytest.mark.parametrize("carries", [True, False])
def test_a_carrying_model_gives_a_trusted_keyframe_its_own_colour(carries: bool):
    """A fresh carrying model (nothing learnt yet) renders the frame whose luma its moved keyframe matches in that
    keyframe's colour, at full resolution; the grid prediction alone (carries=False) cannot."""
    torch.manual_seed(0)
    model = build_model("keyframes", DEFAULT_PROCESSING_SCALE["keyframes"], {"carries": carries}).eval()
    keyframe, _ = _painted_and_frame()
    frame = _grey(keyframe)
    with torch.no_grad():
        restored, _ = model(torch.from_numpy(frame[None]), torch.from_numpy(np.stack([keyframe, keyframe])[None]))
    restored = restored[0].numpy()
    assert np.abs(luma_of(restored) - luma_of(frame)).max() < 1e-4  # luma stays the scan's either way
    error = np.abs(colour_differences(restored) - colour_differences(keyframe)).mean()
    assert (error < 1e-4) if carries else (error > 5e-3), error


def test_models_recorded_before_format_6_read_their_keyframes_unmoved():
    recorded = {"width": 8, "features": 4, "search": 2, "dilations": [1, 2]}
    old = build_model("keyframes", 0.125, recorded_architecture("keyframes", recorded))
    new = build_model("keyframes", 0.125, recorded_architecture("keyframes", {**recorded, "carries": True}))
    assert not old.carries and new.carries
    assert format_version_for(0, 0, "keyframes", old.carries) == KEYFRAME_FORMAT_VERSION
    assert format_version_for(0, 0, "keyframes", new.carries) == CARRIED_KEYFRAME_FORMAT_VERSION


@pytest.mark.parametrize("format_version", [KEYFRAME_FORMAT_VERSION, CARRIED_KEYFRAME_FORMAT_VERSION])
def test_the_backend_moves_the_keyframes_of_format_6_models_only(tmp_path, format_version: int):
    """A format-6 model gets its keyframes moved exactly as training moves them; a format-3 model (made before)
    gets them as registered, so it renders as it always did."""
    path = keyframe_model(tmp_path / "m.onnx")
    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key == "chromaluma.format_version":
            assert prop.value == str(CARRIED_KEYFRAME_FORMAT_VERSION)
            prop.value = str(format_version)
    onnx.save(model, str(path))
    keyframe, frame = _painted_and_frame()
    frame = _grey(frame)
    dst = np.zeros_like(frame)
    process_frame(frame, dst, {"model": str(path), "keyframes": [keyframe, keyframe]})
    given = {CARRIED_KEYFRAME_FORMAT_VERSION: moved_keyframes(frame, [keyframe, keyframe]),
             KEYFRAME_FORMAT_VERSION: np.stack([keyframe, keyframe])}
    differences = {}
    for version, keys in given.items():
        with torch.no_grad():
            restored, _ = keyframe_torch_model()(torch.from_numpy(frame[None]), torch.from_numpy(keys[None]))
        differences[version] = np.abs(dst[..., :3] - restored[0, ..., :3].numpy()).max()
    other = KEYFRAME_FORMAT_VERSION + CARRIED_KEYFRAME_FORMAT_VERSION - format_version
    assert differences[format_version] < 1e-3 and differences[other] > 1e-2, differences
