"""Writing synthetic scans, references and ground truth to disk: shot folders and pairs folders.

A pairs folder follows docs/CONTRACT.md §5 (scan/, reference/, optional mask/, manifest.json) so that
`chromaluma train --pairs` and the benchmarks train on synthetic pairs exactly as on aligned real ones.
Frames are 16-bit PNG; every file is written atomically (temp name, then rename).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from chromaluma import __version__
from chromaluma.errors import FrameWriteError, PairMismatchError
from chromaluma.io import FrameFormat, write_frame
from chromaluma.io.atomic import write_json_atomically

PNG16 = FrameFormat(".png", "uint16", 16, 3)


def frame_name(frame_id: int, extension: str = ".png") -> str:
    return f"{frame_id:05d}{extension}"


def write_json(path: Path, content: object) -> None:
    """Write JSON atomically (chromaluma.io.atomic); a failure names the file and leaves no partial one."""
    try:
        write_json_atomically(path, content)
    except OSError as exc:
        raise FrameWriteError(f"{path}: cannot write ({exc}). Check free disk space and permissions.") from exc


def write_pairs(folder: Path, scans: Sequence[np.ndarray], references: Sequence[np.ndarray],
                frame_ids: Sequence[int], source: str = "chromaluma.synth") -> Path:
    """Write a pairs folder (CONTRACT §5) of already-registered scan/reference frames; returns the manifest."""
    if not len(scans) == len(references) == len(frame_ids):
        raise PairMismatchError(f"{folder}: {len(scans)} scans, {len(references)} references and "
                                f"{len(frame_ids)} frame ids; give one reference per scan frame.")
    (folder / "scan").mkdir(parents=True, exist_ok=True)
    (folder / "reference").mkdir(parents=True, exist_ok=True)
    identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    pairs = []
    for scan, reference, frame_id in zip(scans, references, frame_ids, strict=True):
        if scan.shape[:2] != reference.shape[:2]:
            raise PairMismatchError(f"{folder}: frame {frame_id} scan is {scan.shape[1]}x{scan.shape[0]}, "
                                    f"reference {reference.shape[1]}x{reference.shape[0]}; resample the reference "
                                    "onto the scan's grid first.")
        name = frame_name(frame_id)
        write_frame(folder / "scan" / name, scan[..., :3], PNG16)
        write_frame(folder / "reference" / name, reference[..., :3], PNG16)
        pairs.append({"scan": f"scan/{name}", "reference": f"reference/{name}", "mask": None,
                      "scan_frame": int(frame_id), "reference_frame": int(frame_id), "reference_fields": None,
                      "shot": 0, "score": 1.0, "transform": identity})
    manifest = {
        "format_version": 1,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "chromaluma_version": __version__,
        "scan_source": source, "reference_source": source,
        "parameters": {"transform": "identity", "synthetic": True},
        "shots": [{"id": 0, "first_scan_frame": int(min(frame_ids)), "last_scan_frame": int(max(frame_ids)),
                   "transform": identity}],
        "pairs": pairs,
    }
    manifest_path = folder / "manifest.json"
    write_json(manifest_path, manifest)
    return manifest_path


def write_sequence(folder: Path, frames: Sequence[np.ndarray], frame_ids: Sequence[int],
                   frame_format: FrameFormat = PNG16) -> list[Path]:
    """Write frames as an image sequence `folder/NNNNN.ext`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for frame, frame_id in zip(frames, frame_ids, strict=True):
        path = folder / frame_name(frame_id, frame_format.extension)
        write_frame(path, frame[..., : frame_format.channels], frame_format)
        paths.append(path)
    return paths
