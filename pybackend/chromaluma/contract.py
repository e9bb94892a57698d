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

FORMAT_VERSION = 1  # single-frame models
TEMPORAL_FORMAT_VERSION = 2  # format 1 plus the `neighbours` input of a temporal-window model (docs/CONTRACT.md §2)
KEYFRAME_FORMAT_VERSION = 3  # format 1 plus the `keyframes` input of a keyframe model (docs/CONTRACT.md §1.7, §2)
REPAIR_FORMAT_VERSION = 4  # format 2 plus the `matte` output of a damage-repair model (docs/CONTRACT.md §1.8, §2)
# format 4 whose neighbours the backend moves onto the frame before the model reads them (alpha: evidence, §1.8)
COMPENSATED_REPAIR_FORMAT_VERSION = 5
REPAIR_FORMAT_VERSIONS = frozenset({REPAIR_FORMAT_VERSION, COMPENSATED_REPAIR_FORMAT_VERSION})
# format 3 whose keyframes the backend moves onto the frame along optical flow (alpha: evidence, §1.7)
CARRIED_KEYFRAME_FORMAT_VERSION = 6
KEYFRAME_FORMAT_VERSIONS = frozenset({KEYFRAME_FORMAT_VERSION, CARRIED_KEYFRAME_FORMAT_VERSION})
SUPPORTED_FORMAT_VERSIONS = frozenset({FORMAT_VERSION, TEMPORAL_FORMAT_VERSION, *KEYFRAME_FORMAT_VERSIONS,
                                       *REPAIR_FORMAT_VERSIONS})

INPUT_NAME = "image"
NEIGHBOURS_NAME = "neighbours"
KEYFRAMES_NAME = "keyframes"
KEYFRAME_KIND = "keyframes"
REPAIR_KIND = "repair"
# A keyframe model reads the nearest painted keyframe at or before the frame and the nearest at or after it.
KEYFRAME_COUNT = 2
# A window reaches at most this many frames each side of the frame it restores (a damaged value must be refused,
# not fetched from a host: the plug-in asks the host for every frame of the window).
MAX_WINDOW_SIDE = 16
OUTPUT_NAME = "restored"
CONFIDENCE_NAME = "confidence"
# A repair model's probability (0–1) that a pixel is damage; only format-4 (repair) models have it (§1.8).
MATTE_NAME = "matte"
# Exporters write at most this ONNX IR version: newer `onnx` packages default to IRs that the ONNX Runtime
# builds hosts ship with cannot load yet.
MAX_IR_VERSION = 10
# What "luma" means wherever Chromaluma separates it from chroma: Rec.709 weights on the encoded RGB values.
# A chroma model's output has exactly the input's luma under these weights; a luma model keeps B−Y and R−Y.
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)
CHANNELS = 4  # RGBA, straight (unpremultiplied) colour; see docs/CONTRACT.md

METADATA_PREFIX = "chromaluma."
KINDS = ("chroma", "luma", "pairs", KEYFRAME_KIND, REPAIR_KIND)
# The choice strings of the pixel contract (§1.4), defined once for Python: training, `apply`, `process()`.
DEVICES = ("auto", "gpu", "cpu")
OUTPUT_MODES = ("restored", "confidence", "difference", "matte")
CUT_RULES = ("auto", "none")  # `chromaluma apply --cuts`: a window stops at the cuts found, or the input is one shot
# Bounds on what a model may declare: tiles, render windows and the load-time mirror check are sized from these, so
# a damaged value must be refused, not allocated (f = round(1 / processing_scale), docs/CONTRACT.md §3).
MAX_SCALE_FACTOR = 256
MAX_RECEPTIVE_FIELD = 4096
CARD_REQUIRED_KEYS = ("kind", "created", "software", "training", "metrics")
_CARD_SECTIONS = (("software", dict), ("training", dict), ("metrics", dict), ("model", dict),
                  ("training.parameters", dict), ("training.pairs", list), ("metrics.validation", dict),
                  ("model.architecture", dict), ("chain", list))
