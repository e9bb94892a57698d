"""How well a model's confidence ranks its error: the numbers behind the `confidence` benchmark area.

- :func:`auroc`: the area under the ROC curve of a score separating positives from negatives (the Mann–Whitney
  statistic, ties counted half). The benchmark's question is "does low confidence mark the pixels whose error is
  above the median error?": score = 1 − confidence, positive = error above the median. 0.5 = no better than chance,
  1 = every high-error pixel is less confident than every low-error one.
- The same question for the errors a restorer would see (:data:`VISIBLE_ERROR`): the median of a model whose error is
  mostly invisible (a keyframe model's carried colour) splits errors nobody can tell apart, so the AUROC of error
  above VISIBLE_ERROR is reported beside it, with the share of the visible errors the least confident tenth holds
  (:func:`visible_error_caught`; by chance a tenth).
- :func:`confidence_deciles`: mean error in each tenth of the pixels ordered by confidence (least confident first).
- :func:`lattice_ratio`: how much a plane's curvature sits on particular rows/columns of the model's grid — 1 for a
  plane with no trace of the grid; 2 for bilinear interpolation (its slope jumps on the rows and columns through the
  cell centres) and for nearest-neighbour blocks (steps at the cell borders): all curvature on 2 of the f phases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# exp(−sigma / scale): sigma = −scale · ln(confidence); the scale models are exported with (chromaluma.models.graph)
_CONFIDENCE_SCALE = 0.05
# mean |RGB error| of 1 % of the range (about 2.5 8-bit code values, near one ΔE2000 in mid-tones): the least error
# the benchmark takes a restorer to see
VISIBLE_ERROR = 0.01
_BINS = 10


def auroc(scores: np.ndarray, positives: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative) + ½ P(equal); NaN when either class is empty."""
    return _ranked_auroc(_midranks(np.asarray(scores, dtype=np.float64).ravel()), positives)


def _ranked_auroc(ranks: np.ndarray, positives: np.ndarray) -> float:
    """:func:`auroc` from the scores' :func:`_midranks` (one ranking serves several questions)."""
    positives = np.asarray(positives, dtype=bool).ravel()
    count_pos = int(positives.sum())
    count_neg = positives.size - count_pos
    if count_pos == 0 or count_neg == 0:
        return float("nan")
    rank_sum = float(ranks[positives].sum())
    return (rank_sum - count_pos * (count_pos + 1) / 2.0) / (count_pos * count_neg)


def _midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    stops = np.r_[starts[1:], ordered.size]
    mean_rank = (starts + stops + 1) / 2.0  # ranks starts+1 … stops, averaged
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, stops - starts)
    return ranks


@dataclass(frozen=True)
class Decile:
    """One tenth of the pixels by confidence: its confidence range, mean confidence and mean error."""

    low: float
    high: float
    mean_confidence: float
    mean_error: float
    pixels: int


def confidence_deciles(confidence: np.ndarray, error: np.ndarray, bins: int = _BINS) -> list[Decile]:
    """Pixels ordered by confidence (least confident first; equal confidences in their given order) split into
    `bins` groups of equal count (the first groups take one pixel more when the count does not divide)."""
    confidence = np.asarray(confidence, dtype=np.float64).ravel()
    error = np.asarray(error, dtype=np.float64).ravel()
    return _deciles(confidence, error, _confidence_groups(confidence, error, bins))


def _deciles(confidence: np.ndarray, error: np.ndarray, groups: list[np.ndarray]) -> list[Decile]:
    """:func:`confidence_deciles` from the groups of :func:`_confidence_groups`."""
    return [Decile(float(confidence[g].min()), float(confidence[g].max()), float(confidence[g].mean()),
                   float(error[g].mean()), int(g.size)) for g in groups if g.size]


def visible_error_caught(confidence: np.ndarray, error: np.ndarray, bins: int = _BINS) -> float:
    """The share of the pixels whose error is above VISIBLE_ERROR that lie in the least confident of `bins` groups
    (decile 1 of :func:`confidence_deciles`); NaN when no error is visible. A confidence that says nothing: 1/bins."""
    confidence = np.asarray(confidence, dtype=np.float64).ravel()
    visible = np.asarray(error, dtype=np.float64).ravel() > VISIBLE_ERROR
    return _caught(visible, _confidence_groups(confidence, visible, bins)[0])


