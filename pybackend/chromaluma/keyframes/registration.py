"""Painted keyframes brought onto the scan's geometry with the alignment code, and how well each one registered.

A keyframe may be any size or crop: a scan frame painted over at full size, a cropped export, a still painted at
another resolution. Each is registered onto its own scan frame by the alignment code's SIFT + RANSAC similarity,
refined by ECC on structure images (:mod:`chromaluma.align.spatial`); a keyframe of the scan's size also tries no
motion at all and keeps it unless a transform registers clearly better, so a frame painted over the scan is not
resampled. The registered keyframe keeps the painting's colour (Cb, Cr) on the scan frame's own luma: luma stays the
scan's, and the model matches scan against scan. Where the painting does not reach, the scan frame itself (no
colour) stands in; the report gives that coverage.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.align.spatial import constrain, feature_transform, refine_ecc, validity_mask, warp_to_grid
from chromaluma.align.structure import Grid, correlation, luma, structure
from chromaluma.contract import LUMA_WEIGHTS, file_sha256
from chromaluma.errors import ChromalumaError
from chromaluma.io import Shot, open_shot, to_rgba
from chromaluma.keyframes.folder import painted_files, read_painted
from chromaluma.keyframes.selection import Keyframe, KeyframeError, KeyframeSet

log = logging.getLogger(__name__)

TRANSFORM = "similarity"
SCORE_WIDTH = 512  # registration is scored (and refined) on a scan grid no wider than this
GOOD_SCORE = 0.6  # structure correlation at or above this: registered
MIN_SCORE = 0.3  # below this the keyframe is refused: wrong frame number, or a different picture
KEEP_IDENTITY_MARGIN = 0.01  # a same-size keyframe stays unmoved unless a transform scores this much better


def register_keyframes(folder: str | Path, scan: str | Path | Shot, cuts: tuple[int, ...] = ()
                       ) -> tuple[KeyframeSet, list[dict[str, Any]]]:
    """Every keyframe of `folder` registered onto its frame of `scan` (a folder or video, or an open Shot): the set
    (with the scan's shot `cuts`) and one report entry per keyframe."""
    shot = scan if isinstance(scan, Shot) else _open_scan(scan)
    positions = {frame_id: index for index, frame_id in enumerate(shot.frame_ids)}
    keyframes, report = [], []
    for number, path in painted_files(folder).items():
        if number not in positions:
            raise KeyframeError(f"{path}: frame {number} is not in the scan {shot.source} (frames "
                                f"{shot.frame_ids[0]}–{shot.frame_ids[-1]}); name each keyframe by its frame number "
                                "in the scan.")
        scan_frame = np.ascontiguousarray(to_rgba(shot.read(positions[number])), dtype=np.float32)
        image, entry = register_one(read_painted(path), scan_frame, path)
        entry.update({"frame": number, "file": path.name, "sha256": file_sha256(path)})
        keyframes.append(Keyframe(number, path, entry["sha256"], image))
        report.append(entry)
        log.info("keyframe %d (%s): %s, structure correlation %.3f, %s, covers %.0f %% of the frame", number,
                 path.name, entry["verdict"], entry["score"], entry["method"], 100 * entry["coverage"])
    return KeyframeSet(tuple(keyframes), cuts, str(folder)), report


def register_one(painted: np.ndarray, scan_frame: np.ndarray, path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """(the painting on the scan frame's geometry and luma, its report entry); KeyframeError if it does not
    register."""
    height, width = scan_frame.shape[:2]
    grid = Grid.scaled(width, height, SCORE_WIDTH)
    scan_structure = structure(grid.resize(luma(scan_frame)), *grid.sigmas())
    painted_luma = luma(painted)
    candidates: list[tuple[str, np.ndarray]] = []
    if painted.shape[:2] == scan_frame.shape[:2]:
        candidates.append(("unmoved (painted over the scan frame)", np.eye(3)))
    found = feature_transform(luma(scan_frame), painted_luma, TRANSFORM)
    if found is not None:
        candidates.append((f"{TRANSFORM} transform", _refined(scan_structure, painted_luma, found, grid)))
    scored = [(_score(scan_structure, painted_luma, matrix, grid), method, matrix) for method, matrix in candidates]
    if not scored:
        raise KeyframeError(f"{path}: cannot register it onto scan frame {_size(scan_frame)} (too few matching "
                            "features): paint over the scan frame itself, or crop the painting less.")
    best = max(scored, key=lambda item: item[0])
    if scored[0][1].startswith("unmoved") and scored[0][0] >= best[0] - KEEP_IDENTITY_MARGIN:
        best = scored[0]
    score, method, matrix = best
    if score < MIN_SCORE:
        raise KeyframeError(f"{path}: does not match its scan frame (structure correlation {score:.2f} < "
                            f"{MIN_SCORE}): check its frame number, or that it is a painting of that frame.")
    image, coverage = _on_scan(painted, scan_frame, matrix)
    verdict = "registered" if score >= GOOD_SCORE else "registered loosely: check it"
    entry = {"size": [int(painted.shape[1]), int(painted.shape[0])], "method": method, "score": round(float(score), 4),
             "coverage": round(coverage, 4), "verdict": verdict,
             "painting_to_scan": [[round(float(v), 6) for v in row] for row in matrix]}
    return image, entry


def scan_cuts(scan: str | Path | Shot) -> tuple[int, ...]:
    """Frame numbers where the scan's shots start, found as `chromaluma align` finds them (the first frame
    included)."""
    from chromaluma.align.cuts import shot_starts_of_frames

    shot = scan if isinstance(scan, Shot) else _open_scan(scan)
    starts = shot_starts_of_frames(frame for _, frame in shot)
    return tuple(shot.frame_ids[index] for index in starts)


def _refined(scan_structure: np.ndarray, painted_luma: np.ndarray, matrix: np.ndarray, grid: Grid) -> np.ndarray:
    mask = _inside(painted_luma, matrix, grid)
    if mask.sum() < 0.1 * mask.size:
        return matrix
    refined = refine_ecc(scan_structure, painted_luma, matrix, grid, mask, TRANSFORM)
    if refined is None:
        return matrix
    return constrain(refined, TRANSFORM, painted_luma.shape[1], painted_luma.shape[0])


def _score(scan_structure: np.ndarray, painted_luma: np.ndarray, matrix: np.ndarray, grid: Grid) -> float:
    mask = _inside(painted_luma, matrix, grid)
    if mask.sum() < 0.1 * mask.size:
        return 0.0
    warped = structure(warp_to_grid(painted_luma, matrix, grid), *grid.sigmas())
    return max(0.0, correlation(scan_structure, warped, mask))


def _inside(painted_luma: np.ndarray, matrix: np.ndarray, grid: Grid) -> np.ndarray:
    box = (0, 0, painted_luma.shape[1], painted_luma.shape[0])
    return validity_mask(box, matrix, grid, margin=2.0 * grid.sigmas()[1])


def _on_scan(painted: np.ndarray, scan_frame: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """The painting's Cb, Cr on the scan frame's luma and alpha, at the scan's geometry; where the painting does
    not reach, the scan frame itself. Returns (image, fraction of the frame the painting covers)."""
    height, width = scan_frame.shape[:2]
    full = Grid(width, height, np.eye(3))
    if np.allclose(matrix, np.eye(3)) and painted.shape == scan_frame.shape:
        warped, covered = painted, np.ones((height, width), bool)
    else:
        warped = warp_to_grid(painted, matrix, full)
        covered = validity_mask((0, 0, painted.shape[1], painted.shape[0]), matrix, full, margin=0.5)
    weights = np.asarray(LUMA_WEIGHTS, np.float32)
    scan_luma = scan_frame[..., :3] @ weights
    colour_difference = warped[..., :3] - (warped[..., :3] @ weights)[..., None]  # (R−Y, G−Y, B−Y): Y-free
    image = scan_frame.copy()
    image[..., :3] = np.where(covered[..., None], scan_luma[..., None] + colour_difference, scan_frame[..., :3])
    return image, float(covered.mean())


def _open_scan(scan: str | Path) -> Shot:
    try:
        return open_shot(scan)
    except ChromalumaError as exc:
        raise KeyframeError(f"--input {scan}: {exc}") from exc


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}x{frame.shape[0]}"
