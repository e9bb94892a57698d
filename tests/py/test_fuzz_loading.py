"""Fuzzing model loading and frame reading: damaged files must be refused with a ChromalumaError, never crash.

A valid tiny model (model_fixtures.pointwise_model) and small frames written by OpenImageIO (PNG, TIFF, EXR, DPX,
JPEG) are damaged the ways files get damaged: cut short, bytes flipped, header fields overwritten, zero length,
the wrong extension, and for models metadata values and card entries of the wrong type or absurd size. Each
damaged file goes to a worker process that loads it the way `process` and `apply` do (then renders a small frame
with it) or reads it with `read_frame`; the worker runs under a memory limit, so a native crash, an endless
allocation or a hang fails the test with the case that caused it instead of killing pytest.

Allowed outcomes: the file loads (and renders) or reads as a valid frame; or a ChromalumaError subclass that names
the problem (ModelFormatError/ModelNotFoundError for models, InferenceError for a model that loads but cannot
run, FrameReadError for frames). Anything else, the catch-all "failed unexpectedly" included, is a finding.

CI runs a fixed, derandomized subset; set CHROMALUMA_FUZZ_EXAMPLES to run thousands of cases locally.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chromaluma import contract
from model_fixtures import pointwise_model

EXAMPLES = int(os.environ.get("CHROMALUMA_FUZZ_EXAMPLES", "0"))
CASE_SECONDS = 60  # one case (load + render, or read) on a busy 2-core machine; more means a hang
WORKER_MEMORY = 4 << 30  # address-space limit of the worker: an absurd allocation fails there, not here
MODEL_REFUSALS = {"ModelFormatError", "ModelNotFoundError", "InferenceError"}
FRAME_REFUSALS = {"FrameReadError"}
RESULT = "fuzz-result "


class Damaged:
    """A damaged file's bytes and how it was damaged (its repr, so a failing case reads in one line)."""

    def __init__(self, data: bytes, what: str, extension: str = "onnx") -> None:
        self.data, self.what, self.extension = data, what, extension

    def __repr__(self) -> str:
        return f"Damaged({self.what}, .{self.extension}, {len(self.data)} bytes, head {self.data[:24]!r})"

WORKER = r"""
import json, resource, sys, traceback
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
import numpy as np
from chromaluma import api
from chromaluma.backend import session
from chromaluma.errors import ChromalumaError
from chromaluma.io.frames import read_frame

def load_and_render(path):
    api.process(None, None, {"model": path})
    src = np.random.default_rng(0).random((5, 7, 4), dtype=np.float32)
    dst = np.zeros((5, 7, 4), np.uint16)
    api.process(src, dst, {"model": path, "premultiplied": False})
    return {"shape": list(dst.shape)}

def read(path):
    pixels, frame_format = read_frame(path)
    assert pixels.dtype == np.float32 and pixels.ndim == 3, (pixels.dtype, pixels.shape)
    assert pixels.shape[2] == frame_format.channels and min(pixels.shape) >= 1, (pixels.shape, frame_format)
    return {"shape": list(pixels.shape)}

for line in sys.stdin:
    case = json.loads(line)
    try:
        result = {"outcome": "ok", **(load_and_render if case["kind"] == "model" else read)(case["path"])}
    except ChromalumaError as exc:
        result = {"outcome": "refused", "type": type(exc).__name__, "message": str(exc)}
    except BaseException as exc:
        result = {"outcome": "foreign", "type": type(exc).__name__, "message": traceback.format_exc()[-1500:]}
    session.clear_cache()
    sys.stdout.write("%s%s\n" % (sys.argv[2], json.dumps(result)))
    sys.stdout.flush()
"""


