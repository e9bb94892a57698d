"""`make demo`: restore a faded demo shot with the bundled default chroma model, through `chromaluma apply` and
through the OpenFX plug-in (`ofx-render`), check the two agree, and write demo/before_after.png and ΔE figures.

The demo shot is made at run time: a slow pan over scikit-image's public-domain photograph "chelsea" (not used to
train the model), faded with `chromaluma.synth` (dye fade 0.6, faded unevenly, one print generation, light dust).
It is then density graded the way a restorer grades a faded print before colour work, and the way the quality
benchmark does: one monotonic tone curve on Rec.709 luma (`chromaluma.baselines.DensityGrade`), fitted on the
shot's first two frames against a neutral PAL DVD of them made at run time (`chromaluma.synth.reference`) —
never against the truth — and applied to every frame. The chroma model restores the colour of the graded scan.
Stages that cannot run yet (no model, no plug-in build) are skipped with a clear message and listed in
demo/delta_e.json.

    scripts/demo.py --out demo [--quick] [--update-docs]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chromaluma.baselines import DensityGrade
from chromaluma.io import FrameFormat, read_frame, write_frame
from chromaluma.metrics import delta_e2000
from chromaluma.synth.degrade import Degradation, degrade_shot
from chromaluma.synth.reference import aligned_reference
from chromaluma.synth.shots import CameraMove, photo_shot

log = logging.getLogger("chromaluma.demo")
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "models" / "chromaluma-demo-chroma.onnx"
PLUGIN_ID = "org.chromaluma.Restore"
DEMO_PHOTO = "chelsea"
FIRST_FRAME = 1001
PNG16 = FrameFormat(".png", "uint16", 16, 3)
AGREEMENT_TOLERANCE = 2.0 / 255.0  # largest per-sample difference allowed between the apply and plug-in renders
DEMO_FADE = Degradation(fade=0.6, generations=1, damage=0.1, seed=2026, uneven=1.0)
GRADE_FRAMES = 2  # the density grade is fitted on the shot's first frames against a DVD of them
DOCS_MAX_BYTES = 500_000


@dataclass
class DemoRun:
    """What the demo did: shot folders, renders made, stages skipped (with why), and the measured figures."""

    out: Path
    frame_ids: list[int]
    renders: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    figures: dict[str, object] = field(default_factory=dict)

    @property
    def truth_dir(self) -> Path:
        return self.out / "shot" / "truth"

    @property
    def faded_dir(self) -> Path:
        return self.out / "shot" / "faded"

    @property
    def graded_dir(self) -> Path:
        """The density-graded faded shot: what the renders restore (frames `graded.####.png`)."""
        return self.out / "shot" / "graded"


def make_demo_shot(out: Path, quick: bool) -> DemoRun:
    """Write the clean (truth), faded and density-graded frames of the demo shot as 16-bit PNG `NAME.####.png`."""
    width, height, frames = (320, 180, 3) if quick else (960, 540, 8)
    truth = photo_shot(DEMO_PHOTO, frames, width, height, CameraMove("pan", 0.08), seed=7)
    faded = list(degrade_shot(truth, DEMO_FADE))
    references, mask = aligned_reference(truth[:GRADE_FRAMES], seed=7)
    grade = DensityGrade().fit(faded[:GRADE_FRAMES], references, [mask] * GRADE_FRAMES)
    run = DemoRun(out, list(range(FIRST_FRAME, FIRST_FRAME + frames)))
    for folder in (run.truth_dir, run.faded_dir, run.graded_dir):
        folder.mkdir(parents=True, exist_ok=True)
    for frame_id, clean, degraded in zip(run.frame_ids, truth, faded, strict=True):
        write_frame(run.truth_dir / f"truth.{frame_id}.png", clean, PNG16)
        write_frame(run.faded_dir / f"faded.{frame_id}.png", degraded, PNG16)
        write_frame(run.graded_dir / f"graded.{frame_id}.png", grade.apply(degraded), PNG16)
    log.info("demo shot: %d frames at %dx%d, a slow pan over %r, faded (fade 0.6, uneven), density graded by a "
             "luma curve fitted on its first %d frames against a DVD of them", frames, width, height, DEMO_PHOTO,
             GRADE_FRAMES)
    return run


def render_with_apply(run: DemoRun, model: Path) -> None:
    """`chromaluma apply` over the density-graded shot, as a user would run it."""
    target = run.out / "apply"
    command = [sys.executable, "-m", "chromaluma.cli", "apply", "--model", str(model), "--input",
               str(run.graded_dir), "--output", str(target), "--overwrite", "--no-progress"]
    log.info("render: %s", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        run.skipped["chromaluma apply"] = f"failed (exit {done.returncode}): {reason}"
        log.error("chromaluma apply failed: %s", reason)
        return
    run.renders["chromaluma apply"] = target


def find_ofx_render(build: Path) -> Path | None:
    for candidate in (build / "tests" / "host" / "ofx-render", build / "ofx-render", build / "bin" / "ofx-render"):
        if candidate.is_file():
            return candidate
    found = sorted(build.rglob("ofx-render")) if build.is_dir() else []
    return next((p for p in found if p.is_file()), None)


def render_with_plugin(run: DemoRun, model: Path, build: Path) -> None:
    """The OpenFX plug-in bundle rendered by the headless host `ofx-render`."""
    host = find_ofx_render(build)
    bundles = sorted(build.rglob("*.ofx.bundle")) if build.is_dir() else []
    if host is None or not bundles:
        missing = "ofx-render" if host is None else "the Chromaluma.ofx.bundle"
        run.skipped["OpenFX plug-in"] = f"skipped: {missing} not found under {build} (run `make build`)"
        log.warning("OpenFX render skipped: %s not found under %s; run `make build` first", missing, build)
        return
    target = run.out / "ofx"
    target.mkdir(parents=True, exist_ok=True)
    command = [str(host), "--plugin-path", str(bundles[0].parent), "--plugin", PLUGIN_ID,
               "--param", f"modelFile={model}", "--input", str(run.graded_dir / "graded.####.png"),
               "--output", str(target / "graded.####.png"), "--frames", f"{run.frame_ids[0]}-{run.frame_ids[-1]}",
               # 16-bit host images like the 16-bit PNGs apply writes: both then deliver integers under the one
               # integer policy (CONTRACT §1.2); a float render would be clipped per channel by the host's writer
               "--depth", "short"]
    log.info("render: %s", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = ((done.stderr or done.stdout).strip().splitlines() or ["no message"])[-1]
        run.skipped["OpenFX plug-in"] = f"failed (exit {done.returncode}): {reason}"
        log.error("ofx-render failed: %s", reason)
        return
    run.renders["OpenFX plug-in"] = target


def render_in_process(run: DemoRun, model: Path) -> None:
    """Fallback when `chromaluma apply` cannot run: the same `chromaluma.api.process` call, in this process."""
    from chromaluma.api import process

    target = run.out / "in-process"
    target.mkdir(parents=True, exist_ok=True)
    for frame_id in run.frame_ids:
        scan = read_frame(run.graded_dir / f"graded.{frame_id}.png")[0][..., :3]
        restored = np.empty_like(scan)
        process(scan, restored, {"model": str(model)})
        write_frame(target / f"graded.{frame_id}.png", restored, PNG16)
    run.renders["chromaluma.api.process"] = target


def compare_renders(run: DemoRun) -> None:
    """Largest and mean per-sample difference between every pair of renders (they must agree)."""
    names = list(run.renders)
    for index, first in enumerate(names):
        for second in names[index + 1:]:
            worst, mean = 0.0, []
            for frame_id in run.frame_ids:
                a = read_frame(run.renders[first] / f"graded.{frame_id}.png")[0][..., :3]
                b = read_frame(run.renders[second] / f"graded.{frame_id}.png")[0][..., :3]
                worst = max(worst, float(np.abs(a - b).max()))
                mean.append(float(np.abs(a - b).mean()))
            agree = worst <= AGREEMENT_TOLERANCE
            run.figures[f"{first} vs {second}"] = {"max_abs_difference": worst, "mean_abs_difference":
                                                   float(np.mean(mean)), "agree": agree}
            (log.info if agree else log.error)("%s vs %s: max difference %.5f (tolerance %.5f) → %s", first, second,
                                               worst, AGREEMENT_TOLERANCE, "agree" if agree else "DISAGREE")


def measure(run: DemoRun) -> None:
    """ΔE2000 (mean, p95) of the faded and graded shot and of each render against the ground truth, all frames."""
    truth = [read_frame(run.truth_dir / f"truth.{i}.png")[0][..., :3] for i in run.frame_ids]
    sources = {"faded": (run.faded_dir, "faded"), "density graded": (run.graded_dir, "graded"),
               **{name: (folder, "graded") for name, folder in run.renders.items()}}
    for name, (folder, prefix) in sources.items():
        scores = [delta_e2000(read_frame(folder / f"{prefix}.{i}.png")[0][..., :3], t)
                  for i, t in zip(run.frame_ids, truth, strict=True)]
        run.figures[name] = {"delta_e2000_mean": float(np.mean([s.mean for s in scores])),
                             "delta_e2000_p95": float(np.mean([s.p95 for s in scores]))}
        log.info("ΔE2000 %-24s mean %.2f  p95 %.2f", name, run.figures[name]["delta_e2000_mean"],
                 run.figures[name]["delta_e2000_p95"])


def _labelled(frame: np.ndarray, label: str) -> np.ndarray:
    import cv2

    height, width = frame.shape[:2]
    banner = np.full((max(28, height // 12), width, 3), 20, np.uint8)  # OpenCV draws text on 8-bit images only
    scale = banner.shape[0] / 40.0
    cv2.putText(banner, label, (8, int(banner.shape[0] * 0.72)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                max(1, int(round(scale * 2))), cv2.LINE_AA)
    return np.concatenate([banner.astype(np.float32) / 255.0, frame[..., :3]], axis=0)


def before_after(run: DemoRun, restored_name: str, path: Path) -> None:
    """faded | density graded | restored | ground truth of the middle frame, labelled with ΔE2000, 8-bit PNG."""
    frame_id = run.frame_ids[len(run.frame_ids) // 2]
    faded = read_frame(run.faded_dir / f"faded.{frame_id}.png")[0]
    graded = read_frame(run.graded_dir / f"graded.{frame_id}.png")[0]
    restored = read_frame(run.renders[restored_name] / f"graded.{frame_id}.png")[0]
    truth = read_frame(run.truth_dir / f"truth.{frame_id}.png")[0]
    figure = {name: run.figures[name]["delta_e2000_mean"] for name in ("faded", "density graded", restored_name)}
    panels = [_labelled(faded, f"faded print (dE2000 {figure['faded']:.1f})"),
              _labelled(graded, f"density graded (dE2000 {figure['density graded']:.1f})"),
              _labelled(restored, f"Chromaluma (dE2000 {figure[restored_name]:.1f})"),
              _labelled(truth, "ground truth")]
    gap = np.ones((panels[0].shape[0], 6, 3), np.float32)
    row = [part for panel in panels for part in (panel, gap)][:-1]
    write_frame(path, np.concatenate(row, axis=1), FrameFormat(".png", "uint8", 8, 3))
    log.info("wrote %s (frame %d: faded | density graded | restored | ground truth)", path, frame_id)


def write_figures(run: DemoRun, model: Path) -> None:
    """demo/delta_e.json and demo/delta_e.md: the figures, what rendered and what was skipped."""
    from chromaluma.synth.pairs import write_json

    record = {"model": str(model), "shot": f"slow pan over skimage.data.{DEMO_PHOTO}() (CC0), faded by "
              "chromaluma.synth (fade 0.6, uneven 1, 1 print generation, damage 0.1, seed 2026), density graded "
              f"by a luma curve fitted on its first {GRADE_FRAMES} frames against a neutral DVD of them; renders "
              "restore the graded shot",
              "frames": [run.frame_ids[0], run.frame_ids[-1]], "figures": run.figures, "skipped": run.skipped}
    write_json(run.out / "delta_e.json", record)
    lines = ["| frames | ΔE2000 mean | ΔE2000 p95 |", "|---|---|---|"]
    lines += [f"| {name} | {value['delta_e2000_mean']:.2f} | {value['delta_e2000_p95']:.2f} |"
              for name, value in run.figures.items() if "delta_e2000_mean" in value]
    lines += [""] + [f"- {name}: {value['max_abs_difference']:.5f} max difference "
                     f"({'agree' if value['agree'] else 'DISAGREE'})"
                     for name, value in run.figures.items() if "agree" in value]
    lines += [f"- {stage}: {why}" for stage, why in run.skipped.items()]
    tmp_path = run.out / ".delta_e.md.partial"
    tmp_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp_path.replace(run.out / "delta_e.md")


def docs_copy(picture: Path, target: Path, width: int = 1400) -> None:
    """The picture at most `width` pixels wide for the README (the demo/ one stays full size), under 500 KB.

    Full 8-bit RGB when that fits; otherwise the lowest bit(s) of each channel are rounded away (7, then 6 bits),
    which PNG compresses better while keeping every hue (no palette). The figures are measured on the 16-bit
    frames, never on this picture.
    """
    import io

    import cv2
    from PIL import Image

    pixels = read_frame(picture)[0][..., :3]
    if pixels.shape[1] > width:
        height = int(round(pixels.shape[0] * width / pixels.shape[1]))
        pixels = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
    for bits in (8, 7, 6):
        step = 2 ** (8 - bits)
        values = np.clip(np.rint(pixels * 255.0 / step) * step, 0, 255).astype(np.uint8)
        encoded = io.BytesIO()
        Image.fromarray(values).save(encoded, format="PNG", optimize=True)
        if encoded.tell() <= DOCS_MAX_BYTES:
            break
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = target.with_name(f".{target.name}.partial")
    tmp_path.write_bytes(encoded.getvalue())
    tmp_path.replace(target)
    log.info("copied the picture to %s (%.0f KB, %d bits per channel)", target, target.stat().st_size / 1000, bits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo"), help="output folder (default demo/)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="chroma model (default: the bundled one)")
    parser.add_argument("--build", type=Path, default=ROOT / "build", help="CMake build folder (plug-in, ofx-render)")
    parser.add_argument("--quick", action="store_true", help="a 3-frame 320×180 shot (for tests)")
    parser.add_argument("--update-docs", action="store_true", help="also copy the picture to docs/images/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    run = make_demo_shot(args.out, args.quick)
    if not args.model.is_file():
        log.error("no model at %s: run scripts/make_demo_model.py (a few minutes on a CPU) or give --model", args.model)
        run.skipped["restoration"] = f"skipped: no model at {args.model}"
        write_figures(run, args.model)
        return 1
    render_with_apply(run, args.model)
    render_with_plugin(run, args.model, args.build)
    if not run.renders:
        log.warning("neither chromaluma apply nor the plug-in rendered; restoring in-process with api.process")
        render_in_process(run, args.model)
    compare_renders(run)
    measure(run)
    shown = next(iter(run.renders))
    before_after(run, shown, args.out / "before_after.png")
    write_figures(run, args.model)
    if args.update_docs:
        docs_copy(args.out / "before_after.png", ROOT / "docs" / "images" / "before_after.png")
    better = all(run.figures[name]["delta_e2000_mean"] < run.figures["density graded"]["delta_e2000_mean"]
                 for name in run.renders)
    agree = all(value["agree"] for value in run.figures.values() if "agree" in value)
    for stage, why in run.skipped.items():
        log.warning("demo: %s %s", stage, why)
    return 0 if better and agree else 1


if __name__ == "__main__":
    sys.exit(main())
