"""What training minimises and how a run is scored: per-kind errors, the confidence head's likelihood, validation."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from chromaluma.metrics import delta_e2000, psnr
from chromaluma.models.colour import LUMA_WEIGHTS

# Weight of the confidence head's Laplace negative log-likelihood next to the colour error.
CONFIDENCE_WEIGHT = 0.05
_LUMA = torch.tensor(LUMA_WEIGHTS)


def pixel_error(kind: str, restored: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Absolute error per pixel [N, H, W] in what the kind may change: chroma (Cb, Cr), luma (Y), or RGB."""
    diff = restored[..., :3] - reference
    if kind == "pairs":
        return diff.abs().mean(dim=-1)
    luma_diff = diff @ _LUMA.to(diff)
    if kind == "luma":
        return luma_diff.abs()
    # chroma: Cb = B − Y and Cr = R − Y differences
    return 0.5 * ((diff[..., 2] - luma_diff).abs() + (diff[..., 0] - luma_diff).abs())


def training_loss(kind: str, model: nn.Module, scan: torch.Tensor, reference: torch.Tensor, valid: torch.Tensor
                  ) -> torch.Tensor:
    """Masked L1 on the kind's channels plus the confidence head's Laplace NLL (errors detached: the head learns
    to predict the error without reweighting the restoration)."""
    restored, log_sigma = model(scan)
    error = pixel_error(kind, restored.float(), reference)
    log_sigma_full = model.upsample(log_sigma.float(), scan)[..., 0]
    nll = error.detach() * torch.exp(-log_sigma_full) + log_sigma_full + math.log(2.0)
    weight = valid.sum().clamp(min=1.0)
    return ((error + CONFIDENCE_WEIGHT * nll) * valid).sum() / weight


@torch.no_grad()
def restore_frame(model: nn.Module, scan: np.ndarray, device: torch.device) -> np.ndarray:
    """Run the model on one whole RGBA frame (H×W×4) and return restored RGB."""
    restored, _ = model(torch.from_numpy(scan)[None].to(device))
    return restored[0, ..., :3].float().cpu().numpy()


def validation_scores(kind: str, results: list[np.ndarray], references: list[np.ndarray],
                      valids: list[np.ndarray]) -> dict[str, float]:
    """ΔE2000 (chroma, pairs) or PSNR (luma) over held-out frames, masked; frame scores averaged."""
    if kind == "luma":
        values = [psnr(r[v > 0.5], t[v > 0.5]) for r, t, v in zip(results, references, valids, strict=True)]
        return {"psnr_db": float(np.mean(values))}
    scores = [delta_e2000(r, t, v) for r, t, v in zip(results, references, valids, strict=True)]
    return {"delta_e2000_mean": float(np.mean([s.mean for s in scores])),
            "delta_e2000_p95": float(np.mean([s.p95 for s in scores]))}


def headline(kind: str) -> str:
    """The validation number the progress bar shows."""
    return "psnr_db" if kind == "luma" else "delta_e2000_mean"
