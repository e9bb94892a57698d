"""The three model kinds as torch modules on NHWC RGBA (the contract's layout): chroma, luma and pairs.

Each module maps scan RGBA [N, H, W, 4] to (restored RGBA [N, H, W, 4] with alpha copied, log_sigma at the grid
[N, 1, H/f, W/f]); `upsample(grid, like)` brings a grid tensor to full resolution NHWC. A temporal-window model
(`temporal_radius` R > 0) reads a window [N, T, H, W, 4] of T = 2R + 1 frames t−R … t+R and restores the centre
frame (index R): the network sees every frame's grid statistics (or luma plane), the centre first; the centre's
own pixels and alpha are what the result is applied to (docs/CONTRACT.md §2). Only the small networks
run on NCHW tensors (at the grid, or on one luma plane). `log_sigma` is the log of the predicted absolute error
(Laplace scale) of the restored colour; training upsamples it for a Laplace negative log-likelihood, export turns it
into a confidence at the grid and upsamples that (see :mod:`chromaluma.models.graph`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from chromaluma.models.blocks import (
    ContextNet,
    grid_factor,
    pool_to_grid,
    smooth_upsample_from_grid,
    upsample_from_grid,
)
from chromaluma.models.colour import GUIDE_FROM_RGBA, RGB_FROM_CHROMA, YCC_FROM_RGBA, fixed_mix, interleaved, planar
from chromaluma.models.density import DENSITY_CELLS, SmoothDensity, check_density

# Regularises the local luma variance in the guided-filter start point (values in the pairs' 0–1 encoding).
GUIDE_EPS = 1e-3
# log_sigma at initialisation: an expected error of about 0.05 (5 % of the 0–1 range) before any training.
LOG_SIGMA0 = -3.0
# The confidence network's width. It is a network of its own, not a channel of the colour network: sharing the colour
# network's features (tuned for colour, the confidence's likelihood weighing 0.05 next to it) left confidence close to
# chance on held-out frames (AUROC of error above the median 0.63 chroma, 0.62 pairs after 300 steps; BENCHMARKS.md).
CONFIDENCE_WIDTH = 16


class RestoredPlanes(NamedTuple):
    """A chroma model's result as full-resolution planes [N, H, W]: luma, Cb = B − Y, Cr = R − Y, log_sigma."""

    luma: torch.Tensor
    cb: torch.Tensor
    cr: torch.Tensor
    log_sigma: torch.Tensor


