"""Chromaluma's own rows of the repair benchmark: the training shot written as a scan sequence, repair models
trained on it with :func:`chromaluma.train.train` (`train --kind repair --input SCAN --minutes N`), held-out
frames repaired through :func:`chromaluma.api.process_frame` with the applied matte (the path `chromaluma apply
--matte` takes), and the 2K render timed.

Every time-limited model reports its steps (:class:`TrainedRepair`).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chromaluma.benchmarks.render_timing import steady_ms
from chromaluma.benchmarks.repair_plan import SENSITIVITY
from chromaluma.contract import read_model_contract
from chromaluma.errors import ChromalumaError
from chromaluma.synth.pairs import PNG16, write_sequence

log = logging.getLogger(__name__)

REPAIR_KIND = "repair"
DEFAULT_RADIUS = 2  # `train --kind repair`'s default --temporal-radius
FIRST_FRAME = 1001
QUICK_BUDGET = {"crop": 48, "batch": 1, "preview_every": 10**6}

# one frame: (frame, applied matte HW)
Repair = Callable[[Sequence[np.ndarray], int], tuple[np.ndarray, np.ndarray]]


def write_scan(folder: Path, frames: Sequence[np.ndarray]) -> Path:
    """The training shot as a 16-bit scan sequence `folder/01001.png`, … (what `--input` reads)."""
    write_sequence(folder, [frame[..., :3] for frame in frames], list(range(FIRST_FRAME, FIRST_FRAME + len(frames))),
                   PNG16)
    return folder


@dataclass(frozen=True)
class TrainedRepair:
    """An exported repair model and how long it trained (every time-limited number reports its steps)."""

    path: Path
    steps: int | None
    seconds: float

    @property
    def note(self) -> str:
        return f"{self.steps} steps in {self.seconds / 60:.1f} min"


class RepairTrainer:
    """Trains the benchmark's repair models under `workdir`: `minutes` of CPU for the real run, `steps` at a small
    crop for the quick one."""

    def __init__(self, workdir: Path, steps: int | None = None) -> None:
        self.workdir = workdir
        self.steps = steps

    def _fresh(self, name: str) -> Path:
        folder = self.workdir / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def train(self, scan: Path, minutes: float) -> TrainedRepair:
        """`train --kind repair --input scan --minutes minutes` and export; TrainingUnavailable (a ChromalumaError)
        with the reason if this build cannot."""
        from chromaluma.benchmarks.quality_training import TrainingUnavailable  # imports torch: only when training

        try:
            from chromaluma.train import TrainConfig, train
        except ImportError as exc:
            raise TrainingUnavailable(f"chromaluma.train not importable ({exc})") from exc
        from chromaluma.contract import KINDS

        if REPAIR_KIND not in KINDS or "input" not in {f.name for f in dataclasses.fields(TrainConfig)}:
            raise TrainingUnavailable("chromaluma train has no --kind repair in this build")
        label = f"repair-{minutes:g}min"
        budget = {**QUICK_BUDGET, "steps": self.steps} if self.steps else {"minutes": minutes}
        out = self.workdir / f"{label}.onnx"
        started = time.perf_counter()
        try:
            config = TrainConfig(run_dir=self._fresh(f"run-{label}"), kind=REPAIR_KIND, input=scan, out=out,
                                 device="cpu", seed=0, **budget)
            out = Path(train(config, progress=False))
        except ChromalumaError as exc:
            raise TrainingUnavailable(f"training failed: {str(exc).splitlines()[0]}") from exc
        contract = read_model_contract(out)
        training = contract.card.get("training", {})
        steps = training.get("parameters", {}).get("steps_done")
        model = TrainedRepair(out, steps, float(training.get("duration_s") or time.perf_counter() - started))
        log.info("repair: trained %s (%s)", label, model.note)
        return model


def model_repair(model: Path) -> Repair:
    """A repair model as a method: one frame of a window through `process_frame` at sensitivity SENSITIVITY, with
    the matte it applied. The window's frames outside the shot are None (the backend's edge rule)."""
    from chromaluma.api import process_frame

    contract = read_model_contract(model)
    before, after = contract.frames_before, contract.frames_after

    def repair(window: Sequence[np.ndarray], centre: int) -> tuple[np.ndarray, np.ndarray]:
        frame = np.ascontiguousarray(window[centre][..., :3], dtype=np.float32)
        params: dict[str, object] = {"model": str(model), "sensitivity": SENSITIVITY}
        offsets = [k for k in range(-before, after + 1) if k != 0]
        if offsets:
            params["neighbours"] = [np.ascontiguousarray(window[centre + k][..., :3], dtype=np.float32)
                                    if 0 <= centre + k < len(window) else None for k in offsets]
        out = np.empty_like(frame)
        matte = np.zeros(frame.shape[:2], np.float32)
        process_frame(frame, out, params, matte=matte)
        return out, matte

    return repair


def untrained_repair_model(folder: Path) -> Path:
    """An untrained repair model of the shipped architecture (speed does not depend on what a model learnt)."""
    from chromaluma.benchmarks.temporal_training import untrained_model

    return untrained_model(folder, REPAIR_KIND, DEFAULT_RADIUS)


def repair_ms(repair: Repair, window: Sequence[np.ndarray], centre: int, frames: int) -> float:
    """Median ms of `repair(window, centre)` over `frames` calls in a render's steady state
    (:func:`chromaluma.benchmarks.render_timing.steady_ms`)."""
    return steady_ms(lambda: repair(window, centre), frames)
