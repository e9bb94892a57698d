"""Self-tests of ofx-render through the test invert effect.

Fixtures are generated here and expected pixels computed here with numpy; images are written and read with
OpenImageIO, not with the host's libpng/libtiff code, so a host that flips rows, drops padding, mixes up depths or
ignores a parameter fails. Run by ctest: test_ofx_render.py --host PATH --plugins DIR CASE.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

PLUGIN = "org.chromaluma.test.Invert"
WIDTH, HEIGHT = 37, 23  # odd, non-square: row/column mix-ups cannot cancel out
DTYPES = {"byte": np.uint8, "short": np.uint16, "float": np.float32}
OIIO_FORMAT = {np.uint8: "uint8", np.uint16: "uint16", np.float32: "float"}


def write_image(path: Path, pixels: np.ndarray) -> None:
    height, width, channels = pixels.shape
    out = oiio.ImageOutput.create(str(path))
    assert out is not None, oiio.geterror()
    assert out.open(str(path), oiio.ImageSpec(width, height, channels, OIIO_FORMAT[pixels.dtype.type])), out.geterror()
    assert out.write_image(pixels), out.geterror()
    out.close()


def read_image(path: Path) -> np.ndarray:
    inp = oiio.ImageInput.open(str(path))
    assert inp is not None, f"{path}: {oiio.geterror()}"
    pixels = inp.read_image(inp.spec().format)
    inp.close()
    return pixels if pixels.ndim == 3 else pixels[..., np.newaxis]


def fixture(depth: str, channels: int, seed: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if depth == "float":  # include HDR and negative values: float must pass through unclamped
        return rng.uniform(-0.5, 2.0, (height, width, channels)).astype(np.float32)
    top = np.iinfo(DTYPES[depth]).max
    return rng.integers(0, top + 1, (height, width, channels), dtype=DTYPES[depth])


def inverted(src: np.ndarray) -> np.ndarray:
    out = src.copy()
    if src.dtype == np.float32:
        out[..., :3] = np.float32(1.0) - src[..., :3]
    else:
        out[..., :3] = np.iinfo(src.dtype).max - src[..., :3]
    return out


class Host:
    def __init__(self, exe: str, plugins: str, work: Path) -> None:
        self.exe, self.plugins, self.work = exe, plugins, work

    def run(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        cmd = [self.exe, "--plugin-path", self.plugins, *args]
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=120)

    def render(self, *args: str, env: dict | None = None, expect: int = 0) -> subprocess.CompletedProcess:
        result = self.run("--plugin", PLUGIN, *args, env=env)
        assert result.returncode == expect, (
            f"exit {result.returncode}, expected {expect}\nargs: {args}\nstderr:\n{result.stderr}"
        )
        return result


def check_equal(got: np.ndarray, want: np.ndarray, what: str, tolerance: float = 0.0) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    where = np.unravel_index(diff.argmax(), diff.shape)
    assert diff.max() <= tolerance, f"{what}: max difference {diff.max()} at {where}"


LAYOUTS = {
    "plain": [],
    "padded": ["--rowbytes-padding", "13"],
    "negative": ["--negative-rowbytes"],
    "origin": ["--origin", "7,-5"],
    "all": ["--negative-rowbytes", "--rowbytes-padding", "6", "--origin", "-3,11"],
}


def case_layouts(host: Host) -> None:
    """Every depth x memory layout x component count round-trips through the effect exactly."""
    for depth in DTYPES:
        for channels, components in ((4, "RGBA"), (3, "RGB")):
            src = fixture(depth, channels, seed=len(depth) * 10 + channels)
            write_image(host.work / f"src_{depth}_{channels}.0001.tif", src)
            for name, layout in LAYOUTS.items():
                out = host.work / f"out_{depth}_{channels}_{name}.####.tif"
                host.render(
                    "--input",
                    str(host.work / f"src_{depth}_{channels}.####.tif"),
                    "--output",
                    str(out),
                    "--depth",
                    depth,
                    "--components",
                    components,
                    *layout,
                )
                got = read_image(Path(str(out).replace("####", "0001")))
                check_equal(got, inverted(src), f"{depth} {components} {name}")


def case_png(host: Host) -> None:
    """8-bit PNG in, 16-bit PNG out (short depth); 8-bit in and out at byte depth."""
    src = fixture("byte", 3, seed=5)
    write_image(host.work / "p.0003.png", src)
    host.render(
        "--input",
        str(host.work / "p.####.png"),
        "--output",
        str(host.work / "o16.%04d.png"),
        "--frames",
        "3",
        "--depth",
        "short",
        "--components",
        "RGB",
    )
    got16 = read_image(host.work / "o16.0003.png")
    assert got16.dtype == np.uint16, got16.dtype
    check_equal(got16, (255 - src).astype(np.uint16) * 257, "8-bit PNG through short depth")
    host.render(
        "--input",
        str(host.work / "p.####.png"),
        "--output",
        str(host.work / "o8.####.png"),
        "--frames",
        "3-3",
        "--depth",
        "byte",
        "--components",
        "RGB",
    )
    check_equal(read_image(host.work / "o8.0003.png"), 255 - src, "8-bit PNG through byte depth")


def case_mask(host: Host) -> None:
    """General context: Mask clip and the amount parameter blend the inversion per pixel."""
    src = fixture("float", 4, seed=7)
    src[..., :3] = np.clip(src[..., :3], 0, 1)
    mask = fixture("byte", 1, seed=8)
    write_image(host.work / "m_src.0001.tif", src)
    write_image(host.work / "m_mask.0001.png", mask)
    host.render(
        "--context",
        "general",
        "--input",
        str(host.work / "m_src.####.tif"),
        "--mask",
        str(host.work / "m_mask.####.png"),
        "--output",
        str(host.work / "m_out.####.tif"),
        "--param",
        "amount=0.5",
        "--negative-rowbytes",
    )
    m = mask.astype(np.float64) / 255.0
    s = src[..., :3].astype(np.float64)
    want = src.copy()
    want[..., :3] = (s + 0.5 * m * (1.0 - 2.0 * s)).astype(np.float32)
    check_equal(read_image(host.work / "m_out.0001.tif"), want, "masked half inversion", tolerance=1e-6)


def case_failure(host: Host) -> None:
    """A failed frame prints the plug-in's persistent message; the host goes on; the exit status counts failures."""
    src = fixture("short", 4, seed=9)
    for frame in (1, 2, 3):
        write_image(host.work / f"f.{frame:04d}.tif", src)
    result = host.render(
        "--input",
        str(host.work / "f.####.tif"),
        "--output",
        str(host.work / "fo.####.tif"),
        "--frames",
        "1-3",
        "--depth",
        "short",
        "--param",
        "failFrame=2",
        expect=1,
    )
    assert "failing frame 2 on request" in result.stderr, result.stderr
    assert not (host.work / "fo.0002.tif").exists(), "a failed frame must not be written"
    for frame in (1, 3):
        check_equal(read_image(host.work / f"fo.{frame:04d}.tif"), inverted(src), f"frame {frame} after a failure")
    missing = host.render(
        "--input",
        str(host.work / "nothing.####.tif"),
        "--output",
        str(host.work / "n.####.tif"),
        "--frames",
        "1-2",
        expect=2,
    )
    assert "nothing.0001.tif" in missing.stderr, missing.stderr


