"""Frames and shots on disk: formats, bit depths, float range, atomic writes, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chromaluma.errors import FrameReadError, ParameterError, SequenceError
from chromaluma.io import FrameFormat, list_sequence, open_shot, parse_frame_range, read_frame, write_frame


@pytest.mark.parametrize(
    ("extension", "sample_type", "bits", "tolerance"),
    [(".png", "uint8", 8, 0.5 / 255), (".png", "uint16", 16, 0.5 / 65535), (".tif", "uint16", 16, 0.5 / 65535),
     (".dpx", "uint16", 10, 0.5 / 1023), (".exr", "half", 16, 1e-3), (".tif", "float", 32, 0.0)],
)
def test_round_trip_keeps_format_and_values(tmp_path: Path, rng: np.random.Generator, extension: str,
                                            sample_type: str, bits: int, tolerance: float):
    pixels = rng.random((6, 9, 3), dtype=np.float32)
    path = tmp_path / f"shot.1001{extension}"
    write_frame(path, pixels, FrameFormat(extension, sample_type, bits, 3))
    back, fmt = read_frame(path)
    assert back.shape == (6, 9, 3) and back.dtype == np.float32
    assert (fmt.sample_type, fmt.bits) == (sample_type, bits)
    np.testing.assert_allclose(back, pixels, atol=tolerance + 1e-7)


def test_float_frames_keep_values_outside_zero_one(tmp_path: Path):
    pixels = np.array([[[4.5, -0.25, 1.0, 0.5]]], dtype=np.float32)
    write_frame(tmp_path / "hdr.exr", pixels, FrameFormat(".exr", "float", 32, 4))
    back, _ = read_frame(tmp_path / "hdr.exr")
    np.testing.assert_array_equal(back, pixels)


def test_write_is_atomic_and_leaves_no_partial_file(tmp_path: Path, rng: np.random.Generator):
    target = tmp_path / "a.png"
    write_frame(target, rng.random((4, 4, 3), dtype=np.float32), FrameFormat(".png", "uint8", 8, 3))
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_truncated_frame_is_named(tmp_path: Path, rng: np.random.Generator):
    path = tmp_path / "f.0001.png"
    write_frame(path, rng.random((64, 64, 3), dtype=np.float32), FrameFormat(".png", "uint8", 8, 3))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(FrameReadError, match=r"f\.0001\.png"):
        read_frame(path)


def test_sequence_order_follows_frame_numbers_and_ignores_partials(tmp_path: Path, rng: np.random.Generator):
    fmt = FrameFormat(".png", "uint8", 8, 3)
    for number in (10, 9, 100):
        write_frame(tmp_path / f"shot.{number}.png", rng.random((4, 4, 3), dtype=np.float32), fmt)
    (tmp_path / ".shot.11.partial.png").write_bytes(b"")
    assert [p.name for p in list_sequence(tmp_path)] == ["shot.9.png", "shot.10.png", "shot.100.png"]
    shot = open_shot(tmp_path)
    assert shot.frame_ids == [9, 10, 100]
    assert shot.select(10, 100).frame_ids == [10, 100]
    with pytest.raises(ParameterError, match="--frames 200-300"):
        shot.select(200, 300)


def test_empty_and_mixed_folders_are_refused(tmp_path: Path, rng: np.random.Generator):
    with pytest.raises(SequenceError, match="no frames found"):
        list_sequence(tmp_path)
    fmt = rng.random((4, 4, 3), dtype=np.float32)
    write_frame(tmp_path / "a.1.png", fmt, FrameFormat(".png", "uint8", 8, 3))
    write_frame(tmp_path / "a.2.tif", fmt, FrameFormat(".tif", "uint8", 8, 3))
    with pytest.raises(SequenceError, match="mixes frame formats"):
        list_sequence(tmp_path)


def test_frame_range_parsing():
    assert parse_frame_range("1001-1100") == (1001, 1100)
    assert parse_frame_range("7") == (7, 7)
    for bad in ("a-b", "10-5", ""):
        with pytest.raises(ParameterError, match="--frames"):
            parse_frame_range(bad)


def test_video_reference_decodes_every_frame(tmp_path: Path):
    import av

    path = tmp_path / "reference.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(5):
            frame = np.full((48, 64, 3), index * 40, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    shot = open_shot(path)
    assert len(shot) == 5 and shot.fps == pytest.approx(25)
    means = [float(pixels.mean()) for _, pixels in shot]
    assert means == sorted(means) and abs(means[-1] - 160 / 255) < 0.05


def test_unreadable_video_is_named(tmp_path: Path):
    path = tmp_path / "broken.mov"
    path.write_bytes(b"not a movie at all")
    with pytest.raises(FrameReadError, match="broken.mov"):
        open_shot(path)
