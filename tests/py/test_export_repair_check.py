"""The export check of a repair model (chromaluma.export): a moving picture to measure motion on, and the
difference counted where it reaches the picture — while a real disagreement still refuses the export."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from chromaluma import contract, export
from chromaluma.models import ContractGraph, build_model


def test_the_repair_check_window_is_one_picture_moving():
    window = export._verification_window(np.random.default_rng(0), 5, 2)
    assert window.shape == (5, *export.VERIFY_SIZE, 4) and window.dtype == np.float32
    assert 0.0 <= float(window.min()) and float(window.max()) <= 1.2 + 1e-6
    frame, later = window[0], window[4]  # the centre, then t+2 (order: centre, t−2, t−1, t+1, t+2)

    def mismatch(dy: int, dx: int) -> float:  # later(x, y) against frame(x + dx, y + dy)
        height, width = frame.shape[:2]
        return float(np.abs(later[8:-8, 8:-8] - frame[8 + dy:height - 8 + dy, 8 + dx:width - 8 + dx]).mean())

    # two frames on, the picture has moved 3.4 px right and 1.2 px up: the nearest whole shift matches best
    shifts = {(dy, dx): mismatch(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)}
    assert min(shifts, key=shifts.__getitem__) == (-1, 3)
    assert shifts[(-1, 3)] < 0.5 * shifts[(0, 0)]
    assert export._verification_window(np.random.default_rng(0), 3, None).std() > 0.3  # others: noise


def _outputs(candidate: float, matte: float, confidence: float = 0.5) -> list[np.ndarray]:
    shape = (1, 4, 4, 1)
    return [np.full((1, 4, 4, 4), candidate, np.float32), np.full(shape, confidence, np.float32),
            np.full(shape, matte, np.float32)]


def test_the_repair_difference_counts_what_reaches_the_picture():
    # a candidate nowhere near the matte never reaches the picture; under the matte it does
    assert export._repair_difference(_outputs(0.3, 0.01), _outputs(0.5, 0.01)) == 0.0
    assert export._repair_difference(_outputs(0.3, 0.6), _outputs(0.5, 0.6)) == pytest.approx(0.2)
    # the matte and the confidence count everywhere
    assert export._repair_difference(_outputs(0.3, 0.01), _outputs(0.3, 0.03)) == pytest.approx(0.02)
    assert export._repair_difference(_outputs(0.3, 0.0, 0.4), _outputs(0.3, 0.0, 0.9)) == pytest.approx(0.5)


def test_a_repair_model_exports_and_a_broken_graph_is_refused():
    torch.manual_seed(0)
    model = build_model("repair", 0.25, {"width": 8, "dilations": [1, 2], "temporal_radius": 1}).eval()
    graph = ContractGraph(model)
    proto = export._trace(graph)
    assert export.verify_with_onnxruntime(graph, proto.SerializeToString()) <= export.TOLERANCE
    with torch.no_grad():
        model.spike_log_threshold.fill_(-2.0)  # ONNX Runtime now runs a graph whose matte PyTorch no longer has
    assert export.verify_with_onnxruntime(ContractGraph(model), proto.SerializeToString()) > 10 * export.TOLERANCE


def test_the_exported_repair_graph_averages_windows_with_convolutions():
    # ONNX Runtime computes a stride-1 AveragePool several times slower than a depthwise Conv: the export holds the
    # box means as convolutions (only pooling by whole cells remains an AveragePool), and still matches PyTorch's
    # average pools, which train faster
    torch.manual_seed(0)
    model = build_model("repair", 0.25, {"width": 8, "dilations": [1, 2], "temporal_radius": 1}).eval()
    graph = ContractGraph(model)
    proto = export._trace(graph)
    pools = [node for node in proto.graph.node if node.op_type == "AveragePool"]
    strides = [next(list(a.ints) for a in node.attribute if a.name == "strides") for node in pools]
    kernels = [next(list(a.ints) for a in node.attribute if a.name == "kernel_shape") for node in pools]
    assert pools and all(stride == kernel for stride, kernel in zip(strides, kernels, strict=True))
    depthwise = [node for node in proto.graph.node if node.op_type == "Conv"
                 and any(a.name == "group" and a.i > 1 for a in node.attribute)]
    assert len(depthwise) >= 10
    assert export.verify_with_onnxruntime(graph, proto.SerializeToString()) <= export.TOLERANCE


def test_the_exported_repair_graph_takes_window_maxima_one_axis_at_a_time_and_never_indexes_the_neighbours():
    # ONNX Runtime compares every pixel of a 2-D MaxPool window (5×5 at 2K: 37 ms, two 1-D passes 9 ms) and copies a
    # plane indexed out of the interleaved neighbours slowly (Gather on their channel axis, or on the planes): the
    # export takes stride-1 maxima one axis at a time and the neighbours' luma and alpha from one convolution
    torch.manual_seed(0)
    model = build_model("repair", 0.25, {"width": 8, "dilations": [1, 2], "temporal_radius": 2}).eval()
    graph = ContractGraph(model)
    proto = export._trace(graph)

    def ints(node: onnx.NodeProto, name: str) -> list[int]:
        return next((list(a.ints) for a in node.attribute if a.name == name), [])

    sliding = [node for node in proto.graph.node if node.op_type == "MaxPool" and ints(node, "strides") == [1, 1]]
    assert sliding and all(1 in ints(node, "kernel_shape") for node in sliding)
    # the neighbours input and what the nodes reading it first make of it (the old graph: a MatMul, or the input)
    near = {contract.NEIGHBOURS_NAME} | {output for node in proto.graph.node if contract.NEIGHBOURS_NAME in node.input
                                         for output in node.output}
    gathers = [node.name for node in proto.graph.node if node.op_type == "Gather" and near & set(node.input)]
    assert not gathers
    assert export.verify_with_onnxruntime(graph, proto.SerializeToString()) <= export.TOLERANCE
