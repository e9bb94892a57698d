"""Plug-in soak: many frames on many threads through `ofx-render`, two instances with different models at once.

A host renders a long shot with several render threads, often with more than one Chromaluma node in the script.
The soak renders every frame on both instances from one pool of `ofx-render --threads` workers (renders of the
two instances interleave frame by frame), samples the host process's resident memory after every render
(`ofx-render --memory-log`) and reports whether it stays flat once warmed up: interpreter start, model sessions
and the allocator's per-thread arenas are paid in the first frames; anything that grows afterwards in proportion
to the frames rendered is a leak.

Also the helpers the soak test shares (`run_soak`, `memory_growth_mib`, `leak_kib_per_render`).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.benchmarks import BenchSection, markdown_table
from chromaluma.benchmarks.plugin import PluginBuild, find_build, ofx_render, timing_events

log = logging.getLogger(__name__)

FRAME_2K = (1080, 2048)  # H, W (DCI 2K)
THREADS = 8
FRAMES = 200  # per instance, as the soak test renders (at 64×48)
WARMUP_FRAMES = 50  # per instance: frames after which resident memory must stay flat
WINDOW = 20  # renders whose median resident memory stands for a point of the curve (robust to one busy moment)


@dataclass(frozen=True)
class SoakRun:
    """What one soak gave: the host's exit status and messages, its --timing events and --memory-log samples."""

    returncode: int
    stderr: str
    events: list[dict[str, Any]]
    samples: list[dict[str, Any]]
    wall_s: float

    @property
    def renders(self) -> list[dict[str, Any]]:
        """The memory samples taken after each render, in the order the renders finished."""
        return [s for s in self.samples if s.get("stage") == "render"]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == "frame" and e.get("status") != "ok"]

    def summary(self) -> dict[str, Any]:
        found = [e for e in self.events if e.get("event") == "summary"]
        return found[-1] if found else {}


def run_soak(build: PluginBuild, source: Path, models: Sequence[Path], frames: int, workdir: Path, *,
             outputs: Sequence[Path] | None = None, threads: int = THREADS, env: dict[str, str] | None = None,
             timeout: float = 3600.0) -> SoakRun:
    """Render frames 1…`frames` of `source` once per model, each model on its own instance, all from one pool of
    `threads` workers; `outputs` (one pattern per model) keeps the frames, None renders without writing them."""
    memory_log = workdir / "memory.jsonl"
    options = ["--threads", str(threads), "--instances", str(len(models)), "--timing", "--memory-log", str(memory_log)]
    for instance, model in enumerate(models[1:], start=1):
        options += ["--instance-param", f"{instance}:modelFile={model}"]
    if outputs is None:
        options.append("--discard-output")
        first_output = workdir / "discarded.####.tif"  # named only: nothing is written under it
    else:
        first_output = outputs[0]
        for instance, pattern in enumerate(outputs[1:], start=1):
            options += ["--instance-output", f"{instance}:{pattern}"]
    started = time.perf_counter()
    done = ofx_render(build, source, first_output, {"modelFile": models[0]}, frames=(1, frames), options=options,
                      env=env, timeout=timeout)
    wall_s = time.perf_counter() - started
    samples = [json.loads(line) for line in memory_log.read_text().splitlines()] if memory_log.is_file() else []
    return SoakRun(done.returncode, done.stderr, timing_events(done.stdout), samples, wall_s)


def resident_mib(samples: Sequence[dict[str, Any]]) -> np.ndarray:
    """Resident memory (MiB) of each sample."""
    return np.array([float(s["rss_kib"]) / 1024.0 for s in samples])


def steady_mib(run: SoakRun, warmup_renders: int, threads: int = THREADS) -> np.ndarray:
    """Resident memory (MiB) after each render between warm-up and the last `threads` renders: those finish while
    the workers run out of frames, with fewer frames in flight, so their drop would hide growth."""
    return resident_mib(run.renders)[warmup_renders:-threads]


