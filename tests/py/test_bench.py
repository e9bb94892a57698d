"""`chromaluma bench` harness: areas that fail or are missing are reported and the others still run."""

from __future__ import annotations

from pathlib import Path

import pytest

from chromaluma.benchmarks import BenchSection
from chromaluma.cli import main
from chromaluma.commands.bench import NO_GPU, run_benchmarks, selected_areas, write_report
from chromaluma.errors import ParameterError


def _plot(path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(2, 2))
    axes.plot([0, 1], [1, 0])
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def test_a_failing_area_is_reported_and_the_others_still_run(tmp_path: Path) -> None:
    ran = []

    def good(workdir: Path, quick: bool) -> list[BenchSection]:
        ran.append(("good", quick))
        return [BenchSection("Speed: frames", "| a | b |\n|---|---|\n| 1 | 2 |", ["a note"],
                             [_plot(workdir / "speed_curve.png")], {"fps": 3.0})]

    def broken(workdir: Path, quick: bool) -> list[BenchSection]:
        raise RuntimeError("onnxruntime exploded in a new way")

    results = run_benchmarks(["training", "inference", "plugin"], tmp_path / "work", quick=True,
                             runners={"training": broken, "inference": good, "plugin": None})
    assert [r.status for r in results] == ["failed", "ok", "missing"]
    assert ran == [("good", True)]
    out = tmp_path / "repo" / "BENCHMARKS.md"
    out.parent.mkdir()
    write_report(out, results, "scripts/bench.py --quick", True, out.parent / "docs" / "bench")
    text = out.read_text()
    assert "onnxruntime exploded in a new way" in text and "| training | failed |" in text
    assert "| plugin | missing |" in text and "| 1 | 2 |" in text and "a note" in text
    assert "`scripts/bench.py --quick`" in text and "quick smoke run" in text
    assert (out.parent / "docs" / "bench" / "speed_curve.png").is_file()
    assert "](docs/bench/speed_curve.png)" in text
    assert "| cores |" in text and "| cpu |" in text and "| onnxruntime |" in text
    import torch

    if not torch.cuda.is_available():
        assert NO_GPU in text
    assert (out.parent / "docs" / "bench" / "results.json").is_file()
    assert not list(out.parent.rglob("*.partial*"))


def test_only_accepts_known_areas_and_names_the_flag() -> None:
    assert selected_areas("quality, inference") == ["quality", "inference"]
    assert selected_areas("") == ["training", "inference", "plugin", "alignment", "quality", "temporal", "keyframes",
                                  "repair", "confidence", "soak"]
    with pytest.raises(ParameterError, match="--only"):
        selected_areas("quality,colour")


def test_cli_bench_with_an_unknown_area_exits_2(tmp_path: Path) -> None:
    assert main(["bench", "--only", "nonsense", "--out", str(tmp_path / "B.md")]) == 2
    assert not (tmp_path / "B.md").exists()


@pytest.mark.slow
def test_quality_quick_run_scores_every_method(tmp_path: Path) -> None:
    from chromaluma.benchmarks.quality import run

    sections = run(tmp_path, quick=True)
    assert [s.title.split(":")[1].strip() for s in sections] == [
        "colour (chroma) restoration — faded print, density graded",
        "colour (chroma) restoration — faded print, ungraded (chroma-only floor)",
        "detail (luma) restoration", "temporal stability (static camera)"]
    graded = {row["method"]: row for row in sections[0].raw["rows"]}
    ungraded = {row["method"]: row for row in sections[1].raw["rows"]}
    faded = graded["faded scan, density graded (input)"]["delta_e2000_mean"]
    assert faded < ungraded["faded scan, ungraded (input)"]["delta_e2000_mean"]  # the grade fixes lightness
    assert graded["3D LUT (17³)"]["delta_e2000_mean"] < faded  # a fitted LUT must undo part of the fade
    assert graded["Reinhard colour transfer"]["delta_e2000_mean"] < faded
    assert any(name.startswith("truth chroma on the graded") for name in graded)
    assert any(name.startswith("truth chroma on the scan's luma") for name in ungraded)
    for rows in (graded, ungraded):
        assert rows["Chromaluma chroma + smooth density, 0.05 min CPU training"]["delta_e2000_mean"] is not None
        dvd = rows["DVD reference itself (held-out frames)"]["delta_e2000_mean"]
        smooth_floor = rows["truth chroma + smooth density from the reference (floor for smooth density)"]
        assert dvd is not None and smooth_floor["delta_e2000_mean"] is not None
    assert graded["Chromaluma chroma (density keep), 0.05 min CPU training"]["delta_e2000_mean"] is not None  # keep too
    assert "Chromaluma chroma (density keep), 0.05 min CPU training" not in ungraded
    # the smooth-density floor keeps the truth's colour and takes the DVD's smooth density: below the chroma-only one
    floor = next(row for name, row in ungraded.items() if name.startswith("truth chroma on the scan's luma"))
    assert smooth_floor["delta_e2000_mean"] < floor["delta_e2000_mean"]
    assert sections[0].raw["goal"]["met"] is not None  # Chromaluma was trained and measured
    assert "What is reachable" in sections[0].notes[0] and "DVD" in sections[0].notes[0]
    assert all(Path(p).is_file() for p in sections[0].plots + sections[1].plots)
    # a second run in the same work folder starts fresh run folders (train() refuses a used one)
    again = run(tmp_path, quick=True)
    assert again[0].raw["goal"]["met"] is not None


