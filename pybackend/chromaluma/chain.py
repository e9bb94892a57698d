"""Model chains: one ONNX graph that applies models A, B, … in turn (docs/CONTRACT.md §6).

A restorer's two-stage recovery (a first model trained on the least damaged areas, a second one for the full frame
fed with the first one's result) renders as one effect: `chromaluma chain A.onnx B.onnx --out AB.onnx` writes a
normal single-frame Chromaluma model that `apply`, `info` and the plug-in load unchanged.

- Each part's graph is copied with its names prefixed (`part1/`, `part2/`, …); A's `restored` feeds B's `image`
  straight (unpremultiplied RGBA in the shared colorspace, alpha copied by each part, so the chain copies it too).
- Receptive field: an output pixel of B depends on A's output within rf(B), each of which depends on the scan within
  rf(A): the chain's is rf(A) + rf(B) (both counted in input pixels; no part changes the frame size).
- Processing grid: f = lcm(f_A, f_B) (f = round(1 / processing_scale)): a tile or host window whose top-left lies on
  a multiple of it lies on both parts' grids, so tiles equal a whole-frame render.
- Confidence: the lowest of the parts' confidences at each pixel (a chain is only as sure as its least sure stage);
  parts without a confidence output make no claim and are left out; no output when none has one.
- Refused with one line: a temporal-window model (its window's edge rule would be applied to the chain's frames,
  not to each part's result), keyframe and repair models (extra inputs or outputs the chain cannot pass on),
  differing colorspaces or ONNX opsets, and a combined receptive field or grid beyond the contract's limits.

The chain is verified before it is written: ONNX Runtime runs it and the parts one after the other on a random frame
of a size no grid divides; a difference beyond TOLERANCE writes nothing. The file and its card (`NAME.json`) are
written atomically.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma import __version__, contract
from chromaluma.card import VALIDATION_LABEL
from chromaluma.errors import ChromalumaError
from chromaluma.io.atomic import describe_os_error, replace_atomically

log = logging.getLogger(__name__)

TOLERANCE = 1e-5  # largest chain-vs-parts difference accepted at write time (float summation order only)
VERIFY_SIZE = (67, 101)  # H, W of the check frame: odd, not a multiple of any processing grid
CONFIDENCE_MEANING = ("the lowest of its parts' confidences at each pixel (a chain is only as sure as its least "
                      "sure stage; parts without a confidence output are left out)")
_CHAINABLE_KINDS = ("chroma", "luma", "pairs")


class ChainError(ChromalumaError):
    """The models cannot be chained, or the chain could not be written (nothing written)."""


@dataclass(frozen=True)
class ChainPart:
    """One model of a chain, as read from its file."""

    path: Path
    contract: contract.ModelContract
    proto: Any  # onnx.ModelProto
    sha256: str

    @property
    def factor(self) -> int:
        return max(1, round(1.0 / self.contract.processing_scale))


def chain_models(paths: Sequence[str | Path], out: str | Path) -> Path:
    """Write the chain of the models at `paths` (applied first to last) to `out`; verified, atomic."""
    out = Path(out)
    if len(paths) < 2:
        raise ChainError(f"chromaluma chain: give at least two models to chain (got {len(paths)}): "
                         "chromaluma chain A.onnx B.onnx --out AB.onnx")
    if out.suffix != ".onnx":
        raise ChainError(f"--out {out}: the chained model's name must end in .onnx (its card is written beside it "
                         "as .json)")
    for path in paths:
        if Path(path).resolve() == out.resolve():
            raise ChainError(f"--out {out} is one of the models being chained; choose another name for the chain")
    parts = [read_part(Path(path)) for path in paths]
    check_chainable(parts)
    proto = chained_graph(parts)
    card = chain_card(parts, contract.graph_sha256(proto))
    meta = contract.ModelContract(kind=chain_kind(parts), receptive_field=card["model"]["receptive_field"],
                                  processing_scale=1.0 / chain_factor(parts), colorspace=parts[0].contract.colorspace,
                                  card=card)
    for key, value in contract.metadata_props(meta).items():
        proto.metadata_props.add(key=key, value=value)
    _check_graph(proto, out)
    payload = proto.SerializeToString()
    difference = verify_chain(parts, payload)
    if not difference <= TOLERANCE:
        raise ChainError(f"{out}: the chained graph differs from running its parts in turn by {difference:.3g} "
                         f"(> {TOLERANCE}) on a {VERIFY_SIZE[1]}×{VERIFY_SIZE[0]} frame; nothing written. Report it "
                         "with the models.")
    _write(out, payload, json.dumps(card, indent=2, sort_keys=True).encode())
    log.info("wrote %s: %s (receptive field %d px, processing grid %d px)", out,
             " → ".join(p.path.name for p in parts), meta.receptive_field, chain_factor(parts))
    return out


def read_part(path: Path) -> ChainPart:
    """A model file, validated as any model is on load (contract, graph hash), with its parsed graph."""
    import onnx

    payload = contract.read_model_file(path)
    model_contract = contract.contract_of_bytes(payload, str(path))
    return ChainPart(path, model_contract, onnx.load_from_string(payload), hashlib.sha256(payload).hexdigest())


def check_chainable(parts: Sequence[ChainPart]) -> None:
    """Refuse, in one line naming the model, what a single-frame chain cannot reproduce."""
    for part in parts:
        model = part.contract
        if model.kind not in _CHAINABLE_KINDS:
            why = ("it reads two painted keyframes (an extra input the chain cannot pass on)"
                   if model.kind == contract.KEYFRAME_KIND else
                   "its damage matte decides where its repair applies (an extra output the chain cannot pass on)")
            raise ChainError(f"{part.path}: a {model.kind} model cannot be chained: {why}; render it on its own "
                             "before or after the chain")
        if model.frames_before or model.frames_after:
            raise ChainError(f"{part.path}: a temporal-window model (frames {model.frames_before} before, "
                             f"{model.frames_after} after) cannot be chained: the next model would need its result at "
                             "every frame of its window; render it on its own before or after the chain")
    first = parts[0]
    for part in parts[1:]:
        if part.contract.colorspace != first.contract.colorspace:
            raise ChainError(f"{part.path}: colorspace {part.contract.colorspace!r}, but {first.path} works in "
                             f"{first.contract.colorspace!r}: a chain feeds one model's result to the next "
                             "unconverted; chain models trained in the same colorspace")
    _opset_imports(parts)
    receptive_field = sum(p.contract.receptive_field for p in parts)
    if receptive_field > contract.MAX_RECEPTIVE_FIELD:
        raise ChainError(f"{', '.join(str(p.path) for p in parts)}: the chain's receptive field {receptive_field} px "
                         f"exceeds the contract's {contract.MAX_RECEPTIVE_FIELD}; chain fewer models")
    if chain_factor(parts) > contract.MAX_SCALE_FACTOR:
        raise ChainError(f"{', '.join(str(p.path) for p in parts)}: the chain's processing grid "
                         f"{chain_factor(parts)} px (lcm of the parts' grids) exceeds the contract's "
                         f"{contract.MAX_SCALE_FACTOR}; chain models with compatible processing scales")


def chain_factor(parts: Sequence[ChainPart]) -> int:
    """The chain's processing grid f: the coarsest alignment every part needs (lcm of their grids)."""
    return math.lcm(*(p.factor for p in parts))


