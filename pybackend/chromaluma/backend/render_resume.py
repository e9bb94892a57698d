"""What a render may do with an output folder that already holds frames: refuse, start again, or continue.

`chromaluma apply` without flags refuses to replace anything. `--overwrite` renders every frame again;
`--resume` continues an interrupted, failed or killed render. Both first clear the hidden temp files
(`.NAME.PID.partial.EXT`) a killed render left beside this render's outputs, and both refuse while the render
log says another render on this host is still writing into the folder (a `rendering` log whose pid is alive).
A `rendering` log from another host cannot be checked from here: it is taken as killed, with a warning (the
outputs are written atomically and deterministically, so a second writer wastes work but corrupts nothing).

`--resume` keeps a frame only if the log records it as written and the output (and confidence, matte, layer) file's
SHA-256 still matches the log, and the input frame's SHA-256 still matches too; for a temporal-window model, so must
every input of the frame's window (`context` and `missing_context` in its entry): the window holds the same
files, none replaced, added into a gap or removed, so a frame whose neighbour was unreadable or has been
re-scanned is rendered again. For a keyframe model, the frame's keyframes (`keyframes` in its entry: frame numbers,
the painted files' SHA-256 and the registered pixels' SHA-256) must be the pair this render gives it: a repainted
keyframe, or one added or removed so that the pair changes, renders the frames that read it again, and only
those. Every other frame is rendered again.
It refuses when the model's SHA-256, the execution provider or any parameter that changes pixels differs from
the log (threads do not change pixels; a repair model's sensitivity does, and so does --precision: an fp16 model's
frames differ from fp32's within the checked tolerance, not bit for bit), naming what differs. A log that is
missing while outputs exist cannot vouch for them: refused. The result is byte-identical to an uninterrupted
render.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from chromaluma import contract
from chromaluma.backend import render_log
from chromaluma.errors import ParameterError
from chromaluma.io.atomic import stale_partials

log = logging.getLogger(__name__)

# Parameters that change output pixels or names, with the flag a user would change.
# The device counts through the provider that actually ran (auto and cpu on a machine without GPU are the same).
_PIXEL_PARAMETERS = {"mix": "--mix", "tile_size": "--tile-size", "frames": "--frames", "format": "--format",
                     "premultiplied": "input premultiplication", "layer_format": "--layer-format",
                     "precision": "--precision"}
# What a log written before a parameter existed rendered with (its value then), so such a log still resumes.
_UNRECORDED = {"precision": "fp32", "cuts": None}
# Changes only a window model's pixels (single-frame models record None; window logs written before it crossed cuts).
_WINDOW_PARAMETERS = {"cuts": "--cuts"}
# Changes only a repair model's pixels (other models validate and ignore it; logs written before it existed lack it).
_REPAIR_PARAMETERS = {"sensitivity": "--sensitivity"}


class PlannedFrame(Protocol):
    frame: int
    source: Path | None
    output: Path
    confidence: Path | None
    matte: Path | None  # a repair model's applied matte (`--matte`), or None
    layer: Path | None  # the frame's difference layer (`--layer delta`), or None
    context: tuple[Path, ...]  # the other input files of its window (empty for a single-frame model or video)
    keyframes: tuple[dict[str, Any], ...]  # a keyframe model's pair as the log records it (empty otherwise)


def prepare_folder(plan: Sequence[PlannedFrame], log_path: Path, record: dict[str, Any], *, resume: bool,
                   overwrite: bool) -> dict[int, dict[str, Any]]:
    """Check the output folder against `resume` / `overwrite`, clear stale temp files; returns the log entries
    of the frames a resumed render keeps (by frame number), empty otherwise. Raises ParameterError to refuse."""
    targets = render_files(plan, log_path)
    existing = [path for path in targets if path.exists()]
    previous = _previous_log(log_path, required=resume)
    if previous is not None and (resume or overwrite):
        _refuse_if_running(log_path, previous)
    kept: dict[int, dict[str, Any]] = {}
    if resume and previous is not None:
        _refuse_if_different(log_path, previous, record)
        kept = _verified_frames(previous, plan)
        record["resumed"] = [*previous.get("resumed", []), {"at": render_log.utc_now(), "kept_frames": len(kept),
                                                            "previous_status": previous.get("status")}]
        log.info("resuming %s: %d of %d frame(s) kept, %d to render", log_path.name, len(kept), len(plan),
                 len(plan) - len(kept))
    elif resume and existing:
        raise ParameterError(f"--resume: {log_path} is missing, so {existing[0]} ({len(existing)} file(s)) cannot be "
                             "checked against a render; nothing was rendered. Render again with --overwrite, or "
                             "choose another --output.")
    elif not overwrite and existing:
        unfinished = previous is not None and previous.get("status") != "complete"
        hint = ("Continue that render with --resume, render every frame again with --overwrite"
                if unfinished else "Add --overwrite to replace them")
        raise ParameterError(f"{existing[0]} already exists ({len(existing)} output file(s) would be replaced); "
                             f"nothing was rendered. {hint}, or choose another --output.")
    for stale in stale_partials(targets):
        log.info("removing %s, left by a render that was killed", stale)
        stale.unlink(missing_ok=True)
    return kept


def render_files(plan: Sequence[PlannedFrame], log_path: Path) -> list[Path]:
    """Every file a render of `plan` writes: its log, output frames, confidence, matte and layer frames."""
    return ([log_path] + [step.output for step in plan] + [s.confidence for s in plan if s.confidence is not None]
            + [s.matte for s in plan if s.matte is not None] + [s.layer for s in plan if s.layer is not None])


def _previous_log(log_path: Path, *, required: bool) -> dict[str, Any] | None:
    """The earlier render's log; one that cannot be read only matters to --resume (--overwrite replaces it)."""
    if not log_path.exists():
        return None
    try:
        return render_log.read_render_log(log_path)
    except ParameterError:
        if required:
            raise
        return None


