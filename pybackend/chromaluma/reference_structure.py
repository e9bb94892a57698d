"""How well a registered reference's picture structure matches its scan: what a model card reports beside its
validation scores, because those scores measure agreement with the reference, never with the truth.

A reference (DVD, telecine, print) can be misregistered, softer, cropped or cut differently from the scan; a
model that agrees with it well inherits all of that. The measure here is the correlation of the two frames' luma
gradients after a small Gaussian blur (so scan grain and the reference's lower resolution count less than
edges that are not where the scan has them): 1 = every edge where the scan has it, 0 = unrelated pictures,
negative = inverted. A monotonic density difference (faded scan, graded reference) changes it little.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.contract import LUMA_WEIGHTS, file_sha256
from chromaluma.errors import ChromalumaError

log = logging.getLogger(__name__)

BLUR_SIGMA_PX = 1.5
MEASURE = (f"correlation of scan and reference luma gradients (Gaussian blur sigma {BLUR_SIGMA_PX} px) over the "
           "reference's valid pixels, mean over held-out frames; 1 = same structure, 0 = unrelated")


def structure_agreement(scan: np.ndarray, reference: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Gradient correlation of the Rec.709 luma of two frames on the same pixel grid (HxWxC, C >= 3), over
    pixels where `valid` (HxW, > 0.5) holds; NaN when nothing valid has any gradient."""
    from scipy.ndimage import gaussian_filter

    weights = np.asarray(LUMA_WEIGHTS, dtype=np.float64)
    fields = []
    for frame in (scan, reference):
        luma = np.nan_to_num(frame[..., :3].astype(np.float64) @ weights)
        smooth = gaussian_filter(luma, BLUR_SIGMA_PX, mode="nearest")
        fields.append(np.stack(np.gradient(smooth), axis=-1))
    inside = np.ones(scan.shape[:2], dtype=bool) if valid is None else np.asarray(valid).reshape(scan.shape[:2]) > 0.5
    scan_grad, reference_grad = fields[0][inside], fields[1][inside]
    norm = float(np.sqrt(np.sum(scan_grad ** 2) * np.sum(reference_grad ** 2)))
    return float(np.sum(scan_grad * reference_grad) / norm) if norm > 0.0 else float("nan")


def held_out_agreement(config: Any, pairs_record: dict[str, Any]) -> dict[str, Any] | None:
    """`reference_structure_agreement` for a run's card (docs/CONTRACT.md §4): the measure over the run's held-out
    pairs, read again from where training read them; None (logged) when the run held none out or they can no
    longer be read as they were (moved, changed since training)."""
    frames = [int(frame) for frame in pairs_record.get("validation_frames", [])]
    if not frames:
        return None
    records = {int(entry["frame"]): entry for entry in pairs_record.get("pairs", []) if "frame" in entry}
    try:
        scores = [structure_agreement(*_held_out_pair(config, records.get(frame), frame)) for frame in frames]
    except (ChromalumaError, OSError, KeyError, ValueError) as exc:
        log.warning("reference structure agreement not measured: %s", exc)
        return None
    finite = [score for score in scores if np.isfinite(score)]
    if not finite:
        return None
    return {"value": round(float(np.mean(finite)), 4), "frames": frames, "measure": MEASURE}


def _held_out_pair(config: Any, record: dict[str, Any] | None,
                   frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Scan, reference and validity of one held-out pair, each file checked against its hash in the record."""
    from chromaluma.io import open_shot, read_frame

    if record is None:
        raise KeyError(f"held-out frame {frame} is not in the run's pairs record")
    if config.pairs_dir is not None:
        folder = Path(config.pairs_dir)
        paths = {role: folder / record[role] for role in ("scan", "reference", "mask") if record.get(role)}
        frames = {role: _checked(path, record.get(f"{role}_sha256"), read_frame(path)[0])
                  for role, path in paths.items()}
    else:
        shots = {role: open_shot(source) for role, source in
                 (("scan", config.input), ("reference", config.target), ("mask", config.masks)) if source is not None}
        index = shots["scan"].frame_ids.index(frame)  # training pairs the shots position by position
        frames = {role: _checked(shot.path_of(index) or shot.source, record.get(f"{role}_sha256"), shot.read(index))
                  for role, shot in shots.items()}
    mask = frames.get("mask")
    return frames["scan"], frames["reference"], None if mask is None else mask[..., 0]


def _checked(path: Path, recorded: str | None, frame: np.ndarray) -> np.ndarray:
    if recorded is not None and file_sha256(path) != recorded:
        raise ValueError(f"{path} changed since training (its SHA-256 differs from the run's pairs record)")
    return frame
