"""Measuring real damage from crops the restorer cut out of the scan (`--damage-samples DIR`).

Each crop holds one defect on its picture. The picture is estimated by a median filter wider than the defect
(a speck or a hair is a minority of every window, so the median is the picture around it); the defect is the
connected region around the strongest deviation from it. From that region we measure polarity (brighter or
darker than the picture), size (area at half the peak), elongation (second moments: a hair is long and thin)
and edge softness (the width of the 10–90 % transition around the half-peak outline). A vertical line running
through the whole crop is a scratch: measured, reported, but not fitted (scratches are counted per shot).

The folder may hold `damage_samples.json`, `{"frames_inspected": N, "frame_size": [W, H]}`: the crops are then
every defect found in those N frames, which turns counts into densities per megapixel.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from chromaluma.errors import ChromalumaError, FrameReadError
from chromaluma.io.frames import read_frame

log = logging.getLogger(__name__)

SURVEY_NAME = "damage_samples.json"
CROP_EXTENSIONS = frozenset((".png", ".tif", ".tiff", ".exr", ".dpx", ".jpg", ".jpeg", ".bmp", ".tga"))
MIN_CROP = 5  # px each side: smaller crops leave no picture around the defect to compare with
MIN_CONTRAST = 0.03  # a defect must stand out from its picture by this much (and by 6× the crop's noise)
HAIR_ELONGATION = 4.0  # length / width from which a defect is a hair
HAIR_MIN_LENGTH = 8.0
BLOTCH_RADIUS = 4.0  # px: a round defect this large is a stain, not a dust speck
_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


class DamageSampleError(ChromalumaError):
    """A `--damage-samples` folder or one of its crops cannot be used to fit damage statistics."""


@dataclass(frozen=True)
class DefectMeasure:
    """One crop's defect: kind (speck, hair, blotch, scratch), polarity, size and edge softness (px)."""

    source: Path
    kind: str
    white: bool
    radius: float  # of a disc with the half-peak area
    length: float  # along the longest axis
    softness: float  # Gaussian sigma of the edge
    contrast: float  # peak deviation from the picture, 0–1


@dataclass(frozen=True)
class SampleSurvey:
    """Every crop's defect, and the megapixels the restorer looked through to find them (None if not said)."""

    defects: tuple[DefectMeasure, ...]
    megapixels_inspected: float | None


