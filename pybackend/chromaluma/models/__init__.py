"""Torch architectures per model kind (chroma, luma, pairs) and the contract graph they are exported in."""

from __future__ import annotations

from typing import Any

from torch import nn

from chromaluma.models.density import DENSITY_CELLS, DENSITY_MODES, band_limit_px
from chromaluma.models.graph import (
    CONFIDENCE_MEANING,
    CONFIDENCE_SCALE,
    ContractGraph,
    confidence_meaning,
    confidence_of,
)
from chromaluma.models.keyframes import KeyframeModel
from chromaluma.models.kinds import MAX_TEMPORAL_RADIUS, ChromaModel, LumaModel, PairsModel
from chromaluma.models.repair import RepairModel

MODEL_CLASSES: dict[str, type[nn.Module]] = {"chroma": ChromaModel, "luma": LumaModel, "pairs": PairsModel,
                                             "keyframes": KeyframeModel, "repair": RepairModel}
"""Torch architectures per model kind, exported in the contract graph (docs/CONTRACT.md §2)."""

DEFAULT_PROCESSING_SCALE = {"chroma": 0.25, "luma": 1.0, "pairs": 0.25, "keyframes": 0.125, "repair": 0.25}


def build_model(kind: str, processing_scale: float, architecture: dict[str, Any] | None = None) -> nn.Module:
    """A fresh model of `kind`; `architecture` (width, dilations; density for chroma) as recorded in a run's config
    or a card. Cards written before density existed lack it: their chroma models keep the scan's luma."""
    options = dict(architecture or {})
    if "dilations" in options:
        options["dilations"] = tuple(int(d) for d in options["dilations"])
    return MODEL_CLASSES[kind](processing_scale=processing_scale, **options)


def recorded_architecture(kind: str, recorded: dict[str, Any]) -> dict[str, Any]:
    """An architecture recorded by a checkpoint or card, as :func:`build_model` takes it: a keyframe model recorded
    before keyframe models carried colour along the flow (model format 6) has no `carries`, and reads its keyframes
    unmoved."""
    architecture = dict(recorded)
    if kind == "keyframes":
        architecture.setdefault("carries", False)
    return architecture


def architecture_of(model: nn.Module) -> dict[str, Any]:
    """The options that rebuild `model` with :func:`build_model` (recorded in configs and cards)."""
    net = model.net  # type: ignore[attr-defined]
    options: dict[str, Any] = {"width": net.head.in_channels, "dilations": list(net.dilations)}
    if isinstance(model, ChromaModel):
        options["density"] = model.density
    if isinstance(model, KeyframeModel):
        options["features"] = model.match.layers[0].out_channels
        options["search"] = model.search
        options["carries"] = model.carries
    options["temporal_radius"] = int(getattr(model, "temporal_radius", 0))
    return options


__all__ = ["CONFIDENCE_MEANING", "CONFIDENCE_SCALE", "DEFAULT_PROCESSING_SCALE", "DENSITY_CELLS", "DENSITY_MODES",
           "MAX_TEMPORAL_RADIUS", "ChromaModel", "ContractGraph", "KeyframeModel", "LumaModel", "MODEL_CLASSES",
           "PairsModel", "RepairModel", "architecture_of", "band_limit_px", "build_model", "confidence_meaning",
           "confidence_of", "recorded_architecture"]
