"""`--init MODEL`: start from an earlier model's weights (an exported .onnx, a run folder or a checkpoint)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from chromaluma.errors import ModelFormatError, ParameterError
from chromaluma.train.checkpoint import load_checkpoint, load_latest

# Exported graphs wrap the kind module as `model` (chromaluma.models.ContractGraph).
ONNX_WEIGHT_PREFIX = "model."
log = logging.getLogger(__name__)


@dataclass
class InitialWeights:
    source: Path
    kind: str
    processing_scale: float
    architecture: dict[str, Any]
    state_dict: dict[str, torch.Tensor]

    def check_compatible(self, config: Any, model: nn.Module) -> None:
        if abs(float(config.processing_scale) - self.processing_scale) > 1e-9:
            raise ParameterError(f"--init {self.source} works at processing scale {self.processing_scale}, but "
                                 f"--processing-scale {config.processing_scale} was asked. Leave "
                                 "--processing-scale out to use the model's, or train from scratch.")
        self.state_dict = with_confidence_network(self.state_dict, model, self.source)
        missing = set(model.state_dict()) - set(self.state_dict)
        if missing:
            raise ModelFormatError(f"--init {self.source}: weights {sorted(missing)[:3]} missing; the model was made "
                                   "by another Chromaluma version. Use its run folder as --init, or train afresh.")
        reshaped = layout_mismatch(self.state_dict, model)
        if reshaped:
            raise ModelFormatError(f"--init {self.source}: weight {reshaped} has another shape than this "
                                   "Chromaluma's model of the same kind (made by an earlier version). Train afresh.")


def with_confidence_network(state: dict[str, torch.Tensor], model: nn.Module, source: Path
                            ) -> dict[str, torch.Tensor]:
    """An earlier model's weights in today's layout: models made before the grid kinds had a confidence network of
    their own predicted log_sigma as one more output channel of the colour network (`legacy_log_sigma_channel`).
    That channel is dropped and the confidence network starts afresh (at an expected error of 0.05); the colour
    is the earlier model's exactly. Weights already in today's layout are returned as they are."""
    channel = getattr(model, "legacy_log_sigma_channel", None)
    if channel is None or not predates_confidence_network(state):
        return state
    fresh = model.state_dict()
    upgraded = dict(state)
    for name in ("net.head.weight", "net.head.bias", "net.linear.weight"):
        if name in state and state[name].shape[0] == fresh[name].shape[0] + 1:
            kept = [index for index in range(state[name].shape[0]) if index != channel]
            upgraded[name] = state[name][kept]
    upgraded.update({name: value for name, value in fresh.items() if name.startswith("confidence_net.")})
    log.info("--init %s: made before the confidence network; its colour is kept and its confidence is learnt "
             "afresh", source)
    return upgraded


def predates_confidence_network(state: dict[str, torch.Tensor]) -> bool:
    """Weights of a grid model (a colour network `net`) made before it had a confidence network of its own."""
    return "net.head.weight" in state and not any(name.startswith("confidence_net.") for name in state)


def check_resumable(state: dict[str, torch.Tensor], model: nn.Module, run_dir: Path) -> None:
    """Refuse, in one line, to resume a run whose checkpoint predates the confidence network: its optimizer state
    has no place for the new weights, so the run cannot continue exactly; `--init` carries its colour over."""
    if getattr(model, "legacy_log_sigma_channel", None) is not None and predates_confidence_network(state):
        raise ModelFormatError(f"--resume {run_dir}: this run was made before the confidence network and cannot be "
                               f"continued exactly. Fine-tune it instead: --init {run_dir} with a new --run-dir "
                               "(its colour is kept, its confidence learnt afresh).")
    reshaped = layout_mismatch(state, model)
    if reshaped:
        raise ModelFormatError(f"--resume {run_dir}: the checkpoint's weight {reshaped} does not fit this "
                               "Chromaluma's model of the same kind (the run was made by an earlier version). Start "
                               "a new --run-dir.")


def layout_mismatch(state: dict[str, torch.Tensor], model: nn.Module) -> str | None:
    """The first of the model's weights that `state` lacks or holds in another shape (None: the layouts agree)."""
    for name, value in model.state_dict().items():
        if name not in state or tuple(state[name].shape) != tuple(value.shape):
            return name
    return None


def initial_weights(source: Path, kind: str) -> InitialWeights:
    """Load `source` and refuse a model of another kind with a message naming both kinds and the fix."""
    path = Path(source)
    if path.is_dir():
        weights = _from_checkpoint(path, load_latest(path))
    elif path.suffix == ".onnx":
        weights = _from_onnx(path)
    elif path.is_file():
        weights = _from_checkpoint(path, load_checkpoint(path))
    else:
        raise ParameterError(f"--init {path}: no such model, run folder or checkpoint. Check the path.")
    if weights.kind != kind:
        raise ParameterError(f"--init {path} is a {weights.kind} model, but this run trains a {kind} model. Give "
                             f"--kind {weights.kind} to fine-tune it, or an earlier {kind} model as --init.")
    return weights


def _from_checkpoint(path: Path, state: dict[str, Any]) -> InitialWeights:
    return InitialWeights(path, str(state["kind"]), float(state["processing_scale"]), dict(state["architecture"]),
                          dict(state["model"]))


def _from_onnx(path: Path) -> InitialWeights:
    import onnx
    from onnx import numpy_helper

    from chromaluma.contract import read_model_contract

    contract = read_model_contract(path)
    architecture = contract.card.get("model", {}).get("architecture")
    if architecture is None:
        raise ModelFormatError(f"--init {path}: the model card does not record its architecture (not trained by "
                               "`chromaluma train`?). Use its run folder as --init, or train from scratch.")
    proto = onnx.load(str(path))
    state = {init.name[len(ONNX_WEIGHT_PREFIX):]: torch.from_numpy(numpy_helper.to_array(init).copy())
             for init in proto.graph.initializer if init.name.startswith(ONNX_WEIGHT_PREFIX)}
    return InitialWeights(path, contract.kind, contract.processing_scale, dict(architecture), state)
