"""Which keyframes a frame reads: the nearest at or before it and the nearest at or after it, within its shot."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.errors import ChromalumaError


class KeyframeError(ChromalumaError):
    """A keyframes folder or keyframe cannot be used (naming, reading, registration, no keyframe in a shot)."""


@dataclass(frozen=True)
class Keyframe:
    """One keyframe: its frame number, the painted file, that file's SHA-256, and its pixels on the scan's geometry
    (float32 straight RGBA, full frame)."""

    frame: int
    path: Path
    sha256: str
    image: np.ndarray = field(repr=False, compare=False)



@dataclass(frozen=True)
class KeyframeSet:
    """Registered keyframes in frame order and the scan's shot starts (`cuts`, frame numbers; () = one shot)."""

    keyframes: tuple[Keyframe, ...]
    cuts: tuple[int, ...] = ()
    folder: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "keyframes", tuple(sorted(self.keyframes, key=lambda k: k.frame)))
        object.__setattr__(self, "cuts", tuple(sorted(set(int(c) for c in self.cuts))))

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(k.frame for k in self.keyframes)

    def shot_of(self, frame: int) -> tuple[int | None, int | None]:
        """(first frame, last frame) of the shot holding `frame`; None where the film's end bounds it."""
        position = bisect.bisect_right(self.cuts, frame)
        first = self.cuts[position - 1] if position > 0 else None
        last = self.cuts[position] - 1 if position < len(self.cuts) else None
        return first, last

    def pair_for(self, frame: int) -> tuple[Keyframe, Keyframe]:
        """(at or before, at or after) in the frame's shot; the one keyframe twice when a side has none."""
        first, last = self.shot_of(frame)
        in_shot = [k for k in self.keyframes
                   if (first is None or k.frame >= first) and (last is None or k.frame <= last)]
        if not in_shot:
            span = f"frames {'start' if first is None else first}–{'end' if last is None else last}"
            where = f" in {self.folder}" if self.folder else ""
            raise KeyframeError(f"frame {frame}: no keyframe{where} in its shot ({span}); paint one frame of that "
                                "shot and add it to the keyframes folder, named by its frame number.")
        by_frame = {k.frame: k for k in in_shot}
        before, after = nearest_pair(list(by_frame), frame)
        return by_frame[before], by_frame[after]


def nearest_pair(keyframes: list[int], frame: int) -> tuple[int, int]:
    """The rule (docs/CONTRACT.md §1.7) on sorted keyframe numbers of one shot (at least one): the nearest at or
    before `frame` and the nearest at or after it; the one side's twice when the other has none."""
    before = [k for k in keyframes if k <= frame]
    after = [k for k in keyframes if k >= frame]
    return (before[-1] if before else after[0]), (after[0] if after else before[-1])


def shot_cuts_of_card(card: dict[str, Any]) -> tuple[int, ...]:
    """The shot starts a keyframe model's card records (training.keyframes.cuts); () when it records none.
    ValueError when the entry is not a list of frame numbers."""
    training = card.get("training") if isinstance(card, dict) else None
    entry = training.get("keyframes") if isinstance(training, dict) else None
    cuts = entry.get("cuts", []) if isinstance(entry, dict) else []
    if not isinstance(cuts, list) or any(isinstance(c, bool) or not isinstance(c, int) for c in cuts):
        raise ValueError(f"training.keyframes.cuts is {str(cuts)[:40]}, expected a list of frame numbers")
    return tuple(cuts)
