"""Restoring one frame: `process(src, dst, params)` (docs/CONTRACT.md §1), which the OpenFX plug-in reaches
through :mod:`chromaluma.api`, and `process_frame`, which also hands back the confidence (`chromaluma apply`).

It knows nothing of OFX: it takes numpy views of host pixels, runs the model (whole region at once when it fits
the tile size, else overlapping feathered tiles) and writes into `dst`. Everything it refuses is a
:class:`ChromalumaError` subclass whose message names the parameter or file and the fix.

What a call did comes back as a :class:`RenderReport` (§1.5): the provider used, the model's description and
window (what the plug-in needs for its region of interest, the frames it asks the host for and Model Info),
warnings, non-finite pixels passed through, and the pixel path. A temporal-window model's other frames come in
`params["neighbours"]` (§1.6); the edge rule that fills missing ones lives here, in :func:`window_frames`. A
keyframe model's two keyframes come in `params["keyframes"]` (§1.7, :mod:`~chromaluma.backend.keyframe_pair`). A
repair model's damage matte (§1.8) is blended across tiles like the confidence, then thresholded at 1 − sensitivity:
only pixels above it are repaired, every other one is src bit for bit; a format-5 repair model reads its neighbours
moved onto the frame (:mod:`chromaluma.align.neighbours`), once over the whole region.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.align.keyframe_flow import moved_keyframes
from chromaluma.align.neighbours import compensated_neighbours
from chromaluma.backend import host_render_log, pixels, tiling
from chromaluma.backend.keyframe_pair import KeyframePair, keyframe_pair, keyframes_at
from chromaluma.backend.render_settings import RenderSettings, read_settings
from chromaluma.backend.session import InferenceError, ModelSession, load_session, request_warnings
from chromaluma.errors import ChromalumaError, ParameterError, PixelLayoutError

log = logging.getLogger(__name__)

# report["pixel_path"] (docs/CONTRACT.md §1.4): how the host's pixels reached the model and came back
ZERO_COPY = "zero-copy"  # the model read src's memory and ONNX Runtime wrote dst's memory: no copy either way
ZERO_COPY_INPUT = "zero-copy input"  # the model read src's memory; its output was finished into dst
COPIED = "copied"  # the model input was copied (and converted) out of src


@dataclass(frozen=True)
class RenderReport:
    """What one `process` call did (docs/CONTRACT.md §1.5): returned, never written into `params`."""

    provider: str  # the ONNX Runtime provider actually used
    model_summary: str  # one line: kind, colorspace, training summary
    warnings: tuple[str, ...]  # e.g. GPU fallback, NaN/Inf pixels passed through
    model_sha256: str
    kind: str
    colorspace: str
    receptive_field: int
    processing_scale: float
    has_confidence: bool
    frames_before: int  # the model's window: frames read before and after the one it restores
    frames_after: int
    has_matte: bool = False  # a damage-repair model: output_mode "matte" and process_frame's `matte` work (§1.8)
    nonfinite_pixels: int = 0
    pixel_path: str | None = None  # None when nothing was rendered (process(None, None, params))
    keyframes: tuple[int, ...] = ()  # frame numbers of the keyframes used (folder form, §1.7; () otherwise)
    keyframe_distances: tuple[int, ...] = ()  # frame − keyframe frame, same order


def process(src: np.ndarray | None, dst: np.ndarray | None, params: dict[str, Any]) -> RenderReport:
    """Restore `src` into `dst` with params['model'] (docs/CONTRACT.md §1); `process(None, None, p)` only loads.
    With params['render_log'], a render (not a describe) appends its record there (:mod:`.host_render_log`)."""
    logged = host_render_log.log_request(params) if isinstance(params, dict) else None
    if logged is None or src is None or dst is None:
        return process_frame(src, dst, params)
    region = (dst.shape[1], dst.shape[0]) if isinstance(dst, np.ndarray) and dst.ndim >= 2 else (0, 0)
    return host_render_log.render_logged(logged, params, lambda: process_frame(src, dst, params), region)


def process_frame(src: np.ndarray | None, dst: np.ndarray | None, params: dict[str, Any],
                  confidence: np.ndarray | None = None, matte: np.ndarray | None = None) -> RenderReport:
    """`process`, plus the model's confidence written into `confidence` (float32 (H, W) or (H, W, 1)) if given, and
    for a repair model the matte it applied (threshold, mix and mask included: 0 = untouched) into `matte`.

    `chromaluma apply --confidence / --matte` uses this to get the restoration and both planes from one model run.
    Anything else going wrong inside Chromaluma still reaches the caller as a ChromalumaError with its message.
    """
    try:
        return _process_frame(src, dst, params, confidence, matte)
    except ChromalumaError:
        raise
    except MemoryError as exc:
        raise InferenceError(f"{params.get('model') if isinstance(params, dict) else 'process'}: out of memory; set "
                             "a smaller tile size (tile_size / --tile-size, e.g. 512) or close other work.") from exc
    except Exception as exc:  # a Chromaluma bug: the host must still get a message, not a foreign exception type
        log.exception("process failed unexpectedly")
        model = params.get("model") if isinstance(params, dict) else None
        raise ChromalumaError(f"{model or 'process'}: Chromaluma failed unexpectedly ({type(exc).__name__}: "
                              f"{str(exc).strip()[:300]}). This is a bug: please report it with the log.") from exc


def _process_frame(src: np.ndarray | None, dst: np.ndarray | None, params: dict[str, Any],
                   confidence: np.ndarray | None, matte: np.ndarray | None) -> RenderReport:
    settings = read_settings(params)
    model = load_session(settings.model, settings.device, settings.threads, settings.precision,
                         settings.tensorrt_cache)
    warnings = request_warnings(settings.device, model)
    report = _describe(model, warnings)
    if src is None and dst is None:  # the folder form names the frame's keyframes without rendering (Model Info)
        return _with_keyframes(report, keyframes_at(params, model, settings.model))
    if src is None or dst is None:
        raise PixelLayoutError("process: src and dst must both be arrays, or both None (describe the model only).")
    source = pixels.check_view(src, "src", writable=False)
    target = pixels.check_view(dst, "dst", writable=True)
    _check_window(source, target, settings)
    neighbours = window_frames(params.get("neighbours"), model, source, settings.model)
    keyframes = keyframe_pair(params, model, settings.model, source, settings.frame_origin, settings.premultiplied)
    if settings.output_mode == "confidence" and not model.contract.has_confidence:
        raise ParameterError(f"output_mode 'confidence': {settings.model} has no confidence output; "
                             "choose 'restored' or 'difference', or use a model exported with confidence.")
    _check_matte_wanted(settings, model, matte is not None)
    mask = pixels.check_mask(params.get("mask"), target.shape[0], target.shape[1])
    confidence_view = _check_plane_view(confidence, target, "confidence")
    matte_view = _check_plane_view(matte, target, "matte")
    if np.may_share_memory(source, target):  # rendering in place: tiles must read the original, not our output
        checked, source = source, source.copy()
        neighbours = [source if frame is checked else frame for frame in neighbours]  # the edge rule's repeats
    neighbours = [frame.copy() if frame is not source and np.may_share_memory(frame, target) else frame
                  for frame in neighbours]
    if keyframes is not None:  # a keyframe array may be dst itself (rendered in place): keep what it held
        keyframes = replace(keyframes, frames=tuple(frame.copy() if np.may_share_memory(frame, target) else frame
                                                    for frame in keyframes.frames))
    job = _Job(model, source, target, settings, mask, confidence_view, neighbours, keyframes, matte_view)
    if model.contract.compensated_neighbours and neighbours:
        job.moved = _moved_neighbours(job)
    if model.contract.moved_keyframes and keyframes is not None:
        job.moved_keyframes = _moved_keyframes(job, keyframes)
    passed, pixel_path = _render_within_memory(job, warnings)
    if passed:
        note = f"{passed} pixel(s) with NaN/Inf in src were passed through unchanged (not fed to the model)."
        log.warning("%s", note)
        warnings.append(note)
    return _with_keyframes(replace(report, warnings=tuple(warnings), nonfinite_pixels=passed, pixel_path=pixel_path),
                           keyframes)


def _with_keyframes(report: RenderReport, keyframes: KeyframePair | None) -> RenderReport:
    if keyframes is None:
        return report
    return replace(report, keyframes=keyframes.numbers, keyframe_distances=keyframes.distances)


def window_frames(given: Any, model: ModelSession, src: np.ndarray, model_path: Path) -> list[np.ndarray]:
    """A temporal-window model's other frames in the window's order (t−before … t−1, t+1 … t+after), checked
    (docs/CONTRACT.md §1.6), with the edge rule applied: a missing frame (None) takes the nearest frame given
    between it and the centre, the centre itself when there is none. Empty for a single-frame model."""
    before, after = model.contract.frames_before, model.contract.frames_after
    count = before + after
    if given is None:
        given = [None] * count
    if isinstance(given, (str, bytes, np.ndarray)) or not isinstance(given, (list, tuple)):
        raise ParameterError(f"neighbours: expected a list of {count} frames (or None entries), got "
                             f"{type(given).__name__}.")
    if len(given) != count:
        window = (f"reads {before} frame(s) before and {after} after the one it restores" if count
                  else "is a single-frame model and reads no neighbours")
        raise ParameterError(f"neighbours: {len(given)} given, but {model_path} {window}; give exactly {count} "
                             "(None for a time outside the clip).")
    frames: list[np.ndarray | None] = []
    for index, frame in enumerate(given):
        if frame is None:
            frames.append(None)
            continue
        frames.append(pixels.same_region(frame, f"neighbours[{index}]", src, "the neighbouring frame"))
    return _repeat_nearest(frames[:before][::-1], src)[::-1] + _repeat_nearest(frames[before:], src)


def _repeat_nearest(outward: list[np.ndarray | None], centre: np.ndarray) -> list[np.ndarray]:
    """Frames ordered from the centre outwards, each missing one replaced by the nearest one inside it."""
    nearest, filled = centre, []
    for frame in outward:
        nearest = nearest if frame is None else frame
        filled.append(nearest)
    return filled


def _whole_region(job: _Job) -> tuple[tiling.Span, tiling.Span, np.ndarray]:
    """The spans of the whole region rendered and `src` over it, converted as the model's input is: what frames are
    moved onto once, before tiling, so every tile reads the same flow and tiles agree where they overlap."""
    height, width = job.src.shape[:2]
    rows, cols = tiling.Span(0, height, 0, height), tiling.Span(0, width, 0, width)
    return rows, cols, _converted([job.src], rows, cols, job.premultiplied)[0]


def _converted(frames: list[np.ndarray], rows: tiling.Span, cols: tiling.Span, premultiplied: bool
               ) -> list[np.ndarray]:
    """Each frame over the spans, converted as the model's input is (pixels.frames_input), for reading only: the
    host's or caller's own memory where it needs no change (float32 RGBA, top-down, finite, straight or opaque),
    a converted copy otherwise. Moving frames onto src reads them once; a copy of each would cost more than the read."""
    converted = []
    for frame in frames:
        borrowed = pixels.borrowed_input(frame, rows, cols, premultiplied)
        converted.append(pixels.frames_input([frame], rows, cols, premultiplied)[0] if borrowed is None
                         else borrowed.tensor[0])
    return converted


def _tile_of(moved: np.ndarray, row: tiling.Span, col: tiling.Span) -> np.ndarray:
    """One tile's input span of frames moved over the whole region ([n, H, W, 4] → [n, h, w, 4], contiguous)."""
    return np.ascontiguousarray(moved[:, row.in_start:row.in_stop, col.in_start:col.in_stop])


