"""Inference speed and memory (`make bench`, area `inference`): raw ONNX Runtime vs `api.process`.

For a chroma and a luma model of the shipped architectures (chromaluma.models, exported by chromaluma.export;
weights are untrained, which does not change speed): ms/frame of raw `session.run` on a prepared tensor, ms/frame
of `api.process` on a host-layout view (float32 RGBA, rows bottom-up as an OFX host stores them: a negative row
stride), their ratio (goal ≤ 1.05) and fps; then the memory `process()` adds for 4K and 8K frames: in a fresh process
the host's frames are allocated and written (resident), the peak RSS is reset (`/proc/self/clear_refs`), one
`process()` runs, and the peak RSS over that baseline is its memory (ONNX Runtime's allocations included).
Raw ORT and `process()` runs alternate, so machine load moves both alike (the paired ratio is the median of
each pair's ratio).
Where a CUDA provider is present the speed table is repeated on the GPU, labelled with its name.
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma import api
from chromaluma.backend.session import CUDA, load_session
from chromaluma.benchmarks import BenchSection, markdown_table, pixel_paths

log = logging.getLogger(__name__)

SPEED_SIZES = ((1920, 1080), (2048, 1556))
MEMORY_SIZES = (("4K", 4096, 3112), ("8K", 7680, 4320))
QUICK_SIZES = ((96, 64),)
KINDS = ("chroma", "luma")
GOALS = "process() ≤ 1.05× raw ORT; 2K chroma ≥ 8 fps and 2K luma ≤ 1 s/frame on 2 CPU cores"


def benchmark_models(folder: Path) -> dict[str, Path]:
    """Export one model per kind with the default architecture (untrained weights) into `folder`."""
    import torch

    from chromaluma import export, models
    from chromaluma.backend.render_log import software_versions, utc_now

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind in KINDS:
        torch.manual_seed(0)
        module = models.build_model(kind, models.DEFAULT_PROCESSING_SCALE[kind])
        card = {"kind": kind, "created": utc_now(), "software": software_versions(),
                "training": {"note": "benchmark model: default architecture, untrained weights"}, "metrics": {}}
        paths[kind] = export.export_model(module, folder / f"bench-{kind}.onnx", "display", card)
    return paths


def _timed_ms(action: Any) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000.0


def host_view(frame: np.ndarray) -> np.ndarray:
    """`frame` stored bottom-up and viewed top-down with a negative row stride, as the plug-in hands it over."""
    stored = np.ascontiguousarray(frame[::-1])
    return stored[::-1]


def speed_rows(model_paths: dict[str, Path], sizes: tuple[tuple[int, int], ...], device: str,
               repeats: int) -> list[dict[str, Any]]:
    """Raw ORT vs process() timings for each model and frame size on `device`, runs alternating."""
    rng = np.random.default_rng(0)
    rows = []
    for kind, path in model_paths.items():
        session = load_session(path, device)
        for width, height in sizes:
            frame = rng.random((height, width, 4), dtype=np.float32)
            frame[..., 3] = 1.0
            tensor = np.ascontiguousarray(frame[np.newaxis])
            src, dst = host_view(frame), host_view(np.zeros_like(frame))
            params = {"model": str(path), "device": device}

            def raw_run(t: np.ndarray = tensor, s: Any = session) -> None:
                s.session.run(None, {"image": t})

            def process_run(s: np.ndarray = src, d: np.ndarray = dst, p: dict[str, Any] = params) -> None:
                api.process(s, d, p)

            raw_run()  # warm-up: first runs allocate ORT's arena and pick kernels
            report = api.process(src, dst, params)
            pairs = [(_timed_ms(raw_run), _timed_ms(process_run)) for _ in range(repeats)]
            raw = statistics.median(r for r, _ in pairs)
            processed = statistics.median(p for _, p in pairs)
            rows.append({"kind": kind, "width": width, "height": height, "provider": session.provider,
                         "raw_ms": raw, "process_ms": processed,
                         "ratio": processed / raw, "paired_ratio": statistics.median(p / r for r, p in pairs),
                         "fps": 1000.0 / processed, "pixel_path": report.pixel_path or ""})
            log.info("inference %s %dx%d on %s: raw %.1f ms, process %.1f ms (%s)", kind, width, height,
                     session.provider, raw, processed, report.pixel_path)
    return rows


_MEMORY_PROBE = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from chromaluma import api

    def status_kib(key):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(key + ":"))

    model, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    params = {"model": model, "device": "cpu"}
    api.process(None, None, params)  # session creation is not a per-frame cost
    stored = np.random.default_rng(0).random((height, width, 4), dtype=np.float32)  # the host's frames, resident
    stored[..., 3] = 1.0
    output = np.full_like(stored, 0.25)
    src, dst = stored[::-1], output[::-1]  # bottom-up rows, as the plug-in hands them over
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # reset VmHWM (the peak) to the current RSS
        method = "VmHWM reset by /proc/self/clear_refs"
    except OSError:
        method = "VmHWM not resettable: peak since start"
    baseline = status_kib("VmRSS")
    start = time.perf_counter()
    api.process(src, dst, params)
    seconds = time.perf_counter() - start
    peak = status_kib("VmHWM")
    print(json.dumps({"baseline_bytes": baseline * 1024, "peak_bytes": peak * 1024, "seconds": seconds,
                      "frames_bytes": stored.nbytes + output.nbytes, "method": method}))
""")


