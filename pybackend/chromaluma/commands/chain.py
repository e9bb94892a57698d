"""`chromaluma chain`: one model that applies several models in turn (docs/CONTRACT.md §6)."""

from __future__ import annotations

import argparse
from pathlib import Path

from chromaluma.chain import chain_models

HELP = "chain models into one (A then B): a single verified ONNX graph with both cards nested in its card"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", type=Path, metavar="MODEL.onnx",
                        help="the models in the order they apply (the first reads the scan)")
    parser.add_argument("--out", type=Path, required=True, metavar="CHAIN.onnx",
                        help="the chained model to write (its card goes beside it as .json)")


def run(args: argparse.Namespace) -> int:
    chain_models(args.models, args.out)
    return 0
