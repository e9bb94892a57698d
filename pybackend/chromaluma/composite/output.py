"""Where a composite is written: whole folders that appear at once, or not at all.

A composite is used as a training reference, so a folder holding half of one must never look like a finished
one. Every folder the command writes (the composite and, when it lives elsewhere, the source map) is built under
a hidden name beside its final one (`.NAME.PID.partial`, skipped by sequence listings) and renamed into place only
after every frame, map and the report are written and verified. A failure or an interrupt removes the hidden
folder; the final folder is then as it was (absent or empty). Only a process killed outright leaves the hidden
folder behind, which the next run names so it can be deleted.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from chromaluma.errors import FrameWriteError, ParameterError
from chromaluma.io.atomic import describe_os_error

log = logging.getLogger(__name__)


def check_target(folder: Path, flag: str, prints: list[Path]) -> None:
    """`folder` may be written: absent or an empty folder, and not one of the prints."""
    resolved = folder.resolve()
    for source in prints:
        source = source.resolve()
        if resolved == source or source in resolved.parents:
            raise ParameterError(f"{flag} {folder}: lies inside the print {source}; write the composite elsewhere.")
    blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ParameterError(f"{flag} {folder}: {blocking} is a file; give a folder that does not exist yet or is "
                             "empty.")
    if folder.is_dir() and any(folder.iterdir()):
        raise ParameterError(f"{flag} {folder}: is not empty; give a new or empty folder (a composite is written "
                             "whole, never over another).")
    stale = sorted(folder.parent.glob(f".{folder.name}.*.partial")) if folder.parent.is_dir() else []
    if stale:
        log.warning("%s: a killed run left %s; delete it", folder, ", ".join(str(s) for s in stale))


class StagedFolder:
    """A folder built under a hidden name and renamed to `final` by :meth:`publish` (removed by :meth:`discard`)."""

    def __init__(self, final: Path, flag: str) -> None:
        self.final = final
        self.flag = flag
        self.path = final.parent / f".{final.name}.{os.getpid()}.partial"

    def create(self) -> StagedFolder:
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                shutil.rmtree(self.path)
            self.path.mkdir()
        except OSError as exc:
            raise FrameWriteError(f"{self.flag} {self.final}: cannot create it ({describe_os_error(exc)}); choose a "
                                  "folder you can write to.") from exc
        return self

    def publish(self) -> Path:
        """Rename the finished folder into place (an empty `final` folder is replaced)."""
        try:
            if self.final.is_dir():
                self.final.rmdir()  # still empty: check_target ran before any work and nothing writes there
            os.replace(self.path, self.final)
        except OSError as exc:
            raise FrameWriteError(f"{self.flag} {self.final}: could not move the finished composite into place "
                                  f"({describe_os_error(exc)}); nothing was published. Check the folder and "
                                  "run again.") from exc
        return self.final

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
