"""Classical damage repair: what a restorer does today about dust, dirt, hairs, sparkle and scratches without a model.

- :func:`spike_matte` — the spike-detection index (SDI) in its rank-ordered form (ROD; Kokaram, Nadenau & Mitra):
  dust and dirt sit on one frame only, so a pixel of the centre frame is damage where it lies outside the range of
  every motion-compensated neighbour frame by more than a threshold (all differences of one sign). Motion is
  compensated with OpenCV's DIS optical flow from the centre frame to each neighbour; without it a moving
  object's texture is taken for damage. Persistent scratches are invisible to it (they are in the neighbours too).
- :class:`SpikeDetectionRepair` — that matte filled with the per-pixel median of the motion-compensated neighbours
  (the centre frame excluded): Resolve's Dust Buster patches from ±2 frames the same way.
- :class:`ThresholdInpaintRepair` — a spatial detector (|luma − median-filtered luma| above a threshold, both
  polarities, plus a vertical-line test for scratches) and OpenCV's Telea inpainting inside the matte: what a
  restorer can do on a single frame.

Frames are float HWC RGB or RGBA, display-referred 0–1, all of one shot and one size; a window holds the centre
frame and its neighbours in time order (a shot edge may repeat the edge frame: a neighbour identical to the centre
frame carries no evidence and is skipped). Mattes are float32 H×W, 1 = damage. Both repairs return the centre
frame with only the matte's pixels replaced: every pixel outside the matte, and alpha everywhere, is bit-exact.
Each repair's thresholds can be picked on a training shot with its `tune(windows, centres, truths)`, which
minimises the squared error of the repaired frames against the clean truths (the fairest setting for the baseline).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import cv2
import numpy as np

from chromaluma.align.neighbours import flow_sampling, same_frame, shot_flows
from chromaluma.contract import LUMA_WEIGHTS
from chromaluma.errors import PairMismatchError, ParameterError

log = logging.getLogger(__name__)
REC709 = np.array(LUMA_WEIGHTS, dtype=np.float32)
SPIKE_THRESHOLD = 0.06
GROWTH_STEPS = 2  # px a detected spike grows into its soft edge (pixels that spike by at least half the threshold)
SPIKE_THRESHOLDS = (0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3)
MEDIAN_SIZES = (7, 11, 15)  # px: a defect is found whole where it covers less than half of the median's window
LINE_TEXTURE_WEIGHT = 2.0  # a column's peak counts above twice the mean peak of the columns around it
TEXTURE_WEIGHTS = (0.0, 1.0, 2.0, 3.0, 4.0)
SCRATCH_THRESHOLDS = (0.02, 0.03, 0.04, 0.06, 0.08, 0.12, 1.0)  # 1.0: no scratch test at all
# The line test (the repair model's too, chromaluma.models.repair): a vertical scratch stays put in the frame while
# the picture moves past it, so the frame has a thin vertical line its compensated neighbours do not have there.
LINE_ROWS = 127  # rows a line's contrast is averaged down (a scratch runs down the frame; picture lines rarely do)
LINE_SIDE = 4  # px either side of a pixel where the picture beside a line is read
LINE_CLAMP = 0.08  # luma: a row counts at most this much (a speck on the line is no scratch)
LINE_THRESHOLD = 0.012


# --- checks -------------------------------------------------------------------------------------------------------

def checked_window(window: Sequence[np.ndarray], centre: int, what: str = "damage baseline") -> list[np.ndarray]:
    """The window's frames as float arrays after checking shapes, sizes and `centre` (one-line errors)."""
    if isinstance(window, np.ndarray) and window.ndim == 4:
        window = list(window)
    if not isinstance(window, Sequence) or len(window) < 2:
        count = len(window) if isinstance(window, Sequence) else type(window).__name__
        raise ParameterError(f"{what}: window has {count} frames; give the centre frame and at least one "
                             "neighbour frame of the same shot (e.g. frames t-2…t+2).")
    if isinstance(centre, bool) or not isinstance(centre, (int, np.integer)) or not 0 <= centre < len(window):
        raise ParameterError(f"{what}: centre {centre!r} is not a frame of the {len(window)}-frame window; give the "
                             f"index of the frame to repair, 0…{len(window) - 1}.")
    frames = []
    for index, frame in enumerate(window):
        array = np.asarray(frame)
        if array.ndim != 3 or array.shape[-1] not in (3, 4) or min(array.shape[:2]) < 1:
            raise ParameterError(f"{what}: window frame {index} has shape {array.shape}; give H×W×3 (RGB) or H×W×4 "
                                 "(RGBA) float frames.")
        if not np.issubdtype(array.dtype, np.floating):
            raise ParameterError(f"{what}: window frame {index} is {array.dtype}; give float frames in 0–1 "
                                 "(divide integer scans by their maximum code value).")
        frames.append(array)
    height, width = frames[centre].shape[:2]
    for index, array in enumerate(frames):
        if array.shape[:2] != (height, width):
            raise PairMismatchError(f"{what}: window frame {index} is {array.shape[1]}x{array.shape[0]}, the centre "
                                    f"frame {width}x{height}; give frames of one shot, all the same size.")
    return frames


