"""The reversible difference layer of `chromaluma apply --layer delta DIR`: scan + layer = restored.

Quantities (all float32 HWC, docs/CONTRACT.md §1.2): the *scan* is the input frame as Chromaluma reads it (integer
codes normalised to 0–1, float samples as stored; a grey scan replicated to R, G, B, grey + alpha to RGBA); the
*restored* frame is the output frame as written, read back (its codes or half/float samples). The layer has the
restored frame's channels, alpha included, values as stored (premultiplied stays premultiplied).

The reconstruction rule is what every compositor does: add the layer to the scan in float32 and store the sum at
the restored frame's sample type (8/10/16-bit codes, half or float). With a float layer that gives the restored
file's samples bit for bit. A float32 sum cannot reach every float32 value (a bright scan pixel made dark: 1.0 +
L only lands on multiples of 2^-24), so for float deliveries :func:`reachable` first moves the restored value to
the sum nearest to it (at most one float32 step of the larger of |scan| and |layer|); integer codes and most half
samples never move (a scan far above 1 delivered as 16-bit codes can leave a code no sum reaches: apply refuses
that frame). A half layer leaves the restored frame alone: the sum is within half a half-precision step of
|layer| (plus one float32 rounding), which rounds to the exact codes of 8- and 10-bit deliveries.

Where restored and scan hold the same bits (mix 0, a repair model outside its matte, NaN/Inf passed through) the
layer is exactly 0, so adding it changes nothing there.
"""

from __future__ import annotations

import numpy as np

from chromaluma.errors import FrameWriteError

LAYER_FORMATS = ("float", "half")
DEFAULT_LAYER_FORMAT = "float"
_DTYPES = {"float": np.float32, "half": np.float16}


def difference(scan: np.ndarray, restored: np.ndarray, layer_format: str) -> np.ndarray:
    """The layer (float32 holding `layer_format` values): restored − scan computed in float64, rounded once to
    the layer's precision. For a float layer and a `restored` that :func:`reachable` gave, scan + layer is
    `restored` bit for bit; `chromaluma apply` checks that on every frame before it writes the layer."""
    with np.errstate(invalid="ignore", over="ignore"):
        layer = (restored.astype(np.float64) - scan.astype(np.float64)).astype(_DTYPES[layer_format])
    layer[_same_bits(scan, restored)] = 0
    return layer.astype(np.float32)


def reconstruct(scan: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """scan + layer in float32, as a compositor adds them."""
    with np.errstate(invalid="ignore", over="ignore"):
        return scan.astype(np.float32) + layer.astype(np.float32)


def reachable(scan: np.ndarray, restored: np.ndarray, sample_type: str) -> np.ndarray:
    """`restored` (float32) moved to the value scan + float layer reconstructs, for a float delivery (`half` or
    `float` samples): the sum stored at `sample_type` is then what the file holds. Integer deliveries never need
    it (a code step is far wider than a float32 step), so they are returned unchanged."""
    if sample_type not in _DTYPES:
        return restored
    dtype = _DTYPES[sample_type]
    stored = restored.astype(dtype).astype(np.float32)
    return reconstruct(scan, difference(scan, stored, "float")).astype(dtype).astype(np.float32)


def check_half_range(scan: np.ndarray, restored: np.ndarray, frame: int) -> None:
    """A half layer holds ±65504 at most: a larger difference (scene-linear float scans) cannot be written."""
    with np.errstate(invalid="ignore"):
        change = np.abs(restored.astype(np.float64) - scan.astype(np.float64))
    if np.any(np.isfinite(change) & (change > float(np.finfo(np.float16).max))):
        raise FrameWriteError(f"frame {frame}: the difference exceeds half precision's range (±65504), so a half "
                              "layer cannot hold it; the layer frame was not written. Use --layer-format float.")


def _same_bits(scan: np.ndarray, restored: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(scan, np.float32).view(np.uint32) == \
        np.ascontiguousarray(restored, np.float32).view(np.uint32)
