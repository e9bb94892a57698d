"""OpenFX GPU rendering (issue 22 item 3, the plug-in half), through the built bundle in `ofx-render`.

What a user relies on: the plug-in declares CUDA render "false" (it reads and writes CPU memory only), so a host
offering CUDA render keeps handing it CPU images and the render is the same as on any host; a host that passes GPU
memory anyway gets a failed frame with a message saying what to turn off, never a crash and never an output image
made from device memory read as CPU memory. ofx-render has no GPU: `--cuda-render` tests the agreement, and
`--force-cuda-enabled` breaks it on purpose while still handing CPU memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chromaluma.benchmarks.plugin import PluginBuild, ofx_render
from model_fixtures import pointwise_expected, pointwise_model
from test_plugin import assert_render_ok, plugin_build, random_frame, read_output, write_sequence

PLUGIN_ID = "org.chromaluma.Restore"


@pytest.fixture(scope="module")
def build() -> PluginBuild:
    return plugin_build()


@pytest.fixture(scope="module")
def pointwise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pointwise_model(tmp_path_factory.mktemp("models") / "pointwise.onnx")


def test_a_cuda_host_still_gets_cpu_memory_and_the_same_render(build: PluginBuild, pointwise: Path, tmp_path: Path,
                                                               rng: np.random.Generator) -> None:
    frame = random_frame(rng, opaque=True)
    pattern = write_sequence(tmp_path / "shot", [frame])
    plain = ofx_render(build, pattern, tmp_path / "plain.####.tif", {"modelFile": pointwise}, timeout=300)
    assert_render_ok(plain)
    cuda = ofx_render(build, pattern, tmp_path / "cuda.####.tif", {"modelFile": pointwise},
                      options=["--cuda-render"], timeout=300)
    assert_render_ok(cuda)
    # the plug-in said "false" in describe, so the host passed CPU memory (kOfxImageEffectPropCudaEnabled 0)
    assert (f'{PLUGIN_ID} declares kOfxImageEffectPropCudaRenderSupported="false": '
            "kOfxImageEffectPropCudaEnabled=0") in cuda.stderr, cuda.stderr
    got = read_output(tmp_path / "cuda.####.tif", 1, "float")
    np.testing.assert_array_equal(got, read_output(tmp_path / "plain.####.tif", 1, "float"))
    np.testing.assert_allclose(got[..., :3], pointwise_expected(frame[..., :3]), atol=1e-5, rtol=0)


def test_gpu_memory_forced_on_the_plugin_fails_the_frame_with_a_message(build: PluginBuild, pointwise: Path,
                                                                      tmp_path: Path,
                                                                      rng: np.random.Generator) -> None:
    pattern = write_sequence(tmp_path / "shot", [random_frame(rng, opaque=True)])
    out = tmp_path / "out.####.tif"
    done = ofx_render(build, pattern, out, {"modelFile": pointwise}, options=["--force-cuda-enabled"], timeout=300)
    assert done.returncode == 1, f"expected one failed frame, got exit {done.returncode}\n{done.stderr[-3000:]}"
    assert ("plug-in persistent message [OfxMessageError]: Chromaluma Restore: the host gave the images as CUDA "
            "device memory (OfxImageEffectPropCudaEnabled = 1), but this plug-in declared that unsupported and "
            "reads CPU memory only; turn off GPU image processing for this effect in the host") in done.stderr, \
        done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("out.*")), "a refused frame must not be written"
