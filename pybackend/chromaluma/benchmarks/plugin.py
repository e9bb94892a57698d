"""Plug-in speed: ms/frame through `ofx-render` + the OpenFX bundle vs `api.process` vs raw ONNX Runtime.

All three run the same model on the same 2K frame (2048×1080 float RGBA, opaque, as a film scan) with the same
parameters and the same cached ONNX Runtime session options: `process()` gets exactly the params the plug-in
passes, raw ORT runs on the session `process()` uses. Standalone `process()` is timed as the host calls it: each
frame is read from its file into fresh memory, bottom-up (negative row stride), with a fresh output image, so
the work between calls (file I/O, cold caches, idle ORT threads) is the host's too. Plug-in and standalone runs
alternate in rounds, so machine load moves both alike. The plug-in's cost over `process()` is what the C++ shell
adds: fetching host images, wrapping them as numpy views (no copy), taking the GIL. The goal is plug-in ≤ 1.03×
`process()`; raw ORT shows what the backend adds in turn (colour handling, tiling, alpha).

Also the small helpers the plug-in tests share: where the build put `ofx-render` and the bundle
(`find_build`, honouring CHROMALUMA_BUILD_DIR and CHROMALUMA_OFX_RENDER) and how to run it (`ofx_render`).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.benchmarks import BenchSection, markdown_table

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
PLUGIN_ID = "org.chromaluma.Restore"
FRAME_2K = (1080, 2048)  # H, W (DCI 2K)
GOAL_RATIO = 1.03


@dataclass(frozen=True)
class PluginBuild:
    """The headless host and the folder holding Chromaluma.ofx.bundle, as built by CMake."""

    host: Path
    plugin_dir: Path

    @property
    def bundle(self) -> Path:
        return self.plugin_dir / "Chromaluma.ofx.bundle"


def find_build(build_dir: Path | None = None) -> PluginBuild | None:
    """The build's ofx-render and plug-in folder (CHROMALUMA_BUILD_DIR, default ./build), or None if not built."""
    build = Path(build_dir or os.environ.get("CHROMALUMA_BUILD_DIR") or ROOT / "build")
    host = Path(os.environ.get("CHROMALUMA_OFX_RENDER") or build / "tests" / "host" / "ofx-render")
    found = PluginBuild(host=host, plugin_dir=build / "ofx_plugin")
    if not host.is_file() or not (found.bundle / "Contents" / "Linux-x86-64" / "Chromaluma.ofx").is_file():
        return None
    return found


def ofx_render(build: PluginBuild, input_pattern: Path, output_pattern: Path, params: Mapping[str, object], *,
               frames: tuple[int, int] = (1, 1), options: Sequence[str] = (), env: Mapping[str, str] | None = None,
               timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    """Run ofx-render with Chromaluma Restore; returns the finished process (exit status = failed frames)."""
    command = [str(build.host), "--plugin-path", str(build.plugin_dir), "--plugin", PLUGIN_ID,
               "--input", str(input_pattern), "--output", str(output_pattern), "--frames", f"{frames[0]}-{frames[1]}"]
    for name, value in params.items():
        command += ["--param", f"{name}={value}"]
    command += list(options)
    environment = dict(os.environ)
    environment.update(env or {})
    log.debug("running %s", " ".join(command))
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment, check=False)


