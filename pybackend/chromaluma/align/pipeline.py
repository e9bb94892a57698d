"""The alignment plan: read both sides, find the geometry, match frames, refine per shot, score every pair.

Order matters. A pan makes neighbouring frames look alike, so a geometry guessed from a single pair may be
off by one frame's motion. The geometry is therefore chosen among several guesses from different shots by how
well it explains the *whole* scan (the right one scores high everywhere; a guess from a wrong neighbour only
in its own shot). Temporal matching then runs with that geometry, and only after matching is each shot's
transform refined to sub-pixel precision by ECC on its best pair.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from chromaluma.align.cuts import shot_starts
from chromaluma.align.footage import ReferenceSurvey, ScanSurvey, survey_reference, survey_scan
from chromaluma.align.spatial import TRANSFORMS, constrain, feature_transform, refine_ecc, validity_mask, warp_to_grid
from chromaluma.align.structure import Grid, structure, unit_vector
from chromaluma.align.temporal import FieldMatch, match_fields, seed_pairs, shot_of
from chromaluma.errors import PairMismatchError, ParameterError
from chromaluma.io import Shot

log = logging.getLogger(__name__)

REFINE_WIDTH = 1024  # ECC runs on a scan grid no wider than this
MAX_REFINE_SHIFT = 0.02  # ECC may move the frame corners by at most this fraction of the width


class NoMatchError(PairMismatchError):
    """No scan frame has a confident match in the reference."""


@dataclass(frozen=True)
class AlignOptions:
    """What the restorer chose: transform model, score threshold, thinning, frame rates, frame range."""

    transform: str = "similarity"
    min_score: float = 0.5
    every: int = 1
    scan_fps: float | None = None
    reference_fps: float | None = None
    frames: tuple[int, int] | None = None
    hypotheses: int = 6
    progress: bool = True

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise ParameterError(f"--transform {self.transform!r}: choose one of {', '.join(TRANSFORMS)}.")
        if not 0.0 <= self.min_score <= 1.0:
            raise ParameterError(f"--min-score {self.min_score}: give a score between 0 and 1 (default 0.5).")
        if self.every < 1:
            raise ParameterError(f"--every {self.every}: give 1 (every matched frame) or more.")


@dataclass(frozen=True)
class PlannedPair:
    """One pair to write: scan frame (position and id), reference frames of its two fields, shot and score."""

    scan_index: int
    scan_frame: int
    top_frame: int
    bottom_frame: int
    shot: int
    score: float


@dataclass
class Alignment:
    """The outcome: per-shot transforms (reference→scan, reference pixels), the pairs, and what was left out."""

    scan: ScanSurvey
    reference: ReferenceSurvey
    options: AlignOptions
    shot_starts: list[int]
    shot_transforms: dict[int, np.ndarray]
    pairs: list[PlannedPair]
    scores: dict[int, float] = field(default_factory=dict)  # every matched scan index → score (before --min-score)
    global_transform: np.ndarray = field(default_factory=lambda: np.eye(3))

    def transform_of_shot(self, shot: int) -> np.ndarray:
        """The shot's matrix in the reference's own pixel coordinates (undoing any reduction for matching)."""
        return self.shot_transforms.get(shot, self.global_transform) @ np.linalg.inv(self.reference.to_reference)


def plan_alignment(scan_shot: Shot, reference_shot: Shot, options: AlignOptions) -> Alignment:
    """Everything but writing: returns the pairs to write, or raises NoMatchError."""
    if options.frames is not None:
        scan_shot = scan_shot.select(*options.frames)
    scan = survey_scan(scan_shot, options.progress)
    reference = survey_reference(reference_shot, options.progress)
    starts = shot_starts(scan.survey_structure, scan.contrasts)
    labels = shot_of(starts, len(scan.frame_ids))
    log.info("scan: %d frames in %d shot(s); reference: %d frames", len(scan.frame_ids), len(starts),
             len(reference.frames))
    geometry = choose_geometry(scan, reference, labels, options)
    matches = match_fields(field_scores(scan.work_structure, reference, geometry, scan.work))
    if not matches:
        raise _no_match(scan, reference)
    transforms = {shot: refine_shot(scan, reference, [m for m in matches if labels[m.scan_index] == shot],
                                    geometry, options.transform)
                  for shot in sorted({int(labels[m.scan_index]) for m in matches})}
    scores = {m.scan_index: pair_score(scan, reference, m, transforms[int(labels[m.scan_index])]) for m in matches}
    kept = [m for m in matches if scores[m.scan_index] >= options.min_score][:: options.every]
    if not kept:
        raise NoMatchError(f"{scan.shot.source} vs {reference.shot.source}: {len(matches)} frame(s) matched but none "
                           f"scored --min-score {options.min_score} (best {max(scores.values()):.2f}); lower "
                           "--min-score if the contact sheet of a lower threshold looks right.")
    pairs = [PlannedPair(m.scan_index, scan.frame_ids[m.scan_index], m.top_frame, m.bottom_frame,
                         int(labels[m.scan_index]), scores[m.scan_index]) for m in kept]
    return Alignment(scan, reference, options, starts, transforms, pairs, scores, geometry)


def _no_match(scan: ScanSurvey, reference: ReferenceSurvey) -> NoMatchError:
    return NoMatchError(f"{scan.shot.source} vs {reference.shot.source}: no scan frame has a confident match in "
                        "the reference (no common picture found). Check that both show the same reel and that "
                        "--frames covers footage the reference contains; nothing was written.")


def field_scores(scan_structure: list[np.ndarray], reference: ReferenceSurvey, reference_to_scan: np.ndarray,
                 grid: Grid, fields: list[int] | None = None) -> np.ndarray:
    """Scores (scan frames × reference fields) with the reference warped onto the scan grid by one transform."""
    context = grid.sigmas()[1]
    mask = validity_mask(reference.box, reference_to_scan, grid, margin=2.0 * context)
    if mask.sum() < 0.1 * mask.size:  # a transform that shows almost no reference picture explains nothing
        return np.zeros((len(scan_structure), len(fields) if fields is not None else 2 * len(reference.frames)))
    scan_vectors = np.stack([unit_vector(image, mask) for image in scan_structure])
    indices = fields if fields is not None else range(2 * len(reference.frames))
    field_vectors = np.stack([
        unit_vector(structure(warp_to_grid(reference.field_luma(index), reference_to_scan, grid), *grid.sigmas()),
                    mask)
        for index in indices])
    return scan_vectors @ field_vectors.T


def choose_geometry(scan: ScanSurvey, reference: ReferenceSurvey, labels: np.ndarray,
                    options: AlignOptions) -> np.ndarray:
    """The reference→scan transform (reduced reference pixels) that best explains the whole scan."""
    seeds = seed_pairs(scan.coarse, reference.coarse_fields, labels, options.hypotheses)
    best, best_quality = None, -1.0
    for scan_index, field_index in seeds:
        guess = feature_transform(scan.full_luma(scan_index), reference.field_luma(field_index), options.transform)
        if guess is None:
            continue
        quality = float(field_scores(scan.survey_structure, reference, guess, scan.survey).max(axis=1).mean())
        log.debug("geometry guess from scan %d / field %d explains the scan at %.3f",
                  scan.frame_ids[scan_index], field_index, quality)
        if quality > best_quality:
            best, best_quality = guess, quality
    if best is None:
        raise _no_match(scan, reference)
    return best


def refine_shot(scan: ScanSurvey, reference: ReferenceSurvey, matches: list[FieldMatch], geometry: np.ndarray,
                model: str) -> np.ndarray:
    """Sub-pixel transform for one shot: ECC on its best pair, kept only if it stays close and scores no worse."""
    best = max(matches, key=lambda m: m.field_score)
    grid = Grid.scaled(scan.width, scan.height, REFINE_WIDTH)
    scan_structure = structure(grid.resize(scan.full_luma(best.scan_index)), *grid.sigmas())
    mask = validity_mask(reference.box, geometry, grid, margin=3.0 * grid.sigmas()[1])
    reference_luma = reference.rebuilt_luma(best.top_frame, best.bottom_frame)
    refined = refine_ecc(scan_structure, reference_luma, geometry, grid, mask, model)
    if refined is None:
        return geometry
    refined = constrain(refined, model, reference_luma.shape[1], reference_luma.shape[0])
    if _corner_shift(geometry, refined, reference.box) > MAX_REFINE_SHIFT * scan.width:
        log.warning("shot at scan frame %d: refinement moved too far; keeping the shared transform",
                    scan.frame_ids[best.scan_index])
        return geometry
    if pair_score(scan, reference, best, refined) < pair_score(scan, reference, best, geometry) - 0.01:
        return geometry
    return refined


def _corner_shift(first: np.ndarray, second: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x0, y0, x1, y1 = box
    corners = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], dtype=np.float64)
    return float(np.abs(cv2.perspectiveTransform(corners, first) - cv2.perspectiveTransform(corners, second)).max())


def pair_score(scan: ScanSurvey, reference: ReferenceSurvey, match: FieldMatch, reference_to_scan: np.ndarray) -> float:
    """Structural match confidence in [0, 1]: correlation of scan and warped rebuilt reference on the work grid."""
    grid = scan.work
    mask = validity_mask(reference.box, reference_to_scan, grid, margin=2.0 * grid.sigmas()[1])
    if mask.sum() < 0.1 * mask.size:
        return 0.0
    warped = warp_to_grid(reference.rebuilt_luma(match.top_frame, match.bottom_frame), reference_to_scan, grid)
    return max(0.0, float(unit_vector(scan.work_structure[match.scan_index], mask)
                          @ unit_vector(structure(warped, *grid.sigmas()), mask)))
