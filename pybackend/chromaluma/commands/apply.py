"""`chromaluma apply`: run a model over an image sequence or video, writing restored frames and a render log."""

from __future__ import annotations

import argparse
from pathlib import Path

from chromaluma.backend.apply_shot import RenderRequest, render_shot
from chromaluma.backend.difference_layer import LAYER_FORMATS
from chromaluma.backend.precision import PRECISIONS, TOLERANCE_MAX, TOLERANCE_P95
from chromaluma.backend.render_settings import DEFAULT_SENSITIVITY
from chromaluma.contract import CUT_RULES, DEVICES
from chromaluma.errors import ParameterError
from chromaluma.io.sequence import parse_frame_range

HELP = "apply a model to a shot (image sequence or video) and write restored frames plus a render log"

EPILOG = """\
Output frames keep the input's names, format and bit depth (a video becomes 16-bit TIFF frames
<video stem>.<frame:06d>.tif). The render log chromaluma-render.json (chromaluma-render.A-B.json with
--frames A-B, one per farm task) lies beside the outputs. Nothing is written into the input folder and no
existing file is replaced without --overwrite; each frame is written atomically and read back before it
takes its name.

The log's status is rendering, complete, failed or interrupted, and it is rewritten after every frame. After
Ctrl-C, SIGTERM, kill -9, a full disk or unreadable input frames, run the same command with --resume: frames
the log records whose files still match are kept, the rest are rendered (same model and parameters required).
An unreadable input frame does not stop the render: the rest is rendered, the log lists the failures, exit 2.

A temporal-window model (one trained with --temporal-radius) restores each frame from the frames around it:
--frames A-B also reads the frames just outside A-B (never writing them), so farm tasks give the same bytes
as one whole render. At the shot's ends, in a gap of the frame numbers and in place of an unreadable frame,
the nearest frame between it and the one restored stands in; frames rendered without an unreadable neighbour
are listed in the log (missing_context), the render exits 2, and --resume renders them again once that frame
is replaced or removed.

A keyframe model (chromaluma train --kind keyframes) needs --keyframes DIR: painted frames named by their frame
number in the input (0024.png, shot.0024.tif), any size or crop. They are registered onto the input once, before
anything is written (the log records each one's registration), and each frame reads the nearest keyframe at or
before it and the nearest at or after it in its shot. A frame to render whose shot has no keyframe refuses the
render. The log names each frame's keyframes with their hashes; after repainting a keyframe, --resume renders
again exactly the frames that read it.

A damage-repair model (chromaluma train --kind repair) repairs only where its damage matte exceeds
1 - --sensitivity (default 0.5; 0 repairs nothing, 1 every pixel the matte marks at all); every other pixel is
written exactly as read. --matte DIR also writes the matte actually applied (after the threshold and --mix; 16-bit
grey TIFF, 1 = repaired) with the output frames' names; it is refused for a model without a matte. The log records
the sensitivity: --resume with another one refuses.

--layer delta DIR also writes each frame's difference layer (OpenEXR, float by default, --layer-format half for half
the size) named like the output frames with .exr: added to the scan as read (codes normalised to 0-1, float samples
as stored, a grey scan as grey R, G, B) in float32 and stored at the output's sample type, it gives the output frame.
Float layer: bit for bit (a half or float output is first moved to the sum's value, at most one float32 step; integer
outputs never move). Half layer: within half a half-precision step of the layer value, which still rounds to the
exact codes of 8- and 10-bit outputs. Where the model changed nothing the layer is exactly 0. Refused with JPEG
output. The log records the layer folder, format and each layer frame's SHA-256; --resume checks them.

--precision fp16 renders with a half-precision copy of the model (for a GPU; on a CPU it is slower, not faster).
Every time the model is loaded, the copy is compared with fp32 on a fixed probe frame and refused, before anything
is written, when any output differs by more than {p95} (95th percentile) or {maximum} (maximum) in 0-1 units: one
and eight 10-bit code values. The log records the precision; --resume with another one refuses. --tensorrt-cache
DIR asks ONNX Runtime for TensorRT ahead of CUDA (onnxruntime-gpu with TensorRT; otherwise a warning, and the render
goes on without it), with its engines built once per model and precision and kept in DIR.
""".format(p95=f"{TOLERANCE_P95:.5f}", maximum=f"{TOLERANCE_MAX:.5f}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--model", required=True, type=Path, help="the .onnx model (from chromaluma export/train)")
    parser.add_argument("--input", required=True, type=Path, help="image-sequence folder or video file")
    parser.add_argument("--output", required=True, type=Path, help="folder for the restored frames")
    parser.add_argument("--keyframes", type=Path, metavar="DIR",
                        help="painted keyframes, named by frame number (a keyframe model needs them)")
    parser.add_argument("--frames", metavar="A-B", help="only frames A to B (inclusive): one render-farm task")
    parser.add_argument("--cuts", choices=CUT_RULES, default="auto",
                        help="window models: stop each frame's window at the cuts found in the input (auto, the "
                             "default: an input may hold several shots) or never (none: the input is one shot)")
    parser.add_argument("--mix", type=float, default=1.0, help="blend of restored over original, 0-1 (default 1)")
    parser.add_argument("--confidence", type=Path, metavar="DIR",
                        help="also write the model's confidence (16-bit grey TIFF, 1 = sure) into DIR")
    parser.add_argument("--matte", type=Path, metavar="DIR",
                        help="also write the damage matte a repair model applied (16-bit grey TIFF, 1 = repaired) "
                             "into DIR")
    parser.add_argument("--sensitivity", type=float, default=DEFAULT_SENSITIVITY, metavar="S",
                        help="repair models: repair where the damage matte exceeds 1 - S, 0-1 (default 0.5); "
                             "higher repairs fainter damage")
    parser.add_argument("--layer", nargs=2, metavar=("delta", "DIR"),
                        help="also write a difference layer per frame into DIR (EXR): scan + layer = the restored "
                             "frame")
    parser.add_argument("--layer-format", choices=LAYER_FORMATS, default=None,
                        help="sample type of --layer frames: float (default; exact) or half (half the size)")
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="ONNX Runtime device (default auto: GPU if available, else CPU)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="fp32 (default, exact) or fp16: a half-precision model for the GPU, checked against "
                             "fp32 on load and refused beyond tolerance")
    parser.add_argument("--tensorrt-cache", type=Path, metavar="DIR",
                        help="use ONNX Runtime's TensorRT provider ahead of CUDA, keeping its engines in DIR")
    parser.add_argument("--format", dest="extension", metavar="EXT",
                        help="output file format (dpx, exr, tif, png, ...); default: the input's")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output frames and render log")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted, failed or killed render into the same --output: keep the "
                             "frames its log vouches for, render the rest")
    parser.add_argument("--tile-size", type=int, default=0, metavar="N",
                        help="processing tile edge in pixels (default 0: automatic)")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="ONNX Runtime CPU threads (default 0: all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in farm logs)")


def run(args: argparse.Namespace) -> int:
    layer = None
    if args.layer is not None:
        kind, folder = args.layer
        if kind != "delta":
            raise ParameterError(f"--layer {kind} {folder}: the only layer is delta (scan + layer = restored); "
                                 f"write --layer delta {folder}.")
        layer = Path(folder)
    request = RenderRequest(
        model=args.model, source=args.input, output=args.output,
        frames=parse_frame_range(args.frames) if args.frames else None,
        mix=args.mix, confidence=args.confidence, device=args.device, extension=args.extension,
        overwrite=args.overwrite, resume=args.resume, tile_size=args.tile_size, threads=args.threads,
        progress=not args.no_progress, keyframes=args.keyframes, matte=args.matte, sensitivity=args.sensitivity,
        layer=layer, layer_format=args.layer_format, precision=args.precision, tensorrt_cache=args.tensorrt_cache,
        cuts=args.cuts,
    )
    render_shot(request)
    return 0
