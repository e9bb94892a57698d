"""The OpenFX plug-in end to end: the built Chromaluma.ofx.bundle loaded by the headless host `ofx-render`.

Every render is compared with what `chromaluma.api.process` (or the model's own formula) makes of the same
pixels: on every host depth (float, 16-bit, 8-bit) and memory layout (padded rows, negative rowBytes, bounds
not at the origin), with mix, mask and output modes. Fixtures (frames, tiny models) are made in the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chromaluma import api
from chromaluma.benchmarks.plugin import PLUGIN_ID, PluginBuild, find_build, ofx_render, timing_events
from chromaluma.io.frames import FrameFormat, read_frame, write_frame
from model_fixtures import CONFIDENCE_VALUE, chroma_conv_model, pointwise_expected, pointwise_model

HEIGHT, WIDTH = 24, 36
FORMATS = {"float": FrameFormat(".tif", "float", 32, 4), "short": FrameFormat(".tif", "uint16", 16, 4),
           "byte": FrameFormat(".tif", "uint8", 8, 4)}
DTYPES = {"float": np.float32, "short": np.uint16, "byte": np.uint8}
LAYOUTS = {
    "plain": [],
    "padded": ["--rowbytes-padding", "20"],
    "negative": ["--negative-rowbytes"],
    "origin": ["--origin", "7,-5"],
    "all": ["--rowbytes-padding", "12", "--negative-rowbytes", "--origin", "-3,11"],
}


def plugin_build() -> PluginBuild:
    build = find_build()
    if build is None:
        message = "ofx-render and Chromaluma.ofx.bundle are not built: run `make build` (or set CHROMALUMA_BUILD_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return build


@pytest.fixture(scope="module")
def build() -> PluginBuild:
    return plugin_build()


@pytest.fixture(scope="module")
def pointwise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pointwise_model(tmp_path_factory.mktemp("models") / "pointwise.onnx")


def random_frame(rng: np.random.Generator, opaque: bool = False) -> np.ndarray:
    frame = rng.random((HEIGHT, WIDTH, 4), dtype=np.float32)
    frame[..., 3] = 1.0 if opaque else 0.2 + 0.8 * frame[..., 3]
    return frame


def write_sequence(folder: Path, frames: list[np.ndarray], depth: str = "float", name: str = "src") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames, start=1):
        write_frame(folder / f"{name}.{index:04d}.tif", frame, FORMATS[depth])
    return folder / f"{name}.####.tif"


def as_depth(frame: np.ndarray, depth: str) -> np.ndarray:
    """Normalised float samples back to the host's sample type (exact for frames read from that type)."""
    if depth == "float":
        return frame.astype(np.float32)
    top = np.iinfo(DTYPES[depth]).max
    return np.rint(frame.astype(np.float64) * top).astype(DTYPES[depth])


def read_output(pattern: Path, frame: int, depth: str) -> np.ndarray:
    pixels, _ = read_frame(str(pattern).replace("####", f"{frame:04d}"))
    return as_depth(pixels, depth)


def expected_by_process(src: np.ndarray, params: dict[str, object]) -> np.ndarray:
    dst = np.zeros_like(src)
    api.process(src, dst, dict(params))
    return dst


def assert_render_ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"ofx-render exit {done.returncode}\n{done.stderr[-3000:]}"


