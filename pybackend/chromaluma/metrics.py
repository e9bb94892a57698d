"""Quality measures restorers and archivists quote: CIEDE2000 colour difference, PSNR, SSIM.

Frames are float32 HWC RGB (extra channels ignored). ΔE2000 assumes display-referred sRGB-encoded values in 0–1,
which is what `--colorspace display` declares; for other encodings the number is indicative only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chromaluma.contract import LUMA_WEIGHTS


@dataclass(frozen=True)
class DeltaE:
    """CIEDE2000 over the valid pixels: mean and 95th percentile."""

    mean: float
    p95: float


def delta_e2000(result: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> DeltaE:
    """ΔE2000 between two display-referred RGB frames; `mask` (HxW, >0.5 = valid) limits where it is measured."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    lab_result = rgb2lab(np.clip(result[..., :3], 0.0, 1.0).astype(np.float64))
    lab_truth = rgb2lab(np.clip(truth[..., :3], 0.0, 1.0).astype(np.float64))
    distances = deltaE_ciede2000(lab_result, lab_truth)
    if mask is not None:
        distances = distances[np.asarray(mask).reshape(distances.shape) > 0.5]
    if distances.size == 0:
        return DeltaE(float("nan"), float("nan"))
    return DeltaE(float(distances.mean()), float(np.percentile(distances, 95)))


