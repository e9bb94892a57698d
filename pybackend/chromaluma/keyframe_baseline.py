"""A classical keyframe baseline: colour carried from painted keyframes along optical flow, then a luma-guided filter.

What a restorer can do today without a learned model when a few frames of a shot have been painted:

1. dense optical flow from the frame's Rec.709 luma to the keyframe's and back, with a forward-backward check, so
   every frame pixel knows where it lies in the keyframe: DIS (:func:`chromaluma.align.keyframe_flow.
   moved_keyframes`, the motion the keyframe kind's backend uses; the default) or Farneback
   (:func:`chromaluma.metrics.consistent_flow`, `flow="farneback"`, what this baseline used first);
2. the keyframe's colour differences Cb = B − Y and Cr = R − Y sampled there (bicubic with DIS, bilinear with
   Farneback);
3. each sample weighted by how far it can be trusted: the flow's forward-backward check, how well the warped
   keyframe luma matches the frame's own luma, and (with two keyframes) the keyframe's distance in frames;
4. a weighted guided filter (He et al. 2013, box filters) on the frame's luma: locally chroma = a·Y + b, fitted on
   the trusted samples, so the colour follows the frame's own edges and fills what the flow could not carry
   (occlusions, pixels that came into view) from the trusted neighbourhood; each pixel keeps its own carried
   chroma as far as it is trusted (a trusted sample is already where it belongs; smoothing it only blurs colour
   detail the luma does not show);
5. R, G, B rebuilt from the frame's luma and that chroma, the chroma scaled towards grey where the colour would
   leave 0–1: output luma is the frame's luma exactly, alpha is copied.

Frames are float HWC RGB or RGBA, display-referred 0–1, the keyframes registered onto the frame's geometry (same
height and width). No fitting: the keyframes are the only input besides the frame.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chromaluma.contract import LUMA_WEIGHTS
from chromaluma.errors import PairMismatchError, ParameterError

log = logging.getLogger(__name__)
WEIGHT_FLOOR = 1e-3  # an untrusted sample still counts a little: a box with no trusted sample keeps the warp


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """Rec.709 luma of float RGB(A) pixels (float64, extra channels ignored)."""
    return rgb[..., :3].astype(np.float64) @ np.array(LUMA_WEIGHTS, dtype=np.float64)


def colour_differences(rgb: np.ndarray) -> np.ndarray:
    """(Cb, Cr) = (B − Y, R − Y) of float RGB(A) pixels, as an [H, W, 2] float64 array."""
    luma = luma_of(rgb)
    return np.stack([rgb[..., 2] - luma, rgb[..., 0] - luma], axis=-1).astype(np.float64)


def rgb_from_luma_chroma(luma: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """RGB with Rec.709 luma `luma` exactly and colour differences (Cb, Cr) = `chroma`, the chroma scaled towards
    grey per pixel where a channel would leave 0–1 (the scaled difference still has zero luma, so luma is kept)."""
    wr, wg, wb = LUMA_WEIGHTS
    cb, cr = chroma[..., 0], chroma[..., 1]
    difference = np.stack([cr, -(wr * cr + wb * cb) / wg, cb], axis=-1)
    level = np.clip(luma, 0.0, 1.0)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(difference > 0, (1.0 - level) / difference, np.where(difference < 0, -level / difference,
                                                                             np.inf))
    scale = np.clip(np.min(room, axis=-1, keepdims=True), 0.0, 1.0)
    return (luma[..., None] + scale * difference).astype(np.float32)


def _box(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)² box around each pixel, per channel (edges reflected)."""
    import cv2

    size = 2 * radius + 1
    return cv2.boxFilter(values, -1, (size, size), normalize=True, borderType=cv2.BORDER_REFLECT)


def weighted_guided_filter(guide: np.ndarray, values: np.ndarray, weights: np.ndarray, radius: int,
                           eps: float) -> np.ndarray:
    """He et al.'s guided filter of `values` [H, W, C] on `guide` [H, W], each sample weighted by `weights` [H, W]:
    per box, values ≈ a·guide + b by weighted least squares (a shrunk by `eps`); a and b averaged over the boxes
    covering each pixel and applied to the guide there."""
    w = weights[..., None]
    guide3 = guide[..., None]
    total = _box(weights, radius)[..., None]
    mean_guide = _box(weights * guide, radius)[..., None] / total
    mean_values = _box(w * values, radius).reshape(values.shape) / total
    covariance = _box(w * guide3 * values, radius).reshape(values.shape) / total - mean_guide * mean_values
    variance = _box(weights * guide * guide, radius)[..., None] / total - mean_guide * mean_guide
    slope = covariance / (np.maximum(variance, 0.0) + eps)
    offset = mean_values - slope * mean_guide
    mean_slope = _box(slope, radius).reshape(values.shape)
    mean_offset = _box(offset, radius).reshape(values.shape)
    return mean_slope * guide3 + mean_offset


FLOWS = ("dis", "farneback")


