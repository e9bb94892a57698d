#!/usr/bin/env python3
"""One test-and-benchmark run for a GPU machine: what runs where, how fast, and how far fp16 is from fp32.

    .venv/bin/python scripts/gpu_check.py --json gpu_check.json --markdown gpu_check.md   # full run, < 8 minutes
    .venv/bin/python scripts/gpu_check.py --quick                                        # small frames, seconds

Sections, each reported as "ok", "not available: why", "refused: …" or "failed: …" (one failing section never
hides the others; a section that would start past --time-limit is "skipped: time limit"):

- machine: ONNX Runtime version and its providers, torch and CUDA, the GPU's name.
- inference: frames/s of the chroma model on a 2K frame (2048×1080) for CPU fp32, CUDA fp32 / fp16 and TensorRT
  fp32 / fp16, each with the providers ONNX Runtime really used (session.get_providers()) and the load time
  (TensorRT builds its engine then); fp16 rows give the fp16-vs-fp32 difference on the load check's probe frame
  and, when the check refuses the model, its message and the unchecked speed; CUDA rows also time the frame
  bound in host memory vs staged once in device memory (chromaluma.backend.gpu.run_staged).
- plugin: ofx-render's render call vs process() vs raw ONNX Runtime (chromaluma.benchmarks.plugin), when build/
  holds ofx-render and the bundle.
- ddp: a one-GPU DistributedDataParallel step over NCCL (world size 1), the smoke test for multi-GPU training.
- amp: training-step time of the chroma architecture in fp32 and in mixed precision (autocast fp16 + GradScaler).

On a machine without a GPU every GPU section says "not available" and the script still exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "pybackend"))

log = logging.getLogger("gpu_check")

CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
FRAME_2K = (1080, 2048)
QUICK_FRAME = (96, 128)
DEMO_MODEL = ROOT / "models" / "chromaluma-demo-chroma.onnx"
# (label, device, precision, TensorRT)
CONFIGS = (("CPU fp32", "cpu", "fp32", False), ("CPU fp16", "cpu", "fp16", False),
           ("CUDA fp32", "gpu", "fp32", False), ("CUDA fp16", "gpu", "fp16", False),
           ("TensorRT fp32", "gpu", "fp32", True), ("TensorRT fp16", "gpu", "fp16", True))


class Context:
    """What every section needs: options, a scratch folder, the deadline."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.deadline = time.monotonic() + args.time_limit
        self.frame = QUICK_FRAME if args.quick else FRAME_2K
        self.repeats = 2 if args.quick else 20

    def time_left(self) -> float:
        return self.deadline - time.monotonic()


