"""The keyframe kind: a frame's colour found by correspondence in painted keyframes of its shot.

The model reads the scan frame [N, H, W, 4] and two painted keyframes [N, 2, H, W, 4] registered onto the scan's
geometry (docs/CONTRACT.md §2: the nearest keyframe at or before the frame and the nearest at or after it, in its
shot). At the processing grid (f = 8 by default) it computes matching features from each frame's luma statistics,
compares every cell of the frame with the keyframes' cells within ±`search` cells (a local correlation, no global
attention, so tiles stay exact), and takes a softmax-weighted average of the keyframes' colour there: each cell's
mean Cb, Cr and the guided filter's slopes of Cb and Cr on luma. A small context network refines that colour from
the match's quality; a second one reads the same (detached) and predicts log_sigma (low where nothing matched:
occlusions, new objects). Full-resolution chroma is then a·Y + b on the scan's luma, as in the chroma kind: output
luma is the scan's exactly.

A carrying model (`carries`, model format 6, the default since it exists) reads keyframes the backend has already
moved onto the frame along optical flow (:func:`chromaluma.align.keyframe_flow.moved_keyframes`; alpha = where the
flow is consistent). Per pixel it trusts a moved keyframe as far as the flow is consistent there and its luma agrees
with the frame's (a learnt tolerance), and where it trusts one it carries that keyframe's colour difference at full
resolution onto the frame's luma; the grid prediction above fills the rest. The network sees how far each keyframe
was trusted in every cell and may hold the carried colour back there (a learnt release, 0 at the start).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from chromaluma.models.blocks import ContextNet, pool_to_grid
from chromaluma.models.colour import GUIDE_FROM_RGBA, RGB_FROM_CHROMA, fixed_mix
from chromaluma.models.kinds import _GridModel, _mix_planar

KEYFRAME_COUNT = 2  # the keyframe at or before the frame and the one at or after it (the same one twice at a side)
# Values gathered from a keyframe cell: mean Cb, mean Cr, slope of Cb and Cr on luma, mean luma.
_GATHERED = 5
# Matching starts sharp enough to prefer the best cell clearly, and with a mild preference for small motion.
_TEMPERATURE0 = 10.0
_MOTION_COST0 = 0.02
# A carrying model starts trusting a moved keyframe's pixel while its luma is within about this of the frame's.
_LUMA_TOLERANCE0 = 0.05


class MatchFeatures(nn.Module):
    """Per cell: L2-normalised features of the luma statistics (mean Y, std Y) and their neighbourhood."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Conv2d(2, features, 3, padding=1),
                                     nn.Conv2d(features, features, 3, padding=2, dilation=2),
                                     nn.Conv2d(features, features, 3, padding=1)])

    reach = 4  # cells each side: 1 + 2 + 1

    def forward(self, luma_stats: torch.Tensor) -> torch.Tensor:
        x = luma_stats
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return x / torch.sqrt((x * x).sum(dim=1, keepdim=True) + 1e-6)


