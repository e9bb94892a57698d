"""chromaluma.backend.session: validation on load, the hash and session caches, threads, provider fallback."""

from __future__ import annotations

import os
import shutil
import threading
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnx.helper as oh
import pytest
from onnx import TensorProto

from chromaluma import api, contract
from chromaluma.backend import session
from chromaluma.errors import ChromalumaError, ModelFormatError, ModelNotFoundError
from model_fixtures import luma_conv_model, pointwise_graph, pointwise_model, save_with_metadata


@pytest.fixture(autouse=True)
def fresh_cache():
    session.clear_cache()
    yield
    session.clear_cache()


def test_same_content_shares_one_session(tmp_path: Path):
    first = pointwise_model(tmp_path / "a.onnx")
    second = tmp_path / "copy.onnx"
    shutil.copyfile(first, second)
    loaded = session.load_session(first, "cpu")
    assert session.load_session(first, "cpu") is loaded
    assert session.load_session(second, "cpu") is loaded  # keyed by content, not by path
    assert session.load_session(first, "cpu", threads=1) is not loaded  # ... and by thread count
    assert loaded.sha256 == contract.file_sha256(first)
    assert session.cached_session_count() == 2


def test_model_hash_is_cached_until_the_file_changes(tmp_path: Path, monkeypatch):
    path = pointwise_model(tmp_path / "m.onnx")
    calls: list[Path] = []
    real_hash = contract.file_sha256
    monkeypatch.setattr(contract, "file_sha256", lambda p: calls.append(Path(p)) or real_hash(p))
    first = session.model_sha256(path)
    for _ in range(5):
        assert session.model_sha256(path) == first
    assert len(calls) == 1
    pointwise_model(path, confidence=False)  # re-exported in place: new content, new mtime
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert session.model_sha256(path) != first
    assert len(calls) == 2


def test_concurrent_calls_from_host_threads(tmp_path: Path, rng, monkeypatch):
    path = str(luma_conv_model(tmp_path / "luma.onnx"))
    created: list[int] = []
    real_create = session._create_session
    monkeypatch.setattr(session, "_create_session", lambda *a: created.append(1) or real_create(*a))
    frames = [rng.random((40, 36, 4), dtype=np.float32) for _ in range(8)]
    expected = []
    for frame in frames:
        out = np.zeros_like(frame)
        api.process(frame, out, {"model": path, "tile_size": 24})
        expected.append(out)
    session.clear_cache()
    created.clear()
    results = [np.zeros_like(frame) for frame in frames]
    errors: list[BaseException] = []
    start = threading.Barrier(len(frames))

    def render(index: int) -> None:
        try:
            start.wait()
            for _ in range(3):
                api.process(frames[index], results[index], {"model": path, "tile_size": 24})
        except BaseException as exc:  # noqa: BLE001 (collected and re-raised in the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=render, args=(i,)) for i in range(len(frames))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(created) == 1  # eight threads racing for the same model build one session
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_gpu_request_without_cuda_runs_on_cpu_and_says_so_once(tmp_path: Path, monkeypatch, caplog):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    path = str(pointwise_model(tmp_path / "m.onnx"))
    with caplog.at_level("WARNING", logger="chromaluma"):
        reports = [api.process(np.zeros((2, 2, 3), np.float32), np.zeros((2, 2, 3), np.float32),
                               {"model": path, "device": "gpu"}) for _ in range(2)]
    for report in reports:
        assert report.provider == "CPUExecutionProvider"
        assert any("GPU requested" in w for w in report.warnings)
    assert sum("GPU requested" in r.getMessage() for r in caplog.records) == 1
    cpu_report = api.process(None, None, {"model": path, "device": "cpu"})
    assert cpu_report.warnings == ()


def test_cuda_listed_but_session_falls_back_is_detected(tmp_path: Path, monkeypatch):
    """ORT does not raise when CUDA fails to start: only get_providers() shows the fallback."""
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    path = str(pointwise_model(tmp_path / "m.onnx"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ORT's own "provider not available" warning
        report = api.process(None, None, {"model": path, "device": "auto"})
    assert report.provider == "CPUExecutionProvider"
    assert any("fell back" in w for w in report.warnings)


def test_provider_order_puts_cuda_first_when_present(monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider", "CUDAExecutionProvider"])
    assert session.provider_request("auto") == (["CUDAExecutionProvider", "CPUExecutionProvider"], [])
    assert session.provider_request("gpu")[0][0] == "CUDAExecutionProvider"
    assert session.provider_request("cpu") == (["CPUExecutionProvider"], [])


def _graph_with_input_name(name: str) -> onnx.ModelProto:
    model = pointwise_graph(confidence=False)
    model.graph.input[0].name = name
    for node in model.graph.node:
        node.input[:] = [name if value == "image" else value for value in node.input]
    return model


@pytest.mark.parametrize("case,match", [
    ("no_metadata", "not a Chromaluma model"),
    ("future_format", "format_version 3"),
    ("wrong_input", r"expected the input\(s\) 'image'"),
    ("garbage", "not a readable ONNX file"),
    ("too_new_ir", "cannot load this model"),
])
def test_bad_models_get_a_clear_format_error(tmp_path: Path, case: str, match: str):
    path = tmp_path / f"{case}.onnx"
    if case == "no_metadata":
        onnx.save(pointwise_graph(), str(path))
    elif case == "future_format":
        save_with_metadata(pointwise_graph(), path, format_version=3)
    elif case == "wrong_input":
        save_with_metadata(_graph_with_input_name("x"), path)
    elif case == "garbage":
        path.write_bytes(b"this is a scan, not a model")
    else:
        model = pointwise_graph()
        save_with_metadata(model, path)
        model = onnx.load(str(path))
        model.ir_version = 99
        onnx.save(model, str(path))
    with pytest.raises(ModelFormatError, match=match) as caught:
        api.process(None, None, {"model": str(path)})
    assert str(path) in str(caught.value)


def test_missing_model_and_runtime_failures_are_chromaluma_errors(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="missing.onnx"):
        session.load_session(tmp_path / "missing.onnx")
    model = pointwise_graph(confidence=False)
    nodes = list(model.graph.node)
    shape = oh.make_node("Constant", [], ["shape"], value=oh.make_tensor("shape", TensorProto.INT64, [4],
                                                                          [1, -1, 16, 4]))
    nodes[-1] = oh.make_node("Reshape", ["scaled", "shape"], ["restored"])  # fails unless H·W divides by 16
    del model.graph.node[:]
    model.graph.node.extend([shape, *nodes])
    path = save_with_metadata(model, tmp_path / "fragile.onnx")
    with pytest.raises(ChromalumaError, match="fragile.onnx: ONNX Runtime failed"):
        api.process(np.zeros((5, 7, 4), np.float32), np.zeros((5, 7, 4), np.float32), {"model": str(path)})
