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

Temporal-window models (the model's contract has frames_before/frames_after > 0) render each frame with its
neighbouring input frames (`params["neighbours"]`, docs/CONTRACT.md §1.6), read by
:class:`~chromaluma.backend.frame_window.FrameWindow`: each input frame is decoded once and only one window is
held. `--frames A-B` reads the frames around A–B as context without writing them, so farm tasks and resumed
renders give the bytes of one whole render. A frame's log entry names the inputs of its window with their
SHA-256 (`context`), which `--resume` checks. A neighbour that cannot be decoded is given as None (the edge rule,
as at the shot's ends): the frames beside it are still rendered, a warning names it, their entries list it under
`missing_context`, and the render ends `failed` naming it; once it is replaced (or removed, to render without
it) `--resume` renders those frames again. Single-frame models get no `neighbours` at all.

Keyframe models (kind `keyframes`, §1.7) need `keyframes`, the folder of painted keyframes: it is registered onto
the input once, before anything is written (:mod:`chromaluma.backend.shot_keyframes`), and every frame gets its
pair as full frames in `params["keyframes"]`. A frame's log entry names its keyframes with their SHA-256
(`keyframes`), which `--resume` checks; the log's `keyframes` section holds the registration report.

Output format: an image sequence keeps its format and bit depth (`extension` overrides the format; bit depth is
kept where the format can hold it). A video input is written as 16-bit RGB TIFF frames named
`<video stem>.<frame:06d>.tif` (frame numbers count from 0 in decode order) unless `extension` says otherwise.
Confidence frames are 16-bit greyscale TIFF (1 = sure) with the output frames' names.

Repair models (kind `repair`, §1.8) repair only where their damage matte exceeds 1 − `sensitivity` (recorded in the
log's parameters, so `--resume` with another sensitivity refuses); every other pixel is written bit for bit as read.
`matte`, a folder, also gets the matte actually applied (threshold, mix: 1 = repaired) as 16-bit greyscale TIFF
named like the output frames; asking for it with a model that has no matte is refused before anything is written.
EXR input is treated as premultiplied (OpenEXR's convention), every other format as straight alpha.

`layer`, a folder, also gets each frame's difference layer (EXR, `layer_format` float or half, named like the output
frames with `.exr`): scan + layer, summed in float32 and stored at the output's sample type, gives the output frame
(:mod:`chromaluma.backend.difference_layer` says exactly what is guaranteed). With a float layer a float (half or
float) output is first moved to the value that sum reaches (at most one float32 step), so a render with --layer may
differ from one without in the last bit of such outputs; integer outputs never move. JPEG output is refused.

`precision` "fp16" renders with a half-precision copy of the model, compared with fp32 on a probe frame when it is
loaded and refused beyond the tolerance of :mod:`chromaluma.backend.precision` (a PrecisionError before anything is
written); `tensorrt_cache`, a folder, asks for TensorRT ahead of CUDA with its engines kept there. The log records
both under `parameters`; the precision changes output bytes, so `--resume` with another one refuses (the folder of
engines does not: the provider that ran, recorded and compared, is what changes pixels).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma import contract
from chromaluma.backend import difference_layer, render_log, restore
from chromaluma.backend.frame_window import FrameWindow, WindowFrame, shot_starts_in_reach
from chromaluma.backend.render_resume import prepare_folder, render_files
from chromaluma.backend.render_settings import DEFAULT_SENSITIVITY, read_sensitivity
from chromaluma.backend.session import load_session, request_warnings
from chromaluma.backend.shot_keyframes import ShotKeyframes, check_keyframes_flag, register_for_render
from chromaluma.errors import ChromalumaError, FrameReadError, FrameWriteError, ParameterError
from chromaluma.host_memory import reuse_freed_memory
from chromaluma.io.atomic import check_folder_writable, describe_os_error, stale_partials
from chromaluma.io.frames import FrameFormat, stored_samples, to_rgba, write_frame
from chromaluma.io.sequence import IMAGE_EXTENSIONS, Shot, open_shot

log = logging.getLogger(__name__)

VIDEO_OUTPUT_FORMAT = FrameFormat(".tif", "uint16", 16, 3)
CONFIDENCE_FORMAT = FrameFormat(".tif", "uint16", 16, 1)
MATTE_FORMAT = CONFIDENCE_FORMAT  # 16-bit grey: the applied matte, 1 = repaired
# The difference layer (`--layer delta DIR`): EXR, lossless, with the restored frames' channels.
LAYER_FILE_FORMATS = {"float": FrameFormat(".exr", "float", 32, 4), "half": FrameFormat(".exr", "half", 16, 4)}
LAYER_RULE = "restored = scan + layer: float32 sum, stored at the restored frames' sample type"


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
    keyframes: Path | None = None  # a keyframe model's painted keyframes (`--keyframes DIR`)
    matte: Path | None = None  # a repair model's applied matte (`--matte DIR`)
    sensitivity: float = DEFAULT_SENSITIVITY  # a repair model repairs where its matte > 1 − sensitivity
    layer: Path | None = None  # the difference layer's folder (`--layer delta DIR`)
    layer_format: str | None = None  # `--layer-format`: float or half; None = float where a layer is asked for
    precision: str = "fp32"  # `--precision`: fp16 runs a half model checked against fp32 when it is loaded
    tensorrt_cache: Path | None = None  # `--tensorrt-cache DIR`: TensorRT ahead of CUDA, engines kept in DIR
    cuts: str = "auto"  # `--cuts`: a window model's windows stop at the cuts found in the input, or none is sought


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
    context: tuple[Path, ...] = ()  # the input files of its window besides its own (a window model's context)
    keyframes: tuple[dict[str, Any], ...] = ()  # a keyframe model's pair, as the render log records it
    matte: Path | None = None  # where a repair model's applied matte goes (`--matte`), or None
    layer: Path | None = None  # where its difference layer goes (`--layer delta`), or None


def render_shot(request: RenderRequest) -> RenderResult:
    """Render `request.source` through `request.model` into `request.output`; returns what was written."""
    read_sensitivity(request.sensitivity, "--sensitivity")
    if request.cuts not in contract.CUT_RULES:
        raise ParameterError(f"--cuts {request.cuts}: choose one of {', '.join(contract.CUT_RULES)}.")
    params = _base_params(request)
    restore.read_settings(params)  # parameter errors before any file is opened
    if request.resume and request.overwrite:
        raise ParameterError("--resume with --overwrite: choose one. --resume keeps the finished frames, "
                             "--overwrite renders every frame again.")
    model = load_session(request.model, request.device, request.threads, request.precision, request.tensorrt_cache)
    check_keyframes_flag(model, request.model, request.keyframes)
    _check_matte_flag(model.contract, request)
    shot = open_shot(request.source)
    positions = _positions_to_render(shot, request.frames)
    out_format = _output_format(shot, request.extension)
    _check_layer_flags(request, out_format)
    _check_folders(request, shot)
    keyframes = None if request.keyframes is None else register_for_render(
        request.keyframes, shot, model, request.model, [shot.frame_ids[index] for index in positions])
    window = _frame_window(request, shot, model.contract, positions)
    plan = _plan_frames(request, window, positions, out_format, keyframes)
    log_path = request.output / render_log.render_log_name(request.frames)
    record = _log_record(request, model, shot, out_format, request_warnings(request.device, model))
    if window.before or window.after:
        record["shot_starts"] = [shot.frame_ids[position] for position in sorted(window.starts)]
    if keyframes is not None:
        record["keyframes"] = keyframes.log_section()
    kept = prepare_folder(plan, log_path, record, resume=request.resume, overwrite=request.overwrite)
    record["frames"] = [kept[frame] for frame in sorted(kept)]
    _make_folders(request)
    render_log.write_render_log(log_path, record)
    started = time.perf_counter()
    try:
        _render_frames(request, window, [step for step in plan if step.frame not in kept], out_format, params,
                       record, log_path, keyframes)
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


def _frame_window(request: RenderRequest, shot: Shot, model_contract: Any, positions: list[int]) -> FrameWindow:
    """The frames each rendered frame's window reads; a window model's windows stop at the input's cuts unless
    `--cuts none` (frame_window's docstring)."""
    before, after = model_contract.frames_before, model_contract.frames_after
    starts = frozenset()
    if (before or after) and request.cuts == "auto":
        starts = shot_starts_in_reach(shot, positions, before, after, shot.read)
    return FrameWindow(shot, before, after, lambda index: _host_layout(shot.read(index)), starts)


def _finish(request: RenderRequest, plan: list[_FramePlan], log_path: Path, record: dict[str, Any],
            started: float) -> None:
    """Close the log `complete`, or `failed` naming the input frames that could not be read, whether as frames to
    render or as a window model's context (a frame rendered without a neighbour is not the frame a render with
    that neighbour gives, so the render is not finished until the neighbour is replaced or removed)."""
    failed = [entry for entry in record["frames"] if entry.get("status") == "failed"]
    blind = [entry for entry in record["frames"] if entry.get("missing_context")]
    if not failed and not blind:
        _close_log(log_path, record, "complete", started)
        return
    blind_names = _names([entry["input"] for entry in blind])
    if failed:
        record["error"] = f"{len(failed)} input frame(s) could not be read"
        _close_log(log_path, record, "failed", started)
        beside = (f" {len(blind)} frame(s) beside them ({blind_names}) were rendered without them, as if the shot "
                  "had no frame there (missing_context in the log); --resume renders those again too." if blind else "")
        raise FrameReadError(f"{len(failed)} of {len(plan)} input frame(s) could not be read and were not rendered "
                             f"({_names([entry['input'] for entry in failed])}; first: {failed[0]['error']}). The "
                             f"other frames are rendered and the render log {log_path} lists the failures; replace "
                             f"those frames and continue with --resume.{beside}")
    unreadable = sorted({item["input"] for entry in blind for item in entry["missing_context"]})
    record["error"] = f"{len(unreadable)} context frame(s) could not be read"
    _close_log(log_path, record, "failed", started)
    raise FrameReadError(f"{len(blind)} frame(s) ({blind_names}) were rendered without neighbouring frame(s) that "
                         f"cannot be read ({_names(unreadable)}; first: {blind[0]['missing_context'][0]['error']}), "
                         "as if the shot had no frame there (missing_context in the render log "
                         f"{log_path}). Replace those neighbouring frames, or remove them to render without them, "
                         "and continue with --resume: the frames beside them are rendered again.")


def _names(names: list[str]) -> str:
    return ", ".join(names[:3]) + (" …" if len(names) > 3 else "")


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
            "tile_size": request.tile_size, "threads": request.threads, "sensitivity": request.sensitivity,
            "precision": request.precision,
            "tensorrt_cache": None if request.tensorrt_cache is None else str(request.tensorrt_cache)}


def _layer_format(request: RenderRequest) -> str | None:
    """The layer's sample type: None without --layer, else --layer-format (float unless asked otherwise)."""
    if request.layer is None:
        return None
    return request.layer_format or difference_layer.DEFAULT_LAYER_FORMAT


def _check_layer_flags(request: RenderRequest, out_format: FrameFormat) -> None:
    """--layer-format needs --layer; a layer cannot reproduce JPEG frames (lossy, and decoders differ in the
    last code), so --layer with JPEG output is refused. Refused before anything is written."""
    if request.layer is None:
        if request.layer_format is not None:
            raise ParameterError(f"--layer-format {request.layer_format}: no --layer delta DIR was given; add it, or "
                                 "drop --layer-format.")
        return
    if request.layer_format not in (None, *difference_layer.LAYER_FORMATS):
        raise ParameterError(f"--layer-format {request.layer_format!r}: expected one of "
                             f"{', '.join(difference_layer.LAYER_FORMATS)}.")
    if out_format.extension in (".jpg", ".jpeg"):
        raise ParameterError(f"--layer delta {request.layer}: the restored frames would be JPEG, which is lossy and "
                             "read differently by different decoders, so no layer can reproduce them; add --format "
                             "tif, png, dpx or exr, or drop --layer.")


def _check_matte_flag(model: contract.ModelContract, request: RenderRequest) -> None:
    """`--matte` needs a model with a damage matte (a repair model): refused before anything is written."""
    if request.matte is not None and not model.has_matte:
        raise ParameterError(f"--matte {request.matte}: {request.model} is a {model.kind} model and has no damage "
                             "matte (only repair models have one); drop --matte, or use a model trained with "
                             "`chromaluma train --kind repair`.")


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
    targets = [("--output", request.output, "restored frames")] + _side_folders(request)
    for flag, folder, what in targets:
        if folder.resolve() == input_folder:
            raise ParameterError(f"{flag} {folder}: that is the input folder, which holds the original frames; "
                                 f"{what} are never written beside the originals. Choose another folder for the "
                                 f"{what}.")
        if folder.exists() and not folder.is_dir():
            raise ParameterError(f"{flag} {folder}: exists and is not a folder. Choose a folder for the {what}.")
        check_folder_writable(flag, folder)
    side = _side_folders(request)
    for position, (flag, folder, what) in enumerate(side):
        if folder.resolve() == request.output.resolve():
            raise ParameterError(f"{flag} {folder}: same folder as --output; the {what} would take the restored "
                                 "frames' names. Give it a folder of its own.")
        for other_flag, other, other_what in side[:position]:
            if folder.resolve() == other.resolve():
                raise ParameterError(f"{flag} {folder}: same folder as {other_flag}; the {what} would take the "
                                     f"{other_what}' names. Give each a folder of its own.")


def _side_folders(request: RenderRequest) -> list[tuple[str, Path, str]]:
    """The folders written besides --output: (flag, folder, what they hold)."""
    folders = [("--confidence", request.confidence, "confidence frames"), ("--matte", request.matte, "matte frames"),
               ("--layer delta", request.layer, "layer frames")]
    return [(flag, folder, what) for flag, folder, what in folders if folder is not None]


def _make_folders(request: RenderRequest) -> None:
    """Create the output folders; on failure remove the ones made here, so a refused render leaves nothing."""
    made: list[Path] = []
    folders = [("--output", request.output)] + [(flag, folder) for flag, folder, _ in _side_folders(request)]
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


def _positions_to_render(shot: Shot, frames: tuple[int, int] | None) -> list[int]:
    """Positions in `shot` of the frames this render writes (`--frames A-B`, else all); the others stay
    readable as a window model's context."""
    if frames is None:
        return list(range(len(shot)))
    shot.select(*frames)  # refuses a range that holds no frame of the shot
    return [index for index, frame in enumerate(shot.frame_ids) if frames[0] <= frame <= frames[1]]


def _plan_frames(request: RenderRequest, window: FrameWindow, positions: list[int], out_format: FrameFormat,
                 keyframes: ShotKeyframes | None) -> list[_FramePlan]:
    shot, plan = window.shot, []
    for index in positions:
        frame, source_path = shot.frame_ids[index], shot.path_of(index)
        stem = f"{shot.source.stem}.{frame:06d}" if source_path is None else source_path.stem
        name = stem + out_format.extension
        confidence = None if request.confidence is None else request.confidence / (stem + CONFIDENCE_FORMAT.extension)
        matte = None if request.matte is None else request.matte / (stem + MATTE_FORMAT.extension)
        layer = None if request.layer is None else request.layer / (stem + ".exr")
        context = tuple(path for path in (shot.path_of(position) for position in window.neighbour_positions(index)
                                          if position is not None) if path is not None)
        used = () if keyframes is None else keyframes.used_by(frame)
        plan.append(_FramePlan(frame, index, source_path, request.output / name, confidence, context, used, matte,
                               layer))
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
                  "processing_scale": model.contract.processing_scale,
                  "frames_before": model.contract.frames_before, "frames_after": model.contract.frames_after,
                  "has_matte": model.contract.has_matte, "card": card},
        "provider": model.provider,
        "parameters": {"mix": request.mix, "device": request.device, "tile_size": request.tile_size,
                       "threads": request.threads, "frames": list(request.frames) if request.frames else None,
                       "sensitivity": request.sensitivity, "layer_format": _layer_format(request),
                       "precision": request.precision,
                       "tensorrt_cache": str(request.tensorrt_cache.resolve()) if request.tensorrt_cache else None,
                       "format": request.extension, "overwrite": request.overwrite,
                       "premultiplied": _premultiplied(shot),
                       "cuts": request.cuts if model.contract.frames_before or model.contract.frames_after else None},
        "input": {"source": str(shot.source.resolve()), "type": "video" if shot.is_video else "sequence",
                  "format": _format_record(shot.frame_format), "fps": shot.fps},
        "output": {"folder": str(request.output.resolve()), "format": _format_record(out_format),
                   "confidence_folder": str(request.confidence.resolve()) if request.confidence else None,
                   "matte_folder": str(request.matte.resolve()) if request.matte else None,
                   "layer_folder": str(request.layer.resolve()) if request.layer else None,
                   "layer_rule": LAYER_RULE if request.layer else None},
        "frames": [],
        "warnings": list(warnings),
        "software": render_log.software_versions(),
    }


