"""Mirrored models: the same network run on rows in the order an OFX host stores them (bottom-up), without a copy.

A host frame's rows are stored bottom-up, so the plug-in's top-down view has a negative row stride and the model's
top-down input tensor would have to be copied out of it. Our graphs are built from operations that commute with a
vertical flip once their convolution kernels are flipped along their height: per-pixel colour operations, average
pooling to f×f cells anchored at the top-left (ceil mode), dilated convolutions with symmetric padding, half-pixel
bilinear Resize and a crop back to the input size. For an input height that is a multiple of f the cells tile the
input exactly, so the mirrored model (every Conv and ConvTranspose weight flipped along axis 2 of OIHW) run on the
rows in stored order gives the stored order of the normal model's output, up to float summation order.

That reasoning is checked, never assumed: :func:`build` runs both models on a seeded random frame at two heights and
keeps the mirrored session only if flip(mirrored(flip(x))) equals normal(x) within VERIFY_TOLERANCE and both copy
the input alpha bit-exact (docs/CONTRACT.md §1). Models with operations outside MIRRORABLE_OPS, kernels that are not
constants, or external weights get no mirrored session; process() then copies as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma import contract
from chromaluma.backend.tiling import scale_factor

log = logging.getLogger(__name__)

VERIFY_TOLERANCE = 1e-5
# The check's frames grow with the receptive field squared; past this a model is not mirrored (and its output not
# written straight into dst) rather than making every load allocate and run frames of hundreds of megabytes.
MAX_CHECK_PIXELS = 1 << 22
FLIPPED_KERNELS = ("Conv", "ConvTranspose")
# Operations whose behaviour under a vertical flip we can reason about: per-pixel arithmetic and layout operations
# commute with it; positional ones (pooling, Resize, Slice, Pad, Gather, Reshape) do only for some sizes and
# parameters, which the load-time check decides. Anything else (control flow, random numbers, sorting, running
# sums) means no mirrored session.
MIRRORABLE_OPS = frozenset({
    "Abs", "Add", "And", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Concat", "Constant",
    "ConstantOfShape", "Conv", "ConvTranspose", "Div", "Elu", "Equal", "Erf", "Exp", "Expand", "Flatten", "Floor",
    "Gather", "Gelu", "GlobalAveragePool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "HardSigmoid", "HardSwish",
    "Identity", "InstanceNormalization", "LeakyRelu", "Less", "LessOrEqual", "Log", "MatMul", "Max", "MaxPool",
    "Mean", "Min", "Mul", "Neg", "Not", "Or", "Pad", "Pow", "PRelu", "Reciprocal", "ReduceMax", "ReduceMean",
    "ReduceMin", "ReduceSum", "Relu", "Reshape", "Resize", "Round", "Selu", "Shape", "Sigmoid", "Sign", "Slice",
    "Softplus", "Softsign", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "Transpose", "Unsqueeze", "Where",
})


class NotMirrorable(Exception):
    """Why a model gets no mirrored session (logged at debug level, never shown to the user)."""


@dataclass(frozen=True)
class Mirroring:
    """What the load-time check found for one model on one provider."""

    session: Any | None  # the mirrored onnxruntime.InferenceSession, or None: copy bottom-up frames
    alpha_exact: bool  # the normal session's restored alpha is its input alpha, bit for bit (verified)


def build(path: Path, normal: Any, make_session: Callable[[bytes], Any], processing_scale: float,
          receptive_field: int) -> Mirroring:
    """The verified mirrored session for the model at `path`, whose normal session is `normal`.

    `make_session(model_bytes)` creates a session with the normal one's options and providers. Never raises for a
    model that cannot be mirrored: the answer is then no mirrored session (debug log says why).
    """
    factor = scale_factor(processing_scale)
    heights = _test_heights(receptive_field, factor)
    if heights[1] * _test_width(receptive_field, factor) > MAX_CHECK_PIXELS:
        log.debug("%s: no mirrored session: its receptive field needs check frames over %d pixels", path,
                  MAX_CHECK_PIXELS)
        return Mirroring(None, False)
    frames = [_test_frame(height, receptive_field, factor, seed) for seed, height in enumerate(heights)]
    try:
        expected = [_outputs(normal, frame) for frame in frames]
    except Exception as exc:  # noqa: BLE001 — ORT's own types; this check must never stop a model loading
        log.debug("%s: no mirrored session: the normal one failed on a test frame (%s)", path, exc)
        return Mirroring(None, False)
    pairs = list(zip(frames, expected, strict=True))
    alpha_exact = all(_same_bits(outputs[0][..., 3], frame[..., 3]) for frame, outputs in pairs)
    try:
        if not alpha_exact:
            raise NotMirrorable("the model does not copy alpha bit-exact")
        mirrored = make_session(mirrored_model(path))
        difference = max(_mirror_difference(mirrored, frame, outputs) for frame, outputs in pairs)
    except NotMirrorable as exc:
        log.debug("%s: no mirrored session: %s", path, exc)
        return Mirroring(None, alpha_exact)
    except Exception as exc:  # noqa: BLE001 — onnx or ORT could not build or run the mirrored graph: copy instead
        log.debug("%s: no mirrored session: it could not be built or run (%s)", path, exc)
        return Mirroring(None, alpha_exact)
    if difference > VERIFY_TOLERANCE:
        log.debug("%s: no mirrored session: its flipped result differs by %.3g (tolerance %g)", path, difference,
                  VERIFY_TOLERANCE)
        return Mirroring(None, alpha_exact)
    log.debug("%s: mirrored session verified (largest difference %.3g)", path, difference)
    return Mirroring(mirrored, alpha_exact)


def mirrored_model(path: Path) -> bytes:
    """The model at `path` with every Conv/ConvTranspose kernel flipped along its height, serialised.

    Raises NotMirrorable when the graph holds operations outside MIRRORABLE_OPS, external
    weights, or a kernel that is not a constant used only as a kernel.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    graph = model.graph
    unknown = sorted({node.op_type for node in graph.node
                      if node.op_type not in MIRRORABLE_OPS or node.domain not in ("", "ai.onnx")})
    if unknown:
        raise NotMirrorable(f"operations not known to commute with a vertical flip: {', '.join(unknown)}")
    constants = {tensor.name: tensor for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    for name in _kernel_names(graph):
        tensor = constants.get(name)
        if tensor is None or tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise NotMirrorable(f"kernel {name!r} is not a constant stored in the model")
        kernel = numpy_helper.to_array(tensor)
        if kernel.ndim != 4:
            raise NotMirrorable(f"kernel {name!r} has rank {kernel.ndim}, not 4 (OIHW)")
        tensor.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(kernel[:, :, ::-1]), tensor.name))
    return model.SerializeToString()