def chain_kind(parts: Sequence[ChainPart]) -> str:
    """The parts' kind when they share one and each keeps that kind's promise through the chain (chroma models keep
    the scan's luma, luma models its chroma); `pairs` (general RGB → RGB) otherwise, e.g. chroma then luma, or a
    chroma model that corrects density."""
    kinds = {p.contract.kind for p in parts}
    smooth = any(((p.contract.card.get("model") or {}).get("architecture") or {}).get("density") == "smooth"
                 for p in parts)
    return kinds.pop() if len(kinds) == 1 and not smooth else "pairs"


def chained_graph(parts: Sequence[ChainPart]) -> Any:
    """One ONNX model: the parts' graphs with prefixed names, each part's `restored` fed to the next one's `image`,
    `confidence` the minimum of the parts' confidences. No metadata yet."""
    import onnx
    import onnx.helper as oh
    from onnx import TensorProto
    from onnx.compose import add_prefix

    nodes, initializers, sparse, value_info, functions, confidences = [], [], [], [], [], []
    feed = contract.INPUT_NAME
    for index, part in enumerate(parts, start=1):
        prefix = f"part{index}/"
        prefixed = add_prefix(part.proto, prefix)
        graph = prefixed.graph
        functions += list(prefixed.functions)
        nodes.append(oh.make_node("Identity", [feed], [prefix + contract.INPUT_NAME], name=f"{prefix}feed"))
        nodes += list(graph.node)
        initializers += list(graph.initializer)
        sparse += list(graph.sparse_initializer)
        value_info += list(graph.value_info)
        feed = prefix + contract.OUTPUT_NAME
        if part.contract.has_confidence:
            confidences.append(prefix + contract.CONFIDENCE_NAME)
    nodes.append(oh.make_node("Identity", [feed], [contract.OUTPUT_NAME], name="chain/restored"))
    outputs = [oh.make_tensor_value_info(contract.OUTPUT_NAME, TensorProto.FLOAT, [1, "H", "W", contract.CHANNELS])]
    if confidences:
        nodes.append(oh.make_node("Min" if len(confidences) > 1 else "Identity", confidences,
                                  [contract.CONFIDENCE_NAME], name="chain/confidence"))
        outputs.append(oh.make_tensor_value_info(contract.CONFIDENCE_NAME, TensorProto.FLOAT, [1, "H", "W", 1]))
    inputs = [oh.make_tensor_value_info(contract.INPUT_NAME, TensorProto.FLOAT, [1, "H", "W", contract.CHANNELS])]
    graph = oh.make_graph(nodes, "chromaluma_chain", inputs, outputs, initializer=initializers,
                          sparse_initializer=sparse, value_info=value_info)
    model = oh.make_model(graph, opset_imports=_opset_imports(parts), functions=functions,
                          producer_name="chromaluma chain", producer_version=__version__)
    model.ir_version = min(max(p.proto.ir_version for p in parts), contract.MAX_IR_VERSION)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ChainError(f"{', '.join(str(p.path) for p in parts)}: onnx.checker rejects the chained graph "
                         f"({' '.join(str(exc).split())}); "
                         "nothing written. Report it with the models.") from exc
    return model