def _premultiplied(shot: Shot) -> bool:
    """EXR stores premultiplied colour by convention; PNG, TIFF and DPX as handed to restorers are straight."""
    return shot.frame_format.extension == ".exr"


def _format_record(frame_format: FrameFormat) -> dict[str, Any]:
    return {"extension": frame_format.extension, "sample_type": frame_format.sample_type, "bits": frame_format.bits}


def _render_frames(request: RenderRequest, window: FrameWindow, todo: list[_FramePlan], out_format: FrameFormat,
                   params: dict[str, Any], record: dict[str, Any], log_path: Path,
                   keyframes: ShotKeyframes | None) -> None:
    """Render `todo` in frame order (the window reads each input frame once), rewriting the log after each
    frame (so a kill leaves an accurate frames list)."""
    from tqdm import tqdm

    params["premultiplied"] = _premultiplied(window.shot)
    bar = tqdm(todo, unit="frame", desc=f"apply {request.model.name}", disable=not request.progress)
    with reuse_freed_memory():  # each frame's arrays reuse the last frame's pages (chromaluma.host_memory)
        for step in bar:
            try:
                entry = _render_frame(window, step, out_format, params, record, keyframes, _layer_format(request))
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


def _render_frame(window: FrameWindow, step: _FramePlan, out_format: FrameFormat, params: dict[str, Any],
                  record: dict[str, Any], keyframes: ShotKeyframes | None, layer_format: str | None) -> dict[str, Any]:
    """Render and write one frame; returns its log entry (`status: failed` if its input cannot be read).

    A window model's neighbour that cannot be decoded is given as None, so the backend's edge rule fills it from
    the frames between it and this one, exactly as at the end of the shot: the frame is still rendered (a
    restorer wants the rest of the shot), a warning names the unreadable frame, and the entry's
    `missing_context` records it with its SHA-256, so `--resume` renders this frame again once it is replaced
    or removed (render_resume checks every recorded window)."""
    centre, neighbours = window.around(step.index)
    if centre.pixels is None:
        log.error("%s", centre.error)
        return {"frame": step.frame, "input": centre.name, "status": "failed", "error": centre.error}
    frame_params = dict(params)
    if window.before or window.after:  # a single-frame model gets exactly today's params
        frame_params["neighbours"] = [None if item is None else item.pixels for item in neighbours]
    for item in neighbours:
        if item is not None and item.pixels is None:
            note = f"{item.name} cannot be read; the frames beside it were rendered without it (missing_context)"
            log.warning("frame %d rendered without its neighbour %s: %s", step.frame, item.name, item.error)
            if note not in record["warnings"]:
                record["warnings"].append(note)
    src = centre.pixels
    if keyframes is not None:
        frame_params["keyframes"] = keyframes.arrays(step.frame, src.shape[2])
    dst = np.empty_like(src)
    confidence = np.empty(src.shape[:2], np.float32) if step.confidence is not None else None
    planes: dict[str, np.ndarray] = {"matte": np.empty(src.shape[:2], np.float32)} if step.matte is not None else {}
    report = restore.process_frame(src, dst, frame_params, confidence=confidence, **planes)
    matte = planes.get("matte")
    if step.layer is not None and layer_format == "float":
        dst = difference_layer.reachable(src, dst, out_format.sample_type)
    elif step.layer is not None:  # a half layer that cannot hold the change refuses before the frame is written
        difference_layer.check_half_range(src, dst, step.frame)
    restored = write_frame(step.output, dst, out_format)
    if step.layer is not None and layer_format is not None:
        _write_layer(step, src, restored, out_format, layer_format)
    if step.confidence is not None and confidence is not None:
        write_frame(step.confidence, confidence[:, :, np.newaxis], CONFIDENCE_FORMAT)
    if step.matte is not None and matte is not None:
        write_frame(step.matte, matte[:, :, np.newaxis], MATTE_FORMAT)
    for note in report.warnings:
        if note not in record["warnings"]:
            record["warnings"].append(note)
    return _frame_record(step, centre, neighbours if window.before or window.after else None, report)