def _kernel_names(graph: Any) -> set[str]:
    """Names of the tensors consumed as Conv/ConvTranspose weights; each must be used only as a kernel."""
    kernels = {node.input[1] for node in graph.node if node.op_type in FLIPPED_KERNELS and len(node.input) > 1}
    for node in graph.node:
        for slot, name in enumerate(node.input):
            if name in kernels and not (node.op_type in FLIPPED_KERNELS and slot == 1):
                raise NotMirrorable(f"kernel {name!r} is also an input of {node.op_type} {node.name!r}")
    if kernels & {output.name for output in graph.output}:
        raise NotMirrorable("a kernel is also a graph output")
    return kernels


def _test_heights(receptive_field: int, factor: int) -> tuple[int, int]:
    """Two heights, multiples of f: 8·f·k ≥ 2·receptive_field + f (many factors of two), and one cell more."""
    step = 8 * factor
    first = step * max(1, -(-(2 * receptive_field + factor) // step))
    return first, first + factor


def _test_frame(height: int, receptive_field: int, factor: int, seed: int) -> np.ndarray:
    """Seeded random straight RGBA [1, H, W, 4]; alpha in (0, 1] with some exact ones."""
    rng = np.random.default_rng(seed)
    frame = rng.random((1, height, _test_width(receptive_field, factor), 4), dtype=np.float32)
    frame[..., 3] = 1.0 - frame[..., 3]
    frame[:, ::5, :, 3] = 1.0
    return frame


def _test_width(receptive_field: int, factor: int) -> int:
    return 2 * receptive_field + 2 * factor + 3  # not a multiple of f: partial cells at the right edge


def _outputs(session: Any, frame: np.ndarray) -> list[np.ndarray]:
    names = [output.name for output in session.get_outputs()]
    return session.run(names, {contract.INPUT_NAME: frame})


def _mirror_difference(mirrored: Any, frame: np.ndarray, expected: list[np.ndarray]) -> float:
    """Largest |flip(mirrored(flip(frame))) − normal(frame)| over all outputs (inf if alpha is not copied)."""
    flipped = np.ascontiguousarray(frame[:, ::-1])
    got = _outputs(mirrored, flipped)
    if len(got) != len(expected) or not _same_bits(got[0][..., 3], flipped[..., 3]):
        return float("inf")
    differences = [float(np.max(np.abs(mine[:, ::-1] - theirs), initial=0.0)) if mine.shape == theirs.shape
                   else float("inf") for mine, theirs in zip(got, expected, strict=True)]
    return max(differences) if all(np.isfinite(differences)) else float("inf")


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a.view(np.uint32), b.view(np.uint32)))