def memory_growth_mib(run: SoakRun, warmup_renders: int, window: int = WINDOW, threads: int = THREADS) -> float:
    """Resident memory growth after warm-up: over the steady renders (:func:`steady_mib`), the median of the last
    `window` samples minus the median of the first `window` (medians: one sample taken while several frames are in
    flight must not decide)."""
    rss = steady_mib(run, warmup_renders, threads)
    if len(rss) < 2 * window:
        raise ValueError(f"{len(run.renders)} render samples: too few for {warmup_renders} warm-up renders, "
                         f"{threads} at the end and two windows of {window}; render more frames")
    return float(np.median(rss[-window:]) - np.median(rss[:window]))


def leak_kib_per_render(run: SoakRun, warmup_renders: int, threads: int = THREADS) -> float:
    """The least-squares slope of resident memory over the steady renders (:func:`steady_mib`), KiB per render."""
    rss = steady_mib(run, warmup_renders, threads)
    if len(rss) < 2:
        return 0.0
    slope = np.polyfit(np.arange(len(rss), dtype=np.float64), rss, 1)[0]
    return float(slope * 1024.0)


def soak_models(workdir: Path) -> list[Path]:
    """Two untrained models of the shipped architectures, chroma and luma: memory does not depend on training."""
    from datetime import datetime, timezone

    from chromaluma.export import export_model
    from chromaluma.models import build_model

    paths = []
    for kind, scale in (("chroma", 0.25), ("luma", 1.0)):
        card = {"kind": kind, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "software": {"purpose": "soak benchmark"}, "training": {"parameters": {"steps": 0}}, "metrics": {},
                "colorspace": "display"}
        paths.append(export_model(build_model(kind, scale), workdir / f"soak-{kind}.onnx", "display", card))
    return paths


def write_shot(workdir: Path, size: tuple[int, int], frames: int, distinct: int = 4) -> Path:
    """`frames` float RGBA frames soak.0001.tif …: `distinct` different scans, linked in turn (a long shot of 2K
    frames would otherwise fill the disk); returns the pattern."""
    from chromaluma.io.frames import FrameFormat, write_frame

    rng = np.random.default_rng(0)
    scans = []
    for index in range(distinct):
        scan = rng.random((*size, 4), dtype=np.float32)
        scan[..., 3] = 1.0  # a film scan is opaque
        scans.append(workdir / f"scan{index}.tif")
        write_frame(scans[-1], scan, FrameFormat(".tif", "float", 32, 4))
    for frame in range(1, frames + 1):
        link = workdir / f"soak.{frame:04d}.tif"
        link.unlink(missing_ok=True)
        os.symlink(scans[(frame - 1) % distinct].name, link)
    return workdir / "soak.####.tif"


