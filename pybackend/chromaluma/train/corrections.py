"""Corrections: frames a restorer fixed by hand join the training pairs (`chromaluma train --corrections DIR`).

Folder (docs in README "Corrections"):
    DIR/0120.png          the corrected frame: the render of scan frame 120, repainted where it was wrong
    DIR/masks/0120.png    optional: white where the restorer corrected (the last run of digits is the frame number,
                          as for keyframes and scan sequences; any format `chromaluma.io` reads)

Each correction becomes a pair (scan frame → corrected frame) that is drawn `--correction-weight` times as often
as an ordinary pair. With a mask only the corrected region counts in the loss, and its crops are cut from around
the region, so every draw teaches the correction; without one the whole frame counts (the rest of a frame painted
over the render holds the model to what it did there). Where a correction and an ordinary training pair cover
the same pixels of the same frame the correction wins: the pair's reference no longer counts there (the
restorer overrules the reference). Corrections are never held out for validation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.contract import file_sha256
from chromaluma.errors import ChromalumaError, PairMismatchError
from chromaluma.io import open_shot, read_frame, to_rgba
from chromaluma.io.sequence import IMAGE_EXTENSIONS, frame_number
from chromaluma.train.checkpoint import load_latest
from chromaluma.train.pairs import Pair
from chromaluma.train.windows import manifest_sources, scan_frame_rgba

log = logging.getLogger(__name__)

MASKS_FOLDER = "masks"


class CorrectionError(ChromalumaError):
    """A corrections folder that cannot be trained on (missing, badly named, wrong size, changed since a run began)."""


@dataclass
class Correction:
    """One corrected frame: RGB float32 H×W×3 and, when the restorer gave one, its 0/1 region mask H×W."""

    frame: int
    path: Path
    sha256: str
    image: np.ndarray
    mask_path: Path | None = None
    mask_sha256: str | None = None
    mask: np.ndarray | None = None

    def record(self, weight: int) -> dict[str, Any]:
        """The model card's entry for this correction."""
        region = int(self.mask.sum()) if self.mask is not None else self.image.shape[0] * self.image.shape[1]
        return {"frame": self.frame, "file": str(self.path), "sha256": self.sha256,
                "mask": None if self.mask_path is None else str(self.mask_path), "mask_sha256": self.mask_sha256,
                "weight": weight, "region_px": region}


def numbered_files(folder: Path, what: str) -> dict[int, Path]:
    """{frame number: file} of the images in `folder` (not below it); CorrectionError for a name without a frame
    number or two files for one frame."""
    files: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        number = frame_number(path)
        if number is None:
            raise CorrectionError(f"{path}: no frame number in the name; name each {what} by the scan frame number "
                                  "it corrects (e.g. 0120.png).")
        if number in files:
            raise CorrectionError(f"{path} and {files[number].name}: two {what}s for frame {number}; keep one.")
        files[number] = path
    return files


def read_corrections(folder: Path) -> list[Correction]:
    """Every correction in `folder` with its mask from `folder/masks/` (matched by frame number), checked: each
    mask belongs to a correction, has the correction's size and marks some pixels."""
    root = Path(folder)
    if not root.is_dir():
        raise CorrectionError(f"--corrections {root}: no such folder. Give the folder of corrected frames, each named "
                              "by the scan frame number it corrects (masks, optional, in its masks/ folder).")
    frames = numbered_files(root, "correction")
    if not frames:
        raise CorrectionError(f"--corrections {root}: no corrected frames found (looked for "
                              f"{', '.join(sorted(IMAGE_EXTENSIONS))}).")
    masks = numbered_files(root / MASKS_FOLDER, "mask") if (root / MASKS_FOLDER).is_dir() else {}
    stray = sorted(set(masks) - set(frames))
    if stray:
        raise CorrectionError(f"{masks[stray[0]]}: a mask for frame {stray[0]}, but {root} holds no correction of "
                              "that frame. Add the corrected frame, or remove the mask.")
    return [_read_correction(number, path, masks.get(number)) for number, path in frames.items()]


def _read_correction(frame: int, path: Path, mask_path: Path | None) -> Correction:
    pixels, _ = read_frame(path)
    rgba = to_rgba(pixels.astype(np.float32, copy=False))
    if not np.isfinite(rgba[..., :3]).all():
        raise CorrectionError(f"{path}: holds non-finite pixels (NaN or infinity); re-export the corrected frame.")
    correction = Correction(frame, path, file_sha256(path), np.ascontiguousarray(rgba[..., :3], dtype=np.float32))
    if mask_path is None:
        return correction
    mask_pixels, _ = read_frame(mask_path)
    if mask_pixels.shape[:2] != rgba.shape[:2]:
        raise PairMismatchError(f"{mask_path} is {mask_pixels.shape[1]}×{mask_pixels.shape[0]} but its correction "
                                f"{path.name} is {rgba.shape[1]}×{rgba.shape[0]}: a mask must match its correction.")
    mask = (np.nan_to_num(mask_pixels[..., 0]) > 0.5).astype(np.float32)
    if not mask.any():
        raise CorrectionError(f"{mask_path}: marks no pixel (white = corrected region). Paint the corrected region "
                              "white, or remove the mask to train on the whole frame.")
    return replace(correction, mask_path=mask_path, mask_sha256=file_sha256(mask_path), mask=mask)


