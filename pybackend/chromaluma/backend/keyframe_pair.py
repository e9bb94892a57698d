"""A keyframe model's two keyframes for one `process` call: `params["keyframes"]` (docs/CONTRACT.md §1.7).

Two forms. **Arrays**: exactly two arrays, the same region of the registered keyframes as `src` (same H, W and
channels; any sample type and strides §1.1 allows), converted like `src` (`params["premultiplied"]` applies).
**Folder**: the path of a folder of registered keyframes (full frames on the scan's geometry, named by frame number)
with `params["frame"]`, the frame being rendered, and optionally `params["frame_size"]` = (W, H) of the full frame.
The folder's set comes from :func:`chromaluma.keyframes.render_set` with the model card's shot cuts; the pair is
the set's `pair_for(frame)`, each keyframe cropped to `src`'s region at `params["frame_origin"]`. Registered
keyframes are straight RGBA, so they are never unpremultiplied.

Either way the pair depends only on `params` and the files, never on what was rendered before: farm-safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma import contract
from chromaluma.backend import pixels
from chromaluma.backend.session import ModelSession
from chromaluma.errors import ModelFormatError, ParameterError

KEYFRAMES = "keyframes"
FRAME = "frame"
FRAME_SIZE = "frame_size"
_GIVE_KEYFRAMES = "(Keyframes folder / --keyframes DIR)"


@dataclass(frozen=True)
class KeyframePair:
    """The two keyframes (index 0 at or before the frame, 1 at or after), each the same region as `src`."""

    frames: tuple[np.ndarray, np.ndarray]
    premultiplied: bool  # whether their colour is premultiplied by their own alpha (the arrays form follows src)
    numbers: tuple[int, ...] = ()  # their frame numbers (folder form; () for arrays)
    distances: tuple[int, ...] = ()  # frame − keyframe frame, same order (folder form; () for arrays)


def keyframe_pair(params: dict[str, Any], model: ModelSession, model_path: Path, src: np.ndarray,
                  frame_origin: tuple[int, int], premultiplied: bool) -> KeyframePair | None:
    """The checked pair for a keyframe model (`model_path`: the file as the caller named it), None for other
    kinds; ParameterError / PixelLayoutError / KeyframeError naming the parameter or file and the fix."""
    given = params.get(KEYFRAMES)
    if given is None or (isinstance(given, str) and not given):  # the plug-in's empty Keyframes folder
        if model.reads_keyframes:
            raise ParameterError(f"{model_path} is a keyframe model: give params['keyframes'] {_GIVE_KEYFRAMES}, "
                                 "the folder of its registered keyframes.")
        return None
    if not model.reads_keyframes:
        raise ParameterError(f"params['keyframes'] given, but {model_path} is a {model.contract.kind} model and "
                             "reads no keyframes: leave it empty, or choose a keyframe model.")
    if isinstance(given, (str, Path)):
        return _from_folder(Path(given), params, shot_cuts(model.contract.card, model_path), src, frame_origin)
    return _from_arrays(given, src, premultiplied)


def _from_arrays(given: Any, src: np.ndarray, premultiplied: bool) -> KeyframePair:
    count = contract.KEYFRAME_COUNT
    if isinstance(given, (bytes, np.ndarray)) or not isinstance(given, (list, tuple)):
        raise ParameterError(f"params['keyframes']: expected a folder path or a list of {count} arrays, got "
                             f"{type(given).__name__}.")
    if len(given) != count:
        raise ParameterError(f"params['keyframes']: {len(given)} array(s) given; a keyframe model reads exactly "
                             f"{count}: the keyframe at or before the frame and the one at or after it (the same one "
                             "twice when there is only one).")
    frames = [pixels.same_region(frame, f"keyframes[{index}]", src, "the registered keyframe")
              for index, frame in enumerate(given)]
    return KeyframePair((frames[0], frames[1]), premultiplied and src.shape[2] == 4)


def keyframes_at(params: dict[str, Any], model: ModelSession, model_path: Path) -> KeyframePair | None:
    """For `process(None, None, params)`: the full-frame pair the folder form gives `params["frame"]` (what Model
    Info shows before a render), or None when the model reads no keyframes or no folder is given. The folder's
    errors are raised as a render would raise them."""
    given = params.get(KEYFRAMES)
    if not model.reads_keyframes or not isinstance(given, (str, Path)) or not str(given):
        return None
    frame, pair = _folder_pair(Path(given), params, shot_cuts(model.contract.card, model_path))
    return KeyframePair((pair[0].image, pair[1].image), False, *_numbers(frame, pair))


def _from_folder(folder: Path, params: dict[str, Any], cuts: tuple[int, ...], src: np.ndarray,
                 frame_origin: tuple[int, int]) -> KeyframePair:
    from chromaluma.keyframes import KeyframeError  # deferred: only keyframe renders need the library

    frame, pair = _folder_pair(folder, params, cuts)
    height, width = src.shape[:2]
    x, y = frame_origin
    crops = []
    for keyframe in pair:
        key_height, key_width = keyframe.image.shape[:2]
        if x < 0 or y < 0 or x + width > key_width or y + height > key_height:
            raise KeyframeError(f"{keyframe.path}: {key_width}x{key_height} does not cover the region "
                                f"{width}x{height} at column {x}, row {y} of frame {frame}: the keyframes must be "
                                "full frames registered onto this scan (RUN/keyframes/ of `chromaluma train`).")
        crops.append(keyframe.image[y:y + height, x:x + width])
    return KeyframePair((crops[0], crops[1]), False, *_numbers(frame, pair))


def _folder_pair(folder: Path, params: dict[str, Any], cuts: tuple[int, ...]) -> tuple[int, tuple[Any, Any]]:
    """(frame, its (before, after) `chromaluma.keyframes.Keyframe` pair), the frame and frame size checked."""
    from chromaluma.keyframes import KeyframeError, render_set  # deferred: only keyframe renders need the library

    frame = params.get(FRAME)
    if isinstance(frame, (bool, np.bool_)) or not isinstance(frame, (int, np.integer)):
        raise ParameterError(f"params['frame'] {frame!r}: a keyframes folder needs the number of the frame being "
                             "rendered (an integer) to choose its keyframes.")
    frame_size = _frame_size(params.get(FRAME_SIZE))
    pair = render_set(folder, cuts).pair_for(int(frame))
    for keyframe in pair:
        key_height, key_width = keyframe.image.shape[:2]
        if frame_size is not None and (key_width, key_height) != frame_size:
            raise KeyframeError(f"{keyframe.path}: {key_width}x{key_height}, but the frame is "
                                f"{frame_size[0]}x{frame_size[1]}: the keyframes folder must hold keyframes "
                                "registered onto this scan (the folder `chromaluma train` wrote as RUN/keyframes/).")
    return int(frame), (pair[0], pair[1])


def _numbers(frame: int, pair: tuple[Any, Any]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(the keyframes' frame numbers, frame − each of them)."""
    return tuple(int(k.frame) for k in pair), tuple(frame - int(k.frame) for k in pair)


def shot_cuts(card: dict[str, Any], model_path: Path) -> tuple[int, ...]:
    """The shot start frames a model's card records (training.keyframes.cuts); () = the film is one shot."""
    from chromaluma.keyframes import shot_cuts_of_card  # deferred: only keyframe renders need the library

    try:
        return shot_cuts_of_card(card)
    except ValueError as exc:
        raise ModelFormatError(f"{model_path}: model card entry {exc}: the card is damaged; re-export the "
                               "model.") from exc


def _frame_size(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    try:  # two whole numbers > 0; a string would iterate as characters
        if isinstance(value, (str, bytes)) or any(isinstance(v, (str, bytes, bool)) for v in value):
            raise TypeError(FRAME_SIZE)
        width, height = (int(v) for v in value)
        valid = all(float(v) == int(v) for v in value) and width > 0 and height > 0
    except (TypeError, ValueError, OverflowError):
        valid = False
    if not valid:
        raise ParameterError(f"params['frame_size'] {value!r}: expected two integers > 0 (width, height of the full "
                             "frame), or leave it out.")
    return width, height

