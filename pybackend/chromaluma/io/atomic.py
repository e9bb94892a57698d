"""Writing any file so that a reader never sees half of it: a hidden temp file beside the target, flushed to
disk, then renamed over it. A kill or a full disk leaves the previous file (or none) and removes the temp file.

The temp name is hidden, unique to the writing process (two render-farm tasks never share one) and keeps the
target's extension (`.NAME.PID.partial.EXT`), so writers that pick a format from the file name (OpenImageIO,
matplotlib) work unchanged; sequence listings skip hidden files.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from chromaluma.errors import ParameterError

_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_PARTIAL_NAME = re.compile(r"\.(?P<stem>.+)\.(?P<pid>\d+)\.partial(?P<ext>\.[^.]*)?")


def partial_path(path: Path) -> Path:
    """The hidden temp name used while `path` is being written."""
    return path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")


def stale_partials(targets: Iterable[Path]) -> list[Path]:
    """The hidden temp files (`.NAME.PID.partial.EXT`, any PID) left beside `targets` by a killed writer."""
    found: list[Path] = []
    by_folder: dict[Path, set[str]] = {}
    for target in targets:
        by_folder.setdefault(target.parent, set()).add(target.name)
    for folder, names in by_folder.items():
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            match = _PARTIAL_NAME.fullmatch(entry.name)
            if match and match.group("stem") + (match.group("ext") or "") in names:
                found.append(entry)
    return sorted(found)


def describe_os_error(exc: OSError) -> str:
    """A restorer's words for a filesystem failure: "disk full" for ENOSPC/EDQUOT, else the system's reason."""
    if exc.errno in _DISK_FULL_ERRNOS:
        return "disk full"
    if exc.errno == errno.EROFS:
        return "read-only filesystem"
    return exc.strerror or str(exc)


def replace_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(temp_path)`, make the result durable, rename it to `path`. Raises what `write` or the
    filesystem raised (OSError and friends) after removing the temp file; callers turn that into their own
    actionable error."""
    target = Path(path)
    tmp = partial_path(target)
    try:
        write(tmp)
        with open(tmp, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_bytes_atomically(path: str | Path, payload: bytes) -> Path:
    return replace_atomically(path, lambda tmp: tmp.write_bytes(payload))


def write_text_atomically(path: str | Path, text: str) -> Path:
    return replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomically(path: str | Path, content: object) -> Path:
    return write_text_atomically(path, json.dumps(content, indent=2) + "\n")


def write_stream_atomically(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """For writers that take an open binary stream (torch.save, shutil.copyfileobj)."""

    def through_stream(tmp: Path) -> None:
        with open(tmp, "wb") as stream:
            write(stream)

    return replace_atomically(path, through_stream)


def check_folder_writable(flag: str, folder: Path, outcome: str = "nothing was created",
                          remedy: str = "Choose another folder.") -> None:
    """Refuse before anything is created: `folder`, or the nearest existing folder above it, must be a writable
    folder. ParameterError names `flag` and `folder` and says `outcome` (what the refusal left) and `remedy`."""
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError(f"{flag} {folder}: {existing} is a file, not a folder; {outcome}. {remedy}")
    read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
    if read_only or not os.access(existing, os.W_OK | os.X_OK):
        why = "read-only filesystem" if read_only else "no write permission"
        raise ParameterError(f"{flag} {folder}: cannot write into {existing} ({why}); {outcome}. "
                             "Choose a folder you can write to.")