class Worker:
    """A long-lived loader process: one damaged file per request, restarted after a crash or a hang."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()

    def _start(self) -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-c", WORKER, str(WORKER_MEMORY), RESULT], text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._lines = queue.Queue()
        lines = self._lines

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)  # the worker has exited

        threading.Thread(target=pump, daemon=True).start()
        return process

    def run(self, kind: str, path: Path) -> dict[str, Any]:
        if self._process is None or self._process.poll() is not None:
            self._process = self._start()
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"kind": kind, "path": str(path)}) + "\n")
        self._process.stdin.flush()
        while True:
            try:
                line = self._lines.get(timeout=CASE_SECONDS)
            except queue.Empty:
                self.close()
                return {"outcome": "hang", "message": f"no answer within {CASE_SECONDS} s"}
            if line is None:
                code = self._process.wait()
                self._process = None
                return {"outcome": "crash", "message": f"worker exited with status {code}"}
            if line.startswith(RESULT):  # C libraries may print on stdout too: only our lines count
                return json.loads(line[len(RESULT):])

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


@pytest.fixture(scope="module")
def worker() -> Any:
    loader = Worker()
    yield loader
    loader.close()


def _settings(examples: int) -> settings:
    return settings(max_examples=EXAMPLES or examples, deadline=None, derandomize=not EXAMPLES, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


def _check(result: dict[str, Any], refusals: set[str], case: str) -> None:
    assert result["outcome"] in ("ok", "refused"), f"{case}: {result['outcome']}: {result.get('message')}"
    if result["outcome"] == "refused":
        assert result["type"] in refusals, f"{case}: refused with {result['type']}: {result['message']}"
        assert "\n" not in result["message"].strip(), f"{case}: not a one-line message: {result['message']!r}"


# --- models -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return pointwise_model(tmp_path_factory.mktemp("fuzz_model") / "valid.onnx").read_bytes()


ABSURD_TEXT = ("", "-1", "0", "1", "-0", "0.0", "1e9", "9" * 40, "-" + "9" * 40, "nan", "inf", "-inf", "1e-300",
               "5e-324", "0.00390625", "0.003", "4096", "4097", "2147483648", "0x10", " 3", "3.0", "1_000", "\x00",
               "é", "chroma", "null", "[]", "{}")
json_values = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                       max_size=3), max_leaves=8)


def _metadata_edit(draw: st.DrawFn, model: onnx.ModelProto) -> str:
    props = {entry.key: entry.value for entry in model.metadata_props}
    key = draw(st.sampled_from(contract.REQUIRED_KEYS))
    choice = draw(st.sampled_from(("drop", "text", "absurd", "card field", "card", "deep card")))
    card = json.loads(props[contract.REQUIRED_KEYS[-1]])
    if choice == "drop":
        del props[key]
    elif choice == "text":
        props[key] = draw(st.text(max_size=12))
    elif choice == "absurd":
        props[key] = draw(st.sampled_from(ABSURD_TEXT))
    elif choice == "card field":
        field = draw(st.sampled_from(("kind", "training", "metrics", "software", "created", "model", "colorspace")))
        card[field] = draw(json_values)
        if draw(st.booleans()):
            card.setdefault("training", {})
            if isinstance(card["training"], dict):
                card["training"]["parameters"] = draw(json_values)
        props[contract.REQUIRED_KEYS[-1]] = json.dumps(card)
    elif choice == "card":
        props[contract.REQUIRED_KEYS[-1]] = json.dumps(draw(json_values))
    else:  # nesting deeper than the JSON parser recurses
        depth = draw(st.sampled_from((10, 1000, 100_000)))
        props[contract.REQUIRED_KEYS[-1]] = '{"kind": ' + "[" * depth + "]" * depth + "}"
    del model.metadata_props[:]
    for name, value in props.items():
        model.metadata_props.add(key=name, value=value)
    return f"metadata {choice} {key}"


def _graph_edit(draw: st.DrawFn, model: onnx.ModelProto) -> str:
    graph = model.graph
    choice = draw(st.sampled_from(("drop node", "fixed dims", "elem type", "rename", "drop output")))
    if choice == "drop node":
        del graph.node[draw(st.integers(0, len(graph.node) - 1))]
    elif choice == "fixed dims":
        value = draw(st.sampled_from((*graph.input, *graph.output)))
        for dim in value.type.tensor_type.shape.dim:
            dim.dim_value = draw(st.sampled_from((1, 3, 4, 5, 7, 2**31)))
    elif choice == "elem type":
        value = draw(st.sampled_from((*graph.input, *graph.output)))
        value.type.tensor_type.elem_type = draw(st.sampled_from((onnx.TensorProto.DOUBLE, onnx.TensorProto.INT64,
                                                                 onnx.TensorProto.FLOAT16)))
    elif choice == "rename":
        value = draw(st.sampled_from((*graph.input, *graph.output)))
        value.name = draw(st.sampled_from(("image", "restored", "confidence", "x", "")))
    else:
        del graph.output[draw(st.integers(0, len(graph.output) - 1))]
    return f"graph {choice}"


def _flip(draw: st.DrawFn, data: bytearray) -> list[tuple[int, int]]:
    """XOR 1–8 bytes of `data` in place; returns (offset, bits) of each."""
    flips = [(draw(st.integers(0, len(data) - 1)), draw(st.integers(1, 255))) for _ in range(draw(st.integers(1, 8)))]
    for at, bits in flips:
        data[at] ^= bits
    return flips


@st.composite
def damaged_models(draw: st.DrawFn, valid: bytes) -> Damaged:
    how = draw(st.sampled_from(("truncate", "flip", "metadata", "metadata", "graph")))
    if how == "truncate":
        length = draw(st.integers(0, len(valid) - 1))
        return Damaged(valid[:length], f"truncated to {length} bytes")
    if how == "flip":
        data = bytearray(valid)
        return Damaged(bytes(data), f"bytes flipped {_flip(draw, data)}")
    model = onnx.load_from_string(valid)
    what = _metadata_edit(draw, model) if how == "metadata" else _graph_edit(draw, model)
    return Damaged(model.SerializeToString(), what)


def test_fuzz_model_loading(worker, model_bytes, tmp_path):
    """Damaged models: load (and render a 7×5 frame) or a ModelFormatError/InferenceError, never a crash."""
    counter = iter(range(10**9))

    @_settings(150)
    @given(damaged=damaged_models(model_bytes))
    def load(damaged: Damaged) -> None:
        path = tmp_path / f"damaged-{next(counter)}.onnx"
        path.write_bytes(damaged.data)
        try:
            _check(worker.run("model", path), MODEL_REFUSALS, damaged.what)
        finally:
            path.unlink()

    load()


# --- frames -------------------------------------------------------------------------------------------------------

FRAME_KINDS = (("png", "uint8", 4), ("png", "uint16", 3), ("tif", "uint8", 3), ("tif", "uint16", 4),
               ("tif", "float", 1), ("exr", "half", 4), ("exr", "float", 3), ("dpx", "uint10", 3), ("jpg", "uint8", 3))


@pytest.fixture(scope="module")
def frame_files(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    """Small valid frames written by OpenImageIO itself (not by the code under test)."""
    import OpenImageIO as oiio

    folder = tmp_path_factory.mktemp("fuzz_frames")
    rng = np.random.default_rng(3)
    files = []
    for extension, sample_type, channels in FRAME_KINDS:
        path = folder / f"frame-{sample_type}-{channels}.{extension}"
        spec = oiio.ImageSpec(7, 5, channels, "uint16" if sample_type == "uint10" else sample_type)
        if sample_type == "uint10":
            spec.attribute("oiio:BitsPerSample", 10)
        output = oiio.ImageOutput.create(str(path))
        assert output.open(str(path), spec), oiio.geterror()
        assert output.write_image(rng.random((5, 7, channels), dtype=np.float32))
        assert output.close()
        files.append((extension, path.read_bytes()))
    return files


@st.composite
def damaged_frames(draw: st.DrawFn, files: list[tuple[str, bytes]]) -> Damaged:
    extension, valid = draw(st.sampled_from(files))
    original = extension
    how = draw(st.sampled_from(("truncate", "flip", "header", "zero", "extension")))
    data = bytearray(valid)
    if how == "truncate":
        data = data[:draw(st.integers(1, len(valid) - 1))]
    elif how == "flip":
        how = f"bytes flipped {_flip(draw, data)}"
    elif how == "header":  # header fields (sizes, offsets, counts) overwritten with extremes
        edits = []
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, min(len(data), 1024) - 4))
            data[at:at + 4] = draw(st.sampled_from((b"\xff\xff\xff\x7f", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00",
                                                    b"\xff\xff\xff\xff", b"\x00\x01\x00\x00")))
            edits.append((at, bytes(data[at:at + 4])))
        how = f"header overwritten {edits}"
    elif how == "zero":
        data = bytearray()
    else:
        extension = draw(st.sampled_from([kind[0] for kind in FRAME_KINDS if kind[0] != extension] + ["cin", "txt"]))
    return Damaged(bytes(data), f"{how} of a .{original} frame", extension)


def test_fuzz_frame_reading(worker, frame_files, tmp_path):
    """Damaged frames: a valid float32 frame or a FrameReadError, never another exception, a crash or a hang."""
    counter = iter(range(10**9))

    @_settings(200)
    @given(damaged=damaged_frames(frame_files))
    def read(damaged: Damaged) -> None:
        path = tmp_path / f"damaged-{next(counter)}.{damaged.extension}"
        path.write_bytes(damaged.data)
        try:
            _check(worker.run("frame", path), FRAME_REFUSALS, repr(damaged))
        finally:
            path.unlink()

    read()


def test_largest_receptive_field_loads_without_huge_check_frames(tmp_path):
    """The largest receptive field the contract allows loads and renders without the load-time check allocating
    frames that grow with its square (an 8K×8K float frame is 1 GiB)."""
    import tracemalloc

    from chromaluma import api
    from model_fixtures import pointwise_graph, save_with_metadata

    path = save_with_metadata(pointwise_graph(), tmp_path / "wide.onnx", receptive_field=contract.MAX_RECEPTIVE_FIELD)
    src = np.random.default_rng(1).random((5, 7, 4), dtype=np.float32)
    dst = np.zeros_like(src)
    tracemalloc.start()
    try:
        api.process(src, dst, {"model": str(path), "premultiplied": False})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"loading took {peak / 2**20:.0f} MiB"
    np.testing.assert_allclose(dst[..., :3], src[..., :3] * 0.5 + 0.25, atol=1e-6)


@pytest.mark.parametrize("key", [contract.REQUIRED_KEYS[i] for i in (1, 2, 3, 5, 6)])
def test_every_absurd_numeric_metadata_value_is_refused_or_loads(worker, model_bytes, tmp_path, key):
    """Each absurd value in each numeric metadata key, all of them (the fuzz above only samples them)."""
    for index, value in enumerate(ABSURD_TEXT):
        model = onnx.load_from_string(model_bytes)
        for entry in model.metadata_props:
            if entry.key == key:
                entry.value = value
        path = tmp_path / f"absurd-{index}.onnx"
        path.write_bytes(model.SerializeToString())
        _check(worker.run("model", path), MODEL_REFUSALS, f"{key}={value!r}")
