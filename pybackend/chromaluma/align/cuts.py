"""Where the scan's shots cut: a break in picture continuity that camera motion, flicker and grain cannot explain.

Within a shot, each frame is its predecessor moved a little: a handheld camera shakes by several pixels a
frame (tens in a jolt), rolls and breathes slightly, smears its motion into the frame, and the exposure
flickers. A cut replaces the picture. Comparing frames where they lie would take the shake for a cut, so each
frame is first brought onto its predecessor by the shift phase correlation finds, and only then correlated
(structure images, so a flicker or fade changes nothing). That *continuity* stays high through camera motion
and falls to about zero across a cut, where no shift makes two different pictures agree.

What counts as low is the shot's own business: grain, damage or a dark scene lower every frame's continuity.
A cut must therefore be a clear outlier against its neighbours' continuity as well as low in absolute terms.
A frame that breaks with both neighbours while they agree with each other (a flash frame, a burn, a frame
torn by a splice) is a damaged frame inside the shot, not a one-frame shot. Blank frames (black leader, the
black of a fade) have no picture to continue and would each look like a shot of their own; they are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from chromaluma.align.structure import unit_vector

CUT_LEVEL = 0.5  # a cut's continuity is below this whatever the shot
CLEAR_DROP = 0.3  # ...and at least this far below the shot's typical continuity
OUTLIER_SPREADS = 5.0  # ...and this many robust spreads below it, so a shot that varies a lot needs a deeper fall
NEIGHBOURS = 8  # frame pairs on each side that describe a shot's own continuity
MIN_NEIGHBOURS = 3  # a side with fewer pairs says nothing; with neither side, only CUT_LEVEL applies
MIN_OVERLAP = 0.3  # a shift leaving less of the frame than this in common is no continuation
COMPARE_BLUR = 1.0  # pixels (survey grid) of blur before correlating: motion blur differs from frame to frame
BLANK_CONTRAST = 0.1  # a frame with less luma contrast than this fraction of the scan's pictured frames is blank


def continuity(previous: np.ndarray, current: np.ndarray) -> float:
    """Correlation of two structure images after the shift that best brings `current` onto `previous`."""
    height, width = previous.shape
    window = cv2.createHanningWindow((width, height), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(previous.astype(np.float32), current.astype(np.float32), window)
    shift = np.float32([[1.0, 0.0, -dx], [0.0, 1.0, -dy]])
    moved = cv2.warpAffine(current.astype(np.float32), shift, (width, height), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.ones((height, width), np.uint8), shift, (width, height), flags=cv2.INTER_NEAREST)
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8)).astype(bool)  # edge pixels hold interpolated border
    if inside.sum() < MIN_OVERLAP * inside.size:
        return 0.0
    soft = (cv2.GaussianBlur(image, (0, 0), COMPARE_BLUR) for image in (previous.astype(np.float32), moved))
    return float(unit_vector(next(soft), inside) @ unit_vector(next(soft), inside))


def cut_level(continuities: np.ndarray, index: int) -> float:
    """The continuity below which pair `index` (frames index, index+1) is a cut, from its neighbours' values.

    Each side is judged on its own, since a cut joins two shots that may differ in how steady they are, and
    the pair must fall clearly below both: the shot it ends and the shot it begins. (Next to a cut, one side
    reaches into the other shot; requiring both keeps a steady neighbour from lowering a grainy shot's bar.)
    """
    sides = (continuities[max(0, index - NEIGHBOURS): index], continuities[index + 1: index + 1 + NEIGHBOURS])
    levels = [_shot_level(side) for side in sides if side.size >= MIN_NEIGHBOURS]
    return min([CUT_LEVEL, *levels])


def _shot_level(continuities: np.ndarray) -> float:
    typical = float(np.median(continuities))
    steady = continuities[continuities >= typical - CLEAR_DROP]  # a further cut nearby does not widen the spread
    spread = 1.4826 * float(np.median(np.abs(steady - np.median(steady))))
    return typical - max(CLEAR_DROP, OUTLIER_SPREADS * spread)


def blank_frames(contrasts: list[float]) -> set[int]:
    """Frames with (almost) no picture: black leader, a frame faded out, a splice's black, by their luma contrast."""
    if not contrasts:
        return set()
    picture = float(np.percentile(contrasts, 90))  # the scan's pictured frames, even if most of it is leader
    return {index for index, contrast in enumerate(contrasts) if contrast < BLANK_CONTRAST * picture}


def shot_starts(survey_structure: list[np.ndarray], contrasts: list[float] | None = None) -> list[int]:
    """Indices of scan frames that begin a shot (always includes 0), from structure images on one small grid.

    Blank frames (see :func:`blank_frames`, from each frame's luma contrast) hold only grain, so they are
    skipped: each stays in the shot before it (leader: the first shot), and the first pictured frame after them
    starts a shot only if it does not continue the last pictured frame before them.
    """
    blank = blank_frames(contrasts) if contrasts is not None else set()
    shown = [index for index in range(len(survey_structure)) if index not in blank]
    starts = _starts_among([survey_structure[index] for index in shown])
    return sorted({0} | {shown[position] for position in starts if position > 0})


def shot_starts_of_frames(frames: Iterable[np.ndarray]) -> list[int]:
    """:func:`shot_starts` of full-resolution frames (float RGB(A) or grey, one size), surveyed on the grid and with
    the structure images `chromaluma align` uses."""
    from chromaluma.align.footage import SURVEY_WIDTH
    from chromaluma.align.structure import Grid, luma, structure

    structures, contrasts, grid = [], [], None
    for frame in frames:
        if grid is None:
            grid = Grid.scaled(frame.shape[1], frame.shape[0], SURVEY_WIDTH)
        survey_luma = grid.resize(luma(frame[..., :3] if frame.ndim == 3 else frame))
        structures.append(structure(survey_luma, *grid.sigmas()))
        low, high = np.percentile(survey_luma, (1, 99))
        contrasts.append(float(high - low))
    return shot_starts(structures, contrasts) if structures else []


def _starts_among(survey_structure: list[np.ndarray]) -> list[int]:
    pairs = np.array([continuity(survey_structure[i - 1], survey_structure[i])
                      for i in range(1, len(survey_structure))])
    breaks = {i + 1 for i in range(pairs.size) if pairs[i] < cut_level(pairs, i)}
    for start in sorted(breaks):
        isolated = start in breaks and start + 1 in breaks  # frame `start` breaks with both neighbours
        if isolated and continuity(survey_structure[start - 1], survey_structure[start + 1]) >= cut_level(
                pairs, start - 1):
            breaks -= {start, start + 1}  # its neighbours continue each other: a damaged frame inside the shot
    return [0, *sorted(breaks)]