def _moved_neighbours(job: _Job) -> np.ndarray:
    """A format-5 repair model's neighbours, converted as its input is and moved onto the frame over the whole
    region (docs/CONTRACT.md §1.8)."""
    rows, cols, frame = _whole_region(job)
    return compensated_neighbours(frame, _converted(job.neighbours, rows, cols, job.premultiplied))


def _moved_keyframes(job: _Job, keyframes: KeyframePair) -> np.ndarray:
    """A format-6 keyframe model's two keyframes, converted as its input is and moved onto the frame over the whole
    region (docs/CONTRACT.md §1.7)."""
    rows, cols, frame = _whole_region(job)
    return moved_keyframes(frame, _converted(list(keyframes.frames), rows, cols, keyframes.premultiplied))


def _describe(model: ModelSession, warnings: list[str]) -> RenderReport:
    card = model.contract
    return RenderReport(provider=model.provider, model_summary=model.summary, warnings=tuple(warnings),
                        model_sha256=model.sha256, kind=card.kind, colorspace=card.colorspace,
                        receptive_field=card.receptive_field, processing_scale=card.processing_scale,
                        has_confidence=card.has_confidence, frames_before=card.frames_before,
                        frames_after=card.frames_after, has_matte=card.has_matte)


def _render(job: _Job) -> tuple[int, str]:
    """Plan tiles and render them; returns the count of non-finite pixels passed through and the pixel path."""
    model, src, dst, settings = job.model, job.src, job.dst, job.settings
    card = model.contract
    context = card.receptive_field
    factor = tiling.scale_factor(card.processing_scale)
    feather = tiling.feather_width(context)
    height, width = dst.shape[:2]
    win_x, win_y = settings.window
    origin_x, origin_y = settings.frame_origin
    tile = _tile_edge(model, src, dst, settings)
    rows = tiling.plan_axis(win_y, height, src.shape[0], origin_y, tile=tile, context=context, feather=feather,
                            factor=factor)
    cols = tiling.plan_axis(win_x, width, src.shape[1], origin_x, tile=tile, context=context, feather=feather,
                            factor=factor)
    if len(rows) == 1 and len(cols) == 1:
        return job.render_whole(rows[0], cols[0])
    return job.render_strips(rows, cols), COPIED