def test_benchmark_training_uses_fresh_folders(tmp_path: Path) -> None:
    from chromaluma.benchmarks.quality_training import ChromalumaTrainer

    trainer = ChromalumaTrainer(tmp_path, quick=True)
    used = trainer.fresh_folder("run-chroma-1min")
    (used / "config.json").write_text("{}")
    again = trainer.fresh_folder("run-chroma-1min")
    assert again == used and not list(again.iterdir())


def test_each_area_starts_in_an_emptied_folder_so_a_second_run_passes(tmp_path: Path) -> None:
    def strict(workdir: Path, quick: bool) -> list[BenchSection]:
        if any(workdir.iterdir()):  # like `chromaluma align --out`, which refuses a non-empty folder
            raise RuntimeError(f"{workdir} is not empty")
        (workdir / "align_pairs").mkdir()
        return []

    for _ in range(2):
        results = run_benchmarks(["alignment"], tmp_path, quick=True, runners={"alignment": strict})
        assert [r.status for r in results] == ["ok"], results[0].error


def _section_runner(table: str):
    def runner(workdir: Path, quick: bool) -> list[BenchSection]:
        return [BenchSection(f"Section {table}", f"| x |\n|---|\n| {table} |", [f"note {table}"], [], {"v": table})]

    return runner


def test_only_replaces_the_chosen_areas_of_an_existing_report(tmp_path: Path) -> None:
    import json

    out, plots = tmp_path / "BENCHMARKS.md", tmp_path / "docs" / "bench"
    first = run_benchmarks(["training", "quality"], tmp_path / "w", quick=False,
                           runners={"training": _section_runner("old-training"),
                                    "quality": _section_runner("old-quality")})
    write_report(out, first, "scripts/bench.py --out BENCHMARKS.md", False, plots)
    again = run_benchmarks(["quality"], tmp_path / "w", quick=False,
                           runners={"quality": _section_runner("new-quality")})
    write_report(out, again, "scripts/bench.py --only quality --out BENCHMARKS.md", False, plots)
    text = out.read_text()
    training, quality = text.split("\n## Training\n")[1].split("\n## Quality\n")
    assert "| old-training |" in training and "note old-training" in training
    assert "_Produced " in training and "by `scripts/bench.py --out BENCHMARKS.md`" in training
    assert "| new-quality |" in quality and "old-quality" not in text
    assert "by `scripts/bench.py --only quality --out BENCHMARKS.md`" in quality
    assert "| training | ok |" in text and "| quality | ok |" in text  # both areas in the summary
    assert "Kept from earlier runs (not run this time): `training`." in text and "| cores |" in text
    assert text.index("## Training") < text.index("## Quality")
    raw = json.loads((plots / "results.json").read_text())
    commands = {area["area"]: area["command"] for area in raw["areas"]}
    assert commands == {"training": "scripts/bench.py --out BENCHMARKS.md",
                        "quality": "scripts/bench.py --only quality --out BENCHMARKS.md"}
    assert raw["areas"][1]["sections"][0]["raw"] == {"v": "new-quality"}


def test_a_report_from_before_area_stamps_keeps_its_date_and_command(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Chromaluma benchmarks\n\nGenerated 2026-01-02 03:04 UTC by `python scripts/bench.py`.\n\n"
                   "## Summary\n\n| area | status | time | note |\n|---|---|---|---|\n"
                   "| inference | ok | 23 s | 2 sections |\n\n## Inference\n\n### Inference speed\n\n| a |\n|---|\n"
                   "| 7 |\n")
    results = run_benchmarks(["quality"], tmp_path / "w", quick=True, runners={"quality": _section_runner("q")})
    write_report(out, results, "chromaluma bench --only quality --quick", True, tmp_path / "plots")
    inference = out.read_text().split("\n## Inference\n")[1].split("\n## Quality\n")[0]
    assert "_Produced 2026-01-02 03:04 UTC by `python scripts/bench.py` (kept from an earlier report)._" in inference
    assert "| 7 |" in inference and "| inference | ok | 23 s | 2 sections |" in out.read_text()
