"""The prints of a shot on disk: opening them, pairing their frames in time, and reading them frame by frame.

What is assumed about time: every print holds the same run of film frames without gaps and in the same order;
one may start earlier or later. Each print after the first is paired with the first at a constant offset in
position: given with `--offset N` (the print's frame at position p + N pairs with the first print's at p); else,
where the prints share frame numbers (both numbered from the same key numbers), by frame number; else (numbered
independently, 0… and 1001…) by position, first frame with first frame. Pairing is not guessed from the
pictures: in a pan or zoom, a neighbouring frame shifted or scaled matches as well as the right one, and a
wrong pairing would still register. A print that drops or repeats frames inside the shot breaks the assumption
(refused where the numbers show it): split it into shots first.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chromaluma.errors import PairMismatchError, ParameterError
from chromaluma.io import Shot, open_shot

log = logging.getLogger(__name__)

CACHE_FRAMES = 4  # frames kept per print: the spike test looks one frame either side


@dataclass
class Print:
    """One print: its shot, its offset in frame positions against the first print, and a small frame cache."""

    label: str
    shot: Shot
    offset: int = 0
    _cache: OrderedDict[int, np.ndarray] = field(default_factory=OrderedDict)

    def read(self, position: int) -> np.ndarray:
        """Frame at `position` (0-based, this print's own order) as float32 HWC RGB (grey repeated, alpha kept)."""
        if position in self._cache:
            self._cache.move_to_end(position)
            return self._cache[position]
        frame = self.shot.read(position)
        if frame.ndim == 2:
            frame = frame[..., None]
        if frame.shape[2] < 3:
            frame = np.repeat(frame[..., :1], 3, axis=2)
        self._cache[position] = frame
        while len(self._cache) > CACHE_FRAMES:
            self._cache.popitem(last=False)
        return frame

    def window(self, position: int) -> tuple[list[np.ndarray], int]:
        """The frame at `position` and its neighbours that exist in this print, and the centre's index in it."""
        positions = [p for p in (position - 1, position, position + 1) if 0 <= p < len(self.shot)]
        return [self.read(p)[..., :3] for p in positions], positions.index(position)


def open_prints(paths: list[Path]) -> list[Print]:
    """Open every `--print`: at least two, each once; a missing or unreadable one is refused by name."""
    if len(paths) < 2:
        raise ParameterError(f"--print: {len(paths)} print given; a composite needs two or more prints of the same "
                             "shot (--print A --print B).")
    resolved = [path.resolve() for path in paths]
    for index, path in enumerate(resolved):
        if path in resolved[:index]:
            raise ParameterError(f"--print {paths[index]}: given twice; give each print once.")
    return [Print(chr(ord("A") + i) if i < 26 else str(i), open_shot(path)) for i, path in enumerate(paths)]


def pair_frames(prints: list[Print], positions: list[int], offsets: list[int | None]) -> None:
    """Set each print's offset (given, else by frame number, else by position) and check that it holds a frame
    for every position of the first print that is composited."""
    first = prints[0]
    ids = first.shot.frame_ids
    for other, given in zip(prints[1:], offsets, strict=True):
        other.offset = _offset_by_number(first, other, positions) if given is None else given
        missing = [p for p in positions if not 0 <= p + other.offset < len(other.shot)]
        if missing:
            raise PairMismatchError(
                f"--print {other.shot.source}: has frames {other.shot.frame_ids[0]}-{other.shot.frame_ids[-1]} and "
                f"none for frame {ids[missing[0]]} of the first print {first.shot.source} (offset "
                f"{other.offset:+d}); trim --frames to the frames both prints hold, or give --offset.")
        log.info("print %s (%s): frame %d pairs with the first print's frame %d (offset %+d)", other.label,
                 other.shot.source, other.shot.frame_ids[positions[0] + other.offset], ids[positions[0]],
                 other.offset)


def _offset_by_number(first: Print, other: Print, positions: list[int]) -> int:
    """Prints that share frame numbers pair by number (which must then run in step); others by position (0)."""
    own = {frame_id: position for position, frame_id in enumerate(other.shot.frame_ids)}
    if not own.keys() & set(first.shot.frame_ids):
        return 0
    wanted = [first.shot.frame_ids[p] for p in positions]
    absent = [f for f in wanted if f not in own]
    if absent:
        raise PairMismatchError(f"--print {other.shot.source}: has frames {other.shot.frame_ids[0]}-"
                                f"{other.shot.frame_ids[-1]} and no frame {absent[0]} of the first print "
                                f"{first.shot.source}; trim --frames to the frames both prints hold, or give --offset.")
    offsets = {own[f] - p for f, p in zip(wanted, positions, strict=True)}
    if len(offsets) > 1:
        raise PairMismatchError(f"--print {other.shot.source}: its frame numbers do not run in step with the first "
                                f"print's (a gap or a repeat in one of them); split the shot at the gap, or give "
                                "--offset to pair by position.")
    return offsets.pop()
