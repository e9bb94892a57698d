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


def colour_truth(scan: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The reference's colour (Cb, Cr) on the scan's luma: the best a chroma model can do, since it keeps scan luma."""
    weights = np.asarray(LUMA_WEIGHTS, dtype=np.float32)
    return reference + ((scan[..., :3] @ weights) - (reference @ weights))[..., None]


def validation_scores(kind: str, results: list[np.ndarray], scans: list[np.ndarray], references: list[np.ndarray],
                      valids: list[np.ndarray]) -> dict[str, float]:
    """Scores over held-out frames, masked, frame scores averaged.

    luma: PSNR (dB) against the reference. pairs: ΔE2000 against the reference. chroma: ΔE2000 against the
    reference's colour on the scan's luma (`delta_e2000_*`, the colour error, which the model controls), and
    against the reference itself (`delta_e2000_reference_*`, which also counts the density difference between
    scan and reference that a chroma model keeps by design).
    """
    frames = list(zip(results, scans, references, valids, strict=True))
    if kind == "luma":
        return {"psnr_db": float(np.mean([psnr(r[v > 0.5], t[v > 0.5]) for r, _, t, v in frames]))}
    truths = [colour_truth(s, t) if kind == "chroma" else t for _, s, t, _ in frames]
    scores = [delta_e2000(r, truth, v) for (r, _, _, v), truth in zip(frames, truths, strict=True)]
    result = {"delta_e2000_mean": float(np.mean([x.mean for x in scores])),
              "delta_e2000_p95": float(np.mean([x.p95 for x in scores]))}
    if kind == "chroma":
        raw = [delta_e2000(r, t, v) for r, _, t, v in frames]
        result["delta_e2000_reference_mean"] = float(np.mean([x.mean for x in raw]))
        result["delta_e2000_reference_p95"] = float(np.mean([x.p95 for x in raw]))
    return result


def headline(kind: str) -> str:
    """The validation number the progress bar shows."""
    return "psnr_db" if kind == "luma" else "delta_e2000_mean"