def timing_events(stdout: str) -> list[dict[str, Any]]:
    """The JSON lines `ofx-render --timing` printed."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def benchmark_model(path: Path) -> Path:
    """An untrained chroma model of the shipped architecture: speed does not depend on what it learned."""
    from chromaluma.export import export_model
    from chromaluma.models import build_model

    card = {"kind": "chroma", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "software": {"purpose": "benchmark"}, "training": {"parameters": {"steps": 0}}, "metrics": {},
            "colorspace": "display"}
    return export_model(build_model("chroma", 0.25), path, "display", card)


# What the plug-in passes for this benchmark's parameters (ofx_plugin/src/PyBridge.cpp makeParams; the host's
# source image is premultiplied RGBA), so standalone process() gets the same request.
PLUGIN_PARAMS = {"mix": 1.0, "mask": None, "device": "auto", "tile_size": 0, "output_mode": "restored",
                 "premultiplied": True, "window": (0, 0), "frame_origin": (0, 0)}


def _time_process(model: Path, frames: list[Path], rounds: int = 1) -> tuple[list[float], list[float]]:
    """process() as a host calls it (each frame read into fresh memory, bottom-up), and raw ORT between calls.

    Returns (process ms, raw ORT ms) per frame; raw ORT runs on the session process() uses, on a prepared tensor.
    """
    from chromaluma import api
    from chromaluma.backend.session import load_session
    from chromaluma.io.frames import read_frame

    params = {"model": str(model), **PLUGIN_PARAMS}
    session = load_session(model, "auto").session
    first, _ = read_frame(frames[0])
    tensor = np.ascontiguousarray(first[np.newaxis], dtype=np.float32)
    api.process(first, np.empty_like(first), dict(params))  # warm-up: session creation is not a per-frame cost
    session.run(None, {"image": tensor})
    process_ms, raw_ms = [], []
    for path in frames * rounds:
        pixels, _ = read_frame(path)
        src = np.ascontiguousarray(pixels[::-1])[::-1]  # new memory, rows stepping backwards like OFX images
        dst = np.empty_like(src)[::-1]
        src.setflags(write=False)
        start = time.perf_counter()
        api.process(src, dst, params)
        process_ms.append((time.perf_counter() - start) * 1000.0)
        start = time.perf_counter()
        session.run(None, {"image": tensor})
        raw_ms.append((time.perf_counter() - start) * 1000.0)
    return process_ms, raw_ms


TIMED_BACKEND = '''
"""chromaluma.api.process, timed: one line of ms per call, appended to $CHROMALUMA_BENCH_LOG."""
import os
import time

from chromaluma import api


def process(src, dst, params):
    start = time.perf_counter()
    api.process(src, dst, params)
    if src is not None:
        with open(os.environ["CHROMALUMA_BENCH_LOG"], "a") as log:
            log.write(f"{(time.perf_counter() - start) * 1000.0}\\n")
'''


def write_frames(frame: np.ndarray, workdir: Path, count: int) -> list[Path]:
    """`count` copies of `frame` as float RGBA TIFFs bench.0001.tif … (the host reads each frame from its file)."""
    from chromaluma.io.frames import FrameFormat, write_frame

    paths = [workdir / f"bench.{index:04d}.tif" for index in range(1, count + 1)]
    for path in paths:
        write_frame(path, frame, FrameFormat(".tif", "float", 32, 4))
    return paths


def _time_plugin(build: PluginBuild, model: Path, workdir: Path, frames: int) -> tuple[list[float], list[float]]:
    """Host render-call ms per frame, and the ms process() took inside each of those same calls (frames 2…)."""
    backend, inner_log = workdir / "timed_backend.py", workdir / "inner_ms.txt"
    backend.write_text(TIMED_BACKEND)
    inner_log.unlink(missing_ok=True)
    done = ofx_render(build, workdir / "bench.####.tif", workdir / "out.####.tif", {"modelFile": model},
                      frames=(1, frames), options=["--timing"],
                      env={"CHROMALUMA_PLUGIN_BACKEND": f"{backend}:process", "CHROMALUMA_BENCH_LOG": str(inner_log)})
    if done.returncode != 0:
        raise RuntimeError(f"ofx-render failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    events = [e for e in timing_events(done.stdout) if e.get("event") == "frame"]
    render_ms = [float(e["render_ms"]) for e in sorted(events, key=lambda e: e["frame"])]
    inner_ms = [float(line) for line in inner_log.read_text().split()]
    return render_ms[1:], inner_ms[1:]  # frame 1 is the warm-up (interpreter start, session creation)


def run(workdir: Path, quick: bool) -> list[BenchSection]:
    """ms/frame of the three paths on one frame (2K, or 256×384 when quick), in alternating rounds."""
    workdir.mkdir(parents=True, exist_ok=True)
    height, width = (256, 384) if quick else FRAME_2K
    repeats, rounds = (2, 1) if quick else (10, 3)
    frame = np.random.default_rng(0).random((height, width, 4), dtype=np.float32)
    frame[..., 3] = 1.0  # a film scan is opaque
    model = benchmark_model(workdir / "benchmark-chroma.onnx")
    frames = write_frames(frame, workdir, repeats + 1)
    build = find_build()
    render_ms: list[float] = []
    inner_ms: list[float] = []
    process_all: list[float] = []
    ort_all: list[float] = []
    for _ in range(rounds):
        if build is not None:
            render, inner = _time_plugin(build, model, workdir, repeats + 1)
            render_ms += render
            inner_ms += inner
        standalone, ort = _time_process(model, frames[1:])
        process_all += standalone
        ort_all += ort
    process_ms, ort_ms = statistics.median(process_all), statistics.median(ort_all)
    raw: dict[str, object] = {"frame": [width, height], "repeats": repeats, "rounds": rounds, "goal_ratio": GOAL_RATIO,
                              "process_ms": process_ms, "raw_ort_ms": ort_ms}
    notes = [f"{width}×{height} opaque float RGBA, chroma architecture (untrained), CPU, median of {repeats} frames × "
             f"{rounds} alternating rounds after a warm-up frame; plug-in time is the host's render call "
             "(`ofx-render --timing` render_ms); standalone process() gets the plug-in's params, raw ORT runs on "
             "process()'s own cached session."]
    rows: list[list[object]] = []
    if build is None:
        notes.append("ofx-render or the bundle is not built (`make build`): plug-in row skipped.")
    else:
        rows += _plugin_rows(render_ms, inner_ms, process_ms, raw, notes)
    rows.append(["chromaluma.api.process (standalone, as a host calls it)", process_ms, "1.000×"])
    rows.append(["raw ONNX Runtime session.run", ort_ms, f"{ort_ms / process_ms:.3f}×"])
    table = markdown_table(["path", "ms/frame", "vs process()"], rows)
    return [BenchSection(title="Plug-in overhead (OpenFX → Python → ONNX Runtime)", table=table, notes=notes, raw=raw)]


def _plugin_rows(render_ms: list[float], inner_ms: list[float], process_ms: float, raw: dict[str, object],
                 notes: list[str]) -> list[list[object]]:
    plugin_ms, inner = statistics.median(render_ms), statistics.median(inner_ms)
    ratio = plugin_ms / process_ms
    # Paired: the host's render call over the process() call inside it, frame by frame: what the C++ shell adds,
    # isolated from machine load (which on a shared CPU moves single timings by far more than 3 %).
    paired = statistics.median(r / i for r, i in zip(render_ms, inner_ms, strict=True))
    raw.update(plugin_ms=plugin_ms, plugin_inner_process_ms=inner, plugin_ratio=ratio, plugin_shell_ratio=paired,
               plugin_inner_vs_standalone_ratio=inner / process_ms)
    notes.append(f"goal plug-in ≤ {GOAL_RATIO}× process(): {'met' if ratio <= GOAL_RATIO else 'NOT met'} — host "
                 f"render call / standalone process(), medians: {ratio:.3f}×; the shell alone (render call / "
                 f"process() inside it, paired per frame): {paired:.4f}×.")
    return [["plug-in through ofx-render (host render call)", plugin_ms, f"{ratio:.3f}×"],
            ["… process() inside those calls", inner, f"{inner / process_ms:.3f}×"]]
