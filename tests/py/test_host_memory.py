"""Training keeps freed memory mapped for reuse (glibc), and gives it back to the system afterwards."""

from __future__ import annotations

import numpy as np
import pytest

from chromaluma.train.host_memory import _glibc, reuse_freed_memory

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
