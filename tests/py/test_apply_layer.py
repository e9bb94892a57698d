"""`chromaluma apply --layer delta DIR` (issue 21 item 2): scan + layer gives the restored frame, to the written
precision; the layer is 0 where the model changed nothing; the render log, --resume and farm ranges treat layer
frames like matte frames; bad option combinations exit 2 with one line and write nothing.

Reconstruction is checked from the files alone, as a compositor does it: the scan and the layer read as float32
(integer codes / max), added in float32, then stored at the restored file's sample type (rounded to its codes for
integer files, bit for bit for float files)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chromaluma import contract
from chromaluma.backend import apply_shot, difference_layer
from chromaluma.cli import main
from chromaluma.errors import FrameWriteError
from chromaluma.io import FrameFormat, read_frame, write_frame
from model_fixtures import pointwise_model, repair_onnx

FRAMES = (1001, 1002, 1003)
LOG = "chromaluma-render.json"
SCANS = {
    "uint8": FrameFormat(".png", "uint8", 8, 3),
    "uint16": FrameFormat(".tif", "uint16", 16, 3),
    "grey16": FrameFormat(".tif", "uint16", 16, 1),
    "float": FrameFormat(".exr", "float", 32, 3),
}
CODES = {"uint8": 255, "uint16": 65535}
OIIOTOOL = shutil.which("oiiotool") or shutil.which("oiiotool", path=str(Path(sys.executable).parent))


def _scan_pixels(rng: np.random.Generator, kind: str) -> np.ndarray:
    channels = SCANS[kind].channels
    pixels = rng.random((12, 17, channels), dtype=np.float32)
    if kind == "float":  # scene-linear: from deep shadow to far above 1, a few negative, so sums are often inexact
        pixels = (np.exp(rng.uniform(-9, 4, pixels.shape)) * rng.choice([1, 1, 1, -1], pixels.shape))
    return pixels.astype(np.float32)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("apply_layer")
    rng = np.random.default_rng(21)
    folders = {"model": pointwise_model(root / "pointwise.onnx"), "repair": repair_onnx(root / "repair.onnx")}
    for kind, scan_format in SCANS.items():
        folder = root / kind
        folder.mkdir()
        for frame in FRAMES:
            write_frame(folder / f"shot.{frame}{scan_format.extension}", _scan_pixels(rng, kind), scan_format)
        folders[kind] = folder
    return folders


def _apply(shots: dict[str, Path], kind: str, out: Path, *extra: str, model: str = "model") -> int:
    return main(["apply", "--model", str(shots[model]), "--input", str(shots[kind]), "--output", str(out),
                 "--no-progress", *extra])


def _scan(path: Path) -> np.ndarray:
    """The scan as apply reads it: a grey scan as grey R, G, B."""
    pixels = read_frame(path)[0]
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def _frames(shots: dict[str, Path], kind: str, out: Path, layers: Path):
    extension = SCANS[kind].extension
    for frame in FRAMES:
        name = f"shot.{frame}"
        yield (frame, _scan(shots[kind] / f"{name}{extension}"), read_frame(layers / f"{name}.exr"),
               read_frame(out / f"{name}{extension}")[0])


def _stored(pixels: np.ndarray, kind: str) -> np.ndarray:
    """Values stored at the restored file's sample type: codes for integer files, float32 bits for float files."""
    if kind == "float":
        return pixels.view(np.uint32)
    levels = CODES["uint8" if kind == "uint8" else "uint16"]
    return np.round(np.clip(pixels.astype(np.float64), 0, 1) * levels).astype(np.int64)


