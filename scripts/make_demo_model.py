"""Reproduce the bundled default chroma model, models/chromaluma-demo-chroma.onnx, from public-domain material.

Training shots are slow camera moves over scikit-image's bundled public-domain photographs (astronaut, coffee,
rocket, hubble_deep_field — never "chelsea", which is the demo shot), faded by `chromaluma.synth` the way the
demo shot is (dye fade 0.6, faded unevenly, one print generation, light dust), each paired with a neutral PAL DVD
of the clean frames registered onto the scan (`chromaluma.synth.reference`). Each shot's scan is density graded
as the demo shot is and as a restorer would: one monotonic luma curve (`chromaluma.baselines.DensityGrade`)
fitted on that shot's scan → DVD pairs, so the model learns colour on graded scans. A few minutes of CPU training
(`chromaluma.train`) then export; the card gets a `provenance` entry saying how the model was made (this script,
its settings, the material) and is also written beside the model as JSON.

    scripts/make_demo_model.py [--minutes 5] [--out models/chromaluma-demo-chroma.onnx]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from chromaluma.baselines import DensityGrade
from chromaluma.contract import read_model_contract
from chromaluma.io.atomic import replace_atomically
from chromaluma.synth.degrade import Degradation, degrade_shot
from chromaluma.synth.pairs import write_json, write_pairs
from chromaluma.synth.reference import aligned_reference
from chromaluma.synth.shots import CameraMove, photo_shot

log = logging.getLogger("chromaluma.make_demo_model")
ROOT = Path(__file__).resolve().parent.parent
TRAINING_SHOTS = (("astronaut", "pan"), ("coffee", "zoom"), ("rocket", "pan"), ("hubble_deep_field", "pan"))
DEMO_FADE = Degradation(fade=0.6, generations=1, damage=0.1, seed=500, uneven=1.0)


def build_pairs(folder: Path, frames: int, width: int, height: int) -> Path:
    """The training pairs folder (docs/CONTRACT.md §5): density-graded faded scans and registered neutral DVDs."""
    scans, references = [], []
    for number, (photo, move) in enumerate(TRAINING_SHOTS):
        truth = photo_shot(photo, frames, width, height, CameraMove(move), seed=number)
        faded = list(degrade_shot(truth, Degradation(**{**vars(DEMO_FADE), "seed": DEMO_FADE.seed + number})))
        dvd, mask = aligned_reference(truth, seed=number)
        grade = DensityGrade().fit(faded, dvd, [mask] * len(faded))
        scans += [grade.apply(scan) for scan in faded]
        references += dvd
        log.info("pairs: %s (%s), %d frames at %dx%d, density graded", photo, move, frames, width, height)
    return write_pairs(folder, scans, references, list(range(1001, 1001 + len(scans))),
                       source="skimage.data public-domain photographs via chromaluma.synth").parent


# The shipped model's architecture, kept when the training defaults changed (chroma width 24 → 32, density
# keep → smooth), so that this script still makes the model that ships
DEMO_ARCHITECTURE = {"width": 24, "density": "keep"}


def provenance(args: argparse.Namespace) -> dict[str, Any]:
    """How this model was made, for its card: the script, its settings and the public-domain material."""
    return {"made_by": f"scripts/make_demo_model.py --minutes {args.minutes:g} --frames {args.frames}",
            "material": "slow camera moves (960x540) over skimage.data " + ", ".join(
                f"{photo} ({move})" for photo, move in TRAINING_SHOTS) + " (public domain / CC0)",
            "degradation": f"chromaluma.synth: {vars(DEMO_FADE)} (seed + shot number)",
            "reference": "neutral PAL DVD of the clean frames (720x576, 4:2:0, JPEG) registered onto the scan",
            "density_grade": "each scan density graded by chromaluma.baselines.DensityGrade fitted on its shot's "
                             "scan -> DVD pairs (as scripts/demo.py grades the demo shot)"}


def add_provenance(model: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Add `provenance` to the card inside the ONNX file (metadata only, graph untouched); returns the card."""
    import onnx

    from chromaluma.contract import contract_of_proto

    proto = onnx.load(str(model))
    card = dict(read_model_contract(model).card, provenance=entry)
    for prop in proto.metadata_props:
        if prop.key == "chromaluma.card":
            prop.value = json.dumps(card, sort_keys=True)
    contract_of_proto(proto, str(model))  # still a valid contract
    replace_atomically(model, lambda tmp: onnx.save(proto, str(tmp)))
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="CPU training time (default 5)")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "chromaluma-demo-chroma.onnx")
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "demo-model", help="pairs and run folder")
    parser.add_argument("--frames", type=int, default=4, help="frames per training shot (default 4)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from chromaluma.train import TrainConfig, train

    pairs = build_pairs(args.workdir / "pairs", args.frames, 960, 540)
    run_dir = args.workdir / f"run-{args.minutes:g}min"
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)  # a fresh run: the shipped model must come from exactly these settings
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model = Path(train(TrainConfig(run_dir=run_dir, kind="chroma", pairs_dir=pairs, out=args.out,
                                   minutes=args.minutes, device="cpu", seed=0, architecture=DEMO_ARCHITECTURE)))
    card = add_provenance(model, provenance(args))
    write_json(model.with_suffix(".json"), card)
    log.info("wrote %s (%.0f KiB) and its model card %s", model, model.stat().st_size / 1024,
             model.with_suffix(".json").name)
    log.info("card metrics: %s", json.dumps(card.get("metrics", {})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
