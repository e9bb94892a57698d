"""`chromaluma info`: print a model's card (what it was trained on, how, how well) for a human."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chromaluma.card import describe_card
from chromaluma.contract import (
    CARD_GRAPH_HASH,
    KEYFRAME_COUNT,
    KEYFRAME_KIND,
    MATTE_NAME,
    file_sha256,
    read_model_contract,
)

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
    if model.kind == KEYFRAME_KIND:
        header.append(keyframes_line(model.card))
    if model.has_matte:
        header.append(f"Repair      damage matte output {MATTE_NAME!r} (0-1, how likely each pixel is damage): "
                      "a render repairs only where it exceeds 1 - sensitivity (default 0.5) and leaves every other "
                      "pixel exactly as scanned; `apply --matte DIR` writes the matte applied")
    sys.stdout.write(describe_card(model.card, str(args.model)) + "\n" + "\n".join(header) + "\n")
    return 0


def keyframes_line(card: dict[str, Any]) -> str:
    """What a keyframe model was trained with: its painted keyframes and the shots they colour (docs/CONTRACT.md
    §4, training.keyframes); renders read the pair at or around each frame from a keyframes folder."""
    entry = (card.get("training") or {}).get("keyframes")
    if not isinstance(entry, dict):
        return (f"Keyframes   reads {KEYFRAME_COUNT} painted keyframes per frame; its card records none "
                "(give a keyframes folder when rendering)")
    keyframes = entry.get("keyframes") if isinstance(entry.get("keyframes"), list) else []
    frames = [str(k.get("frame")) for k in keyframes if isinstance(k, dict)]
    cuts = entry.get("cuts") if isinstance(entry.get("cuts"), list) else []
    shots = f"shots starting at frames {_listed(cuts)}" if cuts else "one shot"
    listed = f" (frames {_listed(frames)})" if frames else ""
    return f"Keyframes   {len(keyframes)} painted keyframe(s){listed}, {shots}; reads {KEYFRAME_COUNT} per frame"


def _listed(values: list[Any], most: int = 12) -> str:
    return ", ".join(str(v) for v in values[:most]) + (", …" if len(values) > most else "")
