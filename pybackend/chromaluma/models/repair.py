"""The repair kind: dust, dirt, hairs, sparkle, scratches and blotches found and filled from the shot's own frames.

The model reads the frame repaired [N, H, W, 4] and its neighbours [N, 2R, H, W, 4] (t−R … t−1, t+1 … t+R), the
neighbours already moved onto the frame by the backend (model format 5, docs/CONTRACT.md §1.8:
:func:`chromaluma.align.neighbours.compensated_neighbours`, DIS optical flow; their alpha is the evidence, 1 where a
neighbour shows the picture, 0 where it is a copy of the frame or was read beyond its edge). It returns, at full
resolution, a repair candidate for every pixel, the predicted error of that candidate (log_sigma) and a damage
matte (0–1, the probability that the pixel is damage). The backend composes: outside the applied matte the frame
passes through bit for bit (§1.8), so the candidate only matters where the matte says damage.

How it works, each step a fixed, exportable operation except the small network and a few learnt constants:

1. **Mismatch.** How well each moved neighbour matches the frame, per grid cell: the RMS difference of their luma
   detail (luma minus its local mean: exposure flicker does not count), each difference clamped at a limit that
   rises with the frame's own contrast (dust barely counts, misaligned texture does), measured on the frames
   pooled by MOTION_SCALE. Where a first spike test suspects a defect, the mismatch is that of the pixels around
   it: a defect does not raise its own threshold.
2. **The spike test** (SDI/ROD, as the classical detector in :mod:`chromaluma.damage_baselines`): how far the
   frame's luma lies outside the range of its neighbours at each pixel, the range widened by SPIKE_TOLERANCE of
   its widening over the pixel's 3×3 neighbourhood (a warp a fraction of a pixel off at a fine edge is no spike),
   leaving out neighbours that are no evidence (and nothing where fewer than two remain of more); grown into the
   defect's soft edge. The matte starts as this test: logit = gain · (spike − threshold), the threshold raised
   where the mismatch is high and within a grid cell of the picture's edges; gain, threshold and the mismatch's
   weight are learnt. A vertical scratch stays put in the frame while the picture moves, so the spike test misses
   a faint one: the line test (how much more of a thin vertical line the frame has than its neighbours, averaged
   down LINE_ROWS rows) opens the matte there too, with a learnt gain and threshold of its own.
3. **Network.** A small context network at half resolution reads the evidence (luma detail, a column feature for
   vertical scratches, the difference to each neighbour, each one's mismatch, the spike) and adds a correction to
   the matte's logit, predicts log_sigma and one weight per candidate fill.
4. **Fills.** Candidates: each neighbour, their trimmed mean ranked by luma (for four neighbours the median pair's
   mean: the classical temporal fill, favoured at the start), and three spatial fills of the frame that leave the
   matte out (normalised averages: a horizontal 1×11 px for vertical scratches, 3×3 grid cells for specks and 7×7
   cells for large blotches). The repair is their softmax-weighted sum: colour always comes from the film itself.
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
# The fill starts as the trimmed mean of the warped neighbours ranked by luma (for 4 neighbours the median pair's mean,
# as the baseline's temporal median): its softmax logit starts this much above the other candidates'.
TRIMMED_MEAN_BIAS0 = 4.0
SPIKE_TOLERANCE = 0.25  # share of the neighbours' range widening over 3×3 px that a spike must also clear
_ABSENT = 16.0  # luma offset that takes a neighbour that is no evidence out of min and max
_COLUMN_ROWS = 31  # rows the column feature averages over
_SPATIAL_CANDIDATES = 3
_EPS = 1e-3
_ABSENT_FILL = 30.0  # softmax logit taken from a neighbour that is no evidence: its weight ≈ 1e-13 of another's
_TIE = 1e-5  # luma added per neighbour index when ranking for the trimmed mean: equal lumas rank in neighbour order
_MIN_EVIDENCE = 2  # neighbours a spike test needs where the window has more than two
EDGE_THRESHOLD = 0.06  # luma added to the spike threshold within one grid cell of the picture's edges
NET_SCALE = 2  # the network runs on the evidence pooled by this
MOTION_SCALE = 2  # the mismatch is measured on the frames pooled by this (it is smooth; dust is a few pixels)
_ROBUST_DETAIL = 0.05  # luma detail differences beyond this count as this much: dust does not raise the mismatch
_CONTRAST_LIMIT = 2.0  # … or beyond this × the frame's local RMS detail, where that is more (texture is not dust)
_DETAIL_BOX = 5  # px (at the mismatch's resolution): the local mean the luma detail leaves out
_SUSPECT_SPIKE = 0.02  # a first spike test above this (luma) suspects a defect, whose own mismatch is not taken …
SUSPECT_REACH = 5  # … within this many px of the mismatch's resolution: the mismatch there is that of the …
SURROUNDING_BOX = 23  # … SURROUNDING_BOX² px around (at the mismatch's resolution) that are not suspect
# The line test starts as the classical one's (chromaluma.damage_baselines: LINE_ROWS, LINE_SIDE, LINE_CLAMP):
LINE_GAIN0 = 300.0  # per unit of line contrast: 0.01 above the threshold gives a matte of 0.95


class RepairModel(nn.Module):
    """Damage matte and repair from a temporal window (see the module docstring)."""

    kind = "repair"

    def __init__(self, processing_scale: float = 0.25, width: int = 16, dilations: tuple[int, ...] = (1, 2, 4, 8),
                 temporal_radius: int = 2, search: int | None = None) -> None:
        """`search` is accepted and ignored: models before format 5 searched their own motion that far, and the
        configs of their runs still name it."""
        super().__init__()
        del search
        self.factor = grid_factor(processing_scale)
        self.temporal_radius = check_radius(temporal_radius)
        if self.temporal_radius < 1:
            raise ValueError("temporal_radius 0: a repair model reads the frames around the one it repairs (1 or more)")
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
        # each neighbour's luma and alpha from its four planes: the weights of one grouped 1×1 convolution
        mix = torch.tensor((GUIDE_FROM_RGBA[0], GUIDE_FROM_RGBA[3])).reshape(2, 4, 1, 1).repeat(others, 1, 1, 1)
        self.register_buffer("neighbour_mix", mix, persistent=False)

    @property
    def receptive_field(self) -> int:
        """Full-resolution context each side, a multiple of f: the evidence's reach (the mismatch, the line test,
        the column feature), then the spike's growth, the network's and the coarse fill's."""
        f, m = self.factor, MOTION_SCALE
        cell = max(1, f // m)  # the grid's cells at the mismatch's resolution
        # the detail's box, the robust limit's, a cell's 3×3-cell patch and its upsampling; the suspects' reach
        mismatch = m * (_DETAIL_BOX // 2 + 1 + (3 * cell) // 2 + 1 + 3 * cell + 1 + SUSPECT_REACH
                        + SURROUNDING_BOX // 2 + 2)
        # the line test: lines averaged down LINE_ROWS rows (pooled by f), a pixel wider
        lines = ((LINE_ROWS // f | 1) // 2 + 1) * f + LINE_SIDE + 3
        evidence = max(mismatch, (_COLUMN_ROWS // 2 + 2) + f, lines)
        # 3: the spike grown into its edge and dilated; the network at half resolution and its upsampling
        reach = evidence + 3 + NET_SCALE * (self.net.reach + 2) + 5 * f
        return -(-reach // f) * f

    def upsample(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:  # noqa: ARG002 — full resolution already
        """Full resolution already: NCHW → NHWC."""
        return interleaved(x)

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(repair candidate RGBA [N, H, W, 4] with the frame's alpha, log_sigma [N, 1, H, W], matte [N, 1, H, W])
        from a window whose neighbours are already moved onto its centre frame (alpha: their evidence)."""
        radius = self.temporal_radius
        return self.restore(window[:, radius], torch.cat([window[:, :radius], window[:, radius + 1:]], dim=1))

    def restore(self, frame: torch.Tensor, others: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`forward` on the frame [N, H, W, 4] and its moved neighbours [N, 2R, H, W, 4] (t−R … t−1, t+1 … t+R) given
        apart: the exported graph receives them apart, and joining them into a window only to split it again costs
        two full-resolution copies of five frames."""
        # [N, 1, H, W], squeezed: an indexed plane is a copy in ONNX Runtime
        frame_luma = fixed_mix(frame, self.luma_row).squeeze(-1).unsqueeze(1)
        neighbours, neighbour_luma, absent = self.neighbour_planes(others)
        found = _spike_index(frame_luma, neighbour_luma, absent)
        cost = _mismatch(frame_luma, neighbour_luma, found, self.factor)
        spike = _grown(found)
        evidence = torch.cat([frame_luma - _box(frame_luma, 5, 5), _column_feature(frame_luma, self.factor),
                              frame_luma - neighbour_luma, cost], dim=1)
        # the network refines the spike test's matte and picks the fills: at half resolution (sharp edges come
        # from the spike test), the evidence averaged over 2×2 pixels and the spike taken at its largest
        pooled = torch.cat([F.avg_pool2d(evidence, NET_SCALE, ceil_mode=True, count_include_pad=False),
                            F.max_pool2d(spike, NET_SCALE, ceil_mode=True)], dim=1)
        out = planar(upsample_from_grid(self.net(pooled), NET_SCALE, planar_like(frame_luma)))
        prior = self.matte_prior(frame_luma, neighbour_luma, spike, cost, absent)
        matte = torch.sigmoid(out[:, 0:1] + prior)
        log_sigma = out[:, 1:2] + LOG_SIGMA0
        frame_rgb = planar(frame[..., :3])
        # a neighbour that is no evidence (a copy of the frame holds its damage; a read from beyond the edge is the
        # edge repeated) is no fill either
        logits = out[:, 2:] + self.fill_bias
        logits = torch.cat([logits[:, :absent.shape[1]] - _ABSENT_FILL * absent, logits[:, absent.shape[1]:]], dim=1)
        repaired = _weighted_sum(logits, [neighbours[:, k] for k in range(neighbours.shape[1])],
                                 _trimmed_mean_weights(neighbour_luma, absent),
                                 _spatial_fills(frame_rgb, 1.0 - matte, self.factor))
        return torch.cat([interleaved(repaired), frame[..., 3:4]], dim=-1), log_sigma, matte

    def neighbour_planes(self, others: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The moved neighbours [N, 2R, H, W, 4] planar: their colour [N, 2R, 3, H, W], luma [N, 2R, H, W] and
        absence [N, 2R, H, W] (1 where a neighbour is no evidence: a copy of the frame, or read from beyond its edge).

        One transpose, then luma and alpha of every neighbour in one grouped 1×1 convolution, taken apart as every
        other channel: ONNX Runtime gathers a plane from the interleaved input (or from the planes) several times
        slower (at 2K: 90 ms for the luma's MatMul and plane, 50 ms for the alpha's)."""
        count = 2 * self.temporal_radius
        planes = others.permute(0, 1, 4, 2, 3)
        mixed = F.conv2d(planes.reshape(planes.shape[0], 4 * count, planes.shape[3], planes.shape[4]),
                         self.neighbour_mix, groups=count)
        return planes[:, :, :3], mixed[:, 0::2], (mixed[:, 1::2] < 0.5).to(mixed.dtype)

    def matte_prior(self, frame_luma: torch.Tensor, warped_luma: torch.Tensor, spike: torch.Tensor,
                    cost: torch.Tensor, absent: torch.Tensor) -> torch.Tensor:
        """The matte's logit before the network's correction ([N, 1, H, W]): the spike test's, gain · (spike −
        threshold), or the line test's for a vertical scratch, whichever says damage more. A spike needs to be larger
        where the neighbours match the picture poorly (their mismatch) and along the picture's edges (the flow there is
        least sure); a line, along the edges too. A scratch that never moves (a locked-off shot) is
        the picture's to any temporal test, and the line test says nothing there."""
        edge = EDGE_THRESHOLD * (1.0 - _inner(frame_luma, self.factor))
        best = (cost + absent).amin(dim=1, keepdim=True)  # the best-matched neighbour that is evidence
        threshold = (SPIKE_THRESHOLD0 * torch.exp(self.spike_log_threshold)
                     + MISMATCH_WEIGHT0 * torch.exp(self.mismatch_log_weight) * best + edge)
        spikes = SPIKE_GAIN0 * torch.exp(self.spike_log_gain) * (spike - threshold)
        lines = LINE_GAIN0 * torch.exp(self.line_log_gain) * (
            _scratch_index(frame_luma, warped_luma, absent, self.factor)
            - LINE_THRESHOLD * torch.exp(self.line_log_threshold) - edge)
        return torch.maximum(spikes, lines)

def _pixel_grid(height: int, width: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel x [1, 1, 1, W] and y [1, 1, H, 1] positions, in `like`'s dtype and device."""
    xs = torch.arange(width, dtype=like.dtype, device=like.device).reshape(1, 1, 1, -1)
    ys = torch.arange(height, dtype=like.dtype, device=like.device).reshape(1, 1, -1, 1)
    return xs, ys


def _present_range(values: torch.Tensor, absent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The highest and the lowest of `values` over the neighbours (dim 1) that are not `absent` (1 = left out,
    broadcast against `values`); where every neighbour is absent the two are meaningless (callers check)."""
    return (values - _ABSENT * absent).amax(dim=1), (values + _ABSENT * absent).amin(dim=1)


def _inner(luma: torch.Tensor, margin: int) -> torch.Tensor:
    """[1, 1, H, W]: 1 at least `margin` px inside the picture's edges, else 0. Flow is least sure at the edge
    (what moved in is not in the frame), and so is a spike there."""
    height, width = luma.shape[2], luma.shape[3]
    xs, ys = _pixel_grid(height, width, luma)
    inside = (xs >= margin) & (xs < width - margin) & (ys >= margin) & (ys < height - margin)
    return inside.to(luma.dtype)


def _spike_index(frame_luma: torch.Tensor, neighbour_luma: torch.Tensor, absent: torch.Tensor) -> torch.Tensor:
    """How far the frame's luma lies outside the range of its moved neighbours ([N, 1, H, W], ≥ 0): the SDI/ROD index
    of the classical detector, the range widened by SPIKE_TOLERANCE of its widening over each pixel's 3×3
    neighbourhood (a flow a fraction of a pixel off at a fine edge is no spike; dust is larger than that, or unlike
    anything around it). `absent` neighbours are left out; with fewer than _MIN_EVIDENCE left (of more) or none
    left the index is 0."""
    highest, lowest = (x.unsqueeze(1) for x in _present_range(neighbour_luma, absent))
    highest = highest + SPIKE_TOLERANCE * (_max_box(highest, 3, 3) - highest)
    lowest = lowest - SPIKE_TOLERANCE * (lowest + _max_box(-lowest, 3, 3))
    spike = torch.relu(torch.maximum(frame_luma - highest, lowest - frame_luma))
    # one neighbour alone is too little evidence where there could be more (at a picture edge the others read from
    # beyond it, and the flow there is least sure)
    needed = float(max(1, min(_MIN_EVIDENCE, absent.shape[1] - 1)))
    present = (1.0 - absent).sum(dim=1, keepdim=True)
    return spike * (present >= needed).to(spike.dtype)


def _mismatch(frame_luma: torch.Tensor, neighbour_luma: torch.Tensor, spike: torch.Tensor,
              factor: int) -> torch.Tensor:
    """How poorly each moved neighbour matches the frame ([N, 2R, H, W]): per grid cell, the RMS difference of their
    luma detail over the cell's 3×3-cell patch, each difference clamped to the robust limit (dust barely raises
    it), measured on the frames pooled by MOTION_SCALE. Where the `spike` test suspects a defect (above
    _SUSPECT_SPIKE within SUSPECT_REACH px), the mismatch is the mean of that of the SURROUNDING_BOX² px around that
    are not suspect: a defect does not raise its own threshold."""
    m = MOTION_SCALE
    cell = max(1, factor // m)
    frame_small = F.avg_pool2d(frame_luma, m, ceil_mode=True, count_include_pad=False)
    others_small = F.avg_pool2d(neighbour_luma, m, ceil_mode=True, count_include_pad=False)
    detail = frame_small - _box(frame_small, _DETAIL_BOX, _DETAIL_BOX)
    residual = detail - (others_small - _box(others_small, _DETAIL_BOX, _DETAIL_BOX))
    cells = _patch_mean(_clamped(residual, _robust_limit(detail, 3 * cell)) ** 2, cell)
    like = planar_like(frame_small)
    cost = planar(upsample_from_grid(torch.sqrt(cells + 1e-8), cell, like))
    reach = 2 * SUSPECT_REACH + 1
    suspect = _max_box((F.max_pool2d(spike, m, ceil_mode=True) > _SUSPECT_SPIKE).to(cost.dtype), reach, reach)
    keep = 1.0 - suspect
    sums = _box(torch.cat([cost * keep, keep], dim=1), SURROUNDING_BOX, SURROUNDING_BOX)
    around = sums[:, :-1] / sums[:, -1:].clamp(min=_EPS)
    use = suspect * (sums[:, -1:] > _EPS).to(cost.dtype)
    cost = cost + use * (around - cost)
    return planar(upsample_from_grid(cost, m, planar_like(frame_luma)))


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
    return _max_box(_rows_back(index, factor, frame_luma), 1, 3)


def _grown(spike: torch.Tensor) -> torch.Tensor:
    """The spike index grown into the defect's soft edge as the classical detector grows its matte: a pixel within
    2 px of a spike keeps up to twice its own index, then every pixel takes its 3×3 neighbourhood's maximum."""
    near = _max_box(spike, 5, 5)
    return _max_box(torch.maximum(spike, torch.minimum(near, 2.0 * spike)), 3, 3)


def _trimmed_mean_weights(luma: torch.Tensor, absent: torch.Tensor) -> torch.Tensor:
    """The trimmed mean of the neighbours as weights on them ([N, K, H, W], summing to 1 over those not `absent`):
    ranked by luma, the brightest and the darkest left out when three or more remain (for four, the median pair),
    else the mean of those that remain. Ranking by luma keeps each fill a whole colour from the film (a channel-wise
    median mixes channels of different frames) and costs a pass over one plane, not three; the weights join the
    neighbours' own in the fill's weighted sum. Equal lumas are ranked by neighbour order (_TIE apart)."""
    present = 1.0 - absent
    count = present.sum(dim=1, keepdim=True)
    order = luma + _TIE * torch.arange(luma.shape[1], dtype=luma.dtype, device=luma.device).reshape(1, -1, 1, 1)
    highest, lowest = (x.unsqueeze(1) for x in _present_range(order, absent))
    between = ((order < highest) & (order > lowest)).to(luma.dtype)
    inner = present * torch.maximum(between, (count < 3.0).to(luma.dtype))  # fewer than three: all that remain
    # ties with the highest or the lowest (the same luma twice, where the _TIE is rounded away) can leave none: then
    # all that remain (selections written as arithmetic: ONNX Runtime's Where broadcasts slowly)
    total = inner.sum(dim=1, keepdim=True)
    none = (total < 0.5).to(luma.dtype)
    return (inner + none * present) / (total + none * count).clamp(min=1.0)


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


def _box(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Mean over a rows × cols window (odd sizes), the window shrunk at the frame's edges; one pass per axis.

    Two spellings of one operation, equal to float rounding: PyTorch trains fastest with a stride-1 average pool,
    ONNX Runtime renders fastest with a depthwise convolution (it computes a stride-1 AveragePool several times
    slower, a vertical one up to 6×), so the exported graph holds the convolution."""
    exporting = torch.onnx.is_in_onnx_export()
    if rows > 1:
        x = _box_pass(x, rows, vertical=True) if exporting else F.avg_pool2d(
            x, (rows, 1), stride=1, padding=(rows // 2, 0), count_include_pad=False)
    if cols > 1:
        x = _box_pass(x, cols, vertical=False) if exporting else F.avg_pool2d(
            x, (1, cols), stride=1, padding=(0, cols // 2), count_include_pad=False)
    return x


def _max_box(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Max over a rows × cols window (odd sizes) around each pixel, nothing beyond the edges; one pass per axis,
    equal to the 2-D window (ONNX Runtime compares every pixel of a 2-D window: 5×5 at 2K took 37 ms, two passes 9)."""
    if rows > 1:
        x = F.max_pool2d(x, (rows, 1), stride=1, padding=(rows // 2, 0))
    if cols > 1:
        x = F.max_pool2d(x, (1, cols), stride=1, padding=(0, cols // 2))
    return x


def _box_pass(x: torch.Tensor, size: int, vertical: bool) -> torch.Tensor:
    """The mean over `size` (odd) pixels along one axis of NCHW `x`, the window shrunk at the edges, as a depthwise
    convolution: weights of 1/size keep every partial sum within the input's range (the fp16 model loses nothing
    more), and the result is rescaled where the window is shrunk."""
    channels, reach = int(x.shape[1]), size // 2  # static in every graph: the kernel must be a constant
    shape = (size, 1) if vertical else (1, size)
    padding = (reach, 0) if vertical else (0, reach)
    weights = torch.full((channels, 1, *shape), 1.0 / size, dtype=x.dtype, device=x.device)
    means = F.conv2d(x, weights, padding=padding, groups=channels)
    # the share of the window inside the frame, one row or column of it: size / count where the window is shrunk
    line = torch.ones_like(x[:1, :1, :, :1] if vertical else x[:1, :1, :1, :])
    inside = F.conv2d(line, weights[:1], padding=padding)
    return means / inside


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


def _weighted_sum(logits: torch.Tensor, neighbours: list[torch.Tensor], trimmed: torch.Tensor,
                  spatial: list[torch.Tensor]) -> torch.Tensor:
    """Σ softmax(logits)_k · candidate_k over the candidates: each neighbour, their trimmed mean (given as weights on
    the neighbours, [N, K, H, W]: its score is shared out among them on one plane each) and the spatial fills. The
    softmax is written element-wise (ONNX Runtime's channel Softmax over a full-resolution frame is slower)."""
    scores = torch.exp(logits - logits.max(dim=1, keepdim=True)[0])
    total = scores.sum(dim=1, keepdim=True)
    count = len(neighbours)
    shares = scores[:, :count] + scores[:, count:count + 1] * trimmed
    result = neighbours[0] * shares[:, 0:1]
    for index in range(1, count):
        result = result + neighbours[index] * shares[:, index:index + 1]
    for index, fill in enumerate(spatial):
        result = result + fill * scores[:, count + 1 + index:count + 2 + index]
    return result / total
