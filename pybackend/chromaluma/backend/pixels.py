"""Host pixels ↔ model tensors: docs/CONTRACT.md §1.1–§1.3 (sample types, alpha, non-finite samples, mix, mask).

`src` and `dst` are numpy views of host memory with any row stride (padded or negative). The only copy made on
the way in is the model's input tensor (it must be float32 RGBA, straight alpha), and none when `src` already is
such a tensor (:func:`borrowed_input`); on the way out results go straight into `dst`, working in place on the
model's own output wherever possible so a frame costs as few full-size passes as the contract allows.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from chromaluma.backend.tiling import Span
from chromaluma.errors import PixelLayoutError
from chromaluma.integer_samples import to_integer_samples

SAMPLE_TYPES = (np.dtype(np.float32), np.dtype(np.uint16), np.dtype(np.uint8))


def sample_top(dtype: np.dtype) -> float:
    """The value that means 1.0 in this sample type: 255, 65535, or 1.0 for float."""
    return float(np.iinfo(dtype).max) if dtype.kind == "u" else 1.0


def check_view(array: object, name: str, *, writable: bool) -> np.ndarray:
    """Refuse anything §1.1 does not allow, naming the array and what the plug-in must hand over instead."""
    if not isinstance(array, np.ndarray):
        raise PixelLayoutError(f"{name}: expected a numpy.ndarray view (H, W, C), got {type(array).__name__}.")
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise PixelLayoutError(f"{name}: shape {array.shape} is not (H, W, 3) or (H, W, 4); hand over RGB or RGBA.")
    if array.dtype not in SAMPLE_TYPES:
        raise PixelLayoutError(f"{name}: sample type {array.dtype} is not float32, uint16 or uint8.")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise PixelLayoutError(f"{name}: empty image {array.shape}; render windows must be at least 1x1.")
    if writable and not array.flags.writeable:
        raise PixelLayoutError(f"{name}: the destination view is read-only; hand over writable memory.")
    return array


def same_region(frame: object, name: str, src: np.ndarray, what: str) -> np.ndarray:
    """A context frame (a neighbour, a keyframe) checked as §1.1 allows and of `src`'s shape: the same region of
    `what` as src; PixelLayoutError naming it otherwise."""
    view = check_view(frame, name, writable=False)
    if view.shape != src.shape:
        raise PixelLayoutError(f"{name} is {view.shape[1]}x{view.shape[0]}x{view.shape[2]} but src is "
                               f"{src.shape[1]}x{src.shape[0]}x{src.shape[2]}: give the same region of {what} as "
                               "src.")
    return view


def check_mask(mask: object, height: int, width: int) -> np.ndarray | None:
    """The `mask` parameter as an (H, W, 1) view, or None; its shape must match `dst`."""
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray) or mask.dtype not in SAMPLE_TYPES:
        raise PixelLayoutError("mask: expected a float32, uint16 or uint8 numpy array (H, W) or (H, W, 1), "
                               f"got {type(mask).__name__} {getattr(mask, 'dtype', '')}.")
    if mask.ndim == 2:
        mask = mask[:, :, np.newaxis]
    if mask.shape != (height, width, 1):
        raise PixelLayoutError(f"mask: shape {mask.shape} does not match dst ({height}, {width}); the mask covers "
                               "the render window, same orientation as dst.")
    return mask


@dataclass
class TileInput:
    """A tile's model input, whether its source held NaN/Inf samples, and whether premultiplication mattered."""

    tensor: np.ndarray
    nonfinite: bool
    premultiplied: bool  # False when straight, RGB, or every alpha is 1 (then premultiplied = straight)
    opaque: bool = False  # every alpha sample of the tile's source is the type's maximum (or RGB)
    borrowed: bool = False  # `tensor` is the host's own memory (zero-copy): read-only
    mirrored: bool = False  # `tensor` holds the rows bottom-up, in the host's stored order (run the mirrored model)
    neighbours: np.ndarray | None = None  # a temporal-window model's other frames [n, h, w, 4], or None
    keyframes: np.ndarray | None = None  # a keyframe model's two keyframes [2, h, w, 4], or None


