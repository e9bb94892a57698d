"""Checkpoints in a run folder: written atomically (temp file, fsync, rename), the newest few kept.

A kill or a full disk during a write leaves the previous checkpoint untouched and at most a hidden `.partial`
file, which loading ignores; `--resume` continues from the newest checkpoint that loads.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import torch

from chromaluma.errors import ChromalumaError
from chromaluma.io.atomic import write_stream_atomically

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
KEEP = 3
_NAME = re.compile(r"^step_(\d+)\.pt$")


class CheckpointError(ChromalumaError):
    """A checkpoint could not be written or no usable checkpoint exists."""


def checkpoint_paths(run_dir: Path) -> list[Path]:
    """Checkpoints of a run, oldest first (partial files excluded)."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(run_dir: Path, step: int, state: dict[str, Any]) -> Path:
    """Write `state` as checkpoint `step` atomically, then prune to the newest KEEP."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{step:07d}.pt"
    try:
        write_stream_atomically(path, lambda stream: torch.save(state, stream))
    except (OSError, RuntimeError) as exc:  # disk full, quota, I/O error (torch wraps some as RuntimeError)
        previous = checkpoint_paths(run_dir)
        kept = f"the previous checkpoint {previous[-1]} is intact" if previous else "no earlier checkpoint exists"
        raise CheckpointError(f"{path}: checkpoint write failed ({exc}); {kept}. Free disk space, then continue "
                              f"with `chromaluma train --resume {run_dir}`.") from exc
    for old in checkpoint_paths(run_dir)[:-KEEP]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint ({exc}).") from exc


def load_latest(run_dir: Path) -> dict[str, Any]:
    """The newest checkpoint of a run that loads; damaged ones are skipped with a warning."""
    for path in reversed(checkpoint_paths(run_dir)):
        try:
            return load_checkpoint(path)
        except CheckpointError as exc:
            log.warning("%s; trying an older checkpoint", exc)
    raise CheckpointError(f"{run_dir}: no usable checkpoint in {CHECKPOINT_DIR}/. Was this run folder made by "
                          "`chromaluma train`? Start a new run (without --resume) or point at the right folder.")
