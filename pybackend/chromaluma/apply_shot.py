"""Batch rendering: apply a model to a whole shot (image sequence or video), frame by frame, documented.

:func:`render_shot` is what `chromaluma apply` runs and what scripts (the demo) call. It checks everything it
can before the first frame is rendered: the model, the frame range, that the output is not the input folder,
and that no output (frames, confidence frames, render log) exists unless `overwrite`. Each frame is written
atomically; the render log (:mod:`chromaluma.render_log`) records model hash, parameters, frames with input and
output hashes, software versions, provider and times.

Output format: an image sequence keeps its format and bit depth (`extension` overrides the format; bit depth is
kept where the format can hold it). A video input is written as 16-bit RGB TIFF frames named
`<video stem>.<frame:06d>.tif` (frame numbers count from 0 in decode order) unless `extension` says otherwise.
Confidence frames are 16-bit greyscale TIFF (1 = sure) with the output frames' names.
EXR input is treated as premultiplied (OpenEXR's convention), every other format as straight alpha.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma import api, contract, render_log
from chromaluma.errors import ParameterError
from chromaluma.io.frames import FrameFormat, to_rgba, write_frame
from chromaluma.io.sequence import IMAGE_EXTENSIONS, Shot, open_shot
from chromaluma.session import load_session, request_warnings

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
    output: Path
    confidence: Path | None


def render_shot(request: RenderRequest) -> RenderResult:
    """Render `request.source` through `request.model` into `request.output`; returns what was written."""
    params = _base_params(request)
    api.read_settings(params)  # parameter errors before any file is opened
    model = load_session(request.model, request.device, request.threads)
    shot = open_shot(request.source)
    if request.frames is not None:
        shot = shot.select(*request.frames)
    out_format = _output_format(shot, request.extension)
    _check_folders(request, shot)
    plan = _plan_frames(request, shot, out_format)
    log_path = request.output / render_log.render_log_name(request.frames)
    _check_nothing_exists(request, plan, log_path)
    request.output.mkdir(parents=True, exist_ok=True)
    if request.confidence is not None:
        request.confidence.mkdir(parents=True, exist_ok=True)
    record = _log_record(request, model, shot, out_format, request_warnings(request.device, model))
    render_log.write_render_log(log_path, record)
    started = time.perf_counter()
    try:
        _render_frames(request, shot, plan, out_format, params, record)
    except KeyboardInterrupt:
        _close_log(log_path, record, "interrupted", started)
        raise
    except Exception as exc:
        record["error"] = str(exc)
        _close_log(log_path, record, "failed", started)
        raise
    _close_log(log_path, record, "complete", started)
    log.info("rendered %d frame(s) into %s (log %s)", len(plan), request.output, log_path.name)
    return RenderResult(log_path, [p.output for p in plan], model.provider, time.perf_counter() - started,
                        list(record["warnings"]))


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
    targets = [("--output", request.output)]
    if request.confidence is not None:
        targets.append(("--confidence", request.confidence))
    for flag, folder in targets:
        if folder.resolve() == input_folder:
            raise ParameterError(f"{flag} {folder}: that is the input's own folder; originals are never written "
                                 "next to. Choose another folder for the restored frames.")
        if folder.exists() and not folder.is_dir():
            raise ParameterError(f"{flag} {folder}: exists and is not a folder. Choose a folder for the frames.")
    if request.confidence is not None and request.confidence.resolve() == request.output.resolve():
        raise ParameterError(f"--confidence {request.confidence}: same folder as --output; the confidence frames "
                             "would take the restored frames' names. Give it a folder of its own.")


def _plan_frames(request: RenderRequest, shot: Shot, out_format: FrameFormat) -> list[_FramePlan]:
    plan = []
    for index, frame in enumerate(shot.frame_ids):
        source_path = shot.path_of(index)
        stem = f"{shot.source.stem}.{frame:06d}" if source_path is None else source_path.stem
        name = stem + out_format.extension
        confidence = None if request.confidence is None else request.confidence / (stem + CONFIDENCE_FORMAT.extension)
        plan.append(_FramePlan(frame, index, request.output / name, confidence))
    return plan


def _check_nothing_exists(request: RenderRequest, plan: list[_FramePlan], log_path: Path) -> None:
    if request.overwrite:
        return
    candidates = [log_path] + [p.output for p in plan] + [p.confidence for p in plan if p.confidence is not None]
    existing = [path for path in candidates if path.exists()]
    if existing:
        raise ParameterError(f"{existing[0]} already exists ({len(existing)} output file(s) would be replaced); "
                             "nothing was rendered. Add --overwrite to replace them, or choose another --output.")


def _log_record(request: RenderRequest, model: Any, shot: Shot, out_format: FrameFormat,
                warnings: list[str]) -> dict[str, Any]:
    card = model.contract.card
    return {
        "status": "rendering",
        "started": render_log.utc_now(),
        "finished": None,
        "host": render_log.host_name(),
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


def _render_frames(request: RenderRequest, shot: Shot, plan: list[_FramePlan], out_format: FrameFormat,
                   params: dict[str, Any], record: dict[str, Any]) -> None:
    from tqdm import tqdm

    params["premultiplied"] = _premultiplied(shot)
    bar = tqdm(plan, unit="frame", desc=f"apply {request.model.name}", disable=not request.progress)
    for step in bar:
        src = _host_layout(shot.read(step.index))
        dst = np.empty_like(src)
        confidence = np.empty(src.shape[:2], np.float32) if step.confidence is not None else None
        report: dict[str, Any] = {}
        api.process_frame(src, dst, {**params, "report": report}, confidence=confidence)
        write_frame(step.output, dst, out_format)
        if step.confidence is not None and confidence is not None:
            write_frame(step.confidence, confidence[:, :, np.newaxis], CONFIDENCE_FORMAT)
        record["frames"].append(_frame_record(shot, step, report))
        for note in report.get("warnings", []):
            if note not in record["warnings"]:
                record["warnings"].append(note)
    bar.close()


def _host_layout(pixels: np.ndarray) -> np.ndarray:
    """Frames as read (1–4 channels) → RGB or RGBA float32, the layouts api.process takes."""
    channels = pixels.shape[2]
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    if channels == 2:
        return to_rgba(pixels)
    return pixels


def _frame_record(shot: Shot, step: _FramePlan, report: dict[str, Any]) -> dict[str, Any]:
    source_path = shot.path_of(step.index)
    entry: dict[str, Any] = {
        "frame": step.frame,
        "input": source_path.name if source_path is not None else f"{shot.source.name}#{step.index}",
        "input_sha256": contract.file_sha256(source_path) if source_path is not None else None,
        "output": step.output.name,
        "output_sha256": contract.file_sha256(step.output),
        "nonfinite_pixels": report.get("nonfinite_pixels", 0),
    }
    if step.confidence is not None:
        entry["confidence"] = step.confidence.name
    return entry


def _close_log(log_path: Path, record: dict[str, Any], status: str, started: float) -> None:
    record["status"] = status
    record["finished"] = render_log.utc_now()
    record["duration_s"] = round(time.perf_counter() - started, 3)
    frames = len(record["frames"])
    record["frames_per_second"] = round(frames / record["duration_s"], 3) if record["duration_s"] > 0 else None
    render_log.write_render_log(log_path, record)
