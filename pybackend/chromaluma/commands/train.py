"""`chromaluma train`: train a chroma, luma or pairs model on scan → reference pairs, then export it.

On several processes: `--nproc N` on this machine, or torchrun on one machine or several (each rank runs this
command with torchrun's RANK/WORLD_SIZE/… set); see :mod:`chromaluma.train.distributed`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from chromaluma.contract import DEVICES, KINDS
from chromaluma.errors import ParameterError
from chromaluma.models import MAX_TEMPORAL_RADIUS
from chromaluma.models.density import DENSITY_MODES
from chromaluma.train import TrainConfig, resume, train
from chromaluma.train.distributed import join_world, launch_local, launched_by_torchrun, leave_world, quiet_other_ranks
from chromaluma.train.runs import check_new_run, run_config

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
    source.add_argument("--corrections", type=Path, metavar="DIR",
                        help="frames a restorer fixed by hand, named by the scan frame number they correct (optional "
                             "masks of the corrected region, white = corrected, in DIR/masks/ under the same frame "
                             "numbers): they join the pairs and overrule their references; usually with --init MODEL")
    source.add_argument("--correction-weight", metavar="W", default=None,
                        help="--corrections: each correction is drawn W times as often as a pair (whole number, "
                             "default 4)")
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
    parser.add_argument("--steps", type=int, default=None,
                        help="optimizer steps (default 2000 unless --minutes); on several processes each step takes "
                             "--batch crops on every process")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    parser.add_argument("--crop", type=int, default=None,
                        help=f"training crop edge in pixels (default 256; {REPAIR_CROP} for repair)")
    parser.add_argument("--batch", type=int, default=8,
                        help="crops per step and process (default 8): a step's batch is --nproc × --batch")
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
    parser.add_argument("--nproc", metavar="N", default=None,
                        help="train on N processes on this machine (DistributedDataParallel: gloo on CPU, NCCL when "
                             "each process has a GPU; each takes --batch different crops per step, rank 0 alone "
                             "writes the run folder). Across machines use torchrun instead: `torchrun --nnodes … "
                             "--nproc-per-node … -m chromaluma train …` (default 1)")


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
    nproc = _number(args.nproc, "--nproc", int)
    if nproc is not None and launched_by_torchrun():
        raise ParameterError(f"--nproc {nproc}: this process is one rank of a torchrun world; torchrun's "
                             "--nproc-per-node sets the processes. Leave --nproc out under torchrun.")
    if nproc is not None and nproc < 1:
        raise ParameterError(f"--nproc {nproc}: give 1 or more processes, e.g. --nproc 2.")
    if args.resume is not None:
        _check_resumed_corrections(args)
    if nproc is not None and nproc > 1:
        model = _launch(args, nproc)
    else:
        model = train_rank(args)
    log.info("model: %s", model)
    return 0


def _check_resumed_corrections(args: argparse.Namespace) -> None:
    """--resume continues a run with the corrections it began with; new ones start a fine-tune of their own."""
    if args.corrections is None and args.correction_weight is None:
        return
    config = run_config(Path(args.resume))
    weight = _number(args.correction_weight, "--correction-weight", int)
    same_folder = args.corrections is None or config.corrections == Path(args.corrections)
    if config.corrections is None or not same_folder or weight not in (None, config.correction_weight):
        raise ParameterError(f"--corrections/--correction-weight with --resume {args.resume}: a resumed run keeps the "
                             "corrections it began with. Leave both flags out to continue it, or fine-tune with new "
                             f"ones: --init {args.resume} --corrections DIR --run-dir NEW.")


def _launch(args: argparse.Namespace, nproc: int) -> Path:
    """Refuse what can be refused here, then train on `nproc` local ranks; returns rank 0's model path."""
    if args.resume is not None:
        run_dir = Path(args.resume)
        run_config(run_dir)
    else:
        config = _config(args).resolved()
        run_dir = Path(config.run_dir)
        check_new_run(run_dir)
    hint = f"`chromaluma train --resume {run_dir} --nproc {nproc}` (any --nproc)"
    return launch_local(nproc, train_rank, (args,), verbose=bool(getattr(args, "verbose", False)), resume_hint=hint)


def train_rank(args: argparse.Namespace) -> Path:
    """Train as this process: a single process, or one rank of a world (torchrun's variables set)."""
    world, device = join_world(args.device)
    quiet_other_ranks(world.rank)
    try:
        if args.resume is not None:
            radius = _number(args.temporal_radius, "--temporal-radius", int)
            jitter = _number(args.exposure_jitter, "--exposure-jitter", float)
            return resume(args.resume, steps=args.steps, minutes=args.minutes, out=args.out, density=args.density,
                          progress=not args.no_progress, temporal_radius=radius, exposure_jitter=jitter, world=world,
                          device=device)
        return train(_config(args), progress=not args.no_progress, world=world, device=device)
    finally:
        leave_world()


def _config(args: argparse.Namespace) -> TrainConfig:
    """A new run's settings from the flags."""
    radius = _number(args.temporal_radius, "--temporal-radius", int)
    jitter = _number(args.exposure_jitter, "--exposure-jitter", float)
    crop = args.crop if args.crop is not None else REPAIR_CROP if args.kind == "repair" else 256
    return TrainConfig(
        run_dir=args.run_dir or Path("runs") / args.kind, kind=args.kind, pairs_dir=args.pairs, input=args.input,
        target=args.target, masks=args.masks, out=args.out, colorspace=args.colorspace,
        processing_scale=args.processing_scale, crop=crop, batch=args.batch, steps=args.steps, minutes=args.minutes,
        learning_rate=args.learning_rate, seed=args.seed, val_frames=args.val_frames, val_every=args.val_every,
        preview_every=args.preview_every, checkpoint_every=args.checkpoint_every, device=args.device, init=args.init,
        density=args.density, temporal_radius=radius, exposure_jitter=0.0 if jitter is None else jitter,
        keyframes=args.keyframes, damage_samples=args.damage_samples, corrections=args.corrections,
        correction_weight=_number(args.correction_weight, "--correction-weight", int))