def _refuse_if_running(log_path: Path, previous: dict[str, Any]) -> None:
    if previous.get("status") != "rendering":
        return
    pid, host = previous.get("pid"), previous.get("host")
    if not isinstance(pid, int) or pid == os.getpid():
        return
    if host != render_log.host_name():
        log.warning("%s says host %s (pid %d) is rendering; it cannot be checked from here, so that render is "
                    "taken to have been killed", log_path, host, pid)
        return
    if process_alive(pid):
        raise ParameterError(f"{log_path}: another render (pid {pid}, started {previous.get('started')}) is still "
                             "writing into this folder; nothing was rendered. Wait for it or stop it, then continue "
                             "with --resume.")


def process_alive(pid: int) -> bool:
    """Whether `pid` runs on this host (a zombie, killed but not yet reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _refuse_if_different(log_path: Path, previous: dict[str, Any], record: dict[str, Any]) -> None:
    differences = []
    old_sha, new_sha = previous.get("model", {}).get("sha256", ""), record["model"]["sha256"]
    if old_sha != new_sha:
        differences.append(f"--model (sha256 {old_sha[:12]}… in the log, {new_sha[:12]}… now)")
    if previous.get("provider") != record["provider"]:
        differences.append(f"--device (ran on {previous.get('provider')} in the log, {record['provider']} now)")
    old_params = previous.get("parameters", {})
    windowed = record["model"].get("frames_before") or record["model"].get("frames_after")
    compared = {**_PIXEL_PARAMETERS, **(_REPAIR_PARAMETERS if record["model"].get("has_matte") else {}),
                **(_WINDOW_PARAMETERS if windowed else {})}
    for key, flag in compared.items():
        old = old_params.get(key, _UNRECORDED.get(key))
        if old != record["parameters"][key]:
            differences.append(f"{flag} ({old!r} in the log, {record['parameters'][key]!r} now)")
    for section, key, flag in (("input", "source", "--input"), ("output", "confidence_folder", "--confidence"),
                               ("output", "matte_folder", "--matte"), ("output", "layer_folder", "--layer delta")):
        old, new = previous.get(section, {}).get(key), record[section].get(key)
        if old != new:
            differences.append(f"{flag} ({old} in the log, {new} now)")
    if differences:
        raise ParameterError(f"--resume: {log_path} belongs to a render with a different {'; '.join(differences)}; "
                             "nothing was rendered. Resume with the same model and parameters, or render again "
                             "with --overwrite.")


def _verified_frames(previous: dict[str, Any], plan: Sequence[PlannedFrame]) -> dict[int, dict[str, Any]]:
    written = {entry.get("frame"): entry for entry in previous["frames"]
               if isinstance(entry, dict) and entry.get("status", "written") == "written"}
    kept = {}
    digests: dict[Path, str] = {}  # an input file belongs to several windows: hash it once
    for step in plan:
        entry = written.get(step.frame)
        if entry is not None and _still_matches(entry, step, digests):
            kept[step.frame] = entry
    return kept


def _still_matches(entry: dict[str, Any], step: PlannedFrame, digests: dict[Path, str]) -> bool:
    if entry.get("keyframes", []) != list(step.keyframes):
        log.info("frame %d reads other keyframes than the log recorded (repainted, added or removed); rendering it "
                 "again", step.frame)
        return False
    checks: list[tuple[Path, str | None, str | None]] = [(step.output, entry.get("output_sha256"), entry.get("output"))]
    if step.confidence is not None:
        checks.append((step.confidence, entry.get("confidence_sha256"), entry.get("confidence")))
    if step.matte is not None:
        checks.append((step.matte, entry.get("matte_sha256"), entry.get("matte")))
    if step.layer is not None:
        checks.append((step.layer, entry.get("layer_sha256"), entry.get("layer")))
    if step.source is not None:
        checks.append((step.source, entry.get("input_sha256"), entry.get("input")))
        window = _recorded_window(entry)
        if {name for name, _ in window} != {path.name for path in step.context}:
            log.info("the window of frame %d holds other input frames than the log recorded; rendering it again",
                     step.frame)
            return False
        recorded = dict(window)
        checks.extend((path, recorded[path.name], path.name) for path in step.context)
    for path, digest, recorded_name in checks:
        if not digest or recorded_name != path.name or not path.is_file():
            return False
        if path not in digests:
            digests[path] = contract.file_sha256(path)
        if digests[path] != digest:
            log.info("%s changed since the log recorded it; rendering frame %d again", path, step.frame)
            return False
    return True


def _recorded_window(entry: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(input name, SHA-256) of every other input frame of the entry's window, read or unreadable."""
    items = [*entry.get("context", []), *entry.get("missing_context", [])]
    return [(str(item.get("input")), item.get("input_sha256")) for item in items if isinstance(item, dict)]
