"""The model half of docs/CONTRACT.md, as code: I/O names, shapes and the `chromaluma.*` metadata keys.

Export writes models through :func:`metadata_props`; the inference backend and `chromaluma info` read them
through :func:`read_model_contract`. Nothing else in the code base spells a metadata key or an I/O name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chromaluma.errors import ModelFormatError, ModelNotFoundError

FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = frozenset({1})

INPUT_NAME = "image"
OUTPUT_NAME = "restored"
CONFIDENCE_NAME = "confidence"
# Exporters write at most this ONNX IR version: newer `onnx` packages default to IRs that the ONNX Runtime
# builds hosts ship with cannot load yet.
MAX_IR_VERSION = 10
# What "luma" means wherever Chromaluma separates it from chroma: Rec.709 weights on the encoded RGB values.
# A chroma model's output has exactly the input's luma under these weights; a luma model keeps B−Y and R−Y.
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)
CHANNELS = 4  # RGBA, straight (unpremultiplied) colour; see docs/CONTRACT.md

METADATA_PREFIX = "chromaluma."
KINDS = ("chroma", "luma", "pairs")
CARD_REQUIRED_KEYS = ("kind", "created", "software", "training", "metrics")

_KEY_KIND = METADATA_PREFIX + "kind"
_KEY_FORMAT_VERSION = METADATA_PREFIX + "format_version"
_KEY_RECEPTIVE_FIELD = METADATA_PREFIX + "receptive_field"
_KEY_PROCESSING_SCALE = METADATA_PREFIX + "processing_scale"
_KEY_COLORSPACE = METADATA_PREFIX + "colorspace"
_KEY_FRAMES_BEFORE = METADATA_PREFIX + "frames_before"
_KEY_FRAMES_AFTER = METADATA_PREFIX + "frames_after"
_KEY_CARD = METADATA_PREFIX + "card"
REQUIRED_KEYS = (
    _KEY_KIND,
    _KEY_FORMAT_VERSION,
    _KEY_RECEPTIVE_FIELD,
    _KEY_PROCESSING_SCALE,
    _KEY_COLORSPACE,
    _KEY_FRAMES_BEFORE,
    _KEY_FRAMES_AFTER,
    _KEY_CARD,
)


@dataclass(frozen=True)
class ModelContract:
    """What a Chromaluma model declares about itself in its ONNX `metadata_props`."""

    kind: str
    receptive_field: int
    processing_scale: float
    colorspace: str
    frames_before: int = 0
    frames_after: int = 0
    card: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    has_confidence: bool = False


@dataclass(frozen=True)
class TensorSpec:
    """Name, element type and shape of one graph input or output (dims are ints, names or None)."""

    name: str
    elem_type: str  # "float32", ...
    shape: tuple[int | str | None, ...]


def metadata_props(contract: ModelContract) -> dict[str, str]:
    """The `metadata_props` entries (all strings) that export writes into the ONNX file."""
    _check_card(contract.card, "model card")
    return {
        _KEY_KIND: contract.kind,
        _KEY_FORMAT_VERSION: str(contract.format_version),
        _KEY_RECEPTIVE_FIELD: str(int(contract.receptive_field)),
        _KEY_PROCESSING_SCALE: repr(float(contract.processing_scale)),
        _KEY_COLORSPACE: contract.colorspace,
        _KEY_FRAMES_BEFORE: str(int(contract.frames_before)),
        _KEY_FRAMES_AFTER: str(int(contract.frames_after)),
        _KEY_CARD: json.dumps(contract.card, sort_keys=True),
    }


def parse_metadata(props: Mapping[str, str], source: str) -> ModelContract:
    """Validate `chromaluma.*` metadata and return it typed; `source` names the file in error messages."""
    missing = [key for key in REQUIRED_KEYS if key not in props]
    if missing:
        raise ModelFormatError(
            f"{source}: not a Chromaluma model (metadata {', '.join(missing)} missing). "
            "Export models with `chromaluma export` or `chromaluma train`."
        )
    version = _int_value(props, _KEY_FORMAT_VERSION, source)
    if version not in SUPPORTED_FORMAT_VERSIONS:
        known = ", ".join(str(v) for v in sorted(SUPPORTED_FORMAT_VERSIONS))
        raise ModelFormatError(
            f"{source}: model format_version {version} is not one this Chromaluma knows ({known}). "
            "Upgrade Chromaluma, or re-export the model with this version."
        )
    kind = props[_KEY_KIND]
    if kind not in KINDS:
        raise ModelFormatError(f"{source}: unknown model kind {kind!r}; expected one of {', '.join(KINDS)}.")
    try:
        card = json.loads(props[_KEY_CARD])
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{source}: model card is not valid JSON ({exc}). Re-export the model.") from exc
    _check_card(card, f"{source}: model card")
    try:
        scale = float(props[_KEY_PROCESSING_SCALE])
    except ValueError as exc:
        raise ModelFormatError(f"{source}: {_KEY_PROCESSING_SCALE} is not a number. Re-export the model.") from exc
    if not 0.0 < scale <= 1.0:
        raise ModelFormatError(f"{source}: {_KEY_PROCESSING_SCALE}={scale} must lie in (0, 1].")
    return ModelContract(
        kind=kind,
        receptive_field=_int_value(props, _KEY_RECEPTIVE_FIELD, source),
        processing_scale=scale,
        colorspace=props[_KEY_COLORSPACE],
        frames_before=_int_value(props, _KEY_FRAMES_BEFORE, source),
        frames_after=_int_value(props, _KEY_FRAMES_AFTER, source),
        card=card,
        format_version=version,
    )


def check_io(inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec], source: str) -> bool:
    """Check graph inputs/outputs against the contract; return whether a `confidence` output exists."""
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        names = ", ".join(spec.name for spec in inputs) or "none"
        raise ModelFormatError(
            f"{source}: expected exactly one input named {INPUT_NAME!r}, found {names}. Not a Chromaluma model."
        )
    _check_image_spec(inputs[0], CHANNELS, source)
    by_name = {spec.name: spec for spec in outputs}
    if OUTPUT_NAME not in by_name:
        raise ModelFormatError(f"{source}: output {OUTPUT_NAME!r} missing. Not a Chromaluma model.")
    _check_image_spec(by_name[OUTPUT_NAME], CHANNELS, source)
    extra = set(by_name) - {OUTPUT_NAME, CONFIDENCE_NAME}
    if extra:
        raise ModelFormatError(f"{source}: unexpected outputs {sorted(extra)}; the contract allows only "
                               f"{OUTPUT_NAME!r} and {CONFIDENCE_NAME!r}.")
    if CONFIDENCE_NAME in by_name:
        _check_image_spec(by_name[CONFIDENCE_NAME], 1, source)
        return True
    return False


def read_model_contract(path: str | Path) -> ModelContract:
    """Load an ONNX file's contract (metadata + I/O) without running it; raises on anything off-contract."""
    import onnx  # deferred: onnx is heavy and the plug-in path only needs it here

    model_path = Path(path)
    if not model_path.is_file():
        raise ModelNotFoundError(f"{model_path}: model file not found. Check the path (modelFile / --model).")
    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError, ...: all mean "not a readable ONNX file"
        raise ModelFormatError(f"{model_path}: not a readable ONNX file ({exc}). Re-export or re-copy it.") from exc
    return contract_of_proto(model, str(model_path))


