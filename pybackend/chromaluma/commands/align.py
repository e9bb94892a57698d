"""`chromaluma align`: turn a scan and a DVD/telecine reference into aligned training pairs (docs/CONTRACT.md §5)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from chromaluma.align import AlignOptions, plan_alignment, write_pairs_folder
from chromaluma.align.pairs_folder import check_target
from chromaluma.align.spatial import TRANSFORMS
from chromaluma.io import open_shot, parse_frame_range

HELP = "align a reference (DVD, telecine, another print) to a scan and write training pairs"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scan", required=True, type=Path, help="scan: image-sequence folder or video file")
    parser.add_argument("--reference", required=True, type=Path,
                        help="reference: image-sequence folder or video file (DVD VOB/MPEG-2, MP4, MOV, MKV)")
    parser.add_argument("--out", required=True, type=Path, help="pairs folder to create (must not exist or be empty)")
    parser.add_argument("--scan-fps", type=float, default=None, help="scan frame rate (recorded; default: from file)")
    parser.add_argument("--reference-fps", type=float, default=None,
                        help="reference frame rate (recorded; cadence is found from the pictures, not assumed)")
    parser.add_argument("--frames", default=None, help="scan frames to align, A-B inclusive (default: all)")
    parser.add_argument("--every", type=int, default=1, help="write every Nth matched frame (default 1)")
    parser.add_argument("--min-score", type=float, default=0.5,
                        help="drop pairs whose structural match score is below this (0–1, default 0.5)")
    parser.add_argument("--transform", choices=TRANSFORMS, default="similarity",
                        help="reference→scan model: similarity (rotation, x/y scale, shift), affine, homography")


def run(args: argparse.Namespace) -> int:
    options = AlignOptions(transform=args.transform, min_score=args.min_score, every=args.every,
                           scan_fps=args.scan_fps, reference_fps=args.reference_fps,
                           frames=parse_frame_range(args.frames) if args.frames else None)
    check_target(args.out)  # before any reading: an hour of matching must not end in "folder exists"
    alignment = plan_alignment(open_shot(args.scan), open_shot(args.reference), options)
    manifest = write_pairs_folder(alignment, args.out)
    woven = sum(pair.top_frame != pair.bottom_frame for pair in alignment.pairs)
    log.info("%d pairs (%d rebuilt from fields) in %d shot(s); %d scan frame(s) left out; manifest %s",
             len(alignment.pairs), woven, len(alignment.shot_starts),
             len(alignment.scan.frame_ids) - len(alignment.pairs), manifest)
    return 0
