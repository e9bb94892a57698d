"""The model card (docs/CONTRACT.md §4): what a model was trained on, how, with which software, and how well.

Built by export from a run folder's records; printed for humans by `chromaluma info`, and in one line by the
plug-in's Model Info and render logs (:func:`summary_line`).

Validation scores compare the model's output with the *reference* on held-out frames, never with the truth, which
training never sees: a reference whose colour is off scores a model that copies it well. Every text here names
them so ("agreement with the reference on held-out frames"), for old cards as for new ones (the keys did not
change), and shows beside them how well the reference's own picture structure matched the scan's where the card
records it (:mod:`chromaluma.reference_structure`).
"""

from __future__ import annotations

import datetime as dt
import platform
from typing import Any

from chromaluma import __version__

VALIDATION_LABEL = "agreement with the reference on held-out frames"
# What each validation score compares the output with (docs/CONTRACT.md §4); both are the reference, not the truth
_AGAINST = {"delta_e2000": "the reference's colour on the scan's luma (what the model can reach)",
            "delta_e2000_reference": "the reference itself"}


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


def headline_score(card: dict[str, Any]) -> str:
    """The card's main validation score with its honest name, e.g. "agreement with the reference on held-out
    frames: ΔE2000 1.62 (p95 5.21)"; "" when the card has none. A chroma model that corrects density is scored
    against the reference itself, any other colour model against what it can reach."""
    validation = (card.get("metrics") or {}).get("validation") or {}
    density = ((card.get("model") or {}).get("architecture") or {}).get("density")
    if isinstance(validation.get("psnr_db"), (int, float)):
        return f"{VALIDATION_LABEL}: PSNR {validation['psnr_db']:.3g} dB"
    for prefix in (["delta_e2000_reference", "delta_e2000"] if density == "smooth" else ["delta_e2000"]):
        mean, p95 = validation.get(f"{prefix}_mean"), validation.get(f"{prefix}_p95")
        if isinstance(mean, (int, float)):
            return f"{VALIDATION_LABEL}: ΔE2000 {mean:.3g}" + (f" (p95 {p95:.3g})" if isinstance(p95, (int, float))
                                                                 else "")
    return ""


def structure_agreement(card: dict[str, Any]) -> float | None:
    """The card's `metrics.reference_structure_agreement` value, or None (not measured, or a card from before)."""
    entry = (card.get("metrics") or {}).get("reference_structure_agreement")
    value = entry.get("value") if isinstance(entry, dict) else entry
    return float(value) if isinstance(value, (int, float)) else None


def chain_parts(card: dict[str, Any]) -> list[dict[str, Any]]:
    """A chained model's parts in the order they apply (docs/CONTRACT.md §6: `chain`, a list of {file, sha256,
    card, …}); [] for any other model. Entries that are not objects holding a card object are skipped, so a
    damaged entry never stops a summary or `chromaluma info`."""
    parts = card.get("chain")
    if not isinstance(parts, list):
        return []
    return [part for part in parts if isinstance(part, dict) and isinstance(part.get("card"), dict)]


def summary_line(card: dict[str, Any]) -> str:
    """One line for logs and the plug-in's Model Info: kind, density, colorspace, pairs, steps, validation score
    (named for what it measures) and the reference's structure agreement with the scan; for a chain, its parts'
    lines in the order they apply."""
    parts = chain_parts(card)
    if parts:
        return (f"{card.get('kind', '?')} model chained from {len(parts)} models, {card.get('colorspace', '?')} "
                "colour: " + " → ".join(f"[{summary_line(part['card'])}]" for part in parts))
    training = card.get("training", {})
    params = training.get("parameters", {})
    density = density_text(card)
    score = headline_score(card)
    structure = structure_agreement(card)
    return (f"{card.get('kind', '?')} model, " + (f"{density}, " if density else "")
            + f"{card.get('colorspace', '?')} colour, "
            f"{len(training.get('pairs', []))} pairs, {params.get('steps_done', params.get('steps', '?'))} steps"
            + (f", {score}" if score else "")
            + (f", reference's structure agreement with the scan {structure:.2f}" if structure is not None else ""))


