"""ONNX export with verification: a model leaves Chromaluma only if ONNX Runtime reproduces PyTorch.

Steps: trace the contract graph (docs/CONTRACT.md §2) with dynamic H and W at a pinned opset, cap the IR version,
record the graph's hash in the card, write the metadata and model card (§3, §4) through :mod:`chromaluma.contract`,
run `onnx.checker`, then run ONNX Runtime and PyTorch on a random frame (with random neighbours or keyframes for the
models that read them) of a size no training crop had (odd, not a multiple of the grid). If they differ by more
than TOLERANCE, nothing is written. The file (and its card as `NAME.json`) is written atomically.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from chromaluma import contract
from chromaluma.card import VALIDATION_LABEL, build_card, summary_line
from chromaluma.errors import ChromalumaError
from chromaluma.io.atomic import write_bytes_atomically
from chromaluma.models import (
    ContractGraph,
    architecture_of,
    band_limit_px,
    build_model,
    confidence_meaning,
    recorded_architecture,
)
from chromaluma.reference_structure import held_out_agreement

log = logging.getLogger(__name__)

OPSET = 17
TOLERANCE = 1e-4
REPAIR_CHECKED_MATTE = 0.05  # a repair candidate is compared where a matte exceeds this (_repair_difference)
VERIFY_SIZE = (67, 101)  # H, W: odd, prime-ish, not a multiple of any grid factor, never a training crop


class ExportError(ChromalumaError):
    """The model could not be exported, or ONNX Runtime does not reproduce it (nothing written)."""


def export_model(model: nn.Module, out_path: Path, colorspace: str, card: dict[str, Any]) -> Path:
    """Export a kind module (chromaluma.models) with `card` to `out_path`; verified, atomic. Returns the path."""
    out_path = Path(out_path)
    model = model.cpu().eval()
    proto = _trace(ContractGraph(model))
    card = {**card, contract.CARD_GRAPH_HASH: contract.graph_sha256(proto)}  # loading checks the graph against it
    radius = _radius(model)
    meta = contract.ModelContract(kind=model.kind, receptive_field=int(model.receptive_field),
                                  processing_scale=1.0 / model.factor, colorspace=colorspace, card=card,
                                  frames_before=radius, frames_after=radius,
                                  format_version=contract.format_version_for(radius, radius, model.kind,
                                                                            bool(getattr(model, "carries", False))))
    for key, value in contract.metadata_props(meta).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    import onnx

    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{out_path}: onnx.checker rejects the exported graph ({exc}); nothing written. "
                          "This is a Chromaluma bug: report it with the run folder.") from exc
    contract.contract_of_proto(proto, str(out_path))
    difference = verify_with_onnxruntime(ContractGraph(model), proto.SerializeToString())
    if not difference <= TOLERANCE:
        raise ExportError(f"{out_path}: ONNX Runtime differs from PyTorch by {difference:.3g} (> {TOLERANCE}) on a "
                          f"{VERIFY_SIZE[1]}×{VERIFY_SIZE[0]} frame; nothing written. Check the onnxruntime version "
                          "(chromaluma info shows the one used for training) or report it with the run folder.")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_path, proto.SerializeToString())
    _write_atomic(out_path.with_suffix(".json"), json.dumps(card, indent=2, sort_keys=True).encode())
    log.info("exported %s (%s); ONNX Runtime matches PyTorch within %.2g", out_path, summary_line(card), difference)
    return out_path


def export_run(run_dir: Path, out_path: Path) -> Path:
    """Export a run folder's newest checkpoint with its model card; returns `out_path`."""
    from chromaluma.train.checkpoint import load_latest
    from chromaluma.train.config import CONFIG_NAME, PAIRS_RECORD_NAME, TrainConfig

    run_dir = Path(run_dir)
    config_path, pairs_path = run_dir / CONFIG_NAME, run_dir / PAIRS_RECORD_NAME
    if not config_path.is_file() or not pairs_path.is_file():
        raise ExportError(f"{run_dir}: not a Chromaluma run folder ({CONFIG_NAME} or {PAIRS_RECORD_NAME} missing). "
                          "Give the folder `chromaluma train --run-dir` wrote.")
    config = TrainConfig.from_json(config_path.read_text(), str(config_path))
    state = load_latest(run_dir)
    model = build_model(state["kind"], float(state["processing_scale"]),
                        recorded_architecture(state["kind"], state["architecture"]))
    model.load_state_dict(state["model"])
    card = run_card(config, json.loads(pairs_path.read_text()), state, model)
    return export_model(model, Path(out_path), config.colorspace, card)