def test_list_describes_the_effect(build: PluginBuild) -> None:
    done = subprocess.run([str(build.host), "--plugin-path", str(build.plugin_dir), "--list"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    line = next(row for row in done.stdout.splitlines() if row.startswith(PLUGIN_ID))
    fields = line.split("\t")
    assert fields[2] == "Chromaluma Restore"
    assert set(fields[3].split(",")) == {"Filter", "General"}


def test_bundle_layout_and_conf(build: PluginBuild) -> None:
    contents = build.bundle / "Contents"
    assert (contents / "Linux-x86-64" / "Chromaluma.ofx").is_file()
    assert "<string>org.chromaluma.Restore</string>" in (contents / "Info.plist").read_text()
    conf = (contents / "Resources" / "chromaluma.conf").read_text()
    python = next(line.split("=", 1)[1].strip() for line in conf.splitlines() if line.startswith("python"))
    assert Path(python).is_file(), f"chromaluma.conf names {python}, which does not exist"
    libpython = next(line.split("=", 1)[1].strip() for line in conf.splitlines() if line.startswith("libpython"))
    assert Path(libpython).is_file(), f"chromaluma.conf names {libpython}, which does not exist"
    assert exported_functions(contents / "Linux-x86-64" / "Chromaluma.ofx") == {"OfxGetPlugin", "OfxGetNumberOfPlugins"}
    assert exported_functions(contents / "Linux-x86-64" / "ChromalumaPython.so") == {
        "chromaluma_bridge_abi", "chromaluma_bridge_start", "chromaluma_bridge_describe", "chromaluma_bridge_process"}


def exported_functions(binary: Path) -> set[str]:
    exports = subprocess.run(["nm", "-D", "--defined-only", str(binary)], capture_output=True, text=True,
                             check=True).stdout
    return {row.split()[-1] for row in exports.splitlines() if " T " in row}


def dynamic_section(binary: Path) -> str:
    return subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout


def test_plugin_binary_does_not_link_libpython(build: PluginBuild) -> None:
    """A host must load the effect where Python is missing: only the bridge module (loaded later) needs it."""
    binaries = build.bundle / "Contents" / "Linux-x86-64"
    plugin = dynamic_section(binaries / "Chromaluma.ofx")
    assert "NEEDED" in plugin, plugin  # readelf worked: the check below would prove nothing otherwise
    assert "libpython" not in plugin, f"Chromaluma.ofx links libpython:\n{plugin}"
    assert "RPATH" not in plugin and "RUNPATH" not in plugin, f"Chromaluma.ofx bakes in a library path:\n{plugin}"
    # The bridge does not link it either: its Py* symbols come from the libpython the plug-in made global.
    bridge = dynamic_section(binaries / "ChromalumaPython.so")
    assert "libpython" not in bridge and "RUNPATH" not in bridge and "RPATH" not in bridge, bridge
    undefined = subprocess.run(["nm", "-D", "--undefined-only", str(binaries / "ChromalumaPython.so")],
                               capture_output=True, text=True, check=True).stdout
    assert "Py_InitializeFromConfig" in undefined, "the bridge module does not use Python: wrong file?"


@pytest.mark.parametrize("depth", ["float", "short", "byte"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_render_equals_process_on_every_depth_and_layout(build: PluginBuild, pointwise: Path, tmp_path: Path,
                                                          rng: np.random.Generator, depth: str, layout: str) -> None:
    frames = [random_frame(rng), random_frame(rng)]
    pattern = write_sequence(tmp_path, frames, depth)
    out = tmp_path / "out.####.tif"
    done = ofx_render(build, pattern, out, {"modelFile": pointwise}, frames=(1, 2),
                      options=["--depth", depth, *LAYOUTS[layout]])
    assert_render_ok(done)
    for index in (1, 2):
        src = read_output(pattern, index, depth)
        expected = expected_by_process(src, {"model": str(pointwise)})
        got = read_output(out, index, depth)
        if depth == "float":
            np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        else:
            np.testing.assert_array_equal(got, expected)
        assert not np.array_equal(got, src), "the model changed nothing: the comparison would prove nothing"


def test_rgb_source_gets_rgb_output(build: PluginBuild, pointwise: Path, tmp_path: Path,
                                    rng: np.random.Generator) -> None:
    frame = random_frame(rng, opaque=True)
    pattern = write_sequence(tmp_path, [frame])
    out = tmp_path / "out.####.tif"
    assert_render_ok(ofx_render(build, pattern, out, {"modelFile": pointwise}, options=["--components", "RGB"]))
    got, _ = read_frame(tmp_path / "out.0001.tif")
    np.testing.assert_allclose(got[..., :3], pointwise_expected(frame[..., :3]), atol=1e-5, rtol=0)


def test_context_model_matches_process_and_apply(build: PluginBuild, tmp_path: Path,
                                                 rng: np.random.Generator) -> None:
    """A model with a receptive field and processing scale 1/4, unaligned origin, negative rows: same as apply.

    Opaque frames: `chromaluma apply` reads TIFF alpha as straight, the host declares premultiplied; with alpha 1
    both conventions give the same colour, so any difference is the plug-in's.
    """
    model = chroma_conv_model(tmp_path / "chroma.onnx")
    frames = [random_frame(rng, opaque=True) for _ in range(2)]
    pattern = write_sequence(tmp_path / "shot", frames)
    out = tmp_path / "out.####.tif"
    assert_render_ok(ofx_render(build, pattern, out, {"modelFile": model}, frames=(1, 2),
                                options=["--negative-rowbytes", "--origin", "5,3", "--rowbytes-padding", "8"]))
    applied = tmp_path / "applied"
    done = subprocess.run([sys.executable, "-m", "chromaluma.cli", "apply", "--model", str(model),
                           "--input", str(tmp_path / "shot"), "--output", str(applied), "--no-progress"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for index, frame in enumerate(frames, start=1):
        got = read_output(out, index, "float")
        np.testing.assert_allclose(got, expected_by_process(frame, {"model": str(model)}), atol=1e-5, rtol=0)
        by_apply, _ = read_frame(applied / f"src.{index:04d}.tif")
        np.testing.assert_allclose(got, by_apply, atol=1e-5, rtol=0)


def test_mix_blends_restored_over_source(build: PluginBuild, pointwise: Path, tmp_path: Path,
                                         rng: np.random.Generator) -> None:
    frame = random_frame(rng, opaque=True)
    pattern = write_sequence(tmp_path, [frame])
    for mix in (0.0, 0.25):
        out = tmp_path / f"mix{mix}.####.tif"
        assert_render_ok(ofx_render(build, pattern, out, {"modelFile": pointwise, "mix": mix}))
        got = read_output(out, 1, "float")
        rgb = frame[..., :3].astype(np.float64)
        np.testing.assert_allclose(got[..., :3], rgb + mix * (pointwise_expected(rgb) - rgb), atol=1e-5, rtol=0)
        np.testing.assert_array_equal(got[..., 3], frame[..., 3])


def test_mask_limits_the_restoration_softly(build: PluginBuild, pointwise: Path, tmp_path: Path,
                                            rng: np.random.Generator) -> None:
    frame = random_frame(rng, opaque=True)
    pattern = write_sequence(tmp_path, [frame])
    mask = np.zeros((HEIGHT, WIDTH, 4), dtype=np.float32)  # bottom half: off (mask and picture rows must agree)
    mask[: HEIGHT // 2, : WIDTH // 3] = 1.0                # top left: restored
    mask[: HEIGHT // 2, WIDTH // 3: 2 * WIDTH // 3] = 0.5  # top middle: half way
    mask_pattern = write_sequence(tmp_path, [mask], name="mask")
    out = tmp_path / "out.####.tif"
    assert_render_ok(ofx_render(build, pattern, out, {"modelFile": pointwise},
                                options=["--context", "general", "--mask", str(mask_pattern)]))
    got = read_output(out, 1, "float")[..., :3].astype(np.float64)
    rgb = frame[..., :3].astype(np.float64)
    weight = mask[..., 3:4].astype(np.float64)
    np.testing.assert_allclose(got, rgb + weight * (pointwise_expected(rgb) - rgb), atol=1e-5, rtol=0)
    np.testing.assert_allclose(got[HEIGHT // 2:], rgb[HEIGHT // 2:], atol=1e-6, rtol=0)  # mask off: the source


def test_confidence_and_difference_modes(build: PluginBuild, pointwise: Path, tmp_path: Path,
                                         rng: np.random.Generator) -> None:
    frame = random_frame(rng, opaque=True)
    pattern = write_sequence(tmp_path, [frame])
    out = tmp_path / "conf.####.tif"
    assert_render_ok(ofx_render(build, pattern, out, {"modelFile": pointwise, "outputMode": "Confidence"}))
    np.testing.assert_allclose(read_output(out, 1, "float")[..., :3], CONFIDENCE_VALUE, atol=1e-6, rtol=0)
    out = tmp_path / "diff.####.tif"
    assert_render_ok(ofx_render(build, pattern, out, {"modelFile": pointwise, "outputMode": "Difference"}))
    rgb = frame[..., :3].astype(np.float64)
    np.testing.assert_allclose(read_output(out, 1, "float")[..., :3], pointwise_expected(rgb) - rgb + 0.5,
                               atol=1e-5, rtol=0)


def model_info_shown(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """modelInfo as `ofx-render --print-params` printed it, by when: after-instance-changed, after-render."""
    events = [e for e in timing_events(done.stdout) if e["event"] == "params"]
    assert [e["when"] for e in events] == ["after-instance-changed", "after-render"], done.stdout
    return {e["when"]: str(e["values"]["modelInfo"]) for e in events}


def test_model_info_shows_kind_training_and_provider(build: PluginBuild, tmp_path: Path,
                                                     rng: np.random.Generator) -> None:
    """modelInfo, end to end: the model's kind and training summary and the provider ONNX Runtime used, set when
    modelFile changes (before any render) and kept after rendering; a GPU request that ran on CPU says so."""
    import onnxruntime as ort

    model = pointwise_model(tmp_path / "luma.onnx", kind="luma")  # not the fixtures' default kind: read, not assumed
    pattern = write_sequence(tmp_path / "shot", [random_frame(rng, opaque=True)])
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    for device in ("CPU", "GPU"):
        done = ofx_render(build, pattern, tmp_path / f"{device}.####.tif", {"modelFile": model, "device": device},
                          options=["--print-params"])
        assert_render_ok(done)
        for when, info in model_info_shown(done).items():
            assert info.startswith("luma model") and "0 steps" in info, (when, info)
            if device == "CPU" or not has_cuda:
                assert "ONNX Runtime provider: CPUExecutionProvider" in info, (when, info)
            if device == "CPU":
                assert "WARNING" not in info, (when, info)
            elif not has_cuda:  # this machine: the GPU fallback must be visible to the user
                assert "\nWARNING: GPU requested" in info and "running on CPU" in info, (when, info)


def test_model_info_without_model_says_what_to_do(build: PluginBuild, tmp_path: Path,
                                                  rng: np.random.Generator) -> None:
    pattern = write_sequence(tmp_path / "shot", [random_frame(rng, opaque=True)])
    done = ofx_render(build, pattern, tmp_path / "out.####.tif", {"device": "CPU"}, options=["--print-params"])
    assert_render_ok(done)  # no model: identity, the host copies the source
    assert model_info_shown(done)["after-instance-changed"].startswith("No model: choose a Chromaluma .onnx file")


def test_proxy_render_scale_renders_at_full_resolution(build: PluginBuild, pointwise: Path, tmp_path: Path,
                                                       rng: np.random.Generator) -> None:
    """The effect declares no multi-resolution support (its receptive field is in full-resolution pixels): a host
    asked for a half-scale proxy renders it at scale 1, as real hosts do, and the result is the full frame."""
    frame = random_frame(rng, opaque=True)
    pattern = write_sequence(tmp_path, [frame])
    out = tmp_path / "out.####.tif"
    done = ofx_render(build, pattern, out, {"modelFile": pointwise}, options=["--render-scale", "0.5"])
    assert_render_ok(done)
    assert "kOfxImageEffectPropSupportsMultiResolution=0: rendering at scale 1, not 0.5" in done.stderr, done.stderr
    got = read_output(out, 1, "float")
    assert got.shape == (HEIGHT, WIDTH, 4)
    np.testing.assert_allclose(got[..., :3], pointwise_expected(frame[..., :3]), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_four_threads_fifty_frames(build: PluginBuild, pointwise: Path, tmp_path: Path,
                                   rng: np.random.Generator) -> None:
    frames = [random_frame(rng, opaque=True) for _ in range(50)]
    pattern = write_sequence(tmp_path, frames)
    out = tmp_path / "out.####.tif"
    done = ofx_render(build, pattern, out, {"modelFile": pointwise}, frames=(1, 50),
                      options=["--threads", "4", "--timing"])
    assert_render_ok(done)
    for index in range(1, 51):
        got = read_output(out, index, "float")
        np.testing.assert_allclose(got[..., :3], pointwise_expected(frames[index - 1][..., :3]), atol=1e-5, rtol=0)


def test_uses_the_hosts_python_interpreter(build: PluginBuild, pointwise: Path, tmp_path: Path,
                                           rng: np.random.Generator) -> None:
    """In a host that already runs Python (Nuke, Natron) the plug-in uses that interpreter and adds its packages."""
    preload = build.plugin_dir.parent / "tests" / "cpp" / "libpython_host_preload.so"
    if not preload.is_file():
        pytest.skip(f"{preload} not built")
    frame = random_frame(rng, opaque=True)
    pattern = write_sequence(tmp_path, [frame])
    out = tmp_path / "out.####.tif"
    base_python = getattr(sys, "_base_executable", sys.executable)  # no chromaluma there: the plug-in must add it
    done = ofx_render(build, pattern, out, {"modelFile": pointwise},
                      env={"LD_PRELOAD": str(preload), "CHROMALUMA_TEST_HOST_PYTHON": base_python})
    assert_render_ok(done)
    assert "host Python" in done.stderr, "the preloaded host interpreter did not start: the test proves nothing"
    assert "using the host's Python interpreter" in done.stderr, done.stderr
    np.testing.assert_allclose(read_output(out, 1, "float")[..., :3], pointwise_expected(frame[..., :3]),
                               atol=1e-5, rtol=0)


def test_install_plugin_writes_conf_and_renders(build: PluginBuild, pointwise: Path, tmp_path: Path,
                                                rng: np.random.Generator) -> None:
    """scripts/install_plugin.sh: the installed bundle names the venv's python and its libpython, and renders."""
    root = Path(__file__).resolve().parents[2]
    dest = tmp_path / "OFX" / "Plugins"
    env = {**os.environ, "OFX_PLUGIN_PATH": f"{dest}:/nonexistent"}
    done = subprocess.run([str(root / "scripts" / "install_plugin.sh"), str(build.plugin_dir.parent), sys.executable],
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    assert done.returncode == 0, done.stderr
    conf = (dest / "Chromaluma.ofx.bundle" / "Contents" / "Resources" / "chromaluma.conf").read_text()
    values = dict(line.split(" = ", 1) for line in conf.splitlines() if " = " in line and not line.startswith("#"))
    assert values["python"] == os.path.abspath(sys.executable)  # the venv's python, symlink not resolved
    assert Path(values["libpython"]).is_file() and f"libpython{sys.version_info[0]}.{sys.version_info[1]}" in conf
    frame = random_frame(rng, opaque=True)
    pattern = write_sequence(tmp_path / "shot", [frame])
    installed = PluginBuild(host=build.host, plugin_dir=dest)
    out = tmp_path / "out.####.tif"
    no_overrides = {"CHROMALUMA_PYTHON": "", "CHROMALUMA_LIBPYTHON": ""}
    assert_render_ok(ofx_render(installed, pattern, out, {"modelFile": pointwise}, env=no_overrides))
    np.testing.assert_allclose(read_output(out, 1, "float")[..., :3], pointwise_expected(frame[..., :3]),
                               atol=1e-5, rtol=0)