# The card key holding :func:`graph_sha256` of the graph it was exported with (docs/CONTRACT.md §4). Copying a
# card (all of `chromaluma.*`) onto another graph does not make that graph ours: loading checks this hash.
CARD_GRAPH_HASH = "graph_sha256"
# First bytes of files that get renamed .onnx by mistake, for an error that says what the file is.
_FOREIGN_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
                       (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"), (b"v/1\x01", "an OpenEXR image"),
                       (b"PK\x03\x04", "a zip archive"), (b"\x80\x02", "a Python pickle (PyTorch checkpoint?)"),
                       (b"{", "a JSON file (the model card? the model is the .onnx beside it)"))

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
    has_matte: bool = False  # a `matte` output (repair models, format 4, and only they)
    graph_checked: bool = False  # the card carries graph_sha256 and the graph matched it (False: legacy card)

    @property
    def compensated_neighbours(self) -> bool:
        """Whether the backend moves the neighbours onto the frame before the model reads them (format 5, §1.8)."""
        return self.format_version == COMPENSATED_REPAIR_FORMAT_VERSION

    @property
    def moved_keyframes(self) -> bool:
        """Whether the backend moves the keyframes onto the frame before the model reads them (format 6, §1.7)."""
        return self.format_version == CARRIED_KEYFRAME_FORMAT_VERSION


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
    if len(missing) == len(REQUIRED_KEYS):
        raise ModelFormatError(
            f"{source}: an ONNX model, but not a Chromaluma model (no chromaluma.* metadata). "
            "Export models with `chromaluma export` or `chromaluma train`."
        )
    if missing:
        raise ModelFormatError(
            f"{source}: Chromaluma metadata incomplete ({', '.join(missing)} missing): the file is damaged, "
            "truncated or was edited. Re-copy it, or re-export it with `chromaluma export`."
        )
    version = _int_value(props, _KEY_FORMAT_VERSION, source)
    if version not in SUPPORTED_FORMAT_VERSIONS:
        known = ", ".join(str(v) for v in sorted(SUPPORTED_FORMAT_VERSIONS))
        advice = ("it was made by a newer Chromaluma: upgrade Chromaluma to use it" if version > max(
            SUPPORTED_FORMAT_VERSIONS) else "re-export it with `chromaluma export` from this version")
        raise ModelFormatError(
            f"{source}: model format_version {version} is not one this Chromaluma reads ({known}); {advice}."
        )
    kind = props[_KEY_KIND]
    if kind not in KINDS:
        raise ModelFormatError(f"{source}: unknown model kind {kind!r}; expected one of {', '.join(KINDS)}.")
    try:
        card = json.loads(props[_KEY_CARD])
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        raise ModelFormatError(f"{source}: model card is not valid JSON ({exc}). Re-export the model.") from exc
    _check_card(card, f"{source}: model card")
    try:
        scale = float(props[_KEY_PROCESSING_SCALE])
    except ValueError as exc:
        raise ModelFormatError(f"{source}: {_KEY_PROCESSING_SCALE} is not a number. Re-export the model.") from exc
    if not 1.0 / MAX_SCALE_FACTOR <= scale <= 1.0:
        raise ModelFormatError(f"{source}: {_KEY_PROCESSING_SCALE}={scale} must lie in [1/{MAX_SCALE_FACTOR}, 1]: "
                               "the metadata is damaged; re-export the model.")
    receptive_field = _int_value(props, _KEY_RECEPTIVE_FIELD, source)
    if not 0 <= receptive_field <= MAX_RECEPTIVE_FIELD:
        raise ModelFormatError(f"{source}: {_KEY_RECEPTIVE_FIELD}={receptive_field} must lie in "
                               f"[0, {MAX_RECEPTIVE_FIELD}]: the metadata is damaged; re-export the model.")
    before, after = (_window_side(props, key, version, source) for key in (_KEY_FRAMES_BEFORE, _KEY_FRAMES_AFTER))
    _check_kind_format(kind, version, before + after, source)
    return ModelContract(
        kind=kind,
        receptive_field=receptive_field,
        processing_scale=scale,
        colorspace=props[_KEY_COLORSPACE],
        frames_before=before,
        frames_after=after,
        card=card,
        format_version=version,
    )


def format_version_for(frames_before: int, frames_after: int, kind: str = "", moved_keyframes: bool = True) -> int:
    """The format a model of this kind and window is written in: format 1 for a single frame, so such models stay
    readable by every Chromaluma that reads format 1; format 6 for a keyframe model that reads its keyframes moved
    onto the frame (`moved_keyframes`), format 3 for one that reads them as registered (both have the `keyframes`
    input); format 5 for a repair model (the `matte` output, and neighbours the backend moves onto the frame; format 4
    models, which moved them themselves, are still read)."""
    if kind == KEYFRAME_KIND:
        return CARRIED_KEYFRAME_FORMAT_VERSION if moved_keyframes else KEYFRAME_FORMAT_VERSION
    if kind == REPAIR_KIND:
        return COMPENSATED_REPAIR_FORMAT_VERSION
    return TEMPORAL_FORMAT_VERSION if frames_before or frames_after else FORMAT_VERSION


