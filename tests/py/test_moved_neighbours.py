"""A temporal window's neighbours moved onto the frame (chromaluma.align.neighbours), what format-5 repair models
read: the picture lines up, reads beyond the edge and copies of the frame are no evidence, dust does not pull the
flow, and the backend moves them before the model runs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from chromaluma.align.neighbours import compensated_neighbours
from chromaluma.backend.restore import process_frame
from chromaluma.synth.shots import load_photo
from chromaluma.train.repair_samples import moved_window
from model_fixtures import repair_model, repair_torch_model

SHIFT = 3  # px per frame: the picture moves right


def _pan(shift: int = SHIFT, height: int = 96, width: int = 128) -> list[np.ndarray]:
    """Frames t−2 … t+2 (RGBA float32) of a photograph moving right by `shift` px per frame."""
    photo = load_photo("chelsea")[40:40 + height, :width + 4 * shift + 8].astype(np.float32)
    frames = []
    for t in range(-2, 3):
        start = 2 * shift + 4 - t * shift
        rgb = photo[:, start:start + width]
        frames.append(np.concatenate([rgb, np.ones_like(rgb[..., :1])], axis=-1))
    return frames


def test_each_moved_neighbour_shows_the_frames_picture():
    frames = _pan()
    moved = compensated_neighbours(frames[2], np.stack(frames[:2] + frames[3:]))
    inner = (slice(12, -12), slice(12, -12))
    for index, neighbour in enumerate(frames[:2] + frames[3:]):
        before = np.abs(neighbour[inner][..., :3] - frames[2][inner][..., :3]).mean()
        after = np.abs(moved[index][inner][..., :3] - frames[2][inner][..., :3]).mean()
        assert after < 0.1 * before, (index, after, before)
        assert moved[index][inner][..., 3].min() == 1.0


def test_picture_brought_in_from_beyond_the_edge_is_no_evidence():
    """The frame after next shows the frame's pixel x at x + 2·SHIFT: for the last columns it would be read from
    beyond its right edge (the edge repeated is not what moved in); the frames before are read inside."""
    frames = _pan()
    moved = compensated_neighbours(frames[2], np.stack(frames[:2] + frames[3:]))
    after_next, before_last = moved[3, ..., 3], moved[0, ..., 3]
    assert after_next[10:-10, -4:].max() == 0.0
    assert after_next[10:-10, :-2 * SHIFT - 3].min() == 1.0
    assert before_last[10:-10, 2 * SHIFT + 3:].min() == 1.0


def test_a_copy_of_the_frame_is_no_evidence_and_is_not_moved():
    frames = _pan()
    neighbours = np.stack([frames[2], frames[2], frames[3], frames[4]])  # the edge rule at a clip's first frame
    moved = compensated_neighbours(frames[2], neighbours)
    assert moved[:2, ..., 3].max() == 0.0
    assert np.array_equal(moved[:2, ..., :3], neighbours[:2, ..., :3])
    assert moved[2:, 12:-12, 12:-12, 3].min() == 1.0


@pytest.mark.parametrize("shift", [0, SHIFT])
def test_dust_does_not_pull_the_flow_the_neighbours_are_read_along(shift: int):
    """Dust on picture detail pulls the flow measured on it (in a locked-off shot it 'moves'); where the first spike
    test suspects dust, the neighbours are read along the flow of the picture around it, which they repeat."""
    frames = _pan(shift)
    clean = frames[2]
    damaged = clean.copy()
    rows, cols = np.mgrid[0:96, 0:128].astype(np.float32)
    dots = ((52, 62), (40, 80), (60, 40))
    for y, x in dots:  # soft dots of dust, faint enough to move the flow rather than to be ignored by it
        damaged[..., :3] += 0.1 * np.exp(-((rows - y) ** 2 + (cols - x) ** 2) / (2 * 1.8 ** 2))[..., None]
    moved = compensated_neighbours(damaged, np.stack(frames[:2] + frames[3:]))
    for y, x in dots:
        dot = (rows - y) ** 2 + (cols - x) ** 2 < 3.2 ** 2
        error = max(float(np.abs(neighbour[dot][..., :3] - clean[dot][..., :3]).max()) for neighbour in moved)
        assert error < 0.004, ((y, x), error)


def _box_sums(plane: np.ndarray, size: int) -> np.ndarray:
    """Sums over size² px around each pixel, zeros beyond the edges (float64 integral image)."""
    padded = np.pad(plane.astype(np.float64), size // 2)
    integral = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size] + integral[:-size, :-size]


def test_suspected_pixels_are_read_along_the_mean_flow_around_them_and_nothing_else_moves():
    """At a suspected pixel the sampling follows the mean flow of the SURROUNDING_BOX² px around it that are not
    suspect (where there are any); elsewhere, and for still flows and copies of the frame, it is unchanged. The
    reference here is the definition, written out with an integral image."""
    from chromaluma.align.neighbours import SURROUNDING_BOX, _surrounding_samplings, flow_sampling

    rng = np.random.default_rng(4)
    height, width = 70, 90
    suspect = np.zeros((height, width), bool)
    suspect[5:65, 5:57] = True  # wider than the box: its middle keeps its own flow
    suspect[50:, :8] = True
    suspect[:, 60:62] = True
    flows = [rng.normal(size=(height, width, 2)).astype(np.float32) for _ in range(2)]
    flows += [np.zeros((height, width, 2), np.float32)] * 2  # a still flow, a copy of the frame
    samplings = [flow_sampling(flow) for flow in flows]
    moved = _surrounding_samplings(flows, samplings, [False, False, False, True], suspect)
    assert moved[2] is None and moved[3] is None
    keep = (~suspect).astype(np.float64)
    weight = _box_sums(keep, SURROUNDING_BOX)
    use = suspect & (weight > 0.5)
    for flow, (xs, ys) in zip(flows[:2], moved[:2], strict=True):
        around = [_box_sums(flow[..., axis] * keep, SURROUNDING_BOX) / np.maximum(weight, 1e-6) for axis in (0, 1)]
        expected_x = np.arange(width)[None, :] + np.where(use, around[0], flow[..., 0])
        expected_y = np.arange(height)[:, None] + np.where(use, around[1], flow[..., 1])
        assert np.abs(xs - expected_x).max() < 1e-4
        assert np.abs(ys - expected_y).max() < 1e-4
        assert np.array_equal(xs[~use], (np.arange(width, dtype=np.float32)[None, :] + flow[..., 0])[~use])


def test_a_picture_too_small_for_flow_is_taken_as_still():
    rng = np.random.default_rng(3)
    frame = rng.random((8, 8, 4), dtype=np.float32)
    neighbours = rng.random((2, 8, 8, 4), dtype=np.float32)
    moved = compensated_neighbours(frame, neighbours)
    assert np.array_equal(moved[..., :3], neighbours[..., :3])
    assert moved[..., 3].min() == 1.0


@pytest.mark.parametrize("format_version", [4, 5])
def test_the_backend_moves_the_neighbours_of_format_5_models_only(tmp_path, format_version: int):
    """A format-5 repair model gets the neighbours moved exactly as training moved them; a format-4 model (made
    before, it moved them itself) gets them as the host gave them, so it renders as it always did."""
    path = repair_model(tmp_path / "m.onnx", radius=2)
    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key == "chromaluma.format_version":
            assert prop.value == "5"
            prop.value = str(format_version)
    onnx.save(model, str(path))
    frames = _pan()
    dst = np.zeros_like(frames[2])
    process_frame(frames[2], dst, {"model": str(path), "neighbours": frames[:2] + frames[3:], "sensitivity": 1.0})
    window = moved_window(frames, 2) if format_version == 5 else np.stack(frames)
    with torch.no_grad():
        restored, _, _ = repair_torch_model(radius=2)(torch.from_numpy(window[None]))
    assert np.abs(dst[..., :3] - restored[0, ..., :3].numpy()).max() < 1e-4
