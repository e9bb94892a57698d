"""`chromaluma export`: export a training run's newest checkpoint to a verified ONNX model with its card."""

from __future__ import annotations

import argparse
from pathlib import Path

from chromaluma.export import export_run

HELP = "export a training run to ONNX (verified against PyTorch, with its model card)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the folder `chromaluma train` wrote")
    parser.add_argument("--out", type=Path, required=True, metavar="MODEL.onnx", help="model file to write")


def run(args: argparse.Namespace) -> int:
    export_run(args.run_dir, args.out)
    return 0
