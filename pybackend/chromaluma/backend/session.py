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
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma import contract
from chromaluma.backend import mirror
from chromaluma.card import summary_line
from chromaluma.errors import ChromalumaError, ModelFormatError, ModelNotFoundError, ParameterError

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# cuDNN's exhaustive algorithm search reruns for every new input shape; tiles and host render windows change
# shape all the time, so the heuristic choice is faster overall. The arena grows only by what is asked for, so a
# host sharing the GPU keeps its memory. (Written from the ORT CUDA provider docs; not exercised on this machine.)
PROVIDER_OPTIONS: dict[str, dict[str, str]] = {
    CUDA: {"device_id": "0", "cudnn_conv_algo_search": "HEURISTIC", "arena_extend_strategy": "kSameAsRequested"},
}


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
        if self.contract.has_matte:
            raise ValueError(f"{self.path}: a repair model's output is composed through its matte, never bound to dst")
        session = self.mirrored if mirrored else self.session
        binding = session.io_binding()  # one per call: sessions are shared by host threads, bindings are not
        _bind(binding.bind_input, contract.INPUT_NAME, tensor)
        _bind(binding.bind_output, contract.OUTPUT_NAME, restored)
        if self.contract.has_confidence:
            assert confidence is not None  # the caller gives one whenever the model has it
            _bind(binding.bind_output, contract.CONFIDENCE_NAME, confidence)
        try:
            session.run_with_iobinding(binding)
        except Exception as exc:  # as in run()
            raise self._failure(tensor, exc) from exc

    def _failure(self, tensor: np.ndarray, exc: Exception) -> InferenceError:
        return InferenceError(
            f"{self.path}: ONNX Runtime failed on a {tensor.shape[2]}x{tensor.shape[1]} tile on {self.provider} "
            f"({type(exc).__name__}: {str(exc).strip()[:300]}). Try a smaller tile size (tile_size / "
            "--tile-size) or device cpu; if it persists the model file may be damaged: re-export it."
        )


def _bind(bind: Any, name: str, array: np.ndarray) -> None:
    """Bind host memory to an input or output by address: ONNX Runtime reads or writes it in place."""
    if array.dtype != np.float32 or not array.flags.c_contiguous:
        raise ValueError(f"{name}: IOBinding needs C-contiguous float32 memory, got {array.dtype} {array.strides}")
    bind(name, "cpu", 0, np.float32, list(array.shape), array.ctypes.data)


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
_sessions: dict[tuple[str, str, int], ModelSession] = {}
_key_locks: dict[tuple[str, str, int], threading.Lock] = {}


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


def provider_request(device: str) -> tuple[list[str], list[str]]:
    """Providers to ask ORT for, best first, and warnings to show if the request cannot be met as asked."""
    if device not in contract.DEVICES:
        raise ParameterError(f"device {device!r}: expected one of {', '.join(contract.DEVICES)} (--device / device).")
    import onnxruntime as ort

    available = ort.get_available_providers()
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
    """What the plug-in should show for this request: the device could not be had as asked (logged once)."""
    notes = provider_request(device)[1] + model.warnings
    with _logged_lock:
        fresh = [note for note in notes if note not in _logged]
        _logged.update(fresh)
    for note in fresh:
        log.warning("%s", note)
    return notes


def load_session(path: str | Path, device: str = "auto", threads: int = 0) -> ModelSession:
    """The cached, validated session for `path` on `device`; creates it on first use (thread-safe).

    Requests that resolve to the same providers share a session; :func:`request_warnings` says what a given
    request should be told (e.g. GPU asked for, CPU used).
    """
    if not isinstance(threads, int) or threads < 0:
        raise ParameterError(f"threads {threads!r}: expected an integer >= 0 (0 lets ONNX Runtime choose).")
    providers = provider_request(device)[0]
    digest = model_sha256(path)
    key = (digest, ",".join(providers), threads)
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
        created = _create_session(Path(path), digest, providers, threads)
        with _sessions_lock:  # under the content it holds: a file replaced while loading is not filed as the old one
            _sessions[(created.sha256, key[1], key[2])] = created
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


def _create_session(path: Path, digest: str, providers: list[str], threads: int) -> ModelSession:
    """A validated session for the model file's content as read now: the file is read once and that content is
    checked, hashed and handed to ONNX Runtime, so a file replaced while loading is never labelled with the hash
    (`digest`, logged if different) of what was there before."""
    import onnxruntime as ort

    payload = contract.read_model_file(path)
    model_contract = contract.contract_of_bytes(payload, str(path))
    read_digest = hashlib.sha256(payload).hexdigest()
    if read_digest != digest:
        log.info("%s changed while it was being loaded; using its new content (sha256 %s)", path, read_digest[:12])

    def make_session(model: str | bytes) -> Any:
        return ort.InferenceSession(model, sess_options=session_options(threads),
                                    providers=[(name, PROVIDER_OPTIONS.get(name, {})) for name in providers])

    try:
        session = make_session(payload)
    except Exception as exc:  # ORT raises Fail/InvalidGraph/...: all mean this file cannot be run here
        raise ModelFormatError(
            f"{path}: ONNX Runtime {ort.__version__} cannot load this model ({str(exc).strip()[:300]}). "
            f"Re-export it with opset <= 17 and IR version <= {contract.MAX_IR_VERSION} (`chromaluma export`)."
        ) from exc
    actual = session.get_providers()
    provider = actual[0] if actual else CPU
    notes = []
    if providers[0] == CUDA and provider != CUDA:
        notes.append(f"GPU requested but ONNX Runtime fell back to {provider} for {path.name} (CUDA provider "
                     "failed to initialise: check the NVIDIA driver, CUDA and cuDNN versions); rendering on CPU.")
    # windows and keyframes are copied into their tensors: nothing to mirror
    if model_contract.frames_before or model_contract.frames_after or model_contract.kind == contract.KEYFRAME_KIND:
        mirroring = mirror.Mirroring(None, False)
    else:
        mirroring = mirror.build(path, session, make_session, model_contract.processing_scale,
                                 model_contract.receptive_field)
    log.info("loaded %s (%s) on %s, sha256 %s%s", path, model_summary(model_contract), provider, read_digest[:12],
             ", mirrored for bottom-up rows" if mirroring.session is not None else "")
    return ModelSession(path=path, sha256=read_digest, contract=model_contract, session=session, provider=provider,
                        threads=threads, warnings=notes, mirrored=mirroring.session,
                        alpha_exact=mirroring.alpha_exact)
