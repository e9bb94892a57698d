"""`chromaluma apply --resume`: a killed, terminated or interrupted render continues to the same bytes.

The render runs in a child process (the real command line) that is slowed down while each frame's temp file
exists, so the test can stop it at a known moment: mid-shot, with a `.NAME.PID.partial.EXT` file on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chromaluma.cli import main
from chromaluma.io import FrameFormat, write_frame
from model_fixtures import luma_conv_model, pointwise_model

FRAMES = tuple(range(1001, 1007))
LOG = "chromaluma-render.json"

# The command line, with each frame's verification delayed: the frame's temp file exists during the sleep.
SLOW_CLI = """
import sys, time
from chromaluma.io import frames
verify = frames._verify_written
def slow(*args):
    time.sleep(0.4)
    verify(*args)
frames._verify_written = slow
from chromaluma.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A scan, a model, and an uninterrupted render (with confidence frames) to compare against."""
    root = tmp_path_factory.mktemp("resume")
    model = pointwise_model(root / "pointwise.onnx")
    scan = root / "scan"
    scan.mkdir()
    rng = np.random.default_rng(3)
    for frame in FRAMES:
        write_frame(scan / f"shot.{frame}.png", rng.random((24, 32, 3), np.float32), FrameFormat(".png", "uint16",
                                                                                                 16, 3))
    reference = root / "reference"
    assert main(_args(model, scan, reference, root / "reference_confidence")) == 0
    return {"model": model, "scan": scan, "reference": reference, "reference_confidence": root / "reference_confidence"}


def _args(model: Path, scan: Path, out: Path, confidence: Path, *extra: str) -> list[str]:
    return ["apply", "--model", str(model), "--input", str(scan), "--output", str(out), "--confidence",
            str(confidence), "--no-progress", *extra]


def _frames(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in (".png", ".tif")}


def _partials(*folders: Path) -> list[str]:
    return [p.name for folder in folders for p in folder.iterdir() if ".partial" in p.name]


def _stop_midway(shot: dict[str, Path], out: Path, confidence: Path, signum: int) -> subprocess.CompletedProcess:
    """Run the command line and send `signum` once two frames are logged and a temp file is on disk."""
    child = subprocess.Popen([sys.executable, "-c", SLOW_CLI, *_args(shot["model"], shot["scan"], out, confidence)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        try:
            logged = len(json.loads((out / LOG).read_text())["frames"])
        except (OSError, ValueError):
            logged = 0
        if logged >= 2 and _partials(out, confidence):
            child.send_signal(signum)
            break
        time.sleep(0.02)
    stdout, stderr = child.communicate(timeout=60)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


def _assert_same_as_uninterrupted(shot: dict[str, Path], out: Path, confidence: Path) -> None:
    assert _frames(out) == _frames(shot["reference"])
    assert _frames(confidence) == _frames(shot["reference_confidence"])
    assert _partials(out, confidence) == []
    log = json.loads((out / LOG).read_text())
    assert log["status"] == "complete" and [e["frame"] for e in log["frames"]] == list(FRAMES)


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_uninterrupted_bytes(tmp_path, shot):
    out, confidence = tmp_path / "restored", tmp_path / "confidence"
    killed = _stop_midway(shot, out, confidence, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert _partials(out, confidence)  # what a kill leaves; a resumed render must clear it
    log = json.loads((out / LOG).read_text())
    assert log["status"] == "rendering" and isinstance(log["pid"], int)
    for entry in log["frames"]:  # the log never lists a frame that is not whole on disk
        assert (out / entry["output"]).is_file() and (confidence / entry["confidence"]).is_file()
    assert 2 <= len(log["frames"]) < len(FRAMES)
    assert main(_args(shot["model"], shot["scan"], out, confidence)) == 2  # plain rerun refuses, suggests --resume
    assert main(_args(shot["model"], shot["scan"], out, confidence, "--resume")) == 0
    _assert_same_as_uninterrupted(shot, out, confidence)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_cleanly_say_so_and_resume(tmp_path, shot, signum):
    out, confidence = tmp_path / "restored", tmp_path / "confidence"
    stopped = _stop_midway(shot, out, confidence, signum)
    assert stopped.returncode == 128 + signum
    lines = [line for line in stopped.stderr.splitlines() if not line.startswith("INFO ")]
    assert len(lines) == 1 and "Traceback" not in stopped.stderr
    assert "--resume" in lines[0] and "no partial file is left" in lines[0] and signal.Signals(signum).name in lines[0]
    assert _partials(out, confidence) == []  # the message's promise holds
    log = json.loads((out / LOG).read_text())
    assert log["status"] == "interrupted"
    assert sorted(e["output"] for e in log["frames"]) == sorted(p.name for p in out.glob("*.png"))
    assert f"{len(log['frames'])} of {len(FRAMES)} frame(s) are finished and kept" in lines[0]
    assert main(_args(shot["model"], shot["scan"], out, confidence, "--resume")) == 0
    _assert_same_as_uninterrupted(shot, out, confidence)


@pytest.mark.slow
def test_overwrite_after_a_kill_removes_stale_temp_files(tmp_path, shot):
    out, confidence = tmp_path / "restored", tmp_path / "confidence"
    _stop_midway(shot, out, confidence, signal.SIGKILL)
    assert _partials(out, confidence)
    assert main(_args(shot["model"], shot["scan"], out, confidence, "--overwrite")) == 0
    _assert_same_as_uninterrupted(shot, out, confidence)


def _finished_render(tmp_path: Path, shot: dict[str, Path]) -> tuple[Path, Path]:
    out, confidence = tmp_path / "restored", tmp_path / "confidence"
    assert main(_args(shot["model"], shot["scan"], out, confidence)) == 0
    return out, confidence


def test_resume_keeps_only_frames_whose_files_still_match_the_log(tmp_path, shot):
    out, confidence = _finished_render(tmp_path, shot)
    (out / "shot.1002.png").write_bytes(b"damaged by a bad copy")
    (confidence / "shot.1004.tif").unlink()
    kept = {name: (out / name).stat().st_mtime_ns for name in ("shot.1001.png", "shot.1003.png")}
    assert main(_args(shot["model"], shot["scan"], out, confidence, "--resume")) == 0
    _assert_same_as_uninterrupted(shot, out, confidence)
    assert {name: (out / name).stat().st_mtime_ns for name in kept} == kept  # verified frames were not rewritten


@pytest.mark.parametrize("change, named", [
    (["--mix", "0.5"], "--mix (1.0 in the log, 0.5 now)"),
    (["--frames", "1001-1003"], None),  # another range is another farm task with its own log: nothing to resume
])
def test_resume_refuses_other_parameters_naming_them(tmp_path, shot, caplog, change, named):
    out, confidence = _finished_render(tmp_path, shot)
    before = _frames(out)
    code = main(_args(shot["model"], shot["scan"], out, confidence, "--resume", *change))
    if named is None:
        assert code == 2 and "chromaluma-render.1001-1003.json is missing" in caplog.records[-1].getMessage()
    else:
        assert code == 2 and named in caplog.records[-1].getMessage()
    assert _frames(out) == before


def test_resume_refuses_another_model(tmp_path, shot, caplog):
    out, confidence = _finished_render(tmp_path, shot)
    other = luma_conv_model(tmp_path / "other.onnx")
    assert main(_args(other, shot["scan"], out, confidence, "--resume")) == 2
    assert "--model (sha256" in caplog.records[-1].getMessage()


def test_a_live_render_into_the_folder_is_never_disturbed(tmp_path, shot, caplog):
    out, confidence = _finished_render(tmp_path, shot)
    log_path = out / LOG
    log = json.loads(log_path.read_text())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        log.update(status="rendering", pid=sleeper.pid)
        log_path.write_text(json.dumps(log))
        for flag in ("--resume", "--overwrite"):
            assert main(_args(shot["model"], shot["scan"], out, confidence, flag)) == 2
            assert f"another render (pid {sleeper.pid}" in caplog.records[-1].getMessage()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert main(_args(shot["model"], shot["scan"], out, confidence, "--resume")) == 0  # dead now: interrupted
    _assert_same_as_uninterrupted(shot, out, confidence)
    assert json.loads(log_path.read_text())["resumed"][-1]["previous_status"] == "rendering"
    assert os.getpid() == json.loads(log_path.read_text())["pid"]


def test_an_unreadable_log_cannot_be_resumed_but_can_be_overwritten(tmp_path, shot, caplog):
    out, confidence = _finished_render(tmp_path, shot)
    (out / LOG).write_text("{ half a log")
    assert main(_args(shot["model"], shot["scan"], out, confidence, "--resume")) == 2
    assert "not a readable render log" in caplog.records[-1].getMessage()
    assert main(_args(shot["model"], shot["scan"], out, confidence, "--overwrite")) == 0
    _assert_same_as_uninterrupted(shot, out, confidence)
