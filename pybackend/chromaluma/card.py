"""The model card (docs/CONTRACT.md §4): what a model was trained on, how, with which software, and how well.

Built by export from a run folder's records; printed for humans by `chromaluma info`.
"""

from __future__ import annotations

import datetime as dt
import platform
from typing import Any

from chromaluma import __version__


def software_versions() -> dict[str, str]:
    """Versions of everything that shaped the model's numbers."""
    import numpy
    import onnx
    import onnxruntime
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__}


def build_card(kind: str, colorspace: str, training: dict[str, Any], metrics: dict[str, Any], *,
               opset: int, model_details: dict[str, Any]) -> dict[str, Any]:
    """A card with the contract's required keys plus `model` (architecture, receptive field, confidence meaning)."""
    return {
        "kind": kind,
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "chromaluma_version": __version__,
        "colorspace": colorspace,
        "software": software_versions(),
        "training": training,
        "metrics": metrics,
        "opset": opset,
        "model": model_details,
    }


def density_text(card: dict[str, Any]) -> str:
    """A chroma model's density mode in words ("" for other kinds and for cards that do not record it).

    `keep`: output luma is the scan's exactly; `smooth`: plus a density correction learnt from the reference,
    band-limited to `model.density_band_px` pixels (the scan's grain and detail pass through).
    """
    model = card.get("model") or {}
    density = (model.get("architecture") or {}).get("density")
    if card.get("kind") != "chroma" or density is None:
        return ""
    if density == "smooth":
        band = model.get("density_band_px")
        return "density: smooth" + (f" (band-limited to {band} px)" if band else "")
    return f"density: {density} (scan luma unchanged)" if density == "keep" else f"density: {density}"


def summary_line(card: dict[str, Any]) -> str:
    """One line for logs and the plug-in's modelInfo: kind, density, colorspace, pairs, steps, validation score."""
    training = card.get("training", {})
    params = training.get("parameters", {})
    validation = card.get("metrics", {}).get("validation", {})
    score = ", ".join(f"{key} {value:.3g}" for key, value in validation.items() if isinstance(value, (int, float)))
    density = density_text(card)
    return (f"{card.get('kind', '?')} model, " + (f"{density}, " if density else "")
            + f"{card.get('colorspace', '?')} colour, "
            f"{len(training.get('pairs', []))} pairs, {params.get('steps_done', params.get('steps', '?'))} steps"
            + (f", validation {score}" if score else ""))


def describe_card(card: dict[str, Any], source: str) -> str:
    """The card as readable text for `chromaluma info`."""
    training = card.get("training", {})
    params = training.get("parameters", {})
    lines = [f"Model       {source}", f"Summary     {summary_line(card)}",
             f"Created     {card.get('created', '?')} with Chromaluma {card.get('chromaluma_version', '?')}",
             f"Colorspace  {card.get('colorspace', '?')}  (what the training pairs were encoded in)"]
    model = card.get("model", {})
    if model:
        lines.append(f"Network     {model.get('architecture', {})}, receptive field {model.get('receptive_field')} px, "
                     f"processing scale {model.get('processing_scale')}")
        if density_text(card):
            lines.append(f"Density     {density_text(card).split(': ', 1)[1]}")
        if "confidence" in model:
            lines.append(f"Confidence  {model['confidence']}")
    lines.append("Training    " + ", ".join(f"{key}={value}" for key, value in params.items()))
    lines.append(f"            device {training.get('device', '?')}, {training.get('duration_s', 0):.0f} s")
    lines.append(f"Validation  frames {training.get('validation_frames', [])}")
    for key, value in card.get("metrics", {}).get("validation", {}).items():
        lines.append(f"            {key} = {value}")
    lines.append(f"Pairs       {len(training.get('pairs', []))}")
    for pair in training.get("pairs", []):
        mask = f" | mask {pair['mask']}" if pair.get("mask") else ""
        lines.append(f"  frame {pair.get('frame')}: scan {pair.get('scan')} ({str(pair.get('scan_sha256', ''))[:12]}) "
                     f"| reference {pair.get('reference')} ({str(pair.get('reference_sha256', ''))[:12]}){mask}")
    lines.append("Software    " + ", ".join(f"{key} {value}" for key, value in card.get("software", {}).items()))
    lines.append(f"ONNX opset  {card.get('opset', '?')}")
    return "\n".join(lines)
