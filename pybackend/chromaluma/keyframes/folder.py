"""A keyframes folder: painted frames named by their frame number in the scan, read, checked and cached.

Naming: the last run of digits in the file name is the frame number (`0024.png`, `shot.0024.tif`, `24.exr`), as
for scan sequences (:func:`chromaluma.io.sequence.frame_number`). Any format `chromaluma.io` reads. Registered
keyframes (full frames on the scan's geometry) are written as float EXR, so a log or scene-linear scan loses
nothing, named `NNNNNN.exr`.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from chromaluma.contract import file_sha256
from chromaluma.io import FrameFormat, read_frame, to_rgba, write_frame
from chromaluma.io.sequence import IMAGE_EXTENSIONS, frame_number
from chromaluma.keyframes.selection import Keyframe, KeyframeError, KeyframeSet

REGISTERED_FORMAT = FrameFormat(".exr", "float", 32, 4)
_CACHE_LIMIT = 4  # folders whose keyframes `render_set` keeps decoded (a plug-in instance uses one)
_cache: dict[tuple[str, tuple[int, ...], tuple[tuple[str, int, int], ...]], KeyframeSet] = {}
_cache_lock = threading.Lock()


def painted_files(folder: str | Path) -> dict[int, Path]:
    """{frame number: file} of a keyframes folder; KeyframeError for a missing or empty folder, a file without a
    frame number, or two files for one frame."""
    root = Path(folder)
    if not root.is_dir():
        raise KeyframeError(f"{root}: no such keyframes folder. Give the folder of painted keyframes (--keyframes "
                            "DIR / Keyframes), each named by its frame number in the scan.")
    files: dict[int, Path] = {}
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        number = frame_number(path)
        if number is None:
            raise KeyframeError(f"{path}: no frame number in the name; name each keyframe by its frame number in the "
                                "scan (e.g. 0024.png).")
        if number in files:
            raise KeyframeError(f"{path} and {files[number].name}: two keyframes for frame {number}; keep one.")
        files[number] = path
    if not files:
        raise KeyframeError(f"{root}: no keyframes found (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}).")
    return files


def read_painted(path: Path) -> np.ndarray:
    """A painted keyframe as float32 straight RGBA (grey and RGB made RGBA, opaque)."""
    pixels, _ = read_frame(path)
    return np.ascontiguousarray(to_rgba(pixels), dtype=np.float32)


def read_registered(folder: str | Path, frame_size: tuple[int, int] | None = None, cuts: tuple[int, ...] = ()
                    ) -> KeyframeSet:
    """Keyframes already on the scan's geometry (RUN/keyframes/ of `chromaluma train`, or frames painted over the
    scan's own frames); every one the same size, and `frame_size` (W, H) when given."""
    return _read_registered(painted_files(folder), folder, frame_size, cuts)


def _read_registered(files: dict[int, Path], folder: str | Path, frame_size: tuple[int, int] | None,
                     cuts: tuple[int, ...]) -> KeyframeSet:
    keyframes: list[Keyframe] = []
    for number, path in files.items():
        image = read_painted(path)
        size = (image.shape[1], image.shape[0])
        if frame_size is not None and size != tuple(frame_size):
            raise KeyframeError(f"{path}: {size[0]}x{size[1]}, but the scan's frames are {frame_size[0]}x"
                                f"{frame_size[1]}: register the keyframes first (`chromaluma train --kind keyframes` "
                                "writes them registered to RUN/keyframes/).")
        if keyframes and keyframes[0].image.shape != image.shape:
            raise KeyframeError(f"{path}: {size[0]}x{size[1]}, but {keyframes[0].path.name} is "
                                f"{keyframes[0].image.shape[1]}x{keyframes[0].image.shape[0]}: registered keyframes "
                                "are all full frames of one scan.")
        keyframes.append(Keyframe(number, path, file_sha256(path), image))
    return KeyframeSet(tuple(keyframes), cuts, str(folder))


def render_set(folder: str | Path, cuts: tuple[int, ...] = ()) -> KeyframeSet:
    """:func:`read_registered`, kept decoded while the folder's files (names, sizes, modification times) stay the
    same: a plug-in renders many frames from one folder, and a repainted keyframe is read again."""
    root = Path(folder)
    files = painted_files(root)
    try:
        listing = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files.values())
    except OSError as exc:
        raise KeyframeError(f"{root}: cannot read the keyframes folder ({exc}); check it is reachable.") from exc
    key = (str(root.resolve()), tuple(cuts), listing)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    keyframe_set = _read_registered(files, root, None, cuts)
    with _cache_lock:
        for stale in [k for k in _cache if k[0] == key[0]]:
            del _cache[stale]
        while len(_cache) >= _CACHE_LIMIT:
            del _cache[next(iter(_cache))]
        _cache[key] = keyframe_set
    return keyframe_set


def write_registered(keyframe_set: KeyframeSet, folder: str | Path) -> list[Path]:
    """Write each registered keyframe as `folder/NNNNNN.exr` (float, atomic); returns the paths."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for keyframe in keyframe_set.keyframes:
        path = root / f"{keyframe.frame:06d}{REGISTERED_FORMAT.extension}"
        write_frame(path, keyframe.image, REGISTERED_FORMAT)
        written.append(path)
    return written
