"""ONNX Runtime sessions for Chromaluma models: provider choice, checked fallback, a thread-safe cache.

A model is validated against docs/CONTRACT.md §2–§4 (:func:`chromaluma.contract.contract_of_bytes`) before
ONNX Runtime sees it, so a wrong file gets a :class:`ModelFormatError` that says what is wrong, not an ORT trace.
Sessions are cached by (model content SHA-256, provider request, threads); the hash itself is cached by the
file's identity (path, inode, size, mtime, ctime) so a render does not re-read the model file for every frame,
yet a model replaced on disk while the effect is live is hashed again and its new session used: ctime changes
on every write and rename and cannot be set back, so even a copy that keeps the old size and mtime is seen.
ONNX Runtime documents `InferenceSession.run` as safe to call from several threads at once, so one cached session
serves all host render threads; creation is serialised per cache key so two threads never build the same session
twice.

GPU options (:func:`load_session`): `precision="fp16"` runs a half-precision copy of the model
(:mod:`chromaluma.backend.fp16`) that is compared with the fp32 model on a probe frame at every load and refused
beyond the tolerance stated in :mod:`chromaluma.backend.precision`; `tensorrt_cache=DIR` asks for ONNX Runtime's
TensorRT provider ahead of CUDA, with its engines cached under DIR by model hash. Both default off, which is the
fp32 CUDA/CPU behaviour described above.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma import contract
from chromaluma.backend import gpu, mirror
from chromaluma.backend import precision as halves
from chromaluma.card import summary_line
from chromaluma.errors import ChromalumaError, ModelFormatError, ModelNotFoundError, ParameterError

log = logging.getLogger(__name__)

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# cuDNN's exhaustive algorithm search reruns for every new input shape; tiles and host render windows change
# shape all the time, so the heuristic choice is faster overall. The arena grows only by what is asked for, so a
# host sharing the GPU keeps its memory. (Written from the ORT CUDA provider docs; not exercised on this machine.)
PROVIDER_OPTIONS: dict[str, dict[str, str]] = {
    CUDA: {"device_id": "0", "cudnn_conv_algo_search": "HEURISTIC", "arena_extend_strategy": "kSameAsRequested"},
}


@dataclass(frozen=True)
class Acceleration:
    """How a session computes beyond the provider choice: `precision` ("fp32" or "fp16") and, when
    `tensorrt_cache` is a folder, TensorRT first with its engines cached there (None: no TensorRT)."""

    precision: str = "fp32"
    tensorrt_cache: Path | None = None

    @property
    def key(self) -> str:
        return f"{self.precision}|{self.tensorrt_cache or ''}"


def tensorrt_options(cache: Path, digest: str, precision_name: str) -> dict[str, str]:
    """TensorRT provider options: engines built once per model content and precision, kept under `cache`
    (an engine is specific to the GPU and TensorRT version too; TensorRT rebuilds one that does not match)."""
    folder = Path(cache) / f"{digest}-{precision_name}"
    return {"device_id": "0", "trt_engine_cache_enable": "True", "trt_engine_cache_path": str(folder),
            "trt_timing_cache_enable": "True", "trt_timing_cache_path": str(folder),
            "trt_fp16_enable": "True" if precision_name == "fp16" else "False"}


class InferenceError(ChromalumaError):
    """ONNX Runtime failed while running a model that passed validation (out of memory, bad driver, ...)."""


@dataclass
class ModelSession:
    """One loaded model: its validated contract, its ORT session and the provider it really runs on.

    `mirrored` is the same model with its convolution kernels flipped along their height, for input rows in an
    OFX host's stored (bottom-up) order, or None (:mod:`chromaluma.backend.mirror`; verified at load).
    `alpha_exact`: the model's restored alpha was verified at load to be its input alpha, bit for bit, so its output
    may be written straight into a host frame.
    """

    path: Path
    sha256: str
    contract: contract.ModelContract
    session: Any  # onnxruntime.InferenceSession
    provider: str
    threads: int
    warnings: list[str] = field(default_factory=list)  # fallbacks ORT made creating this session
    mirrored: Any | None = None  # onnxruntime.InferenceSession of the mirrored model
    alpha_exact: bool = False
    precision: str = "fp32"  # "fp16": a half-precision model, checked against fp32 at load

    @property
    def summary(self) -> str:
        """One line for the plug-in's modelInfo and render logs: kind, colorspace, training summary."""
        return model_summary(self.contract)

    @property
    def output_names(self) -> list[str]:
        return ([contract.OUTPUT_NAME] + ([contract.CONFIDENCE_NAME] if self.contract.has_confidence else [])
                + ([contract.MATTE_NAME] if self.contract.has_matte else []))

    @property
    def window_neighbours(self) -> int:
        """Frames besides the one restored that the model reads (0 for a single-frame model)."""
        return self.contract.frames_before + self.contract.frames_after

    @property
    def reads_keyframes(self) -> bool:
        """Whether the model has the `keyframes` input (docs/CONTRACT.md §1.7)."""
        return self.contract.kind == contract.KEYFRAME_KIND

    def run(self, tensor: np.ndarray, *, mirrored: bool = False, neighbours: np.ndarray | None = None,
            keyframes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Run the graph on a [1, H, W, 4] float32 tensor (and, for a temporal-window model, its [n, H, W, 4]
        `neighbours`; for a keyframe model, its [2, H, W, 4] `keyframes`); returns (restored, confidence or None).

        `mirrored`: `tensor` holds the rows bottom-up; the mirrored session runs and the outputs are bottom-up too.
        """
        restored, confidence, _ = self.run_outputs(tensor, mirrored=mirrored, neighbours=neighbours,
                                                   keyframes=keyframes)
        return restored, confidence

    def run_outputs(self, tensor: np.ndarray, *, mirrored: bool = False, neighbours: np.ndarray | None = None,
                    keyframes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """:meth:`run`, also returning a repair model's damage matte [1, H, W, 1] (None for other models)."""
        session = self.mirrored if mirrored else self.session
        feeds = {contract.INPUT_NAME: tensor}
        if neighbours is not None:
            feeds[contract.NEIGHBOURS_NAME] = neighbours
        if keyframes is not None:
            feeds[contract.KEYFRAMES_NAME] = keyframes
        try:
            outputs = session.run(self.output_names, feeds)
        except Exception as exc:  # ORT raises its own Fail/RuntimeException types (not importable portably)
            raise self._failure(tensor, exc) from exc
        named = dict(zip(self.output_names, outputs, strict=True))
        return named[contract.OUTPUT_NAME], named.get(contract.CONFIDENCE_NAME), named.get(contract.MATTE_NAME)

    def run_into(self, tensor: np.ndarray, restored: np.ndarray, confidence: np.ndarray | None, *,
                 mirrored: bool = False) -> None:
        """:meth:`run` with the outputs written by ONNX Runtime straight into C-contiguous float32 arrays:
        `restored` [1, H, W, 4] and, for a model with confidence, `confidence` [1, H, W, 1] (IOBinding). Not for a
        model with a damage matte: its `restored` is never the finished frame (docs/CONTRACT.md §1.8)."""
        conf = gpu.host_buffer(confidence, contract.CONFIDENCE_NAME) if confidence is not None else None
        self.run_bound(gpu.host_buffer(tensor, contract.INPUT_NAME),
                       gpu.host_buffer(restored, contract.OUTPUT_NAME), conf, mirrored=mirrored)

    def run_bound(self, image: gpu.Buffer, restored: gpu.Buffer, confidence: gpu.Buffer | None, *,
                  mirrored: bool = False) -> None:
        """:meth:`run_into` on :class:`~chromaluma.backend.gpu.Buffer` memory: host memory, or CUDA memory
        (an OpenFX host's CUDA image, a frame uploaded once) when the session runs on the GPU."""
        if self.contract.has_matte:
            raise ValueError(f"{self.path}: a repair model's output is composed through its matte, never bound to dst")
        if self.contract.has_confidence and confidence is None:
            raise ValueError(f"{self.path}: the model has a confidence output; bind a [1, H, W, 1] buffer for it")
        gpu.check_image_shapes(image, restored, confidence)
        gpu.check_reachable([image, restored] + ([confidence] if confidence else []), self.provider, self.path)
        session = self.mirrored if mirrored else self.session
        binding = session.io_binding()  # one per call: sessions are shared by host threads, bindings are not
        gpu.bind(binding.bind_input, contract.INPUT_NAME, image)
        gpu.bind(binding.bind_output, contract.OUTPUT_NAME, restored)
        if self.contract.has_confidence and confidence is not None:
            gpu.bind(binding.bind_output, contract.CONFIDENCE_NAME, confidence)
        try:
            session.run_with_iobinding(binding)
        except Exception as exc:  # as in run()
            raise self._failure_shape(image.shape, exc) from exc

    def _failure(self, tensor: np.ndarray, exc: Exception) -> InferenceError:
        return self._failure_shape(tensor.shape, exc)

    def _failure_shape(self, shape: tuple[int, ...], exc: Exception) -> InferenceError:
        return InferenceError(
            f"{self.path}: ONNX Runtime failed on a {shape[2]}x{shape[1]} tile on {self.provider} "
            f"({type(exc).__name__}: {str(exc).strip()[:300]}). Try a smaller tile size (tile_size / "
            "--tile-size) or device cpu; if it persists the model file may be damaged: re-export it."
        )


def model_summary(model: contract.ModelContract) -> str:
    """`kind, colorspace, training summary` on one line (docs/CONTRACT.md §1.4 `model_summary`)."""
    card = {"kind": model.kind, "colorspace": model.colorspace, **model.card}
    parts = [summary_line(card), f"scale {model.processing_scale:g}"]
    if card.get("created"):
        parts.append(f"created {card['created']}")
    return ", ".join(parts)


_hash_lock = threading.Lock()
_hash_cache: dict[tuple[str, int, int, int, int], str] = {}
_sessions_lock = threading.Lock()
_sessions: dict[tuple[str, str, int, str], ModelSession] = {}
_key_locks: dict[tuple[str, str, int, str], threading.Lock] = {}


def model_sha256(path: str | Path) -> str:
    """SHA-256 of a model file, cached by its identity (resolved path, inode, size, mtime, ctime) so unchanged
    files are hashed once."""
    model_path = Path(path)
    try:
        stat = model_path.stat()
        resolved = str(model_path.resolve())
    except OSError as exc:
        raise ModelNotFoundError(f"{model_path}: model file not found ({exc.strerror}). "
                                 "Check the path (modelFile / --model).") from exc
    if not model_path.is_file():
        raise ModelNotFoundError(f"{model_path}: not a file. Give the path of a .onnx model (modelFile / --model).")
    key = (resolved, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    with _hash_lock:
        cached = _hash_cache.get(key)
    if cached is not None:
        return cached
    try:
        digest = contract.file_sha256(model_path)
    except OSError as exc:
        raise ModelNotFoundError(f"{model_path}: cannot read the model ({exc.strerror}). Check permissions.") from exc
    with _hash_lock:
        _hash_cache[key] = digest
    return digest


def provider_request(device: str, tensorrt: bool = False) -> tuple[list[str], list[str]]:
    """Providers to ask ORT for, best first, and warnings to show if the request cannot be met as asked.
    `tensorrt`: TensorRT was asked for; it goes before CUDA when this ONNX Runtime has it and the device allows
    a GPU (never for device "cpu")."""
    if device not in contract.DEVICES:
        raise ParameterError(f"device {device!r}: expected one of {', '.join(contract.DEVICES)} (--device / device).")
    import onnxruntime as ort

    available = ort.get_available_providers()
    if tensorrt and device in ("gpu", "auto") and TENSORRT in available and CUDA in available:
        return [TENSORRT, CUDA, CPU], []
    if device in ("gpu", "auto") and CUDA in available:
        return [CUDA, CPU], []
    if device == "gpu":
        return [CPU], ["GPU requested but this ONNX Runtime has no CUDA provider "
                       f"(available: {', '.join(available)}); running on CPU. Install onnxruntime-gpu "
                       "with a matching CUDA/cuDNN to use the GPU."]
    return [CPU], []


_logged_lock = threading.Lock()
_logged: set[str] = set()


def request_warnings(device: str, model: ModelSession) -> list[str]:
    """What the plug-in should show for this request: the device could not be had as asked, or the session's
    own notes (a provider fallback, TensorRT missing, fp16 on CPU); each logged once."""
    notes = provider_request(device)[1] + model.warnings
    with _logged_lock:
        fresh = [note for note in notes if note not in _logged]
        _logged.update(fresh)
    for note in fresh:
        log.warning("%s", note)
    return notes


def load_session(path: str | Path, device: str = "auto", threads: int = 0, precision: str = "fp32",
                 tensorrt_cache: str | Path | None = None) -> ModelSession:
    """The cached, validated session for `path` on `device`; creates it on first use (thread-safe).

    Requests that resolve to the same providers share a session; :func:`request_warnings` says what a given
    request should be told (e.g. GPU asked for, CPU used). `precision` "fp16" runs a half-precision model checked
    against fp32 at load (:class:`~chromaluma.backend.precision.PrecisionError` beyond tolerance);
    `tensorrt_cache` (a folder) asks for TensorRT ahead of CUDA, engines cached there by model hash.
    """
    if not isinstance(threads, int) or threads < 0:
        raise ParameterError(f"threads {threads!r}: expected an integer >= 0 (0 lets ONNX Runtime choose).")
    acceleration = Acceleration(halves.check_precision(precision),
                                Path(tensorrt_cache) if tensorrt_cache not in (None, "") else None)
    providers = provider_request(device, acceleration.tensorrt_cache is not None)[0]
    digest = model_sha256(path)
    key = (digest, ",".join(providers), threads, acceleration.key)
    with _sessions_lock:
        cached = _sessions.get(key)
        if cached is not None:
            return cached
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _sessions_lock:
            cached = _sessions.get(key)
        if cached is not None:
            return cached
        created = _create_session(Path(path), digest, providers, threads, acceleration)
        with _sessions_lock:  # under the content it holds: a file replaced while loading is not filed as the old one
            _sessions[(created.sha256, key[1], key[2], key[3])] = created
        return created


def clear_cache() -> None:
    """Forget every cached session and hash (tests; a host may call it to free memory)."""
    with _sessions_lock, _hash_lock, _logged_lock:
        _logged.clear()
        _sessions.clear()
        _key_locks.clear()
        _hash_cache.clear()


def cached_session_count() -> int:
    with _sessions_lock:
        return len(_sessions)


def session_options(threads: int) -> Any:
    """Explicit ORT session options: full graph optimisation, sequential execution, `threads` intra-op, no spinning."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: ORT's own warnings would flood a host's console
    # Spinning pool threads keep both cores busy for a while after each run and slow the copies process() makes
    # next (measured on 2 cores, 2K chroma: 9.4 -> 6.5 ms around the model run, raw model time unchanged).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _create_session(path: Path, digest: str, providers: list[str], threads: int,
                    acceleration: Acceleration = Acceleration()) -> ModelSession:
    """A validated session for the model file's content as read now: the file is read once and that content is
    checked, hashed and handed to ONNX Runtime, so a file replaced while loading is never labelled with the hash
    (`digest`, logged if different) of what was there before."""
    import onnxruntime as ort

    payload = contract.read_model_file(path)
    model_contract = contract.contract_of_bytes(payload, str(path))
    read_digest = hashlib.sha256(payload).hexdigest()
    if read_digest != digest:
        log.info("%s changed while it was being loaded; using its new content (sha256 %s)", path, read_digest[:12])
    options = {name: PROVIDER_OPTIONS.get(name, {}) for name in providers}
    if TENSORRT in providers and acceleration.tensorrt_cache is not None:
        options[TENSORRT] = tensorrt_options(acceleration.tensorrt_cache, read_digest, acceleration.precision)

    def make_session(model: str | bytes) -> Any:
        return ort.InferenceSession(model, sess_options=session_options(threads),
                                    providers=[(name, options[name]) for name in providers])

    half = acceleration.precision == "fp16"
    if half and TENSORRT not in providers:
        session = _half_session(path, payload, read_digest, model_contract, make_session)
    else:
        session = _load(path, make_session, payload)
        if half:  # TensorRT builds its own fp16 engine from the fp32 graph: it is checked the same way
            halves.verify_half(path, model_contract, _reference_session(payload), session)
    actual = session.get_providers()
    provider = actual[0] if actual else CPU
    notes = _session_notes(path, providers, provider, acceleration)
    # windows and keyframes are copied into their tensors: nothing to mirror. A half model's alpha is not bit-exact
    # and its mirrored graph would be built from the fp32 file: rows are flipped by copying instead.
    if (model_contract.frames_before or model_contract.frames_after or half
            or model_contract.kind == contract.KEYFRAME_KIND):
        mirroring = mirror.Mirroring(None, False)
    else:
        mirroring = mirror.build(path, session, make_session, model_contract.processing_scale,
                                 model_contract.receptive_field)
    log.info("loaded %s (%s) on %s in %s, sha256 %s%s", path, model_summary(model_contract), provider,
             acceleration.precision, read_digest[:12],
             ", mirrored for bottom-up rows" if mirroring.session is not None else "")
    return ModelSession(path=path, sha256=read_digest, contract=model_contract, session=session, provider=provider,
                        threads=threads, warnings=notes, mirrored=mirroring.session,
                        alpha_exact=mirroring.alpha_exact, precision=acceleration.precision)


def _load(path: Path, make_session: Callable[[bytes], Any], payload: bytes) -> Any:
    import onnxruntime as ort

    try:
        return make_session(payload)
    except Exception as exc:  # ORT raises Fail/InvalidGraph/...: all mean this file cannot be run here
        raise ModelFormatError(
            f"{path}: ONNX Runtime {ort.__version__} cannot load this model ({str(exc).strip()[:300]}). "
            f"Re-export it with opset <= 17 and IR version <= {contract.MAX_IR_VERSION} (`chromaluma export`)."
        ) from exc


def _reference_session(payload: bytes) -> Any:
    """The fp32 model on CPU: the contract's reference result that a half-precision session is checked against."""
    import onnxruntime as ort

    return ort.InferenceSession(payload, sess_options=session_options(0), providers=[CPU])


def _half_session(path: Path, payload: bytes, digest: str, model_contract: contract.ModelContract,
                  make_session: Callable[[bytes], Any]) -> Any:
    """The checked fp16 session: the cached half model when it loads and passes, else a fresh conversion (cached
    once it has passed). Raises PrecisionError when the half model differs from fp32 beyond tolerance."""
    from chromaluma.backend.fp16 import convert_to_half

    root = halves.cache_root()
    reference = _reference_session(payload)
    cached = halves.cached_half(root, digest)
    if cached is not None:
        try:
            session = make_session(cached)
            halves.verify_half(path, model_contract, reference, session)
            return session
        except Exception as exc:  # noqa: BLE001 — a damaged or stale cache entry is replaced, whatever ORT raised
            log.warning("cached fp16 model for %s is unusable (%s); converting again", path, str(exc)[:200])
            halves.forget_half(root, digest)
    try:
        half = convert_to_half(payload)
    except Exception as exc:  # noqa: BLE001 — onnx's checker and converter raise many types; all mean "cannot"
        raise halves.PrecisionError(f"{path}: cannot convert this model to fp16 ({str(exc).strip()[:200]}); "
                                       "use --precision fp32 (precision=fp32).") from exc
    session = _load(path, make_session, half)
    halves.verify_half(path, model_contract, reference, session)
    halves.store_half(root, digest, half)
    return session


def _session_notes(path: Path, providers: list[str], provider: str, acceleration: Acceleration) -> list[str]:
    """Warnings for what ONNX Runtime did differently from what was asked (it falls back without raising)."""
    notes = []
    if providers[0] in (TENSORRT, CUDA) and provider not in (TENSORRT, CUDA):
        notes.append(f"GPU requested but ONNX Runtime fell back to {provider} for {path.name} (CUDA provider "
                     "failed to initialise: check the NVIDIA driver, CUDA and cuDNN versions); rendering on CPU.")
    elif providers[0] == TENSORRT and provider != TENSORRT:
        notes.append(f"TensorRT requested but ONNX Runtime fell back to {provider} for {path.name} (TensorRT "
                     "failed to initialise: check the TensorRT libraries match this ONNX Runtime).")
    if acceleration.tensorrt_cache is not None and TENSORRT not in providers:
        notes.append(f"TensorRT requested but not available here (providers: {', '.join(providers)}); running on "
                     f"{provider}. Install onnxruntime-gpu with TensorRT, and use device gpu or auto.")
    if acceleration.precision == "fp16" and provider == CPU:
        notes.append(f"fp16 on CPU for {path.name}: checked against fp32, but ONNX Runtime's CPU provider computes "
                     "most float16 operators through float32 casts, so it is slower, not faster; use fp32 on CPU.")
    return notes
