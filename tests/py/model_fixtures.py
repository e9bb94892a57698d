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
- :func:`repair_onnx` — a pure `onnx.helper` damage-repair graph (kind "repair", format_version 4, §1.8): the matte
  is 1 where the input's red > REPAIR_RED_LEVEL, else 0 (or, `graded=True`, the input's green clipped to 0–1),
  restored = REPAIR_COLOUR at every pixel with alpha copied, confidence = CONFIDENCE_VALUE. Tests compute the
  expected matte with :func:`repair_expected_matte`. receptive_field 0, processing_scale 1.
- :func:`repair_model` — a small seeded torch stand-in with RepairModel's forward signature (window in; restored,
  log_sigma, matte out), exported through `chromaluma.export.export_model`; receptive_field 2.
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
REPAIR_COLOUR = (0.25, 0.5, 0.75)  # what :func:`repair_onnx` restores every pixel to (alpha copied)
REPAIR_RED_LEVEL = 0.9  # :func:`repair_onnx`'s matte is 1 where the input's red is above this, else 0


def model_card(kind: str = "chroma") -> dict[str, Any]:
    """A minimal model card with the keys the contract requires (§4)."""
    return {"kind": kind, "created": "2026-01-01T00:00:00Z", "software": {"test": "model_fixtures"},
            "training": {"parameters": {"steps": 0}}, "metrics": {}, "colorspace": "display"}


