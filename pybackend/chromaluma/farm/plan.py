"""A farm job: the frames of a shot cut into chunks, each chunk one `chromaluma apply` task, plus a verify task.

Chunks are runs of `chunk` consecutive frames *of the shot* (a gap in the numbering is skipped, never a task
of its own), which is how OpenCue and Deadline chunk a frame list with a chunk size, so a manager's task for
frames A-B is exactly the shell task for A-B. Every path in a task is absolute and the interpreter is named by
its absolute path (the farm node's working folder and PATH do not matter). Each task gets:

- `PYTHONNOUSERSITE=1`: packages in the render user's ~/.local never shadow the job's environment;
- `PYTHONUNBUFFERED=1`: the task's log lines reach the farm manager's log as they happen;
- with `--threads N`: `--threads N` for ONNX Runtime and `OMP_NUM_THREADS=N` for any OpenMP pool, so several
  tasks sharing a node do not each start one thread per core.

A task always runs with `--resume --no-progress`: a task that the manager starts again after a crash, a kill
or a pre-emption keeps the frames its log vouches for and renders the rest, and a finished task run again
renders nothing.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from chromaluma import contract
from chromaluma.errors import ParameterError
from chromaluma.io.sequence import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, open_shot

# The apply flags a farm job passes through to every task: (flag, attribute, holds a path). `--layer KIND DIR`
# takes two values, of which the last is the path.
APPLY_OPTIONS = (
    ("--keyframes", "keyframes", True), ("--matte", "matte", True), ("--confidence", "confidence", True),
    ("--layer", "layer", True), ("--layer-format", "layer_format", False),
    ("--sensitivity", "sensitivity", False), ("--cuts", "cuts", False), ("--mix", "mix", False),
    ("--device", "device", False),
    ("--format", "extension", False), ("--tile-size", "tile_size", False), ("--threads", "threads", False),
    ("--precision", "precision", False), ("--tensorrt-cache", "tensorrt_cache", True),
)
_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.]+")


@dataclass(frozen=True)
class Chunk:
    """One render task: the shot's frames `first` to `last` (inclusive), `count` of them."""

    first: int
    last: int
    count: int

    @property
    def frames(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass(frozen=True)
class FarmJob:
    """Everything the managers' writers need; build it with :func:`plan_job`."""

    name: str
    model: Path
    source: Path
    output: Path
    frame_ids: tuple[int, ...]  # the frames to render, in order
    chunk: int
    python: Path
    apply_options: tuple[str, ...]  # pass-through apply flags and values, paths made absolute
    threads: int

    @property
    def first(self) -> int:
        return self.frame_ids[0]

    @property
    def last(self) -> int:
        return self.frame_ids[-1]

    @property
    def frames(self) -> str:
        """The job's whole range `A-B` (what the verify task checks)."""
        return f"{self.first}-{self.last}"

    def chunks(self) -> list[Chunk]:
        ids = self.frame_ids
        return [Chunk(ids[start], ids[min(start + self.chunk, len(ids)) - 1], len(ids[start:start + self.chunk]))
                for start in range(0, len(ids), self.chunk)]

    def frame_list(self) -> str:
        """The frames as a manager's frame list: `1001-1050,1052-1100` (runs of consecutive numbers)."""
        runs: list[list[int]] = []
        for frame in self.frame_ids:
            if runs and frame == runs[-1][1] + 1:
                runs[-1][1] = frame
            else:
                runs.append([frame, frame])
        return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)

    def environment(self) -> dict[str, str]:
        env = {"PYTHONNOUSERSITE": "1", "PYTHONUNBUFFERED": "1"}
        if self.threads > 0:
            env["OMP_NUM_THREADS"] = str(self.threads)
        return env

    def render_arguments(self, frames: str) -> list[str]:
        """The arguments after the interpreter of the render task for `frames` (`A-B`, or a manager's tokens)."""
        return ["-m", "chromaluma.cli", "apply", "--model", str(self.model), "--input", str(self.source),
                "--output", str(self.output), "--frames", frames, *self.apply_options, "--resume", "--no-progress"]

    def verify_arguments(self) -> list[str]:
        """The arguments after the interpreter of the task that checks the finished render."""
        return ["-m", "chromaluma.cli", "farm", "--verify", "--model", str(self.model), "--input", str(self.source),
                "--output", str(self.output), "--frames", self.frames]