def _tile_edge(model: ModelSession, src: np.ndarray, dst: np.ndarray, settings: RenderSettings) -> int:
    """The tile edge `settings` asks for, or the automatic one for this region."""
    context = model.contract.receptive_field
    factor = tiling.scale_factor(model.contract.processing_scale)
    slack = 2 * context + factor - 1  # context both sides + grid alignment: the most a whole-region input adds
    return tiling.choose_tile_size(settings.tile_size, min(src.shape[0], dst.shape[0] + slack),
                                   min(src.shape[1], dst.shape[1] + slack), context=context,
                                   feather=tiling.feather_width(context), factor=factor)


def _render_within_memory(job: _Job, warnings: list[str]) -> tuple[int, str]:
    """:func:`_render`; when the device runs out of memory, again with tiles half the size down to the model's
    smallest tile (each attempt rewrites all of dst from src), then an error that says what to free."""
    model, src, dst, settings = job.model, job.src, job.dst, job.settings
    card = model.contract
    feather = tiling.feather_width(card.receptive_field)
    smallest = tiling.minimum_tile(card.receptive_field, feather, tiling.scale_factor(card.processing_scale))
    tile = _tile_edge(model, src, dst, settings)
    while True:
        try:
            return _render(replace(job, settings=replace(settings, tile_size=tile)))
        except (MemoryError, InferenceError) as exc:
            if not _out_of_memory(exc):
                raise
            if tile // 2 < smallest:
                raise InferenceError(
                    f"{settings.model}: out of memory on {model.provider} rendering a {dst.shape[1]}x{dst.shape[0]} "
                    f"region, even in {tile}-pixel tiles. Free memory (other GPU work, other renders), or use "
                    "device cpu.") from exc
            note = (f"out of memory on {model.provider} in {tile}-pixel tiles; rendering in {tile // 2}-pixel tiles "
                    f"(set tile_size / --tile-size to {tile // 2} or less to skip the failed try).")
            log.warning("%s: %s", settings.model, note)
            warnings.append(note)
            tile //= 2


