"""How the benchmarks time a render: per frame, in the steady state a shot's render reaches.

A render's first frames are slower than the rest: ONNX Runtime grows its arena and picks kernels, and the process's
heap grows to what a frame needs (measured for a 2K repair frame: 5.6 s, 4.3 s, 2.1 s, then 1.8–2.3 s). A shot of
any length is rendered at the later speed, so each timing renders WARM_UP_FRAMES first and reports the median of
the frames after them, with freed memory kept as `chromaluma apply` keeps it (:mod:`chromaluma.host_memory`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import numpy as np

from chromaluma.host_memory import reuse_freed_memory

WARM_UP_FRAMES = 3
TIMING_NOTE = (f"median after {WARM_UP_FRAMES} warm-up frames, freed memory kept for the next frame as "
               "`chromaluma apply` keeps it")


def steady_ms(render: Callable[[], object], frames: int, *, keep_freed: bool = True) -> float:
    """Median ms of `render()` over `frames` calls after WARM_UP_FRAMES calls (see the module docstring).

    `keep_freed`: freed memory kept for the next frame, as `chromaluma apply` renders; False leaves the process's
    allocator as it is, as a plug-in leaves its host's."""
    timings = []
    with reuse_freed_memory() if keep_freed else contextlib.nullcontext():
        for _ in range(WARM_UP_FRAMES + frames):
            started = time.perf_counter()
            render()
            timings.append((time.perf_counter() - started) * 1000.0)
    return float(np.median(timings[WARM_UP_FRAMES:]))
