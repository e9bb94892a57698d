"""The plug-in's Render Log: one JSON line appended per render to the file `params["render_log"]` names
(docs/CONTRACT.md §1.4), in the vocabulary of `chromaluma apply`'s render log (:mod:`.render_log`).

A host renders frames on several threads and farm nodes render one shot in several processes, all appending to the
same file. So the log is JSON Lines, never rewritten: each record is one line written by a single `write()` on a
descriptor opened with `O_APPEND` (the kernel places every write at the end of the file), inside an exclusive
`flock` that every Chromaluma writer takes, so two records never interleave, whichever thread or process wrote them.
A failed or short write is cut off again (`ftruncate` to where the file ended, still under the lock), so a reader
never meets half a record; a line left unfinished by a writer killed mid-write (no lock survives its process) is
closed with a newline before the next record, so only that one line is unreadable. The lock is advisory: a program
that appends without taking it (an editor) is not kept out.

What a record holds: `status` (`complete`, or `failed` with `error` when process() refused the frame), `started`,
`finished`, `host` (the machine) and `pid`, as in apply's log; `application` (the OFX host: its `name`, `label`,
`version`, `version_label` from the host descriptor) and `plugin` (identifier, version, bridge ABI) from
`params["host_render"]`; `model` (path, sha256, kind, colorspace, receptive field, processing scale, window,
has_matte, summary; not the card, which the model file holds and its sha256 identifies), `provider`, `parameters`
(every scalar parameter process() was given, arrays summarised), `frames` (one entry: the frame, the host's time,
render window and scale, the region rendered, non-finite pixels passed through, missing neighbours, keyframes
used), `warnings` and `software`.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from chromaluma.backend import render_log
from chromaluma.errors import ChromalumaError, FrameWriteError, ParameterError
from chromaluma.io.atomic import describe_os_error


class RenderReport(Protocol):
    """What a record reads of :class:`chromaluma.backend.restore.RenderReport` (restore imports this module, so
    this one names only the fields it reads rather than import restore back)."""

    provider: str


Report = TypeVar("Report", bound=RenderReport)

log = logging.getLogger(__name__)

RECORD = "plugin render"  # the record's `record`: what wrote it (apply's whole-render log has no such key)
# The scalar parameters a record copies from `params`, under the names process() takes (docs/CONTRACT.md §1.4).
_SCALARS = ("mix", "device", "tile_size", "output_mode", "sensitivity", "premultiplied", "window", "frame_origin",
            "threads", "frame", "frame_size", "precision", "tensorrt_cache")


class RenderLogError(FrameWriteError):
    """The Render Log file cannot be appended to (a folder, no permission, disk full)."""


@dataclass(frozen=True)
class LogRequest:
    """Where to append this render's record, and who renders (the OFX host and plug-in, when given)."""

    path: Path
    application: dict[str, Any] | None
    plugin: dict[str, Any] | None
    time: float | None
    render_window: list[int] | None
    render_scale: list[float] | None


def log_request(params: dict[str, Any]) -> LogRequest | None:
    """`params["render_log"]` and `params["host_render"]` checked (§1.4); None when no log is asked for (absent,
    None or "")."""
    path = params.get("render_log")
    if path is None or path == "":
        return None
    if not isinstance(path, (str, Path)) or "\0" in str(path):
        raise ParameterError(f"render_log {path!r}: expected the path of a file to append render records to "
                             "(Render Log), or \"\" for none.")
    given = params.get("host_render")
    if given is None:
        return LogRequest(Path(path), None, None, None, None, None)
    if not isinstance(given, dict):
        raise ParameterError(f"host_render: expected a dict describing the host's render, got {type(given).__name__}.")
    time = _numbers(given.get("time"), "host_render['time']", 1, integer=False)
    return LogRequest(path=Path(path), application=_text_dict(given.get("host"), "host_render['host']"),
                      plugin=_text_dict(given.get("plugin"), "host_render['plugin']"),
                      time=None if time is None else time[0],
                      render_window=_numbers(given.get("render_window"), "host_render['render_window']", 4,
                                             integer=True),
                      render_scale=_numbers(given.get("render_scale"), "host_render['render_scale']", 2,
                                            integer=False))


def _plain(value: Any) -> bool:
    """Text, a whole number or a list of whole numbers: what the host's descriptor properties hold."""
    whole = isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str) or whole or (isinstance(value, list) and all(_plain(v) for v in value))