def _checked_threshold(value: float, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 < value <= 1.0:
        raise ParameterError(f"{what}: {name} {value!r} is not a number in (0, 1]; give a luma difference such "
                             "as 0.06.")
    return float(value)


def _rgb(frame: np.ndarray) -> np.ndarray:
    """The frame's RGB as contiguous float32, non-finite samples read as 0 (NaN, −inf) or 1 (+inf)."""
    rgb = np.ascontiguousarray(frame[..., :3], dtype=np.float32)
    if not np.isfinite(rgb).all():
        rgb = np.nan_to_num(rgb, nan=0.0, posinf=1.0, neginf=0.0)
    return rgb


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Rec.709 luma (float32 H×W) of float32 RGB."""
    return rgb @ REC709


def _replaced(frame: np.ndarray, matte: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """A copy of `frame` (its dtype) with RGB replaced by `fill` (N×3, the matte's pixels in row order) inside the
    matte; everything else, alpha included, keeps its bits."""
    result = np.array(frame, copy=True)
    if fill.size:
        rgb = result[..., :3]
        rgb[matte] = fill.astype(result.dtype)
    return result


# --- spike detection (SDI / ROD) ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CompensatedWindow:
    """The centre frame's `luma` (H×W) and each neighbour warped onto it: `neighbour_luma` K×H×W, float32; the
    neighbours' RGB `sources` and the sampling `maps` (x, y per centre pixel; None: the same pixel) that warp them,
    so a fill samples only the pixels it needs."""

    luma: np.ndarray
    neighbour_luma: np.ndarray
    sources: list[np.ndarray]
    maps: list[tuple[np.ndarray, np.ndarray] | None]

    def samples(self, matte: np.ndarray) -> np.ndarray:
        """Each warped neighbour's RGB at the matte's pixels (K×N×3, row order; cubic, edges repeated)."""
        count = int(np.count_nonzero(matte))
        samples = [np.zeros((count, 3), np.float32)]  # no neighbour at all: a matte that is empty anyway
        for source, sampling in zip(self.sources, self.maps, strict=True):
            if sampling is None or not count:
                samples.append(source[matte])
                continue
            at_x, at_y = (np.ascontiguousarray(m[matte][:, None]) for m in sampling)
            samples.append(cv2.remap(source, at_x, at_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
                           .reshape(-1, 3))
        return np.stack(samples[1:] if self.sources else samples)


def compensate(window: Sequence[np.ndarray], centre: int, flow: bool = True) -> CompensatedWindow:
    """Each neighbour of `window[centre]` warped onto the centre frame along its flow (cubic; or as it is, when
    `flow` is False). Neighbours identical to the centre frame (a repeated shot-edge frame) are left out."""
    frames = checked_window(window, centre)
    centre_frame = frames[centre]
    luma = _luma(_rgb(centre_frame))
    height, width = luma.shape
    sources = [_rgb(frame) for index, frame in enumerate(frames)
               if index != centre and not same_frame(frame, centre_frame)]
    neighbour_luma = [_luma(rgb) for rgb in sources]
    maps = [flow_sampling(flow) for flow in shot_flows(luma, neighbour_luma)] if flow else [None] * len(sources)
    for index, sampling in enumerate(maps):
        if sampling is not None:
            neighbour_luma[index] = cv2.remap(neighbour_luma[index], *sampling, cv2.INTER_CUBIC,
                                              borderMode=cv2.BORDER_REPLICATE)
    if not sources:
        log.debug("spike detection: every neighbour repeats the centre frame; nothing can be detected")
    stacked = np.stack(neighbour_luma) if sources else np.zeros((0, height, width), np.float32)
    return CompensatedWindow(luma, stacked, sources, maps)


def spike_index(compensated: CompensatedWindow) -> np.ndarray:
    """How far each centre pixel lies outside the range of its compensated neighbours (luma, ≥ 0; 0 inside)."""
    if not len(compensated.neighbour_luma):
        return np.zeros_like(compensated.luma)
    above = compensated.luma - compensated.neighbour_luma.max(axis=0)
    below = compensated.neighbour_luma.min(axis=0) - compensated.luma
    return np.maximum(np.maximum(above, below), 0.0)


def line_contrast(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How much each pixel of `luma` (H×W) is a bright and a dark thin vertical line: its luma above (below) the
    picture LINE_SIDE px either side (a 3 px mean), the smaller of the two, clamped to ±LINE_CLAMP and averaged down
    LINE_ROWS rows (fewer at the top and bottom); two float32 H×W."""
    padded = np.pad(luma, ((0, 0), (1, 1)), mode="edge")
    beside = (padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]) / np.float32(3.0)
    beside = np.pad(beside, ((0, 0), (LINE_SIDE, LINE_SIDE)), mode="edge")
    left, right = beside[:, :-2 * LINE_SIDE], beside[:, 2 * LINE_SIDE:]
    bright = np.clip(np.minimum(luma - left, luma - right), -LINE_CLAMP, LINE_CLAMP)
    dark = np.clip(np.minimum(left - luma, right - luma), -LINE_CLAMP, LINE_CLAMP)
    return _column_mean(bright, LINE_ROWS), _column_mean(dark, LINE_ROWS)


def _column_mean(values: np.ndarray, rows: int) -> np.ndarray:
    """The mean of `values` (H×W) down `rows` rows centred on each pixel, the window shrunk at the top and bottom."""
    sums = np.concatenate([np.zeros_like(values[:1], dtype=np.float64), np.cumsum(values, axis=0, dtype=np.float64)])
    height, half = values.shape[0], rows // 2
    top = np.clip(np.arange(height) - half, 0, height)
    bottom = np.clip(np.arange(height) + half + 1, 0, height)
    return ((sums[bottom] - sums[top]) / (bottom - top)[:, None]).astype(np.float32)


def grown_matte(strength: np.ndarray, threshold: float, steps: int = GROWTH_STEPS) -> np.ndarray:
    """Pixels whose `strength` exceeds `threshold`, grown by up to `steps` px into pixels above half of it (the
    defect's soft edge), then dilated by 1 px; bool H×W."""
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    matte = (strength > threshold).astype(np.uint8)
    if matte.any():
        edge = (strength > 0.5 * threshold).astype(np.uint8)
        for _ in range(steps):
            matte = cv2.dilate(matte, cross) & edge | matte
        matte = cv2.dilate(matte, np.ones((3, 3), np.uint8))
    return matte.astype(bool)


def spike_matte(window: Sequence[np.ndarray], centre: int, threshold: float = SPIKE_THRESHOLD,
                flow: bool = True) -> np.ndarray:
    """The SDI/ROD damage matte of `window[centre]` (float32 H×W, 1 = damage): where the centre frame's luma lies
    outside the range of every motion-compensated neighbour by more than `threshold`, grown into the defect's soft
    edge and dilated by 1 px. `flow` False compares the neighbours as they are (no motion compensation)."""
    threshold = _checked_threshold(threshold, "threshold", "spike_matte")
    return grown_matte(spike_index(compensate(window, centre, flow)), threshold).astype(np.float32)


def _median_fill(compensated: CompensatedWindow, matte: np.ndarray) -> np.ndarray:
    """Per-pixel median of the compensated neighbours' RGB at the matte's pixels (N×3, row order)."""
    return np.median(compensated.samples(matte), axis=0)


@dataclass(frozen=True)
class SpikeDetectionRepair:
    """SDI/ROD detection (:func:`spike_matte`) filled with the motion-compensated temporal median."""

    name: ClassVar[str] = "SDI/ROD + motion-compensated median"
    threshold: float = SPIKE_THRESHOLD
    flow: bool = True

    def repair(self, window: Sequence[np.ndarray], centre: int) -> tuple[np.ndarray, np.ndarray]:
        """(repaired centre frame, matte float32 H×W); pixels outside the matte and alpha are bit-exact."""
        threshold = _checked_threshold(self.threshold, "threshold", self.name)
        compensated = compensate(window, centre, self.flow)
        return self._repaired(np.asarray(window[centre]), compensated, threshold)

    @staticmethod
    def _repaired(frame: np.ndarray, compensated: CompensatedWindow,
                  threshold: float) -> tuple[np.ndarray, np.ndarray]:
        matte = grown_matte(spike_index(compensated), threshold)
        if not compensated.sources:
            matte[:] = False
        return _replaced(frame, matte, _median_fill(compensated, matte)), matte.astype(np.float32)

    @classmethod
    def tune(cls, windows: Sequence[Sequence[np.ndarray]], centres: Sequence[int], truths: Sequence[np.ndarray],
             thresholds: Sequence[float] = SPIKE_THRESHOLDS, flow: bool = True) -> SpikeDetectionRepair:
        """The repair whose threshold gives the least squared error against the clean `truths` (one per window)."""
        _check_training(windows, centres, truths, cls.name)
        compensated = [compensate(w, c, flow) for w, c in zip(windows, centres, strict=True)]
        errors = {t: sum(_squared_error(cls._repaired(np.asarray(w[c]), comp, t)[0], truth)
                         for w, c, comp, truth in zip(windows, centres, compensated, truths, strict=True))
                  for t in thresholds}
        best = min(errors, key=errors.__getitem__)
        log.info("%s: threshold %.3f picked on %d training frames", cls.name, best, len(windows))
        return cls(threshold=best, flow=flow)


# --- spatial threshold detection and inpainting ------------------------------------------------------------------

@dataclass(frozen=True)
class SpatialResiduals:
    """What the spatial detector measures on one frame, all float32 H×W: `speck` |luma − median|, `texture` the
    mean of `speck` over the ring around each pixel; `bright`/`dark` each pixel's thin-vertical-line strength
    (horizontal top-hat / black-hat) and `bright_line`/`dark_line` the same measured on luma averaged down the
    column first (texture averages out there, a scratch does not)."""

    speck: np.ndarray
    texture: np.ndarray
    bright: np.ndarray
    dark: np.ndarray
    bright_line: np.ndarray
    dark_line: np.ndarray


@dataclass(frozen=True)
class ThresholdInpaintRepair:
    """A spatial damage detector on one frame and Telea inpainting (OpenCV) inside its matte.

    Specks, dirt, hairs, sparkle: r = |luma − median_blur(luma, `median_size`)| (both polarities) and
    r − `texture_weight` · (mean r over the ring between the `median_size`² and `texture_size`² boxes around the
    pixel) > `threshold`: fine picture texture
    leaves a residual all around, a defect stands out from its surroundings.
    Scratches: the horizontal top-hat (black-hat) over `scratch_width` px of luma averaged over `scratch_length`
    rows (None: a third of the frame height) stands out by more than `scratch_threshold` from the same measure on
    the columns around it (a scratch runs down the frame; a speck or texture averages out), and the pixel's own
    top-hat (black-hat) is at least half of that. `scratch_threshold` 1.0 turns the test off.
    """

    name: ClassVar[str] = "threshold + spatial inpainting"
    threshold: float = 0.1
    scratch_threshold: float = 0.06
    texture_weight: float = 3.0
    median_size: int = 11
    texture_size: int = 15
    scratch_width: int = 7
    scratch_length: int | None = None
    inpaint_radius: float = 3.0

    def residuals(self, frame: np.ndarray) -> SpatialResiduals:
        luma = _luma(_rgb(frame))
        code = np.clip(np.rint(luma * 255.0), 0, 255).astype(np.uint8)
        # an 8-bit median (OpenCV's only depth for apertures above 5) is a background estimate, quantised 1/255
        background = cv2.medianBlur(code, self.median_size).astype(np.float32) / 255.0
        speck = np.abs(luma - background)
        texture = _ring_mean(speck, self.texture_size, self.median_size)
        bar = cv2.getStructuringElement(cv2.MORPH_RECT, (self.scratch_width, 1))
        length = self.scratch_length or max(3, luma.shape[0] // 3) | 1
        column = cv2.blur(luma, (1, length), borderType=cv2.BORDER_REFLECT)
        bright, dark = (cv2.morphologyEx(luma, operation, bar) for operation in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT))
        lines = []
        for operation in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT):
            line = cv2.morphologyEx(column, operation, bar)
            # a scratch is one peak in the column profile; vertical picture texture makes many side by side
            lines.append(line - LINE_TEXTURE_WEIGHT * cv2.blur(line, (self.texture_size, 1),
                                                               borderType=cv2.BORDER_REFLECT))
        return SpatialResiduals(speck, texture, bright, dark, *lines)

    def matte(self, frame: np.ndarray) -> np.ndarray:
        """The damage matte of one frame (float32 H×W, 1 = damage)."""
        self._check()
        return self._matte(self.residuals(checked_window([frame, frame], 0, self.name)[0])).astype(np.float32)

    def _matte(self, residuals: SpatialResiduals) -> np.ndarray:
        matte = grown_matte(residuals.speck - self.texture_weight * residuals.texture, self.threshold)
        if self.scratch_threshold < 1.0:
            matte |= self._scratches(residuals.bright, residuals.bright_line)
            matte |= self._scratches(residuals.dark, residuals.dark_line)
        return matte

    def _scratches(self, strength: np.ndarray, line: np.ndarray) -> np.ndarray:
        """Pixels of a thin vertical line: strong on the column average (`line`) and at least half as strong on
        the pixel itself, widened by 1 px into the line's soft edge."""
        scratch = ((line > self.scratch_threshold) & (strength > 0.5 * self.scratch_threshold)).astype(np.uint8)
        if not scratch.any():
            return scratch.astype(bool)
        edge = (strength > 0.25 * self.scratch_threshold).astype(np.uint8)
        return (cv2.dilate(scratch, np.ones((1, 3), np.uint8)) & edge | scratch).astype(bool)

    def repair(self, window: Sequence[np.ndarray], centre: int) -> tuple[np.ndarray, np.ndarray]:
        """(repaired centre frame, matte float32 H×W); only `window[centre]` is used. Pixels outside the matte and
        alpha are bit-exact."""
        self._check()
        frame = checked_window(window, centre, self.name)[centre]
        return self._repaired(frame, self.residuals(frame))

    def _repaired(self, frame: np.ndarray, residuals: SpatialResiduals) -> tuple[np.ndarray, np.ndarray]:
        matte = self._matte(residuals)
        fill = np.zeros((0, 3), np.float32)
        if matte.any():
            fill = _telea(_rgb(frame), matte, self.inpaint_radius)[matte]
        return _replaced(frame, matte, fill), matte.astype(np.float32)

    def _check(self) -> None:
        _checked_threshold(self.threshold, "threshold", self.name)
        _checked_threshold(self.scratch_threshold, "scratch_threshold", self.name)
        if isinstance(self.texture_weight, bool) or not 0.0 <= self.texture_weight < 100.0:
            raise ParameterError(f"{self.name}: texture_weight {self.texture_weight!r} is not a number ≥ 0; give e.g. "
                                 "2 (0 ignores the surrounding texture).")
        for name in ("median_size", "texture_size", "scratch_width", "scratch_length"):
            value = getattr(self, name)
            if value is None and name == "scratch_length":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 3 or value % 2 == 0:
                raise ParameterError(f"{self.name}: {name} {value!r} is not an odd whole number of pixels ≥ 3; give "
                                     "e.g. 7.")

    @classmethod
    def tune(cls, windows: Sequence[Sequence[np.ndarray]], centres: Sequence[int], truths: Sequence[np.ndarray],
             thresholds: Sequence[float] = SPIKE_THRESHOLDS,
             scratch_thresholds: Sequence[float] = SCRATCH_THRESHOLDS,
             texture_weights: Sequence[float] = TEXTURE_WEIGHTS,
             median_sizes: Sequence[int] = MEDIAN_SIZES) -> ThresholdInpaintRepair:
        """The repair whose settings give the least squared error against the clean `truths` (one per window), one
        setting at a time: the speck threshold (no scratch test), the texture weight, the median size, the speck
        threshold again, then the scratch threshold."""
        _check_training(windows, centres, truths, cls.name)
        frames = [checked_window(w, c, cls.name)[c] for w, c in zip(windows, centres, strict=True)]
        measured: dict[tuple[int, int, int, int | None], list[SpatialResiduals]] = {}

        def error(candidate: ThresholdInpaintRepair) -> float:
            key = (candidate.median_size, candidate.texture_size, candidate.scratch_width, candidate.scratch_length)
            if key not in measured:
                measured[key] = [candidate.residuals(frame) for frame in frames]
            return sum(_squared_error(candidate._repaired(frame, r)[0], truth)
                       for frame, r, truth in zip(frames, measured[key], truths, strict=True))

        best = min((cls(threshold=t, scratch_threshold=1.0) for t in thresholds), key=error)
        best = min((replace(best, texture_weight=w) for w in texture_weights), key=error)
        best = min((replace(best, median_size=m) for m in median_sizes), key=error)
        best = min((replace(best, threshold=t) for t in thresholds), key=error)
        best = min((replace(best, scratch_threshold=s) for s in scratch_thresholds), key=error)
        log.info("%s: threshold %.3f, texture weight %.1f, scratch threshold %.3f picked on %d training frames",
                 cls.name, best.threshold, best.texture_weight, best.scratch_threshold, len(windows))
        return best


