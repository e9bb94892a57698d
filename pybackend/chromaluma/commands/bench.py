"""`chromaluma bench` (and `make bench` → scripts/bench.py): run every benchmark area, write BENCHMARKS.md.

Areas are the modules `chromaluma.benchmarks.<area>` (`benchmarks.report.AREAS`: training, inference, plugin,
alignment, quality, temporal, keyframes, repair, soak), each with `run(workdir, quick) -> list[BenchSection]`, each
in its own scratch folder `WORKDIR/<area>`, emptied before the area runs (a second `make bench` must never trip over the
first one's run or pairs folders). An area that is missing or fails is reported as such, with its error, and the
others still run; any failed area makes the command exit 1, so a broken benchmark is visible. The report states
the exact command, the machine (CPU model, cores, RAM, GPU) and software versions; plots are copied next to it
(default `docs/bench/`) and the raw numbers saved as JSON. On an existing report, `--only AREA` replaces only those
areas' parts and keeps the others, each part naming the date and command that produced it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from chromaluma.benchmarks import BenchSection
from chromaluma.benchmarks.report import AREAS, NO_GPU, AreaResult, timestamp
from chromaluma.errors import ParameterError
from chromaluma.io.atomic import replace_atomically, write_json_atomically, write_text_atomically

HELP = "run the speed and quality benchmarks and write BENCHMARKS.md (tables, plots, machine, versions)"
log = logging.getLogger(__name__)

AreaRunner = Callable[[Path, bool], list[BenchSection]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"), help="report to write")
    parser.add_argument("--only", default="",
                        help=f"comma-separated areas to run (of {', '.join(AREAS)}); an existing --out report keeps "
                             "the other areas' parts")
    parser.add_argument("--quick", action="store_true", help="smoke-sized run (seconds, not the real numbers)")
    parser.add_argument("--workdir", type=Path, default=Path("build/bench"),
                        help="scratch folder for runs (each area's subfolder is emptied when that area starts)")
    parser.add_argument("--plots-dir", type=Path, default=None,
                        help="where plots are copied (default: docs/bench next to the report)")


def selected_areas(only: str) -> list[str]:
    """The areas named by `--only` (all when empty), checked against AREAS."""
    if not only.strip():
        return list(AREAS)
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in AREAS]
    if unknown:
        raise ParameterError(f"--only {only!r}: unknown area(s) {', '.join(unknown)}; choose from {', '.join(AREAS)}.")
    return names


def area_runner(area: str) -> AreaRunner | None:
    """`chromaluma.benchmarks.<area>.run`, or None when that area's module does not exist (yet)."""
    try:
        module = importlib.import_module(f"chromaluma.benchmarks.{area}")
    except ModuleNotFoundError as exc:
        if exc.name == f"chromaluma.benchmarks.{area}":
            return None
        raise
    return module.run


def run_area(area: str, runner: AreaRunner | None, workdir: Path, quick: bool) -> AreaResult:
    """Run one area; never raises: a failure becomes an AreaResult with status 'failed' and the error."""
    if runner is None:
        return AreaResult(area, status="missing", error=f"chromaluma.benchmarks.{area} does not exist yet")
    log.info("bench: %s …", area)
    started = time.perf_counter()
    try:
        sections = list(runner(fresh_area_folder(workdir / area), quick))
    except Exception as exc:  # noqa: BLE001 — one area's failure is reported and the other areas still run
        log.error("bench: %s failed: %s", area, exc)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return AreaResult(area, status="failed", error=detail, seconds=time.perf_counter() - started)
    seconds = time.perf_counter() - started
    log.info("bench: %s done in %.0f s (%d sections)", area, seconds, len(sections))
    return AreaResult(area, sections, seconds=seconds)