def case_threads(host: Host) -> None:
    """Concurrent renders stay within each declared thread safety (the effect fails any overlap it forbids)."""
    frames = 6
    sources = [fixture("byte", 4, seed=100 + f) for f in range(1, frames + 1)]
    for f, src in enumerate(sources, start=1):
        write_image(host.work / f"t.{f:04d}.tif", src)
    for safety in ("full", "instance", "unsafe"):
        output = str(host.work / f"t_{safety}.####.tif")
        result = host.render(
            "--input",
            str(host.work / "t.####.tif"),
            "--output",
            output,
            "--frames",
            f"1-{frames}",
            "--depth",
            "byte",
            "--threads",
            "3",
            "--timing",
            env={"CHROMALUMA_TEST_SAFETY": safety},
        )
        events = [json.loads(line) for line in result.stdout.splitlines()]
        rendered = sorted(e["frame"] for e in events if e["event"] == "frame" and e["status"] == "ok")
        assert rendered == list(range(1, frames + 1)), (safety, events)
        summary = events[-1]
        assert summary["event"] == "summary" and summary["failed"] == 0 and summary["threads"] == 3, summary
        assert all(e["render_ms"] >= 0 for e in events if e["event"] == "frame")
        setup = events[0]
        assert setup["instances"] == (3 if safety == "instance" else 1), setup
        for f, src in enumerate(sources, start=1):
            check_equal(read_image(host.work / f"t_{safety}.{f:04d}.tif"), inverted(src), f"{safety} frame {f}")