def _out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` (or the ONNX Runtime error behind it) is a failed allocation, host or device."""
    if isinstance(exc, MemoryError) or isinstance(exc.__cause__, MemoryError):
        return True
    text = f"{exc} {exc.__cause__ or ''}".lower()
    return any(sign in text for sign in ("out of memory", "failed to allocate", "bad_alloc", "memoryallocation"))


@dataclass
class _Job:
    """One `process` call's state: where pixels come from and go, and how they are finished."""

    model: ModelSession
    src: np.ndarray
    dst: np.ndarray
    settings: RenderSettings
    mask: np.ndarray | None
    confidence: np.ndarray | None
    neighbours: list[np.ndarray]  # a temporal-window model's other frames, edge rule applied (empty: one frame)
    keyframes: KeyframePair | None = None  # a keyframe model's two keyframes, the same region as src
    matte: np.ndarray | None = None  # where the applied matte goes (H, W, 1), or None
    moved: np.ndarray | None = None  # a format-5 repair model's neighbours moved onto src, whole region [n, H, W, 4]
    moved_keyframes: np.ndarray | None = None  # a format-6 keyframe model's keyframes moved onto src, [2, H, W, 4]
    nonfinite: bool = False  # some tile so far held NaN/Inf
    translucent: bool = False  # some tile so far had premultiplied colour with alpha != 1
    opaque: bool = True  # every tile so far had alpha = the type's maximum everywhere (covers what is finished)

    @property
    def premultiplied(self) -> bool:
        return self.settings.premultiplied and self.src.shape[2] == 4

    @contextmanager
    def _tile(self, row: tiling.Span, col: tiling.Span, *, borrow: bool) -> Iterator[pixels.TileInput]:
        """One tile's model input: the host's own memory if `borrow` and it allows (pixels.borrowed_input), else a
        copy; held until the block ends (after the outputs are used: an output may share the input's memory, ORT
        can run an Identity in place)."""
        tile = None
        # a window (or a keyframe pair) is one tensor per tile, copied: nothing to borrow
        if borrow and not self.neighbours and self.keyframes is None:
            factor = tiling.scale_factor(self.model.contract.processing_scale) if self.model.mirrored else 0
            tile = pixels.borrowed_input(self.src, row, col, self.premultiplied, factor)
        if tile is None:
            tile = pixels.model_input(self.src, row, col, self.premultiplied)
        if self.moved is not None:
            tile = replace(tile, neighbours=_tile_of(self.moved, row, col))
        elif self.neighbours:
            tile = replace(tile, neighbours=pixels.frames_input(self.neighbours, row, col, self.premultiplied))
        if self.moved_keyframes is not None:
            tile = replace(tile, keyframes=_tile_of(self.moved_keyframes, row, col))
        elif self.keyframes is not None:
            tile = replace(tile, keyframes=pixels.frames_input(list(self.keyframes.frames), row, col,
                                                               self.keyframes.premultiplied))
        self.nonfinite |= tile.nonfinite
        self.translucent |= tile.premultiplied
        self.opaque &= tile.opaque
        yield tile

    def _run(self, tile: pixels.TileInput) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The model's outputs (restored, confidence, matte) for `tile`, rows top-down, never sharing host memory
        (finish may write into them)."""
        outputs = self.model.run_outputs(tile.tensor, mirrored=tile.mirrored, neighbours=tile.neighbours,
                                         keyframes=tile.keyframes)
        if tile.borrowed:
            outputs = tuple(_own(output, tile.tensor) for output in outputs)
        if tile.mirrored:  # rows came out in stored (bottom-up) order, like they went in
            outputs = tuple(None if output is None else output[:, ::-1] for output in outputs)
        restored, confidence, matte = outputs
        assert restored is not None
        return restored, confidence, matte

    def render_whole(self, row: tiling.Span, col: tiling.Span) -> tuple[int, str]:
        """The region fits one tile: one model run, its output written by ONNX Runtime straight into dst where
        :meth:`_direct_target` allows, else finished from the model's output. Returns (passed, pixel path)."""
        top, left = row.out_start - row.in_start, col.out_start - col.in_start
        inside = (0, slice(top, top + row.out_len), slice(left, left + col.out_len))
        with self._tile(row, col, borrow=True) as tile:
            target = self._direct_target(row, col, tile)
            if target is not None:
                self._run_into(tile, target)
                return 0, ZERO_COPY
            restored, confidence, matte = self._run(tile)
            conf = None if confidence is None else confidence[inside]
            damage = None if matte is None else matte[inside]
            passed = self.finish((row.out_start, row.out_stop), (col.out_start, col.out_stop), restored[inside], conf,
                                 damage)
            return passed, ZERO_COPY_INPUT if tile.borrowed else COPIED

    def _direct_target(self, row: tiling.Span, col: tiling.Span, tile: pixels.TileInput) -> np.ndarray | None:
        """dst as the model's [1, H, W, 4] output, rows in the input tensor's order, when ONNX Runtime's output is
        already the finished frame: input borrowed (finite; opaque or straight), no context margin to crop, float32
        RGBA dst contiguous in that order, restored at mix 1 without mask, alpha verified copied bit-exact. Never for
        a model with a damage matte: its `restored` is a repair candidate everywhere, not the finished frame."""
        settings = self.settings
        if self.model.contract.has_matte:
            return None
        if not (tile.borrowed and self.model.alpha_exact and settings.output_mode == "restored"
                and settings.mix == 1.0 and self.mask is None):
            return None
        if (row.in_start, row.in_stop, col.in_start, col.in_stop) != (row.out_start, row.out_stop, col.out_start,
                                                                      col.out_stop):
            return None
        if self.dst.dtype != np.float32 or self.dst.shape[2] != 4 or np.may_share_memory(self.src, self.dst):
            return None
        target = (self.dst[::-1] if tile.mirrored else self.dst)[np.newaxis]
        return target if target.flags.c_contiguous and target.shape == tile.tensor.shape else None

    def _run_into(self, tile: pixels.TileInput, target: np.ndarray) -> None:
        """Run the model with `restored` written into `target` (dst) and confidence into the caller's view when it
        is laid out like `target`, else into a buffer copied from (or dropped when nobody asked for it)."""
        shape = (*tile.tensor.shape[:3], 1)
        wanted = None if self.confidence is None else (self.confidence[::-1] if tile.mirrored else self.confidence)
        direct = wanted is not None and wanted.flags.c_contiguous and not np.may_share_memory(wanted, self.src)
        has_confidence = self.model.contract.has_confidence
        buffer = np.empty(shape, dtype=np.float32) if has_confidence and not direct else None
        conf = buffer if buffer is not None else (wanted[np.newaxis] if has_confidence and direct else None)
        self.model.run_into(tile.tensor, target, conf, mirrored=tile.mirrored)
        if wanted is not None and buffer is not None:
            wanted[...] = buffer[0]

    def render_strips(self, rows: list[tiling.Span], cols: list[tiling.Span]) -> int:
        """Tiles in raster order, blended in a strip buffer (rows of one tile × the region's width).

        Rows no later strip touches are finished into dst at once; only the blend band is carried over, so
        memory grows with tile size and frame width, never with frame height.
        """
        width = self.dst.shape[1]
        win_x = self.settings.window[0]
        carry: np.ndarray | None = None
        passed = 0
        has_matte = self.model.contract.has_matte
        for index, row in enumerate(rows):
            # restored RGB + confidence (+ the damage matte: blended like confidence, thresholded once blended)
            strip = np.zeros((row.out_len, width, 5 if has_matte else 4), dtype=np.float32)
            if carry is not None:
                strip[:carry.shape[0]] = carry
            for col in cols:
                self._add_tile(strip, row, col, win_x)
            first, stop = tiling.finished_rows(rows, index)
            done = stop - first
            passed += self.finish((first, stop), (win_x, win_x + width), strip[:done, :, :3], strip[:done, :, 3:4],
                                  strip[:done, :, 4:5] if has_matte else None)
            carry = strip[done:] if index + 1 < len(rows) else None
        return passed

    def _add_tile(self, strip: np.ndarray, row: tiling.Span, col: tiling.Span, win_x: int) -> None:
        top, left = row.out_start - row.in_start, col.out_start - col.in_start
        rows, cols = slice(top, top + row.out_len), slice(left, left + col.out_len)
        with self._tile(row, col, borrow=False) as tile:
            restored, confidence, matte = self._run(tile)
            part = restored[0, rows, cols]
            if matte is not None:
                part = np.concatenate([part, matte[0, rows, cols]], axis=2)
            part[..., 3] = 0.0 if confidence is None else confidence[0, rows, cols, 0]
            if row.weights is not None:
                part *= row.weights[:, np.newaxis, np.newaxis]
            if col.weights is not None:
                part *= col.weights[np.newaxis, :, np.newaxis]
            strip[:, col.out_start - win_x:col.out_stop - win_x] += part

    def finish(self, rows: tuple[int, int], cols: tuple[int, int], rgb: np.ndarray, conf: np.ndarray | None,
               matte: np.ndarray | None = None) -> int:
        """Compose one finished region (src coordinates) into dst, with a repair model's (blended) damage `matte`
        (h, w, 1); returns non-finite pixels passed through."""
        win_x, win_y = self.settings.window
        dst_rows, dst_cols = (rows[0] - win_y, rows[1] - win_y), (cols[0] - win_x, cols[1] - win_x)
        if self.confidence is not None and conf is not None:
            self.confidence[dst_rows[0]:dst_rows[1], dst_cols[0]:dst_cols[1]] = conf
        src = self.src[rows[0]:rows[1], cols[0]:cols[1]]
        dst = self.dst[dst_rows[0]:dst_rows[1], dst_cols[0]:dst_cols[1]]
        applied = None if self.matte is None else self.matte[dst_rows[0]:dst_rows[1], dst_cols[0]:dst_cols[1]]
        nonfinite = self.nonfinite and self.src.dtype == np.float32
        mode = self.settings.output_mode

        def compose_rows(first: int, stop: int) -> int:  # pixel by pixel: any block of rows composes alone
            weight = pixels.mask_weight(self.mask, self.settings.mix, (dst_rows[0] + first, dst_rows[0] + stop),
                                        dst_cols)
            if matte is not None:  # §1.8: only pixels whose matte passes the threshold are repaired
                weight = pixels.applied_matte(matte[first:stop], self.settings.matte_threshold, weight,
                                              src[first:stop] if nonfinite else None)
                if applied is not None:
                    applied[first:stop] = weight
            with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf src pixels, passed through at the end
                passed = pixels.compose(src[first:stop], rgb[first:stop], None if conf is None else conf[first:stop],
                                        weight, dst[first:stop], mode=mode, premultiplied=self.translucent,
                                        nonfinite=nonfinite, opaque=self.opaque)
            if matte is not None and mode == "restored":
                pixels.keep_original(src[first:stop], dst[first:stop], weight)
            return passed

        return sum(pixels.row_blocks(dst.shape[0], rgb.strides[0], compose_rows))


def _own(output: np.ndarray | None, tensor: np.ndarray) -> np.ndarray | None:
    """`output`, copied if it shares memory with the (borrowed, host-owned) input `tensor`."""
    return output.copy() if output is not None and np.may_share_memory(output, tensor) else output


def _check_window(src: np.ndarray, dst: np.ndarray, settings: RenderSettings) -> None:
    win_x, win_y = settings.window
    if win_y + dst.shape[0] > src.shape[0] or win_x + dst.shape[1] > src.shape[1]:
        raise PixelLayoutError(
            f"window {settings.window}: dst ({dst.shape[1]}x{dst.shape[0]}) placed at column {win_x}, row {win_y} "
            f"does not fit inside src ({src.shape[1]}x{src.shape[0]}); fetch a source region that covers the "
            "render window (grown by the model's receptive_field)."
        )


def _check_matte_wanted(settings: RenderSettings, model: ModelSession, view_given: bool) -> None:
    """Output mode "matte" and a `matte` plane need a model with a damage matte (a repair model, §1.8)."""
    if model.contract.has_matte:
        return
    if settings.output_mode == "matte":
        raise ParameterError(f"output_mode 'matte': {settings.model} has no damage matte (only repair models have "
                             "one); choose restored, confidence or difference.")
    if view_given:
        raise ParameterError(f"matte: {settings.model} has no damage matte (only repair models have one); ask for "
                             "the matte only with a repair model.")


def _check_plane_view(plane: np.ndarray | None, dst: np.ndarray, name: str) -> np.ndarray | None:
    """A caller's (H, W) or (H, W, 1) float32 plane (confidence, matte) as an (H, W, 1) view of dst's size."""
    if plane is None:
        return None
    if not isinstance(plane, np.ndarray):
        raise PixelLayoutError(f"{name}: expected a float32 numpy array ({dst.shape[0]}, {dst.shape[1]}[, 1]), got "
                               f"{type(plane).__name__}.")
    view = plane[:, :, np.newaxis] if plane.ndim == 2 else plane
    if view.shape != (dst.shape[0], dst.shape[1], 1) or view.dtype != np.float32:
        raise PixelLayoutError(f"{name}: expected float32 ({dst.shape[0]}, {dst.shape[1]}[, 1]), "
                               f"got {plane.dtype} {plane.shape}.")
    return view