def join_corrections(session: Any) -> list[Pair]:
    """The session's training pairs with its config's corrections joined (unchanged when it has none); records
    them in `session.card_training["corrections"]`. Writes nothing; on --resume refuses corrections that changed.

    `session` is a :class:`chromaluma.train.loop._Session` after its pairs, windows and validation split are set.
    """
    config = session.config
    if config.corrections is None:
        return list(session.train_pairs)
    weight = int(config.correction_weight)
    corrections = read_corrections(Path(config.corrections))
    records = [c.record(weight) for c in corrections]
    if session.resume:
        _check_unchanged(session, records)
    by_frame = {p.frame: p for p in session.pairs}
    scans = _ScanFrames(config, by_frame)
    joined = [_correction_pair(c, scans, by_frame.get(c.frame), session.radius, config.crop) for c in corrections]
    joined = [pair for pair in joined for _ in range(weight)]  # each drawn `weight` times as often as a pair
    joined = _overruled(session.train_pairs, corrections) + joined
    session.card_training["corrections"] = {"folder": str(config.corrections), "weight": weight,
                                            "corrections": records}
    log.info("%d correction(s) from %s join %d training pairs, each drawn %d× as often as a pair: frames %s",
             len(corrections), config.corrections, len(session.train_pairs), weight,
             ", ".join(str(c.frame) for c in corrections))
    return joined


def _check_unchanged(session: Any, records: list[dict[str, Any]]) -> None:
    state = load_latest(session.run_dir)
    earlier = (state or {}).get("card_training", {}).get("corrections", {}).get("corrections")
    if earlier is not None and earlier != records:
        raise CorrectionError(f"--corrections {session.config.corrections}: the corrections changed since the run in "
                              f"{session.run_dir} began (files or hashes differ). Restore them, or fine-tune anew: "
                              f"--init {session.run_dir} --corrections DIR --run-dir NEW.")


class _ScanFrames:
    """Scan frames by number: a training pair's own scan, else read from the scan (--input, or the pairs
    folder's scan source)."""

    def __init__(self, config: Any, by_frame: dict[int, Pair]) -> None:
        self.config, self.by_frame = config, by_frame
        self.shot: Any = None

    def scan(self, correction: Correction) -> np.ndarray:
        pair = self.by_frame.get(correction.frame)
        if pair is not None:
            return pair.scan
        if self.shot is None:
            source = self.config.input
            if source is None and self.config.pairs_dir is not None:
                source = manifest_sources(Path(self.config.pairs_dir))[0]
            if source is None:
                raise CorrectionError(f"{correction.path}: frame {correction.frame} is not among the training pairs "
                                      "and the pairs folder names no scan to read it from. Correct frames that are "
                                      "among the pairs, or give --input SCAN --target REFERENCE.")
            self.shot = open_shot(source)
        shot = self.shot
        if correction.frame not in shot.frame_ids:
            first, last = shot.frame_ids[0], shot.frame_ids[-1]
            raise CorrectionError(f"{correction.path}: frame {correction.frame} is not in the scan {shot.source} "
                                  f"(frames {first}-{last}); name each correction by the scan frame it corrects.")
        return scan_frame_rgba(shot.read(shot.frame_ids.index(correction.frame)))


def _correction_pair(correction: Correction, scans: _ScanFrames, pair: Pair | None, radius: int, crop: int) -> Pair:
    """The correction as a training pair, cut to its region (grown to at least a crop's edge) when it has a mask."""
    scan = scans.scan(correction)
    if scan.shape[:2] != correction.image.shape[:2]:
        raise PairMismatchError(f"{correction.path} is {correction.image.shape[1]}×{correction.image.shape[0]} but "
                                f"scan frame {correction.frame} is {scan.shape[1]}×{scan.shape[0]}: a correction is "
                                "the render of its scan frame, repainted; export it at the scan's size.")
    neighbours: tuple[np.ndarray, ...] = ()
    if radius:
        if pair is None or not pair.neighbours:
            raise CorrectionError(f"{correction.path}: frame {correction.frame} is not among the training pairs, so "
                                  f"a temporal model (radius {radius}) has no window around it. Correct frames that "
                                  "are among the pairs.")
        neighbours = pair.neighbours
    valid = np.ones(scan.shape[:2], np.float32) if correction.mask is None else correction.mask
    rows, cols = _region(valid, crop)
    return Pair(correction.frame, scan[rows, cols], correction.image[rows, cols], valid[rows, cols],
                {"frame": correction.frame, "correction": str(correction.path)}, pair.shot if pair else 0,
                tuple(n[rows, cols] for n in neighbours))


def _region(valid: np.ndarray, crop: int) -> tuple[slice, slice]:
    """Rows and columns of the valid pixels' bounding box, grown evenly to at least `crop` (within the frame)."""
    spans = []
    for axis in (1, 0):  # rows: any valid pixel in the row; then columns
        hits = np.flatnonzero(valid.any(axis=axis))
        size = valid.shape[0 if axis == 1 else 1]
        first, last = int(hits[0]), int(hits[-1]) + 1
        length = max(last - first, min(crop, size))
        start = min(max(0, first - (length - (last - first)) // 2), size - length)
        spans.append(slice(start, start + length))
    return spans[0], spans[1]


def _overruled(pairs: list[Pair], corrections: list[Correction]) -> list[Pair]:
    """`pairs` with each corrected frame's reference no longer counting where its correction does (the whole frame
    for an unmasked correction: that pair is dropped)."""
    corrected = {c.frame: c for c in corrections}
    kept = []
    for pair in pairs:
        correction = corrected.get(pair.frame)
        if correction is None:
            kept.append(pair)
        elif correction.mask is not None and (pair.valid * (1.0 - correction.mask)).any():
            kept.append(replace(pair, valid=pair.valid * (1.0 - correction.mask)))
    return kept
