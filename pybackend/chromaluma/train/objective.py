"""What training minimises and how a run is scored: per-kind errors, the confidence head's likelihood, validation."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from chromaluma.metrics import delta_e2000, psnr
from chromaluma.models.colour import LUMA_WEIGHTS
from chromaluma.models.density import colour_on_smooth_density
from chromaluma.models.kinds import ChromaModel, RestoredPlanes

# Weight of the confidence head's Laplace negative log-likelihood next to the colour error.
CONFIDENCE_WEIGHT = 0.05
# Repair: a pixel is damage for the matte's truth from this opacity on; damage pixels weigh this much more in the
# matte's loss than clean ones (they are rare); the fill's error inside damage weighs this much against the matte.
REPAIR_DAMAGE_FLOOR = 0.05
REPAIR_POSITIVE_WEIGHT = 4.0
REPAIR_FILL_WEIGHT = 4.0
_LUMA = torch.tensor(LUMA_WEIGHTS)


def density_of(model: nn.Module) -> str:
    """A model's density mode: `smooth` for chroma models that correct density, else `keep`."""
    return str(getattr(model, "density", "keep"))


def pixel_error(kind: str, restored: torch.Tensor, reference: torch.Tensor, density: str = "keep") -> torch.Tensor:
    """Absolute error per pixel [N, H, W] in what the kind may change: chroma (Cb, Cr), luma (Y), or RGB.

    A chroma model with smooth density also changes luma: its error adds |ΔY| against the reference's own luma
    (the target is the full reference; the detail its band-limited correction cannot follow is the same for every
    such model, so only the smooth part of the density difference is learnt).
    """
    if kind == "chroma":
        rgb = restored[..., :3]
        luma = rgb @ _LUMA.to(rgb)
        return chroma_plane_error(luma, rgb[..., 2] - luma, rgb[..., 0] - luma, reference, density)
    diff = restored[..., :3] - reference
    if kind == "pairs":
        return diff.abs().mean(dim=-1)
    return (diff @ _LUMA.to(diff)).abs()


def training_loss(kind: str, model: nn.Module, scan: torch.Tensor, reference: torch.Tensor, valid: torch.Tensor
                  ) -> torch.Tensor:
    """Masked L1 on the kind's channels plus the confidence head's Laplace NLL (errors detached: the head learns
    to predict the error without reweighting the restoration).

    Chroma models are measured on their luma and colour-difference planes (`restored_planes`), the same error
    as :func:`pixel_error` on their RGBA output at a lower cost; the other kinds on their output. `scan` is the
    model's input: [N, H, W, 4], or a window [N, T, H, W, 4] for a temporal-window model (reference and valid are
    the centre frame's).
    """
    return training_terms(kind, model, scan, reference, valid)[0]


