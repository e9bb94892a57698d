"""The repair benchmark's measures (:mod:`chromaluma.benchmarks.repair`), as pure functions of arrays.

Ground truth per frame: `opacity` (float HW, 0–1, how much of each pixel is damage) and `classes` (uint8 HW, the
damage class id of the strongest damage at the pixel, 0 where undamaged). A method gives its repaired frame and the
matte it actually applied (any pixel with a weight > 0 counts as repaired).

- **Objects.** A ground-truth defect is a connected component (8-connected) of opacity ≥ OPACITY_FLOOR among the
  pixels of one class. It is *found* when at least DETECTED_SHARE of its pixels lie within TOLERANCE_PX of the
  matte. A matte component (8-connected) is a *true detection* when it lies within TOLERANCE_PX of ground truth
  (opacity ≥ OPACITY_FLOOR); it is credited to the class it touches with most pixels, and is *false* otherwise.
  Recall = found / defects; precision = true / matte components. A class's precision charges it with every false
  detection (a false alarm has no class), so it is never flattered by the other classes' defects.
- **Damaged regions** (opacity ≥ OPACITY_FLOOR): PSNR from the pooled squared error against the clean frame, and
  SSIM (Gaussian window σ 1.5, per channel, averaged) read out at those pixels only.
- **Undamaged pixels** (opacity == 0): the share left bit-exact (same float32 bits as the damaged input in every
  channel).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

OPACITY_FLOOR = 0.05
TOLERANCE_PX = 1
DETECTED_SHARE = 0.5
_REACH = np.ones((2 * TOLERANCE_PX + 1, 2 * TOLERANCE_PX + 1), np.uint8)


def _within_reach(mask: np.ndarray) -> np.ndarray:
    """`mask` grown by TOLERANCE_PX (a square neighbourhood: diagonal neighbours count)."""
    return cv2.dilate(mask.astype(np.uint8), _REACH) > 0


def _components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """Number of 8-connected components of `mask` (background included as label 0) and their labels."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return int(count), labels


def _per_label(labels: np.ndarray, count: int, values: np.ndarray | None = None) -> np.ndarray:
    weights = None if values is None else values.ravel().astype(np.float64)
    return np.bincount(labels.ravel(), weights=weights, minlength=count)


