"""Quality measures restorers and archivists quote: CIEDE2000 colour difference, PSNR, SSIM.

Frames are float32 HWC RGB (extra channels ignored). ΔE2000 assumes display-referred sRGB-encoded values in 0–1,
which is what `--colorspace display` declares; for other encodings the number is indicative only.
"""

from __future__ import annotations

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