class KeyframeModel(_GridModel):
    """Colour by local correspondence with two painted keyframes, guided-filtered on the scan's luma."""

    kind = "keyframes"
    legacy_log_sigma_channel = 4  # where models before the confidence network had log_sigma

    def __init__(self, processing_scale: float = 0.125, width: int = 24,
                 dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4), features: int = 16, search: int = 3,
                 temporal_radius: int = 0, carries: bool = True) -> None:
        if temporal_radius != 0:
            raise ValueError(f"temporal_radius {temporal_radius!r}: keyframe models read one scan frame (0)")
        if isinstance(search, bool) or not isinstance(search, int) or not 1 <= search <= 16:
            raise ValueError(f"search {search!r}: expected an integer from 1 to 16 grid cells")
        # in: the frame's 6 statistics, the gathered 5, best similarity and the match's certainty, and for a carrying
        # model the cell's trust in each moved keyframe; out: the colour's 4, and a carrying model's release
        inputs = 6 + _GATHERED + 2 + (KEYFRAME_COUNT if carries else 0)
        super().__init__(processing_scale, ContextNet(inputs, 5 if carries else 4, width, dilations), 0)
        self.search = search
        self.carries = bool(carries)
        if self.carries:
            self.log_luma_tolerance = nn.Parameter(torch.tensor(math.log(_LUMA_TOLERANCE0)))
            luma = GUIDE_FROM_RGBA[0]  # (wR, wG, wB, 0)
            # RGBA → (R − Y, G − Y, B − Y, 0): a keyframe's colour differences, no alpha
            difference = [[(1.0 if row == col else 0.0) - luma[col] if row < 3 and col < 3 else 0.0 for col in range(4)]
                          for row in range(4)]
            self.register_buffer("difference_matrix", torch.tensor(difference), persistent=False)
        self.match = MatchFeatures(features)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(_TEMPERATURE0)))
        self.motion_cost = nn.Parameter(torch.tensor(_MOTION_COST0))
        self.register_buffer("chroma_to_rgb", torch.tensor(RGB_FROM_CHROMA), persistent=False)
        offsets = [(dy, dx) for dy in range(-search, search + 1) for dx in range(-search, search + 1)]
        self.offsets = offsets  # row-major, as unfold orders a (2·search + 1)² neighbourhood
        self.register_buffer("offset_distance", torch.tensor([float(dy * dy + dx * dx) for dy, dx in offsets]
                                                             * KEYFRAME_COUNT).reshape(1, -1, 1, 1),
                             persistent=False)

    @property
    def grid_reach(self) -> int:
        """The refining network's reach, plus the search and the matching features' reach."""
        return self.net.reach + self.search + 2 * MatchFeatures.reach

    def forward(self, x: torch.Tensor, keyframes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        guide = fixed_mix(x, self.guide_matrix)
        stats = self.statistics_of(x, guide)
        trust = self.trust(guide, keyframes) if self.carries else None
        trust_grid = None if trust is None else torch.cat([pool_to_grid(t, self.factor) for t in trust], dim=1)
        slope, offset, log_sigma, release = self.grid_coefficients(stats, self.keyframe_statistics(keyframes),
                                                                   trust_grid)
        ones, zeros = torch.ones_like(log_sigma), torch.zeros_like(log_sigma)  # alpha: out = A·1 + 0
        scale = torch.cat([1.0 + _mix_planar(slope, self.chroma_to_rgb), ones], dim=1)
        shift = torch.cat([_mix_planar(offset, self.chroma_to_rgb), zeros], dim=1)
        restored = guide * self.upsample(scale, x) + self.upsample(shift, x)
        if trust is None or release is None:
            return restored, log_sigma
        return self.carried(restored, guide, keyframes, trust, self.upsample(release, x)), log_sigma

    def trust(self, guide: torch.Tensor, keyframes: torch.Tensor) -> list[torch.Tensor]:
        """Per moved keyframe, [N, H, W, 1]: its evidence (alpha) times how well its luma agrees with the frame's."""
        spread = -0.5 * torch.exp(-2.0 * self.log_luma_tolerance)  # −1 / (2·tolerance²)
        trusts = []
        for index in range(KEYFRAME_COUNT):
            keyframe = keyframes[:, index]
            difference = guide[..., 0:1] - fixed_mix(keyframe, self.guide_matrix[:1])  # its Y
            trusts.append(keyframe[..., 3:4] * torch.exp(spread * difference * difference))
        return trusts

    def carried(self, restored: torch.Tensor, guide: torch.Tensor, keyframes: torch.Tensor, trust: list[torch.Tensor],
                release: torch.Tensor) -> torch.Tensor:
        """`restored` with the trusted keyframes' colour carried onto the frame's luma: their colour differences
        (RGB − Y, the trust-weighted mean of the two) added to the frame's Y, blended in by the larger trust, held
        back by the network's `release` (0–1, full resolution).

        Written as restored + gate·(guide − restored) + (Σ gate·wₖ·Kₖ)·D with wₖ = trustₖ / Σ trust, Kₖ the moved
        keyframe (RGBA) and D the matrix to (R − Y, G − Y, B − Y, 0): the keyframes are blended before the one colour
        matrix (it is linear), four-channel products only (no slice of RGB, no concatenation), and alpha stays the
        frame's exactly (guide's alpha is restored's, and D gives alpha 0)."""
        gate = torch.maximum(trust[0], trust[1]) * torch.clamp(1.0 - release, 0.0, 1.0)
        share = gate / (trust[0] + trust[1] + 1e-6)
        blend = keyframes[:, 0] * (trust[0] * share)
        for index in range(1, KEYFRAME_COUNT):
            blend = blend + keyframes[:, index] * (trust[index] * share)
        return restored + gate * (guide - restored) + fixed_mix(blend, self.difference_matrix)

    def keyframe_statistics(self, keyframes: torch.Tensor) -> list[torch.Tensor]:
        """Grid statistics [N, 6, h, w] of each keyframe, in input order."""
        batch, count = keyframes.shape[:2]
        stats = self.grid_statistics(keyframes.reshape(batch * count, *keyframes.shape[2:]))
        return list(stats.reshape(batch, count, *stats.shape[1:]).unbind(1))

    def grid_coefficients(self, stats: torch.Tensor, keyframe_stats: list[torch.Tensor],
                          trust: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Per cell: the guided filter's slope and offset for (Cb, Cr), log_sigma and (a carrying model, given each
        keyframe's mean `trust` in the cell) the release of the carried colour; None for the others."""
        gathered, best, certainty = self.correspond(stats, keyframe_stats)
        inputs = torch.cat([stats, gathered, best, certainty] + ([] if trust is None else [trust]), dim=1)
        delta = self.net(inputs)
        slope = gathered[:, 2:4] + delta[:, 0:2]
        offset = gathered[:, 0:2] + delta[:, 2:4] - slope * stats[:, 0:1]
        return slope, offset, self.log_sigma_of(inputs), delta[:, 4:5] if self.carries else None

    def correspond(self, stats: torch.Tensor, keyframe_stats: list[torch.Tensor]
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(gathered keyframe values [N, 5, h, w], best similarity [N, 1, h, w], top attention weight [N, 1, h, w]).

        Cells beyond a keyframe's edge are never matched (−10⁴ before the softmax). Training reads every offset at
        once (one unfold, whose backward is one fold); the exported graph reads them one offset at a time, so a 2K
        frame never holds all candidates of all channels in memory. Export verification compares the two.
        """
        frame_features = self.match(_luma_statistics(stats))
        keys = [(self.match(_luma_statistics(key)), torch.ones_like(key[:, :1]),
                 torch.cat([key[:, 1:3], key[:, 4:6], key[:, 0:1]], dim=1)) for key in keyframe_stats]
        if torch.onnx.is_in_onnx_export():
            return self._correspond_by_offset(frame_features, keys)
        similarities, values = [], []
        for features, inside, value in keys:
            candidates = self._candidates(features)  # [N, C, K², h, w]
            similarity = (frame_features.unsqueeze(2) * candidates).sum(dim=1)
            similarities.append(similarity + (self._candidates(inside)[:, 0] - 1.0) * 1e4)
            values.append(self._candidates(value))
        similarity = torch.cat(similarities, dim=1)
        weights = self._attention(similarity)
        gathered = (weights.unsqueeze(1) * torch.cat(values, dim=2)).sum(dim=2)
        return gathered, self._best(similarity), weights.max(dim=1, keepdim=True)[0]

    def _correspond_by_offset(self, frame_features: torch.Tensor,
                              keys: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
                              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        similarities, values = [], []
        for features, inside, value in keys:
            features, inside, value = (_padded(t, self.search) for t in (features, inside, value))
            for dy, dx in self.offsets:
                similarity = (frame_features * self._shifted(features, dy, dx)).sum(dim=1, keepdim=True)
                similarities.append(similarity + (self._shifted(inside, dy, dx) - 1.0) * 1e4)
                values.append(self._shifted(value, dy, dx))
        # the softmax written out: ONNX Runtime's Softmax over the channel axis of a 2K grid costs more than all the
        # offsets' products together, while these are element-wise; the top weight is 1 / Σ exp(logit − max)
        similarity = torch.cat(similarities, dim=1)
        logits = self._logits(similarity)
        scores = torch.exp(logits - logits.max(dim=1, keepdim=True)[0])
        total = scores.sum(dim=1, keepdim=True)
        gathered = values[0] * scores[:, 0:1]
        for index in range(1, len(values)):
            gathered = gathered + values[index] * scores[:, index:index + 1]
        return gathered / total, self._best(similarity), 1.0 / total

    def _logits(self, similarity: torch.Tensor) -> torch.Tensor:
        return similarity * torch.exp(self.log_temperature) - self.motion_cost * self.offset_distance

    def _attention(self, similarity: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self._logits(similarity), dim=1)

    @staticmethod
    def _best(similarity: torch.Tensor) -> torch.Tensor:
        return similarity.max(dim=1, keepdim=True)[0].clamp(min=-1.0)

    def _candidates(self, grid: torch.Tensor) -> torch.Tensor:
        """Every cell's neighbourhood within ±search, [N, C, K², h, w], offsets in `self.offsets` order."""
        batch, channels, height, width = grid.shape
        side = 2 * self.search + 1
        return F.unfold(_padded(grid, self.search), side).reshape(batch, channels, side * side, height, width)

    def _shifted(self, padded: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
        """The padded grid read at an offset (dy, dx): the cell of the unpadded grid at (y + dy, x + dx)."""
        s = self.search
        return padded[:, :, s + dy:(dy - s) or None, s + dx:(dx - s) or None]


def _luma_statistics(stats: torch.Tensor) -> torch.Tensor:
    """Mean and std of luma per cell: what a painted keyframe and a faded scan share."""
    return torch.cat([stats[:, 0:1], stats[:, 3:4]], dim=1)


def _padded(grid: torch.Tensor, cells: int) -> torch.Tensor:
    return F.pad(grid, (cells, cells, cells, cells))
