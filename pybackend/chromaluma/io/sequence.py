"""Shots on disk: an image-sequence folder or a video file, read frame by frame as float32 HWC.

`open_shot(path)` is the one way the rest of Chromaluma reads footage. Frame ids are the numbers in the
file names (`shot.01001.dpx` → 1001) for sequences, and 0-based decode order for video.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chromaluma.errors import FrameReadError, ParameterError, SequenceError
from chromaluma.io.frames import FrameFormat, read_frame

IMAGE_EXTENSIONS = frozenset({".dpx", ".exr", ".tif", ".tiff", ".png", ".jpg", ".jpeg"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".vob", ".mpg", ".mpeg", ".m2v", ".ts", ".mxf"})
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def frame_number(path: Path) -> int | None:
    """The frame number in a file name (its last run of digits), or None if it has none."""
    match = _LAST_NUMBER.search(path.stem)
    return int(match.group(1)) if match else None


def list_sequence(folder: str | Path) -> list[Path]:
    """The frames of an image-sequence folder in frame order; hidden and partial files are ignored."""
    root = Path(folder)
    if not root.is_dir():
        raise SequenceError(f"{root}: not a folder of frames. Give a folder of DPX/EXR/TIFF/PNG/JPEG or a video.")
    frames = [p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    if not frames:
        raise SequenceError(f"{root}: no frames found (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}).")
    extensions = {p.suffix.lower() for p in frames}
    if len(extensions) > 1:
        raise SequenceError(f"{root}: mixes frame formats {sorted(extensions)}; keep one shot per folder.")
    return sorted(frames, key=lambda p: (frame_number(p) is None, frame_number(p) or 0, p.name))


def parse_frame_range(text: str) -> tuple[int, int]:
    """`A-B` (inclusive) or a single `A`; raises ParameterError naming `--frames` on anything else."""
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", text)
    if not match:
        raise ParameterError(f"--frames {text!r}: expected A-B (e.g. 1001-1100) or a single frame number.")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if last < first:
        raise ParameterError(f"--frames {text!r}: the last frame comes before the first.")
    return first, last


@dataclass
class Shot:
    """A sequence of frames from one source; `frame_ids[i]` names frame `i`."""

    source: Path
    frame_ids: list[int]
    frame_format: FrameFormat
    fps: float | None
    _paths: list[Path] | None = None
    _video_frames: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.frame_ids)

    @property
    def is_video(self) -> bool:
        return self._paths is None

    def path_of(self, index: int) -> Path | None:
        return None if self._paths is None else self._paths[index]

    def read(self, index: int) -> np.ndarray:
        """Frame `index` (0-based position, not frame id) as float32 HWC."""
        if self._paths is not None:
            return read_frame(self._paths[index])[0]
        assert self._video_frames is not None
        return self._video_frames[index]

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        for index, frame_id in enumerate(self.frame_ids):
            yield frame_id, self.read(index)

    def select(self, first: int, last: int) -> Shot:
        """The frames whose ids lie in [first, last]; raises if none do."""
        keep = [i for i, frame_id in enumerate(self.frame_ids) if first <= frame_id <= last]
        if not keep:
            raise ParameterError(f"--frames {first}-{last}: {self.source} has frames "
                                 f"{self.frame_ids[0]}-{self.frame_ids[-1]}; choose a range inside it.")
        return Shot(
            source=self.source,
            frame_ids=[self.frame_ids[i] for i in keep],
            frame_format=self.frame_format,
            fps=self.fps,
            _paths=None if self._paths is None else [self._paths[i] for i in keep],
            _video_frames=None if self._video_frames is None else [self._video_frames[i] for i in keep],
        )


def open_shot(path: str | Path) -> Shot:
    """Open an image-sequence folder or a video file."""
    source = Path(path)
    if source.is_dir():
        paths = list_sequence(source)
        _, frame_format = read_frame(paths[0])
        numbers = [frame_number(p) for p in paths]
        ids = [n if n is not None else i for i, n in enumerate(numbers)]
        if len(set(ids)) != len(ids):
            ids = list(range(len(paths)))
        return Shot(source, ids, frame_format, None, _paths=paths)
    if source.is_file() and source.suffix.lower() in VIDEO_EXTENSIONS:
        frames, fps = read_video(source)
        frame_format = FrameFormat(".png", "uint8", 8, 3)
        return Shot(source, list(range(len(frames))), frame_format, fps, _video_frames=frames)
    if source.is_file():
        raise SequenceError(f"{source}: give a folder of frames or a video file "
                            f"({', '.join(sorted(VIDEO_EXTENSIONS))}), not a single image.")
    raise SequenceError(f"{source}: no such folder or video file.")


def read_video(path: Path) -> tuple[list[np.ndarray], float | None]:
    """Decode every frame of a video as float32 RGB (0–1) with PyAV; returns frames and the stream's fps."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise FrameReadError(f"{path}: has no video stream.")
            stream = container.streams.video[0]
            fps = float(stream.average_rate) if stream.average_rate else None
            frames = [frame.to_ndarray(format="rgb24").astype(np.float32) / 255.0
                      for frame in container.decode(stream)]
    except (av.error.FFmpegError, OSError) as exc:
        raise FrameReadError(f"{path}: cannot decode video ({exc}). Check the file or convert it to frames.") from exc
    if not frames:
        raise FrameReadError(f"{path}: video has no decodable frames.")
    return frames, fps
