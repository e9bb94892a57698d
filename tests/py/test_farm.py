"""`chromaluma farm`: farm-manager job specs, the shell task list run for real, and `farm --verify`.

The shot is tiny (7 frames with a gap in the numbering, 8×10 px) and the model a temporal-window model, so a
chunk's frames read input frames of the neighbouring chunks: a farm render equals one whole render only if every
task reads its context correctly.

OpenCue and Deadline chunk a frame list the same way: consecutive members of the list, `chunk` at a time, each task
given its first and last frame (Cuebot's #FRAME_START#/#FRAME_END#, Deadline's <STARTFRAME>/<ENDFRAME>).
:func:`_manager_tasks` does that to the written spec, so the tests check that every manager runs exactly the
commands of the shell task list, which is the one run here.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET  # noqa: N817
from pathlib import Path

import numpy as np
import pytest

from chromaluma.cli import main
from chromaluma.io import FrameFormat, write_frame
from model_fixtures import pointwise_model, window_model

FRAMES = (1001, 1002, 1003, 1004, 1005, 1007, 1008)
CHUNK = 3
PNG16 = FrameFormat(".png", "uint16", 16, 3)


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("farm")
    scan = root / "scan"
    scan.mkdir()
    rng = np.random.default_rng(22)
    for frame in FRAMES:
        write_frame(scan / f"shot.{frame}.png", rng.random((8, 10, 3), np.float32), PNG16)
    return {"root": root, "scan": scan, "model": pointwise_model(root / "pointwise.onnx")}


@pytest.fixture(scope="module")
def windowed(shot: dict[str, Path]) -> dict[str, Path]:
    """The shot with a temporal-window model (radius 1) instead: the farm render tests use it."""
    return {**shot, "model": window_model(shot["root"] / "window.onnx", radius=1)}


def _farm(shot: dict[str, Path], out: Path, manager: str, spec: Path, *extra: str) -> int:
    return main(["farm", "--model", str(shot["model"]), "--input", str(shot["scan"]), "--output", str(out),
                 "--chunk", str(CHUNK), "--manager", manager, "--spec-dir", str(spec), *extra])


def _verify(shot: dict[str, Path], out: Path, *extra: str) -> int:
    return main(["farm", "--verify", "--model", str(shot["model"]), "--input", str(shot["scan"]), "--output",
                 str(out), *extra])


def _task_lines(spec: Path) -> list[str]:
    return [line for line in (spec / "tasks.txt").read_text().splitlines() if not line.startswith("#")]


def _argv(line: str) -> list[str]:
    """A tasks.txt line's command after `env K=V …`."""
    words = shlex.split(line)
    assert words[0] == "env"
    return [word for word in words[1:] if "=" not in word or word.startswith("-")]


def _manager_tasks(frame_list: str, chunk: int) -> list[tuple[int, int]]:
    frames: list[int] = []
    for part in frame_list.split(","):
        first, _, last = part.partition("-")
        frames += range(int(first), int(last or first) + 1)
    return [(frames[i], frames[min(i + chunk, len(frames)) - 1]) for i in range(0, len(frames), chunk)]


def _frames(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.suffix in (".png", ".tif")}


@pytest.fixture(scope="module")
def farm_render(windowed: dict[str, Path]) -> dict[str, Path]:
    """The shell task list run as a farm would, 2 tasks at a time, and one whole render to compare with."""
    out, spec, whole = windowed["root"] / "farm_out", windowed["root"] / "spec", windowed["root"] / "whole"
    confidence = str(windowed["root"] / "farm_conf")
    assert _farm(windowed, out, "shell", spec, "--threads", "1", "--confidence", confidence) == 0
    lines = _task_lines(spec)
    renders = subprocess.run(["xargs", "-d", "\n", "-P", "2", "-n", "1", "sh", "-c"], input="\n".join(lines[:-1]),
                             text=True, capture_output=True, timeout=300)
    assert renders.returncode == 0, renders.stderr[-2000:]
    verify = subprocess.run(["sh", "-c", lines[-1]], text=True, capture_output=True, timeout=120)
    assert main(["apply", "--model", str(windowed["model"]), "--input", str(windowed["scan"]), "--output", str(whole),
                 "--confidence", str(windowed["root"] / "whole_conf"), "--no-progress"]) == 0
    return {"out": out, "spec": spec, "whole": whole, "verify_rc": Path(str(verify.returncode)),
            "conf": windowed["root"] / "farm_conf", "whole_conf": windowed["root"] / "whole_conf",
            "verify_log": Path(verify.stderr.strip().splitlines()[-1])}


