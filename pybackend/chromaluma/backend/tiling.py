"""Overlap tiling with feathered blending, planned one axis at a time.

A frame region larger than the tile size is cut into cores (a partition of the output); each tile's output
grows past its core by `feather` pixels into its neighbours, and its model input grows past that by the
model's `receptive_field`, so every output pixel a tile produces had its full context. Neighbouring outputs
overlap over 2·feather pixels and are blended with linear ramps whose weights sum to exactly one, so an honest
`receptive_field` makes the tiled result equal the untiled one (to float rounding) and a dishonest one still
shows no seam.

Each tile's input starts on a multiple of f = round(1 / processing_scale) pixels from the FRAME's top-left
(docs/CONTRACT.md §3), so a model that works at reduced resolution samples the same grid in every tile and in
every host render window. All coordinates here are indices into `src` (the array the host handed over);
`origin` is the frame coordinate of `src` index 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from chromaluma.errors import ParameterError

AUTO_WHOLE_PIXELS = 2048 * 2048  # automatic tiling runs a region this large (≈ 2K/DCI full aperture) in one go
AUTO_TILE = 1024  # ... and larger regions in tiles of this edge: memory bounded by the tile, not the frame
MAX_FEATHER = 16


@dataclass(frozen=True)
class Span:
    """One tile along one axis: output [out_start, out_stop) and model input [in_start, in_stop), src indices.

    `weights` (float32, one per output pixel) are the blend weights, or None where the tile is the only one.
    """

    out_start: int
    out_stop: int
    in_start: int
    in_stop: int
    weights: np.ndarray | None = None

    @property
    def out_len(self) -> int:
        return self.out_stop - self.out_start

    @property
    def in_len(self) -> int:
        return self.in_stop - self.in_start


def scale_factor(processing_scale: float) -> int:
    """f = round(1 / processing_scale): the grid tile origins must sit on (docs/CONTRACT.md §3)."""
    return max(1, round(1.0 / processing_scale))


def feather_width(receptive_field: int) -> int:
    """Half-width of the blend band between tiles: none for point-wise models, at most MAX_FEATHER."""
    return min(MAX_FEATHER, max(0, receptive_field))


def minimum_tile(context: int, feather: int, factor: int) -> int:
    """The smallest tile edge that still leaves each tile a core after context, blend bands and grid slack."""
    return max(4 * feather, factor, 8) + 2 * (context + feather) + factor - 1


def choose_tile_size(requested: int, height: int, width: int, *, context: int, feather: int, factor: int) -> int:
    """The tile edge to use for an input region of `height` × `width` (context and grid slack included).

    `requested` if > 0; else the whole region when it has at most AUTO_WHOLE_PIXELS, else AUTO_TILE (or the
    model's minimum tile, if larger).
    """
    if requested > 0:
        return requested
    if height * width <= AUTO_WHOLE_PIXELS:
        return max(height, width)
    return max(AUTO_TILE, minimum_tile(context, feather, factor))


def aligned_start(want: int, origin: int, factor: int, limit: int) -> int:
    """The largest index <= `want` on the frame's f-grid, but >= 0; never beyond `limit` (the output start)."""
    start = want - ((origin + want) % factor)
    if start >= 0:
        return start
    first_on_grid = (-origin) % factor
    return first_on_grid if first_on_grid <= limit else 0


def plan_axis(out_start: int, out_len: int, src_len: int, origin: int, *, tile: int, context: int,
              feather: int, factor: int) -> list[Span]:
    """Tiles along one axis for output [out_start, out_start + out_len) inside a source of `src_len` pixels."""
    out_stop = out_start + out_len
    whole_in = aligned_start(out_start - context, origin, factor, out_start)
    whole_stop = min(src_len, out_stop + context)
    if whole_stop - whole_in <= tile:
        return [Span(out_start, out_stop, whole_in, whole_stop)]
    core = tile - 2 * (context + feather) - (factor - 1)
    if tile < minimum_tile(context, feather, factor):  # evenly split cores stay >= 2·feather: bands never meet
        raise ParameterError(
            f"tile_size {tile} is too small for this model (receptive_field {context}, processing scale 1/{factor}): "
            f"use tile_size >= {minimum_tile(context, feather, factor)}, or 0 for automatic."
        )
    count = math.ceil(out_len / core)
    bounds = [out_start + round(k * out_len / count) for k in range(count + 1)]
    spans = []
    for k in range(count):
        first = max(out_start, bounds[k] - feather)
        last = min(out_stop, bounds[k + 1] + feather)
        in_start = aligned_start(first - context, origin, factor, first)
        in_stop = min(src_len, last + context)
        spans.append(Span(first, last, in_start, in_stop, _ramp(first, last, bounds, k, feather)))
    return spans


def _ramp(first: int, last: int, bounds: list[int], k: int, feather: int) -> np.ndarray | None:
    if feather == 0:
        return None
    weights = np.ones(last - first, dtype=np.float32)
    band = 2 * feather
    rising = (np.arange(band, dtype=np.float32) + 0.5) / band
    if k > 0:  # blend band [bounds[k] - feather, bounds[k] + feather) starts at `first`
        weights[:band] = rising
    if k < len(bounds) - 2:
        weights[-band:] = 1.0 - rising
    return weights


def finished_rows(rows: list[Span], index: int) -> tuple[int, int]:
    """Rows of strip `index` no later strip contributes to: [its out_start, the next strip's out_start)."""
    stop = rows[index + 1].out_start if index + 1 < len(rows) else rows[index].out_stop
    return rows[index].out_start, stop
