"""The plug-in's error paths through `ofx-render`: each one is a persistent message on the effect and a failed
render status, the host process survives, and it goes on to the next frame.

Covered: missing model, corrupt model, a Python exception inside the backend (only on one frame, so the frames
around it must still render correctly), a bad Python environment (nonexistent, without chromaluma, wrong
Python version, named by the bundle's chromaluma.conf), and a Python library (libpython) that cannot be loaded
(moved away, another version's, a venv whose base Python is gone): the effect still loads and lists, since
Chromaluma.ofx does not link libpython, and every render names what to set.
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


def copied_bundle(build: PluginBuild, folder: Path, conf: str) -> PluginBuild:
    """A copy of the built bundle (a render node's install) whose chromaluma.conf says `conf`."""
    shutil.copytree(build.bundle, folder / build.bundle.name)
    (folder / build.bundle.name / "Contents" / "Resources" / "chromaluma.conf").write_text(conf)
    return PluginBuild(host=build.host, plugin_dir=folder)


def conf_value(build: PluginBuild, key: str) -> str:
    conf = (build.bundle / "Contents" / "Resources" / "chromaluma.conf").read_text()
    return next(line.split("=", 1)[1].strip() for line in conf.splitlines() if line.split("=")[0].strip() == key)


def assert_lists_the_effect(build: PluginBuild, env: dict[str, str]) -> None:
    listed = subprocess.run([str(build.host), "--plugin-path", str(build.plugin_dir), "--list"], capture_output=True,
                            text=True, timeout=60, check=False, env={**os.environ, **env})
    assert listed.returncode == 0 and "org.chromaluma.Restore\t" in listed.stdout, listed
    assert "Chromaluma Restore" in listed.stdout and "cannot load" not in listed.stderr, listed


PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"  # the build's Python (tests run in its venv)
NO_OVERRIDES = {"CHROMALUMA_PYTHON": "", "CHROMALUMA_LIBPYTHON": ""}  # empty counts as unset


@pytest.mark.parametrize("libpython", [f"/opt/moved-away/lib/libpython{PYTHON_VERSION}.so.1.0", "wrong-version"])
def test_libpython_not_loadable_still_lists_and_says_what_to_set(build: PluginBuild, model: Path, shot: Path,
                                                                 tmp_path: Path, libpython: str) -> None:
    """A render node whose Python library is gone: the effect loads, lists, and each render says what to set."""
    if libpython == "wrong-version":  # exists, but is not this Python's library: never loaded
        libpython = str(tmp_path / "libpython3.8.so.1.0")
        Path(libpython).write_bytes(b"\x7fELF not really")
    node = copied_bundle(build, tmp_path / "plugins",
                         f"python = {conf_value(build, 'python')}\nlibpython = {libpython}\n")
    assert_lists_the_effect(node, NO_OVERRIDES)
    done = ofx_render(node, shot, tmp_path / "out.####.tif", {"modelFile": model}, frames=(1, 2), env=NO_OVERRIDES)
    assert_frames_failed_and_host_survived(done, 2, libpython, "CHROMALUMA_PYTHON=",
                                           f"CHROMALUMA_LIBPYTHON=/path/to/libpython{PYTHON_VERSION}")
    assert not (tmp_path / "out.0001.tif").exists()


def test_venv_whose_base_python_is_gone(build: PluginBuild, model: Path, shot: Path, tmp_path: Path) -> None:
    """CHROMALUMA_PYTHON names a venv whose base Python (pyvenv.cfg home) was removed: no libpython to derive."""
    venv = tmp_path / "orphan-venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    (venv / "pyvenv.cfg").write_text(f"home = {tmp_path}/removed-python/bin\nversion = {PYTHON_VERSION}.1\n")
    env = {"CHROMALUMA_PYTHON": str(python), "CHROMALUMA_LIBPYTHON": ""}
    assert_lists_the_effect(build, env)
    done = ofx_render(build, shot, tmp_path / "out.####.tif", {"modelFile": model}, frames=(1, 2), env=env)
    assert_frames_failed_and_host_survived(done, 2, f"no libpython{PYTHON_VERSION}.so found for {python}",
                                           f"{tmp_path}/removed-python/lib/libpython{PYTHON_VERSION}.so.1.0",
                                           "CHROMALUMA_LIBPYTHON=")


def test_libpython_from_environment_variable_or_derived(build: PluginBuild, model: Path, shot: Path,
                                                        tmp_path: Path) -> None:
    """CHROMALUMA_LIBPYTHON overrides a stale conf; a conf without `libpython` derives it from the venv."""
    frames = [read_frame(str(shot).replace("####", f"{index:04d}"))[0] for index in (1, 2)]
    stale = copied_bundle(build, tmp_path / "stale", f"python = {conf_value(build, 'python')}\n"
                                                     f"libpython = /opt/moved-away/libpython{PYTHON_VERSION}.so.1.0\n")
    derived = copied_bundle(build, tmp_path / "derived", f"python = {conf_value(build, 'python')}\n")
    for node, env in ((stale, {"CHROMALUMA_PYTHON": "", "CHROMALUMA_LIBPYTHON": conf_value(build, "libpython")}),
                      (derived, NO_OVERRIDES)):
        out = node.plugin_dir / "out.####.tif"
        done = ofx_render(node, shot, out, {"modelFile": model}, frames=(1, 2), env=env)
        assert done.returncode == 0, done.stderr
        assert f"libpython{PYTHON_VERSION}" in done.stderr  # the plug-in says which library it loaded
        for index, frame in enumerate(frames, start=1):
            got, _ = read_frame(str(out).replace("####", f"{index:04d}"))
            np.testing.assert_allclose(got[..., :3], pointwise_expected(frame[..., :3]), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("helper", "needle"), [("libpython3.99.so.1.0", "already runs another Python ("),
                                                ("libfake_host_python.so", "already runs Python 3.99.0")])
def test_host_running_another_python_version_is_refused(build: PluginBuild, model: Path, shot: Path,
                                                        tmp_path: Path, helper: str, needle: str) -> None:
    """A host that runs another Python (by its libpython's name, or only by its Py_GetVersion symbol): the plug-in
    starts no interpreter and mixes no two Pythons; every render says why, and the host goes on."""
    preload = build.plugin_dir.parent / "tests" / "cpp" / helper
    if not preload.is_file():
        pytest.skip(f"{preload} not built")
    done = ofx_render(build, shot, tmp_path / "out.####.tif", {"modelFile": model}, frames=(1, 2),
                      env={"LD_PRELOAD": str(preload)})
    assert_frames_failed_and_host_survived(done, 2, needle, f"built for Python {PYTHON_VERSION}",
                                           "rebuild it with the host's Python version")
    assert "using the host's Python interpreter" not in done.stderr, done.stderr
    assert "[Chromaluma Restore] using /" not in done.stderr, "a libpython was loaded beside the host's Python"