def contract_of_proto(model: Any, source: str) -> ModelContract:
    """The contract of an in-memory `onnx.ModelProto`, validated."""
    props = {entry.key: entry.value for entry in model.metadata_props}
    contract = parse_metadata(props, source)
    has_confidence = check_io(_specs(model.graph.input), _specs(model.graph.output), source)
    return ModelContract(**{**contract.__dict__, "has_confidence": has_confidence})


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Content hash used for model identity (session cache, render logs) and training manifests."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _specs(values: Any) -> list[TensorSpec]:
    from onnx import TensorProto

    specs = []
    for value in values:
        tensor_type = value.type.tensor_type
        dims = tuple(
            dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None) for dim in tensor_type.shape.dim
        )
        elem = "float32" if tensor_type.elem_type == TensorProto.FLOAT else TensorProto.DataType.Name(
            tensor_type.elem_type).lower()
        specs.append(TensorSpec(value.name, elem, dims))
    return specs


def _check_image_spec(spec: TensorSpec, channels: int, source: str) -> None:
    expected = f"float32 [1,H,W,{channels}]"
    if spec.elem_type != "float32" or len(spec.shape) != 4:
        raise ModelFormatError(f"{source}: {spec.name!r} is {spec.elem_type} {list(spec.shape)}, expected {expected}.")
    batch, height, width, chans = spec.shape
    if batch not in (1, None) and not isinstance(batch, str):
        raise ModelFormatError(f"{source}: {spec.name!r} batch dimension is {batch}, expected 1 ({expected}).")
    if chans != channels:
        raise ModelFormatError(f"{source}: {spec.name!r} has {chans} channels, expected {expected}.")
    for dim_name, dim in (("height", height), ("width", width)):
        if isinstance(dim, int) and dim > 0:
            raise ModelFormatError(f"{source}: {spec.name!r} {dim_name} is fixed at {dim}; Chromaluma models take "
                                   "any frame size (dynamic H, W). Re-export with dynamic axes.")


def _int_value(props: Mapping[str, str], key: str, source: str) -> int:
    try:
        return int(props[key])
    except ValueError as exc:
        raise ModelFormatError(f"{source}: metadata {key}={props[key]!r} is not an integer. Re-export the model.") \
            from exc


def _check_card(card: Any, source: str) -> None:
    if not isinstance(card, dict):
        raise ModelFormatError(f"{source} must be a JSON object.")
    missing = [key for key in CARD_REQUIRED_KEYS if key not in card]
    if missing:
        raise ModelFormatError(f"{source} lacks {', '.join(missing)}; see docs/CONTRACT.md (model card).")
