"""Training pairs: scan frame, reference frame on the same pixel grid, and where the reference is valid.

Read from a pairs folder (docs/CONTRACT.md §5, written by `chromaluma align`) or from two shots paired frame by
frame (`--input`/`--target`, optional `--masks`). Every refusal names the file and the fix; nothing is written.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.contract import file_sha256
from chromaluma.errors import PairMismatchError, SequenceError
from chromaluma.io import Shot, open_shot, read_frame, to_rgba
from chromaluma.models.colour import LUMA_WEIGHTS

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
PAIRS_FORMAT_VERSIONS = frozenset({1})
MIN_PAIRS_FOR_VALIDATION = 8
# Lightness differences are averaged over blocks this wide before they are compared, so grain and small
# misregistration do not count as a density difference.
DENSITY_BLOCK_PX = 16


@dataclass
class Pair:
    """One training pair in memory: RGBA scan, RGB reference and a 0/1 validity mask, all H×W float32.

    A temporal-window run (chromaluma.train.windows) adds the scan frames around it: `neighbours` holds 2R RGBA
    frames ordered t−R … t−1, t+1 … t+R, arrays shared with the pairs and windows that hold the same frame.
    """

    frame: int
    scan: np.ndarray
    reference: np.ndarray
    valid: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)  # the model card's entry: files and their hashes
    shot: int = 0  # the manifest's shot (one shot for --input/--target): windows never reach into another
    neighbours: tuple[np.ndarray, ...] = ()

    def window(self) -> list[np.ndarray]:
        """The frames the model reads, t−R … t+R (the scan alone for a single-frame run)."""
        half = len(self.neighbours) // 2
        return [*self.neighbours[:half], self.scan, *self.neighbours[half:]]

    def window_array(self) -> np.ndarray:
        """The model's input for this frame: the scan [H, W, 4], or the window [T, H, W, 4] when it has one."""
        return np.stack(self.window()) if self.neighbours else self.scan


@dataclass
class _PairSource:
    frame: int
    scan: Path | tuple[Shot, int]
    reference: Path | tuple[Shot, int]
    mask: Path | tuple[Shot, int] | None
    names: dict[str, str]  # card entries: scan / reference / mask names as the user knows them
    shot: int = 0


def load_pairs(kind: str, pairs_dir: Path | None, scan_source: Path | None, reference_source: Path | None,
               masks: Path | None = None) -> list[Pair]:
    """All pairs, validated: equal counts and sizes, readable frames, a colour reference for chroma models."""
    if pairs_dir is not None:
        sources = _sources_from_manifest(Path(pairs_dir))
    else:
        assert scan_source is not None and reference_source is not None
        sources = _sources_from_shots(Path(scan_source), Path(reference_source), masks)
    file_hashes: dict[Path, str] = {}
    return [_load_pair(kind, source, file_hashes) for source in sources]


def _sources_from_manifest(pairs_dir: Path) -> list[_PairSource]:
    manifest_path = pairs_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        raise SequenceError(f"{manifest_path}: no pairs manifest. Make the folder with `chromaluma align`, or give "
                            "--input SCAN --target REFERENCE instead of --pairs.")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SequenceError(f"{manifest_path}: not valid JSON ({exc}). Re-run `chromaluma align`.") from exc
    version = manifest.get("format_version")
    if version not in PAIRS_FORMAT_VERSIONS:
        raise SequenceError(f"{manifest_path}: pairs format_version {version!r} is not one this Chromaluma reads "
                            f"({sorted(PAIRS_FORMAT_VERSIONS)}). Re-run `chromaluma align` with this version.")
    entries = manifest.get("pairs") or []
    if not entries:
        raise SequenceError(f"{manifest_path}: lists no pairs. Re-run `chromaluma align` with a lower --min-score "
                            "or check that the reference covers the scan.")
    sources = []
    for index, entry in enumerate(entries):
        try:
            names = {"scan": entry["scan"], "reference": entry["reference"]}
        except KeyError as exc:
            raise SequenceError(f"{manifest_path}: pair {index} lacks {exc}. Re-run `chromaluma align`.") from exc
        if entry.get("mask"):
            names["mask"] = entry["mask"]
        sources.append(_PairSource(
            frame=int(entry.get("scan_frame", index)), scan=pairs_dir / names["scan"],
            reference=pairs_dir / names["reference"], mask=pairs_dir / names["mask"] if "mask" in names else None,
            names=names, shot=_shot_of(entry, manifest_path, index)))
    return sources


