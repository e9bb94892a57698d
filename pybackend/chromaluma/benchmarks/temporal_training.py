"""Chromaluma's own rows of the temporal benchmark: train models with a temporal window, restore whole shots
through :func:`chromaluma.api.process` with each frame's neighbours, and time what a window costs.

Training pairs are written as one pairs folder (docs/CONTRACT.md §5) with one manifest shot per benchmark shot,
and the whole graded scan of every shot as the folder's `scan_source` sequence, so `chromaluma train
--temporal-radius N` finds the neighbours of a pair that are not pairs themselves (held-out frames, or the frames
between sparse keyframes) and never reaches across a shot's cut.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from chromaluma.benchmarks.quality_plan import ShotPairs
from chromaluma.benchmarks.quality_training import TrainingUnavailable
from chromaluma.benchmarks.render_timing import WARM_UP_FRAMES, steady_ms
from chromaluma.contract import read_model_contract
from chromaluma.errors import ChromalumaError
from chromaluma.synth.pairs import PNG16, frame_name, write_json, write_sequence

log = logging.getLogger(__name__)

FIRST_FRAME = 1001


@dataclass(frozen=True)
class TrainingRun:
    """One Chromaluma model to train: its label, kind, temporal radius, exposure jitter and density mode."""

    label: str
    kind: str = "chroma"
    radius: int = 0
    jitter: float = 0.0
    density: str | None = None


@dataclass
class TemporalModel:
    """An exported model, its temporal radius and how it was trained (steps, seconds: every time-limited number
    reports its steps)."""

    path: Path
    radius: int
    steps: int | None
    seconds: float

    @property
    def note(self) -> str:
        return f"{self.steps} steps in {self.seconds / 60:.1f} min"

    @property
    def steps_per_second(self) -> float | None:
        return None if not self.steps or self.seconds <= 0 else self.steps / self.seconds

    def restore_shot(self, scans: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Every frame of a shot restored with its window t−R … t+R; frames outside the shot are None (the
        backend's edge rule repeats the nearest frame of the shot)."""
        from chromaluma.api import process

        frames = [np.ascontiguousarray(scan[..., :3], dtype=np.float32) for scan in scans]
        offsets = [k for k in range(-self.radius, self.radius + 1) if k != 0]
        outputs = []
        for index, frame in enumerate(frames):
            params: dict[str, object] = {"model": str(self.path)}
            if self.radius:
                params["neighbours"] = [frames[index + k] if 0 <= index + k < len(frames) else None for k in offsets]
            out = np.empty_like(frame)
            process(frame, out, params)
            outputs.append(out)
        return outputs


def frame_ids(shots: Sequence[ShotPairs]) -> list[list[int]]:
    """The scan frame numbers of each shot in the benchmark's scan sequence: one reel, shot after shot."""
    ids, first = [], FIRST_FRAME
    for shot in shots:
        ids.append(list(range(first, first + len(shot.scans))))
        first += len(shot.scans)
    return ids


def write_shot_pairs(folder: Path, shots: Sequence[ShotPairs], pairs: Sequence[Sequence[int]]) -> Path:
    """A pairs folder of the frames `pairs[s]` of each shot s, with every shot's whole scan as its scan source."""
    from chromaluma.io import write_frame

    numbers = frame_ids(shots)
    source = folder / "scan_source"
    for shot, ids in zip(shots, numbers, strict=True):
        write_sequence(source, [scan[..., :3] for scan in shot.scans], ids)
    (folder / "scan").mkdir(parents=True, exist_ok=True)
    (folder / "reference").mkdir(parents=True, exist_ok=True)
    identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    records = []
    for number, (shot, ids, chosen) in enumerate(zip(shots, numbers, pairs, strict=True)):
        for index in chosen:
            name = frame_name(ids[index])
            write_frame(folder / "scan" / name, shot.scans[index][..., :3], PNG16)
            write_frame(folder / "reference" / name, shot.references[index][..., :3], PNG16)
            records.append({"scan": f"scan/{name}", "reference": f"reference/{name}", "mask": None,
                            "scan_frame": ids[index], "reference_frame": ids[index], "reference_fields": None,
                            "shot": number, "score": 1.0, "transform": identity})
    manifest = {"format_version": 1, "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "scan_source": str(source.resolve()), "reference_source": "benchmark",
                "parameters": {"transform": "identity", "synthetic": True},
                "shots": [{"id": number, "first_scan_frame": ids[0], "last_scan_frame": ids[-1], "transform": identity}
                          for number, ids in enumerate(numbers)],
                "pairs": records}
    write_json(folder / "manifest.json", manifest)
    return folder


class TemporalTrainer:
    """Trains the benchmark's models under `workdir`: a time budget (`minutes`) for the real run, a few steps at
    a small crop for the quick one."""

    def __init__(self, workdir: Path, quick: bool) -> None:
        self.workdir = workdir
        self.quick = quick

    def fresh_folder(self, name: str) -> Path:
        folder = self.workdir / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def pairs(self, name: str, shots: Sequence[ShotPairs], pairs: Sequence[Sequence[int]]) -> Path:
        return write_shot_pairs(self.fresh_folder(f"pairs-{name}"), shots, pairs)

    def train(self, run: TrainingRun, pairs_dir: Path, minutes: float) -> TemporalModel:
        """Train and export one model; raises TrainingUnavailable with the reason if it cannot."""
        try:
            from chromaluma.train import TrainConfig, train
        except ImportError as exc:
            raise TrainingUnavailable(f"chromaluma.train not importable ({exc})") from exc
        options = _window_options(TrainConfig, run)
        budget = {"steps": 2, "crop": 64, "batch": 1, "preview_every": 10**6} if self.quick else {"minutes": minutes}
        out = self.workdir / f"{run.label}.onnx"
        config = TrainConfig(run_dir=self.fresh_folder(f"run-{run.label}"), kind=run.kind, pairs_dir=pairs_dir,
                             out=out, device="cpu", seed=0, density=run.density, **budget, **options)
        started = time.perf_counter()
        try:
            out = Path(train(config))
        except ChromalumaError as exc:
            raise TrainingUnavailable(f"training failed: {exc}") from exc
        training = read_model_contract(out).card.get("training", {})
        steps = training.get("parameters", {}).get("steps_done")
        seconds = float(training.get("duration_s") or time.perf_counter() - started)
        model = TemporalModel(out, run.radius, steps, seconds)
        log.info("temporal: trained %s (%s)", run.label, model.note)
        return model