def _caught(visible: np.ndarray, least: np.ndarray) -> float:
    """The share of the `visible` pixels among the indices `least`; NaN when none is visible."""
    return float(visible[least].sum() / visible.sum()) if visible.any() else float("nan")


def _confidence_groups(confidence: np.ndarray, error: np.ndarray, bins: int) -> list[np.ndarray]:
    """Pixel indices ordered by confidence (least confident first, ties in their given order) in `bins` groups."""
    if confidence.size != error.size:
        raise ValueError(f"confidence has {confidence.size} pixels, error {error.size}")
    return np.array_split(np.argsort(confidence, kind="stable"), bins)


def lattice_ratio(plane: np.ndarray, factor: int) -> float:
    """Mean |second difference| on the grid phase where it is largest over its mean across the `factor` phases,
    rows and columns averaged. `plane` (H, W) is aligned with the grid at its top-left (as frames are)."""
    plane = np.asarray(plane, dtype=np.float64)
    ratios = []
    for axis in (0, 1):
        curvature = np.abs(np.diff(plane, 2, axis=axis))
        curvature = curvature if axis == 1 else curvature.T
        # column j of the second difference is centred on pixel j + 1
        phases = np.array([curvature[:, (phase - 1) % factor::factor].mean() for phase in range(factor)])
        if phases.mean() > 0:
            ratios.append(float(phases.max() / phases.mean()))
    return float(np.mean(ratios)) if ratios else 1.0


def predicted_error(confidence: np.ndarray) -> np.ndarray:
    """The mean absolute error a confidence claims: sigma = −CONFIDENCE_SCALE · ln(confidence)."""
    return -_CONFIDENCE_SCALE * np.log(np.clip(np.asarray(confidence, dtype=np.float64), 1e-12, 1.0))


@dataclass
class ConfidenceSample:
    """Pixels of held-out frames of one model: their confidence and their measured error (0–1 units)."""

    confidence: list[np.ndarray] = field(default_factory=list)
    error: list[np.ndarray] = field(default_factory=list)
    frames: int = 0
    lattice: list[float] = field(default_factory=list)

    def add(self, confidence: np.ndarray, error: np.ndarray, valid: np.ndarray | None = None, factor: int = 1,
            stride: int = 1) -> None:
        """One frame's confidence and error planes (H, W); only `valid` pixels count, every `stride`-th of them."""
        keep = np.ones(confidence.shape, bool) if valid is None else valid.astype(bool)
        self.confidence.append(confidence[keep][::stride].astype(np.float32))
        self.error.append(error[keep][::stride].astype(np.float32))
        self.frames += 1
        if factor > 1:
            self.lattice.append(lattice_ratio(confidence, factor))

    def summary(self) -> dict[str, object]:
        """AUROC of error above the median and of visible error against 1 − confidence, the share of visible error
        in the least confident tenth, the decile table, and the mean error the confidence predicts against the one
        measured."""
        confidence = np.concatenate(self.confidence) if self.confidence else np.zeros(0, np.float32)
        error = np.concatenate(self.error) if self.error else np.zeros(0, np.float32)
        if error.size == 0:
            return {"frames": self.frames, "pixels": 0}
        high = error > np.median(error)
        visible = error > VISIBLE_ERROR
        # one ranking and one ordering of the pixels serve every figure (millions of pixels for a repair model)
        ranks = _midranks(np.asarray(1.0 - confidence, dtype=np.float64))
        wide_confidence, wide_error = confidence.astype(np.float64), error.astype(np.float64)
        groups = _confidence_groups(wide_confidence, wide_error, _BINS)
        deciles = _deciles(wide_confidence, wide_error, groups)
        return {"frames": self.frames, "pixels": int(error.size), "auroc": _ranked_auroc(ranks, high),
                "auroc_visible": _ranked_auroc(ranks, visible), "visible_share": float(visible.mean()),
                "visible_caught": _caught(visible, groups[0]),
                "median_error": float(np.median(error)), "mean_error": float(error.mean()),
                "mean_predicted_error": float(predicted_error(confidence).mean()),
                "lattice_ratio": float(np.mean(self.lattice)) if self.lattice else None,
                "deciles": [vars(d) for d in deciles]}