@pytest.mark.parametrize("kind", list(SCANS))
def test_float_layer_added_to_the_scan_gives_the_restored_frame_bit_for_bit(tmp_path, shots, kind):
    out, layers, plain = tmp_path / "restored", tmp_path / "layers", tmp_path / "plain"
    assert _apply(shots, kind, out, "--layer", "delta", str(layers)) == 0
    assert _apply(shots, kind, plain) == 0
    log = json.loads((out / LOG).read_text())
    assert log["output"]["layer_folder"] == str(layers.resolve()) and log["parameters"]["layer_format"] == "float"
    for frame, scan, (layer, layer_format), restored in _frames(shots, kind, out, layers):
        assert (layer_format.extension, layer_format.sample_type, layer.shape[2]) == (".exr", "float", 3)
        rebuilt = scan + layer  # float32 + float32, as a compositor adds
        np.testing.assert_array_equal(_stored(rebuilt, kind), _stored(restored, kind))
        assert np.count_nonzero(layer) > layer.size // 2  # the model changed the frame: the layer holds it
        entry = next(item for item in log["frames"] if item["frame"] == frame)
        assert entry["layer"] == f"shot.{frame}.exr"
        assert entry["layer_sha256"] == contract.file_sha256(layers / f"shot.{frame}.exr")
        without = read_frame(plain / f"shot.{frame}{SCANS[kind].extension}")[0]
        if kind == "float":  # moved to the reachable sum: at most one float32 step of the larger of scan and change
            step = np.spacing(np.maximum(np.abs(scan), np.abs(without - scan)).astype(np.float32))
            assert np.all(np.abs(restored.astype(np.float64) - without) <= step)
        else:  # integer deliveries are the bytes of a render without --layer
            np.testing.assert_array_equal(restored, without)


@pytest.mark.parametrize("kind", ["uint8", "uint16", "float"])
def test_half_layer_rebuilds_within_half_a_half_precision_step(tmp_path, shots, kind):
    out, layers, plain = tmp_path / "restored", tmp_path / "layers", tmp_path / "plain"
    assert _apply(shots, kind, out, "--layer", "delta", str(layers), "--layer-format", "half") == 0
    assert _apply(shots, kind, plain) == 0
    for frame, scan, (layer, layer_format), restored in _frames(shots, kind, out, layers):
        assert layer_format.sample_type == "half"
        rebuilt = (scan + layer).astype(np.float64)
        bound = (np.spacing(np.abs(layer).astype(np.float16)).astype(np.float64) / 2
                 + np.spacing(np.abs(restored)).astype(np.float64))
        assert np.all(np.abs(rebuilt - restored) <= bound)
        if kind == "uint8":  # an 8-bit code step is far wider than the half layer's error
            np.testing.assert_array_equal(_stored(scan + layer, kind), _stored(restored, kind))
        # a half layer never moves the restored frame
        np.testing.assert_array_equal(restored, read_frame(plain / f"shot.{frame}{SCANS[kind].extension}")[0])


def test_every_8_bit_and_10_bit_pair_rebuilds_the_exact_code():
    """Every scan code against every restored code: float layers rebuild the code at 8 and 10 bits, half layers too
    (half a half step of a change up to 1 is under half a 10-bit code)."""
    for levels in (255, 1023):
        codes = np.arange(levels + 1, dtype=np.float32) / np.float32(levels)
        scan, restored = np.meshgrid(codes, codes)
        for layer_format in difference_layer.LAYER_FORMATS:
            layer = difference_layer.difference(scan, restored, layer_format)
            rebuilt = difference_layer.reconstruct(scan, layer)
            np.testing.assert_array_equal(np.round(rebuilt.astype(np.float64) * levels),
                                          np.round(restored.astype(np.float64) * levels))


def test_float_deliveries_are_reachable_from_any_scan():
    """A bright scan pixel made dark cannot always be reached by a float32 sum; the moved value always is."""
    rng = np.random.default_rng(5)
    scan = (np.exp(rng.uniform(-12, 8, 200_000)) * rng.choice([-1, 1], 200_000)).astype(np.float32)
    restored = (np.exp(rng.uniform(-12, 8, 200_000)) * rng.choice([-1, 1], 200_000)).astype(np.float32)
    for sample_type, dtype in (("float", np.float32), ("half", np.float16)):
        with np.errstate(over="ignore"):
            delivered = difference_layer.reachable(scan, restored, sample_type)
        finite = np.isfinite(delivered)
        layer = difference_layer.difference(scan, delivered, "float")
        rebuilt = difference_layer.reconstruct(scan, layer).astype(dtype)
        np.testing.assert_array_equal(rebuilt[finite], delivered.astype(dtype)[finite])


def test_layer_is_exactly_zero_where_nothing_was_changed(tmp_path, shots):
    for kind in ("uint8", "float"):
        out, layers = tmp_path / f"{kind}-restored", tmp_path / f"{kind}-layers"
        assert _apply(shots, kind, out, "--layer", "delta", str(layers), "--mix", "0") == 0
        for _, scan, (layer, _), restored in _frames(shots, kind, out, layers):
            np.testing.assert_array_equal(restored, scan)
            assert not layer.any() and not np.signbit(layer).any()  # +0 everywhere: adding it changes no bit


