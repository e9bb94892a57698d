"""A repair model tried on a real scan: a contact sheet (input | repaired | matte | difference ×4) for chosen frames,
and the checks a restorer makes without a clean reference.

For each frame the model reads its window (the nearest frame repeated at the scan's ends, as `chromaluma apply`
does) at the given sensitivity. The sheet shows, left to right: the scan, the repaired frame, the matte that was
applied (white = repaired) and the difference, four times amplified around grey. The JSON summary gives, per frame:
the share of the frame repaired, the number of separate repaired regions, the classical spike detector's matte and how
much of it the model covered (the detector is no ground truth, but it finds one-frame specks reliably), and the grain
check: the high-pass power of the output against the scan's, outside the matte (1.0 = the grain is the scan's).

    scripts/repair_contact_sheet.py --model repair.onnx --input SCAN --frames 7,21,33 --out sheet.png
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

from chromaluma.backend.restore import process_frame
from chromaluma.contract import read_model_contract
from chromaluma.damage_baselines import spike_matte
from chromaluma.io import read_frame
from chromaluma.io.frames import to_rgba
from chromaluma.io.sequence import frame_number, list_sequence

log = logging.getLogger("chromaluma.repair_sheet")
LABELS = ("scan", "repaired", "matte applied", "difference x4")


def _window(frames: list[Path], index: int, radius: int) -> list[np.ndarray]:
    """Frames index−radius … index+radius as RGBA float32, the nearest frame repeated past the scan's ends."""
    picks = [min(max(index + offset, 0), len(frames) - 1) for offset in range(-radius, radius + 1)]
    return [to_rgba(read_frame(frames[pick])[0]) for pick in picks]


def _high_pass_power(grey: np.ndarray, keep: np.ndarray) -> float:
    """Mean squared difference from a 5×5 box blur, over the pixels `keep` (grain and fine detail)."""
    detail = grey - cv2.blur(grey, (5, 5))
    return float(np.mean(detail[keep] ** 2))


def repair_frame(model: Path, frames: list[Path], index: int, radius: int, sensitivity: float) -> dict:
    """One frame repaired: its sheet row (uint8) and its checks."""
    window = _window(frames, index, radius)
    scan = window[radius]
    repaired, matte = np.zeros_like(scan), np.zeros(scan.shape[:2], np.float32)
    process_frame(scan, repaired, {"model": str(model), "sensitivity": sensitivity,
                                   "neighbours": window[:radius] + window[radius + 1:]}, matte=matte)
    applied = np.zeros_like(scan)
    process_frame(scan, applied, {"model": str(model), "sensitivity": sensitivity, "output_mode": "matte",
                                  "neighbours": window[:radius] + window[radius + 1:]})
    touched = applied[..., 0] > 0
    grey_in, grey_out = scan[..., :3].mean(axis=-1), repaired[..., :3].mean(axis=-1)
    outside = ~cv2.dilate(touched.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    spikes = spike_matte([w[..., :3] for w in window], radius) > 0.5
    regions = cv2.connectedComponents(touched.astype(np.uint8))[0] - 1
    checks = {"frame": frame_number(frames[index]), "repaired_share": round(float(touched.mean()), 5),
              "repaired_regions": int(regions), "spike_detector_share": round(float(spikes.mean()), 5),
              "spike_pixels_covered": round(float(touched[spikes].mean()) if spikes.any() else 1.0, 3),
              "grain_power_ratio_outside_matte": round(_high_pass_power(grey_out, outside)
                                                       / max(_high_pass_power(grey_in, outside), 1e-12), 4),
              "bit_exact_outside_matte": bool(np.array_equal(repaired[~touched], scan[~touched]))}
    difference = np.clip(0.5 + 4.0 * (grey_out - grey_in), 0, 1)
    row = [scan[..., :3], repaired[..., :3], np.repeat(applied[..., :1], 3, axis=-1),
           np.repeat(difference[..., None], 3, axis=-1)]
    return {"row": np.hstack([(np.clip(tile, 0, 1) * 255 + 0.5).astype(np.uint8) for tile in row]), "checks": checks}


def _labelled(rows: list[np.ndarray], width: int) -> np.ndarray:
    header = np.full((28, rows[0].shape[1], 3), 255, np.uint8)
    for column, label in enumerate(LABELS):
        cv2.putText(header, label, (column * width + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([header, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True, help="the scan: an image sequence folder")
    parser.add_argument("--frames", required=True, help="frame numbers, comma-separated")
    parser.add_argument("--sensitivity", type=float, default=0.5)
    parser.add_argument("--out", type=Path, required=True, help="the sheet (.png); the checks go beside it (.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    radius = read_model_contract(args.model).frames_before
    frames = list_sequence(args.input)
    numbers = [frame_number(path) for path in frames]
    wanted = [int(text) for text in args.frames.split(",")]
    missing = [number for number in wanted if number not in numbers]
    if missing:
        log.error("--frames: %s not in %s; pick frames of the scan", missing, args.input)
        return 2
    results = [repair_frame(args.model, frames, numbers.index(number), radius, args.sensitivity) for number in wanted]
    width = results[0]["row"].shape[1] // len(LABELS)
    sheet = _labelled([result["row"] for result in results], width)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    checks = [result["checks"] for result in results]
    args.out.with_suffix(".json").write_text(json.dumps(checks, indent=1) + "\n")
    log.info("%s", json.dumps(checks, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