def _write_layer(step: _FramePlan, scan: np.ndarray, restored: np.ndarray, out_format: FrameFormat,
                 layer_format: str) -> None:
    """Write the frame's difference layer (:mod:`chromaluma.backend.difference_layer`). A float layer is checked
    before it is written: scan + layer, stored at the output's sample type, must give the written samples."""
    assert step.layer is not None
    layer = difference_layer.difference(scan, restored, layer_format)
    if layer_format == "float":
        rebuilt = stored_samples(difference_layer.reconstruct(scan, layer), out_format)
        written = stored_samples(restored, out_format)
        if rebuilt.tobytes() != written.tobytes():  # integer codes far below the scan's float32 step
            step.output.unlink(missing_ok=True)  # the log never listed it: a --resume renders it again
            peak = float(np.nanmax(np.abs(np.where(np.isfinite(scan), scan, 0))))
            raise FrameWriteError(f"frame {step.frame}: scan + layer cannot give every {out_format.bits}-bit code of "
                                  f"{step.output.name} (the scan holds values up to {peak:.4g}, too far from the "
                                  "output's 0-1 range for a float32 sum to land on each code); neither the frame nor "
                                  "its layer was kept. Write float output with --format exr, or drop --layer.")
    write_frame(step.layer, layer, LAYER_FILE_FORMATS[layer_format])


