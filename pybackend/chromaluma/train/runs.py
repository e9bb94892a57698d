"""Starting and continuing training runs: `train(TrainConfig)` and `resume(run_dir)`, for every model kind.

Keyframe models train in a :class:`~chromaluma.train.keyframe_session.KeyframeSession`, repair models in a
:class:`~chromaluma.train.repair_session.RepairSession`, the other kinds in the
pairs session of :mod:`chromaluma.train.loop`; this module chooses, so neither session module imports the other's
caller.
"""

from __future__ import annotations

from pathlib import Path

import torch

from chromaluma.train.checkpoint import checkpoint_paths
from chromaluma.train.config import CONFIG_NAME, TrainConfig
from chromaluma.train.distributed import World
from chromaluma.train.keyframe_session import KeyframeSession
from chromaluma.train.loop import TrainingError, _Session
from chromaluma.train.repair_session import RepairSession


def train(config: TrainConfig, progress: bool = True, world: World | None = None,
          device: torch.device | None = None) -> Path:
    """Train a new run in `config.run_dir`; returns the exported model (run_dir/model.onnx, or `config.out`).
    `progress=False`: no progress bar (farm logs). `world`/`device`: this rank's place in a run on several processes
    (:mod:`chromaluma.train.distributed`) and the device the ranks agreed on."""
    world = world if world is not None else World()
    if world.writes:  # rank 0 alone: it may already have begun writing the run when another rank looks
        check_new_run(Path(config.run_dir))
    return _session_class(config.kind)(config, resume=False, progress=progress, world=world, device=device).run()


def check_new_run(run_dir: Path) -> None:
    """Refuse a run folder that already holds a run."""
    if checkpoint_paths(run_dir) or (run_dir / CONFIG_NAME).exists():
        raise TrainingError(f"{run_dir} already holds a training run. Continue it with `chromaluma train --resume "
                            f"{run_dir}`, or choose another --run-dir.")


def resume(run_dir: Path, steps: int | None = None, minutes: float | None = None, out: Path | None = None,
           density: str | None = None, progress: bool = True, temporal_radius: int | None = None,
           exposure_jitter: float | None = None, world: World | None = None, device: torch.device | None = None
           ) -> Path:
    """Continue a run from its newest checkpoint (same optimizer state, step and RNG states); returns the model.

    `steps` / `minutes` / `out` replace the run's own settings when given (a different `steps` changes the
    learning-rate schedule, so the result is then no longer identical to an uninterrupted run). The model is
    rebuilt with the checkpoint's architecture; a `density` or `temporal_radius` other than the run's is refused,
    and so is an `exposure_jitter` other than the run's (its crops would no longer be the run's own). The world
    size may differ from the run's earlier sittings: the checkpoint holds the model, optimizer and step alone.
    """
    config = run_config(Path(run_dir))
    config.run_dir = Path(run_dir)
    config.steps = steps if steps is not None else config.steps
    config.minutes = minutes if minutes is not None else config.minutes
    config.out = out if out is not None else config.out
    config.density = density if density is not None else config.density
    config.temporal_radius = temporal_radius if temporal_radius is not None else config.temporal_radius
    if exposure_jitter is not None and exposure_jitter != config.exposure_jitter:
        raise TrainingError(f"--exposure-jitter {exposure_jitter}: the run in {run_dir} trains with "
                            f"--exposure-jitter {config.exposure_jitter:g}. Leave the flag out to continue it, or "
                            "start a new run with another --run-dir.")
    return _session_class(config.kind)(config, resume=True, progress=progress, world=world, device=device).run()


def run_config(run_dir: Path) -> TrainConfig:
    """The settings of the run in `run_dir` (its config.json), for --resume."""
    config_path = run_dir / CONFIG_NAME
    if not config_path.is_file():
        raise TrainingError(f"--resume {run_dir}: no {CONFIG_NAME} there; it is not a Chromaluma run folder. "
                            "Give the folder that `chromaluma train --run-dir` wrote.")
    return TrainConfig.from_json(config_path.read_text(), str(config_path))


def _session_class(kind: str) -> type[_Session]:
    """The training session for a model kind: keyframe models learn from painted keyframes, repair models from the
    scan's own frames with synthetic damage, the others from pairs."""
    return {"keyframes": KeyframeSession, "repair": RepairSession}.get(kind, _Session)
