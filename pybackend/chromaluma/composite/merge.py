"""One composite frame: every print registered onto the first, density-matched, scored cell by cell, merged.

The composite lies on the first print's pixel grid with the first print's density, size, alpha and file
naming, so it can stand as the `--target` of a training run on the first print (or on a scan of it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chromaluma.align.structure import luma
from chromaluma.composite.prints import Print
from chromaluma.composite.quality import (
    DISAGREEMENT,
    CellScores,
    PrintFrame,
    cell_scores,
    damage_mattes,
    match_density,
    merge_weights,
)
from chromaluma.composite.register import Registration, register
from chromaluma.damage_baselines import compensate, spike_index
from chromaluma.errors import PairMismatchError, ParameterError


@dataclass(frozen=True)
class MergeOptions:
    """The restorer's choices: cell size and feather (px of the first print), lowest alignment score accepted."""

    cell: int = 64
    feather: float | None = None  # default: a quarter of the cell
    min_score: float = 0.3

    def __post_init__(self) -> None:
        if self.cell < 4:
            raise ParameterError(f"--cell {self.cell}: give a cell size of at least 4 px (default 64).")
        if self.feather is not None and self.feather < 0:
            raise ParameterError(f"--feather {self.feather}: give 0 (hard seams) or more px (default: cell / 4).")
        if not 0.0 <= self.min_score <= 1.0:
            raise ParameterError(f"--min-score {self.min_score}: give a score between 0 and 1 (default 0.3).")

    @property
    def feather_px(self) -> float:
        return self.cell / 4.0 if self.feather is None else float(self.feather)


@dataclass(frozen=True)
class PrintOutcome:
    """What one print contributed to one frame: its frame id, registration, density fit and share of pixels."""

    frame: int
    registration: Registration | None  # None for the first print (it is the grid)
    density: list[float]
    share: float = 0.0


@dataclass(frozen=True)
class MergedFrame:
    """The composite pixels (first print's channels), the index of the print each pixel came from, the outcomes."""

    pixels: np.ndarray
    source: np.ndarray
    outcomes: list[PrintOutcome]
    scores: CellScores


def _spike(window: tuple[list[np.ndarray], int]) -> np.ndarray | None:
    """The print's own spike-detection index at the window's centre (None without a neighbouring frame)."""
    frames, centre = window
    return spike_index(compensate(frames, centre)) if len(frames) > 1 else None


def _registered(first_luma: np.ndarray, print_: Print, position: int, start: np.ndarray | None,
                options: MergeOptions) -> tuple[Registration, np.ndarray, np.ndarray | None]:
    """One print's frame registered on the first print's grid: the registration, warped RGB and spike index."""
    own = position + print_.offset
    frame = print_.read(own)
    registration = register(first_luma, luma(frame[..., :3]), start)
    if registration.score < options.min_score:
        raise PairMismatchError(
            f"--print {print_.shot.source}: frame {print_.shot.frame_ids[own]} does not register onto the first "
            f"print (structural score {registration.score:.2f} < --min-score {options.min_score}); check that "
            "both prints show the same shot and frames (--offset, --frames); nothing was written.")
    height, width = first_luma.shape
    rgb = registration.warp(frame[..., :3], height, width)
    spike = _spike(print_.window(own))
    warped_spike = None if spike is None else registration.warp(spike, height, width)
    return registration, rgb, warped_spike


def _matched(rgb: np.ndarray, first_rgb: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Density match fitted twice: the second fit leaves out pixels the first showed disagreeing (damage)."""
    matched, fit = match_density(rgb, first_rgb, valid)
    agreeing = valid & (np.abs(luma(matched) - luma(first_rgb)) < DISAGREEMENT)
    if agreeing.sum() >= 0.2 * valid.sum():
        matched, fit = match_density(rgb, first_rgb, agreeing)
    return matched, fit


def merge_frame(prints: list[Print], position: int, starts: list[np.ndarray | None],
                options: MergeOptions) -> MergedFrame:
    """Composite of the first print's frame at `position`; `starts` holds (and is updated with) each print's last
    matrix so the next frame's registration starts from it."""
    first_frame = prints[0].read(position)
    first_rgb = np.ascontiguousarray(first_frame[..., :3], dtype=np.float32)
    first_luma = luma(first_rgb)
    height, width = first_luma.shape
    frames = [PrintFrame(first_rgb, np.ones((height, width), bool), _spike(prints[0].window(position)))]
    raw_lumas = [first_luma]
    outcomes = [PrintOutcome(prints[0].shot.frame_ids[position], None, [1.0, 0.0] * 3)]
    for index, print_ in enumerate(prints[1:], start=1):
        registration, rgb, spike = _registered(first_luma, print_, position, starts[index], options)
        starts[index] = registration.matrix
        matched, fit = _matched(rgb, first_rgb, registration.valid)
        frames.append(PrintFrame(matched, registration.valid, spike))
        raw_lumas.append(luma(rgb))
        outcomes.append(PrintOutcome(print_.shot.frame_ids[position + print_.offset], registration, fit))
    mattes = damage_mattes(frames)
    scores = cell_scores(frames, raw_lumas, mattes, options.cell)
    valid = np.stack([f.valid for f in frames]).astype(np.float32)
    weights = merge_weights(scores.score, mattes, valid, options.cell, options.feather_px)
    rgb = np.einsum("phw,phwc->hwc", weights, np.stack([f.rgb for f in frames]))
    pixels = np.concatenate([rgb, first_frame[..., 3:]], axis=2) if first_frame.shape[2] > 3 else rgb
    source = np.argmax(weights, axis=0).astype(np.uint8)
    outcomes = [PrintOutcome(o.frame, o.registration, o.density, float(np.mean(source == i)))
                for i, o in enumerate(outcomes)]
    return MergedFrame(pixels.astype(np.float32), source, outcomes, scores)
