"""Which reference frame — or which pair of fields — shows each scan frame (shot cuts: `chromaluma.align.cuts`).

Everything is decided on structure scores (see `chromaluma.align.structure`), never on colour. The reference is
treated as a stream of *fields*: a progressive frame (PAL 1:1, with or without the 24→25 speed-up) has both
fields from one film frame, a 2:3 or 2:2…:3 pulldown mixes fields of neighbouring film frames into some video
frames. Matching every scan frame to its best top field and best bottom field therefore covers every cadence,
and weaving those two fields back together is inverse telecine.

A match is kept only when it is *mutual*: the scan frame's best field of each parity must in turn prefer that
scan frame over every other one. A frame missing on either side has no mutual partner (its neighbours are
each other's best), so it is left out rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_FIELD_SCORE = 0.25  # a field scoring below this is never a candidate
SAME_FRAME_TOLERANCE = 0.03  # prefer one progressive frame over two fields when it scores within this


@dataclass(frozen=True)
class FieldMatch:
    """Scan frame `scan_index` shows reference frames `top_frame` (top field) and `bottom_frame` (bottom field)."""

    scan_index: int
    top_frame: int
    bottom_frame: int
    field_score: float

    @property
    def progressive(self) -> bool:
        return self.top_frame == self.bottom_frame


def shot_of(starts: list[int], count: int) -> np.ndarray:
    """Shot number of every scan frame, from the shot starts."""
    labels = np.zeros(count, dtype=int)
    for number, start in enumerate(starts):
        labels[start:] = number
    return labels


def seed_pairs(scan_coarse: list[np.ndarray], field_coarse: list[np.ndarray], shots: np.ndarray,
               count: int) -> list[tuple[int, int]]:
    """Confident (scan index, field index) pairs from geometry-free thumbnails, spread over the shots.

    Mutual best pairs only, strongest first, taken round-robin across shots so that one long shot (whose
    pan could make a neighbour look like a match) cannot supply every guess.
    """
    scores = np.stack(scan_coarse) @ np.stack(field_coarse).T
    best_field = scores.argmax(axis=1)
    best_scan = scores.argmax(axis=0)
    by_shot: dict[int, list[tuple[float, int, int]]] = {}
    for scan_index, field_index in enumerate(best_field):
        if best_scan[field_index] == scan_index:
            by_shot.setdefault(int(shots[scan_index]), []).append(
                (float(scores[scan_index, field_index]), scan_index, int(field_index)))
    queues = [sorted(items, reverse=True) for items in by_shot.values()]
    queues.sort(key=lambda items: -items[0][0])
    seeds: list[tuple[int, int]] = []
    while len(seeds) < count and any(queues):
        for queue in queues:
            if queue and len(seeds) < count:
                _, scan_index, field_index = queue.pop(0)
                seeds.append((scan_index, field_index))
    return seeds


def match_fields(scores: np.ndarray) -> list[FieldMatch]:
    """Mutual-best field matches from a (scan frames × fields) score matrix; fields are 2·frame + parity."""
    if scores.size == 0:
        return []
    best_scan = scores.argmax(axis=0)
    matches = []
    for scan_index in range(scores.shape[0]):
        chosen = []
        for parity in (0, 1):
            row = scores[scan_index, parity::2]
            frame = int(row.argmax())
            field_index = 2 * frame + parity
            if best_scan[field_index] != scan_index or row[frame] < MIN_FIELD_SCORE:
                break
            chosen.append((frame, float(row[frame])))
        if len(chosen) < 2:
            continue
        (top, top_score), (bottom, bottom_score) = chosen
        if top != bottom:
            top, bottom = _prefer_one_frame(scores[scan_index], best_scan, scan_index, (top, top_score),
                                            (bottom, bottom_score))
        matches.append(FieldMatch(scan_index, top, bottom, min(top_score, bottom_score)))
    return matches


def _prefer_one_frame(row: np.ndarray, best_scan: np.ndarray, scan_index: int, top: tuple[int, float],
                      bottom: tuple[int, float]) -> tuple[int, int]:
    """A repeated field (2:3 pulldown shows one field twice) can win by noise; take a whole frame if it is as good.

    Both of that frame's fields must themselves prefer this scan frame, so a mixed frame is never taken whole.
    """
    for frame in (top[0], bottom[0]):
        fields = (2 * frame, 2 * frame + 1)
        if (all(best_scan[f] == scan_index for f in fields) and row[fields[0]] >= top[1] - SAME_FRAME_TOLERANCE
                and row[fields[1]] >= bottom[1] - SAME_FRAME_TOLERANCE):
            return frame, frame
    return top[0], bottom[0]
