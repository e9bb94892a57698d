"""`chromaluma train`: train a chroma, luma or pairs model on scan → reference pairs, then export it."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from chromaluma.contract import DEVICES, KINDS
from chromaluma.errors import ParameterError
from chromaluma.models import MAX_TEMPORAL_RADIUS
from chromaluma.models.density import DENSITY_MODES
from chromaluma.train import TrainConfig, resume, train

HELP = ("train a model on scan → reference pairs (chroma, luma or pairs), on painted keyframes (keyframes) or on "
        "the scan's own frames with synthetic damage (repair) and export it to ONNX")
# Repair models run at full resolution over a window of frames: smaller crops keep a step as quick as the others'.
REPAIR_CROP = 128
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("pairs (one of)")
    source.add_argument("--pairs", type=Path, metavar="DIR", help="pairs folder written by `chromaluma align`")
    source.add_argument("--input", type=Path, metavar="SCAN", help="scan: image-sequence folder or video file")
    source.add_argument("--target", type=Path, metavar="REF", help="reference on the scan's pixel grid, frame by frame")
    source.add_argument("--masks", type=Path, metavar="DIR", help="validity masks for --input/--target (white = use)")
    source.add_argument("--keyframes", type=Path, metavar="DIR",
                        help="--kind keyframes: painted keyframes named by their frame number in --input (any size or "
                             "crop: registered onto the scan, see the run's keyframes_registration.json)")
    source.add_argument("--damage-samples", type=Path, metavar="DIR",
                        help="--kind repair: crops cut out of the scan around its defects (one each; optional "
                             "damage_samples.json with frames_inspected and frame_size for their density): the "
                             "synthetic damage takes their size, shape and polarity")
    parser.add_argument("--kind", choices=KINDS, default="chroma",
                        help="chroma: colour from the reference, scan luma kept; luma: detail/density, scan chroma "
                             "kept; pairs: general RGB→RGB; keyframes: colour carried from painted keyframes through "
                             "each shot by correspondence, scan luma kept (--input and --keyframes); repair: dust, "
                             "dirt, hairs, scratches and blotches found and filled from the neighbouring frames, with "
                             "a damage matte (--input, optionally --target and --damage-samples; default "
                             "--temporal-radius 2) (default chroma)")
    parser.add_argument("--density", choices=DENSITY_MODES, default=None,
                        help="chroma only. smooth (default for a new model): output luma = scan luma plus a density "
                             "(lightness) correction learnt from the reference, band-limited (no detail finer than "
                             "20 px at the default scale), for faded prints, uneven fading, faded edges and blotches; "
                             "the scan's grain and detail pass through. keep: output luma = scan luma exactly (for "
                             "scans already density graded). --init and --resume keep their model's own")
    parser.add_argument("--temporal-radius", metavar="N", default=None,
                        help=f"frames each side of the one restored that the model reads, 0 to {MAX_TEMPORAL_RADIUS} "
                             "(default 0: one frame; --init and --resume keep their model's own). Windows never "
                             "cross a shot's cut; at a shot's ends the nearest frame is repeated")
    parser.add_argument("--exposure-jitter", metavar="S", default=None,
                        help="scale each scan frame of a crop by exp(n), n ~ Normal(0, S), the reference unchanged, "
                             "so the colour learnt does not follow exposure flicker (default 0: off)")
    parser.add_argument("--colorspace", default="display",
                        help="how the pairs are encoded: display, log, linear or your own name (recorded in the model)")
    parser.add_argument("--processing-scale", type=float, default=None,
                        help="internal resolution of the colour network (default 0.25 chroma/pairs, 1 luma)")
    parser.add_argument("--run-dir", type=Path, default=None, help="run folder (default runs/<kind>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a stopped run exactly")
    parser.add_argument("--out", type=Path, metavar="MODEL.onnx", help="also write the exported model here")
    parser.add_argument("--init", type=Path, metavar="MODEL", help="fine-tune from a model (.onnx or run folder)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 2000 unless --minutes)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    parser.add_argument("--crop", type=int, default=None,
                        help=f"training crop edge in pixels (default 256; {REPAIR_CROP} for repair)")
    parser.add_argument("--batch", type=int, default=8, help="crops per step (default 8)")
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="Adam learning rate (default 0.002)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same CPU result")
    parser.add_argument("--val-frames", type=int, default=None,
                        help="pairs held out for validation (default 10%%, none under 8 pairs)")
    parser.add_argument("--val-every", type=int, default=None, help="validate every N steps (default --preview-every)")
    parser.add_argument("--preview-every", type=int, default=500, help="contact sheet every N steps (default 500)")
    parser.add_argument("--checkpoint-every", type=int, default=500, help="checkpoint every N steps (default 500)")
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="auto: CUDA GPU if PyTorch sees one (mixed precision), else CPU")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in farm logs)")


def _number(text: str | None, flag: str, kind: type[int] | type[float]) -> int | float | None:
    """A flag's value as `kind`; taken as text so that a bad value ends with our one-line message, like every
    other refused setting (TrainConfig checks the range)."""
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ParameterError(f"{flag} {text!r}: give {what}, e.g. {flag} 1.") from None


def run(args: argparse.Namespace) -> int:
    radius = _number(args.temporal_radius, "--temporal-radius", int)
    jitter = _number(args.exposure_jitter, "--exposure-jitter", float)
    if args.resume is not None:
        model = resume(args.resume, steps=args.steps, minutes=args.minutes, out=args.out, density=args.density,
                       progress=not args.no_progress, temporal_radius=radius, exposure_jitter=jitter)
    else:
        crop = args.crop if args.crop is not None else REPAIR_CROP if args.kind == "repair" else 256
        config = TrainConfig(
            run_dir=args.run_dir or Path("runs") / args.kind, kind=args.kind, pairs_dir=args.pairs, input=args.input,
            target=args.target, masks=args.masks, out=args.out, colorspace=args.colorspace,
            processing_scale=args.processing_scale,
            crop=crop, batch=args.batch, steps=args.steps,
            minutes=args.minutes, learning_rate=args.learning_rate, seed=args.seed, val_frames=args.val_frames,
            val_every=args.val_every, preview_every=args.preview_every, checkpoint_every=args.checkpoint_every,
            device=args.device, init=args.init, density=args.density, temporal_radius=radius,
            exposure_jitter=0.0 if jitter is None else jitter, keyframes=args.keyframes,
            damage_samples=args.damage_samples)
        model = train(config, progress=not args.no_progress)
    log.info("model: %s", model)
    return 0
