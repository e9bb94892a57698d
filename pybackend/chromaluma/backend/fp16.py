"""Convert a Chromaluma model's image data path to float16, keeping float32 inputs and outputs.

Rule (see :mod:`chromaluma.backend.precision` for why), walking the nodes in their (topological) order:

- a node computes in float16 when it reads a float16 tensor, or when it is a heavy op (:data:`HALF_ENTRY_OPS`,
  convolutions and matrix products) reading float data; its float outputs become float16, its other float inputs
  are converted (constants and initializers get a float16 copy, computed tensors a Cast) and a `Cast(to=FLOAT)`
  in it becomes `Cast(to=FLOAT16)`;
- a node stays float32 (its float16 inputs cast back) when float16 would spoil its result: ops that magnify
  rounding or overflow (:data:`FLOAT32_OPS`), and everything a cancelling op (:data:`CANCELLING_OPS`: a square
  root of a local variance E[x²] − E[x]², a division by a computed value) is computed from;
- nodes that read no float16 tensor — shape arithmetic — are left as they are, and so are the inputs an operator
  requires in float32 (:data:`FLOAT32_INPUTS`).

The graph inputs get a Cast to float16 and float16 graph outputs a Cast back, so the model's interface is the
contract's float32 one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnx.helper as oh
from onnx import TensorProto, numpy_helper

from chromaluma.errors import ModelFormatError

FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16
# input positions an operator needs in float32 whatever its data type (ONNX operator docs)
FLOAT32_INPUTS: dict[str, frozenset[int]] = {"Resize": frozenset({1, 2}), "Upsample": frozenset({1})}
# ops computed in float32 even on the data path: their results magnify float16's rounding (a normalisation's
# variance and its square root, exponentials of log-sigma, divisions by small numbers, reductions over a frame)
FLOAT32_OPS = frozenset({"Div", "Sqrt", "Exp", "Log", "Pow", "Reciprocal", "Softmax", "LogSoftmax", "ReduceMean",
                         "ReduceSum", "ReduceSumSquare", "ReduceL2", "ReduceLogSumExp", "Erf"})
# ops whose result is only as good as their inputs' relative precision: a square root of a local variance
# (E[x²] − E[x]², which cancels), a division by a computed value. Everything they are computed from stays float32
# too, back to the model's inputs; a division by a constant is only a scale and does not count.
# Nodes that read a float16 tensor compute in float16 (see HALF_ENTRY_OPS for where float16 starts).
CANCELLING_OPS = frozenset({"Sqrt", "Pow", "Log", "Reciprocal", "Div", "ReduceL2", "ReduceSumSquare"})
# the heavy ops, where float16 pays: they compute in float16 even when their input arrives in float32 (after a
# stretch kept in float32), so a model's body is converted wherever it starts
HALF_ENTRY_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})
# ops whose output type is set by an attribute, not by the inputs
_TYPE_ATTRIBUTE = {"Cast": "to"}
_HALF_SUFFIX = "__fp16"
_FLOAT_SUFFIX = "__fp32"


def _float_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every named value, from ONNX shape inference plus inputs, outputs and initializers."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    types: dict[str, int] = {}
    graph = inferred.graph
    for value in [*graph.value_info, *graph.input, *graph.output]:
        if value.type.HasField("tensor_type"):
            types[value.name] = value.type.tensor_type.elem_type
    for tensor in graph.initializer:
        types[tensor.name] = tensor.data_type
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    types[node.output[0]] = attribute.t.data_type
    return types


class _Converter:
    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.graph = model.graph
        self.types = _float_types(model)
        self.half: set[str] = set()  # values computed in float16
        self.copies: dict[str, str] = {}  # float32 value -> its float16 twin
        self.initializers = {tensor.name: tensor for tensor in self.graph.initializer}
        self.constants = {node.output[0]: node for node in self.graph.node if node.op_type == "Constant"}
        self.nodes: list[onnx.NodeProto] = []
        self.floats: set[str] = set()  # float32 Casts of float16 values, made once each
        self.input_twins: set[str] = set()  # float graph inputs: read through their float16 Cast
        self.sources = self._sources_of_cancelling_ops()

    def _sources_of_cancelling_ops(self) -> set[tuple[str, ...]]:
        """The nodes a cancelling op's inputs are computed from, the ops included (keyed by their outputs:
        protobuf wrappers have no stable identity)."""
        producer = {name: node for node in self.graph.node for name in node.output}
        stack = [node for node in self.graph.node if node.op_type in CANCELLING_OPS and not (
            node.op_type == "Div" and len(node.input) > 1 and self._constant(node.input[1]))]
        found: set[tuple[str, ...]] = set()
        while stack:
            node = stack.pop()
            if tuple(node.output) in found:
                continue
            found.add(tuple(node.output))
            stack += [producer[name] for name in node.input if name in producer and self.types.get(name) == FLOAT
                      and not self._constant(name)]
        return found

    def _constant(self, name: str) -> bool:
        return name in self.initializers or name in self.constants

    def run(self) -> onnx.ModelProto:
        self._cast_inputs()
        for node in self.graph.node:
            if node.op_type != "Constant":
                self._visit(node)
            else:
                self.nodes.append(node)
        self._cast_outputs()
        del self.graph.node[:]
        self.graph.node.extend(_topological(_used(self.nodes, self.graph), self.graph))
        _drop_unused_initializers(self.graph)
        del self.graph.value_info[:]  # stale float32 annotations; ORT infers the types itself
        return self.model

    def _cast_inputs(self) -> None:
        for value in self.graph.input:
            if self.types.get(value.name) == FLOAT:
                twin = value.name + _HALF_SUFFIX
                self.nodes.append(oh.make_node("Cast", [value.name], [twin], to=HALF, name=twin))
                self.copies[value.name] = twin
                self.input_twins.add(value.name)
                self.half.add(twin)

    def _visit(self, node: onnx.NodeProto) -> None:
        reads_half = any(self._is_half(name) for name in node.input if name)
        enters_half = node.op_type in HALF_ENTRY_OPS and self.types.get(node.input[0]) == FLOAT
        if not (reads_half or enters_half):
            self.nodes.append(node)
            return
        if node.op_type in FLOAT32_OPS or tuple(node.output) in self.sources:
            node.input[:] = [self._float_of(name) if self._is_half(name) else name for name in node.input]
            self.nodes.append(node)
            return
        keep = FLOAT32_INPUTS.get(node.op_type, frozenset())
        for index, name in enumerate(node.input):
            if not name or index in keep or self.types.get(name) != FLOAT or name in self.half:
                continue
            node.input[index] = self._half_of(name)
        if node.op_type in _TYPE_ATTRIBUTE:
            for attribute in node.attribute:
                if attribute.name == _TYPE_ATTRIBUTE[node.op_type] and attribute.i == FLOAT:
                    attribute.i = HALF
        for name in node.output:
            if self.types.get(name) == FLOAT:
                self.half.add(name)
        self.nodes.append(node)

    def _is_half(self, name: str) -> bool:
        return name in self.half or name in self.input_twins

    def _float_of(self, name: str) -> str:
        """The float32 value behind float16 value `name`: a graph input itself, else a Cast back."""
        if name in self.input_twins:
            return name
        twin = name + _FLOAT_SUFFIX
        if twin not in self.floats:
            self.nodes.append(oh.make_node("Cast", [name], [twin], to=FLOAT, name=twin))
            self.floats.add(twin)
        return twin

    def _half_of(self, name: str) -> str:
        """A float16 twin of float32 value `name`: a converted copy of a constant, else a Cast."""
        if name in self.copies:
            return self.copies[name]
        twin = name + _HALF_SUFFIX
        if name in self.initializers:
            values = numpy_helper.to_array(self.initializers[name]).astype(np.float16)
            self.graph.initializer.append(numpy_helper.from_array(values, twin))
        elif name in self.constants:
            tensor = next(a.t for a in self.constants[name].attribute if a.name == "value")
            values = numpy_helper.to_array(tensor).astype(np.float16)
            self.nodes.append(oh.make_node("Constant", [], [twin], value=numpy_helper.from_array(values, twin)))
        else:
            self.nodes.append(oh.make_node("Cast", [name], [twin], to=HALF, name=twin))
        self.copies[name] = twin
        self.half.add(twin)
        return twin

    def _cast_outputs(self) -> None:
        for value in self.graph.output:
            if value.name not in self.half:
                continue
            inner = value.name + _HALF_SUFFIX + "_out"
            for node in self.nodes:  # the producer now writes `inner`; its readers inside the graph follow
                node.output[:] = [inner if name == value.name else name for name in node.output]
                node.input[:] = [inner if name == value.name else name for name in node.input]
            self.nodes.append(oh.make_node("Cast", [inner], [value.name], to=FLOAT, name=value.name + _FLOAT_SUFFIX))


def _used(nodes: list[onnx.NodeProto], graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """`nodes` without the Constants nobody reads any more (their values were replaced by float16 twins)."""
    read = {name for node in nodes for name in node.input} | {value.name for value in graph.output}
    return [node for node in nodes if node.op_type != "Constant" or any(name in read for name in node.output)]


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    read = {name for node in graph.node for name in node.input} | {value.name for value in graph.output}
    kept = [tensor for tensor in graph.initializer if tensor.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def _topological(nodes: list[onnx.NodeProto], graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """`nodes` in an order where every input is produced before it is read (added Casts and constants were
    appended out of place)."""
    ready = {value.name for value in graph.input} | {tensor.name for tensor in graph.initializer} | {""}
    pending = list(nodes)
    ordered: list[onnx.NodeProto] = []
    while pending:
        rest = [node for node in pending if not all(name in ready for name in node.input)]
        placed = [node for node in pending if all(name in ready for name in node.input)]
        if not placed:
            raise ModelFormatError(f"fp16 conversion: unresolved inputs {sorted(set(rest[0].input) - ready)}")
        for node in placed:
            ordered.append(node)
            ready.update(node.output)
        pending = rest
    return ordered


def convert_to_half(payload: bytes) -> bytes:
    """The fp16 version of the serialized fp32 model `payload`, metadata unchanged, float32 I/O unchanged."""
    model = onnx.load_from_string(payload)
    if any(node.op_type in ("If", "Loop", "Scan") for node in model.graph.node):
        raise ModelFormatError("fp16 conversion: models with subgraphs (If/Loop/Scan) are not converted; "
                               "use --precision fp32.")
    converted = _Converter(model).run()
    onnx.checker.check_model(converted)
    return converted.SerializeToString()


def half_summary(payload: bytes) -> dict[str, Any]:
    """How much of a converted model computes in float16 (for reports): node counts by type of output."""
    model = onnx.load_from_string(payload)
    casts = sum(1 for node in model.graph.node if node.op_type == "Cast")
    halves = sum(1 for tensor in model.graph.initializer if tensor.data_type == HALF)
    return {"nodes": len(model.graph.node), "casts": casts, "half_initializers": halves}
