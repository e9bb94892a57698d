"""Torch architectures per model kind (chroma, luma, pairs) and the contract graph they are exported in."""

from __future__ import annotations

from typing import Any

from torch import nn

from chromaluma.models.graph import CONFIDENCE_MEANING, CONFIDENCE_SCALE, ContractGraph, confidence_of
from chromaluma.models.kinds import MODEL_CLASSES, ChromaModel, LumaModel, PairsModel

DEFAULT_PROCESSING_SCALE = {"chroma": 0.25, "luma": 1.0, "pairs": 0.25}


def build_model(kind: str, processing_scale: float, architecture: dict[str, Any] | None = None) -> nn.Module:
    """A fresh model of `kind`; `architecture` (width, dilations) as recorded in a run's config or a card."""
    options = dict(architecture or {})
    if "dilations" in options:
        options["dilations"] = tuple(int(d) for d in options["dilations"])
    return MODEL_CLASSES[kind](processing_scale=processing_scale, **options)


def architecture_of(model: nn.Module) -> dict[str, Any]:
    """The options that rebuild `model` with :func:`build_model` (recorded in configs and cards)."""
    net = model.net  # type: ignore[attr-defined]
    return {"width": net.head.in_channels, "dilations": list(net.dilations)}


__all__ = ["CONFIDENCE_MEANING", "CONFIDENCE_SCALE", "DEFAULT_PROCESSING_SCALE", "ChromaModel", "ContractGraph",
           "LumaModel", "MODEL_CLASSES", "PairsModel", "architecture_of", "build_model", "confidence_of"]
