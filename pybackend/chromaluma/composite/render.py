"""`chromaluma composite` from start to end: open the prints, pair them in time, merge frame by frame, write.

Written (all or nothing, see :mod:`chromaluma.composite.output`):

- `OUT/<the first print's frame names>`: the composite, in the first print's format, size and frame numbers;
- `OUT/composite.json`: the report — prints (paths, offsets, every input frame's SHA-256), options, and per frame
  each print's registration (matrix, structural score), density match and share of pixels, and the SHA-256 of
  the composite frame and its source map;
- `MAP/<frame stem>.png` (MAP = `--source-map`, default `OUT/sources`): 8-bit grey, each pixel's value the index
  of the print it came from (0 = first print); `MAP/legend.json` maps the values to the prints.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from chromaluma import __version__
from chromaluma.composite.merge import MergedFrame, MergeOptions, merge_frame
from chromaluma.composite.output import StagedFolder, check_target
from chromaluma.composite.prints import Print, open_prints, pair_frames
from chromaluma.contract import file_sha256
from chromaluma.errors import ParameterError
from chromaluma.io import FrameFormat, write_frame
from chromaluma.io.atomic import write_json_atomically

log = logging.getLogger(__name__)

REPORT_NAME = "composite.json"
LEGEND_NAME = "legend.json"
MAP_FORMAT = FrameFormat(".png", "uint8", 8, 1)
VIDEO_FORMAT = FrameFormat(".tif", "uint16", 16, 3)


@dataclass(frozen=True)
class CompositeRequest:
    """What the command line asked for."""

    prints: list[Path]
    out: Path
    source_map: Path | None = None
    frames: tuple[int, int] | None = None
    offsets: list[int] | None = None
    options: MergeOptions = MergeOptions()
    progress: bool = True


def _positions(first: Print, frames: tuple[int, int] | None) -> list[int]:
    shot = first.shot.select(*frames) if frames is not None else first.shot
    wanted = set(shot.frame_ids)
    return [i for i, frame_id in enumerate(first.shot.frame_ids) if frame_id in wanted]


def _output_name(first: Print, position: int) -> tuple[str, FrameFormat]:
    """The composite frame's file name and format: the first print's own, or apply's naming for a video."""
    path = first.shot.path_of(position)
    if path is not None:
        return path.name, first.shot.frame_format
    return f"{first.shot.source.stem}.{first.shot.frame_ids[position]:06d}{VIDEO_FORMAT.extension}", VIDEO_FORMAT


def _input_hashes(print_: Print, positions: list[int]) -> dict[str, str]:
    if print_.shot.is_video:
        return {"video": file_sha256(print_.shot.source)}
    return {str(print_.shot.frame_ids[p]): file_sha256(print_.shot.path_of(p) or print_.shot.source)
            for p in positions}


def _frame_record(merged: MergedFrame, prints: list[Print], name: str, out_sha: str, map_sha: str) -> dict[str, Any]:
    parts = []
    for print_, outcome in zip(prints, merged.outcomes, strict=True):
        entry: dict[str, Any] = {"print": print_.label, "frame": outcome.frame, "share": round(outcome.share, 6),
                                 "density_gain_offset": [round(v, 6) for v in outcome.density]}
        if outcome.registration is not None:
            entry["matrix"] = [[round(float(v), 6) for v in row] for row in outcome.registration.matrix]
            entry["alignment_score"] = round(outcome.registration.score, 4)
        parts.append(entry)
    return {"frame": merged.outcomes[0].frame, "file": name, "sha256": out_sha, "source_map_sha256": map_sha,
            "prints": parts}


def _write_frame(merged: MergedFrame, name: str, frame_format: FrameFormat, out: Path,
                 maps: Path) -> tuple[str, str]:
    """Write one composite frame and its source map; returns their SHA-256."""
    channels = merged.pixels.shape[2]
    target = out / name
    write_frame(target, merged.pixels, FrameFormat(frame_format.extension, frame_format.sample_type,
                                                   frame_format.bits, channels))
    map_path = maps / f"{Path(name).stem}{MAP_FORMAT.extension}"
    write_frame(map_path, merged.source[..., None].astype(np.float32) / 255.0, MAP_FORMAT)
    return file_sha256(target), file_sha256(map_path)


