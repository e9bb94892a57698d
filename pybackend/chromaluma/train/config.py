"""A training run's settings: what `chromaluma train` flags become, saved as `config.json` in the run folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from chromaluma.contract import DEVICES, KINDS
from chromaluma.errors import ParameterError
from chromaluma.models import DEFAULT_PROCESSING_SCALE, DENSITY_MODES, MAX_TEMPORAL_RADIUS, recorded_architecture

DEFAULT_STEPS = 2000
# The run folder's records (chromaluma.train.loop writes them; export reads them).
CONFIG_NAME = "config.json"
PAIRS_RECORD_NAME = "pairs.json"
MODEL_NAME = "model.onnx"
# A new chroma model corrects density (band-limited, the scan's grain and detail kept): a scan usually comes faded
# lighter as well as off-colour, and keeping its density leaves that in every frame. Models and cards without a
# density of their own (made before it existed) keep the scan's luma: `build_model`'s default, never this one.
DEFAULT_CHROMA_DENSITY = "smooth"
_PATH_FIELDS = ("pairs_dir", "input", "target", "masks", "run_dir", "out", "init", "keyframes", "damage_samples",
                "corrections")
# A repair model reads two frames each side unless told otherwise: dust is in one frame; two each side outvote a
# neighbour that is damaged at the same place or badly matched.
DEFAULT_REPAIR_RADIUS = 2
# A correction (chromaluma.train.corrections) is drawn this many times as often as an ordinary pair unless told
# otherwise: a handful of corrections among hundreds of pairs still steers the fine-tune.
DEFAULT_CORRECTION_WEIGHT = 4
MAX_CORRECTION_WEIGHT = 1000


@dataclass
class TrainConfig:
    """Everything a run needs; `None` means "the default for this kind / this data" (resolved by `resolved()`)."""

    run_dir: Path
    kind: str = "chroma"
    pairs_dir: Path | None = None
    input: Path | None = None
    target: Path | None = None
    masks: Path | None = None
    out: Path | None = None
    colorspace: str = "display"
    processing_scale: float | None = None
    crop: int = 256
    batch: int = 8
    steps: int | None = None
    minutes: float | None = None
    learning_rate: float = 2e-3
    seed: int = 0
    val_frames: int | None = None
    val_every: int | None = None
    preview_every: int = 500
    checkpoint_every: int = 500
    device: str = "auto"
    init: Path | None = None
    architecture: dict[str, Any] = field(default_factory=dict)
    export: bool = True
    density: str | None = None  # chroma only: keep (scan luma exactly) or smooth (band-limited correction, default)
    # frames each side of the one restored (0: single-frame); None: 0, or the --init / resumed model's own
    temporal_radius: int | None = None
    exposure_jitter: float = 0.0  # spread of the log-exposure offset drawn per scan frame of each crop (0: none)
    keyframes: Path | None = None  # keyframe kind: the folder of painted keyframes, named by frame number in --input
    damage_samples: Path | None = None  # repair kind: crops of the scan's own damage to fit the synthetic damage to
    corrections: Path | None = None  # frames a restorer fixed by hand (chromaluma.train.corrections)
    correction_weight: int | None = None  # how many times as often a correction is drawn as a pair (None: default)

    def resolved(self) -> TrainConfig:
        """Check the values and fill the per-kind defaults; raises ParameterError naming the flag and the fix."""
        if self.kind not in KINDS:
            raise ParameterError(f"--kind {self.kind!r}: choose one of {', '.join(KINDS)}.")
        if self.kind == "keyframes" or self.keyframes is not None:
            self._check_keyframes()
        elif self.kind == "repair" or self.damage_samples is not None:
            self._check_repair()
        elif self.pairs_dir is None and (self.input is None or self.target is None):
            raise ParameterError("no training pairs: give --pairs DIR (from `chromaluma align`) or both --input SCAN "
                                 "and --target REFERENCE.")
        if self.pairs_dir is not None and (self.input is not None or self.target is not None):
            raise ParameterError("give either --pairs DIR or --input/--target, not both.")
        scale = self.processing_scale if self.processing_scale is not None else DEFAULT_PROCESSING_SCALE[self.kind]
        if not 0.0 < scale <= 1.0:
            raise ParameterError(f"--processing-scale {scale}: must lie in (0, 1], e.g. 0.25 (chroma default).")
        if self.kind == "luma" and scale != 1.0:
            raise ParameterError(f"--processing-scale {scale}: luma models work at full resolution; leave it at 1.")
        for name in ("crop", "batch", "preview_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ParameterError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least 1.")
        if self.steps is not None and self.steps < 1:
            raise ParameterError(f"--steps {self.steps}: must be at least 1.")
        if self.minutes is not None and self.minutes <= 0:
            raise ParameterError(f"--minutes {self.minutes}: must be more than 0.")
        if self.device not in DEVICES:
            raise ParameterError(f"--device {self.device!r}: choose auto, cpu or gpu.")
        self._check_density()
        self._check_window()
        self._check_corrections()
        steps = self.steps if self.steps is not None or self.minutes is not None else DEFAULT_STEPS
        values = {**asdict(self), "processing_scale": scale, "steps": steps}
        return TrainConfig(**values)

    def _check_keyframes(self) -> None:
        """A keyframe run: --input SCAN and --keyframes DIR, nothing else to pair, one frame at a time."""
        if self.kind != "keyframes":
            raise ParameterError(f"--keyframes {self.keyframes}: only keyframe models read painted keyframes; give "
                                 "--kind keyframes, or leave --keyframes out.")
        if self.input is None or self.keyframes is None:
            raise ParameterError("--kind keyframes needs --input SCAN (the scan sequence or video) and --keyframes DIR "
                                 "(painted frames named by their frame number in the scan).")
        if self.pairs_dir is not None or self.target is not None or self.masks is not None:
            raise ParameterError("--kind keyframes learns from --input and --keyframes alone; leave --pairs, --target "
                                 "and --masks out.")
        if self.temporal_radius:
            raise ParameterError(f"--temporal-radius {self.temporal_radius}: keyframe models read one scan frame and "
                                 "its keyframes; leave --temporal-radius out.")

    def _check_repair(self) -> None:
        """A repair run: --input SCAN (its own frames, damaged synthetically, are the examples), optionally --target
        (a cleaner print of the same frames) and --damage-samples; two frames each side unless told otherwise."""
        if self.kind != "repair":
            raise ParameterError(f"--damage-samples {self.damage_samples}: only repair models learn damage; give "
                                 "--kind repair, or leave --damage-samples out.")
        if self.input is None or self.pairs_dir is not None:
            raise ParameterError("--kind repair needs --input SCAN (the damaged scan: sequence or video), optionally "
                                 "--target CLEANER (a cleaner print on the scan's grid); leave --pairs out.")
        if self.masks is not None:
            raise ParameterError("--masks: a repair model learns from the whole frame; leave --masks out.")
        if self.temporal_radius is not None and self.temporal_radius == 0:
            raise ParameterError("--temporal-radius 0: a repair model fills damage from the frames around it; give 1 "
                                 f"or more (default {DEFAULT_REPAIR_RADIUS}).")

    def _check_corrections(self) -> None:
        weight = self.correction_weight
        if self.corrections is None:
            if weight is not None:
                raise ParameterError(f"--correction-weight {weight}: weighs corrections; give --corrections DIR too, "
                                     "or leave --correction-weight out.")
            return
        if self.kind in ("keyframes", "repair"):
            raise ParameterError(f"--corrections {self.corrections}: {self.kind} models do not learn from pairs; "
                                 "corrections join chroma, luma and pairs models' training (for a keyframe model add "
                                 "the corrected frame to --keyframes).")
        if weight is None:
            self.correction_weight = DEFAULT_CORRECTION_WEIGHT
        elif isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= MAX_CORRECTION_WEIGHT:
            raise ParameterError(f"--correction-weight {weight}: give a whole number from 1 (as often as a pair) to "
                                 f"{MAX_CORRECTION_WEIGHT}, e.g. {DEFAULT_CORRECTION_WEIGHT} (the default).")

    def _check_density(self) -> None:
        if self.density is None:
            return
        if self.kind != "chroma":
            raise ParameterError(f"--density {self.density}: only chroma models correct density this way; a "
                                 f"{self.kind} model already changes luma as it learns. Leave --density out, or "
                                 "train --kind chroma.")
        if self.density not in DENSITY_MODES:
            raise ParameterError(f"--density {self.density!r}: choose {' or '.join(DENSITY_MODES)} (keep: output "
                                 "luma = scan luma; smooth: plus a band-limited density correction from the "
                                 "reference).")

    def _check_window(self) -> None:
        radius = self.temporal_radius
        if radius is not None and (isinstance(radius, bool) or not isinstance(radius, int)
                                   or not 0 <= radius <= MAX_TEMPORAL_RADIUS):
            raise ParameterError(f"--temporal-radius {radius}: give a whole number of frames each side from 0 "
                                 f"(single frame) to {MAX_TEMPORAL_RADIUS}, e.g. 1 for three-frame windows.")
        jitter = self.exposure_jitter
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0.0 <= jitter < float("inf"):
            raise ParameterError(f"--exposure-jitter {jitter}: give a spread of 0 or more (log exposure), e.g. 0.1 "
                                 "for flicker of about 10 %; 0 turns it off.")

    def model_architecture(self, recorded: dict[str, Any] | None = None, source: str = "the --init model"
                           ) -> dict[str, Any]:
        """The architecture to build: `recorded` (an --init model's or a resumed checkpoint's) or the config's own,
        with --density applied and its temporal radius settled (see `_window_radius`).

        A chroma model gets its density mode here: --density, else a recorded model's own (`keep` where it records
        none), else the config's architecture's, else DEFAULT_CHROMA_DENSITY. A recorded model's density can only be
        kept, not changed (its weights have one density channel or none), so a different --density is refused,
        naming `source`.
        """
        architecture = dict(self.architecture) if recorded is None else recorded_architecture(self.kind, recorded)
        architecture["temporal_radius"] = self._window_radius(recorded, source)
        if self.kind != "chroma":
            return architecture
        if recorded is not None and self.density is not None and recorded.get("density", "keep") != self.density:
            raise ParameterError(f"--density {self.density}: {source} has density {recorded.get('density', 'keep')!r}"
                                 " and its weights are built for it. Leave --density out to keep it, or train a new "
                                 "model (new --run-dir, no --init) with the density you want.")
        if self.density is not None:
            architecture["density"] = self.density
        elif recorded is None:
            architecture.setdefault("density", DEFAULT_CHROMA_DENSITY)
        return architecture

    def _window_radius(self, recorded: dict[str, Any] | None, source: str) -> int:
        """--temporal-radius, or a recorded model's own (0 where it records none); a recorded model's radius is
        fixed by its weights, so a different --temporal-radius is refused, naming `source`."""
        if recorded is None:
            default = DEFAULT_REPAIR_RADIUS if self.kind == "repair" else 0
            return int(self.temporal_radius or self.architecture.get("temporal_radius", default))
        radius = int(recorded.get("temporal_radius", 0))
        if self.temporal_radius is not None and self.temporal_radius != radius:
            raise ParameterError(f"--temporal-radius {self.temporal_radius}: {source} has temporal radius {radius} "
                                 "and its weights are built for it. Leave --temporal-radius out to keep it, or "
                                 "train a new model (new --run-dir, no --init) with the radius you want.")
        return radius

    def to_json(self) -> str:
        values = asdict(self)
        for name in _PATH_FIELDS:
            values[name] = None if values[name] is None else str(values[name])
        return json.dumps(values, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> TrainConfig:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParameterError(f"{source}: not valid JSON ({exc}); the run folder is damaged.") from exc
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ParameterError(f"{source}: unknown settings {sorted(unknown)}; written by another Chromaluma "
                                 "version? Start a new run.")
        for name in _PATH_FIELDS:
            if values.get(name) is not None:
                values[name] = Path(values[name])
        return cls(**values)
