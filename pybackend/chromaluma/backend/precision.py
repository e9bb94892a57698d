"""Half-precision (fp16) models for the GPU, checked against fp32 on every load.

The conversion keeps the contract's float32 inputs and outputs (docs/CONTRACT.md §2): a Cast to float16 follows
each float input and a Cast back to float32 precedes each float output. Only the image data path is converted:
a tensor is float16 when it is a float value computed from a model input. Shape arithmetic (Shape → Cast → Mul …
→ Resize sizes) stays float32, because float16 holds integers exactly only up to 2048 and a 4K frame's width
would round; Resize's `roi` and `scales` inputs stay float32 as the operator requires.

Every load compares the half model with the fp32 model on one fixed probe frame (:func:`probe_feeds`, built
from the model's own shape rules) and refuses it when the difference exceeds :data:`TOLERANCE`; a model that
passes is cached under ``<cache>/fp16/`` keyed by the fp32 model's SHA-256, so the next load skips converting
(never the check).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma import contract
from chromaluma.errors import ChromalumaError, ParameterError
from chromaluma.io.atomic import write_bytes_atomically

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16")
# Bumped whenever the conversion changes, so a cached half model made by an older rule is never reused.
CONVERTER_VERSION = 1
CACHE_ENV = "CHROMALUMA_CACHE"
# Tolerances on |fp16 − fp32| over every output value of the probe frame, in the contract's 0–1 units.
# 95th percentile: one 10-bit code value (1/1023), so the bulk of a 10-bit DPX delivery is unchanged;
# maximum: eight 10-bit code values, which allows float16's coarser steps near edges and highlights
# (its spacing at 1.0 is 1/1024 and a few rounding steps accumulate through a network) but not a wrong result.
TOLERANCE_P95 = 1.0 / 1023.0
TOLERANCE_MAX = 8.0 / 1023.0
PROBE_SIDE = 96  # probe frame size before rounding up to the model's grid and receptive field


class PrecisionError(ChromalumaError):
    """A half-precision model differs from its fp32 model beyond the stated tolerance, or cannot be made."""


@dataclass(frozen=True)
class Difference:
    """|candidate − reference| over all output values of the probe frame."""

    maximum: float
    p95: float
    output: str  # the output with the largest difference

    @property
    def acceptable(self) -> bool:
        return self.maximum <= TOLERANCE_MAX and self.p95 <= TOLERANCE_P95  # False for NaN too

    def describe(self) -> str:
        return (f"max {self.maximum:.3g} (tolerance {TOLERANCE_MAX:.3g}), 95th percentile {self.p95:.3g} "
                f"(tolerance {TOLERANCE_P95:.3g}) on output '{self.output}'")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ParameterError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)} (--precision).")
    return precision


def cache_root(override: str | Path | None = None) -> Path:
    """Where converted models and TensorRT engines are kept: `override`, $CHROMALUMA_CACHE, or
    $XDG_CACHE_HOME/chromaluma (default ~/.cache/chromaluma)."""
    if override is not None:
        return Path(override)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chromaluma"


def compare_outputs(reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray]) -> Difference:
    """The largest and 95th-percentile absolute difference over all outputs (NaN/inf in the candidate where the
    reference is finite count as infinite difference)."""
    worst = Difference(0.0, 0.0, "")
    for name, expected in reference.items():
        got = candidate[name].astype(np.float64)
        diff = np.abs(got - expected.astype(np.float64)).ravel()
        diff[~np.isfinite(diff)] = np.inf
        if diff.size == 0:
            continue
        found = Difference(float(diff.max()), float(np.percentile(diff, 95)), name)
        if not worst.output or (found.maximum, found.p95) > (worst.maximum, worst.p95):
            worst = found
    return worst


def refusal(difference: Difference, model_path: Path | str) -> PrecisionError:
    return PrecisionError(f"{model_path}: fp16 differs from fp32 by {difference.describe()}; "
                          "use --precision fp32 (precision=fp32) for this model.")


def probe_shape(model: contract.ModelContract) -> tuple[int, int]:
    """A probe frame size that respects the model's grid (a multiple of 1/processing_scale) and is larger than
    its receptive field on both sides, so interior pixels see no padding."""
    factor = max(1, round(1.0 / model.processing_scale))
    side = max(PROBE_SIDE, 2 * model.receptive_field + 32)
    side = -(-side // factor) * factor
    return side, side + factor  # not square, so a transposed layout cannot pass unnoticed


def probe_frame(height: int, width: int, phase: float = 0.0) -> np.ndarray:
    """A deterministic [1, H, W, 4] frame in 0–1: smooth colour ramps, a fine texture and hard edges (where
    convolutions accumulate the most rounding); alpha a ramp so an alpha path is exercised too."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = x / max(width - 1, 1)
    green = y / max(height - 1, 1)
    blue = 0.5 + 0.45 * np.sin(0.37 * x + 0.23 * y + phase)
    edges = ((x // 8 + y // 8) % 2) * 0.2
    rgb = np.stack([red, green, blue], axis=-1) * 0.8 + edges[..., None]
    alpha = 0.5 + 0.5 * red
    frame = np.concatenate([np.clip(rgb, 0.0, 1.0), alpha[..., None]], axis=-1)
    return frame[None].astype(np.float32)


def probe_feeds(model: contract.ModelContract) -> dict[str, np.ndarray]:
    """The feeds for one probe run: `image`, plus `neighbours` / `keyframes` where the model reads them."""
    height, width = probe_shape(model)
    feeds = {contract.INPUT_NAME: probe_frame(height, width)}
    neighbours = model.frames_before + model.frames_after
    if neighbours:
        feeds[contract.NEIGHBOURS_NAME] = np.concatenate(
            [probe_frame(height, width, phase=0.5 * (index + 1)) for index in range(neighbours)])
    if model.kind == contract.KEYFRAME_KIND:
        feeds[contract.KEYFRAMES_NAME] = np.concatenate(
            [probe_frame(height, width, phase=2.0 + index) for index in range(contract.KEYFRAME_COUNT)])
    return feeds


def run_all(session: Any, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds)), strict=True))