def test_nan_and_infinite_scan_samples_pass_through_with_a_zero_layer(tmp_path):
    """Non-finite scan samples are passed through unchanged (CONTRACT §1.2): the layer is 0 there, and adding it
    keeps them (inf − inf would be NaN, and inf + NaN is not inf)."""
    scan_folder, out, layers = tmp_path / "scan", tmp_path / "restored", tmp_path / "layers"
    scan_folder.mkdir()
    pixels = np.full((4, 5, 3), 0.5, np.float32)
    pixels[1, 1], pixels[2, 3], pixels[0, 4] = np.inf, -np.inf, np.nan
    write_frame(scan_folder / "shot.1001.exr", pixels, FrameFormat(".exr", "float", 32, 3))
    model = pointwise_model(tmp_path / "pointwise.onnx")
    assert main(["apply", "--model", str(model), "--input", str(scan_folder), "--output", str(out), "--no-progress",
                 "--layer", "delta", str(layers)]) == 0
    scan, layer, restored = (read_frame(folder / f"shot.1001{ext}")[0] for folder, ext in
                             ((scan_folder, ".exr"), (layers, ".exr"), (out, ".exr")))
    nonfinite = ~np.isfinite(scan)
    assert not layer[nonfinite].any() and np.isfinite(layer).all()
    np.testing.assert_array_equal(scan + layer, restored)  # NaN where NaN, ±inf where ±inf, the rest bit for bit


def test_repair_layer_is_zero_outside_the_applied_matte(tmp_path, shots):
    out, layers, mattes = tmp_path / "restored", tmp_path / "layers", tmp_path / "mattes"
    assert _apply(shots, "uint16", out, "--layer", "delta", str(layers), "--matte", str(mattes),
                  model="repair") == 0
    for frame, scan, (layer, _), restored in _frames(shots, "uint16", out, layers):
        repaired = read_frame(mattes / f"shot.{frame}.tif")[0][..., 0] > 0
        assert repaired.any() and (~repaired).any()
        assert not layer[~repaired].any() and not np.signbit(layer[~repaired]).any()
        np.testing.assert_array_equal(_stored(scan + layer, "uint16"), _stored(restored, "uint16"))


def test_farm_ranges_and_resume_keep_layers_byte_identical(tmp_path, shots, caplog):
    whole, whole_layers = tmp_path / "whole", tmp_path / "whole-layers"
    assert _apply(shots, "float", whole, "--layer", "delta", str(whole_layers)) == 0
    reference = {path.name: path.read_bytes() for path in sorted(whole_layers.iterdir())}
    farm, farm_layers = tmp_path / "farm", tmp_path / "farm-layers"
    for frames in ("1001-1001", "1002-1003"):
        assert _apply(shots, "float", farm, "--layer", "delta", str(farm_layers), "--frames", frames) == 0
    assert {path.name: path.read_bytes() for path in sorted(farm_layers.iterdir())} == reference
    for name in ("shot.1001.exr", "shot.1002.exr", "shot.1003.exr"):
        assert (farm / name).read_bytes() == (whole / name).read_bytes()

    (whole_layers / "shot.1002.exr").unlink()  # lost
    (whole_layers / "shot.1003.exr").write_bytes(reference["shot.1001.exr"])  # replaced by another frame's layer
    assert _apply(shots, "float", whole, "--layer", "delta", str(whole_layers), "--resume") == 0
    assert {path.name: path.read_bytes() for path in sorted(whole_layers.iterdir())} == reference
    log = json.loads((whole / LOG).read_text())
    assert log["status"] == "complete" and log["resumed"][-1]["kept_frames"] == 1

    assert _apply(shots, "float", whole, "--layer", "delta", str(whole_layers), "--layer-format", "half",
                  "--resume") == 2
    assert "--layer-format ('float' in the log, 'half' now)" in caplog.records[-1].getMessage()
    assert _apply(shots, "float", whole, "--resume") == 2
    assert "--layer delta" in caplog.records[-1].getMessage()
    assert {path.name: path.read_bytes() for path in sorted(whole_layers.iterdir())} == reference


