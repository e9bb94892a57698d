"""The plug-in's error paths through `ofx-render`: each one is a persistent message on the effect and a failed
render status, the host process survives, and it goes on to the next frame.

Covered: missing model, corrupt model, a Python exception inside the backend (only on one frame, so the frames
around it must still render correctly), and a bad Python environment (nonexistent, without chromaluma, wrong
Python version, named by the bundle's chromaluma.conf).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chromaluma.benchmarks.plugin import PluginBuild, ofx_render
from chromaluma.io.frames import read_frame
from model_fixtures import pointwise_expected, pointwise_model
from test_plugin import plugin_build, random_frame, write_sequence

PERSISTENT_ERROR = "persistent message [OfxMessageError]"

FAILING_BACKEND = '''
"""A backend that raises a plain Python exception on frames whose first sample is 1.0, else calls the real one."""
from chromaluma import api


def process(src, dst, params):
    if src is not None and float(src[0, 0, 0]) == 1.0:
        return 1 / 0
    return api.process(src, dst, params)
'''


@pytest.fixture(scope="module")
def build() -> PluginBuild:
    return plugin_build()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pointwise_model(tmp_path_factory.mktemp("models") / "pointwise.onnx")


@pytest.fixture
def shot(tmp_path: Path, rng: np.random.Generator) -> Path:
    return write_sequence(tmp_path / "shot", [random_frame(rng, opaque=True) for _ in range(2)])


def assert_frames_failed_and_host_survived(done: subprocess.CompletedProcess[str], frames: int, *needles: str) -> None:
    assert done.returncode == frames, f"expected {frames} failed frame(s), exit {done.returncode}:\n{done.stderr}"
    assert PERSISTENT_ERROR in done.stderr, done.stderr
    for frame in range(1, frames + 1):
        assert f"frame {frame} failed" in done.stderr, done.stderr  # the host went on to every frame
    for needle in needles:
        assert needle in done.stderr, f"{needle!r} not in:\n{done.stderr}"


def test_missing_model(build: PluginBuild, shot: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model.onnx"
    done = ofx_render(build, shot, tmp_path / "out.####.tif", {"modelFile": missing}, frames=(1, 2))
    assert_frames_failed_and_host_survived(done, 2, str(missing))


def test_corrupt_model(build: PluginBuild, shot: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(np.random.default_rng(3).bytes(4096))
    done = ofx_render(build, shot, tmp_path / "out.####.tif", {"modelFile": corrupt}, frames=(1, 2))
    assert_frames_failed_and_host_survived(done, 2, str(corrupt))


def test_python_exception_fails_only_its_frame(build: PluginBuild, model: Path, tmp_path: Path,
                                               rng: np.random.Generator) -> None:
    frames = [random_frame(rng, opaque=True) * 0.9 for _ in range(3)]
    frames[1][0, 0, 0] = 1.0  # the backend raises on this frame only
    for frame in frames:
        frame[..., 3] = 1.0
    pattern = write_sequence(tmp_path / "shot", frames)
    backend = tmp_path / "failing_backend.py"
    backend.write_text(FAILING_BACKEND)
    out = tmp_path / "out.####.tif"
    done = ofx_render(build, pattern, out, {"modelFile": model}, frames=(1, 3),
                      env={"CHROMALUMA_PLUGIN_BACKEND": f"{backend}:process"})
    assert done.returncode == 1, done.stderr
    assert "frame 2 failed" in done.stderr and "ZeroDivisionError" in done.stderr, done.stderr
    assert "Traceback" in done.stderr  # the traceback goes to the host's log
    for index in (1, 3):  # the frames before and after rendered correctly in the same process
        got, _ = read_frame(tmp_path / f"out.{index:04d}.tif")
        np.testing.assert_allclose(got[..., :3], pointwise_expected(frames[index - 1][..., :3]), atol=1e-5, rtol=0)


def test_nonexistent_environment_still_describes(build: PluginBuild, model: Path, shot: Path, tmp_path: Path) -> None:
    env = {"CHROMALUMA_PYTHON": str(tmp_path / "nowhere" / "bin" / "python")}
    listed = subprocess.run([str(build.host), "--plugin-path", str(build.plugin_dir), "--list"], capture_output=True,
                            text=True, timeout=60, check=False, env={**os.environ, **env})
    assert listed.returncode == 0 and "org.chromaluma.Restore" in listed.stdout, listed.stderr
    done = ofx_render(build, shot, tmp_path / "out.####.tif", {"modelFile": model}, frames=(1, 2), env=env)
    assert_frames_failed_and_host_survived(done, 2, "CHROMALUMA_PYTHON=/path/to/venv/bin/python", "nowhere")


def test_environment_without_chromaluma(build: PluginBuild, model: Path, shot: Path, tmp_path: Path) -> None:
    venv = tmp_path / "bare-venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    done = ofx_render(build, shot, tmp_path / "out.####.tif", {"modelFile": model}, frames=(1, 2),
                      env={"CHROMALUMA_PYTHON": str(venv / "bin" / "python")})
    assert_frames_failed_and_host_survived(done, 2, "importing chromaluma", "CHROMALUMA_PYTHON=")


def test_environment_of_another_python_version(build: PluginBuild, model: Path, shot: Path, tmp_path: Path) -> None:
    venv = tmp_path / "old-venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.8.18\n")
    done = ofx_render(build, shot, tmp_path / "out.####.tif", {"modelFile": model}, frames=(1, 2),
                      env={"CHROMALUMA_PYTHON": str(python)})
    assert_frames_failed_and_host_survived(done, 2, "is Python 3.8", "built for Python 3.")


def test_conf_naming_a_missing_python(build: PluginBuild, model: Path, shot: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = tmp_path / "plugins"
    shutil.copytree(build.bundle, plugins / build.bundle.name)
    conf = plugins / build.bundle.name / "Contents" / "Resources" / "chromaluma.conf"
    conf.write_text("python = /opt/moved-away/bin/python\n")
    monkeypatch.delenv("CHROMALUMA_PYTHON", raising=False)
    moved = PluginBuild(host=build.host, plugin_dir=plugins)
    done = ofx_render(moved, shot, tmp_path / "out.####.tif", {"modelFile": model}, frames=(1, 2))
    assert_frames_failed_and_host_survived(done, 2, "/opt/moved-away/bin/python", str(conf), "make install-plugin")
