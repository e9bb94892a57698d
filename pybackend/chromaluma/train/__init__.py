"""Training: pairs → model. `train(TrainConfig)` starts a run, `resume(run_dir)` continues one; both export.

    from chromaluma.train import TrainConfig, train
    model_path = train(TrainConfig(run_dir=Path("runs/reel3"), kind="chroma", pairs_dir=Path("pairs/reel3"),
                                   steps=2000))
"""

from chromaluma.train.config import TrainConfig
from chromaluma.train.loop import TrainingError, pick_device
from chromaluma.train.runs import resume, train

__all__ = ["TrainConfig", "TrainingError", "pick_device", "resume", "train"]