def chain_card(parts: Sequence[ChainPart], graph_hash: str) -> dict[str, Any]:
    """The chain's card (docs/CONTRACT.md §4, §6): the keys every card has, with `chain` nesting each part's card
    and the SHA-256 of its file, in the order they are applied."""
    import onnx
    import onnxruntime

    first = parts[0].contract
    return {
        "kind": chain_kind(parts),
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "chromaluma_version": __version__,
        "colorspace": first.colorspace,
        "software": {"python": platform.python_version(), "onnx": onnx.__version__,
                     "onnxruntime": onnxruntime.__version__, "numpy": np.__version__},
        "training": {"pairs": [], "parameters": {}, "chained_from": [p.path.name for p in parts]},
        "metrics": {"validation": {}, "validation_label": VALIDATION_LABEL},
        "model": {"receptive_field": sum(p.contract.receptive_field for p in parts),
                  "processing_scale": 1.0 / chain_factor(parts), "confidence": CONFIDENCE_MEANING},
        "chain": [{"file": p.path.name, "sha256": p.sha256, "kind": p.contract.kind,
                   "receptive_field": p.contract.receptive_field, "processing_scale": p.contract.processing_scale,
                   "has_confidence": p.contract.has_confidence, "card": p.contract.card} for p in parts],
        "opset": _opset_imports(parts)[0].version,
        contract.CARD_GRAPH_HASH: graph_hash,
    }