def psnr(result: np.ndarray, truth: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over all channels given (identical frames → inf)."""
    mse = float(np.mean((result.astype(np.float64) - truth.astype(np.float64)) ** 2))
    return float("inf") if mse == 0.0 else 10.0 * np.log10(peak * peak / mse)


def ssim(result: np.ndarray, truth: np.ndarray) -> float:
    """Structural similarity of the Rec.709 luma of two frames (0–1 data range)."""
    from skimage.metrics import structural_similarity

    weights = np.array(LUMA_WEIGHTS, dtype=np.float64)
    luma_result = result[..., :3].astype(np.float64) @ weights if result.ndim == 3 else result.astype(np.float64)
    luma_truth = truth[..., :3].astype(np.float64) @ weights if truth.ndim == 3 else truth.astype(np.float64)
    return float(structural_similarity(luma_result, luma_truth, data_range=1.0))


# Temporal stability and grain (the temporal benchmark, `chromaluma.benchmarks.temporal`).


def mean_chroma(frames: Sequence[np.ndarray], mask: np.ndarray | None = None) -> np.ndarray:
    """Each frame's mean CIELAB (a*, b*) over the valid pixels (`mask` HxW, >0.5 = valid): an [N, 2] array."""
    from skimage.color import rgb2lab

    means = []
    for frame in frames:
        lab = rgb2lab(np.clip(frame[..., :3], 0.0, 1.0).astype(np.float64))
        chroma = lab[..., 1:] if mask is None else lab[np.asarray(mask).reshape(lab.shape[:2]) > 0.5][:, 1:]
        means.append(chroma.reshape(-1, 2).mean(axis=0))
    return np.array(means, dtype=np.float64).reshape(-1, 2)


def chroma_flicker(frames: Sequence[np.ndarray], mask: np.ndarray | None = None) -> float:
    """Frame-to-frame chroma flicker: mean distance between consecutive frames' mean CIELAB (a*, b*)."""
    return chroma_stability(frames, mask)[0]


def chroma_drift(frames: Sequence[np.ndarray], mask: np.ndarray | None = None) -> float:
    """Chroma drift along a shot: the largest distance of a frame's mean (a*, b*) from the shot's mean (a*, b*)."""
    return chroma_stability(frames, mask)[1]


def chroma_stability(frames: Sequence[np.ndarray], mask: np.ndarray | None = None,
                     truths: Sequence[np.ndarray] | None = None) -> tuple[float, float]:
    """(chroma flicker, chroma drift) of a shot, from one pass over its frames. With `truths` (one per frame),
    of each frame's mean (a*, b*) minus its truth's: what the output adds, where the scene's own colour moves
    (a pan); for a locked-off shot, whose truth is constant, the two are the same."""
    means = mean_chroma(frames, mask)
    if truths is not None:
        if len(truths) != len(frames):
            raise ValueError(f"{len(frames)} frames for {len(truths)} truth frames: give one truth per frame.")
        means = means - mean_chroma(truths, mask)
    return stability_of_means(means)


def stability_of_means(means: np.ndarray) -> tuple[float, float]:
    """(chroma flicker, chroma drift) of a shot's per-frame mean (a*, b*) [N, 2] (see :func:`chroma_stability`)."""
    if not len(means):
        return 0.0, 0.0
    flicker = float(np.linalg.norm(np.diff(means, axis=0), axis=1).mean()) if len(means) > 1 else 0.0
    return flicker, float(np.linalg.norm(means - means.mean(axis=0), axis=1).max())


def _luma8(frame: np.ndarray) -> np.ndarray:
    luma = frame[..., :3].astype(np.float64) @ np.array(LUMA_WEIGHTS, dtype=np.float64)
    return np.clip(luma * 255.0 + 0.5, 0, 255).astype(np.uint8)


def optical_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Dense flow [H, W, 2] (dx, dy) from `first` to `second` (Farneback on Rec.709 luma):
    first(y, x) ≈ second(y + dy, x + dx)."""
    import cv2

    return cv2.calcOpticalFlowFarneback(_luma8(first), _luma8(second), None, 0.5, 4, 15, 3, 5, 1.2, 0)


def warped_along(frame: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`frame` sampled at (x + dx, y + dy) of `flow` (bilinear, edges repeated; float32, `frame`'s shape), and where
    that position lies inside the frame."""
    import cv2

    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x, map_y = grid_x + flow[..., 0].astype(np.float32), grid_y + flow[..., 1].astype(np.float32)
    warped = cv2.remap(np.ascontiguousarray(frame, dtype=np.float32), map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return warped.reshape(frame.shape), inside


def consistent_flow(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flow from `first` to `second` and where it is trusted: inside the frame and forward-backward consistent
    (|fw + bw(x + fw)|² < 0.01·(|fw|² + |bw|²) + 0.5, Sundaram et al. 2010) — occluded pixels fail that test."""
    from chromaluma.align.neighbours import round_trip_consistent

    forward, backward = optical_flow(first, second), optical_flow(second, first)
    backward_at, inside = warped_along(backward, forward)
    return forward, inside & round_trip_consistent(forward, backward_at, 0.5)


def truth_flows(truths: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The trusted flow t → t+1 of each consecutive pair of truth frames (see :func:`consistent_flow`), computed
    once for every output scored against the same truth."""
    return [consistent_flow(truths[t], truths[t + 1]) for t in range(len(truths) - 1)]


def flow_temporal_error(outputs: Sequence[np.ndarray], truths: Sequence[np.ndarray],
                        mask: np.ndarray | None = None,
                        flows: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> float:
    """Flow-compensated temporal error: for each t, output t+1's CIELAB (a*, b*) warped onto t along the TRUTH's
    flow t → t+1, then the mean (a*, b*) distance to output t over the pixels where that flow is trusted (and `mask`).
    `flows` are :func:`truth_flows` of `truths`, when already computed.

    The truth's own frames score near 0 (only interpolation error): the floor of this measure.
    """
    from skimage.color import rgb2lab

    if len(outputs) != len(truths):
        raise ValueError(f"{len(outputs)} output frames for {len(truths)} truth frames: give one per truth frame.")
    flows = truth_flows(truths) if flows is None else flows
    # each output's (a*, b*) planes, once: warping them is the same as warping the colour, up to interpolation
    chroma = [rgb2lab(np.clip(frame[..., :3], 0.0, 1.0).astype(np.float64))[..., 1:].astype(np.float32)
              for frame in outputs]
    errors = []
    for t in range(len(truths) - 1):
        flow, valid = flows[t][0], flows[t][1].copy()
        if mask is not None:
            valid &= np.asarray(mask).reshape(valid.shape) > 0.5
        if not valid.any():
            continue
        there, _ = warped_along(chroma[t + 1], flow)
        errors.append(float(np.linalg.norm(chroma[t][valid] - there[valid], axis=1).mean()))
    return float(np.mean(errors)) if errors else float("nan")


def radial_power_spectrum(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of a 2-D plane: (frequency in cycles/pixel, 0 … 0.5; mean power)."""
    height, width = plane.shape
    spectrum = np.abs(np.fft.fft2(plane - plane.mean())) ** 2 / (height * width)
    fy, fx = np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")
    radius = np.hypot(fy, fx)
    bins = np.minimum((radius / 0.5 * (min(height, width) // 2)).astype(int), min(height, width) // 2)
    counts = np.bincount(bins.ravel())
    power = np.bincount(bins.ravel(), spectrum.ravel()) / np.maximum(counts, 1)
    frequency = np.arange(len(power)) * 0.5 / (min(height, width) // 2)
    keep = frequency <= 0.5
    return frequency[keep], power[keep]


def grain_power(frame: np.ndarray, sigma: float = 2.0, band: tuple[float, float] = (0.25, 0.5)) -> float:
    """Mean high-frequency power of a frame's grain and fine detail: the radially averaged power spectrum of
    (luma − its Gaussian blur of `sigma` px) over `band` (cycles/pixel)."""
    import cv2

    luma = frame[..., :3].astype(np.float64) @ np.array(LUMA_WEIGHTS, dtype=np.float64) if frame.ndim == 3 \
        else frame.astype(np.float64)
    residual = luma - cv2.GaussianBlur(luma, (0, 0), sigma)
    frequency, power = radial_power_spectrum(residual)
    chosen = (frequency >= band[0]) & (frequency <= band[1])
    return float(power[chosen].mean())


def grain_power_ratio(outputs: Sequence[np.ndarray], references: Sequence[np.ndarray], sigma: float = 2.0) -> float:
    """High-frequency (grain) power of `outputs` over that of `references` (e.g. a better print): 1 = the same
    grain; < 1 smoothed away, > 1 sharpened or noisier."""
    reference = sum(grain_power(frame, sigma) for frame in references)
    return float(sum(grain_power(frame, sigma) for frame in outputs) / reference) if reference > 0 else float("inf")
