"""The Python bridge module (ChromalumaPython.so) through its C interface, as Chromaluma.ofx calls it.

A backend named by CHROMALUMA_PLUGIN_BACKEND may return no RenderReport (test backends do); the bridge then reads
the receptive field, processing scale and temporal window from the model's metadata, and must not write through a
NULL result pointer (PyBridge.h lets every result pointer be NULL). The calls run in a child Python process, the way
a host that already runs Python uses the bridge: a crash there fails this test instead of the test run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chromaluma.benchmarks.plugin import PluginBuild
from model_fixtures import pointwise_graph, save_with_metadata
from test_plugin import plugin_build

SILENT_BACKEND = '''
def process(src, dst, params):
    """Validates nothing and reports nothing: the bridge falls back to the model's metadata."""
'''

CALLER = r'''
import ctypes, sys

bridge = ctypes.CDLL(sys.argv[1])
model, backend = sys.argv[2].encode(), sys.argv[3].encode()
Text = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

class Result(ctypes.Structure):
    _fields_ = [("context", ctypes.c_void_p), ("text", Text), ("receptiveField", ctypes.c_int),
                ("processingScale", ctypes.c_double), ("framesBefore", ctypes.c_int), ("framesAfter", ctypes.c_int),
                ("keyframeCount", ctypes.c_int), ("keyframeFrames", ctypes.c_int * 4),
                ("keyframeDistances", ctypes.c_int * 4), ("hasMatte", ctypes.c_int)]

class Start(ctypes.Structure):
    _fields_ = [("python", ctypes.c_char_p), ("sitePackages", ctypes.c_char_p), ("backendOverride", ctypes.c_char_p)]

class Params(ctypes.Structure):
    _fields_ = [("model", ctypes.c_char_p), ("mix", ctypes.c_double), ("device", ctypes.c_char_p),
                ("tileSize", ctypes.c_int), ("outputMode", ctypes.c_char_p), ("premultiplied", ctypes.c_int),
                ("windowX", ctypes.c_int), ("windowY", ctypes.c_int), ("originX", ctypes.c_int),
                ("originY", ctypes.c_int), ("keyframes", ctypes.c_char_p), ("frame", ctypes.c_int),
                ("frameWidth", ctypes.c_int), ("frameHeight", ctypes.c_int), ("sensitivity", ctypes.c_double),
                ("precision", ctypes.c_char_p), ("renderLog", ctypes.c_char_p)]

said = []
result = Result(None, Text(lambda context, which, value: said.append((which, value))), 0, 1.0, -1, -1)
assert bridge.chromaluma_bridge_start(ctypes.byref(Start(sys.executable.encode(), b"", backend)),
                                      ctypes.byref(result)) == 0, said
params = Params(model, 1.0, b"cpu", 0, b"restored", 1, 0, 0, 0, 0)
print("no result:", bridge.chromaluma_bridge_describe(ctypes.byref(params), None), flush=True)
status = bridge.chromaluma_bridge_describe(ctypes.byref(params), ctypes.byref(result))
print("with result:", status, result.receptiveField, result.processingScale, said, flush=True)
print("window:", result.framesBefore, result.framesAfter, flush=True)
'''


@pytest.fixture(scope="module")
def build() -> PluginBuild:
    return plugin_build()


def test_describe_with_a_silent_backend_and_no_result_pointer(build: PluginBuild, tmp_path: Path) -> None:
    model = save_with_metadata(pointwise_graph(confidence=True), tmp_path / "model.onnx", receptive_field=7,
                               processing_scale=0.5)
    backend = tmp_path / "silent_backend.py"
    backend.write_text(SILENT_BACKEND)
    module = build.bundle / "Contents" / "Linux-x86-64" / "ChromalumaPython.so"
    done = subprocess.run([sys.executable, "-c", CALLER, str(module), str(model), f"{backend}:process"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"
    assert "no result: 0" in done.stdout, done.stdout
    # read from the model's metadata; the only text is the kind (5: kChromalumaBridgeKind)
    assert "with result: 0 7 0.5 [(5, b'chroma')]" in done.stdout, done.stdout
    assert "window: 0 0" in done.stdout, done.stdout  # a single-frame model (format 1) reads no neighbours