def verify_chain(parts: Sequence[ChainPart], payload: bytes, seed: int = 0) -> float:
    """Largest difference between the chained graph and its parts run one after the other (ONNX Runtime, CPU) on a
    random frame with values past 1.0 and a varying alpha: absolute within ±1, relative beyond."""
    rng = np.random.default_rng(seed)
    frame = (rng.random((1, *VERIFY_SIZE, contract.CHANNELS), dtype=np.float32) * 1.2).astype(np.float32)
    expected, confidences = frame, []
    for part in parts:
        outputs = dict(zip(_output_names(part), _session(part.proto.SerializeToString()).run(
            _output_names(part), {contract.INPUT_NAME: expected}), strict=True))
        expected = outputs[contract.OUTPUT_NAME]
        if contract.CONFIDENCE_NAME in outputs:
            confidences.append(outputs[contract.CONFIDENCE_NAME])
    chain = _session(payload)
    names = [output.name for output in chain.get_outputs()]
    got = dict(zip(names, chain.run(names, {contract.INPUT_NAME: frame}), strict=True))
    pairs = [(got[contract.OUTPUT_NAME], expected)]
    if confidences:
        pairs.append((got[contract.CONFIDENCE_NAME], np.minimum.reduce(confidences)))
    return max(float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))) for a, b in pairs)


def _session(payload: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(payload, options, providers=["CPUExecutionProvider"])


def _output_names(part: ChainPart) -> list[str]:
    return [contract.OUTPUT_NAME] + ([contract.CONFIDENCE_NAME] if part.contract.has_confidence else [])


def _opset_imports(parts: Sequence[ChainPart]) -> list[Any]:
    """The parts' opset imports merged by domain (the default domain first); a domain imported at two versions is
    refused: an operator may mean different things in them."""
    import onnx.helper as oh

    versions: dict[str, tuple[int, Path]] = {}
    for part in parts:
        for opset in part.proto.opset_import:
            domain = "" if opset.domain == "ai.onnx" else opset.domain
            seen = versions.setdefault(domain, (opset.version, part.path))
            if seen[0] != opset.version:
                name = f"ONNX opset {domain!r}" if domain else "ONNX opset"
                raise ChainError(f"{part.path}: {name} {opset.version}, but {seen[1]} uses {seen[0]}: re-export one "
                                 "of them with the other's Chromaluma so both use the same opset")
    ordered = sorted(versions.items(), key=lambda item: (item[0] != "", item[0]))
    return [oh.make_opsetid(domain, version) for domain, (version, _) in ordered]


def _check_graph(proto: Any, out: Path) -> None:
    """The chained model passes the contract exactly as a render will load it (I/O, metadata, graph hash)."""
    try:
        contract.contract_of_proto(proto, str(out))
    except ChromalumaError as exc:
        raise ChainError(f"{out}: the chained model breaks the model contract ({exc}); nothing written. Report it "
                         "with the models.") from exc


def _write(out: Path, payload: bytes, card: bytes) -> None:
    """Model then card, each to a hidden temp name, read back and checked, then renamed."""

    def writer(content: bytes) -> Any:
        def write(tmp: Path) -> None:
            tmp.write_bytes(content)
            if tmp.read_bytes() != content:
                raise OSError(f"{tmp}: read back differs from what was written")
        return write

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(out, writer(payload))
        replace_atomically(out.with_suffix(".json"), writer(card))
    except OSError as exc:
        raise ChainError(f"--out {out}: cannot write the chained model ({describe_os_error(exc)}); check the folder "
                         "exists and is writable, and the disk has room") from exc