def _median_ms(action: Callable[[], object], repeats: int) -> float:
    action()  # warm-up: allocation, cuDNN algorithm choice, lazy engine builds
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def machine_section(context: Context) -> dict[str, Any]:
    import onnxruntime as ort

    from chromaluma.benchmarks.inference import gpu_label

    found: dict[str, Any] = {"status": "ok", "python": platform.python_version(), "onnxruntime": ort.__version__,
                             "ort_providers": ort.get_available_providers(), "gpu": gpu_label() or "none"}
    try:
        import torch

        found.update(torch=torch.__version__, torch_cuda=torch.cuda.is_available(),
                     torch_gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
    except ImportError:
        found["torch"] = "not installed"
    return found


def _model(context: Context) -> Path:
    if context.args.model:
        return Path(context.args.model)
    if DEMO_MODEL.is_file():
        return DEMO_MODEL
    from chromaluma.benchmarks.plugin import benchmark_model

    return benchmark_model(context.workdir / "benchmark-chroma.onnx")


def _unavailable(device: str, tensorrt: bool) -> str | None:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "gpu" and CUDA not in available:
        return f"not available: this ONNX Runtime has no {CUDA} (providers: {', '.join(available)})"
    if tensorrt and TENSORRT not in available:
        return f"not available: this ONNX Runtime has no {TENSORRT}"
    return None


def _half_error(model_path: Path, providers: list[str]) -> tuple[dict[str, Any], Any]:
    """fp16 vs CPU fp32 on the load check's probe frame, and the unchecked half session (for its speed)."""
    import onnxruntime as ort

    from chromaluma import contract
    from chromaluma.backend import fp16, precision

    payload = model_path.read_bytes()
    model_contract = contract.contract_of_bytes(payload, str(model_path))
    reference = ort.InferenceSession(payload, providers=["CPUExecutionProvider"])
    half = ort.InferenceSession(fp16.convert_to_half(payload), providers=providers)
    feeds = precision.probe_feeds(model_contract)
    difference = precision.compare_outputs(precision.run_all(reference, feeds), precision.run_all(half, feeds))
    return {"fp16_max_error": difference.maximum, "fp16_p95_error": difference.p95, "worst_output": difference.output,
            "within_tolerance": difference.acceptable}, half


def _inference_row(context: Context, model_path: Path, config: tuple[str, str, str, bool]) -> dict[str, Any]:
    from chromaluma.backend import gpu, session
    from chromaluma.backend.precision import PrecisionError

    label, device, precision_name, tensorrt = config
    row: dict[str, Any] = {"config": label}
    reason = _unavailable(device, tensorrt)
    if reason:
        return {**row, "status": reason}
    height, width = context.frame
    tensor = np.random.default_rng(0).random((1, height, width, 4), dtype=np.float32)
    session.clear_cache()
    cache = context.workdir / "tensorrt" if tensorrt else None
    providers = session.provider_request(device, tensorrt)[0]
    if precision_name == "fp16":
        error, unchecked = _half_error(model_path, providers)
        row.update(error)
    start = time.perf_counter()
    try:
        loaded = session.load_session(model_path, device, precision=precision_name, tensorrt_cache=cache)
    except PrecisionError as exc:
        row.update(status=f"refused: {exc}", unchecked_fps=1000.0 / _median_ms(
            lambda: unchecked.run(None, {"image": tensor}), context.repeats))
        return row
    row.update(status="ok", load_s=time.perf_counter() - start, providers=loaded.session.get_providers(),
               warnings=loaded.warnings)
    row["fps"] = 1000.0 / _median_ms(lambda: loaded.run(tensor), context.repeats)
    if loaded.provider in gpu.CUDA_PROVIDERS and not loaded.contract.has_matte:
        restored = np.empty_like(tensor)
        confidence = np.empty((1, height, width, 1), np.float32) if loaded.contract.has_confidence else None
        row["host_bound_fps"] = 1000.0 / _median_ms(
            lambda: loaded.run_into(tensor, restored, confidence), context.repeats)
        row["device_staged_fps"] = 1000.0 / _median_ms(
            lambda: gpu.run_staged(loaded, tensor, restored, confidence, device="cuda"), context.repeats)
    return row


def inference_section(context: Context) -> dict[str, Any]:
    model_path = _model(context)
    rows = []
    for config in CONFIGS:
        if context.time_left() <= 0:
            rows.append({"config": config[0], "status": "skipped: time limit"})
            continue
        try:
            rows.append(_inference_row(context, model_path, config))
        except Exception as exc:  # noqa: BLE001 — one configuration failing must not hide the others
            rows.append({"config": config[0], "status": f"failed: {type(exc).__name__}: {str(exc)[:300]}"})
    return {"status": "ok", "model": str(model_path), "frame": [context.frame[1], context.frame[0]], "rows": rows}


def plugin_section(context: Context) -> dict[str, Any]:
    from chromaluma.benchmarks import plugin

    if plugin.find_build() is None:
        return {"status": "not available: build/ has no ofx-render and Chromaluma.ofx.bundle (`make build`)"}
    sections = plugin.run(context.workdir / "plugin", context.args.quick)
    return {"status": "ok", "table": sections[0].table, "notes": sections[0].notes, "raw": sections[0].raw}


def ddp_section(context: Context) -> dict[str, Any]:
    """One DistributedDataParallel step on one GPU over NCCL (world size 1): NCCL initialises, gradients
    all-reduce, the step runs."""
    try:
        import torch
        import torch.distributed as dist
    except ImportError:
        return {"status": "not available: torch is not installed"}
    if not torch.cuda.is_available() or not dist.is_nccl_available():
        return {"status": "not available: torch has no CUDA device or no NCCL"}
    from datetime import timedelta

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29531")
    start = time.perf_counter()
    dist.init_process_group("nccl", rank=0, world_size=1, timeout=timedelta(seconds=60))
    try:
        net = torch.nn.parallel.DistributedDataParallel(torch.nn.Conv2d(4, 4, 3, padding=1).cuda(), device_ids=[0])
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
        batch = torch.rand(4, 4, 64, 64, device="cuda")
        loss = net(batch).square().mean()
        loss.backward()
        optimizer.step()
        total = torch.ones(1, device="cuda")
        dist.all_reduce(total)
        torch.cuda.synchronize()
        return {"status": "ok", "backend": dist.get_backend(), "world_size": dist.get_world_size(),
                "all_reduce": float(total.item()), "seconds": time.perf_counter() - start}
    finally:
        dist.destroy_process_group()


def amp_section(context: Context) -> dict[str, Any]:
    """ms per training step of the chroma architecture, fp32 vs autocast fp16 with a GradScaler (train/loop.py's
    mixed-precision path uses the same two pieces)."""
    try:
        import torch
    except ImportError:
        return {"status": "not available: torch is not installed"}
    if not torch.cuda.is_available():
        return {"status": "not available: torch has no CUDA device (mixed precision runs on CUDA only)"}
    from chromaluma.models import build_model
    from chromaluma.models.graph import ContractGraph

    net = ContractGraph(build_model("chroma", 0.25)).cuda()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    batch, side = (2, 64) if context.args.quick else (16, 256)
    image = torch.rand(batch, side, side, 4, device="cuda")
    target = torch.rand(batch, side, side, 4, device="cuda")
    result: dict[str, Any] = {"status": "ok", "batch": batch, "crop": side}
    for name, amp in (("fp32", False), ("amp_fp16", True)):
        scaler = torch.amp.GradScaler("cuda", enabled=amp)

        def step(amp: bool = amp, scaler: Any = scaler) -> None:
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=amp):
                loss = (net(image)[0] - target).abs().mean()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            torch.cuda.synchronize()

        result[f"{name}_step_ms"] = _median_ms(step, context.repeats)
    return result