@pytest.mark.slow
def test_shell_tasks_run_in_parallel_give_the_whole_render_byte_for_byte_and_verify(farm_render):
    assert _frames(farm_render["out"]) == _frames(farm_render["whole"])
    assert _frames(farm_render["conf"]) == _frames(farm_render["whole_conf"])
    assert len(_frames(farm_render["out"])) == len(_frames(farm_render["conf"])) == len(FRAMES)
    logs = sorted(path.name for path in farm_render["out"].glob("chromaluma-render*.json"))
    assert logs == ["chromaluma-render.1001-1003.json", "chromaluma-render.1004-1007.json",
                    "chromaluma-render.1008-1008.json"]
    assert str(farm_render["verify_rc"]) == "0"
    assert "is whole: 7 frame(s) 1001-1008 in 3 render log(s)" in str(farm_render["verify_log"])


@pytest.fixture
def rendered(farm_render, tmp_path: Path) -> Path:
    """A copy of the farm render that a test may damage."""
    return Path(shutil.copytree(farm_render["out"], tmp_path / "out"))


@pytest.mark.slow
def test_verify_names_a_damaged_frame(windowed, rendered, caplog):
    target = rendered / "shot.1004.png"
    payload = bytearray(target.read_bytes())
    payload[-20] ^= 1
    target.write_bytes(bytes(payload))
    assert _verify(windowed, rendered) == 2
    message = caplog.records[-1].getMessage()
    assert "frame 1004" in message and str(target) in message and "does not match" in message
    assert "--frames 1004-1007 --resume" in message


@pytest.mark.slow
def test_verify_checks_the_side_files_a_log_vouches_for(windowed, farm_render, rendered, caplog):
    confidence = farm_render["conf"] / "shot.1002.tif"
    original = confidence.read_bytes()
    try:
        confidence.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        assert _verify(windowed, rendered) == 2
        message = caplog.records[-1].getMessage()
        assert message.startswith(f"farm verify: frame 1002: {confidence} does not match")
    finally:
        confidence.write_bytes(original)
    scan_frame = windowed["scan"] / "shot.1007.png"
    original = scan_frame.read_bytes()
    try:
        write_frame(scan_frame, np.zeros((8, 10, 3), np.float32), PNG16)  # a re-scan after the render
        assert _verify(windowed, rendered) == 2
        assert caplog.records[-1].getMessage().startswith(f"farm verify: frame 1007: {scan_frame} does not match")
    finally:
        scan_frame.write_bytes(original)
    assert _verify(windowed, rendered) == 0


@pytest.mark.slow
def test_verify_names_a_removed_frame_and_a_missing_task(windowed, rendered, caplog):
    (rendered / "shot.1005.png").unlink()
    assert _verify(windowed, rendered) == 2
    assert "frame 1005" in caplog.records[-1].getMessage() and "is missing" in caplog.records[-1].getMessage()
    (rendered / "chromaluma-render.1001-1003.json").unlink()
    assert _verify(windowed, rendered) == 2
    message = caplog.records[-1].getMessage()
    assert message.startswith("farm verify: frame 1001 is missing") and "3 of 7 frame(s)" in message


