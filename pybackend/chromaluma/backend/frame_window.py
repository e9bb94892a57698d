"""The frames a temporal-window model sees while `chromaluma apply` renders a shot (docs/CONTRACT.md §1.6).

A window model restores frame t from t−before … t+after. Time is the frame number: the neighbour t+k of frame t
is the shot's frame numbered t+k, or no frame (None, the backend's edge rule fills it) when the shot has none
there: before its first frame, after its last, in a gap of the numbering, or beyond a cut. An input sequence
may hold several shots (a reel): unless told otherwise (`--cuts none`) a window stops at the cuts
:class:`chromaluma.align.cuts.PiecewiseCuts` finds, as training's windows do, judged from the frames around each
cut alone so that every frame range finds the same ones. A frame outside `--frames A-B`
but inside the shot is read as context, never written, so a farm task renders its frames exactly as one whole
render does.

:class:`FrameWindow` decodes each input frame once while the frames are rendered in order: it keeps the frames
of the current window only (at most before + 1 + after decoded frames, never the whole shot), so moving on by
one frame drops the oldest and reads one ahead. (That bounds memory for an image sequence; a video's frames are
all decoded by :func:`~chromaluma.io.sequence.open_shot`, as for single-frame models.) A frame that cannot be
decoded is kept as its error, so it is tried once and reported wherever it is needed (as a frame to render, or
as another frame's context).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chromaluma import contract
from chromaluma.align.cuts import PiecewiseCuts, survey_structure
from chromaluma.errors import FrameReadError
from chromaluma.io.sequence import Shot


@dataclass(frozen=True)
class WindowFrame:
    """One input frame of a window: its pixels, or the reason it cannot be read."""

    index: int  # position in the shot
    frame: int  # frame number
    name: str  # the input file's name (`clip.mov#index` for video)
    sha256: str | None  # the input file's SHA-256 (None for video frames, which have no file of their own)
    pixels: np.ndarray | None  # None when the frame cannot be decoded
    error: str | None = None


def input_name(shot: Shot, index: int) -> str:
    """How the render log names input frame `index`: its file name, or `clip.mov#index` for a video frame."""
    path = shot.path_of(index)
    return path.name if path is not None else f"{shot.source.name}#{index}"


class FrameWindow:
    """The decoded frames around the frame being rendered; see the module docstring."""

    def __init__(self, shot: Shot, before: int, after: int, decode: Callable[[int], np.ndarray],
                 starts: frozenset[int] = frozenset()) -> None:
        self.shot = shot
        self.before = before
        self.after = after
        self.starts = starts  # positions that begin a shot: no window reaches across them
        self._sorted_starts = sorted(starts)
        self._decode = decode  # shot position → pixels as process() takes them; raises FrameReadError
        self._positions = {frame: position for position, frame in enumerate(shot.frame_ids)}
        self._held: dict[int, WindowFrame] = {}

    def neighbour_positions(self, index: int) -> list[int | None]:
        """Positions of frame `index`'s neighbours in window order (t−before … t−1, t+1 … t+after), None where
        the shot has no frame at that time."""
        frame = self.shot.frame_ids[index]
        times = [*range(frame - self.before, frame), *range(frame + 1, frame + self.after + 1)]
        return [None if position is None or self._across_cut(index, position) else position
                for position in (self._positions.get(time) for time in times)]

    def _across_cut(self, index: int, position: int) -> bool:
        """Whether a shot starts after the earlier of the two positions and at or before the later one."""
        low, high = sorted((index, position))
        return bisect.bisect_right(self._sorted_starts, high) > bisect.bisect_right(self._sorted_starts, low)

    def around(self, index: int) -> tuple[WindowFrame, list[WindowFrame | None]]:
        """Frame `index` and its neighbours in window order (None: no frame at that time). Frames outside this
        window are released first, so memory holds one window."""
        wanted = self.neighbour_positions(index)
        keep = {index, *(position for position in wanted if position is not None)}
        self._held = {position: held for position, held in self._held.items() if position in keep}
        return self._frame(index), [None if position is None else self._frame(position) for position in wanted]

    def _frame(self, index: int) -> WindowFrame:
        held = self._held.get(index)
        if held is None:
            held = self._held[index] = self._load(index)
        return held

    def _load(self, index: int) -> WindowFrame:
        path = self.shot.path_of(index)
        frame, name = self.shot.frame_ids[index], input_name(self.shot, index)
        digest = _file_sha256(path)
        try:
            return WindowFrame(index, frame, name, digest, self._decode(index))
        except FrameReadError as exc:
            return WindowFrame(index, frame, name, digest, None, str(exc))


def shot_starts_in_reach(shot: Shot, positions: list[int], before: int, after: int,
                         read: Callable[[int], np.ndarray]) -> frozenset[int]:
    """The positions that begin a shot (a cut just before them) among those the windows of `positions` reach;
    `read(position)` decodes a frame (any layout with RGB first), raising FrameReadError where it cannot."""
    def survey(position: int) -> np.ndarray | None:
        try:
            return survey_structure(read(position))[0]
        except FrameReadError:
            return None  # reported where the frame is needed; for cuts it continues its neighbours

    judge = PiecewiseCuts(len(shot.frame_ids), survey)
    reach = {start for index in positions for start in range(index - before + 1, index + after + 1)}
    return frozenset(start for start in sorted(reach) if judge.starts_shot(start))


def _file_sha256(path: Path | None) -> str | None:
    """The input file's SHA-256 (recorded so `--resume` can tell a replaced frame); None for video or no file."""
    if path is None or not path.is_file():
        return None
    try:
        return contract.file_sha256(path)
    except OSError:
        return None