def survey_samples(folder: Path) -> SampleSurvey:
    """Measure every crop in `folder`; :class:`DamageSampleError` (one line, file and fix) when one is unusable."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DamageSampleError(f"--damage-samples {folder}: not a folder. Give the folder holding the crops cut "
                                "around single defects of the scan.")
    crops = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name == SURVEY_NAME or path.is_dir():
            continue
        if path.suffix.lower() in CROP_EXTENSIONS:
            crops.append(path)
        else:
            log.warning("%s: not an image crop (%s), skipped.", path, ", ".join(sorted(CROP_EXTENSIONS)))
    if not crops:
        raise DamageSampleError(f"--damage-samples {folder}: no image crops in the folder. Cut crops around single "
                                "defects of the scan (PNG, TIFF, EXR, DPX, JPEG) and save them there.")
    defects = tuple(measure_crop(path) for path in crops)
    for kind in ("speck", "hair", "blotch", "scratch"):
        log.info("damage samples: %d %s crop(s)", sum(d.kind == kind for d in defects), kind)
    return SampleSurvey(defects, _megapixels_inspected(folder / SURVEY_NAME))


def _megapixels_inspected(path: Path) -> float | None:
    if not path.exists():
        return None
    expected = ('expected {"frames_inspected": N, "frame_size": [W, H]} with whole numbers above 0; fix or '
                "remove the file")
    try:
        survey = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DamageSampleError(f"{path}: cannot read it ({reason}); {expected}.") from exc
    frames = survey.get("frames_inspected") if isinstance(survey, dict) else None
    size = survey.get("frame_size") if isinstance(survey, dict) else None
    numbers = [frames, *(size if isinstance(size, list) and len(size) == 2 else [None])]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in numbers):
        raise DamageSampleError(f"{path}: {expected}.")
    return frames * size[0] * size[1] / 1e6


def measure_crop(path: Path) -> DefectMeasure:
    """The defect in one crop (float 0–1 pixels via chromaluma.io)."""
    try:
        pixels, _ = read_frame(path)
    except FrameReadError as exc:
        raise DamageSampleError(f"{' '.join(str(exc).split())} (a damage sample: re-export the crop or remove it "
                                "from the folder)") from exc
    height, width = pixels.shape[:2]
    if min(height, width) < MIN_CROP:
        raise DamageSampleError(f"{path}: crop is {width}×{height} px; cut at least {MIN_CROP}×{MIN_CROP} px around "
                                "the defect so its picture is in the crop too, or remove the file.")
    luma = pixels[..., :3] @ _LUMA if pixels.shape[2] >= 3 else pixels[..., 0]
    residual = luma - _picture(luma)
    noise = float(np.median(np.abs(residual - np.median(residual)))) * 1.4826
    peak = np.unravel_index(int(np.argmax(np.abs(residual))), residual.shape)
    contrast = float(abs(residual[peak]))
    if not contrast > max(MIN_CONTRAST, 6.0 * noise):
        raise DamageSampleError(f"{path}: no defect stands out from the picture (strongest deviation {contrast:.3f}, "
                                f"noise {noise:.3f}); cut the crop around one speck, hair or blotch, or remove it.")
    white = bool(residual[peak] > 0)
    signed = residual if white else -residual
    core = _region(signed > contrast / 2.0, peak)
    return _shape(path, signed, core, peak, contrast, noise, white)


def _picture(luma: np.ndarray) -> np.ndarray:
    """The picture under the defect: a median over a window as large as the crop allows (OpenCV's median takes
    windows above 5 px only in 8 bits, ample precision for measuring a defect's shape)."""
    size = min(luma.shape) - (1 - min(luma.shape) % 2)
    size = max(3, min(size, 255))
    codes = np.clip(np.round(luma * 255.0), 0, 255).astype(np.uint8)
    return cv2.medianBlur(codes, size).astype(np.float32) / 255.0


def _region(mask: np.ndarray, peak: tuple[int, ...]) -> np.ndarray:
    """The connected part of `mask` that holds the peak (8-connected)."""
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return labels == labels[peak]


def _shape(path: Path, signed: np.ndarray, core: np.ndarray, peak: tuple[int, ...], contrast: float, noise: float,
           white: bool) -> DefectMeasure:
    rows, cols = np.nonzero(core)
    area = float(rows.size)
    spread = np.linalg.eigvalsh(np.cov(np.stack([rows, cols]).astype(np.float64))) if rows.size > 2 else np.zeros(2)
    length = max(math.sqrt(12.0 * max(float(spread[-1]), 0.0)), 1.0)  # a uniform line of length L: variance L²/12
    thickness = max(area / length, 0.5)
    radius = math.sqrt(area / math.pi)
    height = signed.shape[0]
    if length / thickness >= HAIR_ELONGATION and length >= HAIR_MIN_LENGTH:
        vertical = np.ptp(rows) + 1 >= 0.9 * height and np.ptp(cols) + 1 <= max(4.0, 0.15 * np.ptp(rows))
        kind = "scratch" if vertical else "hair"
    else:
        kind = "blotch" if radius >= BLOTCH_RADIUS else "speck"
    outer = _region(signed > max(0.1 * contrast, 3.0 * noise), peak)
    inner = core & (signed > 0.9 * contrast)
    outline = cv2.findContours(core.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0]
    perimeter = max(sum(cv2.arcLength(c, True) for c in outline), 2.0 * math.pi * max(radius, 0.5))
    # an erf edge of sigma s rises from 10 % to 90 % over 2.56 s: the ring between those outlines is that wide
    softness = float(np.clip((int(outer.sum()) - int(inner.sum())) / perimeter / 2.56, 0.3, 3.0))
    return DefectMeasure(path, kind, white, radius, length, softness, contrast)