def case_actions(host: Host) -> None:
    """Actions arrive in the standard's order."""
    write_image(host.work / "a.0001.tif", fixture("byte", 4, seed=3))
    write_image(host.work / "a.0002.tif", fixture("byte", 4, seed=4))
    log = host.work / "actions.log"
    host.render(
        "--input",
        str(host.work / "a.####.tif"),
        "--output",
        str(host.work / "ao.####.tif"),
        "--frames",
        "1-2",
        "--param",
        "note=hello",
        env={"CHROMALUMA_TEST_ACTION_LOG": str(log)},
    )
    per_frame = [
        "OfxImageEffectActionGetRegionOfDefinition",
        "OfxImageEffectActionGetRegionsOfInterest",
        "OfxImageEffectActionIsIdentity",
        "OfxImageEffectActionRender",
    ]
    want = (
        [
            "OfxActionLoad",
            "OfxActionDescribe",
            "OfxImageEffectActionDescribeInContext",
            "OfxActionCreateInstance",
            "OfxActionBeginInstanceChanged",
            "OfxActionInstanceChanged",
            "OfxActionEndInstanceChanged",
            "OfxImageEffectActionGetClipPreferences",
            "OfxImageEffectActionBeginSequenceRender",
        ]
        + per_frame * 2
        + ["OfxImageEffectActionEndSequenceRender", "OfxActionDestroyInstance", "OfxActionUnload"]
    )
    got = log.read_text().split()
    assert got == want, "\n".join(
        f"{g:45} {w}" for g, w in zip(got + [""] * len(want), want + [""] * len(got), strict=True)
    )


def case_identity(host: Host) -> None:
    """An identity answer makes the host copy Source itself (a choice parameter set by its option label)."""
    src = fixture("float", 4, seed=11)
    write_image(host.work / "i.0001.tif", src)
    host.render(
        "--input",
        str(host.work / "i.####.tif"),
        "--output",
        str(host.work / "io.####.tif"),
        "--param",
        "mode=Identity",
        "--origin",
        "2,2",
    )
    check_equal(read_image(host.work / "io.0001.tif"), src, "identity copy")


def case_gaps(host: Host) -> None:
    """A suite the host lacks is refused loudly: named on stderr, exit status 122 (a note with --allow-missing)."""
    write_image(host.work / "g.0001.tif", fixture("byte", 4, seed=12))
    args = ("--input", str(host.work / "g.####.tif"), "--output", str(host.work / "go.####.tif"))
    env = {"CHROMALUMA_TEST_MISSING_SUITE": "1"}
    result = host.render(*args, env=env, expect=122)
    assert "OfxDrawSuite" in result.stderr, result.stderr
    host.render(*args, "--allow-missing", env=env, expect=0)


def case_cli(host: Host) -> None:
    """--list, usage errors (120) and plug-in setup errors (121)."""
    listing = host.run("--list")
    assert listing.returncode == 0 and PLUGIN in listing.stdout and "Chromaluma Test Invert" in listing.stdout, listing
    assert host.run().returncode == 120
    assert host.run("--plugin", PLUGIN, "--input", "x.tif", "--output", "y.tif", "--depth", "half").returncode == 120
    write_image(host.work / "c.0001.tif", fixture("byte", 4, seed=13))
    args = ("--input", str(host.work / "c.####.tif"), "--output", str(host.work / "co.####.tif"))
    unknown = host.render(*args, "--param", "nosuch=1", expect=121)
    assert "amount" in unknown.stderr, unknown.stderr  # lists the parameters it does have
    host.render(*args, "--param", "mode=Sideways", expect=121)
    assert host.run("--plugin", "org.example.Missing", *args).returncode == 121


