"""Temporal windows for training: each pair's scan frames t−R … t+R, chosen as a render will see them.

Neighbour t+k of a pair at scan frame t of shot s is, in this order of preference (docs/CONTRACT.md §1, §5):
1. shot s's scan frame t+k from the pairs themselves (a pairs folder's own scans, or the --input sequence);
2. frame t+k of the scan source (a pairs folder's manifest `scan_source`, when it is a readable image sequence or
   video of the same frame size);
3. the edge rule: the nearest available frame between t+k and t, or t itself when there is none.
A frame outside the shot (past its first or last scan frame, across a cut) is never available, so a window
never mixes two shots: a pairs folder names its shots; an --input sequence is split where `chromaluma align`
would find a cut (:func:`number_shots_by_cuts`). Every frame is read once, its array shared by every window that
holds it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chromaluma.errors import ChromalumaError
from chromaluma.io import Shot, open_shot, to_rgba
from chromaluma.train.pairs import MANIFEST_NAME, Pair

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShotSpan:
    """A shot's scan frames, first to last inclusive."""

    first: int
    last: int

    def __contains__(self, frame: object) -> bool:
        return isinstance(frame, int) and self.first <= frame <= self.last


@dataclass
class WindowCounts:
    """Where the neighbours of all windows came from (logged once per run)."""

    from_pairs: int = 0
    from_scan_source: int = 0
    by_edge_rule: int = 0
    scan_source_problem: str = ""  # why the scan source could not be opened, when it was needed


@dataclass
class _ScanSource:
    """The scan source's frames by scan frame number, opened on first use and read at most once each."""

    path: Path | None
    shot: Shot | None = None
    index_of: dict[int, int] = field(default_factory=dict)
    frames: dict[int, np.ndarray | None] = field(default_factory=dict)
    opened: bool = False
    problem: str = ""

    def frame(self, number: int, size: tuple[int, int]) -> np.ndarray | None:
        if number not in self.frames:
            self.frames[number] = self._read(number, size)
        return self.frames[number]

    def _read(self, number: int, size: tuple[int, int]) -> np.ndarray | None:
        if not self.opened:
            self._open()
        if self.shot is None or number not in self.index_of:
            return None
        try:
            pixels = self.shot.read(self.index_of[number])
        except ChromalumaError as exc:
            log.warning("%s; its windows repeat the nearest frame instead (edge rule)", exc)
            return None
        if pixels.shape[:2] != size:
            log.warning("%s: frame %d is %d×%d, the pairs' scans %d×%d; not used as a neighbour (edge rule)",
                        self.shot.source, number, pixels.shape[1], pixels.shape[0], size[1], size[0])
            return None
        return scan_frame_rgba(pixels)

    def _open(self) -> None:
        self.opened = True
        if self.path is None:
            return
        try:
            self.shot = open_shot(self.path)
        except (ChromalumaError, OSError) as exc:
            self.problem = str(exc).rstrip(".")
            return
        self.index_of = {number: index for index, number in enumerate(self.shot.frame_ids)}


def scan_frame_rgba(pixels: np.ndarray) -> np.ndarray:
    """A scan frame as training reads it: RGBA float32, non-finite values 0, alpha 1 (colour is learnt, alpha
    is copied through)."""
    rgba = to_rgba(pixels.astype(np.float32, copy=False))
    rgba = np.where(np.isfinite(rgba), rgba, 0.0).astype(np.float32)
    rgba[..., 3] = 1.0
    return rgba