def _check_kind_format(kind: str, version: int, neighbours: int, source: str) -> None:
    """Formats 3 and 6 are exactly the keyframe kind, and it sees one scan frame (no temporal window); formats 4 and
    5 are exactly the repair kind."""
    for special, versions, what in ((KEYFRAME_KIND, KEYFRAME_FORMAT_VERSIONS, "keyframe"),
                                    (REPAIR_KIND, REPAIR_FORMAT_VERSIONS, "repair")):
        if (kind == special) != (version in versions):
            formats = " or ".join(str(v) for v in sorted(versions))
            raise ModelFormatError(f"{source}: kind {kind!r} with format_version {version}, but {what} models and "
                                   f"only they are format {formats}: the metadata is damaged; re-export the model.")
    if kind == KEYFRAME_KIND and neighbours:
        raise ModelFormatError(f"{source}: a keyframe model with a temporal window ({neighbours} neighbour frames): "
                               "the metadata is damaged; re-export the model.")


def _window_side(props: Mapping[str, str], key: str, version: int, source: str) -> int:
    frames = _int_value(props, key, source)
    if not 0 <= frames <= MAX_WINDOW_SIDE:
        raise ModelFormatError(f"{source}: {key}={frames} must lie in [0, {MAX_WINDOW_SIDE}]: the metadata is "
                               "damaged; re-export the model.")
    if frames and version < TEMPORAL_FORMAT_VERSION:
        raise ModelFormatError(f"{source}: {key}={frames}, but format_version {version} models see one frame: the "
                               "metadata is damaged; re-export the model.")
    return frames


def check_io(inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec], source: str, neighbours: int = 0,
             keyframes: bool = False, matte: bool = False) -> bool:
    """Check graph inputs/outputs against the contract for a model whose window holds `neighbours` frames besides
    the one it restores (and, for a keyframe model, the `keyframes` input last; for a repair model, the `matte`
    output, which no other model may have); return whether a `confidence` output exists."""
    expected = [INPUT_NAME] + ([NEIGHBOURS_NAME] if neighbours else []) + ([KEYFRAMES_NAME] if keyframes else [])
    if [spec.name for spec in inputs] != expected:
        names = ", ".join(spec.name for spec in inputs) or "none"
        wanted = " and ".join(repr(name) for name in expected)
        declared = f"{neighbours} neighbour frame(s)" + (f", {KEYFRAME_COUNT} keyframes" if keyframes else "")
        raise ModelFormatError(
            f"{source}: expected the input(s) {wanted} (what its metadata declares: {declared}), found {names}. "
            "Not a Chromaluma model, or its metadata was edited."
        )
    _check_image_spec(inputs[0], CHANNELS, source)
    if neighbours:
        _check_image_spec(inputs[1], CHANNELS, source, frames=neighbours)
    if keyframes:
        _check_image_spec(inputs[-1], CHANNELS, source, frames=KEYFRAME_COUNT)
    by_name = {spec.name: spec for spec in outputs}
    if OUTPUT_NAME not in by_name:
        raise ModelFormatError(f"{source}: output {OUTPUT_NAME!r} missing. Not a Chromaluma model.")
    _check_image_spec(by_name[OUTPUT_NAME], CHANNELS, source)
    _check_matte(by_name, source, matte)
    extra = set(by_name) - {OUTPUT_NAME, CONFIDENCE_NAME, MATTE_NAME}
    if extra:
        allowed = (f"{OUTPUT_NAME!r}, {CONFIDENCE_NAME!r} and {MATTE_NAME!r}" if matte
                   else f"{OUTPUT_NAME!r} and {CONFIDENCE_NAME!r}")
        raise ModelFormatError(f"{source}: unexpected outputs {sorted(extra)}; the contract allows only {allowed}.")
    if CONFIDENCE_NAME in by_name:
        _check_image_spec(by_name[CONFIDENCE_NAME], 1, source)
        return True
    return False


def _check_matte(outputs: Mapping[str, TensorSpec], source: str, expected: bool) -> None:
    """A repair model (format 4 or 5) has the `matte` output [1, H, W, 1]; no other model may have it (§1.8, §2)."""
    if expected and MATTE_NAME not in outputs:
        raise ModelFormatError(f"{source}: a {REPAIR_KIND} model without the {MATTE_NAME!r} output: the file is "
                               "damaged or was edited; re-export the model.")
    if not expected and MATTE_NAME in outputs:
        raise ModelFormatError(f"{source}: a {MATTE_NAME!r} output, but only {REPAIR_KIND} models (format_version 4 "
                               "or 5) have one: the metadata is damaged; re-export the model.")
    if expected:
        _check_image_spec(outputs[MATTE_NAME], 1, source)