def verify_half(model_path: Path | str, model: contract.ModelContract, reference: Any, candidate: Any) -> Difference:
    """Run both sessions on the probe frame; raise :class:`PrecisionError` if the candidate is out of tolerance."""
    feeds = probe_feeds(model)
    difference = compare_outputs(run_all(reference, feeds), run_all(candidate, feeds))
    if not difference.acceptable:
        raise refusal(difference, model_path)
    log.info("fp16 %s: %s", model_path, difference.describe())
    return difference


def cache_file(root: Path, digest: str) -> Path:
    """Where the checked fp16 model of the fp32 model with SHA-256 `digest` is kept."""
    return root / "fp16" / f"{digest}-v{CONVERTER_VERSION}.onnx"


def cached_half(root: Path | None, digest: str) -> bytes | None:
    """The cached fp16 model, or None when there is none (or it cannot be read: then it is converted again)."""
    if root is None:
        return None
    path = cache_file(root, digest)
    if not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        log.warning("cannot read cached fp16 model %s (%s); converting again", path, exc.strerror)
        return None


def store_half(root: Path | None, digest: str, half: bytes) -> Path | None:
    """Cache a half model that passed its check (atomically: a reader never sees a partial file)."""
    if root is None:
        return None
    path = cache_file(root, digest)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_bytes_atomically(path, half)
    except (OSError, ChromalumaError) as exc:  # a read-only cache costs a conversion per load, never the render
        log.warning("cannot cache the fp16 model in %s (%s); it will be converted on every load", path.parent, exc)
        return None


def forget_half(root: Path | None, digest: str) -> None:
    """Remove a cached half model that failed to load or its check, so the next load converts afresh."""
    if root is None:
        return
    try:
        cache_file(root, digest).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot remove the stale fp16 cache file in %s (%s)", root, exc.strerror)
