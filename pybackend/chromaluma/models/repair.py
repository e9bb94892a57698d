"""The repair kind: dust, dirt, hairs, sparkle, scratches and blotches found and filled from the shot's own frames.

The model reads a temporal window [N, T, H, W, 4] (T = 2R + 1, the frame repaired at index R) and returns, at full
resolution, a repair candidate for every pixel, the predicted error of that candidate (log_sigma) and a damage matte
(0–1, the probability that the pixel is damage). The backend composes: outside the applied matte the frame passes
through bit for bit (docs/CONTRACT.md §1.8), so the candidate only matters where the matte says damage.

How it works, each step a fixed, exportable operation except the small network and a few learnt constants:

1. **Motion**, measured on the frames pooled by MOTION_SCALE (motion is smooth; dust is a few pixels). For each
   neighbour: a wide whole-cell search on the grid's cells (strides of COARSE_STEP cells, ±`search` strides, each
   cell matched by a COARSE_PATCH² patch of low-passed detail), then a finer whole-cell search within
   ±FINE_SEARCH half-cells of the neighbour moved by it, then a Lucas–Kanade step per cell, then the motion
   averaged over SMOOTHING_CELLS² cells, then a last Lucas–Kanade step; each step is kept only where a cell
   matches better. Matches compare luma detail (luma minus its local mean: exposure flicker does not count) with
   differences clamped at a limit that rises with the frame's own contrast (dust does not steer the motion,
   misaligned texture does). The motion's remaining mismatch per cell (its cost) says where the warp can be
   trusted. Where a first spike test (step 3, at the motion's resolution) suspects a defect, the motion and its
   cost are those of the pixels around it: a defect neither pulls the motion its fill is read along nor raises its
   own threshold.
2. **Warped neighbours.** The motion, upsampled to full resolution, warps each neighbour onto the frame (bicubic:
   a bilinear half-pixel shift softens a highlight into a false spike).
3. **The spike test** (SDI/ROD, as the classical detector in :mod:`chromaluma.damage_baselines`): how far the
   frame's luma lies outside the range of its warped neighbours around each pixel (3×3), leaving out neighbours
   that are copies of the frame (the edge rule at a clip's ends) or read from outside the picture (and nothing
   where fewer than two remain of more); grown into the defect's soft edge. The matte starts as this test:
   logit = gain · (spike − threshold), the threshold raised where the motion's mismatch is high and within a grid
   cell of the picture's edges; gain, threshold and the mismatch's weight are learnt. A vertical scratch stays put
   in the frame while the picture moves, so the spike test misses a faint one: the line test (how much more of a
   thin vertical line the frame has than its warped neighbours, averaged down LINE_ROWS rows) opens the matte
   there too, with a learnt gain and threshold of its own.
4. **Network.** A small context network at half resolution reads the evidence (luma detail, a column feature for
   vertical scratches, the difference to each warped neighbour, each match's cost, the spike) and adds a
   correction to the matte's logit, predicts log_sigma and one weight per candidate fill.
5. **Fills.** Candidates: each warped neighbour, their trimmed mean (for four neighbours their median: the
   classical temporal fill, favoured at the start), and three spatial fills of the frame that leave the matte out
   (normalised averages: a horizontal 1×11 px for vertical scratches, 3×3 grid cells for specks and 7×7 cells for
   large blotches). The repair is their softmax-weighted sum: colour always comes from the film itself.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from chromaluma.damage_baselines import LINE_CLAMP, LINE_ROWS, LINE_SIDE, LINE_THRESHOLD
from chromaluma.models.blocks import ContextNet, grid_factor, upsample_from_grid
from chromaluma.models.colour import GUIDE_FROM_RGBA, fixed_mix, interleaved, planar
from chromaluma.models.kinds import LOG_SIGMA0, check_radius

# The matte starts as the classical spike detector's (SDI/ROD, chromaluma.damage_baselines): logit = gain ·
# (spike − threshold), the spike grown into its soft edge; the network learns a correction on top. Gain and
# threshold are learnt too, as log-factors of these starting values.
SPIKE_GAIN0 = 60.0  # per unit of luma: a spike 0.05 above the threshold gives a matte of 0.95
SPIKE_THRESHOLD0 = 0.06  # the baseline's default threshold
MISMATCH_WEIGHT0 = 1.0  # the threshold rises by this × the best-matched neighbour's RMS detail mismatch
# The fill starts as the trimmed mean of the warped neighbours (the temporal median of the baseline, for 4
# neighbours): its softmax logit starts this much above the other candidates'.
TRIMMED_MEAN_BIAS0 = 4.0
_ABSENT = 16.0  # luma offset that takes a neighbour given as a copy of the frame (the edge rule) out of min and max
# Motion: the preference for small motion, per cell² of offset, in units of the cost's spread over the offsets.
_MOTION_PREFERENCE = 0.02
_COST_FLOOR = 1e-3  # luma detail differences below this (0–1 scale) are grain, not structure
_COLUMN_ROWS = 31  # rows the column feature averages over
_SPATIAL_CANDIDATES = 3
_EPS = 1e-3
_ABSENT_FILL = 30.0  # softmax logit taken from a neighbour that is no evidence: its weight ≈ 1e-13 of another's
_MIN_EVIDENCE = 2  # neighbours a spike test needs where the window has more than two
EDGE_THRESHOLD = 0.06  # luma added to the spike threshold within one grid cell of the picture's edges
_EDGE = 0.01  # px beyond the outermost pixel centres a read still counts as inside (motion rounding in a still shot)
COARSE_SURROUND = 7  # grid cells per side of the mean the wide search's detail leaves out
COARSE_STEP = 2  # grid cells per stride of the first, wide search
COARSE_PATCH = 11  # grid cells per side of the patch each cell is matched by in the wide search
FINE_SEARCH = 2  # half-cells each way the second search looks around the coarse motion
FINE_PATCH = 5  # half-cells per side of the patch each half-cell is matched by
NET_SCALE = 2  # the network runs on the evidence pooled by this
MOTION_SCALE = 2  # motion is measured on the frames pooled by this (it is smooth; dust is a few pixels)
LK_ITERATIONS = 1  # Lucas–Kanade steps after the searches
_ROBUST_DETAIL = 0.05  # luma detail differences beyond this count as this much: dust does not steer the motion
_CONTRAST_LIMIT = 2.0  # … or beyond this × the frame's local RMS detail, where that is more (texture is not dust)
_LK_RIDGE = 1e-5  # luma-detail gradient² that a cell needs before its motion moves
_LK_BOX = 5  # px: the local mean the Lucas–Kanade detail leaves out
SMOOTHING_CELLS = (9, 17)  # cells² each motion average tried after the first Lucas–Kanade step covers
_SMOOTHING_FLOOR = 1e-4  # cost added before the averages' weights (1 / cost) are taken
_SUSPECT_SPIKE = 0.02  # a first spike test above this (luma) suspects a defect, whose own motion is not trusted …
SUSPECT_REACH = 5  # … within this many px of the motion's resolution: the motion there is that of the …
FILL_MOTION_BOX = 23  # … FILL_MOTION_BOX² px around (at the motion's resolution) that are not suspect
# The line test starts as the classical one's (chromaluma.damage_baselines: LINE_ROWS, LINE_SIDE, LINE_CLAMP):
LINE_GAIN0 = 300.0  # per unit of line contrast: 0.01 above the threshold gives a matte of 0.95


_Matched = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # a motion, its detail residual and its cells' cost


class _Match:
    """How well a neighbour moved by a motion matches the frame, at the motion's resolution: the frame's luma detail
    (luma minus its _LK_BOX² mean: exposure flicker does not count), its gradients and the robust limit, computed once
    for every motion tried; called with a motion it returns the detail residual (frame − moved neighbours, [N, K, h,
    w]) and each `cell`'s mean squared residual clamped to the limit (dust barely raises it)."""

    def __init__(self, frame_luma: torch.Tensor, other_luma: torch.Tensor, cell: int) -> None:
        self.cell = cell
        self.others = other_luma.unsqueeze(-1)
        self.detail = frame_luma - _box(frame_luma, _LK_BOX, _LK_BOX)
        self.limit = _robust_limit(self.detail, 3 * cell)
        self.gx = 0.5 * (F.pad(self.detail, (0, 1, 0, 0), mode="replicate")[..., 1:]
                         - F.pad(self.detail, (1, 0, 0, 0), mode="replicate")[..., :-1])
        self.gy = 0.5 * (F.pad(self.detail, (0, 0, 0, 1), mode="replicate")[..., 1:, :]
                         - F.pad(self.detail, (0, 0, 1, 0), mode="replicate")[..., :-1, :])

    def __call__(self, model: RepairModel, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        warped = model.warp(self.others, flow)[:, :, 0]
        residual = self.detail - (warped - _box(warped, _LK_BOX, _LK_BOX))
        return residual, _patch_mean(_clamped(residual, self.limit) ** 2, self.cell)


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
        self.net = ContextNet(3 + 2 * others, 2 + others + 1 + _SPATIAL_CANDIDATES, width, dilations)
        self.spike_log_gain = nn.Parameter(torch.zeros(()))
        self.spike_log_threshold = nn.Parameter(torch.zeros(()))
        self.mismatch_log_weight = nn.Parameter(torch.zeros(()))
        self.line_log_gain = nn.Parameter(torch.zeros(()))
        self.line_log_threshold = nn.Parameter(torch.zeros(()))
        fill_bias = torch.zeros(others + 1 + _SPATIAL_CANDIDATES)
        fill_bias[others] = TRIMMED_MEAN_BIAS0
        self.fill_bias = nn.Parameter(fill_bias.reshape(1, -1, 1, 1))
        self.register_buffer("luma_row", torch.tensor(GUIDE_FROM_RGBA[:1]), persistent=False)
        self.register_buffer("luma_weights", torch.tensor(GUIDE_FROM_RGBA[0][:3]).reshape(1, 1, 3, 1, 1),
                             persistent=False)

    @property
    def receptive_field(self) -> int:
        """Full-resolution context each side, a multiple of f: the motion's reach (match patches, search, warp and
        upsampling), then the network's, then the coarse fill's."""
        f, m = self.factor, MOTION_SCALE
        cell = f // m  # in pixels of the motion's resolution, as every length up to `motion`
        fine = max(1, cell // 2)
        # each search: its reach (search), the detail's, the low-pass's and the patch's context, the upsampling
        searched = ((self.search * COARSE_STEP + COARSE_PATCH // 2 + COARSE_SURROUND // 2 + COARSE_STEP + 2) * cell
                    + (FINE_SEARCH + FINE_PATCH // 2 + 3) * fine)
        travel = self.search * COARSE_STEP * cell + FINE_SEARCH * fine + 2 * LK_ITERATIONS * cell  # largest motion
        match = _LK_BOX // 2 + 1 + 3 * cell  # a match's detail box and gradient, its robust limit and cell patch
        refined = 2 * (LK_ITERATIONS + 1) * match  # two Lucas–Kanade passes
        smoothed = len(SMOOTHING_CELLS) * match + sum(cells // 2 + 1 for cells in SMOOTHING_CELLS) * cell
        surrounding = 1 + SUSPECT_REACH + FILL_MOTION_BOX // 2 + 1
        motion = m * (searched + travel + refined + smoothed + surrounding + 1)
        # the line test: the warped neighbours' lines averaged down LINE_ROWS rows (pooled by f), a pixel wider
        lines = motion + ((LINE_ROWS // f | 1) // 2 + 1) * f + LINE_SIDE + 3
        evidence = max(motion, (_COLUMN_ROWS // 2 + 2) * 1 + f, lines)
        # 3: the spike grown into its edge and dilated; the network at half resolution and its upsampling
        reach = evidence + 3 + NET_SCALE * (self.net.reach + 2) + 5 * f
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
        copies = _copies(frame_luma, other_luma)
        # [N, 2R, 3, H, W], bicubic: the spike test compares against sharp neighbours (a bilinear half-pixel shift
        # softens a highlight into a false spike)
        warped = self.warp(others[..., :3], flow)
        warped_luma = (warped * self.luma_weights).sum(dim=2)
        # [N, 2R, H, W]: 1 where a neighbour is no evidence (a copy of the frame, or warped from outside the picture)
        absent = torch.maximum(copies, _outside(flow))
        spike = _grown(_spike_index(frame_luma, warped_luma, absent))
        evidence = torch.cat([frame_luma - _box(frame_luma, 5, 5), _column_feature(frame_luma, self.factor),
                              frame_luma - warped_luma, cost], dim=1)
        # the network refines the spike test's matte and picks the fills: at half resolution (sharp edges come
        # from the spike test), the evidence averaged over 2×2 pixels and the spike taken at its largest
        pooled = torch.cat([F.avg_pool2d(evidence, NET_SCALE, ceil_mode=True, count_include_pad=False),
                            F.max_pool2d(spike, NET_SCALE, ceil_mode=True)], dim=1)
        out = planar(upsample_from_grid(self.net(pooled), NET_SCALE, planar_like(frame_luma)))
        prior = self.matte_prior(frame_luma, warped_luma, spike, cost, absent)
        matte = torch.sigmoid(out[:, 0:1] + prior)
        log_sigma = out[:, 1:2] + LOG_SIGMA0
        frame_rgb = planar(frame[..., :3])
        candidates = ([warped[:, k] for k in range(warped.shape[1])] + [_trimmed_mean(warped, absent)]
                      + _spatial_fills(frame_rgb, 1.0 - matte, self.factor))
        # a neighbour that is no evidence (a copy of the frame holds its damage; a read from outside the picture is
        # the edge repeated) is no fill either
        logits = out[:, 2:] + self.fill_bias
        logits = torch.cat([logits[:, :absent.shape[1]] - _ABSENT_FILL * absent, logits[:, absent.shape[1]:]], dim=1)
        repaired = _weighted_sum(logits, candidates)
        return torch.cat([interleaved(repaired), frame[..., 3:4]], dim=-1), log_sigma, matte

    def matte_prior(self, frame_luma: torch.Tensor, warped_luma: torch.Tensor, spike: torch.Tensor,
                    cost: torch.Tensor, absent: torch.Tensor) -> torch.Tensor:
        """The matte's logit before the network's correction ([N, 1, H, W]): the spike test's, gain · (spike −
        threshold), or the line test's for a vertical scratch, whichever says damage more. A spike needs to be larger
        where the motion matches the picture poorly (its cost) and along the picture's edges (a match patch there is
        partly the edge repeated); a line, along the edges too. A scratch that never moves (a locked-off shot) is
        the picture's to any temporal test, and the line test says nothing there."""
        edge = EDGE_THRESHOLD * (1.0 - _inner(frame_luma, self.factor))
        threshold = (SPIKE_THRESHOLD0 * torch.exp(self.spike_log_threshold)
                     + MISMATCH_WEIGHT0 * torch.exp(self.mismatch_log_weight) * cost.amin(dim=1, keepdim=True) + edge)
        spikes = SPIKE_GAIN0 * torch.exp(self.spike_log_gain) * (spike - threshold)
        lines = LINE_GAIN0 * torch.exp(self.line_log_gain) * (
            _scratch_index(frame_luma, warped_luma, absent, self.factor)
            - LINE_THRESHOLD * torch.exp(self.line_log_threshold) - edge)
        return torch.maximum(spikes, lines)

    def motion(self, frame_luma: torch.Tensor, other_luma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each neighbour's motion onto the frame at full resolution, in px ([N, 2·2R, H, W]: x then y per
        neighbour), and the match's remaining cost ([N, 2R, H, W]), measured on the frames pooled by MOTION_SCALE:
        a wide whole-cell search (COARSE_STEP-cell strides, ±search strides), a whole-cell search within
        ±FINE_SEARCH half-cells of the neighbour moved by it, a Lucas–Kanade step (:meth:`refined`), the motion
        averaged over larger areas where that matches better (:meth:`smoothed`), and a last Lucas–Kanade step."""
        m = MOTION_SCALE
        frame_small = F.avg_pool2d(frame_luma, m, ceil_mode=True, count_include_pad=False)
        others_small = F.avg_pool2d(other_luma, m, ceil_mode=True, count_include_pad=False)
        cell = self.factor // m  # the grid's cells in pixels of the motion's resolution
        like = planar_like(frame_small)
        fine_cell = max(1, cell // 2)
        coarse = planar(upsample_from_grid(self.cell_offsets(frame_small, others_small, cell, self.search,
                                                             COARSE_PATCH, COARSE_STEP, COARSE_SURROUND), cell, like))
        moved = self.warp(others_small.unsqueeze(-1), coarse)[:, :, 0]
        fine = planar(upsample_from_grid(self.cell_offsets(frame_small, moved, fine_cell, FINE_SEARCH, FINE_PATCH),
                                         fine_cell, like))
        match = _Match(frame_small, others_small, cell)
        flow, residual, cost = self.smoothed(match, *self.refined(match, coarse + fine))
        flow, _, cost = self.refined(match, flow, (residual, cost))
        cost = planar(upsample_from_grid(torch.sqrt(cost + 1e-8), cell, like))
        # a defect pulls the motion measured on it: where a first spike test suspects one, the motion (and its
        # cost) come from the pixels around it instead
        first = _spike_index(frame_small, self.warp(match.others, flow)[:, :, 0],
                             torch.maximum(_copies(frame_small, others_small), _outside(flow)))
        flow, cost = _surrounding_motion(flow, cost, first)
        full = planar_like(frame_luma)
        return planar(upsample_from_grid(flow * float(m), m, full)), planar(upsample_from_grid(cost, m, full))

    @staticmethod
    def cell_offsets(frame_luma: torch.Tensor, other_luma: torch.Tensor, cell: int, search: int, patch: int = 3,
                     step: int = 1, surround: int = 3) -> torch.Tensor:
        """The offset (px, [N, 2K, h, w] on the grid of `cell` px: x then y per neighbour), a multiple of `step`
        cells within ±search steps, that best matches each cell's patch² of luma detail (luma minus its
        surround²-cell mean: exposure flicker does not count; differences clamped so dust does not steer it) to the
        neighbours [N, K, H, W]. The cells stay the grid's (a tile's cells are the whole frame's, docs/CONTRACT.md
        §3); a wide search takes `step`-cell strides."""
        reach = search * step
        centre = _detail(F.avg_pool2d(frame_luma, cell, ceil_mode=True, count_include_pad=False), surround)
        others = _detail(F.avg_pool2d(other_luma, cell, ceil_mode=True, count_include_pad=False), surround)
        if step > 1:  # strides of `step` cells compare detail low-passed to match: no aliasing between strides
            centre, others = _box(centre, step + 1, step + 1), _box(others, step + 1, step + 1)
        limit = _robust_limit(centre, patch)
        padded = F.pad(others, (reach, reach, reach, reach), mode="replicate")
        offsets = [(dy * step, dx * step) for dy in range(-search, search + 1) for dx in range(-search, search + 1)]
        costs = torch.stack([_box(_clamped(centre - padded[:, :, reach + dy:(dy - reach) or None,
                                                            reach + dx:(dx - reach) or None], limit) ** 2,
                                  patch, patch)
                             for dy, dx in offsets], dim=2)  # [N, K, S², h, w], S = 2·search + 1
        # the best offset: the lowest cost plus a slight preference for small motion, in units of the cell's own
        # spread over the offsets, so that a flat cell (all offsets alike) stays put rather than follow its grain
        distance = torch.tensor([float(dx * dx + dy * dy) / (step * step) for dy, dx in offsets], dtype=costs.dtype,
                                device=costs.device).reshape(1, 1, -1, 1, 1)
        spread = costs.mean(dim=2, keepdim=True) - costs.amin(dim=2, keepdim=True) + _COST_FLOOR
        best = torch.argmin(costs + (_MOTION_PREFERENCE * spread) * distance, dim=2)
        side = 2 * search + 1
        column, row = best % side, torch.div(best, side, rounding_mode="floor")
        found = torch.stack([(column - search).to(costs.dtype) * (step * cell),
                             (row - search).to(costs.dtype) * (step * cell)], dim=2)
        batch, count, _, height, width = found.shape
        return found.reshape(batch, 2 * count, height, width)

    def refined(self, match: _Match, flow: torch.Tensor,
                known: tuple[torch.Tensor, torch.Tensor] | None = None) -> _Matched:
        """`flow` ([N, 2K, h, w] at the motion's resolution) after LK_ITERATIONS Lucas–Kanade steps on the luma
        detail, each solved per cell over its 3×3-cell patch with a small ridge (a flat cell keeps its motion), at
        most half a cell, kept only where it matches better; a pixel whose detail differs by more than the robust
        limit (dust, an occlusion) does not pull the motion. Also the residual and each cell's remaining mean
        squared detail difference (its cost, [N, K, h/cell, w/cell]); `known`: `flow`'s residual and cost."""
        cell, like = match.cell, planar_like(match.detail)
        residual, cost = match(self, flow) if known is None else known
        for _ in range(LK_ITERATIONS):
            stepped = flow + planar(upsample_from_grid(
                _lucas_kanade_step(match.gx, match.gy, residual, match.limit, cell), cell, like))
            new_residual, new_cost = match(self, stepped)
            better = (new_cost < cost).to(cost.dtype)  # no step makes a cell's match worse
            flow = flow + planar(upsample_from_grid(better.repeat_interleave(2, dim=1), cell, like)) * (stepped - flow)
            residual = residual + planar(upsample_from_grid(better, cell, like)) * (new_residual - residual)
            cost = torch.minimum(cost, new_cost)
        return flow, residual, cost

    def smoothed(self, match: _Match, flow: torch.Tensor, residual: torch.Tensor, cost: torch.Tensor) -> _Matched:
        """`flow` replaced, cell by cell, by its average over SMOOTHING_CELLS² cells (each cell weighted by how well
        it matches) wherever that matches better: film motion is mostly smooth (a pan, a zoom, a tilt), and one
        cell's match is noisy where its patch holds little structure, while a moving object keeps its own."""
        cell, like = match.cell, planar_like(match.detail)
        cells_flow = F.avg_pool2d(flow, cell, ceil_mode=True, count_include_pad=False)
        for cells in SMOOTHING_CELLS:
            weight = (1.0 / (cost + _SMOOTHING_FLOOR)).repeat_interleave(2, dim=1)
            average = planar(upsample_from_grid(_box(cells_flow * weight, cells, cells) / _box(weight, cells, cells),
                                                cell, like))
            new_residual, new_cost = match(self, average)
            better = (new_cost < cost).to(cost.dtype)
            flow = flow + planar(upsample_from_grid(better.repeat_interleave(2, dim=1), cell, like)) * (average - flow)
            residual = residual + planar(upsample_from_grid(better, cell, like)) * (new_residual - residual)
            cells_flow = cells_flow + better.repeat_interleave(2, dim=1) * (
                F.avg_pool2d(average, cell, ceil_mode=True, count_include_pad=False) - cells_flow)
            cost = torch.minimum(cost, new_cost)
        return flow, residual, cost

    @staticmethod
    def warp(rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """Neighbours [N, K, H, W, C] (RGB, or luma with C = 1) read at (x + flow_x, y + flow_y) → [N, K, C, H, W]
        (bicubic, edges clamped)."""
        batch, count, height, width, channels = rgb.shape
        xs, ys = _pixel_grid(height, width, rgb)
        flow = flow.reshape(batch, count, 2, height, width)
        gx = (xs + flow[:, :, 0]) * (2.0 / (width - 1)) - 1.0
        gy = (ys + flow[:, :, 1]) * (2.0 / (height - 1)) - 1.0
        grid = torch.stack([gx, gy], dim=-1).reshape(batch * count, height, width, 2)
        planes = rgb.reshape(batch * count, height, width, channels).permute(0, 3, 1, 2)
        warped = F.grid_sample(planes, grid, mode="bicubic", padding_mode="border", align_corners=True)
        return warped.reshape(batch, count, channels, height, width)


def _pixel_grid(height: int, width: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel x [1, 1, 1, W] and y [1, 1, H, 1] positions, in `like`'s dtype and device."""
    xs = torch.arange(width, dtype=like.dtype, device=like.device).reshape(1, 1, 1, -1)
    ys = torch.arange(height, dtype=like.dtype, device=like.device).reshape(1, 1, -1, 1)
    return xs, ys


def _present_range(values: torch.Tensor, absent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The highest and the lowest of `values` over the neighbours (dim 1) that are not `absent` (1 = left out,
    broadcast against `values`); where every neighbour is absent the two are meaningless (callers check)."""
    return (values - _ABSENT * absent).amax(dim=1), (values + _ABSENT * absent).amin(dim=1)


def _copies(frame_luma: torch.Tensor, other_luma: torch.Tensor) -> torch.Tensor:
    """[N, 2R, 1, 1]: 1 where a neighbour is the frame itself (the edge rule's copy at a clip's ends, docs/CONTRACT.md
    §1.6), else 0. Such a neighbour holds the frame's own damage: it is no evidence and no fill."""
    difference = (other_luma - frame_luma).abs().amax(dim=(2, 3), keepdim=True)
    return (difference <= 0.0).to(frame_luma.dtype)


def _inner(luma: torch.Tensor, margin: int) -> torch.Tensor:
    """[1, 1, H, W]: 1 at least `margin` px inside the picture's edges, else 0. Motion is measured on patches, and
    a patch at the edge is half made of the edge repeated: its match, and so a spike there, is less sure."""
    height, width = luma.shape[2], luma.shape[3]
    xs, ys = _pixel_grid(height, width, luma)
    inside = (xs >= margin) & (xs < width - margin) & (ys >= margin) & (ys < height - margin)
    return inside.to(luma.dtype)


def _outside(flow: torch.Tensor) -> torch.Tensor:
    """[N, K, H, W]: 1 where a neighbour's motion [N, 2K, H, W] reads it from beyond its outermost pixels' centres
    (the edge repeated there is not the picture that moved in), else 0."""
    height, width = flow.shape[2], flow.shape[3]
    xs, ys = _pixel_grid(height, width, flow)
    xs, ys = xs + flow[:, 0::2], ys + flow[:, 1::2]
    inside = (xs > -_EDGE) & (xs < width - 1 + _EDGE) & (ys > -_EDGE) & (ys < height - 1 + _EDGE)
    return 1.0 - inside.to(flow.dtype)


def _spike_index(frame_luma: torch.Tensor, warped_luma: torch.Tensor, absent: torch.Tensor) -> torch.Tensor:
    """How far the frame's luma lies outside the range of its warped neighbours ([N, 1, H, W], ≥ 0): the SDI/ROD
    index of the classical detector, the range taken over each pixel's 3×3 neighbourhood so that a warp a pixel off
    at a fine edge is no spike (dust is larger than that, or unlike anything around it). `absent` neighbours (copies
    of the frame, reads from outside the picture) are left out; with fewer than _MIN_EVIDENCE left (of more) or
    none left the index is 0."""
    highest, lowest = (x.unsqueeze(1) for x in _present_range(warped_luma, absent))
    highest = F.max_pool2d(highest, 3, stride=1, padding=1)
    lowest = -F.max_pool2d(-lowest, 3, stride=1, padding=1)
    spike = torch.relu(torch.maximum(frame_luma - highest, lowest - frame_luma))
    # one neighbour alone is too little evidence where there could be more (at a picture edge the others read from
    # outside it, and the motion there is least sure)
    needed = float(max(1, min(_MIN_EVIDENCE, absent.shape[1] - 1)))
    present = (1.0 - absent).sum(dim=1, keepdim=True)
    return spike * (present >= needed).to(spike.dtype)


def _surrounding_motion(flow: torch.Tensor, cost: torch.Tensor,
                        spike: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`flow` [N, 2K, H, W] and its `cost` [N, K, H, W] where no defect is suspected (`spike` [N, 1, H, W] at most
    _SUSPECT_SPIKE within SUSPECT_REACH px); elsewhere their averages over the FILL_MOTION_BOX² px around that are
    not suspect (as they are where none are): a defect neither pulls the motion nor raises its own threshold."""
    suspect = F.max_pool2d((spike > _SUSPECT_SPIKE).to(flow.dtype), 2 * SUSPECT_REACH + 1, stride=1,
                           padding=SUSPECT_REACH)
    keep = 1.0 - suspect
    sums = _box(torch.cat([flow * keep, cost * keep, keep], dim=1), FILL_MOTION_BOX, FILL_MOTION_BOX)
    around = sums[:, :-1] / sums[:, -1:].clamp(min=_EPS)
    use = suspect * (sums[:, -1:] > _EPS).to(flow.dtype)
    moved = torch.cat([flow, cost], dim=1)
    moved = moved + use * (around - moved)
    return moved[:, :flow.shape[1]], moved[:, flow.shape[1]:]


def _line_contrast(luma: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """How much each pixel of `luma` [N, C, H, W] is a bright and a dark thin vertical line (its luma above, or below,
    the picture LINE_SIDE px either side, the smaller of the two, clamped to ±LINE_CLAMP), averaged down LINE_ROWS
    rows; computed on rows pooled by `factor` (a vertical line loses nothing) → two [N, C, H / factor, W]."""
    rows = F.avg_pool2d(luma, (factor, 1), ceil_mode=True, count_include_pad=False)
    beside = _box(rows, 1, 3)
    left = F.pad(beside, (LINE_SIDE, 0, 0, 0), mode="replicate")[..., :-LINE_SIDE]
    right = F.pad(beside, (0, LINE_SIDE, 0, 0), mode="replicate")[..., LINE_SIDE:]
    bright = torch.minimum(rows - left, rows - right).clamp(-LINE_CLAMP, LINE_CLAMP)
    dark = torch.minimum(left - rows, right - rows).clamp(-LINE_CLAMP, LINE_CLAMP)
    height = LINE_ROWS // factor | 1
    return _box(bright, height, 1), _box(dark, height, 1)


def _scratch_index(frame_luma: torch.Tensor, warped_luma: torch.Tensor, absent: torch.Tensor,
                   factor: int) -> torch.Tensor:
    """How much more of a vertical line the frame has at each pixel than its warped neighbours have there on average
    ([N, 1, H, W], widened by a pixel each side into the scratch's soft edge): a scratch stays put in the frame
    while the picture moves. Neighbours that are `absent` (copies of the frame, reads from outside the picture) are
    left out; with fewer than _MIN_EVIDENCE left (of more) the index is 0."""
    frame_bright, frame_dark = _line_contrast(frame_luma, factor)
    bright, dark = _line_contrast(warped_luma, factor)
    present = 1.0 - F.max_pool2d(absent, (factor, 1), ceil_mode=True)
    count = present.sum(dim=1, keepdim=True)
    share = present / count.clamp(min=1.0)  # each present neighbour's weight in their mean
    bright = (torch.relu(bright) * share).sum(dim=1, keepdim=True)
    dark = (torch.relu(dark) * share).sum(dim=1, keepdim=True)
    needed = float(max(1, min(_MIN_EVIDENCE, absent.shape[1] - 1)))
    index = torch.relu(torch.maximum(frame_bright - bright, frame_dark - dark)) * (count >= needed).to(count.dtype)
    return F.max_pool2d(_rows_back(index, factor, frame_luma), (1, 3), stride=1, padding=(0, 1))


def _grown(spike: torch.Tensor) -> torch.Tensor:
    """The spike index grown into the defect's soft edge as the classical detector grows its matte: a pixel within
    2 px of a spike keeps up to twice its own index, then every pixel takes its 3×3 neighbourhood's maximum."""
    near = F.max_pool2d(spike, 5, stride=1, padding=2)
    return F.max_pool2d(torch.maximum(spike, torch.minimum(near, 2.0 * spike)), 3, stride=1, padding=1)


def _trimmed_mean(warped: torch.Tensor, absent: torch.Tensor) -> torch.Tensor:
    """Per channel, the mean of the warped neighbours [N, K, 3, H, W] that are not `absent`, without the
    highest and the lowest when three or more remain (for four, their median) → [N, 3, H, W]."""
    present = (1.0 - absent).unsqueeze(2)  # [N, K, 1, H, W]
    count = present.sum(dim=1)
    total = (warped * present).sum(dim=1)
    highest, lowest = _present_range(warped, absent.unsqueeze(2))
    trimmed = (total - highest - lowest) / (count - 2.0).clamp(min=1.0)
    return torch.where(count >= 3.0, trimmed, total / count.clamp(min=1.0))


def _lucas_kanade_step(gx: torch.Tensor, gy: torch.Tensor, residual: torch.Tensor, limit: torch.Tensor,
                       cell: int) -> torch.Tensor:
    """One Lucas–Kanade step per cell ([N, 2K, h, w]: x then y per neighbour, px) from the frame's detail gradients
    [N, 1, H, W] and the detail residual (frame − warped neighbour) [N, K, H, W], solved over each cell's 3×3-cell
    patch from the pixels whose residual fine detail can explain."""
    trusted = (residual.abs() < limit).to(residual.dtype)
    a11, a12, a22 = (_patch_mean(x * trusted, cell) + ridge
                     for x, ridge in ((gx * gx, _LK_RIDGE), (gx * gy, 0.0), (gy * gy, _LK_RIDGE)))
    determinant = a11 * a22 - a12 * a12
    b1, b2 = _patch_mean(gx * residual * trusted, cell), _patch_mean(gy * residual * trusted, cell)
    reach = 0.5 * cell
    dx = ((a22 * b1 - a12 * b2) / determinant).clamp(-reach, reach)
    dy = ((a11 * b2 - a12 * b1) / determinant).clamp(-reach, reach)
    batch, count, height, width = dx.shape
    return torch.stack([dx, dy], dim=2).reshape(batch, 2 * count, height, width)


def _robust_limit(detail: torch.Tensor, size: int) -> torch.Tensor:
    """The largest luma-detail difference a match counts in full ([N, 1, H, W]): _ROBUST_DETAIL, or _CONTRAST_LIMIT ×
    the frame's RMS detail over size² where that is more. Beyond it a difference is dust or an occlusion and must not
    steer the motion; below it, in strong texture, it is the texture misaligned, which must."""
    size = size | 1
    return torch.clamp(_CONTRAST_LIMIT * torch.sqrt(_box(detail * detail, size, size) + 1e-12), min=_ROBUST_DETAIL)


def _clamped(x: torch.Tensor, limit: torch.Tensor) -> torch.Tensor:
    """`x` clamped to ±`limit` (a tensor, broadcast)."""
    return torch.minimum(torch.maximum(x, -limit), limit)


def _patch_mean(x: torch.Tensor, factor: int) -> torch.Tensor:
    """The mean of full-resolution `x` over each grid cell's 3×3-cell patch (NCHW at the grid)."""
    cells = F.avg_pool2d(x, factor, ceil_mode=True, count_include_pad=False)
    return _box(cells, 3, 3)


def planar_like(luma: torch.Tensor) -> torch.Tensor:
    """An NHWC tensor of the size of NCHW `luma` (what upsample_from_grid crops to)."""
    return interleaved(luma)


def _detail(grid: torch.Tensor, surround: int = 3) -> torch.Tensor:
    """Luma minus its surround²-cell mean: structure without the frame's exposure."""
    return grid - _box(grid, surround, surround)


def _box(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Mean over a rows × cols window (odd sizes), the window shrunk at the frame's edges; one pass per axis."""
    if rows > 1:
        x = F.avg_pool2d(x, (rows, 1), stride=1, padding=(rows // 2, 0), count_include_pad=False)
    if cols > 1:
        x = F.avg_pool2d(x, (1, cols), stride=1, padding=(0, cols // 2), count_include_pad=False)
    return x


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
