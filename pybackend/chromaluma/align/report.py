"""The alignment's evidence for a human: a contact sheet of a few pairs and a per-frame score plot.

Contact sheet rows are `scan | aligned reference | edges`, where the edge panel draws the scan's edges in
magenta and the reference's in green: where they coincide the lines turn white, so a misalignment shows as
coloured double lines. The score plot marks every scan frame's structural score, the `--min-score` line,
shot cuts, and frames left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from chromaluma.align.reference_frames import aligned_reference
from chromaluma.contract import LUMA_WEIGHTS
from chromaluma.io import FrameFormat, write_frame

if TYPE_CHECKING:
    from chromaluma.align.pipeline import Alignment

SHEET_ROWS = 4
TILE_WIDTH = 360
SHEET_FORMAT = FrameFormat(".png", "uint8", 8, 3)


def _display(frame: np.ndarray) -> np.ndarray:
    """A frame stretched to its own 1–99 % range for viewing (scan and reference differ in colour by design)."""
    rgb = frame[..., :3] if frame.shape[2] >= 3 else np.repeat(frame[..., :1], 3, axis=2)
    low, high = np.percentile(rgb, (1, 99))
    return np.clip((rgb - low) / max(float(high - low), 1e-6), 0.0, 1.0).astype(np.float32)


def _edges(frame: np.ndarray) -> np.ndarray:
    grey = np.clip(_display(frame) @ np.array(LUMA_WEIGHTS, np.float32) * 255.0, 0, 255).astype(np.uint8)
    return cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.2), 30, 90).astype(np.float32) / 255.0


def sheet_row(scan: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One contact-sheet row: scan | aligned reference | edge overlay, each TILE_WIDTH wide."""
    height = max(2, round(scan.shape[0] * TILE_WIDTH / scan.shape[1]))
    inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)  # not the mask's edge
    scan_edges, reference_edges = _edges(scan), _edges(reference) * inner
    overlay = np.stack([scan_edges, reference_edges, scan_edges], axis=2)
    tiles = [_display(scan), _display(reference) * mask[..., None], overlay]
    small = [cv2.resize(tile, (TILE_WIDTH, height), interpolation=cv2.INTER_AREA) for tile in tiles]
    gap = np.full((height, 4, 3), 0.2, np.float32)
    return np.concatenate([small[0], gap, small[1], gap, small[2]], axis=1)


def write_contact_sheet(alignment: Alignment, path: Path) -> None:
    """A few pairs spread over the alignment, one row each."""
    pairs = alignment.pairs
    chosen = [pairs[i] for i in sorted({round(k) for k in np.linspace(0, len(pairs) - 1, min(SHEET_ROWS, len(pairs)))})]
    rows = []
    for pair in chosen:
        warped, mask = aligned_reference(alignment, pair)
        rows.append(sheet_row(alignment.scan.shot.read(pair.scan_index), warped, mask.astype(np.float32)))
    gap = np.full((4, rows[0].shape[1], 3), 0.2, np.float32)
    sheet = np.concatenate([part for row in rows for part in (row, gap)][:-1], axis=0)
    write_frame(path, sheet, SHEET_FORMAT)


def write_score_plot(alignment: Alignment, path: Path) -> None:
    """Per-frame structural score with the --min-score line, shot cuts and left-out frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = alignment.scan.frame_ids
    figure, axes = plt.subplots(figsize=(9, 3.2), dpi=100)
    matched = sorted(alignment.scores)
    axes.plot([ids[i] for i in matched], [alignment.scores[i] for i in matched], "o-", ms=3, lw=1, label="score")
    written = [p.scan_frame for p in alignment.pairs]
    axes.plot(written, [p.score for p in alignment.pairs], "o", ms=4, mfc="none", color="green", label="written")
    unmatched = [ids[i] for i in range(len(ids)) if i not in alignment.scores]
    if unmatched:
        axes.plot(unmatched, [0.0] * len(unmatched), "x", color="red", label="no confident match")
    axes.axhline(alignment.options.min_score, color="grey", ls="--", lw=1, label="--min-score")
    for start in alignment.shot_starts[1:]:
        axes.axvline(ids[start] - 0.5, color="orange", lw=0.8)
    axes.set(xlabel="scan frame", ylabel="structural match score", ylim=(-0.05, 1.05),
             title="chromaluma align: per-frame score (orange lines: shot cuts)")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="lower left", fontsize=7, ncol=4)
    figure.tight_layout()
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    figure.savefig(partial)
    plt.close(figure)
    partial.replace(path)


def write_report(alignment: Alignment, root: Path, folder: Path) -> dict[str, str]:
    """Both report files; returns their paths relative to `root` for the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    sheet, plot = folder / "contact_sheet.png", folder / "scores.png"
    write_contact_sheet(alignment, sheet)
    write_score_plot(alignment, plot)
    return {"contact_sheet": str(sheet.relative_to(root)), "score_plot": str(plot.relative_to(root))}