def case_scale(host: Host) -> None:
    """--render-scale 0.5 hands the effect half-size images (nearest samples) and says so in the render scale; an
    effect declaring kOfxImageEffectPropSupportsMultiResolution=0 is rendered at full scale instead, with a note."""
    src = fixture("short", 4, seed=14, height=24, width=36)
    write_image(host.work / "s.0001.tif", src)
    args = ("--input", str(host.work / "s.####.tif"), "--depth", "short", "--render-scale", "0.5")
    host.render(*args, "--output", str(host.work / "so.####.tif"))
    check_equal(read_image(host.work / "so.0001.tif"), inverted(src[::2, ::2]), "half-scale render")
    full = host.render(*args, "--output", str(host.work / "sf.####.tif"), env={"CHROMALUMA_TEST_MULTIRES": "0"})
    assert "kOfxImageEffectPropSupportsMultiResolution=0: rendering at scale 1, not 0.5" in full.stderr, full.stderr
    check_equal(read_image(host.work / "sf.0001.tif"), inverted(src), "full-scale render of a single-resolution effect")
    same = host.render(*args, "--output", str(host.work / "sm.####.tif"), env={"CHROMALUMA_TEST_MULTIRES": "1"})
    assert "rendering at scale 1" not in same.stderr, same.stderr
    check_equal(read_image(host.work / "sm.0001.tif"), inverted(src[::2, ::2]), "declared multi-resolution")


def case_params(host: Host) -> None:
    """--print-params: each parameter's final value (as JSON) after the instance-changed actions and after rendering,
    including what the effect wrote itself."""
    for frame in (1, 2):
        write_image(host.work / f"v.{frame:04d}.tif", fixture("byte", 4, seed=20 + frame))
    result = host.render("--input", str(host.work / "v.####.tif"), "--output", str(host.work / "vo.####.tif"),
                         "--frames", "1-2", "--param", "amount=0.25", "--param", "mode=Invert",
                         "--param", 'note=say "hi"\\', "--print-params")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["event"], e["when"], e["instance"]) for e in events] == [
        ("params", "after-instance-changed", 0), ("params", "after-render", 0)], events
    changed, rendered = events[0]["values"], events[1]["values"]
    assert changed == {"amount": 0.25, "failFrame": -1000000, "mode": "Invert", "note": 'say "hi"\\',
                       "echo": "changed note"}, changed
    assert rendered == {**changed, "echo": "rendered frame 2"}, rendered


def temporal_render(host: Host, temporal: str, *args: str) -> tuple[subprocess.CompletedProcess, list[str], str]:
    """The test effect with CHROMALUMA_TEST_TEMPORAL=D:F over frames 1-3 of a 3-frame sequence (`args` may narrow
    --frames): the finished run, its action log and `echo` after the renders (which neighbour fetches were served)."""
    for frame in (1, 2, 3):
        write_image(host.work / f"t.{frame:04d}.tif", fixture("byte", 4, seed=40 + frame))
    log = host.work / f"temporal-{temporal.replace(':', '-')}.log"
    log.unlink(missing_ok=True)
    env = {"CHROMALUMA_TEST_ACTION_LOG": str(log)}
    if temporal:
        env["CHROMALUMA_TEST_TEMPORAL"] = temporal
    result = host.render("--input", str(host.work / "t.####.tif"), "--output", str(host.work / "to.####.tif"),
                         "--input-frames", "1-3", "--frames", "1-3", *args, "--print-params", env=env)
    after = [json.loads(line) for line in result.stdout.splitlines() if '"after-render"' in line]
    return result, log.read_text().split(), after[0]["values"]["echo"]