@pytest.mark.slow
def test_verify_refuses_a_stale_log_an_unfinished_task_and_another_model(windowed, rendered, caplog):
    task = rendered / "chromaluma-render.1004-1007.json"
    record = json.loads(task.read_text())
    stale = rendered / "chromaluma-render.1001-1004.json"
    stale.write_text(json.dumps({**record, "frames": [e for e in record["frames"] if e["frame"] == 1004]}))
    assert _verify(windowed, rendered) == 2
    assert "frame 1004 is listed by" in caplog.records[-1].getMessage()
    stale.unlink()
    task.write_text(json.dumps({**record, "status": "interrupted"}))
    assert _verify(windowed, rendered) == 2
    assert "frame 1004: its render log" in caplog.records[-1].getMessage()
    task.write_text(json.dumps({**record, "model": {**record["model"], "sha256": "0" * 64}}))
    assert _verify(windowed, rendered) == 2
    assert f"{task} was rendered with another model" in caplog.records[-1].getMessage()
    task.write_text(json.dumps({**record, "parameters": {**record["parameters"], "mix": 0.5}}))
    assert _verify(windowed, rendered) == 2
    assert "differ in parameters (mix: " in caplog.records[-1].getMessage()
    task.write_text(json.dumps({**record, "provider": "CUDAExecutionProvider"}))
    assert _verify(windowed, rendered) == 2
    assert "differ in provider ('CPUExecutionProvider' vs 'CUDAExecutionProvider')" in caplog.records[-1].getMessage()
    task.write_text(json.dumps({**record, "parameters": {**record["parameters"], "threads": 7}}))
    assert _verify(windowed, rendered, "--frames", "1002-1008") == 0  # threads change no pixel


def test_opencue_spec_runs_the_shell_tasks_with_a_dependent_verify_layer(shot, tmp_path):
    out = tmp_path / "out"
    assert _farm(shot, out, "shell", tmp_path / "shell", "--mix", "0.5") == 0
    assert _farm(shot, out, "opencue", tmp_path / "cue", "--mix", "0.5") == 0
    shell_tasks = [_argv(line) for line in _task_lines(tmp_path / "shell")]
    spec = ET.parse(tmp_path / "cue" / "job.xml").getroot()
    job = spec.find("job")
    assert spec.tag == "spec" and job is not None and [e.tag for e in spec][:3] == ["show", "shot", "user"]
    render, verify = job.findall("layers/layer")
    assert (render.get("name"), render.get("type"), verify.get("name"), verify.get("type")) == \
        ("render", "Render", "verify", "Util")
    assert render.findtext("range") == "1001-1005,1007-1008" and render.findtext("chunk") == str(CHUNK)
    cue_tasks = [shlex.split(render.findtext("cmd").replace("#FRAME_START#", str(a)).replace("#FRAME_END#", str(b)))
                 for a, b in _manager_tasks(render.findtext("range"), int(render.findtext("chunk")))]
    assert cue_tasks == shell_tasks[:-1]
    assert shlex.split(verify.findtext("cmd")) == shell_tasks[-1] and verify.findtext("range") == "1001"
    assert {key.get("name"): key.text for key in render.findall("env/key")}["PYTHONNOUSERSITE"] == "1"
    assert [e.tag for e in render] == ["cmd", "range", "chunk", "env", "services"]  # the DTD's order
    depend = spec.find("depends/depend")
    assert depend.get("type") == "LAYER_ON_LAYER"
    assert (depend.findtext("deplayer"), depend.findtext("onlayer")) == ("verify", "render")
    assert depend.findtext("depjob") == depend.findtext("onjob") == job.get("name")


