"""Building blocks shared by the model kinds: grid pooling to the processing scale and a small context network.

The context network is a stack of residual depthwise-separable 3×3 convolutions with growing dilation: a wide
view for few multiply-adds, and stride 1 everywhere, so the graph's only downsampling stays the processing-scale
pooling (docs/CONTRACT.md §3, tiling rule).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from chromaluma.models.colour import interleaved, planar

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
        # channels-last all through: the grid statistics arrive that way (pooled from NHWC), and PyTorch's CPU
        # depthwise and 1×1 convolutions (forward and backward) run several times faster on it than on NCHW, about
        # 1.4× per whole training step; the exported graph is the same either way
        x = x.contiguous(memory_format=torch.channels_last)
        return self.head(self.blocks(F.relu(self.stem(x)))) + LINEAR_GAIN * self.linear(x)


def pool_to_grid(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Average NHWC `x` over `factor`×`factor` cells anchored at the frame's top-left → NCHW grid.

    A partial cell at the bottom/right edge averages the pixels it has (ceil mode), which needs no padding pass
    over the full-resolution frame. The mean is taken along rows, then along columns, each as a 1-D pooling on a
    view of the NHWC tensor itself: no full-resolution transpose (2-D pooling needs NCHW). The mean of the column
    means is the cell mean, since every column of a cell has the same rows.
    """
    if factor == 1:
        return planar(x)
    batch, height = x.shape[0], x.shape[1]
    # [N, H, W, C] read as NCHW with H as channels: pool along W (pixels within a row, channel by channel)
    rows = F.avg_pool2d(x, (factor, 1), stride=(factor, 1), ceil_mode=True, count_include_pad=False)
    # [N, 1, H, W/f·C]: pool along H
    cells = F.avg_pool2d(rows.reshape(batch, 1, height, -1), (factor, 1), stride=(factor, 1), ceil_mode=True,
                         count_include_pad=False)
    return planar(cells.reshape(batch, cells.shape[2], rows.shape[2], rows.shape[3]))


def upsample_from_grid(x: torch.Tensor, factor: int, like: torch.Tensor) -> torch.Tensor:
    """Bilinear (half-pixel centres) NCHW grid → full-resolution NHWC, cropped to the height and width of NHWC `like`.

    Exported as one Resize of the small grid made NHWC and one Slice over both axes: the full-resolution result
    is written once, in the contract's layout, rather than resized planar, cropped per axis and transposed.
    """
    return _upsample(x, factor, like, "linear")


def smooth_upsample_from_grid(x: torch.Tensor, factor: int, like: torch.Tensor) -> torch.Tensor:
    """Bicubic (Keys, a = −0.75, half-pixel centres, edge cells repeated) NCHW grid → full-resolution NHWC, cropped
    like :func:`upsample_from_grid`.

    For planes a restorer looks at (the confidence): bilinear interpolation is continuous but its slope jumps on
    every row and column through a cell centre, which reads as a lattice of blocky cells; bicubic keeps the slope
    continuous. It reads two cells each side instead of one (see `_GridModel.receptive_field`) and may overshoot
    the grid's range slightly (callers clamp).
    """
    return _upsample(x, factor, like, "cubic")


def _upsample(x: torch.Tensor, factor: int, like: torch.Tensor, mode: str) -> torch.Tensor:
    if factor == 1:
        return interleaved(x)
    if torch.onnx.is_in_onnx_export():
        return _ResizeNHWC.apply(interleaved(x).contiguous(), like, factor, mode)
    return _resize_nhwc(interleaved(x), like, factor, mode)


def _resize_nhwc(grid: torch.Tensor, like: torch.Tensor, factor: int, mode: str = "linear") -> torch.Tensor:
    # resized channels-last, so the result is NHWC in memory too: the full-resolution products with the scan
    # (and their backward) then run on matching layouts, about 5 % faster per training step than an NCHW result
    grid = planar(grid).contiguous(memory_format=torch.channels_last)
    up = F.interpolate(grid, scale_factor=float(factor), mode=_TORCH_MODES[mode], align_corners=False)
    return interleaved(up[:, :, :like.shape[1], :like.shape[2]])


# ONNX Resize mode → the torch interpolation it equals (half-pixel centres; torch's bicubic is Keys with a = −0.75)
_TORCH_MODES = {"linear": "bilinear", "cubic": "bicubic"}


class _ResizeNHWC(torch.autograd.Function):
    """Export only: ONNX Resize (linear or cubic, half_pixel) of an NHWC grid by `factor` along H and W, then one
    Slice."""

    @staticmethod
    def forward(ctx: Any, grid: torch.Tensor, like: torch.Tensor, factor: int, mode: str) -> torch.Tensor:  # noqa: ARG004
        return _resize_nhwc(grid, like, factor, mode)

    @staticmethod
    def symbolic(g: Any, grid: Any, like: Any, factor: int, mode: str) -> Any:
        def constant(values: list[float] | list[int], dtype: torch.dtype) -> Any:
            return g.op("Constant", value_t=torch.tensor(values, dtype=dtype))

        up = g.op("Resize", grid, constant([], torch.float32), constant([1.0, factor, factor, 1.0], torch.float32),
                  coordinate_transformation_mode_s="half_pixel", mode_s=mode, nearest_mode_s="floor",
                  cubic_coeff_a_f=-0.75)
        size = g.op("Slice", g.op("Shape", like), constant([1], torch.int64), constant([3], torch.int64))
        return g.op("Slice", up, constant([0, 0], torch.int64), size, constant([1, 2], torch.int64))


def grid_factor(processing_scale: float) -> int:
    """f = round(1 / processing_scale), the one downsampling factor of the graph."""
    return max(1, int(round(1.0 / processing_scale)))
