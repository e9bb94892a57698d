"""How float pixels become 8-, 10- and 16-bit samples: the one policy every integer writer follows (CONTRACT §1.2).

The plug-in writing a host's byte/short image, `chromaluma apply` writing a 16-bit TIFF or PNG, and the confidence
frames all go through :func:`to_integer_samples`, so a render farm delivers exactly the pixels the artist saw.

Colour (three channels) that an integer type cannot hold is pulled towards its own Rec.709 luma just enough to fit
(:func:`fit_chroma_into_range`) instead of having each channel clipped, which would change luma and hue. A grey
sample has no chroma to pull, so for grey frames (confidence, mattes) and for alpha the policy is plain clipping.
Then samples are scaled by the type's maximum, rounded to the nearest code and clipped. Non-finite samples become
0 (NaN, −Inf) or the maximum (+Inf).
"""

from __future__ import annotations

import numpy as np

from chromaluma.contract import LUMA_WEIGHTS

_LUMA = np.asarray(LUMA_WEIGHTS, dtype=np.float32)


def fit_chroma_into_range(colour: np.ndarray) -> None:
    """In place: pull (…, 3) pixels with a channel outside [0, 1] towards their Rec.709 luma (clamped to [0, 1]) just
    enough to fit. Luma and hue stay as they were wherever luma itself is representable; only the offending pixels are
    read twice, so in-range frames cost two reductions. Non-finite pixels are left alone."""
    if colour.size == 0 or (colour.min() >= 0.0 and colour.max() <= 1.0):
        return
    outside = ((colour < 0.0) | (colour > 1.0)).any(axis=-1) & np.isfinite(colour).all(axis=-1)
    pixels = colour[outside]
    luma = np.clip(pixels @ _LUMA, 0.0, 1.0)[:, None]
    chroma = pixels - luma
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(chroma > 0.0, (1.0 - luma) / chroma, np.where(chroma < 0.0, -luma / chroma, np.inf))
    scale = np.clip(room.min(axis=-1, keepdims=True), 0.0, 1.0)
    colour[outside] = luma + chroma * scale


def to_integer_samples(values: np.ndarray, out: np.ndarray, *, colour_channels: int = 0,
                       levels: int | None = None) -> None:
    """Write float `values` (…, C) into the unsigned-integer array `out` (same shape) under the module's policy.

    `values` is used as scratch space (overwritten). The first `colour_channels` channels (3, or 0 for grey/alpha
    only) are fitted into range along their luma; every channel is then rounded and clipped. `levels` quantises to
    fewer codes than `out` holds (1023 for 10-bit DPX stored in uint16), scaled back up to `out`'s range.
    """
    top = float(np.iinfo(out.dtype).max)
    if colour_channels == 3:
        fit_chroma_into_range(values[..., :3])
    np.nan_to_num(values, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
    codes = float(levels) if levels is not None else top
    np.multiply(values, np.float32(codes), out=values)
    np.clip(values, 0.0, codes, out=values)
    np.rint(values, out=values)
    if levels is not None:
        np.multiply(values, np.float32(top / codes), out=values)
        np.rint(values, out=values)
    np.copyto(out, values, casting="unsafe")