def save_with_metadata(model: onnx.ModelProto, path: Path, *, kind: str = "chroma", receptive_field: int = 0,
                       processing_scale: float = 1.0, format_version: int = contract.FORMAT_VERSION,
                       frames: int = 0) -> Path:
    """Write `model` to `path` with Chromaluma metadata (IR version capped at contract.MAX_IR_VERSION); `frames`:
    the window's frames each side (frames_before = frames_after)."""
    fields = contract.ModelContract(kind=kind, receptive_field=receptive_field, processing_scale=processing_scale,
                                    colorspace="display", card=model_card(kind), format_version=format_version,
                                    frames_before=frames, frames_after=frames)
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
    `keyframes` [2, H, W, 4], format_version 6 (the backend moves its keyframes). Random weights make its colour
    depend on both keyframes. `cuts` (shot start frames) and `keyframes` (card entries) go into the card's
    training.keyframes when given; without either the card has no training.keyframes entry (one shot). Exports in
    about two seconds."""
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


def _float_constant(name: str, values: list[float], shape: list[int] | None = None) -> onnx.NodeProto:
    dims = [len(values)] if shape is None else shape
    return oh.make_node("Constant", [], [name], value=oh.make_tensor(name, TensorProto.FLOAT, dims, values))


def _channel(source: str, channel: int, name: str) -> list[onnx.NodeProto]:
    """Nodes slicing channel `channel` of NHWC `source` into `name` [1, H, W, 1]."""
    def index(suffix: str, value: int) -> onnx.NodeProto:
        return oh.make_node("Constant", [], [f"{name}_{suffix}"],
                            value=oh.make_tensor(f"{name}_{suffix}", TensorProto.INT64, [1], [value]))

    return [index("start", channel), index("end", channel + 1), index("axis", 3),
            oh.make_node("Slice", [source, f"{name}_start", f"{name}_end", f"{name}_axis"], [name])]


def repair_graph(*, graded: bool = False, matte: bool = True, radius: int = 0) -> onnx.ModelProto:
    """The graph of :func:`repair_onnx`, without metadata (tests that break the contract on purpose use
    `matte=False`, or save it as another kind). `radius` > 0 adds the `neighbours` input [2·radius, H, W, 4]; it
    does not change any output (NaN/Inf never reach a model, so 0·mean(neighbours) is 0)."""
    nodes = [
        _float_constant("keep_alpha", [0.0, 0.0, 0.0, 1.0]),
        _float_constant("colour", [*REPAIR_COLOUR, 0.0]),
        oh.make_node("Mul", ["image", "keep_alpha"], ["alpha_only"]),
        oh.make_node("Add", ["alpha_only", "colour"], ["restored"]),
        *_channel("image", 3, "alpha"),
        _float_constant("zero", [0.0], []),
        _float_constant("level", [CONFIDENCE_VALUE], []),
        oh.make_node("Mul", ["alpha", "zero"], ["zeros"]),
    ]
    inputs = [_image_info("image", 4)]
    if radius:
        inputs.append(oh.make_tensor_value_info("neighbours", TensorProto.FLOAT, [2 * radius, "H", "W", 4]))
        nodes += [oh.make_node("ReduceMean", ["neighbours"], ["neighbour_mean"], keepdims=1),
                  oh.make_node("Mul", ["neighbour_mean", "zero"], ["neighbour_zero"]),
                  oh.make_node("Add", ["zeros", "neighbour_zero"], ["window_zeros"])]
    zeros = "window_zeros" if radius else "zeros"
    nodes.append(oh.make_node("Add", [zeros, "level"], ["confidence"]))
    outputs = [_image_info("restored", 4), _image_info("confidence", 1)]
    if matte:
        if graded:
            nodes += [*_channel("image", 1, "green"), _float_constant("low", [0.0], []),
                      _float_constant("high", [1.0], []),
                      oh.make_node("Clip", ["green", "low", "high"], ["graded_matte"]),
                      oh.make_node("Add", ["graded_matte", zeros], ["matte"])]
        else:
            nodes += [*_channel("image", 0, "red"), _float_constant("red_level", [REPAIR_RED_LEVEL], []),
                      oh.make_node("Greater", ["red", "red_level"], ["damaged"]),
                      oh.make_node("Cast", ["damaged"], ["damage_matte"], to=TensorProto.FLOAT),
                      oh.make_node("Add", ["damage_matte", zeros], ["matte"])]
        outputs.append(_image_info(contract.MATTE_NAME, 1))
    graph = oh.make_graph(nodes, "repair", inputs, outputs)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", OPSET)], ir_version=contract.MAX_IR_VERSION)
    onnx.checker.check_model(model, full_check=True)
    return model


def repair_onnx(path: Path, *, graded: bool = False, radius: int = 0) -> Path:
    """A pure damage-repair model (kind "repair", format_version 4; see the module docstring)."""
    return save_with_metadata(repair_graph(graded=graded, radius=radius), path, kind=contract.REPAIR_KIND,
                              format_version=contract.REPAIR_FORMAT_VERSION, frames=radius)


def repair_expected_matte(rgb: np.ndarray, *, graded: bool = False) -> np.ndarray:
    """The matte (H, W) float32 :func:`repair_onnx` gives for straight colour `rgb` (0–1 floats, the model's input:
    integers already divided by their maximum, NaN/Inf pixels set to 0)."""
    if graded:
        return np.clip(rgb[..., 1], 0.0, 1.0).astype(np.float32)
    return (rgb[..., 0] > np.float32(REPAIR_RED_LEVEL)).astype(np.float32)


def _repair_module(radius: int, seed: int) -> Any:
    import torch
    from torch import nn

    class RepairStandIn(nn.Module):
        """RepairModel's interface (docs/CONTRACT.md §1.8): window [N, T, H, W, 4] (or [N, H, W, 4] at radius 0) →
        (restored NHWC, log_sigma [N, 1, H, W], matte [N, 1, H, W] in 0–1), full resolution."""

        kind = contract.REPAIR_KIND
        factor = 1
        receptive_field = 2  # two 3×3 convolutions

        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(seed)
            self.temporal_radius = radius
            frames = 2 * radius + 1
            self.conv1 = nn.Conv2d(3 * frames, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 5, 3, padding=1)

        def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            if self.temporal_radius:
                centre = window[:, self.temporal_radius]
                planes = window[..., 0:3].permute(0, 1, 4, 2, 3).flatten(1, 2)
            else:
                centre = window
                planes = window[..., 0:3].permute(0, 3, 1, 2)
            features = self.conv2(torch.relu(self.conv1(planes)))
            rgb = centre[..., 0:3] + 0.2 * torch.tanh(features[:, 0:3].permute(0, 2, 3, 1))
            restored = torch.cat([rgb, centre[..., 3:4]], dim=3)
            return restored, features[:, 3:4] - 3.0, torch.sigmoid(4.0 * features[:, 4:5])

        def upsample(self, grid: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
            """Full resolution already: NCHW → NHWC."""
            return grid.permute(0, 2, 3, 1)

    return RepairStandIn()


def repair_torch_model(*, radius: int = 2, seed: int = 0) -> Any:
    """The torch stand-in :func:`repair_model` exports (same arguments give the same weights), in eval mode."""
    return _repair_module(radius, seed).eval()


def repair_model(path: Path, radius: int = 2, *, seed: int = 0) -> Path:
    """A small seeded torch repair stand-in (RepairModel's forward signature, receptive_field 2, window of
    `radius` frames each side) exported through `chromaluma.export.export_model`: format_version 5, outputs
    restored, confidence and matte. About a second to export."""
    from chromaluma.card import build_card
    from chromaluma.export import export_model

    model = repair_torch_model(radius=radius, seed=seed)
    card = build_card(contract.REPAIR_KIND, "display", {"pairs": [], "parameters": {"steps": 0}}, {"validation": {}},
                      opset=OPSET, model_details={"architecture": {"temporal_radius": radius}, "receptive_field": 2})
    return export_model(model, Path(path), "display", card)
