"""Chromaluma's own rows of the keyframe benchmark: the benchmark's shots written as one scan reel with its painted
keyframes, models trained on them with :func:`chromaluma.train.train`, frames rendered through
:func:`chromaluma.api.process` (the path the plug-in and `chromaluma apply` take), and the 2K render timed.

The reel is every shot's grey scan, shot after shot, numbered from FIRST_FRAME (`scan/01001.png`, …); the painted
keyframes are named by their frame number in that reel (`keyframes/01001.png`), as a restorer's folder would be.
The per-frame model is trained on the same keyframes as pairs (scan keyframe → painted keyframe).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chromaluma.benchmarks.keyframes_plan import KeyframeShot
from chromaluma.benchmarks.quality_training import TrainingUnavailable
from chromaluma.benchmarks.render_timing import steady_ms
from chromaluma.benchmarks.temporal_training import TemporalModel
from chromaluma.contract import read_model_contract
from chromaluma.errors import ChromalumaError
from chromaluma.synth.pairs import PNG16, write_pairs, write_sequence

log = logging.getLogger(__name__)

FIRST_FRAME = 1001
QUICK_BUDGET = {"crop": 64, "batch": 1, "preview_every": 10**6}  # and one step per budgeted minute, at least 2


def reel_numbers(shots: Sequence[KeyframeShot]) -> list[list[int]]:
    """Each shot's frame numbers in the reel: one reel, shot after shot."""
    numbers, first = [], FIRST_FRAME
    for shot in shots:
        numbers.append(list(range(first, first + len(shot.scans))))
        first += len(shot.scans)
    return numbers


def write_reel(folder: Path, shots: Sequence[KeyframeShot]) -> tuple[Path, Path, Path]:
    """The grey scan reel, the painted keyframes folder and the keyframe pairs folder under `folder`."""
    scan, keyframes, pairs = folder / "scan", folder / "keyframes", folder / "pairs"
    painted, scanned, ids = [], [], []
    for shot, numbers in zip(shots, reel_numbers(shots), strict=True):
        write_sequence(scan, [frame[..., :3] for frame in shot.scans], numbers)
        for index in shot.keyframes:
            painted.append(shot.truth[index])
            scanned.append(shot.scans[index])
            ids.append(numbers[index])
    write_sequence(keyframes, painted, ids, PNG16)
    write_pairs(pairs, scanned, painted, ids, source="benchmark")
    log.info("keyframes: wrote the reel (%d frames) and %d painted keyframes", sum(len(s.scans) for s in shots),
             len(ids))
    return scan, keyframes, pairs


class KeyframeTrainer:
    """Trains the benchmark's models under `workdir`: a budget in minutes for the real run, a few steps at a small
    crop for the quick one. Every time-limited model reports its steps."""

    def __init__(self, workdir: Path, quick: bool) -> None:
        self.workdir = workdir
        self.quick = quick

    def _fresh(self, name: str) -> Path:
        folder = self.workdir / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def train(self, label: str, kind: str, minutes: float, data: dict[str, object]) -> TemporalModel:
        """Train and export one model; raises TrainingUnavailable with the reason if it cannot."""
        try:
            from chromaluma.train import TrainConfig, train
        except ImportError as exc:
            raise TrainingUnavailable(f"chromaluma.train not importable ({exc})") from exc
        names = {f.name for f in dataclasses.fields(TrainConfig)}
        missing = [name for name in data if name not in names]
        if missing:
            raise TrainingUnavailable(f"chromaluma train has no {', '.join(missing)} in this build")
        budget = {**QUICK_BUDGET, "steps": max(2, round(minutes))} if self.quick else {"minutes": minutes}
        out = self.workdir / f"{label}.onnx"
        try:
            config = TrainConfig(run_dir=self._fresh(f"run-{label}"), kind=kind, out=out, device="cpu", seed=0,
                                 **budget, **data)
            started = time.perf_counter()
            out = Path(train(config, progress=False))
        except ChromalumaError as exc:
            raise TrainingUnavailable(f"training failed: {str(exc).splitlines()[0]}") from exc
        training = read_model_contract(out).card.get("training", {})
        steps = training.get("parameters", {}).get("steps_done")
        model = TemporalModel(out, 0, steps, float(training.get("duration_s") or time.perf_counter() - started))
        log.info("keyframes: trained %s (%s)", label, model.note)
        return model

    def per_frame(self, pairs: Path, minutes: float) -> TemporalModel:
        """Today's per-frame colour model (chroma, scan luma kept) trained on the keyframe pairs."""
        return self.train(f"chroma-{minutes:g}min", "chroma", minutes, {"pairs_dir": pairs, "density": "keep"})

    def keyframe_model(self, scan: Path, keyframes: Path, minutes: float) -> TemporalModel:
        """The keyframe kind trained on the reel and its painted keyframes (`train --kind keyframes`)."""
        return self.train(f"keyframes-{minutes:g}min", "keyframes", minutes, {"input": scan, "keyframes": keyframes})


def render(model: Path, scan: np.ndarray, keyframes: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """One frame through :func:`chromaluma.api.process`; `keyframes` (two, registered) for a keyframe model."""
    from chromaluma.api import process

    rgb = np.ascontiguousarray(scan[..., :3], dtype=np.float32)
    params: dict[str, object] = {"model": str(model)}
    if keyframes is not None:
        params["keyframes"] = [np.ascontiguousarray(k[..., :3], dtype=np.float32) for k in keyframes]
    out = np.empty_like(rgb)
    process(rgb, out, params)
    return out


TIMING_SHOT = "chelsea"  # the timed frames: a panning shot of this photograph, frame 6 between keyframes 0 and 12


def render_ms(model: Path, width: int, height: int, frames: int) -> float:
    """Median ms/frame of :func:`chromaluma.api.process` on a `width`×`height` RGBA frame of a panning shot with its
    two keyframes (6 frames either side: a format-6 model's keyframes are moved along real motion, and optical flow
    on noise would time a picture no film holds), in a render's steady state
    (:func:`chromaluma.benchmarks.render_timing.steady_ms`)."""
    from chromaluma.api import process
    from chromaluma.synth.shots import CameraMove, photo_shot

    shot = photo_shot(TIMING_SHOT, 13, width, height, CameraMove("pan"), seed=0)
    frame, *keyframes = [np.concatenate([shot[i][..., :3], np.ones((height, width, 1), np.float32)], axis=-1)
                         for i in (6, 0, 12)]
    out = np.empty_like(frame)
    return steady_ms(lambda: process(frame, out, {"model": str(model), "keyframes": keyframes}), frames)
