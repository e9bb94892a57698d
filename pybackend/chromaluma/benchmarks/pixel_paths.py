"""What each part of process()'s pixel machinery saves on the plug-in's path (issue 18: keep only what pays).

process() has, besides the plain copy into the model's input tensor: reading a host frame in place (zero-copy
input), reading it in its stored bottom-up order through a mirrored session (no flip copy), letting ONNX Runtime
write straight into the host's dst (no finishing copy), and a helper thread for the copies and checks. Each is
switched off alone, then all together, and process() is timed on a 2K float RGBA frame laid out as an OFX host
hands it over (rows bottom-up, negative stride). Runs of every variant alternate, so machine load hits them alike;
the table gives medians and the ratio to the default. A pool of reused input tensors was measured the same way and
removed (it saved about 1 %).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma import api
from chromaluma.backend import pixels, restore
from chromaluma.backend.session import load_session
from chromaluma.benchmarks import BenchSection, markdown_table

log = logging.getLogger(__name__)

FRAME = (2048, 1080)  # width, height: 2K DCI flat, the plug-in's usual render window
QUICK_FRAME = (96, 64)


@contextmanager
def _without_mirror(model: Path) -> Iterator[None]:
    session = load_session(model, "cpu")
    kept, session.mirrored = session.mirrored, None
    try:
        yield
    finally:
        session.mirrored = kept


@contextmanager
def _without_direct_output(model: Path) -> Iterator[None]:  # noqa: ARG001 — every switch takes the model
    kept = restore._Job._direct_target
    restore._Job._direct_target = lambda *args: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        restore._Job._direct_target = kept  # type: ignore[method-assign]


@contextmanager
def _without_helper_thread(model: Path) -> Iterator[None]:  # noqa: ARG001
    kept = pixels._helper_pool
    pixels._helper_pool = None
    try:
        yield
    finally:
        pixels._helper_pool = kept


@contextmanager
def _without_borrowing(model: Path) -> Iterator[None]:  # noqa: ARG001
    kept = pixels.borrowed_input
    pixels.borrowed_input = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        yield
    finally:
        pixels.borrowed_input = kept  # type: ignore[assignment]


SWITCHES: dict[str, Callable[[Path], Any]] = {
    "no mirrored session (bottom-up rows copied)": _without_mirror,
    "no direct output into dst": _without_direct_output,
    "no zero-copy input (always copied)": _without_borrowing,
    "no helper thread": _without_helper_thread,
}


@contextmanager
def _variant(name: str, model: Path) -> Iterator[None]:
    with ExitStack() as stack:
        for switch, off in SWITCHES.items():
            if name in (switch, "everything off (plain copies)"):
                stack.enter_context(off(model))
        yield


def savings_rows(model: Path, frame_size: tuple[int, int], repeats: int) -> list[dict[str, Any]]:
    """Median process() ms per variant (default, each part off alone, all off), runs alternating."""
    width, height = frame_size
    rng = np.random.default_rng(0)
    frame = rng.random((height, width, 4), dtype=np.float32)
    frame[..., 3] = 1.0
    src = np.ascontiguousarray(frame[::-1])[::-1]  # OFX: rows stored bottom-up, viewed top-down
    dst_store = np.zeros_like(frame)
    dst = np.ascontiguousarray(dst_store[::-1])[::-1]
    params = {"model": str(model), "device": "cpu"}
    names = ["default (everything on)", *SWITCHES, "everything off (plain copies)"]
    times: dict[str, list[float]] = {name: [] for name in names}
    paths: dict[str, str] = {}
    expected = None
    for _ in range(repeats + 1):  # the first round warms every variant up and is not counted
        for name in names:
            with _variant(name, model):
                start = time.perf_counter()
                report = api.process(src, dst, params)
                elapsed = (time.perf_counter() - start) * 1000.0
            paths[name] = report.pixel_path or ""
            expected = dst.copy() if expected is None else expected
            if not np.allclose(dst, expected, atol=1e-5):
                raise AssertionError(f"pixel-path variant {name!r} changed the result")
            times[name].append(elapsed)
    default = statistics.median(times[names[0]][1:])
    rows = []
    for name in names:
        median = statistics.median(times[name][1:])
        rows.append({"variant": name, "ms": median, "ratio": median / default, "pixel_path": paths[name]})
        log.info("pixel paths %s: %.1f ms (%.3f× default, %s)", name, median, median / default, paths[name])
    return rows


def run(model: Path, quick: bool) -> BenchSection:
    """The section: what each part of the pixel path saves for a 2K chroma frame from an OFX host."""
    frame_size = QUICK_FRAME if quick else FRAME
    rows = savings_rows(model, frame_size, 1 if quick else 7)
    table = markdown_table(["process() variant", "ms (median)", "× default", "pixel path"],
                           [[r["variant"], round(r["ms"], 1), f"{r['ratio']:.3f}", r["pixel_path"]] for r in rows])
    notes = [f"Chroma model, {frame_size[0]}×{frame_size[1]} float RGBA host frame stored bottom-up (negative row "
             "stride), dst alike, mix 1, no mask: the plug-in's usual case. Each variant switches one part off; all "
             "give the same pixels (checked every run). Runs alternate; medians of the timed rounds.",
             "Kept: whatever costs more than ~2 % when switched off (the plug-in goal is ≤ 1.03× process(), "
             "process() ≤ 1.05× raw ORT)."]
    return BenchSection("Pixel path: what each part saves (CPU)", table, notes=notes, raw={"rows": rows})
