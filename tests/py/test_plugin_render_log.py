"""The plug-in's Render Log (issue 21 item 4): one JSON line per render, appended safely from several render
threads and processes, through the built bundle in `ofx-render` and through `chromaluma.api.process` directly.

What a user relies on: every render with Render Log set adds exactly one well-formed record naming the model (its
SHA-256), the parameters, the frame, the host (`org.chromaluma.ofx-render` 1.0.0) and the machine; records never
interleave; a log that cannot be written fails the render with a message naming the file; an empty Render Log
writes nothing; and the log never changes a pixel.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chromaluma import api, contract
from chromaluma.backend import host_render_log
from chromaluma.backend.host_render_log import RenderLogError, append_record
from chromaluma.benchmarks.plugin import PluginBuild, ofx_render
from chromaluma.errors import ParameterError
from model_fixtures import pointwise_expected, pointwise_model
from test_plugin import assert_render_ok, plugin_build, random_frame, read_output, write_sequence

ERROR = "plug-in persistent message [OfxMessageError]: "
FRAMES = 6


@pytest.fixture(scope="module")
def build() -> PluginBuild:
    return plugin_build()


@pytest.fixture(scope="module")
def pointwise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pointwise_model(tmp_path_factory.mktemp("models") / "pointwise.onnx")


def records(log: Path) -> list[dict[str, Any]]:
    lines = log.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "the log must end with a complete line"
    return [json.loads(line) for line in lines[:-1]]


def start_render(build: PluginBuild, pattern: Path, out: Path, params: dict[str, object],
                 threads: int) -> subprocess.Popen[str]:
    """ofx-render in the background (benchmarks.plugin.ofx_render's command line, not waited for)."""
    command = [str(build.host), "--plugin-path", str(build.plugin_dir), "--plugin", "org.chromaluma.Restore",
               "--input", str(pattern), "--output", str(out), "--frames", f"1-{FRAMES}", "--threads", str(threads)]
    for name, value in params.items():
        command += ["--param", f"{name}={value}"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_parallel_renders_in_two_processes_append_one_record_each(build: PluginBuild, pointwise: Path,
                                                                  tmp_path: Path, rng: np.random.Generator) -> None:
    frames = [random_frame(rng, opaque=True) for _ in range(FRAMES)]
    pattern = write_sequence(tmp_path / "shot", frames)
    log = tmp_path / "shot.chromaluma-render.jsonl"
    params = {"modelFile": pointwise, "renderLog": log, "mix": 0.75}
    runs = [start_render(build, pattern, tmp_path / f"out{k}.####.tif", params, threads=3) for k in range(2)]
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr[-3000:]

    got = records(log)
    assert len(got) == 2 * FRAMES
    pids = {record["pid"] for record in got}
    assert pids == {run.pid for run in runs}
    for pid in pids:  # each process logged each of its frames exactly once
        assert sorted(r["frames"][0]["frame"] for r in got if r["pid"] == pid) == list(range(1, FRAMES + 1))
    sha = contract.file_sha256(pointwise)
    for record in got:
        assert record["status"] == "complete" and record["record"] == "plugin render"
        assert record["application"] == {"name": "org.chromaluma.ofx-render", "label": "ofx-render",
                                         "version": [1, 0, 0], "version_label": "1.0.0"}
        assert record["plugin"]["identifier"] == "org.chromaluma.Restore"
        assert record["model"]["sha256"] == sha and record["model"]["path"] == str(pointwise)
        assert record["parameters"]["mix"] == 0.75 and record["parameters"]["output_mode"] == "restored"
        entry = record["frames"][0]
        assert entry["render_window"] == [0, 0, frames[0].shape[1], frames[0].shape[0]]
        assert entry["render_scale"] == [1.0, 1.0] and entry["status"] == "rendered"
        assert record["software"]["chromaluma"] and record["host"]
    for k in range(2):  # the log changes no pixel: the renders are the model's mix of 0.75
        for index, frame in enumerate(frames, start=1):
            expected = frame[..., :3] + 0.75 * (pointwise_expected(frame[..., :3]) - frame[..., :3])
            np.testing.assert_allclose(read_output(tmp_path / f"out{k}.####.tif", index, "float")[..., :3],
                                       expected, atol=1e-5, rtol=0)


def test_a_render_log_that_cannot_be_written_fails_the_render_and_names_it(build: PluginBuild, pointwise: Path,
                                                                          tmp_path: Path,
                                                                          rng: np.random.Generator) -> None:
    pattern = write_sequence(tmp_path / "shot", [random_frame(rng) for _ in range(2)])
    log = tmp_path / "no-such-folder" / "render.jsonl"
    out = tmp_path / "out.####.tif"
    done = ofx_render(build, pattern, out, {"modelFile": pointwise, "renderLog": log}, frames=(1, 2))
    assert done.returncode == 2, done.stderr[-3000:]  # both frames failed
    shown = {line.split(ERROR, 1)[1] for line in done.stderr.splitlines() if ERROR in line}
    assert shown == {f"Render Log {log}: cannot append this render's record (No such file or directory); the "
                     "render is refused so no frame goes undocumented. Choose a writable file in Render Log "
                     "(render_log), or clear it to log nothing."}, done.stderr
    assert not log.parent.exists()
    assert not list(tmp_path.glob("out.*"))


@pytest.mark.parametrize("given", [{"renderLog": ""}, {}], ids=["empty", "unset"])
def test_an_empty_render_log_writes_nothing(build: PluginBuild, pointwise: Path, tmp_path: Path,
                                            rng: np.random.Generator, given: dict[str, object]) -> None:
    frame = random_frame(rng, opaque=True)
    pattern = write_sequence(tmp_path / "shot", [frame])
    before = set(tmp_path.rglob("*"))
    out = tmp_path / "out.####.tif"
    done = ofx_render(build, pattern, out, {"modelFile": pointwise, **given})
    assert_render_ok(done)
    assert set(tmp_path.rglob("*")) - before == {tmp_path / "out.0001.tif"}
    np.testing.assert_allclose(read_output(out, 1, "float")[..., :3], pointwise_expected(frame[..., :3]),
                               atol=1e-5, rtol=0)


# ---- the Python side: chromaluma.api.process with params["render_log"], and the append itself ----

HOST_RENDER = {"host": {"name": "org.example.host", "label": "Example", "version": [2, 1],
                        "version_label": "2.1"},
               "plugin": {"identifier": "org.chromaluma.Restore", "version": "1.5", "bridge_abi": 6},
               "time": 12.0, "render_window": (0, 0, 5, 4), "render_scale": (1.0, 1.0)}


def _append_many(path: str, writer: int, count: int, size: int) -> None:
    """One writer process: `count` records of `size` characters each, all of its own letter."""
    letter = "abcdefgh"[writer]
    for index in range(count):
        append_record(Path(path), {"writer": writer, "index": index, "payload": letter * size})


def test_appends_from_several_processes_never_interleave(tmp_path: Path) -> None:
    log = tmp_path / "render.jsonl"
    writers, count, size = 4, 25, 200_000  # records far larger than a page or a pipe's atomic write
    context = multiprocessing.get_context("fork")  # the writers need nothing but the module: no re-import
    processes = [context.Process(target=_append_many, args=(str(log), k, count, size)) for k in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    got = records(log)
    assert len(got) == writers * count
    for record in got:
        assert record["payload"] == "abcdefgh"[record["writer"]] * size
    for writer in range(writers):
        assert [r["index"] for r in got if r["writer"] == writer] == list(range(count))


def test_a_failed_write_leaves_the_log_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "render.jsonl"
    append_record(log, {"frame": 1})
    kept = log.read_bytes()
    real_write = os.write
    monkeypatch.setattr(host_render_log.os, "write", lambda fd, data: real_write(fd, data[: len(data) // 2]))
    with pytest.raises(RenderLogError, match=rf"^Render Log {log}: cannot append this render's record \(disk full\)"):
        append_record(log, {"frame": 2, "payload": "x" * 1000})
    assert log.read_bytes() == kept


def test_a_line_cut_by_a_killed_writer_is_closed_before_the_next_record(tmp_path: Path) -> None:
    log = tmp_path / "render.jsonl"
    log.write_bytes(b'{"frame": 1}\n{"frame": 2, "stat')  # a writer killed mid-line
    append_record(log, {"frame": 3})
    lines = log.read_text().split("\n")
    assert lines[-1] == "" and json.loads(lines[-2]) == {"frame": 3}
    assert json.loads(lines[0]) == {"frame": 1}


def test_process_logs_a_render_and_a_refused_render_but_not_a_describe(tmp_path: Path) -> None:
    model = pointwise_model(tmp_path / "pointwise.onnx")
    log = tmp_path / "render.jsonl"
    params = {"model": str(model), "render_log": str(log), "host_render": HOST_RENDER}
    api.process(None, None, dict(params))
    assert not log.exists()
    src = np.full((4, 5, 4), 0.5, dtype=np.float32)
    api.process(src, np.zeros_like(src), dict(params))
    with pytest.raises(ParameterError, match=r"^mix nan: expected a number"):
        api.process(src, np.zeros_like(src), {**params, "mix": float("nan")})
    done, refused = records(log)
    assert done["status"] == "complete" and done["frames"][0]["frame"] == 12
    assert done["application"] == {**HOST_RENDER["host"]}
    assert done["model"]["sha256"] == contract.file_sha256(model)
    assert refused["status"] == "failed" and refused["parameters"]["mix"] == "nan"
    assert refused["frames"][0]["error"].startswith("mix nan: expected a number")


@pytest.mark.parametrize(("key", "value", "named"), [
    ("render_log", 7, "render_log 7"),
    ("host_render", {**HOST_RENDER, "render_window": (0, 0, 5)}, "host_render['render_window']"),
    ("host_render", {**HOST_RENDER, "host": {"name": object()}}, "host_render['host']"),
])
def test_malformed_log_parameters_are_refused_before_rendering(tmp_path: Path, key: str, value: object,
                                                               named: str) -> None:
    model = pointwise_model(tmp_path / "pointwise.onnx")
    params = {"model": str(model), "render_log": str(tmp_path / "render.jsonl"), "host_render": HOST_RENDER,
              key: value}
    src = np.full((4, 5, 4), 0.5, dtype=np.float32)
    dst = np.zeros_like(src)
    with pytest.raises(ParameterError, match="^" + re.escape(named)):
        api.process(src, dst, params)
    assert not dst.any()
    assert not (tmp_path / "render.jsonl").exists()