SECTIONS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "machine": machine_section, "inference": inference_section, "plugin": plugin_section, "ddp": ddp_section,
    "amp": amp_section}


def run_sections(context: Context, names: list[str]) -> dict[str, Any]:
    report: dict[str, Any] = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "quick": context.args.quick, "time_limit_s": context.args.time_limit}
    for name in names:
        if context.time_left() <= 0:
            report[name] = {"status": "skipped: time limit"}
            continue
        started = time.perf_counter()
        try:
            report[name] = SECTIONS[name](context)
        except Exception as exc:  # noqa: BLE001 — a section failing is reported, the others still run
            log.exception("section %s failed", name)
            report[name] = {"status": f"failed: {type(exc).__name__}: {str(exc)[:300]}"}
        report[name]["section_s"] = round(time.perf_counter() - started, 2)
    return report


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown: one line per section status, the inference table, the plug-in table."""
    lines = [f"# Chromaluma GPU check ({report['started']}{', quick' if report['quick'] else ''})", ""]
    machine = report.get("machine", {})
    lines.append(f"Machine: GPU {machine.get('gpu', '?')}, ONNX Runtime {machine.get('onnxruntime', '?')} "
                 f"({', '.join(machine.get('ort_providers', []))}), torch {machine.get('torch', '?')}.")
    inference = report.get("inference", {})
    if inference.get("rows"):
        lines += ["", f"Inference, {inference['frame'][0]}×{inference['frame'][1]}, model {inference['model']}:", "",
                  "| config | status | providers used | fps | fp16 max / p95 error | host-bound / device-staged fps |",
                  "|---|---|---|---|---|---|"]
        for row in inference["rows"]:
            error = (f"{row['fp16_max_error']:.3g} / {row['fp16_p95_error']:.3g}" if "fp16_max_error" in row else "")
            fps = f"{row['fps']:.3g}" if "fps" in row else (
                f"{row['unchecked_fps']:.3g} (unchecked)" if "unchecked_fps" in row else "")
            staged = (f"{row['host_bound_fps']:.3g} / {row['device_staged_fps']:.3g}"
                      if "device_staged_fps" in row else "")
            lines.append(f"| {row['config']} | {row['status'][:160]} | {', '.join(row.get('providers', []))} | "
                         f"{fps} | {error} | {staged} |")
    for name in ("plugin", "ddp", "amp"):
        section = report.get(name, {})
        lines += ["", f"{name}: {section.get('status', 'not run')}"]
        if name == "plugin" and section.get("table"):
            lines += ["", section["table"]]
        details = {key: value for key, value in section.items() if key not in ("status", "table", "notes", "raw")}
        if details:
            lines.append(f"`{json.dumps(details)}`")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="chroma model to time (default: the shipped demo model)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_FRAME[1]}×{QUICK_FRAME[0]} frames, 2 repeats")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=list(SECTIONS), help="sections to run")
    parser.add_argument("--time-limit", type=float, default=420.0,
                        help="seconds after which no new section or configuration starts (default 420)")
    parser.add_argument("--json", type=Path, help="write the JSON report here (default: stdout)")
    parser.add_argument("--markdown", type=Path, help="write the markdown report here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="chromaluma-gpu-check-") as scratch:
        os.environ.setdefault("CHROMALUMA_CACHE", str(Path(scratch) / "cache"))  # fp16 models: not the user's cache
        report = run_sections(Context(args, Path(scratch)), args.only)
    text = json.dumps(report, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