def read_model_contract(path: str | Path) -> ModelContract:
    """Load an ONNX file's contract (metadata + I/O) without running it; raises on anything off-contract."""
    return contract_of_bytes(read_model_file(path), str(path))


def read_model_file(path: str | Path) -> bytes:
    """The bytes of a model file; ModelNotFoundError naming it when it is missing or unreadable."""
    model_path = Path(path)
    if not model_path.is_file():
        raise ModelNotFoundError(f"{model_path}: model file not found. Check the path (modelFile / --model).")
    try:
        return model_path.read_bytes()
    except OSError as exc:
        raise ModelNotFoundError(f"{model_path}: cannot read the model ({exc.strerror}). Check permissions.") from exc


def contract_of_bytes(payload: bytes, source: str) -> ModelContract:
    """The contract of a model file's bytes (`source` names it in errors): refuses empty files, files of another
    kind and files that are not readable ONNX before looking at the metadata."""
    import onnx  # deferred: onnx is heavy and the plug-in path only needs it here

    if not payload:
        raise ModelFormatError(f"{source}: the model file is empty (0 bytes): an interrupted copy or export. "
                               "Re-copy it, or re-export it with `chromaluma export`.")
    for signature, what in _FOREIGN_SIGNATURES:
        if payload.startswith(signature):
            raise ModelFormatError(f"{source}: not an ONNX model: it is {what}. Give the .onnx model file "
                                   "(modelFile / --model).")
    try:
        model = onnx.load_from_string(payload)
    except Exception as exc:  # onnx raises DecodeError, ...: all mean "not a readable ONNX file"
        raise ModelFormatError(f"{source}: not a readable ONNX file ({len(payload)} bytes; {exc}): damaged or "
                               "truncated. Re-copy it, or re-export it with `chromaluma export`.") from exc
    return contract_of_proto(model, source)


def contract_of_proto(model: Any, source: str) -> ModelContract:
    """The contract of an in-memory `onnx.ModelProto`, validated, its graph checked against the card's hash."""
    props = {entry.key: entry.value for entry in model.metadata_props}
    contract = parse_metadata(props, source)
    has_matte = contract.kind == REPAIR_KIND
    has_confidence = check_io(_specs(model.graph.input), _specs(model.graph.output), source,
                              contract.frames_before + contract.frames_after, contract.kind == KEYFRAME_KIND,
                              matte=has_matte)
    recorded = contract.card.get(CARD_GRAPH_HASH)
    if recorded is not None and recorded != graph_sha256(model):
        raise ModelFormatError(f"{source}: its graph does not match the hash in its card: not the model the card "
                               "describes; re-export it with `chromaluma export`.")
    return ModelContract(**{**contract.__dict__, "has_confidence": has_confidence, "has_matte": has_matte,
                            "graph_checked": recorded is not None})


def graph_sha256(model: Any) -> str:
    """SHA-256 of what computes a model's output: its graph (nodes, initializers, inputs, outputs), opset imports
    and local functions, each in protobuf's deterministic serialisation. The metadata (card included), producer
    and doc strings outside the graph are not part of it, so the card can record it and keep its own edits."""
    digest = hashlib.sha256()
    parts = [model.graph, *sorted(model.opset_import, key=lambda o: (o.domain, o.version)), *model.functions]
    for part in parts:
        payload = part.SerializeToString(deterministic=True)
        digest.update(len(payload).to_bytes(8, "little"))  # length-prefixed: parts cannot run into each other
        digest.update(payload)
    return digest.hexdigest()


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


def _check_image_spec(spec: TensorSpec, channels: int, source: str, frames: int = 1) -> None:
    expected = f"float32 [{frames},H,W,{channels}]"
    if spec.elem_type != "float32" or len(spec.shape) != 4:
        raise ModelFormatError(f"{source}: {spec.name!r} is {spec.elem_type} {list(spec.shape)}, expected {expected}.")
    batch, height, width, chans = spec.shape
    if batch not in (frames, None) and not isinstance(batch, str):
        raise ModelFormatError(f"{source}: {spec.name!r} batch dimension is {batch}, expected {frames} ({expected}).")
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
    for entry, kind in _CARD_SECTIONS:  # what card readers (summaries, `info`) walk into must be what they expect
        parent, _, key = entry.rpartition(".")
        section = card.get(parent) if parent else card
        if isinstance(section, dict) and key in section and not isinstance(section[key], kind):
            expected = "object" if kind is dict else "array"
            found = json.dumps(section[key])[:40]
            raise ModelFormatError(f"{source} entry {entry!r} is {found}, expected a JSON {expected}: the card is "
                                   "damaged; re-export the model.")