def case_temporal(host: Host) -> None:
    """Temporal clip access: getFramesNeeded is asked only of an effect that declares temporal access; a declared
    frame inside the clip is served, one outside the clip's frame range fails (OFX), and a frame the effect did not
    declare is refused with a log line; --frame-order reverse renders the last frame first."""
    _, actions, echo = temporal_render(host, "")
    assert "OfxImageEffectActionGetFramesNeeded" not in actions, actions
    result, actions, echo = temporal_render(host, "1:1")
    assert actions.count("OfxImageEffectActionGetFramesNeeded") == 3, actions
    assert echo == "rendered frame 3 (t-1 ok, t+1 failed)", echo  # frame 4 lies outside the clip's frames 1-3
    assert "refused" not in result.stderr, result.stderr
    result, _, echo = temporal_render(host, "1:1", "--frames", "2")  # frames 1 and 3: in the clip, not rendered
    assert echo == "rendered frame 2 (t-1 ok, t+1 ok)", echo
    result, _, echo = temporal_render(host, "0:1", "--frames", "2")
    assert echo == "rendered frame 2 (t-1 failed, t+1 failed)", echo
    assert "refused clipGetImage(Source, time 1) during the render of frame 2" in result.stderr, result.stderr
    result, _, echo = temporal_render(host, "1:1", "--frame-order", "reverse")
    assert echo == "rendered frame 1 (t-1 failed, t+1 ok)", echo  # frame 1 rendered last
    bad = host.run("--plugin", PLUGIN, "--input", "x.####.tif", "--output", "y.####.tif", "--frames", "1-4",
                   "--input-frames", "2-9")
    assert bad.returncode == 120 and "lies outside --input-frames 2-9" in bad.stderr, bad.stderr


def cuda_echo(host: Host, declared: str | None, *flags: str) -> tuple[subprocess.CompletedProcess, str]:
    """The test effect declaring kOfxImageEffectPropCudaRenderSupported=`declared` (None: it sets nothing) over one
    frame with ofx-render `flags`: the finished run and `echo` after the render (its " cuda=N" part)."""
    write_image(host.work / "g.0001.tif", fixture("float", 4, seed=50))
    env = {"CHROMALUMA_TEST_CUDA": declared} if declared is not None else {}
    result = host.render("--input", str(host.work / "g.####.tif"), "--output", str(host.work / "go.####.tif"),
                         *flags, "--print-params", env=env)
    after = [json.loads(line) for line in result.stdout.splitlines() if '"after-render"' in line]
    check_equal(read_image(host.work / "go.0001.tif"), inverted(fixture("float", 4, seed=50)), "CPU-memory render")
    return result, after[0]["values"]["echo"]


def case_cuda(host: Host) -> None:
    """--cuda-render: kOfxImageEffectPropCudaEnabled is 1 in render only for an effect that declared CUDA render
    "true" or "needed" (OpenFX 1.5); 0 for one that said "false" or nothing, and without the flag;
    --force-cuda-enabled sets 1 whatever was declared. The images are CPU memory in every case (no GPU)."""
    assert cuda_echo(host, "true")[1].endswith(" cuda=0")  # no --cuda-render: the host does not offer it
    for declared, enabled in (("true", 1), ("needed", 1), ("false", 0)):
        result, echo = cuda_echo(host, declared, "--cuda-render")
        assert echo.endswith(f" cuda={enabled}"), (declared, echo)
        assert f'kOfxImageEffectPropCudaRenderSupported="{declared}"' in result.stderr, result.stderr
    result, _ = cuda_echo(host, None, "--cuda-render")  # declaring nothing is the standard's default "false"
    assert 'CudaRenderSupported="false": kOfxImageEffectPropCudaEnabled=0' in result.stderr, result.stderr
    result, echo = cuda_echo(host, "false", "--force-cuda-enabled")
    assert echo.endswith(" cuda=1") and "against the standard" in result.stderr, (echo, result.stderr)


