"""The farm job's last task: is the render in `--output` whole, and is every frame the one its log vouches for?

Reads every render log in the output folder (`chromaluma-render.json` and the per-task
`chromaluma-render.A-B.json`) and checks, for every frame of the shot inside the job's range:

- exactly one log lists it as written (none: a task has not run or lost frames; two: a log left by an earlier
  render with other ranges), and that log says `complete`;
- the frame's output file (and its confidence / matte / any other side file the entry records with a SHA-256)
  exists and its SHA-256 is the one in the log; for an image sequence, the input frame's SHA-256 too (the scan
  was not replaced after rendering);
- every log that holds frames of the range names the same model SHA-256 (that of `--model`), the same input, the
  same execution provider and the same parameters that change pixels or names (all but `frames`, `threads` and
  `overwrite`).

It reads only: nothing is written or removed. The first problem in frame order ends the check with one line
naming the frame, the file and what to do (:class:`FarmVerifyError`, exit 2); a whole render logs how many frames
and logs were checked (exit 0).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chromaluma import contract
from chromaluma.backend import render_log
from chromaluma.backend.session import model_sha256
from chromaluma.errors import ChromalumaError, ParameterError
from chromaluma.farm.plan import shot_frame_ids

log = logging.getLogger(__name__)

# Parameters that may differ between the tasks of one render: they change neither pixels nor file names.
_PER_TASK_PARAMETERS = frozenset({"frames", "threads", "overwrite"})
_RERUN = "run the task for that frame's range again (`chromaluma apply … --frames A-B --resume`)"


def _rerun(record: dict[str, Any]) -> str:
    """How to render a logged task's frames again: its own command, with its range when the log has one."""
    frames = record.get("parameters", {}).get("frames")
    if isinstance(frames, list) and len(frames) == 2:
        return f"run its task again (`chromaluma apply … --frames {frames[0]}-{frames[1]} --resume`)"
    return "run its render again (`chromaluma apply … --resume`)"


class FarmVerifyError(ChromalumaError):
    """A farm render is not whole: a frame is missing, listed twice, changed, or rendered differently."""


@dataclass(frozen=True)
class _Log:
    path: Path
    record: dict[str, Any]
    written: dict[int, dict[str, Any]]  # frame → entry, for the frames it lists as written


def verify_render(*, model: Path, source: Path, output: Path, frames: tuple[int, int] | None) -> int:
    """Check the render of `source` through `model` in `output`; returns the number of frames checked."""
    ids = shot_frame_ids(source, frames)
    logs = _read_logs(output)
    sha = model_sha256(model)
    by_frame: dict[int, list[_Log]] = {frame: [] for frame in ids}
    for item in logs:
        for frame in item.written:
            if frame in by_frame:
                by_frame[frame].append(item)
    used = [item for item in logs if any(item in holders for holders in by_frame.values())]
    _check_consistent(used, sha, model, source)
    missing = sum(1 for holders in by_frame.values() if not holders)
    for frame in ids:
        _check_frame(frame, by_frame[frame], f"{missing} of {len(ids)} frame(s) of {ids[0]}-{ids[-1]} missing",
                     output, source)
    log.info("farm verify: %s is whole: %d frame(s) %d-%d in %d render log(s), every file matches its log", output,
             len(ids), ids[0], ids[-1], len(used))
    return len(ids)


def _read_logs(output: Path) -> list[_Log]:
    if not output.is_dir():
        raise FarmVerifyError(f"--output {output}: no such folder, so no frame of the render exists; run the "
                              "job's render tasks first.")
    logs = []
    for path in sorted(output.glob(f"{render_log.LOG_STEM}*.json")):
        if path.name.startswith("."):
            continue
        try:
            record = render_log.read_render_log(path)
        except ParameterError as exc:
            raise FarmVerifyError(f"farm verify: {exc}") from exc
        written = {entry["frame"]: entry for entry in record["frames"]
                   if isinstance(entry, dict) and isinstance(entry.get("frame"), int)
                   and entry.get("status", "written") == "written"}
        logs.append(_Log(path, record, written))
    return logs


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    """What every task of one render shares: input, provider, pixel parameters, output format and folders."""
    parameters = {key: value for key, value in record.get("parameters", {}).items()
                  if key not in _PER_TASK_PARAMETERS}
    output = {key: value for key, value in record.get("output", {}).items() if key != "folder"}
    return {"input": record.get("input", {}).get("source"), "provider": record.get("provider"),
            "parameters": parameters, "output": output}