class _GridModel(nn.Module):
    """Shared parts of the kinds that predict at the processing scale: colour matrices and grid statistics."""

    def __init__(self, processing_scale: float, net: ContextNet, temporal_radius: int = 0) -> None:
        super().__init__()
        self.factor = grid_factor(processing_scale)
        self.net = net
        self.confidence_net = confidence_net_for(net)
        self.temporal_radius = check_radius(temporal_radius)
        self.register_buffer("ycc_matrix", torch.tensor(YCC_FROM_RGBA + ((0.0, 0.0, 0.0, 0.0),)), persistent=False)
        self.register_buffer("guide_matrix", torch.tensor(GUIDE_FROM_RGBA), persistent=False)

    @property
    def receptive_field(self) -> int:
        """Full-res context each side, a multiple of the grid factor (docs/CONTRACT.md §3).

        A pixel in cell c reads cells c−2−reach … c+2+reach (the confidence's bicubic upsampling reads two cells each
        side; the colour's bilinear one, one), i.e. at most (reach + 3)·f − 1 pixels each side; rounding up to a
        multiple of f keeps grown regions aligned.
        """
        reach = self.grid_reach
        return reach if self.factor == 1 else (reach + 3) * self.factor

    @property
    def grid_reach(self) -> int:
        """Cells of context each side the grid prediction reads (the network's reach)."""
        return self.net.reach

    def grid_statistics(self, x: torch.Tensor) -> torch.Tensor:
        """Per cell: mean Y, Cb, Cr, std Y, and the guided filter's slopes cov(Y,Cb)/var Y, cov(Y,Cr)/var Y."""
        return self.statistics_of(x, fixed_mix(x.float(), self.guide_matrix))

    def neighbour_statistics(self, window: torch.Tensor | None) -> torch.Tensor | None:
        """The grid statistics of a window's other frames, [N, 6·2R, h, w] (None for a single-frame model), in the
        window's order without the centre; the network reads them after the centre's own six channels."""
        if window is None:
            return None
        frames = torch.cat([window[:, :self.temporal_radius], window[:, self.temporal_radius + 1:]], dim=1)
        batch, count = frames.shape[:2]
        stats = self.grid_statistics(frames.reshape(batch * count, *frames.shape[2:]))
        return stats.reshape(batch, count * stats.shape[1], *stats.shape[2:])

    def statistics_of(self, x: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        """:meth:`grid_statistics` given `guide` = x·GUIDE ([Y, Y, Y, A], full resolution, reused by the caller), or
        the scan's luma alone ([Y], broadcast: the statistics read no product with alpha).

        The colour mix is linear, so it is applied after pooling, on the grid: mean [Y, Cb, Cr] = YCC·E[RGBA] and
        [E[Y²], E[Y·Cb], E[Y·Cr]] = YCC·E[Y·RGBA]. At full resolution that leaves one product (Y·RGBA) and two
        poolings.
        """
        with torch.autocast(device_type=x.device.type, enabled=False):  # E[Y²] − E[Y]² needs float32 under AMP
            x = x.float()
            mean = _mix_planar(pool_to_grid(x, self.factor), self.ycc_matrix)  # [Y, Cb, Cr, 0]
            second = _mix_planar(pool_to_grid(x * guide.float(), self.factor), self.ycc_matrix)  # [Y², Y·Cb, Y·Cr]
            mean_y = mean[:, 0:1]
            var_y = (second[:, 0:1] - mean_y * mean_y).clamp(min=0.0)
            slope = (second[:, 1:3] - mean_y * mean[:, 1:3]) / (var_y + GUIDE_EPS)
            return torch.cat([mean[:, 0:3], torch.sqrt(var_y + 1e-8), slope], dim=1)

    def log_sigma_of(self, inputs: torch.Tensor) -> torch.Tensor:
        """log_sigma per cell from what the colour network reads (`inputs`, detached: the confidence learns to
        predict the error without reweighting the restoration); its reach is within the colour network's."""
        return self.confidence_net(inputs.detach()) + LOG_SIGMA0

    def upsample(self, coefficients: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Grid coefficients (NCHW) → full-resolution NHWC, the size of `like` (NHWC)."""
        return upsample_from_grid(coefficients, self.factor, like)

    def upsample_confidence(self, confidence: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The grid's confidence (NCHW, 0–1) → full-resolution NHWC: bicubic, so the plane has no cell lattice
        (:func:`~chromaluma.models.blocks.smooth_upsample_from_grid`), clamped to 0–1 against its overshoot."""
        return smooth_upsample_from_grid(confidence, self.factor, like).clamp(0.0, 1.0)


class ChromaModel(_GridModel):
    """Predicts chroma at the processing scale; full-res chroma = a·Y + b, a deep guided filter on the scan's luma.

    In RGB this is out = Y·P + Q with P = 1 + M·a, Q = M·b (M maps Cb, Cr to RGB at fixed Y), computed at the
    grid: output luma equals the scan's luma (only Cb and Cr change), and the full-res work is one product and
    one sum per channel.

    `density="smooth"` adds a sixth grid channel ΔY, band-limited by a fixed box average over DENSITY_CELLS cells
    and added to Q's R, G and B equally (:mod:`chromaluma.models.density`): output luma = scan luma + smooth ΔY,
    Cb and Cr unchanged by it, the scan's grain and detail passed through.
    """

    kind = "chroma"
    legacy_log_sigma_channel = 4  # where models before the confidence network had log_sigma

    # 32 channels, not 24: with 15 CPU minutes on the quality benchmark's pairs, held-out ΔE2000 1.90 in a trial
    # (10 217 steps) against 1.99 and 2.02 for 24 channels (13 064 and 12 291 steps): fewer steps, but each reads the
    # fade better (BENCHMARKS.md has the current figures)
    def __init__(self, processing_scale: float = 0.25, width: int = 32,
                 dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8), density: str = "keep",
                 temporal_radius: int = 0) -> None:
        check_density(density)
        net = ContextNet(6 * window_length(temporal_radius), 5 if density == "smooth" else 4, width, dilations)
        super().__init__(processing_scale, net, temporal_radius)
        self.density = density
        # [Cb, Cr, ΔY] → (R, G, B): M for the colour differences, 1 in every channel for the density offset
        shift_matrix = [list(row) + [1.0] for row in RGB_FROM_CHROMA]
        self.register_buffer("chroma_to_rgb", torch.tensor(RGB_FROM_CHROMA), persistent=False)
        self.register_buffer("shift_to_rgb", torch.tensor(shift_matrix), persistent=False)
        self.smooth = SmoothDensity()

    @property
    def grid_reach(self) -> int:
        """The network's reach, plus the density box's (DENSITY_CELLS // 2 cells each side) when smooth."""
        return self.net.reach + (DENSITY_CELLS // 2 if self.density == "smooth" else 0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, window = centre_of(x, self.temporal_radius)
        guide = fixed_mix(x, self.guide_matrix)
        slope, offset, density, log_sigma = self.grid_coefficients(self.statistics_of(x, guide),
                                                                   self.neighbour_statistics(window))
        ones, zeros = torch.ones_like(log_sigma), torch.zeros_like(log_sigma)  # alpha: out = A·1 + 0
        scale = torch.cat([1.0 + _mix_planar(slope, self.chroma_to_rgb), ones], dim=1)
        if density is not None:
            shift_rgb = _mix_planar(torch.cat([offset, density], dim=1), self.shift_to_rgb)
        else:
            shift_rgb = _mix_planar(offset, self.chroma_to_rgb)
        shift = torch.cat([shift_rgb, zeros], dim=1)
        restored = guide * self.upsample(scale, x) + self.upsample(shift, x)
        return restored, log_sigma

    def grid_coefficients(self, stats: torch.Tensor, neighbours: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Per cell, from the centre frame's grid statistics (and its neighbours', for a window): the guided
        filter's slope and offset for (Cb, Cr), the band-limited density offset ΔY (None when density is kept) and
        log_sigma."""
        mean_y, mean_c, slope0 = stats[:, 0:1], stats[:, 1:3], stats[:, 4:6]
        inputs = stats if neighbours is None else torch.cat([stats, neighbours], dim=1)
        delta = self.net(inputs)
        slope = slope0 + delta[:, 0:2]
        offset = mean_c + delta[:, 2:4] - slope * mean_y
        density = self.smooth(delta[:, 4:5]) if self.density == "smooth" else None
        return slope, offset, density, self.log_sigma_of(inputs)

    def restored_planes(self, x: torch.Tensor) -> RestoredPlanes:
        """Training only: what :meth:`forward` restores, as full-resolution planes of luma, Cb and Cr ([N, H, W]).

        The same model, written where the training loss measures it: Cb = a·Y + b and Cr likewise, luma = Y + ΔY.
        This skips forward's RGBA products (out = Y·P + Q, then back to Y, Cb, Cr in the loss) and upsamples all
        grid coefficients in one resize, padded to 8 channels (PyTorch's channels-last bilinear kernel and its
        backward run faster on 8 channels than on 6), which makes a chroma training step cheaper (README,
        Benchmarks). The export and inference keep :meth:`forward`; tests/py/test_models.py checks that both agree.
        """
        x, window = centre_of(x, self.temporal_radius)
        scan_luma = fixed_mix(x, self.guide_matrix[:1])  # [N, H, W, 1]: the guide's luma row alone
        slope, offset, density, log_sigma = self.grid_coefficients(self.statistics_of(x, scan_luma),
                                                                   self.neighbour_statistics(window))
        planes = torch.cat([slope, offset] + ([density] if density is not None else []) + [log_sigma], dim=1)
        padding = torch.zeros_like(planes[:, :1]).expand(-1, 8 - planes.shape[1], -1, -1)
        up = self.upsample(torch.cat([planes, padding], dim=1), x).unbind(-1)
        y = scan_luma[..., 0]
        luma_out = y + up[4] if density is not None else y
        return RestoredPlanes(luma_out, y * up[0] + up[2], y * up[1] + up[3], up[planes.shape[1] - 1])


class PairsModel(_GridModel):
    """General RGB→RGB: a local affine colour transform (3×3 matrix + offset per grid cell), upsampled bilinearly."""

    kind = "pairs"
    legacy_log_sigma_channel = 12  # where models before the confidence network had log_sigma

    def __init__(self, processing_scale: float = 0.25, width: int = 24,
                 dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8), temporal_radius: int = 0) -> None:
        super().__init__(processing_scale, ContextNet(6 * window_length(temporal_radius), 12, width, dilations),
                         temporal_radius)
        # RGBA → [R,G,B, R,G,B, R,G,B, A] and its reduction back to RGBA after the per-pixel product
        spread = torch.zeros(10, 4)
        gather = torch.zeros(4, 10)
        for row in range(3):
            for col in range(3):
                spread[3 * row + col, col] = 1.0
                gather[row, 3 * row + col] = 1.0
        spread[9, 3] = gather[3, 9] = 1.0
        self.register_buffer("spread", spread, persistent=False)
        self.register_buffer("gather", gather, persistent=False)
        self.register_buffer("identity", torch.eye(3).reshape(1, 9, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, window = centre_of(x, self.temporal_radius)
        stats, neighbours = self.grid_statistics(x), self.neighbour_statistics(window)
        inputs = stats if neighbours is None else torch.cat([stats, neighbours], dim=1)
        delta = self.net(inputs)
        ones, zeros = torch.ones_like(delta[:, 0:1]), torch.zeros_like(delta[:, 0:1])
        matrix = torch.cat([delta[:, 0:9] + self.identity, ones], dim=1)
        offset = torch.cat([delta[:, 9:12], zeros], dim=1)
        product = fixed_mix(x, self.spread) * self.upsample(matrix, x)
        restored = fixed_mix(product, self.gather) + self.upsample(offset, x)
        return restored, self.log_sigma_of(inputs)


class LumaModel(nn.Module):
    """Full-resolution residual on luma; the same residual is added to R, G and B so Cb and Cr stay the scan's."""

    kind = "luma"

    def __init__(self, processing_scale: float = 1.0, width: int = 16, dilations: tuple[int, ...] = (1, 2, 4, 8),
                 temporal_radius: int = 0) -> None:
        super().__init__()
        self.factor = grid_factor(processing_scale)
        if self.factor != 1:
            raise ValueError(f"luma models work at full resolution (processing_scale 1, not {processing_scale})")
        self.temporal_radius = check_radius(temporal_radius)
        self.net = ContextNet(window_length(temporal_radius), 2, width, dilations, stem_kernel=3)
        self.register_buffer("luma_row", torch.tensor(GUIDE_FROM_RGBA[:1]), persistent=False)
        self.register_buffer("spread", torch.tensor(((1.0, 0.0), (1.0, 0.0), (1.0, 0.0), (0.0, 0.0))),
                             persistent=False)

    @property
    def receptive_field(self) -> int:
        return self.net.reach

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, window = centre_of(x, self.temporal_radius)
        luma = planar(fixed_mix(x, self.luma_row))
        if window is not None:  # the centre's luma first, then the other frames' in window order
            others = torch.cat([window[:, :self.temporal_radius], window[:, self.temporal_radius + 1:]], dim=1)
            luma = torch.cat([luma, fixed_mix(others, self.luma_row)[..., 0]], dim=1)
        out = self.net(luma)
        return x + fixed_mix(interleaved(out), self.spread), out[:, 1:2] + LOG_SIGMA0

    def upsample(self, grid: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Full resolution already: NCHW → NHWC."""
        return interleaved(grid)


MAX_TEMPORAL_RADIUS = 8


def confidence_net_for(net: ContextNet) -> ContextNet:
    """A grid kind's confidence network: the colour network's inputs in, log_sigma out, with the first half of its
    dilations (so it reads no further than the colour network does) at CONFIDENCE_WIDTH channels."""
    dilations = net.dilations[:max(1, len(net.dilations) // 2)]
    return ContextNet(net.stem.in_channels, 1, CONFIDENCE_WIDTH, tuple(dilations), stem_kernel=net.stem_kernel)


def check_radius(radius: int) -> int:
    """A temporal radius as a model takes it: an integer from 0 (single frame) to MAX_TEMPORAL_RADIUS."""
    if isinstance(radius, bool) or not isinstance(radius, int) or not 0 <= radius <= MAX_TEMPORAL_RADIUS:
        raise ValueError(f"temporal_radius {radius!r}: expected an integer from 0 to {MAX_TEMPORAL_RADIUS}")
    return radius


def window_length(radius: int) -> int:
    """Frames a model of this temporal radius reads: t−R … t+R."""
    return 2 * check_radius(radius) + 1


def centre_of(x: torch.Tensor, radius: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(the frame restored [N, H, W, 4], the whole window [N, T, H, W, 4] or None for a single-frame model)."""
    if radius == 0:
        return x, None
    return x[:, radius], x


def _mix_planar(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Channel mix of a small NCHW grid tensor (a 1×1 convolution)."""
    return F.conv2d(x, matrix[:, :, None, None])
