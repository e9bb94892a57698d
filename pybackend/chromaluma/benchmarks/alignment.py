"""Alignment speed and accuracy: seconds per 100 scan frames at 2K against a 720×576 PAL reference.

The footage is synthetic with known truth (chromaluma.synth.telecine): clean frames of a moving camera over
public-domain photographs, a faded 16-bit TIFF scan, and a PAL DVD reference (3 % overscan, 0.3° rotation,
4:2:0, JPEG, its own grade, 7-frame lead-in, 24→25). Timing covers the whole `plan_alignment` + writing of the
pairs folder, i.e. what a restorer waits for; footage generation is not timed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from chromaluma.align import AlignOptions, plan_alignment, write_pairs_folder
from chromaluma.benchmarks import BenchSection, markdown_table
from chromaluma.io import FrameFormat, open_shot, write_frame
from chromaluma.synth.telecine import TelecineSettings, make_reference

log = logging.getLogger(__name__)

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def camera_film(frames: int, width: int, height: int) -> list[np.ndarray]:
    """Clean frames: one photograph per shot of up to 25 frames, a slowly accelerating pan with a slight zoom."""
    import skimage.data

    film: list[np.ndarray] = []
    shot = 0
    while len(film) < frames:
        photo = np.asarray(getattr(skimage.data, PHOTOS[shot % len(PHOTOS)])())[..., :3].astype(np.float32) / 255
        photo_height, photo_width = photo.shape[:2]
        base = max(width / photo_width, height / photo_height) * 1.3
        direction = np.array([1.0, 0.4]) if shot % 2 == 0 else np.array([-0.6, 1.0])
        for t in range(min(25, frames - len(film))):
            scale = base * (1.0 + 0.002 * t)
            centre = np.array([photo_width, photo_height]) / 2 + direction * (0.8 * t + 0.03 * t * t) / base * (
                width / 480)
            matrix = np.array([[scale, 0, width / 2 - scale * centre[0]], [0, scale, height / 2 - scale * centre[1]]])
            film.append(np.clip(cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                               borderMode=cv2.BORDER_REFLECT), 0.0, 1.0))
        shot += 1
    return film


def _faded(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    faded = np.stack([0.85 * frame[..., 0] ** 0.8 + 0.1, 0.5 * frame[..., 1] ** 1.25 + 0.06,
                      0.35 * frame[..., 2] ** 1.5 + 0.12], axis=-1)
    return np.clip(faded + rng.normal(0.0, 0.015, faded.shape[:2])[..., None], 0, 1).astype(np.float32)


def _rms(estimated: np.ndarray, truth: np.ndarray) -> float:
    xs, ys = np.meshgrid(np.linspace(5, 714, 20), np.linspace(5, 570, 20))
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    true_xy = truth @ points
    found = estimated @ points
    error = found[:2] / found[2] - true_xy[:2] / true_xy[2]
    return float(np.sqrt((error**2).sum(axis=0).mean()))


def run(workdir: Path, quick: bool) -> list[BenchSection]:
    """Align a synthetic reel; quick=True is a smoke-sized run (small frames, few of them)."""
    frames, (width, height) = (8, (480, 360)) if quick else (100, (2048, 1556))
    film = camera_film(frames, width, height)
    rng = np.random.default_rng(0)
    scan_dir, dvd_dir = workdir / "align_scan", workdir / "align_dvd"
    scan_dir.mkdir(parents=True, exist_ok=True)
    dvd_dir.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(film):
        write_frame(scan_dir / f"scan.{1001 + index:05d}.tif", _faded(frame, rng), FrameFormat(".tif", "uint16", 16, 3))
    reference, truth = make_reference(film, TelecineSettings(cadence="pal", lead_in=7))
    for index, frame in enumerate(reference):
        write_frame(dvd_dir / f"dvd.{index:05d}.png", frame, FrameFormat(".png", "uint8", 8, 3))
    del film, reference
    start = time.perf_counter()
    alignment = plan_alignment(open_shot(scan_dir), open_shot(dvd_dir), AlignOptions(progress=False))
    planned = time.perf_counter() - start
    write_pairs_folder(alignment, workdir / "align_pairs")
    total = time.perf_counter() - start
    shows = {p.scan_index: truth.fields[p.top_frame][0] for p in alignment.pairs}
    correct = sum(scan_index == film_frame for scan_index, film_frame in shows.items())
    worst = max(_rms(alignment.transform_of_shot(s), truth.reference_to_scan)
                for s in {p.shot for p in alignment.pairs})
    per_100 = total * 100.0 / frames
    table = markdown_table(
        ["scan", "frames", "pairs", "correct", "worst shot RMS (scan px)", "match (s)", "total (s)", "s / 100 frames"],
        [[f"{width}x{height}", frames, len(alignment.pairs), correct, worst, planned, total, per_100]])
    notes = ["Reference: 720×576 PAL DVD simulation (3 % overscan, 0.3° rotation, 4:2:0, JPEG q80, own grade, "
             "7-frame lead-in, 24→25). Scan: faded 16-bit TIFF. Total includes writing 16-bit TIFF pairs + report.",
             "Goal: temporal mapping 100 % correct, spatial error ≤ 0.5 scan px RMS."]
    raw = {"frames": frames, "width": width, "height": height, "pairs": len(alignment.pairs), "correct": correct,
           "worst_rms_px": worst, "match_s": planned, "total_s": total, "s_per_100_frames": per_100}
    return [BenchSection("Alignment (chromaluma align)", table, notes, [], raw)]
