"""`chromaluma composite`: merge two or more damaged prints of one shot into the best of each, region by region."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from chromaluma.composite import CompositeRequest, MergeOptions, run_composite
from chromaluma.errors import ParameterError
from chromaluma.io import parse_frame_range

HELP = "merge two or more prints of one shot, region by region, into a composite (and a map of where each came from)"
log = logging.getLogger(__name__)

EPILOG = """\
Each print after the first is registered onto the first, frame by frame (shift, rotation, scale), brought to the
first print's density, and every cell of a grid takes the print with the least damage, then the sharpest and
best exposed; seams are feathered and a damaged pixel is taken from an undamaged print wherever there is one.
The composite keeps the first print's frame names, format and size, so it serves as `chromaluma train --target`
for the first print. Prints are paired in time by frame number where they share numbers, else by position
(first frame with first frame), or at the offset given with --offset; a print must not drop frames mid-shot.

OUT receives the frames, composite.json (prints, hashes, alignment scores, shares) and sources/ (an 8-bit index
image per frame, 0 = first print, with legend.json). OUT must be new or empty; it appears only when complete.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--print", dest="prints", action="append", required=True, type=Path, metavar="PRINT",
                        help="a print: image-sequence folder or video; give two or more, the first sets the grid")
    parser.add_argument("--out", required=True, type=Path, help="folder to create for the composite (new or empty)")
    parser.add_argument("--source-map", type=Path, default=None, metavar="DIR",
                        help="folder for the per-pixel source maps (default: OUT/sources)")
    parser.add_argument("--frames", default=None, help="frames of the first print to composite, A-B (default: all)")
    parser.add_argument("--offset", dest="offsets", action="append", type=int, default=None, metavar="N",
                        help="pair a later print's frame at position p+N with the first print's at p; once per "
                             "later print, in order (default: by frame number where the prints share numbers, "
                             "else by position)")
    parser.add_argument("--cell", type=int, default=64, help="size in px of the cells prints are chosen by (64)")
    parser.add_argument("--feather", type=float, default=None, help="seam feather in px (default: cell / 4)")
    parser.add_argument("--min-score", type=float, default=0.3,
                        help="refuse a print frame whose structural alignment score is below this (0–1, 0.3)")


def run(args: argparse.Namespace) -> int:
    options = MergeOptions(cell=args.cell, feather=args.feather, min_score=args.min_score)
    if args.offsets is not None and len(args.offsets) != len(args.prints) - 1:
        raise ParameterError(f"--offset: given {len(args.offsets)} time(s) for {len(args.prints) - 1} print(s) after "
                             "the first; give one per later print, in --print order, or none to pair by frame "
                             "number or position.")
    request = CompositeRequest(prints=args.prints, out=args.out, source_map=args.source_map,
                               frames=parse_frame_range(args.frames) if args.frames else None, offsets=args.offsets,
                               options=options)
    out = run_composite(request)
    log.info("composite of %d prints written to %s", len(args.prints), out)
    return 0
