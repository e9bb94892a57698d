"""`chromaluma info`: print a model's card (what it was trained on, how, how well) for a human."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chromaluma.card import describe_card
from chromaluma.contract import CARD_GRAPH_HASH, file_sha256, read_model_contract

HELP = "print a model's card: kind, colorspace, training pairs and hashes, parameters, validation scores"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="MODEL.onnx", help="a Chromaluma model")
    parser.add_argument("--json", action="store_true", help="print the card as JSON instead")


def run(args: argparse.Namespace) -> int:
    model = read_model_contract(args.model)
    if args.json:
        sys.stdout.write(json.dumps(model.card, indent=2, sort_keys=True) + "\n")
        return 0
    header = [f"SHA-256     {file_sha256(args.model)}",
              f"Contract    kind {model.kind}, format {model.format_version}, "
              f"receptive field {model.receptive_field} px, processing scale {model.processing_scale}, "
              f"confidence output {'yes' if model.has_confidence else 'no'}",
              f"Graph       sha256 {model.card[CARD_GRAPH_HASH]}, matches its card" if model.graph_checked else
              "Graph       no hash in its card (exported before Chromaluma recorded one): loaded as a legacy model; "
              "re-export it with `chromaluma export` so that a copied card cannot pass for it"]
    sys.stdout.write(describe_card(model.card, str(args.model)) + "\n" + "\n".join(header) + "\n")
    return 0