def _shot_of(entry: dict[str, Any], manifest_path: Path, index: int) -> int:
    """A pair's `shot` (0 where the manifest names none: all its pairs then form one shot)."""
    shot = entry.get("shot")
    if shot is None:
        return 0
    if isinstance(shot, bool) or not isinstance(shot, int):
        raise SequenceError(f"{manifest_path}: pair {index} has shot {shot!r}, not a shot number. Re-run "
                            "`chromaluma align`.")
    return shot


def _sources_from_shots(scan_source: Path, reference_source: Path, masks: Path | None) -> list[_PairSource]:
    scans, references = open_shot(scan_source), open_shot(reference_source)
    mask_shot = open_shot(masks) if masks is not None else None
    for name, shot in (("--target", references), ("--masks", mask_shot)):
        if shot is not None and len(shot) != len(scans):
            raise PairMismatchError(
                f"{scan_source} has {len(scans)} frames but {name} {shot.source} has {len(shot)}: training pairs "
                "frame by frame. Trim both to the same frames, or pair them with `chromaluma align` and use --pairs.")
    sources = []
    for index, frame in enumerate(scans.frame_ids):
        names = {"scan": _name_in_shot(scans, index), "reference": _name_in_shot(references, index)}
        if mask_shot is not None:
            names["mask"] = _name_in_shot(mask_shot, index)
        sources.append(_PairSource(frame, (scans, index), (references, index),
                                   (mask_shot, index) if mask_shot is not None else None, names))
    return sources


def _name_in_shot(shot: Shot, index: int) -> str:
    path = shot.path_of(index)
    return str(path) if path is not None else f"{shot.source}#{shot.frame_ids[index]}"


def _read(source: Path | tuple[Shot, int]) -> tuple[np.ndarray, Path]:
    if isinstance(source, Path):
        return read_frame(source)[0], source
    shot, index = source
    return shot.read(index), shot.path_of(index) or shot.source


def _load_pair(kind: str, source: _PairSource, file_hashes: dict[Path, str]) -> Pair:
    scan, scan_path = _read(source.scan)
    reference, reference_path = _read(source.reference)
    if scan.shape[:2] != reference.shape[:2]:
        raise PairMismatchError(
            f"{reference_path} is {reference.shape[1]}×{reference.shape[0]} but its scan {scan_path} is "
            f"{scan.shape[1]}×{scan.shape[0]}: references must lie on the scan's pixel grid. Register them with "
            "`chromaluma align` (it warps the reference onto the scan) and train with --pairs.")
    if kind == "chroma" and _is_greyscale(reference):
        raise PairMismatchError(
            f"{reference_path} is greyscale: a chroma model learns colour from its reference. Give the colour "
            "reference (DVD, telecine, colour print), or train --kind luma for density and detail.")
    valid = np.ones(scan.shape[:2], dtype=np.float32)
    if source.mask is not None:
        mask, mask_path = _read(source.mask)
        if mask.shape[:2] != scan.shape[:2]:
            raise PairMismatchError(f"{mask_path} is {mask.shape[1]}×{mask.shape[0]} but its scan {scan_path} is "
                                    f"{scan.shape[1]}×{scan.shape[0]}: a validity mask must match its scan. "
                                    "Re-run `chromaluma align`.")
        valid = (mask[..., 0] > 0.5).astype(np.float32)
    scan_rgba = to_rgba(scan)
    reference_rgb = to_rgba(reference)[..., :3]
    finite = np.isfinite(scan_rgba).all(axis=2) & np.isfinite(reference_rgb).all(axis=2)
    if not finite.all():
        log.warning("%s / %s: %d non-finite pixels set to 0 and left out of the loss", scan_path, reference_path,
                    int((~finite).sum()))
        scan_rgba = np.where(finite[..., None], scan_rgba, 0.0).astype(np.float32)
        reference_rgb = np.where(finite[..., None], reference_rgb, 0.0).astype(np.float32)
        valid = valid * finite
    scan_rgba = scan_rgba.copy()
    scan_rgba[..., 3] = 1.0  # the model learns colour; alpha is copied through at inference, never learnt
    record: dict[str, Any] = {"frame": source.frame}
    for role, path in (("scan", scan_path), ("reference", reference_path)):
        record[role] = source.names[role]
        record[f"{role}_sha256"] = _hash(path, file_hashes)
    if source.mask is not None:
        record["mask"] = source.names["mask"]
        record["mask_sha256"] = _hash(_read(source.mask)[1], file_hashes)
    return Pair(source.frame, scan_rgba, np.ascontiguousarray(reference_rgb), valid, record, source.shot)