def model_input(src: np.ndarray, rows: Span, cols: Span, premultiplied: bool) -> TileInput:
    """The [1, h, w, 4] float32 straight-RGBA model input for one tile (§1.2, §1.3).

    Non-finite pixels are set to 0 for the model (§1.2) so they cannot spread into their neighbours. The tensor
    is filled in blocks of rows, each checked while it is still in cache (one sum decides finiteness, one
    comparison opacity): the copy is the only pass over the frame in memory.
    """
    region = src[rows.in_start:rows.in_stop, cols.in_start:cols.in_stop]
    height, width, _ = region.shape
    tensor = np.empty((1, height, width, 4), dtype=np.float32)
    flags = row_blocks(height, tensor.strides[1],
                       lambda first, stop: _fill_rows(region[first:stop], tensor[0, first:stop], premultiplied))
    return TileInput(tensor, any(f[0] for f in flags), any(f[1] for f in flags), all(f[2] for f in flags))


def frames_input(frames: list[np.ndarray], rows: Span, cols: Span, premultiplied: bool) -> np.ndarray:
    """The [n, h, w, 4] float32 straight-RGBA input of a model's other frames for one tile (a temporal window's
    `neighbours`, a keyframe model's `keyframes`): the same region of every frame, converted as :func:`model_input`
    converts the frame restored (integers to 0–1, NaN/Inf to 0, colour unpremultiplied with its own alpha)."""
    height, width = rows.in_len, cols.in_len
    tensor = np.empty((len(frames), height, width, 4), dtype=np.float32)
    for index, frame in enumerate(frames):
        region = frame[rows.in_start:rows.in_stop, cols.in_start:cols.in_stop]
        planes = tensor[index]
        row_blocks(height, tensor.strides[1],
                   lambda first, stop, region=region, planes=planes: _fill_rows(region[first:stop], planes[first:stop],
                                                                                premultiplied))
    return tensor


def borrowed_input(src: np.ndarray, rows: Span, cols: Span, premultiplied: bool, mirror_factor: int = 0
                   ) -> TileInput | None:
    """The tile's source itself as the model input (no copy), or None when it must be copied (:func:`model_input`).

    The source must be float32 RGBA with its rows contiguous in memory: top-down, or bottom-up (the OFX order) when
    `mirror_factor` > 0 (a mirrored model exists) and the height is a multiple of it (then `mirrored` is set and
    the tensor holds the rows in stored order). Its samples must need no change: all finite (§1.2), and opaque
    unless straight (§1.3). Both are decided by read-only passes over blocks of rows.
    """
    region = src[rows.in_start:rows.in_stop, cols.in_start:cols.in_stop]
    if region.dtype != np.float32 or region.shape[2] != 4:
        return None
    mirrored = not region[np.newaxis].flags.c_contiguous
    if mirrored and not (mirror_factor > 0 and region.shape[0] % mirror_factor == 0
                         and region[::-1][np.newaxis].flags.c_contiguous):
        return None
    stored = region[::-1] if mirrored else region  # read in memory order: numpy is a third slower backwards
    flags = row_blocks(stored.shape[0], stored.strides[0],
                       lambda first, stop: _inspect_rows(stored[first:stop], premultiplied))
    opaque = all(f[1] for f in flags)
    if not all(f[0] for f in flags) or (premultiplied and not opaque):
        return None  # NaN/Inf to zero or colour to unpremultiply: the copying path does both
    tensor = stored[np.newaxis]
    return TileInput(tensor, nonfinite=False, premultiplied=False, opaque=opaque, borrowed=True, mirrored=mirrored)


