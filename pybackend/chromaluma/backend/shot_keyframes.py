"""A keyframe model's painted keyframes while `chromaluma apply` renders a shot (docs/CONTRACT.md §1.7).

`--keyframes DIR` is registered onto the input once per render (:func:`chromaluma.keyframes.register_keyframes`,
with the shot cuts the model's card records), before anything is written: a keyframe that cannot be registered,
or a frame to render whose shot holds no keyframe, refuses the render naming the file or the first such frame.
Each frame then gets its pair (`KeyframeSet.pair_for`) as two full-frame arrays in `params["keyframes"]`: apply
renders whole frames, so no crop. The pair depends only on the frame number and the folder, never on the
`--frames` range or on what was rendered before, so farm tasks give the bytes of one whole render.

A frame's render-log entry names its keyframes (frame, file, SHA-256 of the painted file, and SHA-256 of the
registered pixels, which also change when the keyframe's own scan frame is replaced); `--resume` renders a frame
again when any of them differs (:mod:`chromaluma.backend.render_resume`). The registration report is logged once.

Registered keyframes are built on the scan frame's own pixels as read (straight, or premultiplied for EXR), so
they are handed over in the scan's convention and converted exactly like `src`; a 1- or 3-channel scan gets their
RGB channels, the layout its frames are rendered in.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.backend.keyframe_pair import shot_cuts
from chromaluma.backend.session import ModelSession
from chromaluma.errors import ParameterError
from chromaluma.io.sequence import Shot

log = logging.getLogger(__name__)


def check_keyframes_flag(model: ModelSession, model_path: Path, keyframes: Path | None) -> None:
    """Refuse a keyframe model without `--keyframes`, and `--keyframes` for a model that reads none."""
    if model.reads_keyframes and keyframes is None:
        raise ParameterError(f"--model {model_path} is a keyframe model: give --keyframes DIR, the folder of painted "
                             "keyframes named by their frame number in --input (e.g. 0024.png); nothing was rendered.")
    if keyframes is not None and not model.reads_keyframes:
        raise ParameterError(f"--keyframes {keyframes}: --model {model_path} is a {model.contract.kind} model and "
                             "reads no keyframes; nothing was rendered. Leave --keyframes out, or choose a keyframe "
                             "model (chromaluma train --kind keyframes).")


@dataclass(frozen=True)
class ShotKeyframes:
    """The registered keyframes of one render and what its log records of them."""

    folder: Path
    keyframe_set: Any  # chromaluma.keyframes.KeyframeSet
    report: list[dict[str, Any]]
    pixel_digests: dict[int, str]  # keyframe frame → SHA-256 of its registered pixels

    def used_by(self, frame: int) -> tuple[dict[str, Any], ...]:
        """The log's record of the two keyframes `frame` reads (before, after; one twice when a side has none)."""
        return tuple({"frame": key.frame, "file": key.path.name, "sha256": key.sha256,
                      "registered_sha256": self.pixel_digests[key.frame]}
                     for key in self.keyframe_set.pair_for(frame))

    def arrays(self, frame: int, channels: int) -> list[np.ndarray]:
        """`params["keyframes"]` for `frame`: the pair's full frames with the rendered frame's channel count."""
        return [key.image if channels == 4 else key.image[..., :channels] for key in self.keyframe_set.pair_for(frame)]

    def log_section(self) -> dict[str, Any]:
        """The render log's `keyframes` section: the folder, the shot cuts used and the registration report."""
        return {"folder": str(self.folder.resolve()), "cuts": list(self.keyframe_set.cuts),
                "registration": self.report}


def register_for_render(folder: Path, shot: Shot, model: ModelSession, model_path: Path,
                        frames: list[int]) -> ShotKeyframes:
    """Register `folder` onto `shot` and check that every frame of `frames` (those to render) has a keyframe in its
    shot; KeyframeError naming the file, or the first frame without one, and the fix."""
    from chromaluma.keyframes import KeyframeError, register_keyframes  # deferred: only keyframe renders need it

    keyframe_set, report = register_keyframes(folder, shot, shot_cuts(model.contract.card, model_path))
    for frame in frames:
        try:
            keyframe_set.pair_for(frame)
        except KeyframeError as exc:
            raise KeyframeError(f"--keyframes {folder}: {exc} Nothing was rendered.") from exc
    digests = {key.frame: hashlib.sha256(np.ascontiguousarray(key.image).tobytes()).hexdigest()
               for key in keyframe_set.keyframes}
    verdicts = ", ".join(f"{entry['frame']} ({entry['file']}: {entry['verdict']}, score {entry['score']:.2f})"
                         for entry in report)
    log.info("keyframes from %s registered onto %s: %s", folder, shot.source, verdicts)
    return ShotKeyframes(folder, keyframe_set, report, digests)
