"""Writing a job's spec files into `--spec-dir`: all or nothing, never replacing a different job unless forced.

Every file is checked before any is written: an existing file with the same content is left as it is (writing the
same job twice is harmless), one with other content refuses the whole job unless `force`. Each file is then
written atomically (:mod:`chromaluma.io.atomic`), so a manager never reads half a spec; scripts are made
executable.
"""

from __future__ import annotations

import logging
from pathlib import Path

from chromaluma.errors import ChromalumaError, ParameterError
from chromaluma.io.atomic import check_folder_writable, describe_os_error, write_text_atomically

log = logging.getLogger(__name__)


class SpecWriteError(ChromalumaError):
    """A spec file could not be written (permissions, disk full)."""


def write_spec_files(spec_dir: Path, files: dict[str, str], *, force: bool) -> list[Path]:
    """Write `files` (name → text) into `spec_dir`; returns the paths written or already identical."""
    check_folder_writable("--spec-dir", spec_dir, "nothing was written", "Choose a folder.")
    targets = {spec_dir / name: text for name, text in files.items()}
    different = [path for path, text in targets.items() if path.exists() and _read(path) != text]
    if different and not force:
        raise ParameterError(f"--spec-dir {spec_dir}: {different[0].name} already holds another job "
                             f"({len(different)} file(s) differ); nothing was written. Choose another --spec-dir, "
                             "or add --force to replace it.")
    try:
        spec_dir.mkdir(parents=True, exist_ok=True)
        for path, text in targets.items():
            if path.exists() and _read(path) == text:
                continue
            write_text_atomically(path, text)
            if path.suffix in (".sh", ".py"):
                path.chmod(0o755)
    except OSError as exc:
        raise SpecWriteError(f"--spec-dir {spec_dir}: cannot write the job ({describe_os_error(exc)}); files already "
                             "written are complete, none is half-written. Free space or choose another "
                             "--spec-dir, then run the command again.") from exc
    log.info("wrote %s into %s", ", ".join(files), spec_dir)
    return list(targets)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