def _ring_mean(values: np.ndarray, outer: int, inner: int) -> np.ndarray:
    """Mean of `values` over the ring between the inner² and outer² boxes around each pixel: the surroundings of a
    defect the size of the inner box, without the defect itself (its own residual must not hide it)."""
    inner = min(inner, outer - 2)
    outer_sum = cv2.blur(values, (outer, outer), borderType=cv2.BORDER_REFLECT) * np.float32(outer * outer)
    inner_sum = cv2.blur(values, (inner, inner), borderType=cv2.BORDER_REFLECT) * np.float32(inner * inner)
    return np.maximum(outer_sum - inner_sum, 0.0) / np.float32(outer * outer - inner * inner)


def _telea(rgb: np.ndarray, hole: np.ndarray, radius: float) -> np.ndarray:
    """Telea inpainting of each channel inside `hole` (float32 H×W×3). Each channel goes through 16 bits: OpenCV's
    float Telea returns values far outside the neighbours' range on holes wider than a pixel."""
    mask = hole.astype(np.uint8)
    channels = [cv2.inpaint(np.rint(np.clip(rgb[..., i], 0.0, 1.0) * 65535.0).astype(np.uint16), mask, radius,
                            cv2.INPAINT_TELEA) for i in range(3)]
    return np.stack(channels, axis=-1).astype(np.float32) / np.float32(65535.0)


def _squared_error(frame: np.ndarray, truth: np.ndarray) -> float:
    difference = _rgb(frame).astype(np.float64) - np.asarray(truth)[..., :3]
    return float(np.sum(difference * difference))


def _check_training(windows: Sequence, centres: Sequence[int], truths: Sequence[np.ndarray], what: str) -> None:
    if not len(windows) or len(windows) != len(centres) or len(windows) != len(truths):
        raise ParameterError(f"{what} tune: {len(windows)} windows, {len(centres)} centres and {len(truths)} clean "
                             "truths; give one centre and one clean frame per window, at least one window.")
    for index, (window, centre, truth) in enumerate(zip(windows, centres, truths, strict=True)):
        frame = checked_window(window, centre, f"{what} tune")[centre]
        if np.asarray(truth).shape[:2] != frame.shape[:2] or np.asarray(truth).ndim != 3:
            raise PairMismatchError(f"{what} tune: clean truth {index} has shape {np.asarray(truth).shape}, its "
                                    f"frame {frame.shape}; give the undamaged frame, the same size.")