def _text_dict(value: Any, name: str) -> dict[str, Any] | None:
    """A dict of names to text, whole numbers or lists of whole numbers (copied), or None."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and _plain(v) for k, v in value.items()):
        raise ParameterError(f"{name}: expected a dict of names to text, whole numbers or lists of them, got "
                             f"{value!r}.")
    return dict(value)


def _numbers(value: Any, name: str, count: int, *, integer: bool) -> list[Any] | None:
    """`count` finite numbers (whole numbers if `integer`) as a list; None when absent."""
    if value is None:
        return None
    items = [value] if count == 1 and not isinstance(value, (list, tuple)) else value
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if not isinstance(items, (list, tuple)) or len(items) != count or not all(
            isinstance(v, kinds) and not isinstance(v, bool) and math.isfinite(float(v)) for v in items):
        what = "whole numbers" if integer else "finite numbers"
        raise ParameterError(f"{name} {value!r}: expected {count} {what}.")
    return [int(v) if integer else float(v) for v in items]


def render_logged(request: LogRequest, params: dict[str, Any], render: Callable[[], Report],
                  region: tuple[int, int]) -> Report:
    """Run `render` (one process() call over a (width, height) `region`) and append its record to the log.

    A render process() refuses is logged as `failed` and its own error raised (a log that cannot take that record
    too is only reported in the Python log: the render's error is the one to fix first). A render that succeeded
    but cannot be logged raises :class:`RenderLogError`: the host gets a failed render, never an undocumented one.
    """
    started = render_log.utc_now()
    try:
        report = render()
    except ChromalumaError as exc:
        try:
            append_record(request.path, build_record(request, params, None, region, started, str(exc)))
        except RenderLogError as logged:
            log.error("%s", logged)
        raise
    append_record(request.path, build_record(request, params, report, region, started, None))
    return report


def build_record(request: LogRequest, params: dict[str, Any], report: RenderReport | None, region: tuple[int, int],
                 started: str, error: str | None) -> dict[str, Any]:
    """One render's record (the module docstring lists its fields)."""
    return {
        "log_format_version": render_log.LOG_FORMAT_VERSION,
        "record": RECORD,
        "status": "complete" if error is None else "failed",
        "started": started,
        "finished": render_log.utc_now(),
        "host": render_log.host_name(),
        "pid": render_log.process_id(),
        "application": request.application,
        "plugin": request.plugin,
        "model": _model_record(params, report),
        "provider": None if report is None else report.provider,
        "parameters": _parameters(params),
        "frames": [_frame_entry(request, params, report, region, error)],
        "warnings": [] if report is None else list(report.warnings),
        "software": _software(),
    }


def _model_record(params: dict[str, Any], report: RenderReport | None) -> dict[str, Any]:
    path = str(Path(params["model"]).absolute())
    if report is None:
        return {"path": path}
    return {"path": path, "sha256": report.model_sha256, "summary": report.model_summary, "kind": report.kind,
            "colorspace": report.colorspace, "receptive_field": report.receptive_field,
            "processing_scale": report.processing_scale, "frames_before": report.frames_before,
            "frames_after": report.frames_after, "has_matte": report.has_matte}


def _parameters(params: dict[str, Any]) -> dict[str, Any]:
    """Every scalar parameter given, as JSON values; the mask and neighbour arrays as what was given of them."""
    recorded: dict[str, Any] = {key: _json_value(params[key]) for key in _SCALARS if key in params}
    recorded["mask"] = params.get("mask") is not None
    keyframes = params.get("keyframes")
    if isinstance(keyframes, (str, Path)):
        recorded["keyframes"] = str(keyframes)
    elif keyframes is not None:
        recorded["keyframes"] = "arrays"
    return recorded


def _json_value(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_json_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):  # a refused NaN mix is still recorded, as text
        return repr(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    return repr(value)  # whatever else a caller passed (a refused value): recorded as text, never unwritable


def _frame_entry(request: LogRequest, params: dict[str, Any], report: RenderReport | None, region: tuple[int, int],
                 error: str | None) -> dict[str, Any]:
    time = request.time
    entry: dict[str, Any] = {
        "frame": None if time is None else (int(time) if time == int(time) else time),
        "time": time,
        "status": "rendered" if error is None else "failed",
        "render_window": request.render_window,
        "render_scale": request.render_scale,
        "region": list(region),
    }
    neighbours = params.get("neighbours")
    if isinstance(neighbours, (list, tuple)):
        entry["missing_neighbours"] = sum(1 for frame in neighbours if frame is None)
    if report is not None:
        entry["nonfinite_pixels"] = report.nonfinite_pixels
        if report.keyframes:
            entry["keyframes"] = list(report.keyframes)
    if error is not None:
        entry["error"] = error
    return entry


@lru_cache(maxsize=1)
def _software() -> dict[str, str]:
    """render_log.software_versions(), looked up once per process (installed packages do not change mid-render)."""
    return render_log.software_versions()


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append `record` to `path` as one JSON line: one write() under an exclusive flock, O_APPEND (the module
    docstring says why that never interleaves). On failure the file ends where it ended before."""
    line = (json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise _cannot_append(path, exc) from exc
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        _append_locked(descriptor, line)
    except OSError as exc:
        raise _cannot_append(path, exc) from exc
    finally:
        os.close(descriptor)  # closing releases the lock


def _append_locked(descriptor: int, line: bytes) -> None:
    end = os.fstat(descriptor).st_size
    if end and os.pread(descriptor, 1, end - 1) != b"\n":  # a writer killed mid-line: close its line first
        line = b"\n" + line
    try:
        written = os.write(descriptor, line)
        if written != len(line):  # a regular file writes short only when the disk is full
            raise OSError(errno.ENOSPC, "disk full")
        os.fsync(descriptor)
    except OSError:
        os.ftruncate(descriptor, end)  # never leave half a record behind
        raise


def _cannot_append(path: Path, exc: OSError) -> RenderLogError:
    return RenderLogError(f"Render Log {path}: cannot append this render's record ({describe_os_error(exc)}); the "
                          "render is refused so no frame goes undocumented. Choose a writable file in Render Log "
                          "(render_log), or clear it to log nothing.")