@pytest.mark.parametrize(("extra", "expected"), [
    (["--layer", "matte", "{layers}"], "--layer matte"),
    (["--layer-format", "half"], "--layer-format half: no --layer delta DIR"),
    (["--layer", "delta", "{out}"], "same folder as --output"),
    (["--layer", "delta", "{layers}", "--confidence", "{layers}"], "same folder as --confidence"),
    (["--layer", "delta", "{layers}", "--format", "jpg"], "JPEG"),
    (["--layer", "delta", "{scan}"], "that is the input folder"),
])
def test_bad_layer_options_exit_2_with_one_line_and_write_nothing(tmp_path, shots, caplog, extra, expected):
    out, layers = tmp_path / "restored", tmp_path / "layers"
    args = [item.format(out=out, layers=layers, scan=shots["uint8"]) for item in extra]
    scan_before = sorted(path.name for path in shots["uint8"].iterdir())
    assert _apply(shots, "uint8", out, *args) == 2
    message = caplog.records[-1].getMessage()
    assert expected in message and "\n" not in message
    assert not out.exists() and not layers.exists()
    assert sorted(path.name for path in shots["uint8"].iterdir()) == scan_before


def test_half_layer_that_cannot_hold_the_change_stops_before_the_frame_is_written(tmp_path, caplog):
    scan_folder, out, layers = tmp_path / "scan", tmp_path / "restored", tmp_path / "layers"
    scan_folder.mkdir()
    for frame, level in ((1001, 1.0), (1002, 4.0e5)):  # pointwise halves it: a change of 2e5 exceeds half's 65504
        write_frame(scan_folder / f"shot.{frame}.exr", np.full((4, 5, 3), level, np.float32),
                    FrameFormat(".exr", "float", 32, 3))
    model = pointwise_model(tmp_path / "pointwise.onnx")
    assert main(["apply", "--model", str(model), "--input", str(scan_folder), "--output", str(out), "--no-progress",
                 "--layer", "delta", str(layers), "--layer-format", "half"]) == 2
    message = caplog.records[-1].getMessage()
    assert "frame 1002" in message and "--layer-format float" in message and "\n" not in message
    assert (layers / "shot.1001.exr").exists() and not (out / "shot.1002.exr").exists()
    assert not (layers / "shot.1002.exr").exists()
    assert json.loads((out / LOG).read_text())["status"] == "failed"


def test_integer_output_a_float32_sum_cannot_reach_is_refused_and_not_kept(tmp_path):
    """Scene-linear scan values of 256–512 (float32 step 2^-15) under 16-bit codes (step 1/65535): most codes lie
    more than half a code from every float32 sum, so the frame is refused rather than kept with a false layer.
    (apply's own compositing rarely reaches this; the check is driven directly, through the files it writes.)"""
    rng = np.random.default_rng(3)
    scan = rng.uniform(256, 512, (4, 5, 3)).astype(np.float32)
    out_format = FrameFormat(".png", "uint16", 16, 3)
    output, layer = tmp_path / "restored" / "shot.1001.png", tmp_path / "layers" / "shot.1001.exr"
    output.parent.mkdir()
    layer.parent.mkdir()
    restored = write_frame(output, rng.random((4, 5, 3), dtype=np.float32), out_format)
    step = apply_shot._FramePlan(1001, 0, None, output, None, layer=layer)
    with pytest.raises(FrameWriteError) as refused:
        apply_shot._write_layer(step, scan, restored, out_format, "float")
    message = str(refused.value)
    assert "frame 1001: scan + layer cannot give every 16-bit code" in message and "--format exr" in message
    assert not output.exists() and not layer.exists()


@pytest.mark.skipif(OIIOTOOL is None, reason="oiiotool is not installed")
def test_oiiotool_add_rebuilds_the_restored_frame(tmp_path, shots):
    """The README's recipe, run: `oiiotool scan layer --add -o rebuilt` writes the restored frame's samples."""
    out, layers = tmp_path / "restored", tmp_path / "layers"
    assert _apply(shots, "uint16", out, "--layer", "delta", str(layers)) == 0
    rebuilt = tmp_path / "rebuilt.tif"
    subprocess.run([str(OIIOTOOL), str(shots["uint16"] / "shot.1001.tif"), str(layers / "shot.1001.exr"), "--add",
                    "-d", "uint16", "-o", str(rebuilt)], check=True, capture_output=True)
    np.testing.assert_array_equal(read_frame(rebuilt)[0], read_frame(out / "shot.1001.tif")[0])