def _hash(path: Path, cache: dict[Path, str]) -> str:
    if path not in cache:
        cache[path] = file_sha256(path)
    return cache[path]


def _is_greyscale(frame: np.ndarray) -> bool:
    if frame.shape[2] < 3:
        return True
    rgb = frame[..., :3]
    spread = np.nanmax(np.abs(rgb - rgb[..., 1:2]))
    return bool(spread < 1e-6)


def default_validation_frames(count: int) -> int:
    """How many of `count` pairs are held out when --val-frames is not given: 10 %, none below
    MIN_PAIRS_FOR_VALIDATION (with a handful of keyframes, each one held out is a large part of what there is to
    learn from)."""
    return 0 if count < MIN_PAIRS_FOR_VALIDATION else max(1, round(count / 10))


def split_validation(pairs: list[Pair], val_frames: int | None) -> tuple[list[Pair], list[Pair]]:
    """Hold out `val_frames` pairs spread evenly through the list (default: `default_validation_frames`)."""
    count = len(pairs)
    wanted = val_frames if val_frames is not None else default_validation_frames(count)
    if wanted < 0 or wanted >= count:
        raise PairMismatchError(f"--val-frames {wanted}: with {count} pairs at most {count - 1} can be held out "
                                "(at least one must remain for training).")
    if wanted == 0:
        return pairs, []
    held = {int(i) for i in np.round(np.linspace(0, count - 1, wanted + 2)[1:-1])}
    return [p for i, p in enumerate(pairs) if i not in held], [p for i, p in enumerate(pairs) if i in held]


def density_gap(pairs: list[Pair]) -> float:
    """How far the scans' density (lightness) lies from the references': the mean absolute difference of Rec.709
    luma, reference − scan, averaged over DENSITY_BLOCK_PX blocks that are at least half valid, then over pairs
    (0 when no block is valid). On a 0–1 scale: 0.05 means the reference is on average 5 % of full scale lighter
    or darker than the scan, which a chroma model with density keep leaves as it is."""
    weights = np.asarray(LUMA_WEIGHTS, dtype=np.float32)
    gaps = []
    for pair in pairs:
        height, width = (n - n % DENSITY_BLOCK_PX for n in pair.valid.shape)
        if height == 0 or width == 0:
            continue
        difference = (pair.reference @ weights - pair.scan[..., :3] @ weights) * pair.valid
        blocks = (height // DENSITY_BLOCK_PX, DENSITY_BLOCK_PX, width // DENSITY_BLOCK_PX, DENSITY_BLOCK_PX)
        sums = difference[:height, :width].reshape(blocks).sum(axis=(1, 3))
        counts = pair.valid[:height, :width].reshape(blocks).sum(axis=(1, 3))
        used = counts >= DENSITY_BLOCK_PX ** 2 / 2
        if used.any():
            gaps.append(float(np.abs(sums[used] / counts[used]).mean()))
    return float(np.mean(gaps)) if gaps else 0.0
