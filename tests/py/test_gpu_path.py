"""The GPU path's CPU-testable parts: provider choice and fallback notes (TensorRT, CUDA), the fp16 model and its
check against fp32 at load, the fp16 cache, I/O binding through device buffers, and scripts/gpu_check.py degrading
to "not available" on a machine without a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.helper as oh
import pytest
from onnx import TensorProto

from chromaluma.backend import fp16, gpu, precision, session
from chromaluma.errors import ChromalumaError, DeviceError, ParameterError
from model_fixtures import (
    OPSET,
    chroma_conv_model,
    luma_conv_model,
    pointwise_expected,
    pointwise_model,
    save_with_metadata,
)

ROOT = Path(__file__).resolve().parents[2]
CPU_ONLY = ["CPUExecutionProvider"]


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(precision.CACHE_ENV, str(tmp_path / "cache"))
    session.clear_cache()
    yield
    session.clear_cache()


def _fake_gpu_ort(monkeypatch, available: list[str], runs_on: list[str]) -> list[list[Any]]:
    """ORT as on a GPU machine: `available` providers; sessions really run on CPU but report `runs_on` (what ORT
    says after a fallback, or when the GPU provider works). Returns the provider lists sessions were created with."""
    import onnxruntime as ort

    real = ort.InferenceSession
    created: list[list[Any]] = []

    class ReportingSession:
        def __init__(self, model: Any, sess_options: Any = None, providers: Any = None) -> None:
            created.append(list(providers or []))
            self._inner = real(model, sess_options=sess_options, providers=CPU_ONLY)

        def get_providers(self) -> list[str]:
            return runs_on

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    monkeypatch.setattr(ort, "get_available_providers", lambda: list(available))
    monkeypatch.setattr(ort, "InferenceSession", ReportingSession)
    return created


# --- provider choice and fallback reporting -----------------------------------------------------------------------

def test_tensorrt_goes_before_cuda_only_when_asked_and_present(monkeypatch):
    import onnxruntime as ort

    everything = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: everything)
    assert session.provider_request("auto", tensorrt=True)[0] == everything
    assert session.provider_request("gpu", tensorrt=True)[0] == everything
    assert session.provider_request("auto")[0] == everything[1:]  # not asked: CUDA first, as before
    assert session.provider_request("cpu", tensorrt=True)[0] == CPU_ONLY  # device cpu is never overridden
    monkeypatch.setattr(ort, "get_available_providers", lambda: everything[1:])
    assert session.provider_request("auto", tensorrt=True)[0] == everything[1:]


def test_tensorrt_engines_are_cached_by_model_hash_and_precision(tmp_path: Path, monkeypatch):
    path = luma_conv_model(tmp_path / "luma.onnx")
    everything = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    created = _fake_gpu_ort(monkeypatch, everything, everything)
    engines = tmp_path / "engines"
    loaded = session.load_session(path, "auto", tensorrt_cache=engines)
    options = dict(created[0])["TensorrtExecutionProvider"]
    assert [name for name, _ in created[0]] == everything
    assert options["trt_engine_cache_enable"] == "True" and options["trt_fp16_enable"] == "False"
    assert options["trt_engine_cache_path"] == str(engines / f"{loaded.sha256}-fp32")
    assert loaded.provider == "TensorrtExecutionProvider" and loaded.warnings == []
    half = session.load_session(path, "auto", precision="fp16", tensorrt_cache=engines)
    with_tensorrt = [dict(providers) for providers in created if isinstance(providers[0], tuple)]
    options = with_tensorrt[-1]["TensorrtExecutionProvider"]
    assert half is not loaded and half.precision == "fp16"
    assert options["trt_fp16_enable"] == "True"
    assert options["trt_engine_cache_path"] == str(engines / f"{loaded.sha256}-fp16")


@pytest.mark.parametrize("runs_on,expected", [
    (["CUDAExecutionProvider", "CPUExecutionProvider"], "TensorRT requested but ONNX Runtime fell back to CUDA"),
    (CPU_ONLY, "GPU requested but ONNX Runtime fell back to CPUExecutionProvider"),
])
def test_a_silent_fallback_is_reported(tmp_path: Path, monkeypatch, runs_on: list[str], expected: str):
    path = pointwise_model(tmp_path / "m.onnx")
    _fake_gpu_ort(monkeypatch, ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
                  runs_on)
    loaded = session.load_session(path, "gpu", tensorrt_cache=tmp_path / "engines")
    assert loaded.provider == runs_on[0]
    notes = session.request_warnings("gpu", loaded)
    assert any(expected in note for note in notes), notes


def test_tensorrt_asked_for_without_it_warns_and_still_renders(tmp_path: Path, rng):
    path = pointwise_model(tmp_path / "m.onnx")
    loaded = session.load_session(path, "auto", tensorrt_cache=tmp_path / "engines")
    assert loaded.provider == "CPUExecutionProvider"
    assert any("TensorRT requested but not available" in note for note in session.request_warnings("auto", loaded))
    frame = rng.random((1, 8, 12, 4), dtype=np.float32)
    restored, _ = loaded.run(frame)
    np.testing.assert_allclose(restored[..., :3], pointwise_expected(frame[..., :3]), atol=1e-6)
    assert not (tmp_path / "engines").exists()  # nothing written for a provider that never ran


def test_default_request_is_unchanged(tmp_path: Path):
    path = pointwise_model(tmp_path / "m.onnx")
    loaded = session.load_session(path, "cpu")
    assert loaded.precision == "fp32" and loaded.warnings == []
    assert session.load_session(path, "cpu", precision="fp32", tensorrt_cache=None) is loaded


def test_bad_precision_is_one_line(tmp_path: Path):
    path = pointwise_model(tmp_path / "m.onnx")
    with pytest.raises(ParameterError, match=r"precision 'fp8': expected one of fp32, fp16 \(--precision\)"):
        session.load_session(path, "cpu", precision="fp8")


# --- fp16: conversion, the check at load, the cache --------------------------------------------------------------

def _half_initializers(payload: bytes) -> int:
    return sum(1 for tensor in onnx.load_from_string(payload).graph.initializer
               if tensor.data_type == TensorProto.FLOAT16)


def test_fp16_model_runs_within_tolerance_and_is_cached(tmp_path: Path, rng):
    path = luma_conv_model(tmp_path / "luma.onnx")
    reference = session.load_session(path, "cpu")
    half = session.load_session(path, "cpu", precision="fp16")
    assert half.precision == "fp16" and half is not reference
    assert any("fp16 on CPU" in note for note in half.warnings)
    frame = rng.random((1, 40, 36, 4), dtype=np.float32)
    expected, _ = reference.run(frame)
    got, _ = half.run(frame)
    difference = np.abs(got.astype(np.float64) - expected)
    assert got.dtype == np.float32 and got.shape == expected.shape  # the contract's float32 I/O is kept
    assert 0 < difference.max() <= precision.TOLERANCE_MAX  # really computed in half precision, yet close
    cached = precision.cache_file(tmp_path / "cache", half.sha256)
    assert _half_initializers(cached.read_bytes()) > 0
    assert half.mirrored is None  # bottom-up rows are copied, never run through an fp32 mirror


def test_cached_fp16_model_is_used_without_converting(tmp_path: Path, monkeypatch):
    path = luma_conv_model(tmp_path / "luma.onnx")
    session.load_session(path, "cpu", precision="fp16")
    session.clear_cache()
    monkeypatch.setattr(fp16, "convert_to_half", lambda payload: pytest.fail("converted again despite the cache"))
    assert session.load_session(path, "cpu", precision="fp16").precision == "fp16"


def test_damaged_cache_entry_is_replaced(tmp_path: Path):
    path = luma_conv_model(tmp_path / "luma.onnx")
    digest = session.model_sha256(path)
    cached = precision.cache_file(tmp_path / "cache", digest)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a model")
    assert session.load_session(path, "cpu", precision="fp16").precision == "fp16"
    assert _half_initializers(cached.read_bytes()) > 0


def _cancelling_model(path: Path) -> Path:
    """restored = (image + 1000.3) − 1000: fine in float32, but 1000.3 is 1000.5 in float16 (its spacing near
    1000 is 0.5), so the half model is off by 0.2 everywhere."""
    def const(name: str, value: float) -> onnx.NodeProto:
        return oh.make_node("Constant", [], [name],
                            value=oh.make_tensor(name, TensorProto.FLOAT, [4], [value, value, value, 0.0]))

    nodes = [const("up", 1000.3), const("down", -1000.0), oh.make_node("Add", ["image", "up"], ["lifted"]),
             oh.make_node("Add", ["lifted", "down"], ["restored"])]
    info = [oh.make_tensor_value_info(name, TensorProto.FLOAT, [1, "H", "W", 4]) for name in ("image", "restored")]
    graph = oh.make_graph(nodes, "cancelling", [info[0]], [info[1]])
    return save_with_metadata(oh.make_model(graph, opset_imports=[oh.make_opsetid("", OPSET)]), path)


def test_fp16_beyond_tolerance_is_refused_in_one_line(tmp_path: Path):
    path = _cancelling_model(tmp_path / "cancelling.onnx")
    session.load_session(path, "cpu")  # fine in fp32
    with pytest.raises(precision.PrecisionError) as caught:
        session.load_session(path, "cpu", precision="fp16")
    message = str(caught.value)
    assert message.startswith(f"{path}: fp16 differs from fp32 by max 0.2")
    assert "use --precision fp32" in message and "\n" not in message
    assert isinstance(caught.value, ChromalumaError)
    assert not precision.cache_file(tmp_path / "cache", session.model_sha256(path)).exists()  # never cached


def test_unconvertible_model_is_refused_in_one_line(tmp_path: Path, monkeypatch):
    path = luma_conv_model(tmp_path / "luma.onnx")

    def cannot(payload: bytes) -> bytes:
        raise onnx.checker.ValidationError("Field 'type' of 'value_info' is required but missing.")

    monkeypatch.setattr(fp16, "convert_to_half", cannot)
    with pytest.raises(precision.PrecisionError, match=rf"^{path}: cannot convert this model to fp16 \(Field 'type'.*"
                                                       r"use --precision fp32 \(precision=fp32\)\.$"):
        session.load_session(path, "cpu", precision="fp16")


def test_unwritable_cache_costs_a_conversion_not_the_render(tmp_path: Path, monkeypatch, rng):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv(precision.CACHE_ENV, str(blocked))
    path = luma_conv_model(tmp_path / "luma.onnx")
    half = session.load_session(path, "cpu", precision="fp16")
    restored, _ = half.run(rng.random((1, 12, 12, 4), dtype=np.float32))
    assert restored.shape == (1, 12, 12, 4) and np.isfinite(restored).all()
    assert blocked.read_text() == "a file where the cache folder should be"


@pytest.mark.parametrize("maximum,p95,acceptable", [
    (precision.TOLERANCE_MAX, precision.TOLERANCE_P95, True),
    (np.nextafter(precision.TOLERANCE_MAX, 1.0), 0.0, False),
    (0.0, np.nextafter(precision.TOLERANCE_P95, 1.0), False),
    (float("nan"), 0.0, False),
])
def test_tolerance_boundaries(maximum: float, p95: float, acceptable: bool):
    assert precision.Difference(float(maximum), float(p95), "restored").acceptable is acceptable


def test_difference_statistics_and_non_finite_values():
    reference = {"restored": np.zeros(100, np.float32), "confidence": np.zeros(100, np.float32)}
    candidate = {"restored": np.linspace(0.0, 0.099, 100, dtype=np.float32), "confidence": np.zeros(100, np.float32)}
    found = precision.compare_outputs(reference, candidate)
    assert found.output == "restored"
    assert found.maximum == pytest.approx(0.099) and found.p95 == pytest.approx(0.09405, abs=1e-4)
    candidate["confidence"][3] = np.inf
    assert precision.compare_outputs(reference, candidate).maximum == float("inf")


def test_shape_arithmetic_stays_exact_past_2048_pixels(tmp_path: Path, rng):
    """A frame 2051 wide: float16 cannot hold 2051, so padding/resizing sizes computed in float16 would be wrong."""
    path = chroma_conv_model(tmp_path / "chroma.onnx")
    reference = session.load_session(path, "cpu")
    half = session.load_session(path, "cpu", precision="fp16")
    frame = rng.random((1, 6, 2051, 4), dtype=np.float32)
    expected, expected_confidence = reference.run(frame)
    got, confidence = half.run(frame)
    assert got.shape == expected.shape and confidence.shape == expected_confidence.shape
    assert np.abs(got - expected).max() <= precision.TOLERANCE_MAX


def _float_shape_model(path: Path) -> Path:
    """restored = image resized (nearest) to sizes computed in float: Cast(Shape(image), FLOAT) × 1 → INT64, as
    exporters write for `interpolate(size=…)`; then + 0.25. An identity resize only while the sizes are exact."""
    one = oh.make_tensor("one", TensorProto.FLOAT, [4], [1.0, 1.0, 1.0, 1.0])
    offset = oh.make_tensor("offset", TensorProto.FLOAT, [4], [0.25, 0.25, 0.25, 0.0])
    nodes = [oh.make_node("Shape", ["image"], ["shape"]),
             oh.make_node("Cast", ["shape"], ["shape_f"], to=TensorProto.FLOAT),
             oh.make_node("Mul", ["shape_f", "one"], ["sizes_f"]),
             oh.make_node("Cast", ["sizes_f"], ["sizes"], to=TensorProto.INT64),
             oh.make_node("Resize", ["image", "", "", "sizes"], ["resized"], mode="nearest"),
             oh.make_node("Add", ["resized", "offset"], ["restored"])]
    info = [oh.make_tensor_value_info(name, TensorProto.FLOAT, [1, "H", "W", 4]) for name in ("image", "restored")]
    graph = oh.make_graph(nodes, "float_shape", [info[0]], [info[1]], initializer=[one, offset])
    return save_with_metadata(oh.make_model(graph, opset_imports=[oh.make_opsetid("", OPSET)]), path)


def test_float_size_arithmetic_is_not_converted(tmp_path: Path, rng):
    """2051 is not a float16 number (it rounds to 2052): sizes computed in float16 would resize the frame."""
    path = _float_shape_model(tmp_path / "sizes.onnx")
    half = session.load_session(path, "cpu", precision="fp16")
    frame = rng.random((1, 3, 2051, 4), dtype=np.float32)
    restored, _ = half.run(frame)
    assert restored.shape == frame.shape
    assert np.abs(restored[..., :3] - (frame[..., :3] + 0.25)).max() <= precision.TOLERANCE_MAX
    # ONNX Runtime's CPU provider may fold a float16 Cast pair away, so the converted graph is read too
    converted = onnx.load_from_string(fp16.convert_to_half(path.read_bytes()))
    casts = {node.output[0]: node.attribute[0].i for node in converted.graph.node if node.op_type == "Cast"}
    assert casts["shape_f"] == TensorProto.FLOAT and casts["sizes"] == TensorProto.INT64
    multiply = next(node for node in converted.graph.node if node.op_type == "Mul")
    assert list(multiply.input) == ["shape_f", "one"]  # float32 operands, not float16 twins


def test_converted_graph_keeps_resize_scales_float32_and_io_float32(tmp_path: Path):
    payload = chroma_conv_model(tmp_path / "chroma.onnx").read_bytes()
    model = onnx.load_from_string(fp16.convert_to_half(payload))
    floats = {tensor.name: tensor.data_type for tensor in model.graph.initializer}
    floats.update({node.output[0]: node.attribute[0].t.data_type for node in model.graph.node
                   if node.op_type == "Constant"})
    for node in model.graph.node:
        if node.op_type == "Resize" and len(node.input) > 2 and node.input[2] in floats:
            assert floats[node.input[2]] == TensorProto.FLOAT
    assert {value.type.tensor_type.elem_type for value in [*model.graph.input, *model.graph.output]} == {
        TensorProto.FLOAT}


# --- I/O binding through device buffers --------------------------------------------------------------------------

def test_bound_buffers_and_staged_device_path_equal_run(tmp_path: Path, rng):
    path = chroma_conv_model(tmp_path / "chroma.onnx")
    loaded = session.load_session(path, "cpu")
    frame = rng.random((1, 24, 28, 4), dtype=np.float32)
    expected, expected_confidence = loaded.run(frame)
    restored = np.full_like(frame, np.nan)
    confidence = np.full((1, 24, 28, 1), np.nan, np.float32)
    loaded.run_bound(gpu.host_buffer(frame, "image"), gpu.host_buffer(restored, "restored"),
                     gpu.host_buffer(confidence, "confidence"))
    np.testing.assert_array_equal(restored, expected)
    np.testing.assert_array_equal(confidence, expected_confidence)
    restored[...] = np.nan
    confidence[...] = np.nan
    gpu.run_staged(loaded, frame, restored, confidence, device="cpu")
    np.testing.assert_array_equal(restored, expected)
    np.testing.assert_array_equal(confidence, expected_confidence)


def test_cuda_memory_is_refused_for_a_cpu_session(tmp_path: Path):
    loaded = session.load_session(pointwise_model(tmp_path / "m.onnx", confidence=False), "cpu")
    image = gpu.Buffer("cuda", 0, (1, 8, 8, 4), 0x7F0000000000)  # never dereferenced: refused before binding
    restored = gpu.Buffer("cuda", 0, (1, 8, 8, 4), 0x7F0000100000)
    with pytest.raises(DeviceError, match=r"CUDA image memory given, but the model runs on CPUExecutionProvider"):
        loaded.run_bound(image, restored, None)


def test_too_small_output_buffer_is_refused(tmp_path: Path):
    loaded = session.load_session(pointwise_model(tmp_path / "m.onnx", confidence=False), "cpu")
    frame = np.zeros((1, 8, 8, 4), np.float32)
    small = np.zeros((1, 8, 7, 4), np.float32)
    with pytest.raises(ValueError, match=r"restored buffer \(1, 8, 7, 4\): expected \(1, 8, 8, 4\)"):
        loaded.run_bound(gpu.host_buffer(frame, "image"), gpu.host_buffer(small, "restored"), None)
    with pytest.raises(DeviceError, match="non-null address"):
        gpu.Buffer("cpu", 0, (1, 8, 8, 4), 0)


# --- scripts/gpu_check.py on a machine without a GPU -------------------------------------------------------------

@pytest.mark.slow
def test_gpu_check_reports_not_available_without_a_gpu(tmp_path: Path):
    report_path, markdown_path = tmp_path / "report.json", tmp_path / "report.md"
    env = {**os.environ, "CHROMALUMA_BUILD_DIR": str(tmp_path / "no-build"), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--quick", "--json",
                           str(report_path), "--markdown", str(markdown_path)], capture_output=True, text=True,
                          env=env, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(report_path.read_text())
    rows = {row["config"]: row for row in report["inference"]["rows"]}
    assert rows["CPU fp32"]["status"] == "ok" and rows["CPU fp32"]["fps"] > 0
    assert rows["CPU fp32"]["providers"] == CPU_ONLY
    assert rows["CPU fp16"]["status"] == "ok" and rows["CPU fp16"]["within_tolerance"] is True
    for config in ("CUDA fp32", "CUDA fp16", "TensorRT fp32", "TensorRT fp16"):
        assert rows[config]["status"].startswith("not available"), rows[config]
    for section in ("plugin", "ddp", "amp"):
        assert report[section]["status"].startswith("not available"), report[section]
    assert "| CUDA fp32 | not available" in markdown_path.read_text()
