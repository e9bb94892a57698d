"""Building blocks shared by the model kinds: grid pooling to the processing scale and a small context network.

The context network is a stack of residual depthwise-separable 3×3 convolutions with growing dilation: a wide
view for few multiply-adds, and stride 1 everywhere, so the graph's only downsampling stays the processing-scale
pooling (docs/CONTRACT.md §3, tiling rule).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# The linear path's weights are scaled up so that Adam (steps of about the learning rate per weight) reaches
# colour gains of order 1 in tens of steps rather than hundreds.
LINEAR_GAIN = 8.0


class SeparableBlock(nn.Module):
    """x + pointwise(relu(depthwise_dilated(x))), then ReLU: one step of context."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, groups=channels)
        self.pointwise = nn.Conv2d(channels, channels, 1)
        self.dilation = dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.pointwise(F.relu(self.depthwise(x))))


class ContextNet(nn.Module):
    """stem → separable dilated blocks → 1×1 head, plus a linear 1×1 path; both start at zero (identity start)."""

    def __init__(self, in_channels: int, out_channels: int, width: int, dilations: tuple[int, ...],
                 stem_kernel: int = 1) -> None:
        super().__init__()
        self.stem = nn.Conv2d(in_channels, width, stem_kernel, padding=stem_kernel // 2)
        self.blocks = nn.Sequential(*[SeparableBlock(width, d) for d in dilations])
        self.head = nn.Conv2d(width, out_channels, 1)
        # a direct linear path from the inputs: global colour corrections (the bulk of fading) learn in a few steps
        self.linear = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        for layer in (self.head, self.linear):
            nn.init.zeros_(layer.weight)
        nn.init.zeros_(self.head.bias)
        self.stem_kernel = stem_kernel
        self.dilations = dilations

    @property
    def reach(self) -> int:
        """Pixels of context each side, at the resolution this network runs at."""
        return self.stem_kernel // 2 + sum(self.dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()  # grid statistics arrive channels-last (pooled from NHWC); mixed layouts hit slow kernels
        return self.head(self.blocks(F.relu(self.stem(x)))) + LINEAR_GAIN * self.linear(x)


def pool_to_grid(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Average `factor`×`factor` cells anchored at the frame's top-left; a partial cell at the bottom/right edge
    averages the pixels it has (ceil mode), which needs no padding pass over the full-resolution frame."""
    if factor == 1:
        return x
    return F.avg_pool2d(x, factor, stride=factor, ceil_mode=True, count_include_pad=False)


def upsample_from_grid(x: torch.Tensor, factor: int, height: torch.Tensor | int, width: torch.Tensor | int
                       ) -> torch.Tensor:
    """Bilinear (half-pixel centres) back to full resolution, cropped to `height`×`width`."""
    if factor == 1:
        return x
    up = F.interpolate(x, scale_factor=float(factor), mode="bilinear", align_corners=False)
    return up[:, :, :height, :width]


def grid_factor(processing_scale: float) -> int:
    """f = round(1 / processing_scale), the one downsampling factor of the graph."""
    return max(1, int(round(1.0 / processing_scale)))
