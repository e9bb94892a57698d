"""Training keeps freed memory mapped for reuse (glibc), and gives it back to the system afterwards."""

from __future__ import annotations

import numpy as np
import pytest

from chromaluma.host_memory import _glibc, reuse_freed_memory

BLOCK_MIB = 256


def _resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def _allocate_and_free() -> tuple[float, float]:
    """Resident memory gained (MiB) while a large block is touched, and after it is freed again."""
    before = _resident_mib()
    block = np.ones(BLOCK_MIB * 2**20 // 8)
    touched = _resident_mib() - before
    del block
    return touched, _resident_mib() - before


@pytest.mark.skipif(_glibc() is None, reason="mallopt and malloc_trim are glibc's (Linux)")
def test_freed_training_memory_stays_mapped_then_goes_back():
    # by default glibc maps a block this large afresh and hands it back to the system as soon as it is freed
    touched, kept = _allocate_and_free()
    assert touched > 0.9 * BLOCK_MIB and kept < 0.1 * BLOCK_MIB
    with reuse_freed_memory() as arranged:
        assert arranged
        touched, kept = _allocate_and_free()
        assert touched > 0.9 * BLOCK_MIB and kept > 0.9 * BLOCK_MIB  # freed, but still mapped for the next step
        touched, _ = _allocate_and_free()
        assert touched < 0.1 * BLOCK_MIB  # the same size again: served from the pages already mapped
        inside = _resident_mib()
    assert inside - _resident_mib() > 0.9 * BLOCK_MIB  # on leaving, the free memory is returned
    touched, kept = _allocate_and_free()
    assert touched > 0.9 * BLOCK_MIB and kept < 0.1 * BLOCK_MIB  # and the default behaviour is back


@pytest.mark.skipif(_glibc() is None, reason="mallopt and malloc_trim are glibc's (Linux)")
def test_apply_renders_its_frames_with_freed_memory_kept(tmp_path, rng, monkeypatch):
    # a 2K render frees and allocates the same 35 MB frames every frame: `apply` keeps them mapped while it
    # renders (a 2K repair frame: 1.9-2.1 s against 2.3-2.6 s), and gives the memory back when it is done
    from chromaluma.backend import apply_shot
    from chromaluma.cli import main
    from chromaluma.io import FrameFormat, write_frame
    from model_fixtures import pointwise_model

    scan = tmp_path / "scan"
    scan.mkdir()
    for frame in (1, 2):
        write_frame(scan / f"shot.{frame}.png", rng.random((20, 24, 3), dtype=np.float32),
                    FrameFormat(".png", "uint16", 16, 3))
    probes = []
    render_frame = apply_shot._render_frame

    def probed(*args, **kwargs):
        probes.append(_allocate_and_free())
        return render_frame(*args, **kwargs)

    monkeypatch.setattr(apply_shot, "_render_frame", probed)
    model = pointwise_model(tmp_path / "pointwise.onnx")
    assert main(["apply", "--model", str(model), "--input", str(scan), "--output", str(tmp_path / "out"),
                 "--no-progress"]) == 0
    (_, kept), (touched, _) = probes
    assert kept > 0.9 * BLOCK_MIB  # the first frame's block stays mapped …
    assert touched < 0.1 * BLOCK_MIB  # … and the next frame's is served from its pages
    assert _allocate_and_free()[1] < 0.1 * BLOCK_MIB  # afterwards, glibc's defaults again
