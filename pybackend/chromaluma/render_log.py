"""The render log: `chromaluma-render*.json` beside a render's output frames, documenting how they were made.

One log per render task. A whole-shot render writes `chromaluma-render.json`; a render-farm task given
`--frames A-B` writes `chromaluma-render.A-B.json`, so N machines rendering ranges of one shot into the same
folder never write the same file. Every write is atomic (a temp file unique to this process, renamed over the
log), so a reader sees the previous complete log or the new one, never half of one. The log is written when the
render starts (`status: "rendering"`) and rewritten when it ends (`complete`, `failed` or `interrupted`).
"""

from __future__ import annotations

import platform
import socket
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from chromaluma import __version__
from chromaluma.errors import FrameWriteError
from chromaluma.io.atomic import write_json_atomically

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


def write_render_log(path: Path, record: dict[str, Any]) -> None:
    """Write `record` as JSON to `path` atomically (temp file in the same folder, then os.replace)."""
    try:
        write_json_atomically(path, {"log_format_version": LOG_FORMAT_VERSION, **record})
    except OSError as exc:
        raise FrameWriteError(f"{path}: cannot write the render log ({exc.strerror}). Check free disk space and "
                              "permissions of the output folder.") from exc