def _legend(prints: list[Print]) -> dict[str, Any]:
    return {"values": {str(i): {"print": p.label, "path": str(p.shot.source.resolve())} for i, p in enumerate(prints)},
            "encoding": "8-bit grey PNG; a pixel's value is the index of the print it came from (0 = first print)"}


def run_composite(request: CompositeRequest) -> Path:
    """Make the composite; returns the published output folder. Raises ChromalumaError on any bad input."""
    check_target(request.out, "--out", request.prints)
    if request.source_map is not None:
        out, map_folder = request.out.resolve(), request.source_map.resolve()
        if map_folder == out or out in map_folder.parents or map_folder in out.parents:
            raise ParameterError(f"--source-map {request.source_map}: lies in or around --out {request.out}; leave "
                                 "--source-map out to keep the maps in OUT/sources, or give a folder beside it.")
        check_target(request.source_map, "--source-map", request.prints)
    prints = open_prints(request.prints)
    positions = _positions(prints[0], request.frames)
    pair_frames(prints, positions, request.offsets or [None] * (len(prints) - 1))
    staged = StagedFolder(request.out, "--out").create()
    staged_map = None if request.source_map is None else StagedFolder(request.source_map, "--source-map")
    try:
        if staged_map is not None:
            staged_map.create()
        maps = staged.path / "sources" if staged_map is None else staged_map.path
        maps.mkdir(exist_ok=True)
        records = _render(prints, positions, request, staged.path, maps)
        write_json_atomically(maps / LEGEND_NAME, _legend(prints))
        write_json_atomically(staged.path / REPORT_NAME, _report(prints, positions, request, records))
        if staged_map is None:
            return staged.publish()
        published_map = staged_map.publish()
        try:
            return staged.publish()
        except BaseException:
            shutil.rmtree(published_map, ignore_errors=True)  # a map without its composite would mislead
            raise
    except KeyboardInterrupt as exc:
        raise KeyboardInterrupt(f"chromaluma composite: interrupted; nothing was written to {request.out} (the "
                                "partial composite was removed). Run the same command again.") from exc
    finally:
        staged.discard()
        if staged_map is not None:
            staged_map.discard()


def _render(prints: list[Print], positions: list[int], request: CompositeRequest, out: Path,
            maps: Path) -> list[dict[str, Any]]:
    starts: list[np.ndarray | None] = [None] * len(prints)
    records = []
    for position in tqdm(positions, desc="compositing", unit="frame", disable=not request.progress):
        merged = merge_frame(prints, position, starts, request.options)
        name, frame_format = _output_name(prints[0], position)
        out_sha, map_sha = _write_frame(merged, name, frame_format, out, maps)
        records.append(_frame_record(merged, prints, name, out_sha, map_sha))
        log.debug("frame %d: shares %s", merged.outcomes[0].frame, [round(o.share, 3) for o in merged.outcomes])
    return records


def _report(prints: list[Print], positions: list[int], request: CompositeRequest,
            records: list[dict[str, Any]]) -> dict[str, Any]:
    scores = {p.label: [part["alignment_score"] for r in records for part in r["prints"]
                        if part["print"] == p.label and "alignment_score" in part] for p in prints[1:]}
    return {
        "chromaluma": __version__,
        "command": "composite",
        "status": "complete",
        "prints": [{"label": p.label, "path": str(p.shot.source.resolve()), "offset": p.offset,
                    "frames": [p.shot.frame_ids[positions[0] + p.offset], p.shot.frame_ids[positions[-1] + p.offset]],
                    "frame_sha256": _input_hashes(p, [q + p.offset for q in positions])} for p in prints],
        "options": {"cell": request.options.cell, "feather": request.options.feather_px,
                    "min_score": request.options.min_score,
                    "frames": list(request.frames) if request.frames is not None else None},
        "source_map": str((request.source_map or request.out / "sources").resolve()),
        "alignment": {label: {"min": min(values), "mean": round(float(np.mean(values)), 4)}
                      for label, values in scores.items()},
        "frames": records,
    }
