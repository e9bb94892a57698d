"""Batch rendering: apply a model to a whole shot (image sequence or video), frame by frame, documented.

:func:`render_shot` is what `chromaluma apply` runs and what scripts (the demo) call. It checks everything it
can before the first frame is rendered: the model, the frame range, that the output is not the input folder and
can be written, and that no output (frames, confidence frames, render log) exists unless `overwrite` or
`resume` (:mod:`chromaluma.backend.render_resume`). Each frame is written atomically and verified; the render log
(:mod:`chromaluma.backend.render_log`) records model hash, parameters, frames with input and output hashes, software
versions, provider and times, and is rewritten after every frame.

Failures: an input frame that cannot be read is recorded in the log as failed and the other frames are still
rendered (a render farm wants the rest of the shot); the render then ends `failed`, naming every unreadable
frame, and exits 2. An output that cannot be written (disk full, permissions) stops the render at that frame:
the log says `failed` and names the frame. Ctrl-C or SIGTERM ends it `interrupted`. In every case finished
frames are kept, no temp file is left, and `--resume` continues.

Output format: an image sequence keeps its format and bit depth (`extension` overrides the format; bit depth is
kept where the format can hold it). A video input is written as 16-bit RGB TIFF frames named
`<video stem>.<frame:06d>.tif` (frame numbers count from 0 in decode order) unless `extension` says otherwise.
Confidence frames are 16-bit greyscale TIFF (1 = sure) with the output frames' names.
EXR input is treated as premultiplied (OpenEXR's convention), every other format as straight alpha.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma import contract
from chromaluma.backend import render_log, restore
from chromaluma.backend.render_resume import prepare_folder, render_files
from chromaluma.backend.session import load_session, request_warnings
from chromaluma.errors import ChromalumaError, FrameReadError, FrameWriteError, ParameterError
from chromaluma.io.atomic import describe_os_error, stale_partials
from chromaluma.io.frames import FrameFormat, to_rgba, write_frame
from chromaluma.io.sequence import IMAGE_EXTENSIONS, Shot, open_shot

log = logging.getLogger(__name__)

VIDEO_OUTPUT_FORMAT = FrameFormat(".tif", "uint16", 16, 3)
CONFIDENCE_FORMAT = FrameFormat(".tif", "uint16", 16, 1)


@dataclass(frozen=True)
class RenderRequest:
    """Everything `chromaluma apply` takes (see `chromaluma apply --help`)."""

    model: Path
    source: Path
    output: Path
    frames: tuple[int, int] | None = None
    mix: float = 1.0
    confidence: Path | None = None
    device: str = "auto"
    extension: str | None = None
    overwrite: bool = False
    resume: bool = False
    tile_size: int = 0
    threads: int = 0
    progress: bool = True


@dataclass
class RenderResult:
    """What a finished render produced."""

    log_path: Path
    outputs: list[Path]
    provider: str
    seconds: float
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _FramePlan:
    frame: int
    index: int
    source: Path | None
    output: Path
    confidence: Path | None


def render_shot(request: RenderRequest) -> RenderResult:
    """Render `request.source` through `request.model` into `request.output`; returns what was written."""
    params = _base_params(request)
    restore.read_settings(params)  # parameter errors before any file is opened
    if request.resume and request.overwrite:
        raise ParameterError("--resume with --overwrite: choose one. --resume keeps the finished frames, "
                             "--overwrite renders every frame again.")
    model = load_session(request.model, request.device, request.threads)
    shot = open_shot(request.source)
    if request.frames is not None:
        shot = shot.select(*request.frames)
    out_format = _output_format(shot, request.extension)
    _check_folders(request, shot)
    plan = _plan_frames(request, shot, out_format)
    log_path = request.output / render_log.render_log_name(request.frames)
    record = _log_record(request, model, shot, out_format, request_warnings(request.device, model))
    kept = prepare_folder(plan, log_path, record, resume=request.resume, overwrite=request.overwrite)
    record["frames"] = [kept[frame] for frame in sorted(kept)]
    _make_folders(request)
    render_log.write_render_log(log_path, record)
    started = time.perf_counter()
    try:
        _render_frames(request, shot, [step for step in plan if step.frame not in kept], out_format, params,
                       record, log_path)
    except KeyboardInterrupt:
        _clear_own_partials(plan, log_path)
        written = _close_log(log_path, record, "interrupted", started)
        raise KeyboardInterrupt(f"interrupted: {_kept_note(record, plan, request, written)}") from None
    except ChromalumaError as exc:
        record["error"] = str(exc)
        written = _close_log(log_path, record, "failed", started)
        exc.args = (f"{exc} {_kept_note(record, plan, request, written)}",)  # same type, one line
        raise
    except Exception as exc:
        record["error"] = str(exc)
        _close_log(log_path, record, "failed", started)
        raise
    _finish(request, plan, log_path, record, started)
    log.info("rendered %d frame(s) into %s (log %s)", len(plan) - len(kept), request.output, log_path.name)
    return RenderResult(log_path, [p.output for p in plan], model.provider, time.perf_counter() - started,
                        list(record["warnings"]))


def _finish(request: RenderRequest, plan: list[_FramePlan], log_path: Path, record: dict[str, Any],
            started: float) -> None:
    """Close the log `complete`, or `failed` naming the input frames that could not be read."""
    failed = [entry for entry in record["frames"] if entry.get("status") == "failed"]
    if not failed:
        _close_log(log_path, record, "complete", started)
        return
    names = ", ".join(entry["input"] for entry in failed[:3]) + (" …" if len(failed) > 3 else "")
    record["error"] = f"{len(failed)} input frame(s) could not be read"
    _close_log(log_path, record, "failed", started)
    raise FrameReadError(f"{len(failed)} of {len(plan)} input frame(s) could not be read and were not rendered "
                         f"({names}; first: {failed[0]['error']}). The other frames are rendered and the render log "
                         f"{log_path} lists the failures; replace those frames and continue with --resume.")


def _kept_note(record: dict[str, Any], plan: list[_FramePlan], request: RenderRequest, log_written: bool) -> str:
    done = sum(1 for entry in record["frames"] if entry.get("status", "written") == "written")
    state = (f"the render log says {record['status']}" if log_written else
             "the render log could not be updated and lists the frames finished before")
    return (f"{done} of {len(plan)} frame(s) are finished and kept in {request.output}, no partial file is left, "
            f"and {state}; continue with `chromaluma apply ... --resume`.")


def _clear_own_partials(plan: list[_FramePlan], log_path: Path) -> None:
    """Belt and braces: writers remove their temp file when interrupted; nothing of ours may stay behind."""
    for stale in stale_partials(render_files(plan, log_path)):
        stale.unlink(missing_ok=True)


def _base_params(request: RenderRequest) -> dict[str, Any]:
    return {"model": str(request.model), "mix": request.mix, "device": request.device,
            "tile_size": request.tile_size, "threads": request.threads}


def _output_format(shot: Shot, extension: str | None) -> FrameFormat:
    base = VIDEO_OUTPUT_FORMAT if shot.is_video else shot.frame_format
    if extension is None:
        return base
    wanted = extension.lower() if extension.startswith(".") else "." + extension.lower()
    if wanted not in IMAGE_EXTENSIONS:
        raise ParameterError(f"--format {extension!r}: expected one of {', '.join(sorted(IMAGE_EXTENSIONS))}.")
    return base.with_extension(wanted)


def _check_folders(request: RenderRequest, shot: Shot) -> None:
    input_folder = (shot.source if not shot.is_video else shot.source.parent).resolve()
    targets = [("--output", request.output, "restored frames")]
    if request.confidence is not None:
        targets.append(("--confidence", request.confidence, "confidence frames"))
    for flag, folder, what in targets:
        if folder.resolve() == input_folder:
            raise ParameterError(f"{flag} {folder}: that is the input folder, which holds the original frames; "
                                 f"{what} are never written beside the originals. Choose another folder for the "
                                 f"{what}.")
        if folder.exists() and not folder.is_dir():
            raise ParameterError(f"{flag} {folder}: exists and is not a folder. Choose a folder for the {what}.")
        _check_writable(flag, folder)
    if request.confidence is not None and request.confidence.resolve() == request.output.resolve():
        raise ParameterError(f"--confidence {request.confidence}: same folder as --output; the confidence frames "
                             "would take the restored frames' names. Give it a folder of its own.")


def _check_writable(flag: str, folder: Path) -> None:
    """Refuse before anything is created: the folder, or the nearest existing folder above it, must be writable."""
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError(f"{flag} {folder}: {existing} is a file, not a folder; nothing was created. "
                             "Choose another folder.")
    read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
    if read_only or not os.access(existing, os.W_OK | os.X_OK):
        why = "read-only filesystem" if read_only else "no write permission"
        raise ParameterError(f"{flag} {folder}: cannot write into {existing} ({why}); nothing was created. "
                             "Choose a folder you can write to.")


def _make_folders(request: RenderRequest) -> None:
    """Create the output folders; on failure remove the ones made here, so a refused render leaves nothing."""
    made: list[Path] = []
    folders = [("--output", request.output)] + ([("--confidence", request.confidence)] if request.confidence else [])
    for flag, folder in folders:
        missing = [folder, *folder.parents]
        missing = [path for path in missing if not path.exists()]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            for path in made:
                path.rmdir()
            raise FrameWriteError(f"{flag} {folder}: cannot create the folder ({describe_os_error(exc)}); nothing "
                                  "was created. Choose a folder you can write to.") from exc
        made.extend(missing)


def _plan_frames(request: RenderRequest, shot: Shot, out_format: FrameFormat) -> list[_FramePlan]:
    plan = []
    for index, frame in enumerate(shot.frame_ids):
        source_path = shot.path_of(index)
        stem = f"{shot.source.stem}.{frame:06d}" if source_path is None else source_path.stem
        name = stem + out_format.extension
        confidence = None if request.confidence is None else request.confidence / (stem + CONFIDENCE_FORMAT.extension)
        plan.append(_FramePlan(frame, index, source_path, request.output / name, confidence))
    return plan


def _log_record(request: RenderRequest, model: Any, shot: Shot, out_format: FrameFormat,
                warnings: list[str]) -> dict[str, Any]:
    card = model.contract.card
    return {
        "status": "rendering",
        "started": render_log.utc_now(),
        "finished": None,
        "host": render_log.host_name(),
        "pid": render_log.process_id(),
        "model": {"path": str(request.model.resolve()), "sha256": model.sha256, "summary": model.summary,
                  "kind": model.contract.kind, "colorspace": model.contract.colorspace,
                  "receptive_field": model.contract.receptive_field,
                  "processing_scale": model.contract.processing_scale, "card": card},
        "provider": model.provider,
        "parameters": {"mix": request.mix, "device": request.device, "tile_size": request.tile_size,
                       "threads": request.threads, "frames": list(request.frames) if request.frames else None,
                       "format": request.extension, "overwrite": request.overwrite,
                       "premultiplied": _premultiplied(shot)},
        "input": {"source": str(shot.source.resolve()), "type": "video" if shot.is_video else "sequence",
                  "format": _format_record(shot.frame_format), "fps": shot.fps},
        "output": {"folder": str(request.output.resolve()), "format": _format_record(out_format),
                   "confidence_folder": str(request.confidence.resolve()) if request.confidence else None},
        "frames": [],
        "warnings": list(warnings),
        "software": render_log.software_versions(),
    }


def _premultiplied(shot: Shot) -> bool:
    """EXR stores premultiplied colour by convention; PNG, TIFF and DPX as handed to restorers are straight."""
    return shot.frame_format.extension == ".exr"


def _format_record(frame_format: FrameFormat) -> dict[str, Any]:
    return {"extension": frame_format.extension, "sample_type": frame_format.sample_type, "bits": frame_format.bits}


def _render_frames(request: RenderRequest, shot: Shot, todo: list[_FramePlan], out_format: FrameFormat,
                   params: dict[str, Any], record: dict[str, Any], log_path: Path) -> None:
    """Render `todo` in order, rewriting the log after each frame (so a kill leaves an accurate frames list)."""
    from tqdm import tqdm

    params["premultiplied"] = _premultiplied(shot)
    bar = tqdm(todo, unit="frame", desc=f"apply {request.model.name}", disable=not request.progress)
    for step in bar:
        try:
            entry = _render_frame(shot, step, out_format, params, record)
        except FrameWriteError:
            record["failed_frame"] = step.frame
            raise
        record["frames"] = sorted([*record["frames"], entry], key=lambda item: item["frame"])
        try:
            render_log.write_render_log(log_path, record)
        except FrameWriteError as exc:
            record["failed_frame"] = step.frame
            raise FrameWriteError(f"frame {step.frame} was written, but {exc}") from exc
    bar.close()


def _render_frame(shot: Shot, step: _FramePlan, out_format: FrameFormat, params: dict[str, Any],
                  record: dict[str, Any]) -> dict[str, Any]:
    """Render and write one frame; returns its log entry (`status: failed` if its input cannot be read)."""
    try:
        src = _host_layout(shot.read(step.index))
    except FrameReadError as exc:
        log.error("%s", exc)
        return {"frame": step.frame, "input": _input_name(shot, step), "status": "failed", "error": str(exc)}
    dst = np.empty_like(src)
    confidence = np.empty(src.shape[:2], np.float32) if step.confidence is not None else None
    report: dict[str, Any] = {}
    restore.process_frame(src, dst, {**params, "report": report}, confidence=confidence)
    write_frame(step.output, dst, out_format)
    if step.confidence is not None and confidence is not None:
        write_frame(step.confidence, confidence[:, :, np.newaxis], CONFIDENCE_FORMAT)
    for note in report.get("warnings", []):
        if note not in record["warnings"]:
            record["warnings"].append(note)
    return _frame_record(shot, step, report)


def _host_layout(pixels: np.ndarray) -> np.ndarray:
    """Frames as read (1–4 channels) → RGB or RGBA float32, the layouts restore.process takes."""
    channels = pixels.shape[2]
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    if channels == 2:
        return to_rgba(pixels)
    return pixels


def _frame_record(shot: Shot, step: _FramePlan, report: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "frame": step.frame,
        "status": "written",
        "input": _input_name(shot, step),
        "input_sha256": contract.file_sha256(step.source) if step.source is not None else None,
        "output": step.output.name,
        "output_sha256": contract.file_sha256(step.output),
        "nonfinite_pixels": report.get("nonfinite_pixels", 0),
    }
    if step.confidence is not None:
        entry["confidence"] = step.confidence.name
        entry["confidence_sha256"] = contract.file_sha256(step.confidence)
    return entry


def _input_name(shot: Shot, step: _FramePlan) -> str:
    return step.source.name if step.source is not None else f"{shot.source.name}#{step.index}"


def _close_log(log_path: Path, record: dict[str, Any], status: str, started: float) -> bool:
    """Write the log's final state; returns False where a failed render's log could not be written."""
    record["status"] = status
    record["finished"] = render_log.utc_now()
    record["duration_s"] = round(time.perf_counter() - started, 3)
    frames = len(record["frames"])
    record["frames_per_second"] = round(frames / record["duration_s"], 3) if record["duration_s"] > 0 else None
    try:
        render_log.write_render_log(log_path, record)
    except FrameWriteError as exc:
        if status == "complete":
            raise
        log.warning("%s", exc)  # the render's own error is the one to report; the log keeps its last state
        return False
    return True