@dataclass
class DetectionCounts:
    """Object counts of one or more frames, per damage class id (see the module docstring)."""

    defects: dict[int, int] = field(default_factory=dict)  # ground-truth defects per class
    found: dict[int, int] = field(default_factory=dict)  # of which found by the matte
    true: dict[int, int] = field(default_factory=dict)  # matte components credited to the class
    false: int = 0  # matte components touching no ground truth

    def add(self, other: DetectionCounts) -> None:
        for mine, theirs in ((self.defects, other.defects), (self.found, other.found), (self.true, other.true)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        self.false += other.false

    def classes(self) -> list[int]:
        """Class ids with at least one ground-truth defect."""
        return sorted(key for key, value in self.defects.items() if value > 0)

    def recall(self, class_id: int | None = None) -> float | None:
        """Found / defects (of one class, or of all); None when there is no defect to find."""
        defects = sum(self.defects.values()) if class_id is None else self.defects.get(class_id, 0)
        found = sum(self.found.values()) if class_id is None else self.found.get(class_id, 0)
        return found / defects if defects else None

    def precision(self, class_id: int | None = None) -> float | None:
        """True / (true + false) detections (of one class, charged with every false one); None without a matte."""
        true = sum(self.true.values()) if class_id is None else self.true.get(class_id, 0)
        return true / (true + self.false) if true + self.false else None


def detection_counts(matte: np.ndarray, opacity: np.ndarray, classes: np.ndarray) -> DetectionCounts:
    """One frame's object counts of the applied `matte` (repaired where > 0) against the ground truth."""
    repaired = np.asarray(matte) > 0
    truth = np.asarray(opacity) >= OPACITY_FLOOR
    classes = np.asarray(classes)
    counts = DetectionCounts()
    reach = _within_reach(repaired)
    ids = [int(c) for c in np.unique(classes[truth]) if c > 0]
    matte_count, matte_labels = _components(repaired)
    touching = np.zeros((len(ids), matte_count))
    for row, class_id in enumerate(ids):
        defect = truth & (classes == class_id)
        count, labels = _components(defect)
        size = _per_label(labels, count)[1:]
        inside = _per_label(labels, count, reach)[1:]
        counts.defects[class_id] = count - 1
        counts.found[class_id] = int(np.count_nonzero(inside >= DETECTED_SHARE * size))
        touching[row] = _per_label(matte_labels, matte_count, _within_reach(defect))
    touching = touching[:, 1:]  # label 0 is the unrepaired background
    hit = touching.max(axis=0, initial=0.0) > 0
    counts.false = int(np.count_nonzero(~hit))
    if ids:
        credited = np.argmax(touching, axis=0)[hit]
        for row, class_id in enumerate(ids):
            counts.true[class_id] = int(np.count_nonzero(credited == row))
    return counts


def ssim_map(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM (Wang et al. 2004: Gaussian window σ 1.5, K1 0.01, K2 0.03, range 1) of two HWC frames,
    averaged over channels: 1 where they are equal. Float32 throughout: the variances' rounding (~1e-7) is far
    below K2² and the benchmark scores thousands of frames."""
    a = np.asarray(first, dtype=np.float32)
    b = np.asarray(second, dtype=np.float32)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    c1, c2 = 0.01**2, 0.03**2

    def blur(x: np.ndarray) -> np.ndarray:
        out = cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)
        return out.reshape(x.shape)

    maps = []
    for channel in range(a.shape[-1]):
        x, y = a[..., channel], b[..., channel]
        mx, my = blur(x), blur(y)
        vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        maps.append(((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2)))
    return np.mean(maps, axis=0, dtype=np.float64)


def _same_bits(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """HW: True where every channel holds the same float32 bits (−0.0 ≠ 0.0, NaN payloads compared exactly)."""
    a = np.ascontiguousarray(first, dtype=np.float32).view(np.uint32)
    b = np.ascontiguousarray(second, dtype=np.float32).view(np.uint32)
    same = a == b
    return same.all(axis=-1) if same.ndim == 3 else same


@dataclass
class RegionScores:
    """Pooled sums over frames: squared error and SSIM inside damaged regions, bit-exact undamaged pixels."""

    squared_error: float = 0.0
    values: int = 0  # channel values in damaged regions
    ssim_sum: float = 0.0
    damaged: int = 0  # damaged pixels
    exact: int = 0
    undamaged: int = 0

    def add(self, other: RegionScores) -> None:
        for name in ("squared_error", "values", "ssim_sum", "damaged", "exact", "undamaged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def psnr(self) -> float | None:
        """dB, peak 1; inf when equal to the clean frames everywhere damaged; None with no damaged pixel."""
        if not self.values:
            return None
        mse = self.squared_error / self.values
        return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)

    @property
    def ssim(self) -> float | None:
        return self.ssim_sum / self.damaged if self.damaged else None

    @property
    def exact_share(self) -> float | None:
        return self.exact / self.undamaged if self.undamaged else None


def region_scores(output: np.ndarray, damaged: np.ndarray, clean: np.ndarray, opacity: np.ndarray) -> RegionScores:
    """One frame: `output` (a method's repair of `damaged`) against `clean` inside the damage, and against
    `damaged` bit for bit outside it. Colour channels only (the first three)."""
    output, damaged, clean = (np.asarray(x)[..., :3] for x in (output, damaged, clean))
    opacity = np.asarray(opacity)
    inside = opacity >= OPACITY_FLOOR
    untouched = opacity == 0
    difference = output[inside].astype(np.float64) - clean[inside].astype(np.float64)
    ssim = ssim_map(output, clean)[inside] if inside.any() else np.zeros(0)
    return RegionScores(squared_error=float(np.sum(difference * difference)), values=int(difference.size),
                        ssim_sum=float(np.sum(ssim)), damaged=int(np.count_nonzero(inside)),
                        exact=int(np.count_nonzero(_same_bits(output, damaged)[untouched])),
                        undamaged=int(np.count_nonzero(untouched)))


def pooled(parts: Iterable[RegionScores]) -> RegionScores:
    total = RegionScores()
    for part in parts:
        total.add(part)
    return total
