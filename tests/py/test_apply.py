"""`chromaluma apply` / chromaluma.backend.apply_shot.render_shot: sequences and video, safety rules, render logs,
farms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chromaluma import contract
from chromaluma.backend.apply_shot import RenderRequest, render_shot
from chromaluma.cli import main
from chromaluma.errors import ParameterError
from chromaluma.io import FrameFormat, read_frame, write_frame
from model_fixtures import luma_conv_model, pointwise_expected, pointwise_model

FRAMES = (1001, 1002, 1003, 1004)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("apply_models")
    return {"pointwise": pointwise_model(folder / "pointwise.onnx"), "luma": luma_conv_model(folder / "luma.onnx")}


def _sequence(folder: Path, rng: np.random.Generator, frame_format: FrameFormat, channels: int = 3) -> Path:
    folder.mkdir(parents=True)
    for frame in FRAMES:
        pixels = rng.random((36, 44, channels), dtype=np.float32)
        write_frame(folder / f"shot.{frame}{frame_format.extension}", pixels, frame_format)
    return folder


@pytest.fixture
def scan(tmp_path: Path, rng: np.random.Generator) -> Path:
    return _sequence(tmp_path / "scan", rng, FrameFormat(".png", "uint16", 16, 3))


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: contract.file_sha256(p) for p in sorted(folder.iterdir())}


def test_sequence_keeps_names_format_and_depth_and_leaves_a_log(tmp_path: Path, scan: Path, models):
    before = _digests(scan)
    out = tmp_path / "restored"
    assert main(["apply", "--model", str(models["pointwise"]), "--input", str(scan), "--output", str(out),
                 "--no-progress"]) == 0
    assert _digests(scan) == before  # originals untouched
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"shot.{f}.png" for f in FRAMES] + ["chromaluma-render.json"])
    for frame in FRAMES:
        source, _ = read_frame(scan / f"shot.{frame}.png")
        restored, frame_format = read_frame(out / f"shot.{frame}.png")
        assert (frame_format.sample_type, frame_format.bits) == ("uint16", 16)
        np.testing.assert_allclose(restored, pointwise_expected(source), atol=1.5 / 65535)
    log = json.loads((out / "chromaluma-render.json").read_text())
    assert log["status"] == "complete"
    assert log["model"]["sha256"] == contract.file_sha256(models["pointwise"])
    assert "pairs model" in log["model"]["summary"]
    assert [entry["frame"] for entry in log["frames"]] == list(FRAMES)
    first = log["frames"][0]
    assert first["input_sha256"] == before["shot.1001.png"]
    assert first["output_sha256"] == contract.file_sha256(out / "shot.1001.png")
    assert log["software"]["onnxruntime"] and log["provider"] == "CPUExecutionProvider"
    assert log["started"] <= log["finished"]


def test_refuses_to_write_into_the_input_folder(scan: Path, models):
    before = _digests(scan)
    with pytest.raises(ParameterError, match="that is the input folder, which holds the original frames"):
        render_shot(RenderRequest(models["pointwise"], scan, scan / ".", progress=False))
    assert _digests(scan) == before


def test_never_overwrites_and_checks_before_rendering(tmp_path: Path, scan: Path, models):
    out = tmp_path / "restored"
    out.mkdir()
    (out / "shot.1004.png").write_bytes(b"an earlier render")
    with pytest.raises(ParameterError, match="--overwrite"):
        render_shot(RenderRequest(models["pointwise"], scan, out, progress=False))
    assert sorted(p.name for p in out.iterdir()) == ["shot.1004.png"]  # nothing rendered before refusing
    assert main(["apply", "--model", str(models["pointwise"]), "--input", str(scan), "--output", str(out),
                 "--no-progress"]) == 2
    render_shot(RenderRequest(models["pointwise"], scan, out, overwrite=True, progress=False))
    read_frame(out / "shot.1004.png")  # replaced by a real frame


def test_farm_ranges_give_the_same_bits_as_one_machine(tmp_path: Path, scan: Path, models):
    one = tmp_path / "one"
    farm = tmp_path / "farm"
    render_shot(RenderRequest(models["luma"], scan, one, progress=False))
    render_shot(RenderRequest(models["luma"], scan, farm, frames=(1001, 1002), progress=False, threads=1))
    render_shot(RenderRequest(models["luma"], scan, farm, frames=(1003, 1004), progress=False, threads=2))
    for frame in FRAMES:
        name = f"shot.{frame}.png"
        assert (farm / name).read_bytes() == (one / name).read_bytes()
    logs = sorted(p.name for p in farm.glob("chromaluma-render*.json"))
    assert logs == ["chromaluma-render.1001-1002.json", "chromaluma-render.1003-1004.json"]
    second = json.loads((farm / logs[1]).read_text())
    assert [entry["frame"] for entry in second["frames"]] == [1003, 1004]
    assert second["parameters"]["frames"] == [1003, 1004]


def test_mix_confidence_and_format(tmp_path: Path, scan: Path, models):
    out, conf = tmp_path / "restored", tmp_path / "confidence"
    assert main(["apply", "--model", str(models["pointwise"]), "--input", str(scan), "--output", str(out),
                 "--mix", "0.5", "--confidence", str(conf), "--format", "exr", "--frames", "1002-1003",
                 "--no-progress"]) == 0
    assert sorted(p.name for p in out.glob("*.exr")) == ["shot.1002.exr", "shot.1003.exr"]
    source, _ = read_frame(scan / "shot.1002.png")
    restored, frame_format = read_frame(out / "shot.1002.exr")
    assert frame_format.sample_type == "half"
    np.testing.assert_allclose(restored, source + 0.5 * (pointwise_expected(source) - source), atol=2e-3)
    confidence, conf_format = read_frame(conf / "shot.1002.tif")
    assert conf_format.channels == 1 and conf_format.bits == 16
    np.testing.assert_allclose(confidence, 0.75, atol=1 / 65535)


def test_rgba_float_sequence_keeps_alpha(tmp_path: Path, rng, models):
    scan = _sequence(tmp_path / "scan", rng, FrameFormat(".exr", "float", 32, 4), channels=4)
    out = tmp_path / "restored"
    render_shot(RenderRequest(models["luma"], scan, out, progress=False))
    source, _ = read_frame(scan / "shot.1001.exr")
    restored, frame_format = read_frame(out / "shot.1001.exr")
    assert frame_format.sample_type == "float" and restored.shape[2] == 4
    np.testing.assert_array_equal(restored[..., 3], source[..., 3])


def test_video_input_becomes_16_bit_tiff_frames(tmp_path: Path, models):
    import av

    video = tmp_path / "telecine.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for index in range(3):
            picture = np.full((32, 32, 3), 60 * index + 40, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out = tmp_path / "frames"
    render_shot(RenderRequest(models["pointwise"], video, out, progress=False))
    names = sorted(p.name for p in out.glob("*.tif"))
    assert names == ["telecine.000000.tif", "telecine.000001.tif", "telecine.000002.tif"]
    restored, frame_format = read_frame(out / names[1])
    assert (frame_format.sample_type, frame_format.channels) == ("uint16", 3)
    np.testing.assert_allclose(restored.mean(), pointwise_expected(np.array(100 / 255)), atol=0.02)
    with pytest.raises(ParameterError, match="that is the input folder, which holds the original frames"):
        render_shot(RenderRequest(models["pointwise"], video, tmp_path, progress=False))


def test_bad_arguments_fail_before_anything_is_written(tmp_path: Path, scan: Path, models):
    out = tmp_path / "restored"
    for extra in (["--mix", "2"], ["--frames", "5-9"], ["--format", "gif"], ["--tile-size", "-4"]):
        assert main(["apply", "--model", str(models["pointwise"]), "--input", str(scan), "--output", str(out),
                     "--no-progress", *extra]) == 2
    assert main(["apply", "--model", str(tmp_path / "none.onnx"), "--input", str(scan), "--output", str(out)]) == 2
    assert not out.exists()
