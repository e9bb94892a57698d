"""Writing the pairs folder of docs/CONTRACT.md §5: scan/, reference/, mask/, manifest.json (+ report/).

The folder is built under a hidden temporary name beside the target and renamed into place only when every
frame, the report and the manifest are written: an interrupted or failed run leaves nothing behind that
`chromaluma train --pairs` could mistake for a finished alignment.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from chromaluma import __version__
from chromaluma.align.pipeline import Alignment, PlannedPair
from chromaluma.align.reference_frames import aligned_reference
from chromaluma.align.report import write_report
from chromaluma.errors import ParameterError
from chromaluma.io import FrameFormat, write_frame

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
MASK_FORMAT = FrameFormat(".png", "uint8", 8, 1)


def pair_formats(scan_format: FrameFormat, from_video: bool) -> tuple[FrameFormat, FrameFormat]:
    """Scan and reference file formats: the scan's family, 16-bit integer or float as the scan is (§5)."""
    extension = ".tif" if from_video or scan_format.extension in (".jpg", ".jpeg") else scan_format.extension
    if scan_format.is_float:
        scan_out = FrameFormat(extension, scan_format.sample_type, scan_format.bits, scan_format.channels)
    else:
        scan_out = FrameFormat(extension, "uint16", 16, scan_format.channels)
    return scan_out, FrameFormat(scan_out.extension, scan_out.sample_type, scan_out.bits, 3)


def check_target(out_dir: Path) -> None:
    """Refuse to write into a folder that already holds something (an earlier alignment, say)."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ParameterError(f"--out {out_dir}: already exists and is not empty. Choose a new folder or remove "
                             "this one; alignment never mixes its pairs with older files.")


def write_pairs_folder(alignment: Alignment, out_dir: str | Path) -> Path:
    """Write every planned pair, the report and the manifest; returns the manifest's path."""
    target = Path(out_dir)
    check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    try:
        for sub in ("scan", "reference", "mask", "report"):
            (building / sub).mkdir(parents=True)
        entries = _write_frames(alignment, building)
        report = write_report(alignment, building, building / "report")
        _write_manifest(alignment, building, entries, report)
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    log.info("wrote %d pairs to %s", len(entries), target)
    return target / "manifest.json"


def _write_frames(alignment: Alignment, folder: Path) -> list[dict[str, object]]:
    scan_shot = alignment.scan.shot
    scan_format, reference_format = pair_formats(scan_shot.frame_format, scan_shot.is_video)
    entries = []
    for pair in tqdm(alignment.pairs, desc="writing pairs", unit="pair", disable=not alignment.options.progress):
        name = f"{pair.scan_frame:05d}"
        scan_name = f"scan/{name}{scan_format.extension}"
        reference_name = f"reference/{name}{reference_format.extension}"
        mask_name = f"mask/{name}.png"
        write_frame(folder / scan_name, scan_shot.read(pair.scan_index), scan_format)
        warped, mask = aligned_reference(alignment, pair)
        write_frame(folder / reference_name, warped, reference_format)
        write_frame(folder / mask_name, mask[..., None].astype(np.float32), MASK_FORMAT)
        entries.append(_pair_entry(alignment, pair, scan_name, reference_name, mask_name))
    return entries


def _pair_entry(alignment: Alignment, pair: PlannedPair, scan_name: str, reference_name: str,
                mask_name: str) -> dict[str, object]:
    reference_ids = alignment.reference.shot.frame_ids
    fields = None
    if pair.top_frame != pair.bottom_frame:
        fields = [[reference_ids[pair.top_frame], "top"], [reference_ids[pair.bottom_frame], "bottom"]]
    return {"scan": scan_name, "reference": reference_name, "mask": mask_name, "scan_frame": pair.scan_frame,
            "reference_frame": reference_ids[pair.top_frame], "reference_fields": fields, "shot": pair.shot,
            "score": round(pair.score, 4), "transform": _matrix(alignment.transform_of_shot(pair.shot))}


def _matrix(matrix: np.ndarray) -> list[list[float]]:
    normalised = matrix / matrix[2, 2]
    return [[float(f"{value:.10g}") for value in row] for row in normalised]


def _write_manifest(alignment: Alignment, folder: Path, entries: list[dict[str, object]],
                    report: dict[str, str]) -> None:
    options, scan = alignment.options, alignment.scan
    ids = scan.frame_ids
    ends = alignment.shot_starts[1:] + [len(ids)]
    shots = [{"id": number, "first_scan_frame": ids[start], "last_scan_frame": ids[end - 1],
              "transform": _matrix(alignment.transform_of_shot(number))}
             for number, (start, end) in enumerate(zip(alignment.shot_starts, ends, strict=True))]
    written = {pair.scan_index for pair in alignment.pairs}
    manifest = {
        "format_version": MANIFEST_FORMAT,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "chromaluma_version": __version__,
        "scan_source": str(scan.shot.source.resolve()),
        "reference_source": str(alignment.reference.shot.source.resolve()),
        "parameters": {"transform": options.transform, "min_score": options.min_score, "every": options.every,
                       "scan_fps": options.scan_fps or scan.shot.fps,
                       "reference_fps": options.reference_fps or alignment.reference.shot.fps},
        "shots": shots,
        "pairs": entries,
        "left_out": {"unmatched_scan_frames": [ids[i] for i in range(len(ids)) if i not in alignment.scores],
                     "below_min_score": [ids[i] for i, s in alignment.scores.items() if s < options.min_score],
                     "thinned_by_every": [ids[i] for i, s in alignment.scores.items()
                                          if s >= options.min_score and i not in written]},
        "report": report,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
