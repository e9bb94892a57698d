"""Keep freed memory in the process while Chromaluma trains or renders, so each step's or frame's large arrays
reuse pages already mapped.

A CPU training step allocates and frees the same full-resolution tensors (8–17 MB each for a batch of 8 crops of
256²) every step; a 2K render allocates and frees the same frames (35 MB each as float32 RGBA: the moved
neighbours, the model's outputs, the composed result) every frame. glibc's malloc serves blocks that large with
fresh mmap calls, or trims the heap when they are freed, so every step and frame pays page faults for pages the
kernel must zero again: measured on the quality benchmark's pairs (2 cores), a chroma step took about 10 % longer
that way; a 2K repair frame took 2.3–2.6 s against 1.9–2.1 s with freed memory kept (AMD EPYC virtual machine,
2 cores, the median of frames 4–10 of a render, two renders each). Inside :func:`reuse_freed_memory` the heap serves
every size and is never trimmed; on leaving, the settings go back to glibc's defaults and the free memory is returned
to the system. Elsewhere (macOS, Windows, musl) it does nothing. Only Chromaluma's own processes use it (`train`,
`apply`, the benchmarks): a plug-in never changes its host's allocator.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# mallopt parameters (malloc.h) and glibc's defaults for them
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536
NEVER_TRIM = 2**31 - 1  # the largest threshold mallopt takes (an int): 2 GiB of free heap


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has mallopt and malloc_trim), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


@contextmanager
def reuse_freed_memory() -> Iterator[bool]:
    """Inside: freed heap memory stays mapped for the next allocation (yields True where that could be arranged)."""
    libc = _glibc()
    arranged = libc is not None and bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))
    if libc is not None and not arranged:
        log.debug("mallopt refused; running with the default allocator settings")
    try:
        yield arranged
    finally:
        if libc is not None:
            libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
            libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
            libc.malloc_trim(0)