def run_card(config: Any, pairs_record: dict[str, Any], state: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The model card of a run (docs/CONTRACT.md §4) from its config, pairs record and checkpoint."""
    validation = state["validation"][-1][1] if state["validation"] else {}
    parameters = {"steps": config.steps, "steps_done": int(state["step"]), "minutes": config.minutes,
                  "crop": config.crop, "batch": config.batch, "learning_rate": config.learning_rate,
                  "seed": config.seed, "processing_scale": float(state["processing_scale"]),
                  "init": None if config.init is None else str(config.init), "temporal_radius": _radius(model),
                  "exposure_jitter": float(getattr(config, "exposure_jitter", 0.0))}
    training = {"pairs": pairs_record["pairs"], "validation_frames": pairs_record["validation_frames"],
                "parameters": parameters, "device": state["device"], "duration_s": round(float(state["elapsed_s"]), 1),
                "source": {"pairs_dir": _str(config.pairs_dir), "input": _str(config.input),
                           "target": _str(config.target), "masks": _str(config.masks)}}
    training.update(state.get("card_training", {}))  # the loop's verdicts, e.g. stopped_while_improving
    details = {"architecture": architecture_of(model), "receptive_field": int(model.receptive_field),
               "processing_scale": 1.0 / model.factor, "parameters": sum(p.numel() for p in model.parameters()),
               "confidence": confidence_meaning(str(state["kind"]))}
    if details["architecture"].get("density") == "smooth":
        details["density_band_px"] = band_limit_px(model.factor)  # the card says it without importing torch
    metrics: dict[str, Any] = {"validation": validation, "validation_label": VALIDATION_LABEL}
    structure = held_out_agreement(config, pairs_record)
    if structure is not None:
        metrics["reference_structure_agreement"] = structure
    return build_card(state["kind"], config.colorspace, training, metrics, opset=OPSET, model_details=details)


def verify_with_onnxruntime(graph: nn.Module, model_bytes: bytes, seed: int = 0) -> float:
    """Largest difference between ONNX Runtime and PyTorch over all outputs on a random frame: absolute where
    values lie within ±1, relative to the value beyond. A repair model is checked on what it delivers (see
    :func:`_verification_window` and :func:`_repair_difference`)."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    radius, keyframes = _radius(graph.model), _keyframes(graph.model)
    repair = getattr(graph.model, "kind", "") == contract.REPAIR_KIND
    window = _verification_window(rng, 1 + 2 * radius + keyframes, radius if repair else None)
    frame, neighbours, keyframe_pair = window[:1], window[1:1 + 2 * radius], window[1 + 2 * radius:]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    feeds = {contract.INPUT_NAME: frame, **({contract.NEIGHBOURS_NAME: neighbours} if radius else {}),
             **({contract.KEYFRAMES_NAME: keyframe_pair} if keyframes else {})}
    onnx_outputs = session.run(_output_names(graph.model), feeds)
    with torch.no_grad():
        torch_outputs = [t.numpy() for t in graph(torch.from_numpy(frame),
                                                   torch.from_numpy(neighbours) if radius else None,
                                                   torch.from_numpy(keyframe_pair) if keyframes else None)]
    if repair:
        return _repair_difference(onnx_outputs, torch_outputs)
    # absolute below 1.0, relative above: scene-linear values of 10 carry float32 rounding of about 1e-6 × 10
    return max(float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))
               for a, b in zip(onnx_outputs, torch_outputs, strict=True))


def _verification_window(rng: np.random.Generator, count: int, moving_radius: int | None) -> np.ndarray:
    """`count` frames of VERIFY_SIZE, RGBA, values up to 1.2 (beyond display white): independent noise, or for a
    repair model (`moving_radius`: the centre frame first, then t−R … t+R without it) a smooth random picture moving
    1.7 px right and 0.6 px up per frame. On noise every threshold is a near tie that float rounding may decide
    either way in the two runtimes; on a smooth picture, the decisions are the model's."""
    height, width = VERIFY_SIZE
    if moving_radius is None:
        return (rng.random((count, height, width, 4), dtype=np.float32) * 1.2).astype(np.float32)
    margin = 16
    noise = torch.from_numpy(rng.random((1, 4, height + 2 * margin, width + 2 * margin), dtype=np.float32))
    smooth = torch.nn.functional.avg_pool2d(torch.nn.functional.avg_pool2d(noise, 5, 1, 2), 5, 1, 2)
    smooth = (smooth - smooth.amin()) / (smooth.amax() - smooth.amin()) * 1.2
    times = [0] + [k for k in range(-moving_radius, moving_radius + 1) if k]
    frames = []
    for k in times:
        xs = torch.arange(width, dtype=torch.float32) + margin + 1.7 * k
        ys = torch.arange(height, dtype=torch.float32) + margin - 0.6 * k
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)
        grid = grid / torch.tensor([width + 2 * margin - 1, height + 2 * margin - 1]) * 2.0 - 1.0
        frames.append(torch.nn.functional.grid_sample(smooth, grid[None], mode="bicubic", align_corners=True)[0])
    return torch.stack(frames).permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)