def training_terms(kind: str, model: nn.Module, scan: torch.Tensor, reference: torch.Tensor, valid: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`training_loss` and, detached, its masked mean error alone: never negative (the NLL term can be), so
    it is what a run's trend is read from."""
    if isinstance(model, ChromaModel):
        planes = RestoredPlanes(*(plane.float() for plane in model.restored_planes(scan)))  # fp32 under CUDA AMP
        error = chroma_plane_error(planes.luma, planes.cb, planes.cr, reference, density_of(model))
        log_sigma_full = planes.log_sigma
    else:
        restored, log_sigma = model(scan)
        error = pixel_error(kind, restored.float(), reference, density_of(model))
        centre = scan[:, scan.shape[1] // 2] if scan.dim() == 5 else scan  # T = 2R + 1: the centre is at R
        log_sigma_full = model.upsample(log_sigma.float(), centre)[..., 0]
    return with_confidence(error, log_sigma_full, valid)


def keyframe_training_terms(model: nn.Module, frame: torch.Tensor, keyframes: torch.Tensor, target: torch.Tensor,
                            valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`training_terms` for a keyframe model: its chroma error against `target`'s colour (the model keeps the
    frame's luma), given the frame [N, H, W, 4] and its two keyframes [N, 2, H, W, 4]."""
    restored, log_sigma = model(frame, keyframes)
    error = pixel_error("chroma", restored.float(), target)
    return with_confidence(error, model.upsample(log_sigma.float(), frame)[..., 0], valid)


def repair_training_terms(model: nn.Module, window: torch.Tensor, clean: torch.Tensor, damage: torch.Tensor,
                          ignore: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A repair model's loss on damaged windows [N, T, H, W, 4] against the clean centre [N, H, W, 3]: the matte's
    binary cross-entropy against the damage (opacity ≥ REPAIR_DAMAGE_FLOOR; fainter edges and real damage left
    out), the repair's absolute error where there is damage (and, weighted less, everywhere: a false detection
    then costs little), and the confidence's NLL. Returns (loss, detached error of the composed result in damage)."""
    restored, log_sigma, matte = model(window)
    matte, log_sigma = matte[:, 0].float(), log_sigma[:, 0].float()
    truth = (damage >= REPAIR_DAMAGE_FLOOR).float()
    # ignore: 1 where the scan's own damage takes no loss at all, between 0 and 1 where only the matte's is left out
    filled = (ignore < 1.0).float()
    counted = (ignore <= 0.0).float() * ((damage == 0.0) | (truth > 0.0)).float()
    weight = counted * (1.0 + (REPAIR_POSITIVE_WEIGHT - 1.0) * truth)
    bce = F.binary_cross_entropy(matte.clamp(1e-6, 1.0 - 1e-6), truth, weight=weight, reduction="sum")
    # the repair matters over the defect and a pixel around it (the matte may reach that far)
    region = F.max_pool2d(truth[:, None], 3, stride=1, padding=1)[:, 0] * filled
    error = (restored[..., :3].float() - clean).abs().mean(dim=-1)
    nll = error.detach() * torch.exp(-log_sigma) + log_sigma + math.log(2.0)
    pixels = counted.sum().clamp(min=1.0)
    damaged = region.sum().clamp(min=1.0)
    loss = (bce / pixels + REPAIR_FILL_WEIGHT * ((error + CONFIDENCE_WEIGHT * nll) * region).sum() / damaged
            + (error * filled).sum() / pixels)
    frame = window[:, window.shape[1] // 2, ..., :3].float()
    composed = torch.where((matte > 0.5)[..., None], restored[..., :3].float(), frame)
    in_damage = ((composed - clean).abs().mean(dim=-1) * truth * filled).sum()
    return loss, (in_damage / (truth * filled).sum().clamp(min=1.0)).detach()


def with_confidence(error: torch.Tensor, log_sigma_full: torch.Tensor, valid: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked mean of the error plus the confidence head's Laplace NLL, the masked mean error alone, detached)."""
    nll = error.detach() * torch.exp(-log_sigma_full) + log_sigma_full + math.log(2.0)
    weight = valid.sum().clamp(min=1.0)
    return ((error + CONFIDENCE_WEIGHT * nll) * valid).sum() / weight, (error.detach() * valid).sum() / weight


def chroma_plane_error(luma: torch.Tensor, cb: torch.Tensor, cr: torch.Tensor, reference: torch.Tensor,
                       density: str = "keep") -> torch.Tensor:
    """A chroma model's error given its result as planes [N, H, W]: the mean absolute Cb and Cr error, plus the
    absolute luma error when it corrects density (the reference's Cb = B − Y, Cr = R − Y, Y by LUMA_WEIGHTS)."""
    reference_luma = reference @ _LUMA.to(reference)
    cb_error = cb - (reference[..., 2] - reference_luma)
    cr_error = cr - (reference[..., 0] - reference_luma)
    chroma = 0.5 * (cb_error.abs() + cr_error.abs())
    return chroma + (luma - reference_luma).abs() if density == "smooth" else chroma


@torch.no_grad()
def restore_frame(model: nn.Module, scan: np.ndarray, device: torch.device) -> np.ndarray:
    """Run the model on one whole RGBA frame (H×W×4), or a window of them (T×H×W×4, see `Pair.window_array`),
    and return the restored RGB of the frame (the window's centre)."""
    restored, _ = model(torch.from_numpy(scan)[None].to(device))
    return restored[0, ..., :3].float().cpu().numpy()


def colour_truth(scan: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The reference's colour (Cb, Cr) on the scan's luma: the best a chroma model can do, since it keeps scan luma."""
    weights = np.asarray(LUMA_WEIGHTS, dtype=np.float32)
    return reference + ((scan[..., :3] @ weights) - (reference @ weights))[..., None]


def validation_scores(kind: str, results: list[np.ndarray], scans: list[np.ndarray], references: list[np.ndarray],
                      valids: list[np.ndarray], density: str = "keep", band_px: int = 0) -> dict[str, float]:
    """Scores over held-out frames, masked, frame scores averaged.

    luma: PSNR (dB) against the reference. pairs: ΔE2000 against the reference. chroma: ΔE2000 against what the
    model can reach (`delta_e2000_*`): the reference's colour on the scan's luma (density keep), or on the scan's
    luma plus the reference's density difference box-averaged over `band_px` pixels (density smooth); and
    against the reference itself (`delta_e2000_reference_*`, which also counts the density difference the model
    keeps by design, or the detail finer than its band limit).
    """
    frames = list(zip(results, scans, references, valids, strict=True))
    if kind == "luma":
        return {"psnr_db": float(np.mean([psnr(r[v > 0.5], t[v > 0.5]) for r, _, t, v in frames]))}
    if kind == "chroma" and density == "smooth":
        truths = [colour_on_smooth_density(t, s, t, band_px, v) for _, s, t, v in frames]
    else:
        truths = [colour_truth(s, t) if kind == "chroma" else t for _, s, t, _ in frames]
    scores = [delta_e2000(r, truth, v) for (r, _, _, v), truth in zip(frames, truths, strict=True)]
    result = {"delta_e2000_mean": float(np.mean([x.mean for x in scores])),
              "delta_e2000_p95": float(np.mean([x.p95 for x in scores]))}
    if kind == "chroma":
        raw = [delta_e2000(r, t, v) for r, _, t, v in frames]
        result["delta_e2000_reference_mean"] = float(np.mean([x.mean for x in raw]))
        result["delta_e2000_reference_p95"] = float(np.mean([x.p95 for x in raw]))
    return result


def headline(kind: str, density: str = "keep") -> str:
    """The validation number the progress bar and loss curve show: for a chroma model that corrects density, the
    ΔE2000 against the reference itself (what it is trained to match)."""
    if kind == "luma":
        return "psnr_db"
    if kind == "repair":
        return "damage_mae"
    return "delta_e2000_reference_mean" if density == "smooth" else "delta_e2000_mean"