def _window_options(config_type: type, run: TrainingRun) -> dict[str, object]:
    """The TrainConfig fields of `train --temporal-radius` and `--exposure-jitter`, or TrainingUnavailable when
    this build's training has no such flag yet."""
    names = {f.name for f in dataclasses.fields(config_type)}
    options: dict[str, object] = {}
    for name, value, flag in (("temporal_radius", run.radius, "--temporal-radius"),
                              ("exposure_jitter", run.jitter, "--exposure-jitter")):
        if name in names:
            options[name] = value
        elif value:
            raise TrainingUnavailable(f"chromaluma train has no {flag} in this build")
    return options


def untrained_model(folder: Path, kind: str, radius: int) -> Path:
    """An untrained model of the shipped architecture with temporal radius `radius`: speed does not depend on
    what a model learned."""
    from chromaluma.export import export_model
    from chromaluma.models import DEFAULT_PROCESSING_SCALE, build_model

    card = {"kind": kind, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "software": {"purpose": "benchmark"}, "training": {"parameters": {"steps": 0}}, "metrics": {},
            "colorspace": "display"}
    model = build_model(kind, DEFAULT_PROCESSING_SCALE[kind], {"temporal_radius": radius} if radius else None)
    return export_model(model, folder / f"untrained-{kind}-r{radius}.onnx", "display", card)


def process_ms(model: Path, radius: int, width: int, height: int, frames: int) -> float:
    """Median ms/frame of :func:`chromaluma.api.process` on a `width`×`height` RGBA frame with its 2R neighbours
    (each a frame of its own) in a render's steady state, under the process's own allocator as a plug-in host
    renders (:func:`chromaluma.benchmarks.render_timing.steady_ms`; the table sets it beside the plug-in's time)."""
    from chromaluma.api import process

    rng = np.random.default_rng(0)
    window = [rng.random((height, width, 4), dtype=np.float32) for _ in range(2 * radius + 1)]
    for frame in window:
        frame[..., 3] = 1.0
    params: dict[str, object] = {"model": str(model)}
    if radius:
        params["neighbours"] = window[1:]
    out = np.empty_like(window[0])
    return steady_ms(lambda: process(window[0], out, dict(params)), frames, keep_freed=False)


# chromaluma.api.process, timed: "ms neighbours-given" per rendered frame, appended to $CHROMALUMA_BENCH_LOG
TIMED_WINDOW_BACKEND = '''
import os
import time

from chromaluma import api


def process(src, dst, params):
    start = time.perf_counter()
    report = api.process(src, dst, params)
    if src is not None:
        given = sum(frame is not None for frame in params.get("neighbours") or ())
        with open(os.environ["CHROMALUMA_BENCH_LOG"], "a") as log:
            log.write(f"{(time.perf_counter() - start) * 1000.0} {given}\\n")
    return report
'''


def plugin_ms(model: Path, workdir: Path, frames: int) -> tuple[float | None, str]:
    """Median ms/frame of a render through `ofx-render` and the OpenFX bundle at 2K (the first WARM_UP_FRAMES frames
    left out, as :func:`process_ms` leaves them), with how many neighbour frames the plug-in handed to process(); or
    None and why not."""
    from chromaluma.benchmarks.plugin import FRAME_2K, find_build, ofx_render, timing_events, write_frames

    build = find_build()
    if build is None:
        return None, "not measured: the plug-in or ofx-render is not built (make build)"
    folder = workdir / "plugin"  # one set of 2K frames for every model timed
    if not folder.is_dir():
        folder.mkdir(parents=True)
        frame = np.random.default_rng(0).random((*FRAME_2K, 4), dtype=np.float32)
        frame[..., 3] = 1.0
        write_frames(frame, folder, frames + WARM_UP_FRAMES)
    backend, inner_log = folder / "timed_window_backend.py", folder / f"inner-{model.stem}.txt"
    backend.write_text(TIMED_WINDOW_BACKEND)
    try:
        done = ofx_render(build, folder / "bench.####.tif", folder / "out.####.tif", {"modelFile": model},
                          frames=(1, frames + WARM_UP_FRAMES), options=["--timing"],
                          env={"CHROMALUMA_PLUGIN_BACKEND": f"{backend}:process",
                               "CHROMALUMA_BENCH_LOG": str(inner_log)})
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"not measured: {exc}"
    events = sorted((e for e in timing_events(done.stdout) if e.get("event") == "frame"), key=lambda e: e["frame"])
    if done.returncode != 0 or len(events) <= WARM_UP_FRAMES:
        last = (done.stderr.strip().splitlines() or [""])[-1].replace("|", "/")
        return None, f"not measured: ofx-render exit {done.returncode}: {last[:240]}"
    given = {int(line.split()[1]) for line in inner_log.read_text().splitlines()[1:]} if inner_log.is_file() else set()
    return float(np.median([float(e["render_ms"]) for e in events[WARM_UP_FRAMES:]])), \
        f"plug-in handed process() {'/'.join(str(g) for g in sorted(given)) or '?'} neighbour frames"