def _inspect_rows(rows: np.ndarray, alpha: bool) -> tuple[bool, bool]:
    """(every sample finite, every alpha exactly 1.0) for float32 RGBA rows; reads them, changes nothing.

    Opacity is looked at only if `alpha` (premultiplied colour): straight colour is the model's input either way,
    and an unchecked one counts as not opaque (its alpha is then copied, not written as 1).
    """
    finite = bool(np.isfinite(rows).all())
    return finite, alpha and finite and bool(np.all(rows[..., 3].view(np.uint32) == _ONE_BITS))


def _fill_rows(region: np.ndarray, planes: np.ndarray, premultiplied: bool) -> tuple[bool, bool, bool]:
    """Fill `planes` (rows of the tensor) from `region`; returns (held NaN/Inf, was unpremultiplied, opaque)."""
    channels = region.shape[2]
    if region.dtype == np.float32:
        planes[..., :channels] = region
    else:
        np.divide(region, np.float32(sample_top(region.dtype)), out=planes[..., :channels])
    if channels == 3:
        planes[..., 3] = 1.0
    nonfinite = False
    # One cheap whole-block test decides (the block is in cache); the per-pixel test runs only when it fails.
    if region.dtype == np.float32 and not np.isfinite(planes).all():
        bad = ~np.isfinite(planes).all(axis=2)
        nonfinite = bool(bad.any())
        planes[bad] = 0.0
    # Rows with every alpha 1 need no division (x / 1 = x exactly), so deciding per block gives the same tensor.
    # Alpha is exactly 1.0 here only where the source held the type's maximum (NaN/Inf pixels are 0 by now).
    opaque = channels == 3 or bool(np.all(planes[..., 3].view(np.uint32) == _ONE_BITS))
    premultiplied = premultiplied and not opaque
    if premultiplied:
        alpha = planes[..., 3:4]
        np.divide(planes[..., :3], alpha, out=planes[..., :3], where=unpremultipliable(planes[..., :3], alpha))
    return nonfinite, premultiplied, opaque


_ONE_BITS = np.float32(1.0).view(np.uint32)
# Colour divided by alpha must stay a float32 with room to spare; beyond this ratio (a glow over subnormal coverage)
# the quotient would be Inf, and a convolution would spread it as NaN over the pixel's neighbours.
_UNPREMULTIPLY_LIMIT = np.float32(np.finfo(np.float32).max / 4)


def unpremultipliable(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Where premultiplied colour is divided by alpha (§1.3), (h, w, 1): alpha > 0 and |colour| / alpha finite.

    Elsewhere (alpha 0 or below, NaN, or so small that the quotient overflows) the model sees the colour as it is
    and the pixel's colour passes through unchanged; both sides of the model decide with this one test.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return np.abs(rgb).max(axis=-1, keepdims=True) < alpha * _UNPREMULTIPLY_LIMIT


T = TypeVar("T")
ROW_BLOCK_BYTES = 1 << 20  # a block of rows small enough to stay in cache between the passes made over it
_HELPERS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1) - 1
_helper_pool = ThreadPoolExecutor(max_workers=_HELPERS, thread_name_prefix="chromaluma-rows") if _HELPERS else None
_helper_free = threading.Semaphore(_HELPERS)


