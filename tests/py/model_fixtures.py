"""Tiny, contract-conforming ONNX models built inside tests (docs/CONTRACT.md §2–§3); nothing is downloaded.

Stable helpers other test files (and the plug-in engineer's tests) may import:

- :func:`pointwise_model` — a pure per-pixel graph built with `onnx.helper` (no torch, milliseconds):
  `restored.rgb = rgb * GAIN + OFFSET`, alpha copied, `confidence = CONFIDENCE_VALUE`. Tests compute the
  expected output themselves with :func:`pointwise_expected`. receptive_field 0, processing_scale 1.
- :func:`chroma_conv_model` — a small torch conv net like the real chroma design: average-pool by 4, two 3×3
  convs at quarter resolution, bilinear ×4 upsample, added to the input colour. receptive_field 20 (honest:
  one output pixel depends on at most 16 input pixels each side), processing_scale 0.25, with `confidence`.
- :func:`luma_conv_model` — a full-resolution torch conv net (two 3×3 convs, residual), receptive_field 2.
- :func:`keyframe_model` — a tiny keyframe-kind torch model (inputs `image`, `keyframes` [2, H, W, 4]), seeded;
  :func:`keyframe_torch_model` is the same model in torch.
- :func:`save_with_metadata` — attach `chromaluma.*` metadata to any `onnx.ModelProto` and save it.

Every builder takes the output path and returns it; weights are seeded, so the same call gives the same file.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.helper as oh
from onnx import TensorProto

from chromaluma import contract

GAIN = 0.5
OFFSET = 0.25
CONFIDENCE_VALUE = 0.75
OPSET = 17


def model_card(kind: str = "chroma") -> dict[str, Any]:
    """A minimal model card with the keys the contract requires (§4)."""
    return {"kind": kind, "created": "2026-01-01T00:00:00Z", "software": {"test": "model_fixtures"},
            "training": {"parameters": {"steps": 0}}, "metrics": {}, "colorspace": "display"}


def save_with_metadata(model: onnx.ModelProto, path: Path, *, kind: str = "chroma", receptive_field: int = 0,
                       processing_scale: float = 1.0, format_version: int = contract.FORMAT_VERSION) -> Path:
    """Write `model` to `path` with Chromaluma metadata (IR version capped at contract.MAX_IR_VERSION)."""
    fields = contract.ModelContract(kind=kind, receptive_field=receptive_field, processing_scale=processing_scale,
                                    colorspace="display", card=model_card(kind), format_version=format_version)
    del model.metadata_props[:]
    for key, value in contract.metadata_props(fields).items():
        model.metadata_props.add(key=key, value=value)
    model.ir_version = min(model.ir_version, contract.MAX_IR_VERSION)
    onnx.save(model, str(path))
    return path


def _image_info(name: str, channels: int) -> onnx.ValueInfoProto:
    return oh.make_tensor_value_info(name, TensorProto.FLOAT, [1, "H", "W", channels])


def pointwise_graph(*, confidence: bool = True) -> onnx.ModelProto:
    """The graph of :func:`pointwise_model`, without metadata (for tests that break the contract on purpose)."""

    def const(name: str, values: list[float]) -> onnx.NodeProto:
        return oh.make_node("Constant", [], [name], value=oh.make_tensor(name, TensorProto.FLOAT, [4], values))

    nodes = [
        const("gain", [GAIN, GAIN, GAIN, 1.0]),
        const("offset", [OFFSET, OFFSET, OFFSET, 0.0]),
        oh.make_node("Mul", ["image", "gain"], ["scaled"]),
        oh.make_node("Add", ["scaled", "offset"], ["restored"]),
    ]
    outputs = [_image_info("restored", 4)]
    if confidence:
        def index(name: str, value: int) -> onnx.NodeProto:
            return oh.make_node("Constant", [], [name], value=oh.make_tensor(name, TensorProto.INT64, [1], [value]))

        nodes += [
            index("starts", 3), index("ends", 4), index("axes", 3),
            oh.make_node("Slice", ["image", "starts", "ends", "axes"], ["alpha"]),
            oh.make_node("Constant", [], ["zero"], value=oh.make_tensor("zero", TensorProto.FLOAT, [], [0.0])),
            oh.make_node("Constant", [], ["level"],
                         value=oh.make_tensor("level", TensorProto.FLOAT, [], [CONFIDENCE_VALUE])),
            oh.make_node("Mul", ["alpha", "zero"], ["zeros"]),
            oh.make_node("Add", ["zeros", "level"], ["confidence"]),
        ]
        outputs.append(_image_info("confidence", 1))
    graph = oh.make_graph(nodes, "pointwise", [_image_info("image", 4)], outputs)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", OPSET)], ir_version=contract.MAX_IR_VERSION)
    onnx.checker.check_model(model, full_check=True)
    return model


def pointwise_model(path: Path, *, confidence: bool = True, kind: str = "pairs") -> Path:
    """A per-pixel model: restored.rgb = rgb·GAIN + OFFSET, alpha unchanged, confidence = CONFIDENCE_VALUE."""
    return save_with_metadata(pointwise_graph(confidence=confidence), path, kind=kind)


def pointwise_expected(rgb: np.ndarray) -> np.ndarray:
    """What :func:`pointwise_model` makes of straight colour `rgb` (float64 for reference arithmetic)."""
    return rgb.astype(np.float64) * GAIN + OFFSET


def _export_torch(module: Any, path: Path) -> onnx.ModelProto:
    import torch

    module.eval()
    example = torch.rand(1, 36, 44, 4)
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but small, fast and dependency-free
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (example,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=[contract.INPUT_NAME],
                          output_names=[contract.OUTPUT_NAME, contract.CONFIDENCE_NAME],
                          dynamic_axes={contract.INPUT_NAME: {1: "H", 2: "W"}, contract.OUTPUT_NAME: {1: "H", 2: "W"},
                                        contract.CONFIDENCE_NAME: {1: "H", 2: "W"}})
    return onnx.load(str(path))


def _chroma_module(seed: int) -> Any:
    import torch
    import torch.nn.functional as F  # noqa: N812 (torch's own convention)
    from torch import nn

    class QuarterResolutionChroma(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(seed)
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 4, 3, padding=1)

        def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            planar = image.permute(0, 3, 1, 2)
            rgb = planar[:, 0:3]
            height, width = rgb.shape[2], rgb.shape[3]
            padded = F.pad(rgb, (0, (4 - width % 4) % 4, 0, (4 - height % 4) % 4), mode="replicate")
            low = F.avg_pool2d(padded, 4)
            features = self.conv2(torch.relu(self.conv1(low)))
            up = F.interpolate(features, scale_factor=4.0, mode="bilinear", align_corners=False)
            up = up[:, :, :height, :width]
            restored = torch.cat([rgb + 0.2 * torch.tanh(up[:, 0:3]), planar[:, 3:4]], dim=1)
            confidence = torch.sigmoid(up[:, 3:4])
            return restored.permute(0, 2, 3, 1), confidence.permute(0, 2, 3, 1)

    return QuarterResolutionChroma()


def _luma_module(seed: int) -> Any:
    import torch
    from torch import nn

    class FullResolutionLuma(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(seed)
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 4, 3, padding=1)

        def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            planar = image.permute(0, 3, 1, 2)
            rgb = planar[:, 0:3]
            features = self.conv2(torch.relu(self.conv1(rgb)))
            restored = torch.cat([rgb + 0.1 * torch.tanh(features[:, 0:3]), planar[:, 3:4]], dim=1)
            return restored.permute(0, 2, 3, 1), torch.sigmoid(features[:, 3:4]).permute(0, 2, 3, 1)

    return FullResolutionLuma()


def chroma_conv_model(path: Path, *, seed: int = 0) -> Path:
    """Quarter-resolution conv chroma model (see module docstring); receptive_field 20, processing_scale 0.25."""
    model = _export_torch(_chroma_module(seed), path)
    return save_with_metadata(model, path, kind="chroma", receptive_field=20, processing_scale=0.25)


def luma_conv_model(path: Path, *, seed: int = 0) -> Path:
    """Full-resolution conv luma model (see module docstring); receptive_field 2, processing_scale 1."""
    model = _export_torch(_luma_module(seed), path)
    return save_with_metadata(model, path, kind="luma", receptive_field=2, processing_scale=1.0)


def window_model(path: Path, *, kind: str = "pairs", radius: int = 1, seed: int = 0, std: float = 0.1) -> Path:
    """A temporal-window model (docs/CONTRACT.md §1.6) of `kind` with seeded random weights, exported the way
    `chromaluma train --temporal-radius` exports: inputs `image` and `neighbours` [2·radius, H, W, 4]. Random
    weights make its output depend on every frame of its window. Small (width 8), so it exports in about a second."""
    import torch

    from chromaluma.card import build_card
    from chromaluma.export import export_model
    from chromaluma.models import DEFAULT_PROCESSING_SCALE, build_model

    torch.manual_seed(seed)
    model = build_model(kind, DEFAULT_PROCESSING_SCALE[kind], {"temporal_radius": radius, "width": 8,
                                                               "dilations": [1, 2]})
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=std)
    card = build_card(kind, "display", {"pairs": [], "parameters": {"steps": 0}}, {"validation": {}}, opset=OPSET,
                      model_details={"architecture": {"temporal_radius": radius}})
    return export_model(model, Path(path), "display", card)


def keyframe_torch_model(*, seed: int = 0, std: float = 0.1, search: int = 2) -> Any:
    """The torch KeyframeModel :func:`keyframe_model` exports (same arguments give the same weights), in eval mode:
    tests compare a render with it run on the same inputs."""
    import torch

    from chromaluma.models import DEFAULT_PROCESSING_SCALE, build_model

    torch.manual_seed(seed)
    model = build_model("keyframes", DEFAULT_PROCESSING_SCALE["keyframes"],
                        {"width": 8, "features": 4, "search": search, "dilations": [1, 2]})
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=std)
    return model.eval()


def keyframe_model(path: Path, *, seed: int = 0, std: float = 0.1, search: int = 2,
                   cuts: list[int] | None = None, keyframes: list[dict[str, Any]] | None = None) -> Path:
    """A tiny keyframe-kind model (docs/CONTRACT.md §1.7; width 8, features 4, `search` grid cells, f = 8) with
    seeded random weights, exported the way `chromaluma train --kind keyframes` exports: inputs `image` and
    `keyframes` [2, H, W, 4], format_version 3. Random weights make its colour depend on both keyframes. `cuts`
    (shot start frames) and `keyframes` (card entries) go into the card's training.keyframes when given; without
    either the card has no training.keyframes entry (one shot). Exports in about two seconds."""
    from chromaluma.card import build_card
    from chromaluma.export import export_model
    from chromaluma.models import architecture_of

    model = keyframe_torch_model(seed=seed, std=std, search=search)
    training: dict[str, Any] = {"pairs": [], "parameters": {"steps": 0}}
    if cuts is not None or keyframes is not None:
        training["keyframes"] = {"folder": "keyframes", "cuts": list(cuts or []), "keyframes": list(keyframes or [])}
    card = build_card("keyframes", "display", training, {"validation": {}}, opset=OPSET,
                      model_details={"architecture": architecture_of(model),
                                     "receptive_field": int(model.receptive_field)})
    return export_model(model, Path(path), "display", card)