def _check_consistent(logs: list[_Log], sha: str, model: Path, source: Path) -> None:
    wanted_source = str(source.resolve())
    first: _Log | None = None
    for item in logs:
        logged_sha = item.record.get("model", {}).get("sha256", "")
        if logged_sha != sha:
            raise FarmVerifyError(f"farm verify: {item.path} was rendered with another model (sha256 "
                                  f"{logged_sha[:12]}… in the log, {sha[:12]}… for --model {model}); remove that log "
                                  "and its frames and run their tasks again with the job's model.")
        logged_source = item.record.get("input", {}).get("source")
        if logged_source != wanted_source:
            raise FarmVerifyError(f"farm verify: {item.path} was rendered from {logged_source}, not --input "
                                  f"{wanted_source}; remove that log and run its task again.")
        if first is None:
            first = item
            continue
        ours, theirs = _identity(first.record), _identity(item.record)
        for key in ours:
            if ours[key] != theirs[key]:
                raise FarmVerifyError(f"farm verify: {item.path} and {first.path} differ in {key} "
                                      f"({_difference(ours[key], theirs[key])}); every task of one render must use "
                                      "the same model and parameters. Render one of them again with --overwrite "
                                      "and the job's parameters.")


def _difference(ours: Any, theirs: Any) -> str:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        keys = sorted(key for key in ours.keys() | theirs.keys() if ours.get(key) != theirs.get(key))
        return "; ".join(f"{key}: {ours.get(key)!r} vs {theirs.get(key)!r}" for key in keys)
    return f"{ours!r} vs {theirs!r}"


def _check_frame(frame: int, holders: list[_Log], missing: str, output: Path, source: Path) -> None:
    if not holders:
        raise FarmVerifyError(f"farm verify: frame {frame} is missing: no render log in {output} lists it as "
                              f"written ({missing}); {_RERUN}.")
    if len(holders) > 1:
        raise FarmVerifyError(f"farm verify: frame {frame} is listed by {holders[0].path.name} and "
                              f"{holders[1].path.name}: one of them was left by an earlier render with other ranges. "
                              "Remove the stale log, then run this check again.")
    item = holders[0]
    status = item.record.get("status")
    if status != "complete":
        raise FarmVerifyError(f"farm verify: frame {frame}: its render log {item.path} says {status!r}, not "
                              f"'complete' (error: {item.record.get('error')}); {_rerun(item.record)}.")
    entry = item.written[frame]
    for path, logged in _recorded_files(entry, item.record, output, source):
        if not path.is_file():
            raise FarmVerifyError(f"farm verify: frame {frame}: {path} is missing but {item.path.name} lists it; "
                                  f"{_rerun(item.record)}.")
        digest = contract.file_sha256(path)
        if digest != logged:
            raise FarmVerifyError(f"farm verify: frame {frame}: {path} does not match {item.path.name} (sha256 "
                                  f"{digest[:12]}… on disk, {str(logged)[:12]}… in the log): changed or damaged "
                                  f"since it was rendered; {_rerun(item.record)}.")


def _recorded_files(entry: dict[str, Any], record: dict[str, Any], output: Path,
                    source: Path) -> list[tuple[Path, Any]]:
    """(file, SHA-256 in the log) for every file the entry vouches for: output, side files, the input frame."""
    files: list[tuple[Path, Any]] = [(output / str(entry.get("output")), entry.get("output_sha256"))]
    folders = record.get("output", {})
    for key, logged in entry.items():
        if not key.endswith("_sha256") or key in ("output_sha256", "input_sha256"):
            continue
        side = key[: -len("_sha256")]
        folder = folders.get(f"{side}_folder")
        if folder is None or side not in entry:
            log.warning("farm verify: %s of frame %s has no folder in the log; not checked", side, entry.get("frame"))
            continue
        files.append((Path(folder) / str(entry[side]), logged))
    if source.is_dir() and entry.get("input_sha256"):
        files.append((source / str(entry.get("input")), entry.get("input_sha256")))
    return files