def memory_rows(model_paths: dict[str, Path], sizes: tuple[tuple[str, int, int], ...]) -> list[dict[str, Any]]:
    """Peak RSS growth of one process() call per model and size over the host's frames, each in a fresh process."""
    rows = []
    for kind, path in model_paths.items():
        for label, width, height in sizes:
            result = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(path), str(width), str(height)],
                                    capture_output=True, text=True, check=False, timeout=1800)
            if result.returncode != 0:
                rows.append({"kind": kind, "size": label, "error": result.stderr.strip().splitlines()[-1:]})
                continue
            probe = json.loads(result.stdout.strip().splitlines()[-1])
            rows.append({"kind": kind, "size": label, "width": width, "height": height,
                         "growth_mib": (probe["peak_bytes"] - probe["baseline_bytes"]) / 2**20,
                         "frames_mib": probe["frames_bytes"] / 2**20, "seconds": probe["seconds"],
                         "method": probe["method"]})
    return rows


def gpu_label() -> str | None:
    """The CUDA GPU's name (nvidia-smi), or None when ONNX Runtime has no CUDA provider."""
    import onnxruntime as ort

    if CUDA not in ort.get_available_providers():
        return None
    try:
        query = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                               text=True, check=False, timeout=20)
        return query.stdout.strip().splitlines()[0] if query.returncode == 0 and query.stdout.strip() else "CUDA GPU"
    except (OSError, subprocess.SubprocessError):
        return "CUDA GPU"


def _speed_section(title: str, rows: list[dict[str, Any]]) -> BenchSection:
    table = markdown_table(
        ["model", "frame", "provider", "raw ORT ms", "process() ms", "ratio", "paired ratio", "fps"],
        [[r["kind"], f"{r['width']}×{r['height']}", r["provider"].replace("ExecutionProvider", ""),
          round(r["raw_ms"], 1), round(r["process_ms"], 1), f"{r['ratio']:.3f}", f"{r['paired_ratio']:.3f}",
          round(r["fps"], 2)] for r in rows])
    paths = ", ".join(sorted({r["pixel_path"] for r in rows if r.get("pixel_path")})) or "not reported"
    return BenchSection(title, table, notes=[f"Goals: {GOALS}.", "process(): float32 RGBA host view with a negative "
                                             "row stride (OFX rows bottom-up), whole frame in one tile (automatic); "
                                             "raw ORT: the file's model on a prepared top-down tensor, same outputs; "
                                             "raw ORT and process() runs alternate; ratio = median process() / "
                                             "median raw; paired ratio = median of each pair's ratio.",
                                             f"Pixel path process() took (RenderReport.pixel_path, docs/CONTRACT.md "
                                             f"§1.1): {paths}."],
                        raw={"rows": rows})


def run(workdir: Path, quick: bool) -> list[BenchSection]:
    """The inference area of BENCHMARKS.md; quick=True is a seconds-long smoke run at tiny sizes."""
    paths = benchmark_models(workdir / "models")
    sizes = QUICK_SIZES if quick else SPEED_SIZES
    repeats = 1 if quick else 7
    sections = [_speed_section("Inference speed (CPU)", speed_rows(paths, sizes, "cpu", repeats)),
                pixel_paths.run(paths["chroma"], quick)]
    gpu = gpu_label()
    if gpu is not None:
        sections.append(_speed_section(f"Inference speed (GPU: {gpu})", speed_rows(paths, sizes, "gpu", repeats)))
    memory = memory_rows(paths, (("tiny", 128, 96),) if quick else MEMORY_SIZES)
    table = markdown_table(
        ["model", "frame", "host frames (src + dst) MiB", "peak RSS growth during process() MiB", "seconds"],
        [[r["kind"], r["size"], round(r.get("frames_mib", float("nan")), 1),
          round(r.get("growth_mib", float("nan")), 1), round(r.get("seconds", float("nan")), 2)] for r in memory])
    methods = sorted({r["method"] for r in memory if "method" in r})
    sections.append(BenchSection("Inference memory (CPU, automatic tiling)", table,
                                 notes=["Goal: an 8K frame needs no more than ~2 GB beyond the host's own frames.",
                                        "Frames above 2048×2048 pixels are processed in 1024-pixel tiles.",
                                        "Fresh process per row: host frames allocated and written first, then the "
                                        f"peak RSS over that baseline during one process() ({'; '.join(methods)})."],
                                 raw={"rows": memory}))
    return sections