def case_instances(host: Host) -> None:
    """--instances 2: two instances with their own parameters (--instance-param) and outputs (--instance-output)
    render every frame at once from one worker pool, within each declared thread safety; --memory-log samples
    resident memory after setup and after every render; --discard-output renders without writing."""
    frames = 4
    sources = [fixture("float", 4, seed=200 + f) for f in range(1, frames + 1)]
    for f, src in enumerate(sources, start=1):
        write_image(host.work / f"n.{f:04d}.tif", src)
    for safety in ("full", "instance", "unsafe"):
        outputs = [host.work / f"n0_{safety}.####.tif", host.work / f"n1_{safety}.####.tif"]
        log = host.work / f"memory_{safety}.jsonl"
        result = host.render("--input", str(host.work / "n.####.tif"), "--output", str(outputs[0]),
                             "--frames", f"1-{frames}", "--threads", "3", "--instances", "2",
                             "--instance-param", "1:amount=0.25", "--instance-output", f"1:{outputs[1]}",
                             "--timing", "--print-params", "--memory-log", str(log),
                             env={"CHROMALUMA_TEST_SAFETY": safety})
        events = [json.loads(line) for line in result.stdout.splitlines()]
        rendered = sorted((e["frame"], e["instance"]) for e in events if e["event"] == "frame" and e["status"] == "ok")
        assert rendered == [(f, i) for f in range(1, frames + 1) for i in (0, 1)], (safety, events)
        summary = events[-1]
        assert summary["failed"] == 0 and summary["renders"] == 2 * frames and summary["frames"] == frames, summary
        amounts = {(e["group"], e["values"]["amount"]) for e in events if e["event"] == "params"}
        assert amounts == {(0, 1.0), (1, 0.25)}, (safety, amounts)
        for f, src in enumerate(sources, start=1):
            full = read_image(Path(str(outputs[0]).replace("####", f"{f:04d}")))
            check_equal(full, inverted(src), f"{safety} instance 0 frame {f}")
            quarter = src.copy()
            quarter[..., :3] = (src[..., :3] + 0.25 * (1.0 - 2.0 * src[..., :3].astype(np.float64))).astype(np.float32)
            got = read_image(Path(str(outputs[1]).replace("####", f"{f:04d}")))
            check_equal(got, quarter, f"{safety} instance 1 frame {f}", tolerance=1e-6)
        samples = [json.loads(line) for line in log.read_text().splitlines()]
        assert [s["done"] for s in samples] == list(range(2 * frames + 1)) + [2 * frames], samples
        assert [s["stage"] for s in samples] == ["setup"] + ["render"] * 2 * frames + ["end"], samples
        assert sorted((s["frame"], s["instance"]) for s in samples[1:-1]) == rendered, samples
        assert all(s["rss_kib"] > 1000 for s in samples), samples  # a running process holds at least a few MiB
    before = sorted(host.work.iterdir())
    discard_log = host.work / "memory_discard.jsonl"
    host.render("--input", str(host.work / "n.####.tif"), "--discard-output", "--frames", f"1-{frames}",
                "--instances", "2", "--threads", "2", "--memory-log", str(discard_log))
    assert sorted(host.work.iterdir()) == sorted([*before, discard_log]), "--discard-output wrote frames"
    assert len(discard_log.read_text().splitlines()) == 2 * frames + 2
    base = ("--input", str(host.work / "n.####.tif"), "--output", str(host.work / "u.####.tif"))
    missing = host.render(*base, "--instances", "2", expect=120)
    assert "instance 1 needs --instance-output 1:PATTERN" in missing.stderr, missing.stderr
    beyond = host.render(*base, "--instance-param", "1:amount=0.5", expect=120)
    assert "--instance-param 1:amount: there are only 1 instance(s)" in beyond.stderr, beyond.stderr
    unknown = host.render(*base, "--instances", "2", "--instance-output", f"1:{host.work / 'u1.####.tif'}",
                          "--instance-param", "1:nosuch=1", expect=121)
    assert 'no parameter "nosuch"' in unknown.stderr, unknown.stderr
    unwritable = host.render(*base, "--memory-log", str(host.work / "no" / "such" / "m.jsonl"), expect=120)
    assert "--memory-log" in unwritable.stderr and "No such file" in unwritable.stderr, unwritable.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--plugins", required=True)
    parser.add_argument("case", choices=[n[5:] for n in globals() if n.startswith("case_")])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ofx-render-test-") as work:
        globals()[f"case_{args.case}"](Host(args.host, args.plugins, Path(work)))
    sys.stdout.write(f"ofx_render {args.case}: ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
