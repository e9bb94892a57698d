"""The render log: `chromaluma-render*.json` beside a render's output frames, documenting how they were made.

One log per render task. A whole-shot render writes `chromaluma-render.json`; a render-farm task given
`--frames A-B` writes `chromaluma-render.A-B.json`, so N machines rendering ranges of one shot into the same
folder never write the same file. Every write is atomic (a temp file unique to this process, renamed over the
log), so a reader sees the previous complete log or the new one, never half of one.

States (`status`): `rendering` while the render runs, then `complete`, `failed` (the log names the failed
frame(s) and the error) or `interrupted` (Ctrl-C or SIGTERM). The log is rewritten atomically after every
finished frame, not appended to: a JSON reader never needs to repair it, and a `kill -9` or power cut leaves a
log whose `frames` list names exactly the frames that were verified and renamed into place (a frame whose own
rename happened just before the kill is missing from the list and is rendered again by `--resume`). The
rewrite costs a few hundred bytes per frame listed, small beside the frames themselves. A log left at
`rendering` records `pid` and `host`: on the same host a dead pid means the render was killed, a live one that
it is still running (see :mod:`chromaluma.backend.render_resume`).

The `model` section records the model's window (`frames_before`, `frames_after`); a temporal-window model's
frame entries name the other input frames of their window with their SHA-256 (`context`, and `missing_context`
for those that could not be read), so a log says which input frames made each output frame. A keyframe model's log
has a `keyframes` section (folder, shot cuts, the registration report of every keyframe) and its frame entries name
the two keyframes each frame read (`keyframes`: frame, file, SHA-256 of the painted file and of the registered
pixels). The `parameters` section records `sensitivity` (what a repair model repairs, docs/CONTRACT.md §1.8) and the
`output` section `matte_folder`; with `--matte`, frame entries name their matte frame (`matte`, `matte_sha256`).
With `--layer delta DIR` the `parameters` section records `layer_format` (float or half; null without a layer), the
`output` section `layer_folder` and `layer_rule` (how scan and layer add up to the output), and frame entries name
their difference layer (`layer`, `layer_sha256`).
The `parameters` section records `precision` (fp32 or fp16; a log without it rendered fp32) and `tensorrt_cache`
(the folder of TensorRT engines, or null); `provider` says which ONNX Runtime provider really ran.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from chromaluma import __version__
from chromaluma.errors import FrameWriteError, ParameterError
from chromaluma.io.atomic import describe_os_error, write_json_atomically

LOG_FORMAT_VERSION = 1
LOG_STEM = "chromaluma-render"
_PACKAGES = ("numpy", "onnxruntime", "onnxruntime-gpu", "onnx", "OpenImageIO", "av", "tqdm")


def render_log_name(frames: tuple[int, int] | None) -> str:
    """`chromaluma-render.json` for a whole shot, `chromaluma-render.A-B.json` for a `--frames A-B` task."""
    return f"{LOG_STEM}.json" if frames is None else f"{LOG_STEM}.{frames[0]}-{frames[1]}.json"


def utc_now() -> str:
    """Now, as an ISO 8601 UTC timestamp with a `Z` (what model cards and render logs record)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def software_versions() -> dict[str, str]:
    """Versions of Python, Chromaluma and every package a render depends on (those installed)."""
    versions = {"chromaluma": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def host_name() -> str:
    """The machine that rendered (a farm's logs say which node made which frames)."""
    return socket.gethostname()


def process_id() -> int:
    """This render's process id, recorded so a later `--resume` can tell a killed render from a running one."""
    return os.getpid()


def write_render_log(path: Path, record: dict[str, Any]) -> None:
    """Write `record` as JSON to `path` atomically (temp file in the same folder, then os.replace). On failure
    the previous log stays as it was."""
    try:
        write_json_atomically(path, {"log_format_version": LOG_FORMAT_VERSION, **record})
    except OSError as exc:
        raise FrameWriteError(f"{path}: cannot write the render log ({describe_os_error(exc)}); it keeps its "
                              "previous state. Free disk space or check the output folder's permissions.") from exc


def read_render_log(path: Path) -> dict[str, Any]:
    """The log at `path` as written by :func:`write_render_log`; ParameterError if it is not one."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{path}: not a readable render log ({exc}); the render cannot be continued. "
                             "Render again with --overwrite.") from exc
    if not isinstance(record, dict) or not isinstance(record.get("frames"), list):
        raise ParameterError(f"{path}: not a Chromaluma render log (no frames list); the render cannot be "
                             "continued. Render again with --overwrite.")
    return record