def _host_layout(pixels: np.ndarray) -> np.ndarray:
    """Frames as read (1–4 channels) → RGB or RGBA float32, the layouts restore.process takes."""
    channels = pixels.shape[2]
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    if channels == 2:
        return to_rgba(pixels)
    return pixels


def _frame_record(step: _FramePlan, centre: WindowFrame, neighbours: list[WindowFrame | None] | None,
                  report: restore.RenderReport) -> dict[str, Any]:
    """The log entry of a written frame; a window model's entry names the inputs of its window (`context`, and
    `missing_context` for those that could not be read) with their SHA-256, which `--resume` checks."""
    entry: dict[str, Any] = {
        "frame": step.frame,
        "status": "written",
        "input": centre.name,
        "input_sha256": centre.sha256,
        "output": step.output.name,
        "output_sha256": contract.file_sha256(step.output),
        "nonfinite_pixels": report.nonfinite_pixels,
    }
    if neighbours is not None:
        present = [item for item in neighbours if item is not None]
        entry["context"] = [{"frame": item.frame, "input": item.name, "input_sha256": item.sha256}
                            for item in present if item.pixels is not None]
        missing = [{"frame": item.frame, "input": item.name, "input_sha256": item.sha256, "error": item.error}
                   for item in present if item.pixels is None]
        if missing:
            entry["missing_context"] = missing
    if step.keyframes:
        entry["keyframes"] = list(step.keyframes)
    if step.confidence is not None:
        entry["confidence"] = step.confidence.name
        entry["confidence_sha256"] = contract.file_sha256(step.confidence)
    if step.matte is not None:
        entry["matte"] = step.matte.name
        entry["matte_sha256"] = contract.file_sha256(step.matte)
    if step.layer is not None:
        entry["layer"] = step.layer.name
        entry["layer_sha256"] = contract.file_sha256(step.layer)
    return entry


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