def row_blocks(height: int, row_bytes: int, work: Callable[[int, int], T]) -> list[T]:
    """`work(first, stop)` over blocks of rows covering [0, height), in block order; results in that order.

    Every pass after the first over a block then reads cache, not memory. The lower half of the blocks runs in a
    helper thread while the caller does the upper half (numpy releases the GIL in copies and reductions), using
    the core ONNX Runtime leaves idle between model runs: on the 2-core benchmark machine, quiet, a 2K copy and
    check took 2.0 ms instead of 3.5. Host threads calling at once share the one helper: whoever cannot have it
    does all its blocks itself.
    """
    step = max(1, ROW_BLOCK_BYTES // max(1, abs(row_bytes)))
    blocks = [(first, min(height, first + step)) for first in range(0, height, step)]
    if len(blocks) < 2 or _helper_pool is None or not _helper_free.acquire(blocking=False):
        return [work(first, stop) for first, stop in blocks]
    half = (len(blocks) + 1) // 2
    try:
        lower = _helper_pool.submit(lambda: [work(first, stop) for first, stop in blocks[half:]])
        try:
            upper = [work(first, stop) for first, stop in blocks[:half]]
        finally:
            wait([lower])  # never leave the helper writing into arrays the caller is done with
        return upper + lower.result()
    finally:
        _helper_free.release()


def is_opaque(alpha: np.ndarray, top: float) -> bool:
    """Whether every alpha sample is exactly `top` (premultiplied = straight: the common case skips two passes)."""
    return bool(alpha.min() == top and alpha.max() == top)


def to_unit(samples: np.ndarray) -> np.ndarray:
    """A new float32 array of `samples` mapped to 0–1 (integers) or as they are (float)."""
    if samples.dtype == np.float32:
        return np.array(samples, dtype=np.float32, copy=True)
    return np.divide(samples, np.float32(sample_top(samples.dtype)), dtype=np.float32)


def mask_weight(mask: np.ndarray | None, mix: float, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray | None:
    """mix·mask for dst rows/cols as float32 (h, w, 1), or None when it is 1 everywhere (mix 1, no mask)."""
    if mask is None:
        return None if mix == 1.0 else np.full((rows[1] - rows[0], cols[1] - cols[0], 1), mix, dtype=np.float32)
    weight = to_unit(mask[rows[0]:rows[1], cols[0]:cols[1]])
    np.fmax(weight, 0.0, out=weight)  # fmax/fmin, not clip: a NaN mask sample means 0 (keep the original), not NaN
    np.fmin(weight, 1.0, out=weight)
    if mix != 1.0:
        weight *= np.float32(mix)
    return weight


def applied_matte(matte: np.ndarray, threshold: float, weight: np.ndarray | None,
                  nonfinite_src: np.ndarray | None = None) -> np.ndarray:
    """The weight a repair model applies (docs/CONTRACT.md §1.8), float32 (h, w, 1): 1 where `matte` > `threshold`
    (strictly; a NaN matte sample is no damage), times mix·mask `weight` (None: 1); 0 at non-finite pixels of
    `nonfinite_src` (given when src may hold NaN/Inf: those pixels pass through unchanged, nothing is applied)."""
    applied = np.greater(matte, np.float32(threshold)).astype(np.float32)
    if weight is not None:
        applied *= weight
    if nonfinite_src is not None:
        applied[~np.isfinite(nonfinite_src).all(axis=2)] = 0.0
    return applied


def keep_original(src_region: np.ndarray, dst_region: np.ndarray, weight: np.ndarray) -> None:
    """Where nothing is applied (`weight` 0), dst's colour is src's, bit for bit when they share a sample type (−0.0
    and NaN payloads included), else src's value converted once; alpha is already src's (:func:`store_alpha`)."""
    untouched = weight[..., 0] == 0
    if not untouched.any():
        return
    original = src_region[..., :3][untouched]
    if src_region.dtype == dst_region.dtype:
        dst_region[..., :3][untouched] = original
        return
    converted = np.empty(original.shape, dtype=dst_region.dtype)
    store(to_unit(original), converted)
    dst_region[..., :3][untouched] = converted


def compose(src_region: np.ndarray, restored: np.ndarray, confidence: np.ndarray | None, weight: np.ndarray | None,
            dst_region: np.ndarray, *, mode: str, premultiplied: bool, nonfinite: bool, opaque: bool = False) -> int:
    """Write one region of `dst` (§1.2–§1.4); returns how many non-finite source pixels were passed through.

    `restored` is the model's straight colour (h, w, 3 or 4) float32 and is used as scratch space (overwritten);
    `confidence` is (h, w, 1); `weight` is mix·mask (h, w, 1) or None for 1 (for a repair model the applied matte,
    which mode "matte" shows as grey); `premultiplied` is False when
    colour is straight or every alpha is 1 (then both are the same); `opaque` says every alpha sample of
    `src_region` is the type's maximum (RGB, or checked when the model input was made), so dst's alpha is that
    maximum in dst's type without reading src again.
    """
    restored = restored[..., :3] if mode != "restored" or weight is not None or premultiplied or nonfinite \
        else restored
    if mode == "restored" and weight is None and not premultiplied and not nonfinite:
        _store_restored(restored, src_region, dst_region, opaque)
        return 0
    alpha = None
    if src_region.shape[2] == 4 and premultiplied:
        alpha = to_unit(src_region[..., 3:4])
    if mode in ("confidence", "matte"):
        shown = confidence if mode == "confidence" else weight
        assert shown is not None  # api checks the model has a confidence (a matte) before rendering
        colour = np.repeat(shown, 3, axis=2)
        if alpha is not None:
            colour *= alpha
    else:
        colour = restored
        source = None if (weight is None and mode == "restored" and alpha is None) else to_unit(src_region[..., :3])
        if alpha is not None:
            colour *= alpha
            transparent = ~unpremultipliable(source, alpha)[..., 0]
            if transparent.any():  # §1.3: where alpha = 0 (or too small to divide by) colour passes through unchanged
                colour[transparent] = source[transparent]
        if source is not None and (weight is not None or mode == "difference"):
            colour -= source
            if weight is not None:
                colour *= weight
            colour += source if mode == "restored" else np.float32(0.5)
    passed = 0
    if nonfinite:
        bad = ~np.isfinite(src_region).all(axis=2)
        passed = int(np.count_nonzero(bad))
        colour[bad] = src_region[..., :3][bad]
    store(colour, dst_region[..., :3])
    if dst_region.shape[2] == 4:
        store_alpha(src_region, dst_region, opaque)
    return passed


def _store_restored(restored: np.ndarray, src_region: np.ndarray, dst_region: np.ndarray, opaque: bool) -> None:
    """The common case (restored, mix 1, no mask, straight or opaque): as few full-frame passes as possible."""
    if restored.shape[2] == 4 and dst_region.shape[2] == 4 and dst_region.dtype == np.float32:
        dst_region[...] = restored  # whole pixels: a row-contiguous copy, faster than three of four channels
    else:
        store(restored[..., :3], dst_region[..., :3])
    if dst_region.shape[2] == 4:
        store_alpha(src_region, dst_region, opaque)


def store(colour: np.ndarray, dst_view: np.ndarray) -> None:
    """Write float32 colour into `dst_view`: as is for float; for integers under the one integer policy (§1.2,
    :mod:`chromaluma.integer_samples`): colour out of range moves towards its own luma, then rounded and clipped.
    `colour` is scratch space (overwritten)."""
    if dst_view.dtype == np.float32:
        dst_view[...] = colour
        return
    colour_channels = 3 if dst_view.ndim == 3 and dst_view.shape[-1] == 3 else 0
    to_integer_samples(colour, dst_view, colour_channels=colour_channels)


def store_alpha(src_region: np.ndarray, dst_region: np.ndarray, opaque: bool = False) -> None:
    """§1.3: alpha is copied, never computed; RGB sources give opaque alpha (the type's maximum).

    `opaque`: every src alpha is known to be its type's maximum, which every type maps to dst's maximum: written
    as that constant, the same bits as a copy, without another pass over src.
    """
    target = dst_region[..., 3]
    if src_region.shape[2] == 3 or opaque:
        target[...] = sample_top(dst_region.dtype)
    elif src_region.dtype == dst_region.dtype:
        np.copyto(target, src_region[..., 3])
    else:  # a different sample type cannot hold the same bits: convert the value once
        store(to_unit(src_region[..., 3]), target)
