"""The exported graph: docs/CONTRACT.md §2 around a model kind.

`image` [1, H, W, 4] straight RGBA (and, for a temporal-window model of radius R, `neighbours` [2R, H, W, 4]: the
frames t−R … t−1, t+1 … t+R; for a keyframe model, `keyframes` [2, H, W, 4]: the painted keyframes at or before and
at or after the frame, registered and cropped like the image) → `restored` [1, H, W, 4] (alpha copied from the
input) and `confidence` [1, H, W, 1] = exp(−sigma / CONFIDENCE_SCALE), computed at the processing grid and upsampled
bicubically (no lattice of cells; the colour's coefficients stay bilinear). sigma is the model's predicted absolute
error of the restored colour (a Laplace scale, in the pairs' encoding units): 1 = sure; 0.37 = expects an error of
CONFIDENCE_SCALE (5 % of the 0–1 range) at that pixel.
A repair model (docs/CONTRACT.md §1.8) also returns its damage matte [N, 1, H, W] (0–1, the probability that the
pixel is damage), exported as the third output `matte` [1, H, W, 1]; its confidence is exp(−matte · sigma /
CONFIDENCE_SCALE), the expected error of the pixel it delivers.
"""

from __future__ import annotations

import torch
from torch import nn

CONFIDENCE_SCALE = 0.05
CONFIDENCE_MEANING = (f"confidence = exp(-sigma / {CONFIDENCE_SCALE}), sigma = the model's predicted mean absolute "
                      "error of the restored colour at that pixel (Laplace scale, trained by negative log-likelihood "
                      "on training pairs); 1 = sure, 0.37 = expects an error of 0.05 of the 0-1 range")


REPAIR_CONFIDENCE_MEANING = (f"confidence = exp(-matte * sigma / {CONFIDENCE_SCALE}): sigma = the predicted mean "
                             "absolute error of the repair where there is damage (Laplace scale, trained by negative "
                             "log-likelihood on synthetic damage), matte = the probability that the pixel is damage; "
                             "the delivered pixel's expected error, so 1 on pixels the model takes for clean (passed "
                             "through untouched) and lowest on likely damage")


def confidence_meaning(kind: str) -> str:
    """What the card says a model's confidence is."""
    return REPAIR_CONFIDENCE_MEANING if kind == "repair" else CONFIDENCE_MEANING


def confidence_of(log_sigma: torch.Tensor) -> torch.Tensor:
    """Map the predicted log error scale to [0, 1] (1 = sure)."""
    return torch.exp(-torch.exp(log_sigma) / CONFIDENCE_SCALE)


class ContractGraph(nn.Module):
    """A kind module (NHWC RGBA in, restored + log_sigma out) with the contract's confidence output; for a repair
    model (restored, log_sigma, matte out) also the matte, NHWC."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, neighbours: torch.Tensor | None = None,
                keyframes: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        radius = getattr(self.model, "temporal_radius", 0)
        kind = getattr(self.model, "kind", "")
        if kind == "repair" and hasattr(self.model, "restore"):
            # the frame and its neighbours go in apart: joining them only to split them again costs two
            # full-resolution copies of the window
            assert neighbours is not None, "a repair model needs its neighbours"
            return self._repair_outputs(self.model.restore(image, neighbours.unsqueeze(0)), image)
        window = image
        if radius:
            assert neighbours is not None, "a temporal-window model needs its neighbours"
            window = torch.cat([neighbours[:radius], image, neighbours[radius:]], dim=0).unsqueeze(0)
        if kind == "repair":
            return self._repair_outputs(self.model(window), image)
        if kind == "keyframes":
            assert keyframes is not None, "a keyframe model needs its keyframes"
            restored, log_sigma = self.model(window, keyframes.unsqueeze(0))
        else:
            restored, log_sigma = self.model(window)
        return restored, self._confidence(log_sigma, image)

    def _confidence(self, log_sigma: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """The confidence plane at full resolution: smooth where the kind predicts it on a grid (its
        `upsample_confidence`), as the kind has it where it predicts per pixel."""
        upsample = getattr(self.model, "upsample_confidence", self.model.upsample)
        return upsample(confidence_of(log_sigma), image)

    def _repair_outputs(self, outputs: tuple[torch.Tensor, ...], image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """A repair model's confidence is its delivered pixel's: damage probability × the repair's expected error
        (its log_sigma is learnt where there is damage only), so a pixel the model takes for clean is sure and a
        likely defect, repaired or missed, is not (BENCHMARKS.md, Confidence: the repair's own sigma alone ranked
        the delivered error below chance)."""
        restored, log_sigma, matte = outputs
        confidence = torch.exp(-matte * torch.exp(log_sigma) / CONFIDENCE_SCALE)
        return restored, self.model.upsample(confidence, image), self.model.upsample(matte, image)