def _key_values(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_deadline_spec_runs_the_shell_tasks_and_submits_verify_as_a_dependent_job(shot, tmp_path):
    out = tmp_path / "out"
    assert _farm(shot, out, "shell", tmp_path / "shell", "--frames", "1002-1008") == 0
    assert _farm(shot, out, "deadline", tmp_path / "dl", "--frames", "1002-1008") == 0
    shell_tasks = [_argv(line) for line in _task_lines(tmp_path / "shell")]
    job, plugin = _key_values(tmp_path / "dl" / "render_job_info.job"), _key_values(tmp_path / "dl" /
                                                                                    "render_plugin_info.job")
    assert (job["Plugin"], job["Frames"], job["ChunkSize"]) == ("CommandLine", "1002-1005,1007-1008", str(CHUNK))
    assert "PYTHONNOUSERSITE=1" in [v for k, v in job.items() if k.startswith("EnvironmentKeyValue")]
    tasks = [[plugin["Executable"], *shlex.split(plugin["Arguments"].replace("<STARTFRAME>", str(a))
                                                 .replace("<ENDFRAME>", str(b)))]
             for a, b in _manager_tasks(job["Frames"], int(job["ChunkSize"]))]
    assert tasks == shell_tasks[:-1] and [t[t.index("--frames") + 1] for t in tasks] == ["1002-1004", "1005-1008"]
    verify_job, verify_plugin = _key_values(tmp_path / "dl" / "verify_job_info.job"), _key_values(
        tmp_path / "dl" / "verify_plugin_info.job")
    assert (verify_job["Plugin"], verify_job["Frames"], verify_job["ChunkSize"]) == ("CommandLine", "1002", "1")
    assert [verify_plugin["Executable"], *shlex.split(verify_plugin["Arguments"])] == shell_tasks[-1]
    submit = (tmp_path / "dl" / "submit_deadline.sh").read_text()
    assert "-SubmitMultipleJobs -dependent -job render_job_info.job render_plugin_info.job -job " \
           "verify_job_info.job verify_plugin_info.job" in submit and os.access(tmp_path / "dl" /
                                                                                "submit_deadline.sh", os.X_OK)


def test_a_spec_folder_holding_another_job_is_refused_unless_forced(shot, tmp_path, caplog):
    out, spec = tmp_path / "out", tmp_path / "spec"
    assert _farm(shot, out, "shell", spec) == 0
    first = (spec / "tasks.txt").read_text()
    assert _farm(shot, out, "shell", spec) == 0  # the same job again
    assert _farm(shot, out, "shell", spec, "--frames", "1001-1003") == 2
    assert "tasks.txt already holds another job" in caplog.records[-1].getMessage()
    assert (spec / "tasks.txt").read_text() == first
    assert _farm(shot, out, "shell", spec, "--frames", "1001-1003", "--force") == 0
    assert len(_task_lines(spec)) == 2


def test_apply_options_reach_every_task_with_absolute_paths(shot, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    extra = ["--confidence", "conf", "--layer", "delta", "layers", "--layer-format", "half", "--sensitivity", "0.3",
             "--device", "cpu", "--format", "tif", "--tile-size", "64", "--threads", "2"]
    assert main(["farm", "--model", str(shot["model"]), "--input", str(shot["scan"]), "--output", "out", "--chunk",
                 "4", "--manager", "shell", "--spec-dir", "spec", *extra]) == 0
    lines = _task_lines(tmp_path / "spec")
    expected = ["--confidence", str(tmp_path / "conf"), "--layer", "delta", str(tmp_path / "layers"),
                "--layer-format", "half", "--sensitivity", "0.3", "--device", "cpu", "--format", "tif",
                "--tile-size", "64", "--threads", "2"]
    for line, frames in zip(lines, ["1001-1004", "1005-1008"], strict=False):
        argv = _argv(line)
        assert argv[argv.index("--output") + 1] == str(tmp_path / "out")
        assert argv[argv.index("--frames") + 1] == frames and argv[-2:] == ["--resume", "--no-progress"]
        assert argv[argv.index("--frames") + 2:-2] == expected
        assert "OMP_NUM_THREADS=2" in shlex.split(line) and "PYTHONNOUSERSITE=1" in shlex.split(line)
    assert len(lines) == 3 and _argv(lines[-1])[1:] == [
        "-m", "chromaluma.cli", "farm", "--verify", "--model", str(shot["model"]), "--input", str(shot["scan"]),
        "--output", str(tmp_path / "out"), "--frames", "1001-1008"]


@pytest.mark.parametrize(("extra", "expected"), [
    (["--layer", "sum", "layers"], "--layer sum layers: the only layer is delta"),
    (["--chunk", "0"], "--chunk 0: each task needs at least one frame"),
    (["--chunk", "-5"], "--chunk -5: each task needs at least one frame"),
    (["--frames", "2000-2010"], "--frames 2000-2010:"),
    (["--mix", "1.5"], "--mix 1.5:"),
    (["--matte", "mattes"], "--matte mattes:"),
    (["--python", "python3"], "--python python3: give the absolute path"),
])
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(shot, tmp_path, caplog, extra, expected):
    spec = tmp_path / "spec"
    assert _farm(shot, tmp_path / "out", "shell", spec, *extra) == 2
    assert caplog.records[-1].getMessage().startswith(expected)
    assert "\n" not in caplog.records[-1].getMessage() and not spec.exists()


def test_missing_model_input_manager_or_unwritable_spec_folder_exit_2(shot, tmp_path, caplog, monkeypatch):
    base = ["farm", "--input", str(shot["scan"]), "--output", str(tmp_path / "out")]
    assert main([*base, "--model", str(tmp_path / "none.onnx"), "--manager", "shell", "--spec-dir",
                 str(tmp_path / "spec")]) == 2
    assert caplog.records[-1].getMessage().startswith(f"{tmp_path / 'none.onnx'}: model file not found")
    assert main([*base, "--model", str(shot["model"]), "--spec-dir", str(tmp_path / "spec")]) == 2
    assert caplog.records[-1].getMessage().startswith("--manager: required")
    with pytest.raises(SystemExit) as exited:
        main([*base, "--model", str(shot["model"]), "--manager", "slurm", "--spec-dir", str(tmp_path / "spec")])
    assert exited.value.code == 2
    assert main(["farm", "--model", str(shot["model"]), "--input", str(shot["scan"]), "--output", str(shot["scan"]),
                 "--manager", "shell", "--spec-dir", str(tmp_path / "spec")]) == 2
    assert "that is the input folder, which holds the original frames" in caplog.records[-1].getMessage()
    (tmp_path / "a_file").write_text("")
    assert _farm(shot, tmp_path / "out", "shell", tmp_path / "a_file" / "spec") == 2
    assert "is a file, not a folder; nothing was written" in caplog.records[-1].getMessage()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    real_access = os.access  # root ignores permission bits: answer as access(2) does for everyone else
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked else real_access(p, mode))
    assert _farm(shot, tmp_path / "out", "shell", locked / "spec") == 2
    assert caplog.records[-1].getMessage().startswith(f"--spec-dir {locked / 'spec'}: cannot write into {locked}")
    assert list(locked.iterdir()) == []


def test_a_spec_file_that_cannot_be_written_leaves_no_partial_file(shot, tmp_path, caplog, monkeypatch):
    import errno

    from chromaluma.farm import spec_files
    from chromaluma.io import atomic

    written: list[str] = []

    def fills_up(path: Path, text: str) -> Path:
        if written:
            def failing(tmp: Path) -> None:
                tmp.write_text(text[: len(text) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")
            return atomic.replace_atomically(path, failing)
        written.append(Path(path).name)
        return atomic.write_text_atomically(path, text)

    monkeypatch.setattr(spec_files, "write_text_atomically", fills_up)
    spec = tmp_path / "spec"
    assert _farm(shot, tmp_path / "out", "deadline", spec) == 2
    message = caplog.records[-1].getMessage()
    assert message.startswith(f"--spec-dir {spec}: cannot write the job (disk full)")
    assert sorted(path.name for path in spec.iterdir()) == written  # the first file, whole; no temp file


def test_a_video_shot_is_chunked_by_decode_order(shot, tmp_path):
    import av

    video = tmp_path / "telecine.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for index in range(4):
            picture = np.full((32, 32, 3), 50 * index + 20, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert main(["farm", "--model", str(shot["model"]), "--input", str(video), "--output", str(tmp_path / "out"),
                 "--chunk", "3", "--manager", "shell", "--spec-dir", str(tmp_path / "spec")]) == 0
    tasks = [_argv(line) for line in _task_lines(tmp_path / "spec")]
    assert [task[task.index("--frames") + 1] for task in tasks] == ["0-2", "3-3", "0-3"]
