"""`chromaluma synth`: degrade a clean shot the way a surviving print is degraded, keeping the ground truth.

Writes, under `--out`: `truth/` (the clean frames), `scan/` (the degraded print: generation loss, dye fading,
damage), and with `--reference dvd` a PAL DVD made from the clean frames (`reference/`, 720×576 at 25 fps,
graded, plus `reference_truth.json`: which film frame each field shows and the scan↔reference matrix), or with
`--reference aligned` a pairs folder (`pairs/`, docs/CONTRACT.md §5) whose neutral DVD reference is already
registered onto the scan grid, ready for `chromaluma train --pairs`. `synth.json` records every setting.
Frames are written as 16-bit PNG, display-referred, one file at a time and atomically.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tqdm import tqdm

from chromaluma import __version__
from chromaluma.io import open_shot
from chromaluma.synth.degrade import Degradation, ShotDegrader
from chromaluma.synth.pairs import write_json, write_pairs, write_sequence

HELP = "degrade a clean shot (dye fading, print generations, damage) and write it with its ground truth"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, type=Path, help="clean shot: a folder of frames or a video")
    parser.add_argument("--out", required=True, type=Path, help="output folder (truth/, scan/, reference/ …)")
    parser.add_argument("--fade", type=float, default=0.6, help="dye fading strength 0–1 (default 0.6)")
    parser.add_argument("--uneven", type=float, default=0.0,
                        help="uneven fading 0–1: faded film edges, blotches, drift along the shot (default 0)")
    parser.add_argument("--generation", type=int, default=0, help="printing generations after the negative")
    parser.add_argument("--damage", type=float, default=0.0, help="dust, scratches and flicker amount 0–1")
    parser.add_argument("--stock", default="16mm", choices=("16mm", "35mm", "super8"), help="grain of the stock")
    parser.add_argument("--film", default="positive", choices=("positive", "negative"),
                        help="polarity of the damaged film (white specks on a print, black on a negative)")
    parser.add_argument("--reference", choices=("none", "dvd", "aligned"), default="none",
                        help="also make a reference: a PAL DVD (dvd) or a registered neutral one (aligned)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (same seed, same shot)")


def run(args: argparse.Namespace) -> int:
    shot = open_shot(args.input)
    degradation = Degradation(fade=args.fade, generations=args.generation, damage=args.damage, seed=args.seed,
                              stock=args.stock, film=args.film, uneven=args.uneven)
    args.out.mkdir(parents=True, exist_ok=True)
    clean, degraded = [], []
    degrader: ShotDegrader | None = None
    for index, (_, frame) in enumerate(tqdm(shot, total=len(shot), desc="synth", unit="frame")):
        rgb = frame[..., :3] if frame.shape[-1] >= 3 else frame.repeat(3, axis=-1)[..., :3]
        degrader = degrader or ShotDegrader(degradation, rgb.shape[1])
        clean.append(rgb)
        degraded.append(degrader.frame(rgb, index))
    write_sequence(args.out / "truth", clean, shot.frame_ids)
    write_sequence(args.out / "scan", degraded, shot.frame_ids)
    record: dict[str, object] = {"chromaluma_version": __version__, "input": str(args.input),
                                 "frames": [shot.frame_ids[0], shot.frame_ids[-1]],
                                 "degradation": vars(degradation), "reference": args.reference}
    if args.reference == "dvd":
        _write_dvd(args.out, clean, args.seed)
    elif args.reference == "aligned":
        from chromaluma.synth.reference import aligned_reference

        registered, _ = aligned_reference(clean, args.seed)
        write_pairs(args.out / "pairs", degraded, registered, shot.frame_ids, source=str(args.input))
    write_json(args.out / "synth.json", record)
    log.info("wrote %d frames to %s (scan/, truth/%s)", len(shot), args.out,
             {"none": "", "dvd": ", reference/", "aligned": ", pairs/"}[args.reference])
    return 0


def _write_dvd(out: Path, clean: list, seed: int) -> None:
    from chromaluma.synth.reference import dvd_reference

    frames, truth = dvd_reference(clean, seed)
    write_sequence(out / "reference", frames, list(range(len(frames))))
    write_json(out / "reference_truth.json", {
        "fps": truth.fps, "fields": truth.fields, "picture_box": list(truth.picture_box),
        "scan_to_reference": truth.scan_to_reference.tolist(), "reference_to_scan": truth.reference_to_scan.tolist(),
        "note": "fields[k] = film frame index (0-based position in truth/) shown by reference frame k's top and "
                "bottom field; null = leader",
    })