def _repair_difference(onnx_outputs: list[np.ndarray], torch_outputs: list[np.ndarray]) -> float:
    """The largest difference a repair model's two runs make to what it delivers: the matte and the confidence
    everywhere, the repair candidate where either matte exceeds REPAIR_CHECKED_MATTE (elsewhere it reaches the
    picture at no sensitivity below 1 − REPAIR_CHECKED_MATTE, docs/CONTRACT.md §1.8; where float rounding tips a
    near-tie the other way, the two candidates are both fills of undamaged picture)."""
    (restored_a, confidence_a, matte_a), (restored_b, confidence_b, matte_b) = onnx_outputs, torch_outputs
    checked = np.maximum(matte_a, matte_b) > REPAIR_CHECKED_MATTE
    candidate = float(np.max(np.abs(restored_a - restored_b)[checked[..., 0]])) if checked.any() else 0.0
    return max(candidate, float(np.max(np.abs(matte_a - matte_b))), float(np.max(np.abs(confidence_a - confidence_b))))


def _trace(graph: nn.Module) -> Any:
    import onnx

    radius, keyframes = _radius(graph.model), _keyframes(graph.model)
    example: tuple[Any, ...] = (torch.rand(1, 48, 40, 4),)
    names = [contract.INPUT_NAME]
    if radius:
        example += (torch.rand(2 * radius, 48, 40, 4),)
        names.append(contract.NEIGHBOURS_NAME)
    if keyframes:  # by name: the keyframes follow `neighbours` in forward(), which a keyframe model lacks
        example += ({contract.KEYFRAMES_NAME: torch.rand(keyframes, 48, 40, 4)},)
        names.append(contract.KEYFRAMES_NAME)
    dims = {1: "height", 2: "width"}
    outputs = _output_names(graph.model)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic: verified below on another size
        torch.onnx.export(
            graph, example, buffer, dynamo=False, opset_version=OPSET, do_constant_folding=False,
            input_names=names, output_names=outputs, dynamic_axes={name: dims for name in names + outputs})
    proto = onnx.load_from_string(buffer.getvalue())
    proto.ir_version = min(proto.ir_version, contract.MAX_IR_VERSION)
    _pin_output_shapes(proto, 2 * radius)
    return proto


def _radius(model: nn.Module) -> int:
    return int(getattr(model, "temporal_radius", 0))


def _output_names(model: nn.Module) -> list[str]:
    """restored, confidence and, for a repair model, its damage matte (docs/CONTRACT.md §1.8)."""
    matte = [contract.MATTE_NAME] if getattr(model, "kind", "") == contract.REPAIR_KIND else []
    return [contract.OUTPUT_NAME, contract.CONFIDENCE_NAME, *matte]


def _keyframes(model: nn.Module) -> int:
    """How many keyframes the model reads (0: not a keyframe model)."""
    return contract.KEYFRAME_COUNT if getattr(model, "kind", "") == contract.KEYFRAME_KIND else 0


def _pin_output_shapes(proto: Any, neighbours: int) -> None:
    """Name the dynamic dims and fix batch (frames) and channels, as docs/CONTRACT.md §2 states them."""
    channels = {contract.INPUT_NAME: contract.CHANNELS, contract.OUTPUT_NAME: contract.CHANNELS,
                contract.CONFIDENCE_NAME: 1, contract.MATTE_NAME: 1, contract.NEIGHBOURS_NAME: contract.CHANNELS,
                contract.KEYFRAMES_NAME: contract.CHANNELS}
    for value in list(proto.graph.input) + list(proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        for index, dim in enumerate(dims):
            dim.Clear()
            if index == 0:
                dim.dim_value = {contract.NEIGHBOURS_NAME: neighbours,
                                 contract.KEYFRAMES_NAME: contract.KEYFRAME_COUNT}.get(value.name, 1)
            elif index == 3:
                dim.dim_value = channels[value.name]
            else:
                dim.dim_param = "height" if index == 1 else "width"


def _write_atomic(path: Path, payload: bytes) -> None:
    try:
        write_bytes_atomically(path, payload)
    except OSError as exc:
        raise ExportError(f"{path}: could not write the model ({exc}); nothing written. Check free disk space and "
                          "permissions.") from exc


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