@dataclass(frozen=True)
class FlowPropagation:
    """Keyframe colour carried along optical flow and guided-filtered on the frame's luma (module docstring).

    `radius` is the guided filter's box radius in pixels (None: 8 px per 1080 lines of frame height, at least 2);
    `eps` its regularisation (luma² units: larger keeps chroma flatter across luma edges); `luma_sigma` how much a
    warped keyframe's luma may differ from the frame's before its sample is distrusted; `flow` the optical flow
    (:data:`FLOWS`).
    """

    name: str = "optical flow + guided filter (classical)"
    radius: int | None = None
    eps: float = 1e-3
    luma_sigma: float = 0.05
    flow: str = "dis"

    def __post_init__(self) -> None:
        if self.flow not in FLOWS:
            raise ParameterError(f"classical keyframe baseline: flow {self.flow!r}; choose one of {', '.join(FLOWS)}.")

    def carried(self, frame: np.ndarray, keyframe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The keyframe's (Cb, Cr) carried onto the frame along the flow, and each sample's trust (0–1)."""
        if self.flow == "farneback":
            from chromaluma.metrics import consistent_flow, warped_along

            flow, trusted = consistent_flow(frame, keyframe)
            chroma = warped_along(colour_differences(keyframe), flow)[0].astype(np.float64)
            luma_there = warped_along(luma_of(keyframe), flow)[0].astype(np.float64)
        else:
            from chromaluma.align.keyframe_flow import moved_keyframes

            moved = moved_keyframes(frame, [keyframe])[0]
            chroma, luma_there, trusted = colour_differences(moved), luma_of(moved), moved[..., 3] > 0.0
        agreement = np.exp(-0.5 * ((luma_of(frame) - luma_there) / self.luma_sigma) ** 2)
        return chroma, np.where(trusted, agreement, 0.0)

    def propagate(self, frame: np.ndarray, keyframes: Sequence[np.ndarray],
                  distances: Sequence[int] | None = None) -> np.ndarray:
        """`frame` coloured from `keyframes` (one or two, registered onto it), weighted by 1 / (1 + |distance|)
        in frames where `distances` are given; the result has the frame's channels and its luma exactly."""
        frame = _checked(frame, "frame")
        keyframes = [_checked(k, f"keyframe {i}") for i, k in enumerate(keyframes)]
        _check_geometry(frame, keyframes, distances)
        chroma_sum = np.zeros((*frame.shape[:2], 2))
        weight_sum, trust_sum, nearness_sum = np.zeros(frame.shape[:2]), np.zeros(frame.shape[:2]), 0.0
        done: list[tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]] = []
        for index, keyframe in enumerate(keyframes):
            # the same keyframe twice (one side of a shot has none) is carried once
            earlier = next((c for k, c in done if k is keyframe or np.array_equal(k, keyframe)), None)
            chroma, trust = earlier if earlier is not None else self.carried(frame, keyframe)
            done.append((keyframe, (chroma, trust)))
            nearness = 1.0 if distances is None else 1.0 / (1.0 + abs(distances[index]))
            weight = nearness * (trust + WEIGHT_FLOOR)
            chroma_sum += weight[..., None] * chroma
            weight_sum += weight
            trust_sum += nearness * trust
            nearness_sum += nearness
        chroma = chroma_sum / weight_sum[..., None]
        trust = (trust_sum / nearness_sum)[..., None]
        luma = luma_of(frame)
        radius = self.radius if self.radius is not None else max(2, round(8 * frame.shape[0] / 1080))
        filtered = weighted_guided_filter(luma, chroma, weight_sum, radius, self.eps)
        rgb = rgb_from_luma_chroma(luma, trust * chroma + (1.0 - trust) * filtered)
        return rgb if frame.shape[-1] == 3 else np.concatenate([rgb, frame[..., 3:]], axis=-1).astype(np.float32)


def _checked(image: np.ndarray, what: str) -> np.ndarray:
    """`image` as float32 HWC with 3 or 4 channels, non-finite samples set to 0 (as process() treats them)."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] not in (3, 4) or min(array.shape[:2]) < 1:
        raise ParameterError(f"classical keyframe baseline: {what} has shape {array.shape}; give an H×W×3 (RGB) or "
                             "H×W×4 (RGBA) float frame.")
    return np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def _check_geometry(frame: np.ndarray, keyframes: Sequence[np.ndarray], distances: Sequence[int] | None) -> None:
    if not keyframes:
        raise ParameterError("classical keyframe baseline: no keyframe given; give the painted keyframe(s) of the "
                             "frame's shot, registered onto the scan.")
    for index, keyframe in enumerate(keyframes):
        if keyframe.shape[:2] != frame.shape[:2]:
            raise PairMismatchError(f"classical keyframe baseline: keyframe {index} is {keyframe.shape[1]}x"
                                    f"{keyframe.shape[0]}, the frame {frame.shape[1]}x{frame.shape[0]}; register "
                                    "the keyframe onto the scan's geometry first (chromaluma.keyframes).")
    if distances is not None and len(distances) != len(keyframes):
        raise ParameterError(f"classical keyframe baseline: {len(distances)} distances for {len(keyframes)} "
                             "keyframes; give one distance in frames per keyframe, or none.")
