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

from collections.abc import Callable, Iterable

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
PIECEWISE_REACH = NEIGHBOURS + 2  # frames on each side of a frame that decide, piecewise, whether it starts a shot


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
    starts = _starts_among(len(shown), lambda a, b: continuity(survey_structure[shown[a]], survey_structure[shown[b]]))
    return sorted({0} | {shown[position] for position in starts if position > 0})


def shot_starts_of_frames(frames: Iterable[np.ndarray]) -> list[int]:
    """:func:`shot_starts` of full-resolution frames (float RGB(A) or grey, one size), surveyed on the grid and with
    the structure images `chromaluma align` uses."""
    structures, contrasts = [], []
    for frame in frames:
        survey, contrast = survey_structure(frame)
        structures.append(survey)
        contrasts.append(contrast)
    return shot_starts(structures, contrasts) if structures else []


def survey_structure(frame: np.ndarray) -> tuple[np.ndarray, float]:
    """A full-resolution frame's structure image on the survey grid `chromaluma align` uses, and its luma contrast."""
    from chromaluma.align.footage import SURVEY_WIDTH
    from chromaluma.align.structure import Grid, luma, structure

    grid = Grid.scaled(frame.shape[1], frame.shape[0], SURVEY_WIDTH)
    survey_luma = grid.resize(luma(frame[..., :3] if frame.ndim == 3 else frame))
    low, high = np.percentile(survey_luma, (1, 99))
    return structure(survey_luma, *grid.sigmas()), float(high - low)


class PiecewiseCuts:
    """Cuts of a long scan judged frame by frame, for a render that reads only part of it (`chromaluma apply` with a
    window model, a farm task's `--frames` range): whether frame `position` starts a shot is decided by the rules
    of :func:`shot_starts` applied to the frames within PIECEWISE_REACH of it alone, so every range of the scan that
    asks gets the same answer. What it leaves out is the blank-frame rule (which needs the whole scan): a blank
    frame's grain continues nothing, so black leader or the black of a fade reads as one-frame shots here, which
    costs a window model nothing there is to see. `survey(position)` gives a frame's structure image (see
    :func:`survey_structure`), or None for a frame that cannot be read: it is taken to continue its neighbours."""

    def __init__(self, count: int, survey: Callable[[int], np.ndarray | None]) -> None:
        self.count = count
        self._survey = survey
        self._structures: dict[int, np.ndarray | None] = {}
        self._continuities: dict[tuple[int, int], float] = {}

    def starts_shot(self, position: int) -> bool:
        """Whether a shot begins at `position`. Asked in increasing order, it keeps only the frames it still needs
        (a reel's survey would not fit in memory); asked out of order, it surveys again what it let go."""
        if position <= 0 or position >= self.count:
            return False
        first, end = max(0, position - PIECEWISE_REACH), min(self.count, position + PIECEWISE_REACH)
        self._structures = {p: picture for p, picture in self._structures.items() if p >= first}
        self._continuities = {pair: value for pair, value in self._continuities.items() if pair[0] >= first}
        return position - first in _starts_among(end - first, lambda a, b: self._continuity(first + a, first + b))

    def _continuity(self, earlier: int, later: int) -> float:
        key = (earlier, later)
        if key not in self._continuities:
            pictures = [self._structure(earlier), self._structure(later)]
            self._continuities[key] = 1.0 if pictures[0] is None or pictures[1] is None else continuity(*pictures)
        return self._continuities[key]

    def _structure(self, position: int) -> np.ndarray | None:
        if position not in self._structures:
            self._structures[position] = self._survey(position)
        return self._structures[position]


def _starts_among(count: int, continuity_of: Callable[[int, int], float]) -> list[int]:
    """Shot starts among `count` pictured frames, `continuity_of(a, b)` the continuity of frame b after frame a."""
    pairs = np.array([continuity_of(i - 1, i) for i in range(1, count)])
    breaks = {i + 1 for i in range(pairs.size) if pairs[i] < cut_level(pairs, i)}
    for start in sorted(breaks):
        isolated = start in breaks and start + 1 in breaks  # frame `start` breaks with both neighbours
        if isolated and continuity_of(start - 1, start + 1) >= cut_level(pairs, start - 1):
            breaks -= {start, start + 1}  # its neighbours continue each other: a damaged frame inside the shot
    return [0, *sorted(breaks)]