def plan_job(*, model: Path, source: Path, output: Path, chunk: int, frames: tuple[int, int] | None,
             python: Path | None, name: str | None, options: dict[str, object]) -> FarmJob:
    """Check what can be checked before anything reaches a farm and plan the job; ParameterError (or the model's
    and the shot's own errors) naming the flag and the fix otherwise. `options`: apply flags by attribute."""
    if chunk <= 0:
        raise ParameterError(f"--chunk {chunk}: each task needs at least one frame; give the frames per task "
                             "(e.g. --chunk 50).")
    model_contract = contract.read_model_contract(model)
    _check_model_flags(model, model_contract, options)
    ids = shot_frame_ids(source, frames)
    source = source.absolute()
    output = output.absolute()
    input_folder = source if source.is_dir() else source.parent
    if output.resolve() == input_folder.resolve():
        raise ParameterError(f"--output {output}: that is the input folder, which holds the original frames; "
                             "restored frames are never written beside the originals. Choose another folder.")
    interpreter = Path(python) if python is not None else Path(sys.executable)
    if not interpreter.is_absolute():
        raise ParameterError(f"--python {interpreter}: give the absolute path of the Python that has Chromaluma "
                             "installed on the farm nodes (e.g. /shared/chromaluma/.venv/bin/python).")
    threads = int(options.get("threads") or 0)
    job_name = _job_name(name, source)
    return FarmJob(job_name, model.absolute(), source, output, tuple(ids), chunk, interpreter,
                   tuple(_apply_flags(options)), threads)


def shot_frame_ids(source: Path, frames: tuple[int, int] | None) -> list[int]:
    """The frame numbers `chromaluma apply` gives the shot (inside `frames`, when given)."""
    if source.is_file() and source.suffix.lower() in VIDEO_EXTENSIONS:
        ids = list(range(_video_frame_count(source)))
    else:
        ids = open_shot(source).frame_ids
    if frames is None:
        return ids
    chosen = [frame for frame in ids if frames[0] <= frame <= frames[1]]
    if not chosen:
        raise ParameterError(f"--frames {frames[0]}-{frames[1]}: {source} has frames {ids[0]}-{ids[-1]}; choose a "
                             "range inside it.")
    return chosen


def _video_frame_count(path: Path) -> int:
    """Frames in a video, counted by decoding (the container's own count is not always there or right)."""
    import av

    from chromaluma.errors import FrameReadError

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise FrameReadError(f"{path}: has no video stream.")
            count = sum(1 for _ in container.decode(container.streams.video[0]))
    except (av.error.FFmpegError, OSError) as exc:
        raise FrameReadError(f"{path}: cannot decode video ({exc}). Check the file or convert it to frames.") from exc
    if count == 0:
        raise FrameReadError(f"{path}: video has no decodable frames.")
    return count


def _check_model_flags(model: Path, model_contract: contract.ModelContract, options: dict[str, object]) -> None:
    """The refusals `apply` would give on every node, given once here instead."""
    if model_contract.kind == "keyframes" and options.get("keyframes") is None:
        raise ParameterError(f"--model {model}: a keyframe model needs --keyframes DIR (the painted keyframes); "
                             "add it, or use another model.")
    if options.get("matte") is not None and not model_contract.has_matte:
        raise ParameterError(f"--matte {options['matte']}: {model} is a {model_contract.kind} model and has no "
                             "damage matte (only repair models have one); drop --matte.")
    layer = options.get("layer")
    if isinstance(layer, (list, tuple)) and layer[0] != "delta":
        raise ParameterError(f"--layer {layer[0]} {layer[1]}: the only layer is delta (scan + layer = restored); "
                             f"write --layer delta {layer[1]}.")
    for flag, key, low, high in (("--mix", "mix", 0.0, 1.0), ("--sensitivity", "sensitivity", 0.0, 1.0)):
        value = options.get(key)
        if value is not None and not low <= float(value) <= high:  # type: ignore[arg-type]
            raise ParameterError(f"{flag} {value}: expected a number from {low:g} to {high:g}.")
    for flag, key in (("--tile-size", "tile_size"), ("--threads", "threads")):
        value = options.get(key)
        if value is not None and int(value) < 0:  # type: ignore[call-overload]
            raise ParameterError(f"{flag} {value}: expected 0 (automatic) or a positive number.")
    extension = options.get("extension")
    if extension is not None:
        wanted = str(extension).lower()
        wanted = wanted if wanted.startswith(".") else "." + wanted
        if wanted not in IMAGE_EXTENSIONS:
            raise ParameterError(f"--format {extension!r}: expected one of {', '.join(sorted(IMAGE_EXTENSIONS))}.")


def _apply_flags(options: dict[str, object]) -> list[str]:
    flags: list[str] = []
    for flag, key, is_path in APPLY_OPTIONS:
        value = options.get(key)
        if value is None:
            continue
        values = [str(item) for item in value] if isinstance(value, (list, tuple)) else [str(value)]
        if is_path:
            values[-1] = str(Path(values[-1]).absolute())
        flags += [flag, *values]
    return flags


def _job_name(name: str | None, source: Path) -> str:
    """A name every manager accepts: letters, digits, `_` and `.`, at least 3 characters."""
    raw = name if name is not None else f"chromaluma_{source.stem if source.is_file() else source.name}"
    cleaned = _NAME_CHARACTERS.sub("_", raw).strip("_")
    if len(cleaned) < 3:
        raise ParameterError(f"--job-name {raw!r}: needs at least 3 letters, digits, '_' or '.'.")
    return cleaned
