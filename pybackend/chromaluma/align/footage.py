"""One reading pass over the scan and the reference, keeping only what alignment needs in memory.

A 2K scan frame is 38 MB as float32; a reel's worth does not fit. The scan is therefore read once and reduced
to small structure images (and re-read at full resolution only for the pairs that get written). The reference
(a DVD/telecine, 720×576) is kept as full-resolution luma, since fields and inverse telecine need every line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from chromaluma.align.structure import Grid, field_picture, find_picture_box, luma, structure, unit_vector
from chromaluma.errors import PairMismatchError
from chromaluma.io import Shot

log = logging.getLogger(__name__)

WORK_WIDTH = 320  # scan grid for temporal scores
SURVEY_WIDTH = 128  # coarser scan grid for choosing among geometry hypotheses
COARSE_SIZE = (64, 48)  # geometry-free thumbnails for the first guess
NOMINAL_OVERSCAN = 0.03  # the scan is cropped this much per edge for the geometry-free first guess
MAX_REFERENCE_WIDTH = 1024  # larger references (a 2K print as reference) are reduced to this for matching


def coarse_vector(image: np.ndarray) -> np.ndarray:
    """A geometry-free thumbnail of a picture's structure as a unit vector."""
    small = cv2.resize(image, COARSE_SIZE, interpolation=cv2.INTER_AREA)
    return unit_vector(structure(small, 0.7, 3.0))


@dataclass
class ScanSurvey:
    """The scan reduced for alignment: frame ids, full size, structure on the work and survey grids."""

    shot: Shot
    width: int
    height: int
    work: Grid
    survey: Grid
    work_structure: list[np.ndarray] = field(default_factory=list)
    survey_structure: list[np.ndarray] = field(default_factory=list)
    coarse: list[np.ndarray] = field(default_factory=list)
    contrasts: list[float] = field(default_factory=list)  # luma contrast on the survey grid (blank frames: ~0)

    @property
    def frame_ids(self) -> list[int]:
        return self.shot.frame_ids

    def full_luma(self, index: int) -> np.ndarray:
        return luma(self.shot.read(index))


def survey_scan(shot: Shot, progress: bool = True) -> ScanSurvey:
    """Read every scan frame once (progress bar) and keep its structure on two small grids."""
    first = shot.read(0)
    height, width = first.shape[:2]
    survey = ScanSurvey(shot, width, height, Grid.scaled(width, height, WORK_WIDTH),
                        Grid.scaled(width, height, SURVEY_WIDTH))
    crop_x, crop_y = round(width * NOMINAL_OVERSCAN), round(height * NOMINAL_OVERSCAN)
    for index in tqdm(range(len(shot)), desc="reading scan", unit="frame", disable=not progress):
        frame_luma = luma(first if index == 0 else shot.read(index))
        if frame_luma.shape != (height, width):
            raise PairMismatchError(f"{shot.source}: frame {shot.frame_ids[index]} is {frame_luma.shape[1]}x"
                                    f"{frame_luma.shape[0]}, the first is {width}x{height}; "
                                    "one size per scan folder (split it into shots).")
        survey.work_structure.append(structure(survey.work.resize(frame_luma), *survey.work.sigmas()))
        survey_luma = survey.survey.resize(frame_luma)
        survey.survey_structure.append(structure(survey_luma, *survey.survey.sigmas()))
        low, high = np.percentile(survey_luma, (1, 99))
        survey.contrasts.append(float(high - low))
        survey.coarse.append(coarse_vector(frame_luma[crop_y:height - crop_y, crop_x:width - crop_x]))
    return survey


@dataclass
class ReferenceSurvey:
    """The reference as full-resolution luma (reduced above 1024 wide), its picture box and field thumbnails.

    `to_reference` maps the kept luma's pixel coordinates to the reference's own (identity unless reduced).
    Fields are numbered `2·frame + parity` (parity 0 = top field, rows 0, 2, …).
    """

    shot: Shot
    width: int
    height: int
    to_reference: np.ndarray
    frames: list[np.ndarray] = field(default_factory=list)
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    coarse_fields: list[np.ndarray] = field(default_factory=list)

    def field_luma(self, field_index: int) -> np.ndarray:
        return field_picture(self.frames[field_index // 2], field_index % 2)

    def rebuilt_luma(self, top_frame: int, bottom_frame: int) -> np.ndarray:
        if top_frame == bottom_frame:
            return self.frames[top_frame]
        woven = self.frames[top_frame].copy()
        woven[1::2] = self.frames[bottom_frame][1::2]
        return woven


def survey_reference(shot: Shot, progress: bool = True) -> ReferenceSurvey:
    """Read every reference frame once and keep its luma, the picture box and per-field thumbnails."""
    first = shot.read(0)
    height, width = first.shape[:2]
    factor = min(1.0, MAX_REFERENCE_WIDTH / width)
    kept = (round(width * factor), round(height * factor / 2) * 2)
    fx, fy = kept[0] / width, kept[1] / height
    to_reference = np.linalg.inv(np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1.0]]))
    survey = ReferenceSurvey(shot, width, height, to_reference)
    for index in tqdm(range(len(shot)), desc="reading reference", unit="frame", disable=not progress):
        frame_luma = luma(first if index == 0 else shot.read(index))
        if frame_luma.shape != (height, width):
            raise PairMismatchError(f"{shot.source}: frame {shot.frame_ids[index]} changes size; "
                                    "export the reference at one size.")
        if factor < 1.0:  # fields first, then shrink each, so that no line of one field leaks into the other
            frame_luma = _shrink_by_fields(frame_luma, kept)
        survey.frames.append(frame_luma)
    sample = survey.frames[:: max(1, len(survey.frames) // 24)]
    survey.box = find_picture_box(sample)
    x0, y0, x1, y1 = survey.box
    for frame_luma in survey.frames:
        for parity in (0, 1):
            survey.coarse_fields.append(coarse_vector(field_picture(frame_luma, parity)[y0:y1, x0:x1]))
    log.debug("reference picture box %s in %dx%d", survey.box, *kept)
    return survey


def _shrink_by_fields(frame_luma: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    out = np.empty((size[1], size[0]), dtype=np.float32)
    for parity in (0, 1):
        out[parity::2] = cv2.resize(frame_luma[parity::2], (size[0], size[1] // 2), interpolation=cv2.INTER_AREA)
    return out