def plot_curve(run: SoakRun, warmup_renders: int, path: Path, title: str) -> Path | None:
    """Resident memory over renders, warm-up shaded; None when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed: no soak memory plot")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rss = resident_mib(run.renders)
    figure, axes = plt.subplots(figsize=(8, 4))
    axes.plot(np.arange(1, len(rss) + 1), rss, linewidth=1.0, color="tab:blue", label="resident memory (VmRSS)")
    axes.axvspan(0, warmup_renders, color="0.9", label="warm-up")
    axes.set_xlabel("renders finished (both instances)")
    axes.set_ylabel("MiB")
    axes.set_ylim(0, max(float(rss.max()) * 1.1, 1.0))
    axes.set_title(title)
    axes.legend(loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def run(workdir: Path, quick: bool) -> list[BenchSection]:
    """The soak at 2K (200 frames per instance; when quick, 80 frames of 128×96) on 8 threads, two instances
    (chroma, luma) at once."""
    workdir.mkdir(parents=True, exist_ok=True)
    build = find_build()
    if build is None:
        raise RuntimeError("ofx-render or Chromaluma.ofx.bundle is not built: run `make build` (or set "
                           "CHROMALUMA_BUILD_DIR)")
    height, width = (96, 128) if quick else FRAME_2K
    frames = WARMUP_FRAMES + 2 * WINDOW if quick else FRAMES
    models = soak_models(workdir)
    source = write_shot(workdir, (height, width), frames)
    soak = run_soak(build, source, models, frames, workdir)
    if soak.returncode != 0:
        raise RuntimeError(f"ofx-render soak failed ({soak.returncode}): {soak.stderr.strip()[-2000:]}")
    warmup = WARMUP_FRAMES * len(models)
    title = f"ofx-render soak: {width}×{height}, {THREADS} threads, 2 instances"
    plot = plot_curve(soak, warmup, workdir / "plots" / f"soak_memory{'_quick' if quick else ''}.png", title)
    return [_section(soak, frames, (width, height), warmup, [plot] if plot else [])]


def _section(soak: SoakRun, frames: int, size: tuple[int, int], warmup: int, plots: list[Path]) -> BenchSection:
    rss, steady = resident_mib(soak.renders), steady_mib(soak, warmup)
    setup = resident_mib([s for s in soak.samples if s.get("stage") == "setup"])
    render_ms = [float(e["render_ms"]) for e in soak.events if e.get("event") == "frame"]
    growth, slope = memory_growth_mib(soak, warmup), leak_kib_per_render(soak, warmup)
    renders = len(rss)
    raw: dict[str, object] = {
        "frame": list(size), "frames": frames, "instances": 2, "threads": THREADS, "renders": renders,
        "failed": len(soak.failed), "wall_s": soak.wall_s, "renders_per_s": renders / soak.wall_s,
        "render_ms_median": statistics.median(render_ms), "rss_setup_mib": float(setup[0]) if len(setup) else None,
        "rss_after_warmup_mib": float(np.median(steady[:WINDOW])), "rss_end_mib": float(np.median(steady[-WINDOW:])),
        "rss_peak_mib": float(rss.max()), "growth_after_warmup_mib": growth, "slope_kib_per_render": slope,
        "curve_mib": [round(float(v), 2) for v in rss[:: max(1, renders // 200)]]}
    rows = [["renders (2 instances × frames), failed", f"{renders}, {len(soak.failed)}"],
            ["wall time, renders/s", f"{soak.wall_s:.0f} s, {renders / soak.wall_s:.2f}"],
            [f"render call, median ms ({THREADS} in flight)", f"{statistics.median(render_ms):.0f}"],
            ["resident after setup (MiB)", f"{setup[0]:.0f}" if len(setup) else "?"],
            [f"resident after warm-up ({warmup} renders), MiB", f"{raw['rss_after_warmup_mib']:.0f}"],
            [f"resident at the end (before the last {THREADS} renders), MiB", f"{raw['rss_end_mib']:.0f}"],
            ["peak resident, MiB", f"{rss.max():.0f}"],
            ["growth after warm-up, MiB", f"{growth:+.1f}"],
            ["trend after warm-up, KiB/render", f"{slope:+.1f}"]]
    notes = [f"{size[0]}×{size[1]} opaque float RGBA frames (4 distinct scans in turn), "
             f"`ofx-render --threads {THREADS} --instances 2`: instance 0 runs an untrained chroma model, "
             "instance 1 an untrained luma model, both on every frame, interleaved on one worker pool; frames are "
             "rendered and converted but not written (`--discard-output`); CPU. Resident memory is the host "
             f"process's VmRSS after every render (`--memory-log`); after-warm-up and end values are medians of "
             f"{WINDOW} samples; the last {THREADS} renders are left out (workers running out of frames hold fewer "
             "frames in flight)."]
    return BenchSection(title="Plug-in soak (threads × instances, resident memory)",
                        table=markdown_table(["measure", "value"], rows), notes=notes, plots=plots, raw=raw)
