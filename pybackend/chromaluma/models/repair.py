"""The repair kind: dust, dirt, hairs, sparkle, scratches and blotches found and filled from the shot's own frames.

The model reads a temporal window [N, T, H, W, 4] (T = 2R + 1, the frame repaired at index R) and returns, at full
resolution, a repair candidate for every pixel, the predicted error of that candidate (log_sigma) and a damage matte
(0–1, the probability that the pixel is damage). The backend composes: outside the applied matte the frame passes
through bit for bit (docs/CONTRACT.md §1.8), so the candidate only matters where the matte says damage.

How it works, each step a fixed, exportable operation except the one small network:

1. **Motion.** Each neighbour is matched to the frame on a grid (f = 4 px cells): for every offset within ±`search`
   cells, the mean squared difference of the cells' local luma detail (luma minus its 3×3-cell mean, so exposure
   flicker between frames does not count) over a 3×3-cell patch. The best offset, refined to a fraction of a cell by
   the parabola through its neighbours' costs, is the motion; its cost says how well the match holds. Dust in one
   frame covers little of a 12×12 px patch, so it barely moves the match.
2. **Warped neighbours.** The motion, upsampled to full resolution, warps each neighbour onto the frame (bilinear).
3. **Evidence.** Per pixel: the frame's luma detail (a dust speck is a spike against its surroundings), a column
   feature (horizontal detail averaged down 31 rows: a vertical scratch lines up, picture detail mostly does not),
   the difference to each warped neighbour (dust is in one frame only) and each match's cost (where the warp can be
   trusted).
4. **Network.** A small full-resolution context network reads the evidence and predicts the matte, log_sigma and
   one weight per candidate fill.
5. **Fills.** Candidates: each warped neighbour (temporal fill), and three spatial fills of the frame that leave the
   matte out (normalised averages: a horizontal 1×11 px for vertical scratches, 3×3 grid cells for specks and 7×7
   cells for large blotches). The repair is their softmax-weighted sum: colour always comes from the film itself.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from chromaluma.models.blocks import ContextNet, grid_factor, upsample_from_grid
from chromaluma.models.colour import GUIDE_FROM_RGBA, fixed_mix, interleaved, planar
from chromaluma.models.kinds import LOG_SIGMA0, check_radius

# The matte starts near 0 (about 2 %): an untrained model repairs nothing at the default sensitivity.
MATTE_LOGIT0 = -4.0
# Motion: the preference for small motion, per cell² of offset, in units of the cost's spread over the offsets.
_MOTION_PREFERENCE = 0.02
_COST_FLOOR = 1e-3  # luma detail differences below this (0–1 scale) are grain, not structure
_COLUMN_ROWS = 31  # rows the column feature averages over
_SPATIAL_CANDIDATES = 3
_EPS = 1e-3


class RepairModel(nn.Module):
    """Damage matte and repair from a temporal window (see the module docstring)."""

    kind = "repair"

    def __init__(self, processing_scale: float = 0.25, width: int = 16, dilations: tuple[int, ...] = (1, 2, 4, 8),
                 temporal_radius: int = 2, search: int = 4) -> None:
        super().__init__()
        self.factor = grid_factor(processing_scale)
        self.temporal_radius = check_radius(temporal_radius)
        if self.temporal_radius < 1:
            raise ValueError("temporal_radius 0: a repair model reads the frames around the one it repairs (1 or more)")
        if isinstance(search, bool) or not isinstance(search, int) or not 1 <= search <= 8:
            raise ValueError(f"search {search!r}: expected an integer from 1 to 8 grid cells")
        self.search = search
        others = 2 * self.temporal_radius
        self.net = ContextNet(2 + 2 * others, 2 + others + _SPATIAL_CANDIDATES, width, dilations)
        self.register_buffer("luma_row", torch.tensor(GUIDE_FROM_RGBA[:1]), persistent=False)
        self.register_buffer("luma_weights", torch.tensor(GUIDE_FROM_RGBA[0][:3]).reshape(1, 1, 3, 1, 1),
                             persistent=False)
        self.offsets = [(dy, dx) for dy in range(-search, search + 1) for dx in range(-search, search + 1)]
        self.register_buffer("offset_distance", torch.tensor([float(dx * dx + dy * dy) for dy, dx in self.offsets])
                             .reshape(1, 1, -1, 1, 1), persistent=False)

    @property
    def receptive_field(self) -> int:
        """Full-resolution context each side, a multiple of f: the motion's reach (match patches, search, warp and
        upsampling), then the network's, then the coarse fill's."""
        f = self.factor
        motion = (2 * self.search + 5) * f
        evidence = max(motion, (_COLUMN_ROWS // 2 + 2) * 1 + f)
        reach = evidence + self.net.reach + 5 * f
        return -(-reach // f) * f

    def upsample(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:  # noqa: ARG002 — full resolution already
        """Full resolution already: NCHW → NHWC."""
        return interleaved(x)

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(repair candidate RGBA [N, H, W, 4] with the frame's alpha, log_sigma [N, 1, H, W], matte [N, 1, H, W])."""
        radius = self.temporal_radius
        return self.restore(window[:, radius], torch.cat([window[:, :radius], window[:, radius + 1:]], dim=1))

    def restore(self, frame: torch.Tensor, others: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`forward` on the frame [N, H, W, 4] and its neighbours [N, 2R, H, W, 4] (t−R … t−1, t+1 … t+R) given
        apart: the exported graph receives them apart, and joining them into a window only to split it again costs
        two full-resolution copies of five frames."""
        frame_luma = fixed_mix(frame, self.luma_row)[..., 0].unsqueeze(1)  # [N, 1, H, W]
        other_luma = fixed_mix(others, self.luma_row)[..., 0]  # [N, 2R, H, W]
        flow, cost = self.motion(frame_luma, other_luma)  # [N, 2·2R, H, W] in px (x, y per neighbour), [N, 2R, H, W]
        warped = self.warp(others[..., :3], flow)  # [N, 2R, 3, H, W]
        warped_luma = (warped * self.luma_weights).sum(dim=2)
        evidence = torch.cat([frame_luma - _box(frame_luma, 5, 5), _column_feature(frame_luma, self.factor),
                              frame_luma - warped_luma, cost], dim=1)
        out = self.net(evidence)
        matte = torch.sigmoid(out[:, 0:1] + MATTE_LOGIT0)
        log_sigma = out[:, 1:2] + LOG_SIGMA0
        frame_rgb = planar(frame[..., :3])
        candidates = [warped[:, k] for k in range(warped.shape[1])] + _spatial_fills(frame_rgb, 1.0 - matte,
                                                                                     self.factor)
        repaired = _weighted_sum(out[:, 2:], candidates)
        return torch.cat([interleaved(repaired), frame[..., 3:4]], dim=-1), log_sigma, matte

    def motion(self, frame_luma: torch.Tensor, other_luma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each neighbour's motion onto the frame at full resolution, in px ([N, 2·2R, H, W]: x then y per
        neighbour), and the match's remaining cost upsampled ([N, 2R, H, W])."""
        f, s = self.factor, self.search
        centre = _detail(F.avg_pool2d(frame_luma, f, ceil_mode=True, count_include_pad=False))
        others = _detail(F.avg_pool2d(other_luma, f, ceil_mode=True, count_include_pad=False))
        padded = F.pad(others, (s, s, s, s), mode="replicate")
        costs = torch.stack([F.avg_pool2d((centre - padded[:, :, s + dy:(dy - s) or None, s + dx:(dx - s) or None])
                                          ** 2, 3, stride=1, padding=1, count_include_pad=False)
                             for dy, dx in self.offsets], dim=2)  # [N, 2R, K², h, w], K = 2s + 1
        # the best offset: the lowest cost plus a slight preference for small motion, in units of the cell's own
        # spread over the offsets, so that a flat cell (all offsets alike) stays put rather than follow its grain
        spread = costs.mean(dim=2, keepdim=True) - costs.amin(dim=2, keepdim=True) + _COST_FLOOR
        best = torch.argmin(costs + (_MOTION_PREFERENCE * spread) * self.offset_distance, dim=2, keepdim=True)
        side = 2 * s + 1
        column, row = best % side, torch.div(best, side, rounding_mode="floor")
        flow_x = (column - s).to(costs.dtype) + _parabola_vertex(costs, best, column, 1, side)
        flow_y = (row - s).to(costs.dtype) + _parabola_vertex(costs, best, row, side, side)
        flow_x, flow_y = flow_x.squeeze(2) * f, flow_y.squeeze(2) * f
        cost = torch.sqrt(torch.gather(costs, 2, best).squeeze(2) + 1e-8)  # the match's RMS luma detail difference
        batch, count, height, width = cost.shape
        grid = torch.stack([flow_x, flow_y], dim=2).reshape(batch, 2 * count, height, width)
        up = planar(upsample_from_grid(torch.cat([grid, cost], dim=1), f, planar_like(frame_luma)))
        return up[:, :2 * count], up[:, 2 * count:]

    @staticmethod
    def warp(rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """Neighbours' RGB [N, K, H, W, 3] read at (x + flow_x, y + flow_y) → [N, K, 3, H, W] (bilinear, edges
        clamped)."""
        batch, count, height, width = rgb.shape[:4]
        xs = torch.arange(width, dtype=rgb.dtype, device=rgb.device).reshape(1, 1, 1, -1)
        ys = torch.arange(height, dtype=rgb.dtype, device=rgb.device).reshape(1, 1, -1, 1)
        flow = flow.reshape(batch, count, 2, height, width)
        gx = (xs + flow[:, :, 0]) * (2.0 / (width - 1)) - 1.0
        gy = (ys + flow[:, :, 1]) * (2.0 / (height - 1)) - 1.0
        grid = torch.stack([gx, gy], dim=-1).reshape(batch * count, height, width, 2)
        planes = rgb.reshape(batch * count, height, width, 3).permute(0, 3, 1, 2)
        warped = F.grid_sample(planes, grid, mode="bilinear", padding_mode="border", align_corners=True)
        return warped.reshape(batch, count, 3, height, width)


def _parabola_vertex(costs: torch.Tensor, best: torch.Tensor, position: torch.Tensor, step: int,
                     side: int) -> torch.Tensor:
    """Sub-cell correction of the chosen offset `best` along one axis of the search window (`position` its index
    along that axis, `step` the flat index's stride along it): the vertex of the parabola through the costs one cell
    before, at and one cell after it, within ±0.5 cell. At the window's edge the cost beyond is taken as the edge's."""
    before = best - step * (position > 0).to(best.dtype)
    after = best + step * (position < side - 1).to(best.dtype)
    low, mid, high = (torch.gather(costs, 2, index) for index in (before, best, after))
    curvature = (low - 2.0 * mid + high).clamp(min=1e-8)
    return (0.5 * (low - high) / curvature).clamp(-0.5, 0.5)


def planar_like(luma: torch.Tensor) -> torch.Tensor:
    """An NHWC tensor of the size of NCHW `luma` (what upsample_from_grid crops to)."""
    return interleaved(luma)


def _detail(grid: torch.Tensor) -> torch.Tensor:
    """Luma minus its 3×3-cell mean: structure without the frame's exposure."""
    return grid - F.avg_pool2d(grid, 3, stride=1, padding=1, count_include_pad=False)


def _box(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Mean over a rows × cols window (odd sizes), the window shrunk at the frame's edges."""
    return F.avg_pool2d(x, (rows, cols), stride=1, padding=(rows // 2, cols // 2), count_include_pad=False)


def _column_feature(luma: torch.Tensor, factor: int) -> torch.Tensor:
    """Horizontal detail averaged down _COLUMN_ROWS rows: large along a vertical line (a scratch). Computed on rows
    pooled by `factor` (a vertical average loses nothing of a vertical line) and repeated back."""
    rows = F.avg_pool2d(luma, (factor, 1), ceil_mode=True, count_include_pad=False)
    column = _box(rows - _box(rows, 1, 5), _COLUMN_ROWS // factor | 1, 1)
    return 4.0 * _rows_back(column, factor, luma)


def _rows_back(x: torch.Tensor, factor: int, like: torch.Tensor) -> torch.Tensor:
    """Rows pooled by `factor` repeated back to the height of `like` (NCHW)."""
    return F.interpolate(x, scale_factor=(float(factor), 1.0), mode="nearest")[:, :, :like.shape[2]]


def _spatial_fills(rgb: torch.Tensor, keep: torch.Tensor, factor: int) -> list[torch.Tensor]:
    """The frame's colour averaged around each pixel with the matte left out, each [N, 3, H, W]: across a
    vertical scratch (1×11 px on rows pooled by f), over 3×3 grid cells (a speck) and over 7×7 cells (a blotch).
    Averages are smooth, so they are computed pooled and upsampled; the matte's edge is what matters, and it is
    carried by `keep` before pooling."""
    weighted = torch.cat([rgb * keep, keep], dim=1)
    rows = _box(F.avg_pool2d(weighted, (factor, 1), ceil_mode=True, count_include_pad=False), 1, 11)
    fills = [_rows_back(rows, factor, rgb)]
    cells = F.avg_pool2d(weighted, factor, ceil_mode=True, count_include_pad=False)
    for size in (3, 7):
        fills.append(planar(upsample_from_grid(_box(cells, size, size), factor, interleaved(rgb))))
    return [fill[:, :3] / (fill[:, 3:4] + _EPS) for fill in fills]


def _weighted_sum(logits: torch.Tensor, candidates: list[torch.Tensor]) -> torch.Tensor:
    """Σ softmax(logits)_k · candidate_k, the softmax written element-wise (ONNX Runtime's channel Softmax over a
    full-resolution frame is slower than these few products)."""
    scores = torch.exp(logits - logits.max(dim=1, keepdim=True)[0])
    total = scores.sum(dim=1, keepdim=True)
    result = candidates[0] * scores[:, 0:1]
    for index in range(1, len(candidates)):
        result = result + candidates[index] * scores[:, index:index + 1]
    return result / total