def fresh_area_folder(folder: Path) -> Path:
    """`folder` emptied (scratch of an earlier run removed) and created."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def run_benchmarks(areas: Sequence[str], workdir: Path, quick: bool,
                   runners: dict[str, AreaRunner | None] | None = None) -> list[AreaResult]:
    """Run the areas in order; `runners` overrides the module lookup (tests)."""
    results = []
    for area in areas:
        runner = runners[area] if runners is not None and area in runners else area_runner(area)
        results.append(run_area(area, runner, workdir, quick))
    return results


def run(args: argparse.Namespace) -> int:
    areas = selected_areas(args.only)
    command = getattr(args, "command_line", None) or "chromaluma bench " + shlex.join(sys.argv[2:])
    results = run_benchmarks(areas, args.workdir, args.quick)
    plots_dir = args.plots_dir or args.out.parent / "docs" / "bench"
    write_report(args.out, results, command, args.quick, plots_dir)
    failed = [r.area for r in results if r.status == "failed"]
    log.info("bench: wrote %s (%d areas, %d failed)", args.out, len(results), len(failed))
    return 1 if failed else 0


def write_report(out: Path, results: Sequence[AreaResult], command: str, quick: bool, plots_dir: Path) -> None:
    """BENCHMARKS.md (atomically), plots copied into `plots_dir`, raw numbers in `plots_dir/results.json`.

    When `out` exists, the areas not in `results` keep their parts of it (and of results.json) as they were,
    each with the date and command that produced it; the header and machine table are this run's.
    """
    from chromaluma.benchmarks.report import render_markdown

    plots_dir.mkdir(parents=True, exist_ok=True)
    for result in results:
        for section in result.sections:
            section.plots = [_copy_plot(plot, plots_dir) for plot in section.plots if Path(plot).is_file()]
    machine = describe_machine()
    earlier = out.read_text(encoding="utf-8") if out.is_file() else ""
    text = render_markdown(results, command, quick, machine, out.parent, earlier)
    write_text_atomically(out, text)
    ran = {r.area for r in results}
    raw_path = plots_dir / "results.json"
    kept = [a for a in _earlier_raw_areas(raw_path) if a.get("area") not in ran and a.get("area") in AREAS]
    fresh = [{"area": r.area, "status": r.status, "error": r.error, "seconds": r.seconds, "command": command,
              "generated": timestamp(), "quick": quick,
              "sections": [{"title": s.title, "raw": s.raw} for s in r.sections]} for r in results]
    areas = sorted(kept + fresh, key=lambda a: AREAS.index(a["area"]) if a["area"] in AREAS else len(AREAS))
    raw = {"command": command, "quick": quick, "machine": machine, "areas": areas}
    write_json_atomically(raw_path, json.loads(json.dumps(raw, default=str)))


def _earlier_raw_areas(path: Path) -> list[dict[str, object]]:
    """The areas of an earlier results.json (each stamped with its run's command if it lacks its own)."""
    if not path.is_file():
        return []
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        log.warning("bench: %s unreadable (%s); its other areas are not kept", path, exc)
        return []
    return [{"command": earlier.get("command"), "quick": earlier.get("quick"), **area}
            for area in earlier.get("areas", []) if isinstance(area, dict)]


def _copy_plot(plot: Path, plots_dir: Path) -> Path:
    target = plots_dir / Path(plot).name
    return replace_atomically(target, lambda tmp: shutil.copyfile(plot, tmp))


def describe_machine() -> dict[str, str]:
    """CPU model, cores, RAM, GPU, OS, and the versions of everything that affects the numbers."""
    machine = {"cpu": _cpu_model(), "cores": str(os.cpu_count()), "ram": _ram(), "gpu": gpu_description(),
               "os": platform.platform(), "python": platform.python_version(), "git commit": _git_commit()}
    for package in ("chromaluma", "numpy", "torch", "onnx", "onnxruntime", "OpenImageIO", "cv2", "skimage"):
        try:
            module = importlib.import_module(package)
            machine[package] = str(getattr(module, "__version__", getattr(module, "VERSION", "?")))
        except ImportError:
            machine[package] = "not installed"
    try:
        import onnxruntime

        machine["onnxruntime providers"] = ", ".join(onnxruntime.get_available_providers())
    except ImportError:
        pass
    return machine


def gpu_description() -> str:
    """The CUDA GPU's model, or the label GPU rows carry when none is present."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return NO_GPU


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _git_commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                              check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=10, check=False)
    except OSError:
        return "unknown"
    return done.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else "") or "unknown"
