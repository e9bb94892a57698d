"""`chromaluma farm`: write a render-farm job (OpenCue, Deadline or a plain task list) that renders a shot in
chunks with `chromaluma apply --frames A-B --resume`, ending with a task that verifies the render logs; and
`chromaluma farm --verify`, that verify task."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from chromaluma.contract import CUT_RULES, DEVICES
from chromaluma.errors import ParameterError
from chromaluma.farm import deadline, opencue, shell
from chromaluma.farm.plan import APPLY_OPTIONS, plan_job
from chromaluma.farm.spec_files import write_spec_files
from chromaluma.farm.verify import verify_render
from chromaluma.io.sequence import parse_frame_range

log = logging.getLogger(__name__)

HELP = "write a render-farm job (OpenCue, Deadline or a shell task list) for a shot, or --verify a farm render"

EPILOG = """\
The job renders the shot (or --frames A-B of it) in tasks of --chunk frames, each
  PYTHON -m chromaluma.cli apply --model M --input SHOT --output DIR --frames A-B [options] --resume --no-progress
with absolute paths, PYTHONNOUSERSITE=1 and PYTHONUNBUFFERED=1 (and OMP_NUM_THREADS=N with --threads N), and ends
with one task, run after all the others, that verifies the render:
  PYTHON -m chromaluma.cli farm --verify --model M --input SHOT --output DIR --frames A-B
PYTHON is this interpreter unless --python names the one the farm nodes use (a shared venv, same path on every node).

--manager shell     SPEC/tasks.txt: '#' header lines, one render task per line, the verify task last. Run the
                    render lines in parallel, then the last line, e.g.
                      grep -v '^#' tasks.txt | head -n -1 | xargs -d '\\n' -P 4 -n 1 sh -c
                      tail -n 1 tasks.txt | sh
--manager deadline  SPEC/render_job_info.job + render_plugin_info.job (CommandLine plug-in, Frames and ChunkSize)
                    and verify_job_info.job + verify_plugin_info.job; SPEC/submit_deadline.sh submits both, the
                    verify job dependent on the render job (deadlinecommand -SubmitMultipleJobs -dependent).
--manager opencue   SPEC/job.xml, an OpenCue job spec: layer 'render' (range, chunk) and layer 'verify' that depends
                    on it; SPEC/submit_opencue.py submits it with PyCue (opencue.api.launchSpec).

Spec files are written atomically; a spec folder holding another job is refused unless --force (the same job
again is fine). A failed or killed task is simply run again: --resume keeps its finished frames.

--verify checks every chromaluma-render*.json log in --output: each frame of the range listed as written by exactly
one log, that log complete, the output (and confidence/matte) files' and the input frames' SHA-256 as logged, and
the same model SHA-256, input, provider and pixel parameters in every log. Exit 0 when the render is whole, 2 with
one line naming the first missing or mismatched frame. It only reads.
"""

_WRITERS = {"shell": shell.spec_files, "deadline": deadline.spec_files}
_SUBMIT = {"shell": "run the lines of {spec}/" + shell.TASKS_NAME + " (render lines in parallel, then the last one)",
           "deadline": "submit with: sh {spec}/" + deadline.SUBMIT_SCRIPT,
           "opencue": "submit with: python {spec}/" + opencue.SUBMIT_SCRIPT}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--model", required=True, type=Path, help="the .onnx model every task applies")
    parser.add_argument("--input", required=True, type=Path, help="the shot: image-sequence folder or video file")
    parser.add_argument("--output", required=True, type=Path,
                        help="folder the tasks render into (on storage every farm node sees at the same path)")
    parser.add_argument("--frames", metavar="A-B", help="only frames A to B of the shot (default: all)")
    parser.add_argument("--chunk", type=int, default=50, metavar="N", help="frames per task (default 50)")
    parser.add_argument("--manager", choices=("opencue", "deadline", "shell"),
                        help="the farm manager to write the job for")
    parser.add_argument("--spec-dir", type=Path, metavar="SPEC", help="folder for the job's spec files")
    parser.add_argument("--force", action="store_true", help="replace a different job's spec files in --spec-dir")
    parser.add_argument("--python", type=Path, metavar="PATH",
                        help="absolute path of the Python with Chromaluma on the farm nodes (default: this one)")
    parser.add_argument("--job-name", metavar="NAME", help="the job's name (default: chromaluma_<shot name>)")
    parser.add_argument("--show", default="chromaluma", help="OpenCue show the job belongs to (default chromaluma)")
    parser.add_argument("--verify", action="store_true",
                        help="do not write a job: check that the render in --output is whole (the job's last task)")
    group = parser.add_argument_group("apply options passed to every task (see chromaluma apply --help)")
    group.add_argument("--keyframes", type=Path, metavar="DIR", help="painted keyframes (keyframe models)")
    group.add_argument("--matte", type=Path, metavar="DIR", help="also write the applied damage matte (repair models)")
    group.add_argument("--confidence", type=Path, metavar="DIR", help="also write the model's confidence")
    group.add_argument("--layer", nargs=2, metavar=("delta", "DIR"),
                       help="also write each frame's difference layer into DIR (scan + layer = restored)")
    group.add_argument("--layer-format", choices=("float", "half"), help="sample type of --layer frames")
    group.add_argument("--sensitivity", type=float, metavar="S", help="repair models: 0-1 (apply's default 0.5)")
    group.add_argument("--cuts", choices=CUT_RULES, help="window models: stop windows at cuts (apply's default auto) "
                       "or none")
    group.add_argument("--mix", type=float, help="blend of restored over original, 0-1 (apply's default 1)")
    group.add_argument("--device", choices=DEVICES, help="ONNX Runtime device on the nodes (apply's default auto)")
    group.add_argument("--format", dest="extension", metavar="EXT", help="output file format (default: the input's)")
    group.add_argument("--precision", choices=("fp32", "fp16"),
                       help="fp16: a half-precision model, checked against fp32 on every load (apply's default fp32)")
    group.add_argument("--tensorrt-cache", type=Path, metavar="DIR",
                       help="TensorRT ahead of CUDA, engines kept in DIR (a folder every node can write)")
    group.add_argument("--tile-size", type=int, metavar="N", help="processing tile edge in pixels (default automatic)")
    group.add_argument("--threads", type=int, metavar="N",
                       help="ONNX Runtime and OpenMP threads per task (default: all cores; set it when several "
                            "tasks share a node)")


def run(args: argparse.Namespace) -> int:
    frames = parse_frame_range(args.frames) if args.frames else None
    if args.verify:
        verify_render(model=args.model, source=args.input, output=args.output, frames=frames)
        return 0
    if args.manager is None or args.spec_dir is None:
        missing = "--manager" if args.manager is None else "--spec-dir"
        raise ParameterError(f"{missing}: required to write a farm job (--manager opencue|deadline|shell "
                             "--spec-dir SPEC), or give --verify to check a finished render.")
    options = {key: getattr(args, key) for _, key, _ in APPLY_OPTIONS}
    job = plan_job(model=args.model, source=args.input, output=args.output, chunk=args.chunk, frames=frames,
                   python=args.python, name=args.job_name, options=options)
    files = opencue.spec_files(job, args.show) if args.manager == "opencue" else _WRITERS[args.manager](job)
    write_spec_files(args.spec_dir, files, force=args.force)
    log.info("farm job %s: %d task(s) of up to %d frame(s) for frames %s, then a verify task; %s", job.name,
             len(job.chunks()), job.chunk, job.frames, _SUBMIT[args.manager].format(spec=args.spec_dir.absolute()))
    return 0