def manifest_sources(pairs_dir: Path) -> tuple[Path | None, dict[int, ShotSpan]]:
    """A pairs folder's scan source (None when the manifest names none) and its shots' spans (already checked
    readable by :func:`chromaluma.train.pairs.load_pairs`)."""
    manifest = json.loads((Path(pairs_dir) / MANIFEST_NAME).read_text())
    source = manifest.get("scan_source")
    spans = {}
    for shot in manifest.get("shots") or []:
        try:
            spans[int(shot["id"])] = ShotSpan(int(shot["first_scan_frame"]), int(shot["last_scan_frame"]))
        except (KeyError, TypeError, ValueError):
            log.warning("%s: shot %r lacks id / first_scan_frame / last_scan_frame; its windows stay within its "
                        "pairs' frames", Path(pairs_dir) / MANIFEST_NAME, shot)
    if not isinstance(source, str) or not source:
        return None, spans
    return Path(pairs_dir) / source, spans  # an absolute scan_source (what align writes) stays as it is


def attach_windows(pairs: list[Pair], radius: int, scan_source: Path | None = None,
                   spans: dict[int, ShotSpan] | None = None) -> WindowCounts:
    """Give every pair its 2·`radius` neighbours (see the module's rules); returns where they came from.

    `spans`: each shot's first and last scan frame; a shot without one is bounded by its pairs' own frames.
    `scan_source`: where frames missing among the pairs are read from (None: nowhere).
    """
    counts = WindowCounts()
    if radius == 0:
        return counts
    spans = dict(spans or {})
    own: dict[tuple[int, int], np.ndarray] = {(p.shot, p.frame): p.scan for p in pairs}
    for shot in {p.shot for p in pairs} - set(spans):
        frames = [p.frame for p in pairs if p.shot == shot]
        spans[shot] = ShotSpan(min(frames), max(frames))
    source = _ScanSource(scan_source)

    def found(pair: Pair, number: int) -> np.ndarray | None:
        if number not in spans[pair.shot]:
            return None
        if (pair.shot, number) in own:
            frame = own[(pair.shot, number)]
            if frame.shape != pair.scan.shape:  # a sequence that changes size mid-way: no common crop
                return None
            counts.from_pairs += 1
            return frame
        frame = source.frame(number, pair.scan.shape[:2])
        counts.from_scan_source += frame is not None
        return frame

    for pair in pairs:
        before = _edge_rule(pair.scan, (found(pair, pair.frame - k) for k in range(1, radius + 1)), counts)
        after = _edge_rule(pair.scan, (found(pair, pair.frame + k) for k in range(1, radius + 1)), counts)
        pair.neighbours = (*before[::-1], *after)
    counts.scan_source_problem = source.problem
    return counts


def number_shots_by_cuts(pairs: list[Pair]) -> int:
    """Number the pairs' shots (in sequence order, all scan frames of one sequence) at the cuts `chromaluma
    align` finds in it, from the same structure images on the same survey grid; returns how many shots."""
    from chromaluma.align.cuts import shot_starts_of_frames

    starts = set(shot_starts_of_frames(pair.scan for pair in pairs))
    shot = -1
    for index, pair in enumerate(pairs):
        shot += index in starts
        pair.shot = shot
    return shot + 1


def _edge_rule(centre: np.ndarray, outward: Iterable[np.ndarray | None], counts: WindowCounts) -> list[np.ndarray]:
    """One side of a window, nearest the centre first: a missing frame takes the nearest available frame between
    it and the centre (the centre itself when there is none)."""
    side, nearest = [], centre
    for frame in outward:
        if frame is None:
            counts.by_edge_rule += 1
        else:
            nearest = frame
        side.append(nearest)
    return side


def log_windows(radius: int, counts: WindowCounts, scan_source: Path | None) -> None:
    """One line: where the run's neighbour frames came from."""
    if radius == 0:
        return
    source = "" if scan_source is None else f" {scan_source}"
    if counts.scan_source_problem:
        source += f" (not readable here: {counts.scan_source_problem})"
    log.info("temporal windows of %d frames (radius %d): %d neighbours from the pairs' own scans, %d from the scan "
             "source%s, %d repeated by the edge rule (shot ends, cuts, frames missing)", 2 * radius + 1, radius,
             counts.from_pairs, counts.from_scan_source, source, counts.by_edge_rule)
