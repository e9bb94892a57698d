"""fp16 and TensorRT wired through `chromaluma apply`, `process()`, `chromaluma farm` and the plug-in (issue 22 item 3).

What a user relies on: `--precision fp16` renders frames within the stated tolerance of fp32 (not bit for bit) and
the render log says fp16; a model whose half copy fails its check against fp32 is refused in one line before
anything is written (exit 2 from the CLI, a persistent error in the plug-in); `--resume` with another precision is
refused because it changes frame bytes; farm tasks carry both flags; the plug-in's Precision parameter reaches
process(). ONNX Runtime's CPU provider runs half models here, so every check below runs without a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chromaluma import api
from chromaluma.backend import precision, session
from chromaluma.benchmarks.plugin import PluginBuild, ofx_render
from chromaluma.cli import main
from chromaluma.errors import ParameterError
from chromaluma.io import FrameFormat, read_frame, write_frame
from model_fixtures import luma_conv_model
from test_gpu_path import _cancelling_model
from test_plugin import assert_render_ok, plugin_build, random_frame, read_output, write_sequence

FRAMES = (7, 8)
LOG = "chromaluma-render.json"
SCAN = FrameFormat(".exr", "float", 32, 3)  # float output: fp16's difference from fp32 is not rounded away
ERROR = "plug-in persistent message [OfxMessageError]: "
FP16_OPTION = "1"  # the option's index: its label, "fp16 (GPU, checked against fp32 on load)", holds ofx-render's comma


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(precision.CACHE_ENV, str(tmp_path / "cache"))  # ofx-render inherits it too
    session.clear_cache()
    yield
    session.clear_cache()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("precision_models")
    return {"luma": luma_conv_model(root / "luma.onnx"), "cancelling": _cancelling_model(root / "cancelling.onnx")}


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("precision_shot")
    rng = np.random.default_rng(22)
    for frame in FRAMES:
        write_frame(folder / f"scan.{frame}.exr", rng.random((20, 28, 3), dtype=np.float32), SCAN)
    return folder


def _apply(model: Path, shot: Path, out: Path, *extra: str) -> int:
    return main(["apply", "--model", str(model), "--input", str(shot), "--output", str(out), "--no-progress",
                 "--device", "cpu", *extra])


def _outputs(out: Path) -> list[np.ndarray]:
    return [read_frame(out / f"scan.{frame}.exr")[0].astype(np.float64) for frame in FRAMES]


def _one_line(caplog: pytest.LogCaptureFixture) -> str:
    message = caplog.records[-1].getMessage()
    assert "\n" not in message
    return message


# ---- chromaluma apply ----------------------------------------------------------------------------------------

def test_apply_fp16_renders_within_tolerance_of_fp32_and_logs_it(models, shot, tmp_path):
    assert _apply(models["luma"], shot, tmp_path / "fp32") == 0
    cache = tmp_path / "engines"
    assert _apply(models["luma"], shot, tmp_path / "fp16", "--precision", "fp16", "--tensorrt-cache", str(cache)) == 0
    for full, half in zip(_outputs(tmp_path / "fp32"), _outputs(tmp_path / "fp16"), strict=True):
        difference = np.abs(half - full)
        assert 0 < difference.max() <= precision.TOLERANCE_MAX  # half precision really ran, and stayed close
        assert np.percentile(difference, 95) <= precision.TOLERANCE_P95
    record = json.loads((tmp_path / "fp16" / LOG).read_text())
    assert record["status"] == "complete"
    assert record["parameters"]["precision"] == "fp16"
    assert record["parameters"]["tensorrt_cache"] == str(cache.resolve())
    assert any("TensorRT requested but not available" in note for note in record["warnings"])  # said, not hidden
    assert json.loads((tmp_path / "fp32" / LOG).read_text())["parameters"]["precision"] == "fp32"


def test_a_model_failing_the_fp16_check_exits_2_in_one_line_and_writes_nothing(models, shot, tmp_path, caplog):
    out = tmp_path / "out"
    assert _apply(models["cancelling"], shot, out, "--precision", "fp16") == 2
    message = _one_line(caplog)
    assert message.startswith(f"{models['cancelling']}: fp16 differs from fp32 by max 0.2")
    assert message.endswith("use --precision fp32 (precision=fp32) for this model.")
    assert not out.exists()
    assert _apply(models["cancelling"], shot, out) == 0  # the same model renders in fp32


def test_resume_with_another_precision_is_refused(models, shot, tmp_path, caplog):
    out = tmp_path / "out"
    assert _apply(models["luma"], shot, out, "--frames", "7-7") == 0
    log_path = out / "chromaluma-render.7-7.json"
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert _apply(models["luma"], shot, out, "--frames", "7-7", "--resume", "--precision", "fp16") == 2
    message = _one_line(caplog)
    assert f"--resume: {log_path} belongs to a render with a different --precision ('fp32' in the log, " \
           "'fp16' now)" in message
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before  # nothing rendered or rewritten


def test_a_log_written_before_precision_existed_resumes_as_fp32(models, shot, tmp_path):
    out = tmp_path / "out"
    assert _apply(models["luma"], shot, out) == 0
    log_path = out / LOG
    record = json.loads(log_path.read_text())
    del record["parameters"]["precision"], record["parameters"]["tensorrt_cache"]
    log_path.write_text(json.dumps(record))
    frame = (out / "scan.7.exr").read_bytes()
    assert _apply(models["luma"], shot, out, "--resume") == 0
    resumed = json.loads(log_path.read_text())
    assert resumed["status"] == "complete" and resumed["resumed"][-1]["kept_frames"] == len(FRAMES)
    assert (out / "scan.7.exr").read_bytes() == frame
    assert _apply(models["luma"], shot, out, "--resume", "--precision", "fp16") == 2  # it rendered fp32


# ---- process() params ----------------------------------------------------------------------------------------

def test_process_precision_param_selects_the_half_model(models, rng):
    src = rng.random((16, 20, 4), dtype=np.float32)
    results = {}
    for name in ("fp32", "fp16"):
        dst = np.zeros_like(src)
        api.process(src, dst, {"model": str(models["luma"]), "device": "cpu", "precision": name})
        results[name] = dst.astype(np.float64)
    difference = np.abs(results["fp16"] - results["fp32"])
    assert 0 < difference.max() <= precision.TOLERANCE_MAX
    with pytest.raises(precision.PrecisionError, match="fp16 differs from fp32"):
        api.process(src, np.zeros_like(src), {"model": str(models["cancelling"]), "precision": "fp16"})


@pytest.mark.parametrize(("params", "expected"), [
    ({"precision": "half"}, "precision 'half': expected one of fp32, fp16"),
    ({"precision": 16}, "precision 16: expected one of fp32, fp16"),
    ({"precision": True}, "precision True: expected one of fp32, fp16"),
    ({"tensorrt_cache": 3}, "tensorrt_cache 3: expected the path of a folder"),
    ({"tensorrt_cache": "a\0b"}, "tensorrt_cache 'a\\x00b': expected the path of a folder"),
])
def test_bad_precision_params_are_refused_naming_the_key(models, rng, params, expected):
    src = rng.random((8, 8, 4), dtype=np.float32)
    with pytest.raises(ParameterError) as caught:
        api.process(src, np.zeros_like(src), {"model": str(models["luma"]), **params})
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)


def test_apply_refuses_a_bad_precision_before_reading_the_model(tmp_path, shot):
    with pytest.raises(SystemExit) as caught:  # argparse: choices
        main(["apply", "--model", str(tmp_path / "none.onnx"), "--input", str(shot), "--output",
              str(tmp_path / "out"), "--precision", "fp8"])
    assert caught.value.code == 2 and not (tmp_path / "out").exists()


# ---- chromaluma farm -----------------------------------------------------------------------------------------

def test_farm_tasks_carry_precision_and_the_tensorrt_cache(models, shot, tmp_path):
    spec = tmp_path / "spec"
    assert main(["farm", "--model", str(models["luma"]), "--input", str(shot), "--output", str(tmp_path / "out"),
                 "--chunk", "1", "--manager", "shell", "--spec-dir", str(spec), "--precision", "fp16",
                 "--tensorrt-cache", "engines"]) == 0
    tasks = [line for line in (spec / "tasks.txt").read_text().splitlines()
             if line and not line.startswith("#") and " apply " in line]
    assert len(tasks) == len(FRAMES)
    engines = str(Path("engines").absolute())
    for task in tasks:
        assert " --precision fp16 " in f"{task} " and f" --tensorrt-cache {engines} " in f"{task} "


# ---- the plug-in (ofx-render) --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def build() -> PluginBuild:
    return plugin_build()


def test_plugin_precision_reaches_process_and_its_render_log(build, models, tmp_path, rng):
    frame = random_frame(rng, opaque=True)
    pattern = write_sequence(tmp_path / "shot", [frame])
    log = tmp_path / "render.jsonl"
    outputs = {}
    for name, option in (("fp32", "fp32 (exact)"), ("fp16", FP16_OPTION)):
        outputs[name] = tmp_path / f"{name}.####.tif"
        assert_render_ok(ofx_render(build, pattern, outputs[name], {"modelFile": models["luma"], "device": "CPU",
                                                                    "precision": option, "renderLog": log}))
    full, half = (read_output(outputs[name], 1, "float").astype(np.float64) for name in ("fp32", "fp16"))
    difference = np.abs(half - full)
    assert 0 < difference.max() <= precision.TOLERANCE_MAX
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [record["parameters"]["precision"] for record in records] == ["fp32", "fp16"]
    assert {record["plugin"]["version"] for record in records} == {"1.5"}


def test_plugin_fp16_refusal_is_a_persistent_error(build, models, tmp_path, rng):
    pattern = write_sequence(tmp_path / "shot", [random_frame(rng, opaque=True)])
    out = tmp_path / "out.####.tif"
    done = ofx_render(build, pattern, out, {"modelFile": models["cancelling"], "precision": FP16_OPTION})
    assert done.returncode != 0
    shown = [line.split(ERROR, 1)[1] for line in done.stderr.splitlines() if ERROR in line]
    assert shown and all("fp16 differs from fp32 by max 0.2" in text and "use --precision fp32" in text
                         for text in shown), done.stderr[-3000:]
    assert not list(tmp_path.glob("out.*"))
    assert_render_ok(ofx_render(build, pattern, out, {"modelFile": models["cancelling"]}))  # fp32 renders