def validation_lines(card: dict[str, Any]) -> list[str]:
    """`chromaluma info`'s validation section: every score with what it was measured against."""
    metrics = card.get("metrics") or {}
    validation = metrics.get("validation") or {}
    frames = (card.get("training") or {}).get("validation_frames", [])
    lines = [f"Validation  {VALIDATION_LABEL} {frames} (not agreement with the truth: where the reference is "
             "wrong, these numbers cannot show it)"]
    shown = set()
    for prefix, against in _AGAINST.items():
        mean, p95 = validation.get(f"{prefix}_mean"), validation.get(f"{prefix}_p95")
        if isinstance(mean, (int, float)):
            lines.append(f"            ΔE2000 mean {mean:.3g}" + (f", p95 {p95:.3g}" if isinstance(p95, (int, float))
                                                                   else "") + f" against {against}")
            shown |= {f"{prefix}_mean", f"{prefix}_p95"}
    if isinstance(validation.get("psnr_db"), (int, float)):
        lines.append(f"            PSNR {validation['psnr_db']:.3g} dB against the reference")
        shown.add("psnr_db")
    lines += [f"            {key} = {value} (against the reference)" for key, value in validation.items()
              if key not in shown]
    if not validation:
        lines.append("            no scores (no frames were held out)")
    structure = structure_agreement(card)
    entry = metrics.get("reference_structure_agreement")
    if structure is not None:
        measure = entry.get("measure", "") if isinstance(entry, dict) else ""
        lines.append(f"Reference   structure agreement with the scan {structure:.3f}" + (f" ({measure})" if measure
                                                                                         else ""))
    else:
        lines.append("Reference   structure agreement with the scan not recorded (not measurable at export, or a "
                     "card from before Chromaluma measured it)")
    return lines


def describe_card(card: dict[str, Any], source: str) -> str:
    """The card as readable text for `chromaluma info`."""
    if chain_parts(card):
        return describe_chain(card, source)
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
    processes = (f", {training['world_size']} processes ({training.get('backend')})"
                 if training.get("world_size", 1) > 1 else "")
    lines.append(f"            device {training.get('device', '?')}{processes}, {training.get('duration_s', 0):.0f} s")
    lines += validation_lines(card)
    lines.append(f"Pairs       {len(training.get('pairs', []))}")
    for pair in training.get("pairs", []):
        mask = f" | mask {pair['mask']}" if pair.get("mask") else ""
        lines.append(f"  frame {pair.get('frame')}: scan {pair.get('scan')} ({str(pair.get('scan_sha256', ''))[:12]}) "
                     f"| reference {pair.get('reference')} ({str(pair.get('reference_sha256', ''))[:12]}){mask}")
    lines += correction_lines(card)
    lines.append("Software    " + ", ".join(f"{key} {value}" for key, value in card.get("software", {}).items()))
    lines.append(f"ONNX opset  {card.get('opset', '?')}")
    return "\n".join(lines)


def correction_lines(card: dict[str, Any]) -> list[str]:
    """`chromaluma info`'s lines for the frames a restorer corrected by hand (`train --corrections`), if any."""
    section = (card.get("training") or {}).get("corrections")
    if not isinstance(section, dict):
        return []
    entries = [e for e in section.get("corrections", []) if isinstance(e, dict)]
    lines = [f"Corrections {len(entries)} from {section.get('folder')}, each drawn {section.get('weight')}× as often "
             "as a pair"]
    for entry in entries:
        mask = (f" | mask {entry['mask']} ({str(entry.get('mask_sha256', ''))[:12]}), {entry.get('region_px')} px"
                if entry.get("mask") else " | whole frame")
        lines.append(f"  frame {entry.get('frame')}: {entry.get('file')} ({str(entry.get('sha256', ''))[:12]}){mask}")
    return lines


def describe_chain(card: dict[str, Any], source: str) -> str:
    """A chained model for `chromaluma info`: what the chain is, then each part's own card, indented, in the order
    the parts apply (the file name and SHA-256 each had when chained)."""
    model = card.get("model") or {}
    parts = chain_parts(card)
    lines = [f"Model       {source}", f"Summary     {summary_line(card)}",
             f"Created     {card.get('created', '?')} with Chromaluma {card.get('chromaluma_version', '?')}",
             f"Colorspace  {card.get('colorspace', '?')}  (what every part's training pairs were encoded in)",
             f"Chain       {len(parts)} models applied in turn, each one's result feeding the next; receptive field "
             f"{model.get('receptive_field')} px, processing scale {model.get('processing_scale')}"]
    if "confidence" in model:
        lines.append(f"Confidence  {model['confidence']}")
    for number, part in enumerate(parts, start=1):
        lines.append(f"Part {number:<6} {part.get('file', '?')} (sha256 {str(part.get('sha256', '?'))[:12]}…)")
        lines += ["    " + line for line in describe_card(part["card"], str(part.get("file", "?"))).splitlines()]
    lines.append("Software    " + ", ".join(f"{key} {value}" for key, value in card.get("software", {}).items()))
    lines.append(f"ONNX opset  {card.get('opset', '?')}")
    return "\n".join(lines)
